//! `namespace`: create, lookup, list, patch, delete, lock and unlock namespaces, and seal,
//! unseal and read the seal status of a namespace with a seal of its own, with
//! `bao namespace`'s flags, texts and exit codes.
//!
//! Every command works relative to the namespace the client sends (`-namespace`, `-ns`,
//! `BAO_NAMESPACE`/`VAULT_NAMESPACE`), as the server resolves `sys/namespaces` there.

use arca_api::Secret;
use serde_json::{Map, Value, json};

use super::logical::{list_keys, setup};
use super::{check_range, group_usage, trailing_flag_warning};
use crate::ctx::{Ctx, canonical_namespace};
use crate::flags::{FIELD, FORMAT, HTTP, Kind, Parsed, Spec, flag, int_flag, map_flag, slice_flag};
use crate::output::{self, Format};

const USAGE: &str = "Usage: arca namespace <subcommand> [options] [args]

  This command groups subcommands for interacting with namespaces. Every
  subcommand works below the namespace given with -namespace (or -ns) or the
  BAO_NAMESPACE / VAULT_NAMESPACE environment variable.

  List the child namespaces:

      $ arca namespace list

  Create a child namespace with custom metadata:

      $ arca namespace create -custom-metadata=team=a team-a

  Look up, patch and delete it:

      $ arca namespace lookup team-a
      $ arca namespace patch -custom-metadata=owner=x team-a
      $ arca namespace delete team-a

  Lock and unlock the API of a namespace:

      $ arca namespace lock team-a
      $ arca namespace unlock -unlock-key=<key> team-a

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    create         Create a new namespace
    delete         Delete an existing namespace
    list           List child namespaces
    lock           Lock the API for particular namespaces
    lookup         Look up an existing namespace
    patch          Patch an existing namespace
    seal           Seal a namespace
    seal-status    Print the seal status of a namespace
    unlock         Unlock the API for particular namespaces
    unseal         Unseal a namespace";

const CREATE_HELP: &str = "Usage: arca namespace create [options] PATH

  Creates a child namespace PATH below the current namespace (-namespace or
  BAO_NAMESPACE), e.g. ns2 below ns1 becomes ns1/ns2/:

      $ arca namespace create -namespace=ns1 ns2

  Create a sealable namespace with Shamir seal:

      $ arca namespace create -key-shares=5 -key-threshold=3 ns1

  Create a sealable namespace from a HCL seal config file:

      $ arca namespace create -seal=seal.hcl ns1

Command Options:

  -custom-metadata=<key=value>
      Arbitrary key=value metadata describing the namespace. May be given
      several times.

  -key-shares=<int>
      Number of key shares to split the generated root key into. This is the
      number of \"unseal keys\" to generate.

  -key-threshold=<int>
      Number of key shares required to reconstruct the root key. This must be
      less than or equal to -key-shares.

  -seal=<string>
      Path to a HCL file with exactly one seal stanza.";

const SEAL_HELP: &str = "Usage: arca namespace seal [options] PATH

  Seals the namespace PATH (one with a seal of its own): it stops answering
  until it is unsealed with its key shares. Nothing happens if it is sealed.

      $ arca namespace seal ns1";

const UNSEAL_HELP: &str = "Usage: arca namespace unseal [options] PATH [KEY]

  Hands one unseal key share to the namespace PATH; it unseals once enough
  shares were given. Without KEY, the key is asked for (hidden):

      $ arca namespace unseal ns1

  -reset discards the shares given so far:

      $ arca namespace unseal -reset ns1";

const SEAL_STATUS_HELP: &str = "Usage: arca namespace seal-status [options] PATH

  Prints whether the namespace PATH is sealed, its shares, threshold and the
  unseal progress. A namespace without a seal of its own is an error.

      $ arca namespace seal-status ns1";

const LOOKUP_HELP: &str = "Usage: arca namespace lookup [options] PATH

  Prints the id, uuid, path, lock state and custom metadata of the child
  namespace PATH of the current namespace:

      $ arca namespace lookup -namespace=ns1 ns2";

