//! `kv`: the versioned key/value helpers. Every subcommand first asks
//! `sys/internal/ui/mounts/<path>` for the mount and its version, then rewrites the path
//! (`<mount>/data/...`, `<mount>/metadata/...`) for version 2.

use arca_api::{Client, Secret};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::logical::{output_list, parse_kv_args, setup};
use super::{check_range, flag_error, group_usage};
use crate::ctx::Ctx;
use crate::duration;
use crate::flags::{
    FIELD, FORMAT, HTTP, Kind, Parsed, Spec, duration_flag, flag, int_flag, map_flag,
};
use crate::output::{Format, kv_table};

const USAGE: &str = "Usage: arca kv <subcommand> [options] [args]\n\n  This command has subcommands for interacting with Arca's key-value\n  store.\n\nSubcommands:\n    delete               Deletes versions in the KV store\n    destroy              Permanently removes one or more versions in the KV store\n    enable-versioning    Turns on versioning for a KV store\n    get                  Retrieves data from the KV store\n    list                 List data or secrets\n    metadata             Interact with Arca's Key-Value storage\n    patch                Sets or updates data in the KV store without overwriting\n    put                  Sets or updates data in the KV store\n    rollback             Rolls back to a previous version of data\n    undelete             Undeletes versions in the KV store";

const METADATA_USAGE: &str = "Usage: arca kv metadata <subcommand> [options] [args]\n\n  This command has subcommands for interacting with the metadata endpoint in\n  Arca's key-value store.\n\nSubcommands:\n    delete    Deletes all versions and metadata for a key in the KV store\n    get       Retrieves key metadata from the KV store\n    patch     Sets or updates key settings in the KV store\n    put       Sets or updates key settings in the KV store";

const MOUNT: Spec = flag("mount", Kind::Str, "");

/// `arca kv ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "get" => get(ctx, rest),
        "put" => put(ctx, rest, false),
        "patch" => put(ctx, rest, true),
        "delete" => delete(ctx, rest),
        "undelete" => versions_op(ctx, rest, "undelete"),
        "destroy" => versions_op(ctx, rest, "destroy"),
        "list" => list(ctx, rest),
        "rollback" => rollback(ctx, rest),
        "enable-versioning" => enable_versioning(ctx, rest),
        "metadata" => metadata(ctx, rest),
        _ => group_usage(ctx, USAGE),
    }
}

/// Where a kv path lives: the mount, its version and the path inside it.
struct Target {
    mount: String,
    v2: bool,
    partial: String,
}

impl Target {
    /// `<mount>/<prefix>/<partial>` for v2, the plain path for v1.
    fn path(&self, prefix: &str) -> String {
        if self.v2 {
            format!("{}{prefix}/{}", self.mount, self.partial)
                .trim_end_matches('/')
                .to_string()
        } else {
            format!("{}{}", self.mount, self.partial)
        }
    }
}

/// Resolve the path argument (with or without `-mount`) against the server's mount table.
fn resolve(ctx: &mut Ctx<'_, '_>, client: &Client, p: &Parsed) -> Result<Target, i32> {
    let arg = p.args.first().cloned().unwrap_or_default();
    let mount_flag = p.str("mount");
    let lookup = if mount_flag.is_empty() {
        arg.trim_start_matches('/').to_string()
    } else {
        mount_flag.trim_matches('/').to_string()
    };
    let path = format!("sys/internal/ui/mounts/{lookup}");
    // As bao's preflight: the mount lookup itself is never wrapped, only the command's answer.
    let preflight = client.clone().with_wrap_ttl(None);
    let resp = ctx.block_on(preflight.checked(Method::GET, &path, &[], None));
    let (mount, version) = match resp {
        Ok(raw) => {
            let data = raw
                .body
                .as_ref()
                .and_then(|b| b.get("data"))
                .cloned()
                .unwrap_or(Value::Null);
            let mount = data
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let version = data
                .get("options")
                .and_then(|o| o.get("version"))
                .and_then(Value::as_str)
                .unwrap_or("1")
                .to_string();
            (mount, version)
        }
        Err(e) if e.status() == Some(404) => (String::new(), "1".to_string()),
        Err(e) => {
            ctx.err(&e.to_string());
            return Err(2);
        }
    };
    let (mount, partial) = if mount_flag.is_empty() {
        let clean = arg.trim_start_matches('/');
        let partial = clean
            .strip_prefix(&mount)
            .or_else(|| clean.strip_prefix(mount.trim_end_matches('/')))
            .unwrap_or(clean)
            .trim_start_matches('/')
            .to_string();
        (mount, partial)
    } else {
        (
            format!("{}/", mount_flag.trim_matches('/')),
            arg.trim_start_matches('/').to_string(),
        )
    };
    Ok(Target {
        mount,
        v2: version == "2",
        partial,
    })
}