const LIST_HELP: &str = "Usage: arca namespace list [options]

  Lists the direct child namespaces of the current namespace.

Command Options:

  -detailed
      Print every namespace's details (id, uuid, path, ...) as well. The
      default is false.";

const DELETE_HELP: &str = "Usage: arca namespace delete [options] PATH

  Deletes the child namespace PATH of the current namespace, with everything
  in it; the deletion runs in the background. A namespace that still has
  child namespaces cannot be deleted.

      $ arca namespace delete -namespace=ns1 ns2";

const PATCH_HELP: &str = "Usage: arca namespace patch [options] PATH

  Adds, changes or removes custom metadata of the child namespace PATH:

      $ arca namespace patch -custom-metadata=foo=abc -remove-custom-metadata=bar ns1

Command Options:

  -custom-metadata=<key=value>
      Metadata to add or change. May be given several times.

  -remove-custom-metadata=<string>
      Metadata key to remove. May be given several times.";

const LOCK_HELP: &str = "Usage: arca namespace lock [options] [PATH]

  Locks the API of the current namespace, or of its child PATH, and of all
  their descendants; prints the key that unlocks it.

      $ arca namespace lock ns1/ns2";

const UNLOCK_HELP: &str = "Usage: arca namespace unlock [options] [PATH]

  Unlocks the API of the current namespace, or of its child PATH, with the key
  printed by \"arca namespace lock\" (-unlock-key); a token with sudo on the
  parent may unlock without it.

      $ arca namespace unlock -unlock-key=<key> ns1/ns2";

/// The text `bao namespace lock` prints after the unlock key in table format.
const LOCKED_NOTICE: &str = "
Namespace is now locked. Please securely store the unlock key printed above.
You must supply the unlock key to re-enable access to the namespace.
If the unlock key is lost, sudo capability is required to unlock the namespace without it.";

/// The fields of a namespace `bao` shows (its API structs), in no particular order: the
/// table and JSON outputs sort them.
const FIELDS: &[&str] = &["custom_metadata", "id", "locked", "path", "tainted", "uuid"];

/// `arca namespace ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "create" => create(ctx, rest),
        "lookup" => lookup(ctx, rest),
        "list" => list(ctx, rest),
        "delete" => delete(ctx, rest),
        "patch" => patch(ctx, rest),
        "lock" => lock(ctx, rest),
        "unlock" => unlock(ctx, rest),
        "seal" => seal(ctx, rest),
        "unseal" => unseal(ctx, rest),
        "seal-status" => seal_status(ctx, rest),
        "-h" | "-help" | "--help" => {
            ctx.out(USAGE);
            0
        }
        _ => group_usage(ctx, USAGE),
    }
}

/// `sys/namespaces/<path>` with the path cleaned as Go's `path.Join` cleans a request path
/// (no trailing or doubled slashes).
fn namespace_path(prefix: &str, path: &str) -> String {
    let cleaned = canonical_namespace(path);
    let cleaned = cleaned.trim_matches('/');
    if cleaned.is_empty() {
        prefix.to_string()
    } else {
        format!("{prefix}/{cleaned}")
    }
}

/// The namespace of an answer with only the fields `bao` knows, missing ones at their Go
/// zero value.
fn namespace_info(data: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut out = Map::new();
    for &field in FIELDS {
        let value = data.and_then(|d| d.get(field)).cloned();
        let value = match (field, value) {
            (_, Some(v)) => v,
            ("locked" | "tainted", None) => Value::Bool(false),
            ("custom_metadata", None) => Value::Null,
            (_, None) => Value::String(String::new()),
        };
        out.insert(field.to_string(), value);
    }
    out
}

/// Go's `%v` of a namespace field (a nil metadata map prints `map[]`).
fn field_text(key: &str, v: &Value) -> String {
    match v {
        Value::Null if key == "custom_metadata" => "map[]".to_string(),
        _ if output::looks_like_duration(key) => output::human_duration_value(v),
        _ => output::go_value(v),
    }
}

/// Print a map of data as `bao`'s `OutputData` does: a Key/Value table, JSON or YAML.
fn output_map(ctx: &mut Ctx<'_, '_>, format: Format, data: &Map<String, Value>) -> i32 {
    match format {
        Format::Table | Format::Raw => {
            if !data.is_empty() {
                let mut keys: Vec<&String> = data.keys().collect();
                keys.sort();
                let rows = keys
                    .into_iter()
                    .map(|k| (k.clone(), field_text(k, &data[k])))
                    .collect();
                ctx.out(&output::kv_table(rows));
            }
            0
        }
        _ => ctx.output_data(format, &Value::Object(data.clone())),
    }
}

/// Print a namespace, or only its `-field`.
fn output_namespace(
    ctx: &mut Ctx<'_, '_>,
    p: &Parsed,
    format: Format,
    info: &Map<String, Value>,
) -> i32 {
    let field = p.str("field");
    if field.is_empty() {
        return output_map(ctx, format, info);
    }
    match info.get(&field) {
        None => {
            ctx.err(&format!("Field {field:?} not present in map"));
            1
        }
        Some(Value::Null) if format == Format::Table || format == Format::Raw => {
            ctx.print_raw(&field_text(&field, &Value::Null));
            0
        }
        Some(v) => {
            let v = v.clone();
            ctx.print_value(format, &v)
        }
    }
}

/// The single PATH argument of create, lookup, delete and patch, trimmed; `None` after
/// printing the argument-count error.
fn one_path(ctx: &mut Ctx<'_, '_>, format: Format, args: &[String]) -> Option<String> {
    trailing_flag_warning(ctx, format, args);
    check_range(ctx, args, 1, 1).then(|| args[0].trim().to_string())
}

fn custom_metadata_flag() -> Spec {
    flag("custom-metadata", Kind::List, "")
}