/// Vault's `getHeaderForMap`: `== Header ==` padded to the table's width.
fn header_for(header: &str, keys: &[&str]) -> String {
    let max = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    pad_equal_signs(header, max + 4 + 5)
}

/// Vault's `padEqualSigns`: `header` centred in `total` columns of `=`.
fn pad_equal_signs(header: &str, total: usize) -> String {
    let mut eq = total as i64 - (header.len() as i64 + 2);
    if eq <= 0 {
        eq = 4;
    }
    if eq % 2 != 0 {
        eq += 1;
    }
    let side = "=".repeat((eq / 2) as usize);
    format!("{side} {header} {side}")
}

fn map_table(data: &Map<String, Value>) -> String {
    kv_table(crate::output::data_rows(data))
}

fn print_path_header(ctx: &mut Ctx<'_, '_>, header: &str, full: &str) {
    let h = pad_equal_signs(header, full.len());
    ctx.out(&h);
    ctx.out(full);
    ctx.out("");
}

fn print_map(ctx: &mut Ctx<'_, '_>, header: &str, data: &Map<String, Value>) {
    let keys: Vec<&str> = data.keys().map(String::as_str).collect();
    let h = header_for(header, &keys);
    ctx.out(&h);
    let t = map_table(data);
    ctx.out(&t);
}

fn get(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca kv get [options] KEY\n\n  Retrieves the value from Arca's key-value store at the given key name.";
    let specs: &[Spec] = &[MOUNT, flag("version", Kind::Str, "0")];
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD], specs], args, help));
    let version = or_exit!(int_flag(&p, "version").map_err(|e| flag_error(ctx, &e)));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let t = or_exit!(resolve(ctx, &client, &p));
    let path = t.path("data");
    let v = version.to_string();
    let query: Vec<(&str, &str)> = if t.v2 && version > 0 {
        vec![("version", v.as_str())]
    } else {
        vec![]
    };
    let read = ctx.block_on(client.read_with_query(&path, &query));
    let secret = or_exit!(ctx.found(&path, read));
    let field = p.str("field");
    if !field.is_empty() {
        if t.v2 {
            let inner = secret
                .data
                .as_ref()
                .and_then(|d| d.get("data"))
                .and_then(|d| d.get(&field))
                .cloned();
            return match inner {
                Some(v) if !v.is_null() => ctx.print_value(format, &v),
                _ => {
                    ctx.err(&format!("Field {field:?} not present in map"));
                    1
                }
            };
        }
        return ctx.output_field(format, &secret, &field);
    }
    if secret.wrap_info.is_some() || format != Format::Table {
        return ctx.output_secret(format, &secret);
    }
    ctx.print_warnings(&secret);
    let data = secret.data.clone().unwrap_or_default();
    if t.v2 {
        print_path_header(ctx, "Secret Path", &path);
    }
    if let Some(Value::Object(meta)) = data.get("metadata") {
        print_map(ctx, "Metadata", meta);
        ctx.out("");
    }
    let shown = if t.v2 {
        data.get("data").and_then(Value::as_object).cloned()
    } else {
        secret.data.clone()
    };
    if let Some(d) = shown {
        print_map(ctx, "Data", &d);
    }
    0
}

/// Print a v2 write answer (the new version's metadata) the way `kv put` does.
fn print_write(
    ctx: &mut Ctx<'_, '_>,
    p: &Parsed,
    format: Format,
    t: &Target,
    path: &str,
    secret: &Secret,
) -> i32 {
    let field = p.str("field");
    if !field.is_empty() {
        return ctx.output_field(format, secret, &field);
    }
    if format != Format::Table || !t.v2 {
        return ctx.output_secret(format, secret);
    }
    ctx.print_warnings(secret);
    print_path_header(ctx, "Secret Path", path);
    let data = secret.data.clone().unwrap_or_default();
    print_map(ctx, "Metadata", &data);
    0
}

fn put(ctx: &mut Ctx<'_, '_>, args: &[String], patch: bool) -> i32 {
    let help = "Usage: arca kv put [options] KEY [DATA]\n\n  Writes the data to the given path in the key-value store.";
    let mut specs = vec![MOUNT, flag("cas", Kind::Str, "-1")];
    if patch {
        specs.push(flag("method", Kind::Str, "patch"));
        specs.push(flag("remove-data", Kind::List, ""));
    }
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD], &specs], args, help));
    let cas = or_exit!(int_flag(&p, "cas").map_err(|e| flag_error(ctx, &e)));
    if p.args.is_empty() {
        ctx.err("Not enough arguments (expected >1, got 0)");
        return 1;
    }
    let mut data = match parse_kv_args(ctx, &p.args[1..]) {
        Ok(d) => d,
        Err(e) => {
            ctx.err(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let removals = if patch { p.list("remove-data") } else { vec![] };
    for k in &removals {
        data.insert(k.clone(), Value::Null);
    }
    if data.is_empty() {
        ctx.err("Must supply data");
        return 1;
    }
    let t = or_exit!(resolve(ctx, &client, &p));
    if patch && !t.v2 {
        ctx.err("K/V engine mount must be version 2 for patch support");
        return 2;
    }
    let path = t.path("data");
    let mut options = Map::new();
    if cas > -1 {
        options.insert("cas".into(), json!(cas));
    }
    let result = if !t.v2 {
        ctx.block_on(client.write(&path, Some(Value::Object(data))))
    } else if patch && p.str("method") == "rw" {
        or_exit!(rw_patch(ctx, &client, &path, data, options))
    } else {
        let body = json!({ "data": data, "options": options });
        if patch {
            ctx.block_on(client.patch(&path, body))
        } else {
            ctx.block_on(client.write(&path, Some(body)))
        }
    };
    ctx.report_write(format, &path, result, |ctx, secret| {
        print_write(ctx, &p, format, &t, &path, secret)
    })
}

type WriteResult = Result<Option<Secret>, arca_api::ApiError>;

/// `kv patch -method=rw`: read the current version, merge, write back with its version as cas.
fn rw_patch(
    ctx: &mut Ctx<'_, '_>,
    client: &Client,
    path: &str,
    patch: Map<String, Value>,
    mut options: Map<String, Value>,
) -> Result<WriteResult, i32> {
    let current = match ctx.block_on(client.read(path)) {
        Ok(Some(s)) => s,
        Ok(None) => {
            ctx.err(&format!("No value found at {path}"));
            return Err(2);
        }
        Err(e) => {
            ctx.err(&format!("Error doing pre-read at {path}: {e}"));
            return Err(2);
        }
    };
    let data = current.data.unwrap_or_default();
    let mut merged = data
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in patch {
        if v.is_null() {
            merged.remove(&k);
        } else {
            merged.insert(k, v);
        }
    }
    if !options.contains_key("cas")
        && let Some(v) = data.get("metadata").and_then(|m| m.get("version"))
    {
        options.insert("cas".into(), v.clone());
    }
    let body = json!({ "data": merged, "options": options });
    Ok(ctx.block_on(client.write(path, Some(body))))
}

fn versions_list(p: &Parsed) -> Vec<String> {
    p.list("versions")
        .iter()
        .flat_map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn delete(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca kv delete [options] PATH\n\n  Deletes the data for the provided version and path in the key-value store.";
    let specs: &[Spec] = &[MOUNT, flag("versions", Kind::List, "")];
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD], specs], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let t = or_exit!(resolve(ctx, &client, &p));
    let path = t.path("data");
    let versions = versions_list(&p);
    let result = if t.v2 && !versions.is_empty() {
        ctx.block_on(client.write(&t.path("delete"), Some(json!({ "versions": versions }))))
    } else {
        ctx.block_on(client.delete(&path))
    };
    match result {
        Ok(_) => {
            ctx.out(&format!("Success! Data deleted (if it existed) at: {path}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error deleting {path}: {e}"));
            2
        }
    }
}

fn versions_op(ctx: &mut Ctx<'_, '_>, args: &[String], op: &str) -> i32 {
    let help = "Usage: arca kv undelete|destroy [options] KEY\n\n  Undeletes or destroys versions of a key in the key-value store.";
    let specs: &[Spec] = &[MOUNT, flag("versions", Kind::List, "")];
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT], specs], args, help));
    let versions = versions_list(&p);
    if versions.is_empty() {
        ctx.err(&format!(
            "No versions provided, use the \"-versions\" flag to specify the version to {op}."
        ));
        return 1;
    }
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let t = or_exit!(resolve(ctx, &client, &p));
    if !t.v2 {
        let name = if op == "undelete" {
            "Undelete"
        } else {
            "Destroy"
        };
        ctx.err(&format!("{name} not supported on KV Version 1"));
        return 1;
    }
    let path = t.path(op);
    let result = ctx.block_on(client.write(&path, Some(json!({ "versions": versions }))));
    ctx.report_write(format, &path, result, |ctx, s| ctx.output_secret(format, s))
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca kv list [options] PATH\n\n  Lists data from Arca's key-value store at the given path.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, MOUNT]], args, help));
    if !p.is_set("mount") && !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    if p.args.len() > 1 {
        ctx.err(&format!(
            "Too many arguments (expected 1, got {})",
            p.args.len()
        ));
        return 1;
    }
    let t = or_exit!(resolve(ctx, &client, &p));
    let path = t.path("metadata");
    match ctx.block_on(client.list(&path)) {
        Ok(secret) => output_list(ctx, format, &path, secret.as_ref()),
        Err(e) => {
            ctx.err(&format!("Error listing {path}: {e}"));
            2
        }
    }
}