fn create(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let specs: &[Spec] = &[
        custom_metadata_flag(),
        flag("key-shares", Kind::Str, "0"),
        flag("key-threshold", Kind::Str, "0"),
        flag("seal", Kind::Str, ""),
    ];
    let (p, format, client) = or_exit!(setup(
        ctx,
        &[HTTP, &[FORMAT, FIELD], specs],
        args,
        CREATE_HELP
    ));
    let metadata = match map_flag(&p, "custom-metadata") {
        Ok(m) => m,
        Err(e) => return super::flag_error(ctx, &e),
    };
    let Some(path) = one_path(ctx, format, &p.args) else {
        return 1;
    };
    if path.is_empty() {
        ctx.err("Error creating namespace: name must not be empty");
        return 2;
    }
    let mut body = json!({ "custom_metadata": metadata });
    let (shares, threshold) = match (int_flag(&p, "key-shares"), int_flag(&p, "key-threshold")) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => return super::flag_error(ctx, &e),
    };
    let seal_file = p.str("seal");
    if !seal_file.is_empty() {
        match std::fs::read_to_string(&seal_file) {
            Ok(text) => body["seal"] = json!(text),
            Err(e) => {
                ctx.err(&format!("Error reading seal config file: {e}"));
                return 2;
            }
        }
    } else if shares != 0 || threshold != 0 {
        body["seal"] = json!(format!(
            "seal \"shamir\" {{\n    shares = {shares}\n    threshold = {threshold}\n}}"
        ));
    }
    let answer = ctx.block_on(client.post(&namespace_path("sys/namespaces", &path), Some(body)));
    match answer {
        Ok(secret) => {
            let data = secret.as_ref().and_then(|s| s.data.as_ref());
            let keys = data
                .and_then(|d| d.get("key_shares"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if keys.is_empty() || format == Format::Table {
                if !keys.is_empty() {
                    print_key_shares(ctx, &keys, data);
                }
                let info = namespace_info(data);
                return output_namespace(ctx, &p, format, &info);
            }
            // Serialized formats keep the shares in the output, as `bao` does.
            let mut info = namespace_info(data);
            for k in ["key_shares", "key_threshold"] {
                if let Some(v) = data.and_then(|d| d.get(k)) {
                    info.insert(k.to_string(), v.clone());
                }
            }
            output_namespace(ctx, &p, format, &info)
        }
        Err(e) => {
            ctx.err(&format!("Error creating namespace: {e}"));
            2
        }
    }
}

/// The shares of a new sealable namespace and `bao`'s notice, before its table.
fn print_key_shares(ctx: &mut Ctx<'_, '_>, keys: &[Value], data: Option<&Map<String, Value>>) {
    let threshold = data
        .and_then(|d| d.get("key_threshold"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let mut text = zeroize::Zeroizing::new(String::new());
    for (i, key) in keys.iter().enumerate() {
        text.push_str(&format!(
            "Unseal Key {}: {}\n",
            i + 1,
            key.as_str().unwrap_or_default()
        ));
    }
    ctx.out_raw(&text);
    ctx.out("");
    ctx.out(&output::wrap_with_padding(
        &format!(
            "Namespace initialized with {} key shares and a key threshold of {threshold}. \
             Please securely distribute the key shares printed above. When the namespace is \
             re-sealed, you must supply at least {threshold} of these keys to unseal it.",
            keys.len()
        ),
        0,
    ));
    ctx.out("");
}

/// A namespace's seal status as `bao` prints it (its `SealStatusResponse`).
#[derive(serde::Serialize)]
struct NamespaceSealStatus {
    #[serde(rename = "type")]
    seal_type: String,
    initialized: bool,
    sealed: bool,
    t: u64,
    n: u64,
    progress: u64,
    nonce: String,
    version: String,
    commit_date: String,
    migration: bool,
    recovery_seal: bool,
    build_date: String,
}

impl NamespaceSealStatus {
    fn of(data: &Map<String, Value>) -> NamespaceSealStatus {
        let num = |k: &str| data.get(k).and_then(Value::as_u64).unwrap_or(0);
        let text = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let flag = |k: &str| data.get(k).and_then(Value::as_bool).unwrap_or(false);
        NamespaceSealStatus {
            seal_type: text("type"),
            initialized: flag("initialized"),
            sealed: flag("sealed"),
            t: num("t"),
            n: num("n"),
            progress: num("progress"),
            nonce: text("nonce"),
            version: String::new(),
            commit_date: String::new(),
            migration: false,
            recovery_seal: false,
            build_date: String::new(),
        }
    }
}

/// Prints a namespace's seal status (table: the rows `bao` shows for one).
fn output_seal_status(ctx: &mut Ctx<'_, '_>, format: Format, data: &Map<String, Value>) -> i32 {
    let status = NamespaceSealStatus::of(data);
    if format != Format::Table {
        return ctx.output_struct(format, &status);
    }
    let mut rows = vec![
        vec!["Key".to_string(), "Value".to_string()],
        vec!["---".to_string(), "-----".to_string()],
        vec!["Seal Type".into(), status.seal_type.clone()],
        vec!["Initialized".into(), status.initialized.to_string()],
        vec!["Sealed".into(), status.sealed.to_string()],
        vec!["Total Shares".into(), status.n.to_string()],
        vec!["Threshold".into(), status.t.to_string()],
    ];
    if status.sealed {
        rows.push(vec![
            "Unseal Progress".into(),
            format!("{}/{}", status.progress, status.t),
        ]);
        rows.push(vec!["Unseal Nonce".into(), status.nonce.clone()]);
    }
    ctx.out(&output::columns(&rows));
    0
}

fn seal(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP], args, SEAL_HELP));
    let Some(path) = one_path(ctx, format, &p.args) else {
        return 1;
    };
    let target = namespace_path("sys/namespaces", &path) + "/seal";
    if let Err(e) = ctx.block_on(client.write(&target, None)) {
        ctx.err(&format!("Error sealing: {e}"));
        return 2;
    }
    ctx.out(&format!("Success! Namespace {path:?} is sealed."));
    0
}

fn seal_status(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, SEAL_STATUS_HELP));
    let Some(path) = one_path(ctx, format, &p.args) else {
        return 1;
    };
    let target = namespace_path("sys/namespaces", &path) + "/seal-status";
    match ctx.block_on(client.read(&target)) {
        Ok(Some(secret)) => output_seal_status(ctx, format, &secret.data.unwrap_or_default()),
        Ok(None) => {
            ctx.err("Error reading seal status: <nil>");
            2
        }
        Err(e) => {
            ctx.err(&format!("Error reading seal status: {e}"));
            2
        }
    }
}

fn unseal(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let specs: &[Spec] = &[flag("reset", Kind::Bool, "false")];
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT], specs], args, UNSEAL_HELP));
    trailing_flag_warning(ctx, format, &p.args);
    if p.args.is_empty() {
        ctx.err("Not enough arguments (expected 1-2, got 0)");
        return 1;
    }
    if p.args.len() > 2 {
        ctx.err(&format!(
            "Too many arguments (expected 1-2, got {})",
            p.args.len()
        ));
        return 1;
    }
    let path = p.args[0].trim().to_string();
    let target = namespace_path("sys/namespaces", &path) + "/unseal";
    let (body, failure) = if p.bool("reset") {
        (json!({ "reset": true }), "Error resetting unseal process")
    } else {
        let key = match p.args.get(1) {
            Some(k) => zeroize::Zeroizing::new(k.trim().to_string()),
            None => {
                if p.bool("non-interactive") {
                    ctx.err(&output::wrap_with_padding("Refusing to read from stdin with -non-interactive specified; specify unseal key as an argument to this command", 0));
                    return 1;
                }
                match ctx.prompt_secret("Unseal Key (will be hidden): ") {
                    Ok(k) => zeroize::Zeroizing::new(k.trim().to_string()),
                    Err(e) => {
                        ctx.err(&format!(
                            "An error occurred attempting to ask for an unseal key: {e}"
                        ));
                        return 1;
                    }
                }
            }
        };
        (json!({ "key": key.as_str() }), "Error unsealing")
    };
    match ctx.block_on(client.write(&target, Some(body))) {
        Ok(secret) => {
            let data = secret.and_then(|s| s.data).unwrap_or_default();
            output_seal_status(ctx, format, &data)
        }
        Err(e) => {
            ctx.err(&format!("{failure}: {e}"));
            2
        }
    }
}

fn lookup(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, LOOKUP_HELP));
    let Some(path) = one_path(ctx, format, &p.args) else {
        return 1;
    };
    if path.is_empty() {
        ctx.err("Error looking up namespace: name must not be empty");
        return 2;
    }
    let answer = ctx.block_on(client.checked(
        reqwest::Method::GET,
        &namespace_path("sys/namespaces", &path),
        &[],
        None,
    ));
    let body = match answer {
        Ok(raw) => raw.body,
        Err(e) if e.status() == Some(404) => None,
        Err(e) => {
            ctx.err(&format!("Error looking up namespace: {e}"));
            return 2;
        }
    };
    let data = body
        .as_ref()
        .and_then(|b| b.get("data"))
        .and_then(Value::as_object);
    let Some(data) = data else {
        ctx.err("Namespace not found");
        return 2;
    };
    output_map(ctx, format, &namespace_info(Some(data)))
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(
        ctx,
        &[HTTP, &[FORMAT, flag("detailed", Kind::Bool, "false")]],
        args,
        LIST_HELP,
    ));
    trailing_flag_warning(ctx, format, &p.args);
    if !check_range(ctx, &p.args, 0, 0) {
        return 1;
    }
    let secret = match ctx.block_on(client.list("sys/namespaces")) {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error listing namespaces: {e}"));
            return 2;
        }
    };
    let keys = secret.as_ref().and_then(list_keys);
    let table = matches!(format, Format::Table | Format::Raw);
    let (Some(secret), Some(keys)) = (secret.as_ref(), keys) else {
        if table {
            ctx.err("No namespaces found");
        } else {
            ctx.output_data(format, &Value::Object(Map::new()));
        }
        return 2;
    };
    let key_info = secret
        .data
        .as_ref()
        .and_then(|d| d.get("key_info"))
        .cloned()
        .unwrap_or(Value::Null);
    if !table {
        if p.bool("detailed") {
            return ctx.output_data(format, &key_info);
        }
        return ctx.output_data(format, &Value::Array(keys));
    }
    ctx.print_warnings(secret);
    let mut names: Vec<String> = keys.iter().map(output::go_value).collect();
    names.sort();
    let info = key_info.as_object().filter(|_| p.bool("detailed"));
    ctx.out(&list_table(&names, info));
    0
}