fn rollback(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca kv rollback [options] KEY\n\n  Restores a given previous version to the current version at the given path.";
    let specs: &[Spec] = &[MOUNT, flag("version", Kind::Str, "0")];
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT], specs], args, help));
    let version = or_exit!(int_flag(&p, "version").map_err(|e| flag_error(ctx, &e)));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    if version <= 0 {
        ctx.err("Version flag must be specified");
        return 1;
    }
    let t = or_exit!(resolve(ctx, &client, &p));
    if !t.v2 {
        ctx.err("Rollback not supported on KV Version 1");
        return 1;
    }
    let path = t.path("data");
    let read = ctx.block_on(client.read(&path));
    let current = or_exit!(ctx.found(&path, read));
    let current_version = current
        .data
        .as_ref()
        .and_then(|d| d.get("metadata"))
        .and_then(|m| m.get("version"))
        .cloned()
        .unwrap_or(Value::Null);
    let v = version.to_string();
    let target = match ctx.block_on(client.read_with_query(&path, &[("version", v.as_str())])) {
        Ok(Some(s)) => s.data.unwrap_or_default(),
        Ok(None) => {
            ctx.err(&format!("No value found at {path}"));
            return 2;
        }
        Err(e) => {
            ctx.err(&format!("Error reading {path}: {e}"));
            return 2;
        }
    };
    let meta = target.get("metadata").cloned().unwrap_or(Value::Null);
    if meta
        .get("deletion_time")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.is_empty())
    {
        ctx.err("Cannot roll back to a version that has been deleted");
        return 2;
    }
    if meta.get("destroyed").and_then(Value::as_bool) == Some(true) {
        ctx.err("Cannot roll back to a version that has been destroyed");
        return 2;
    }
    let data = target.get("data").cloned().unwrap_or(Value::Null);
    let body = json!({ "data": data, "options": { "cas": current_version } });
    match ctx.block_on(client.write(&path, Some(body))) {
        Ok(Some(s)) => ctx.output_secret(format, &s),
        Ok(None) => 0,
        Err(e) => {
            ctx.err(&format!("Error writing data to {path}: {e}"));
            2
        }
    }
}

fn enable_versioning(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca kv enable-versioning [options] KEY\n\n  Enables versioning on an existing KV v1 mount.";
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let path = super::mounts::mount_path(&p.args[0]);
    let body = json!({ "options": { "version": "2" } });
    match ctx.block_on(client.post(&format!("sys/mounts/{path}tune"), Some(body))) {
        Ok(_) => {
            ctx.out(&format!("Success! Tuned the secrets engine at: {path}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error tuning secrets engine {path}: {e}"));
            2
        }
    }
}

fn metadata(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, METADATA_USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "get" => metadata_get(ctx, rest),
        "put" => metadata_write(ctx, rest, false),
        "patch" => metadata_write(ctx, rest, true),
        "delete" => metadata_delete(ctx, rest),
        _ => group_usage(ctx, METADATA_USAGE),
    }
}

fn v2_target(ctx: &mut Ctx<'_, '_>, client: &Client, p: &Parsed) -> Result<Target, i32> {
    let t = resolve(ctx, client, p)?;
    if !t.v2 {
        ctx.err("Metadata not supported on KV Version 1");
        return Err(1);
    }
    Ok(t)
}