/// `bao`'s table of list keys: a `Keys` column, and with `-detailed` one sorted column per
/// field of the `key_info` entries (durations humanised, `n/a` when an entry lacks it).
fn list_table(names: &[String], key_info: Option<&Map<String, Value>>) -> String {
    let mut headers: Vec<String> = Vec::new();
    if let Some(info) = key_info {
        for (key, entry) in info {
            // As bao: skip entries that sort before a key they do not match.
            let index = names.partition_point(|n| n.as_str() < key.as_str());
            if index < names.len() && names[index] != *key {
                continue;
            }
            if let Some(fields) = entry.as_object() {
                headers.extend(fields.keys().cloned());
            }
        }
        headers.sort();
        headers.dedup();
    }
    let rows = names
        .iter()
        .map(|name| {
            let mut row = vec![name.clone()];
            if let Some(fields) = key_info
                .filter(|_| !headers.is_empty())
                .and_then(|info| info.get(name))
                .and_then(Value::as_object)
            {
                for h in &headers {
                    row.push(match fields.get(h) {
                        Some(v) if output::looks_like_duration(h) => {
                            output::human_duration_value(v)
                        }
                        Some(v) => output::go_value(v),
                        None => "n/a".to_string(),
                    });
                }
            }
            row
        })
        .collect();
    let mut header: Vec<&str> = vec!["Keys"];
    header.extend(headers.iter().map(String::as_str));
    output::header_table(&header, rows)
}