fn metadata_get(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca kv metadata get [options] KEY\n\n  Retrieves the metadata from Arca's key-value store at the given key name.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, MOUNT]], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let t = or_exit!(v2_target(ctx, &client, &p));
    let path = t.path("metadata");
    let read = ctx.block_on(client.read(&path));
    let secret = or_exit!(ctx.found(&path, read));
    if format != Format::Table {
        return ctx.output_secret(format, &secret);
    }
    ctx.print_warnings(&secret);
    let mut data = secret.data.clone().unwrap_or_default();
    let versions = data.remove("versions");
    print_path_header(ctx, "Metadata Path", &path);
    print_map(ctx, "Metadata", &data);
    if let Some(Value::Object(versions)) = versions {
        let mut keys: Vec<&String> = versions.keys().collect();
        keys.sort_by_key(|k| k.parse::<u64>().unwrap_or(u64::MAX));
        for k in keys {
            if let Some(Value::Object(v)) = versions.get(k) {
                ctx.out("");
                print_map(ctx, &format!("Version {k}"), v);
            }
        }
    }
    0
}

fn metadata_write(ctx: &mut Ctx<'_, '_>, args: &[String], patch: bool) -> i32 {
    let help = "Usage: arca kv metadata put [options] KEY\n\n  Creates or updates the metadata of a key in the key-value store.";
    let mut specs = vec![
        MOUNT,
        flag("max-versions", Kind::Str, "-1"),
        flag("cas-required", Kind::Bool, "false"),
        flag("delete-version-after", Kind::Str, ""),
        flag("custom-metadata", Kind::List, ""),
    ];
    if patch {
        specs.push(flag("remove-custom-metadata", Kind::List, ""));
    }
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT], &specs], args, help));
    let max_versions = or_exit!(int_flag(&p, "max-versions").map_err(|e| flag_error(ctx, &e)));
    let dva = or_exit!(duration_flag(&p, "delete-version-after").map_err(|e| flag_error(ctx, &e)));
    let custom = or_exit!(map_flag(&p, "custom-metadata").map_err(|e| flag_error(ctx, &e)));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let t = or_exit!(v2_target(ctx, &client, &p));
    let path = t.path("metadata");
    let mut body = Map::new();
    if max_versions >= 0 {
        body.insert("max_versions".into(), json!(max_versions));
    }
    if p.is_set("cas-required") {
        body.insert("cas_required".into(), json!(p.bool("cas-required")));
    }
    if p.is_set("delete-version-after") {
        body.insert(
            "delete_version_after".into(),
            json!(duration::go_string(dva)),
        );
    }
    let mut custom_json: Map<String, Value> =
        custom.into_iter().map(|(k, v)| (k, json!(v))).collect();
    if patch {
        for k in p.list("remove-custom-metadata") {
            custom_json.insert(k, Value::Null);
        }
    }
    if !custom_json.is_empty() {
        body.insert("custom_metadata".into(), Value::Object(custom_json));
    }
    let result = if patch {
        ctx.block_on(client.patch(&path, Value::Object(body)))
    } else {
        ctx.block_on(client.write(&path, Some(Value::Object(body))))
    };
    ctx.report_write(format, &path, result, |ctx, s| ctx.output_secret(format, s))
}

fn metadata_delete(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca kv metadata delete [options] PATH\n\n  Deletes all versions and metadata for the provided key.";
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, &[MOUNT]], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let t = or_exit!(v2_target(ctx, &client, &p));
    let path = t.path("metadata");
    match ctx.block_on(client.delete(&path)) {
        Ok(_) => {
            ctx.out(&format!("Success! Data deleted (if it existed) at: {path}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error deleting {path}: {e}"));
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_like_vault() {
        assert_eq!(pad_equal_signs("Secret Path", 15), "= Secret Path =");
        assert_eq!(pad_equal_signs("Secret Path", 18), "=== Secret Path ===");
        assert_eq!(pad_equal_signs("Secret Path", 8), "== Secret Path ==");
        assert_eq!(
            header_for("Metadata", &["custom_metadata", "version"]),
            "======= Metadata ======="
        );
        assert_eq!(header_for("Data", &["a"]), "== Data ==");
        assert_eq!(header_for("Data", &["bar"]), "=== Data ===");
    }

    #[test]
    fn v2_paths() {
        let t = Target {
            mount: "kv2/".into(),
            v2: true,
            partial: "app/db".into(),
        };
        assert_eq!(t.path("data"), "kv2/data/app/db");
        let root = Target {
            mount: "kv2/".into(),
            v2: true,
            partial: String::new(),
        };
        assert_eq!(root.path("data"), "kv2/data");
        let v1 = Target {
            mount: "kv1/".into(),
            v2: false,
            partial: "foo".into(),
        };
        assert_eq!(v1.path("data"), "kv1/foo");
    }
}