fn delete(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP], args, DELETE_HELP));
    let Some(path) = one_path(ctx, format, &p.args) else {
        return 1;
    };
    if path.is_empty() {
        ctx.err("Error deleting namespace: name must not be empty");
        return 2;
    }
    let answer = ctx.block_on(client.delete(&namespace_path("sys/namespaces", &path)));
    let status = match answer {
        Ok(secret) => secret
            .as_ref()
            .and_then(|s| s.data.as_ref())
            .and_then(|d| d.get("status"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        Err(e) => {
            ctx.err(&format!("Error deleting namespace: {e}"));
            return 2;
        }
    };
    if status.is_empty() {
        ctx.err("Requested namespace does not exist");
        return 0;
    }
    let shown = if path.ends_with('/') {
        path
    } else {
        format!("{path}/")
    };
    ctx.out(&format!("Success! Namespace deletion scheduled: {shown}"));
    0
}

fn patch(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let specs: &[Spec] = &[
        custom_metadata_flag(),
        flag("remove-custom-metadata", Kind::List, ""),
    ];
    let (p, format, client) = or_exit!(setup(
        ctx,
        &[HTTP, &[FORMAT, FIELD], specs],
        args,
        PATCH_HELP
    ));
    let set = match map_flag(&p, "custom-metadata") {
        Ok(m) => m,
        Err(e) => return super::flag_error(ctx, &e),
    };
    let remove = slice_flag(&p, "remove-custom-metadata");
    let Some(path) = one_path(ctx, format, &p.args) else {
        return 1;
    };
    if set.is_empty() && remove.is_empty() {
        ctx.err("Must supply at least one of -custom-metadata or -remove-custom-metadata");
        return 1;
    }
    if path.is_empty() {
        ctx.err("Error patching namespace: name must not be empty");
        return 2;
    }
    let mut metadata: Map<String, Value> = set
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    // A null in a JSON merge patch removes the key.
    for key in remove {
        metadata.insert(key, Value::Null);
    }
    let body = json!({ "custom_metadata": metadata });
    let answer = ctx.block_on(client.patch(&namespace_path("sys/namespaces", &path), body));
    match answer {
        Ok(secret) => {
            let info = namespace_info(secret.as_ref().and_then(|s| s.data.as_ref()));
            output_namespace(ctx, &p, format, &info)
        }
        Err(e) if e.status() == Some(404) => {
            ctx.err("Namespace not found");
            2
        }
        Err(e) => {
            ctx.err(&format!("Error patching namespace: {e}"));
            2
        }
    }
}

/// The optional PATH of lock and unlock as the API path under `api-lock/<action>`.
fn lock_path(ctx: &mut Ctx<'_, '_>, action: &str, args: &[String]) -> Option<String> {
    if args.len() > 1 {
        ctx.err(&format!(
            "Too many arguments (expected 0 or 1, got {})",
            args.len()
        ));
        return None;
    }
    let base = format!("sys/namespaces/api-lock/{action}");
    Some(match args.first() {
        Some(child) => namespace_path(&base, child),
        None => base,
    })
}

fn lock(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, LOCK_HELP));
    trailing_flag_warning(ctx, format, &p.args);
    let Some(path) = lock_path(ctx, "lock", &p.args) else {
        return 1;
    };
    let secret: Option<Secret> = match ctx.block_on(client.write(&path, None)) {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error locking namespace: {e}"));
            return 2;
        }
    };
    let data = secret.and_then(|s| s.data).unwrap_or_default();
    match format {
        Format::Table => {
            let key = data.get("unlock_key").map(output::go_value);
            ctx.out(&format!(
                "Unlock Key: {}",
                key.unwrap_or_else(|| "%!s(<nil>)".to_string())
            ));
            ctx.out(LOCKED_NOTICE);
            0
        }
        _ => output_map(ctx, format, &data),
    }
}

fn unlock(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, UNLOCK_HELP));
    trailing_flag_warning(ctx, format, &p.args);
    let Some(path) = lock_path(ctx, "unlock", &p.args) else {
        return 1;
    };
    let body = json!({ "unlock_key": p.str("unlock-key") });
    let secret: Option<Secret> = match ctx.block_on(client.write(&path, Some(body))) {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error unlocking namespace: {e}"));
            return 2;
        }
    };
    match secret
        .as_ref()
        .and_then(|s| s.warnings.as_ref())
        .and_then(|w| w.first())
    {
        Some(warning) => ctx.err(warning),
        None => ctx.out("Namespace unlocked successfully!"),
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_paths_are_cleaned_like_go() {
        assert_eq!(
            namespace_path("sys/namespaces", "team-a/"),
            "sys/namespaces/team-a"
        );
        assert_eq!(
            namespace_path("sys/namespaces", "/a//b"),
            "sys/namespaces/a/b"
        );
        assert_eq!(
            namespace_path("sys/namespaces/api-lock/lock", ""),
            "sys/namespaces/api-lock/lock"
        );
    }

    #[test]
    fn missing_fields_take_go_zero_values() {
        let info = namespace_info(None);
        assert_eq!(info["locked"], Value::Bool(false));
        assert_eq!(info["id"], Value::String(String::new()));
        assert_eq!(
            field_text("custom_metadata", &info["custom_metadata"]),
            "map[]"
        );
    }

    #[test]
    fn detailed_table_has_one_column_per_field() {
        let info = json!({
            "a/": {"id": "X", "locked": false},
            "b/": {"id": "Y"},
        });
        let names = vec!["a/".to_string(), "b/".to_string()];
        assert_eq!(
            list_table(&names, info.as_object()),
            "Keys    id    locked\n----    --    ------\na/      X     false\nb/      Y     n/a"
        );
        assert_eq!(list_table(&names, None), "Keys\n----\na/\nb/");
    }
}
