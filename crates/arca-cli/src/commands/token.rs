//! `token`: create, lookup, renew, revoke and capabilities.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::logical::{print_secret, setup};
use super::{check_range, flag_error, group_usage};
use crate::ctx::Ctx;
use crate::duration;
use crate::flags::{
    FIELD, FORMAT, HTTP, Kind, Spec, duration_flag, flag, int_flag, map_flag, slice_flag,
};
use crate::output::Format;

const USAGE: &str = "Usage: arca token <subcommand> [options] [args]\n\n  This command groups subcommands for interacting with tokens. Users can\n  create, lookup, renew, and revoke tokens.\n\n  Create a new token:\n\n      $ arca token create\n\n  Revoke a token:\n\n      $ arca token revoke 96ddf4bc-d217-f3ba-f9bd-017055595017\n\n  Renew a token:\n\n      $ arca token renew 96ddf4bc-d217-f3ba-f9bd-017055595017\n\n  Please see the individual subcommand help for detailed usage information.\n\nSubcommands:\n    capabilities    Print capabilities of a token on a path\n    create          Create a new token\n    lookup          Display information about a token\n    renew           Renew a token lease\n    revoke          Revoke a token and its children";

/// `arca token ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "create" => create(ctx, rest),
        "lookup" => lookup(ctx, rest),
        "renew" => renew(ctx, rest),
        "revoke" => revoke(ctx, rest),
        "capabilities" => capabilities(ctx, rest),
        "-h" | "-help" | "--help" => {
            ctx.out(USAGE);
            0
        }
        _ => group_usage(ctx, USAGE),
    }
}

const CREATE: &[Spec] = &[
    flag("id", Kind::Str, ""),
    flag("display-name", Kind::Str, ""),
    flag("ttl", Kind::Str, ""),
    flag("explicit-max-ttl", Kind::Str, ""),
    flag("period", Kind::Str, ""),
    flag("renewable", Kind::Bool, "true"),
    flag("orphan", Kind::Bool, "false"),
    flag("no-default-policy", Kind::Bool, "false"),
    flag("use-limit", Kind::Str, "0"),
    flag("role", Kind::Str, ""),
    flag("type", Kind::Str, "service"),
    flag("policy", Kind::List, ""),
    flag("metadata", Kind::List, ""),
    flag("entity-alias", Kind::Str, ""),
];

fn create(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca token create [options]\n\n  Creates a new token that can be used for authentication.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD], CREATE], args, help));
    let durations = ["ttl", "explicit-max-ttl", "period"]
        .map(|n| duration_flag(&p, n).map(duration::go_string));
    let [ttl, max_ttl, period] = match durations {
        [Ok(a), Ok(b), Ok(c)] => [a, b, c],
        [Err(e), _, _] | [_, Err(e), _] | [_, _, Err(e)] => return flag_error(ctx, &e),
    };
    let metadata = or_exit!(map_flag(&p, "metadata").map_err(|e| flag_error(ctx, &e)));
    let uses = or_exit!(int_flag(&p, "use-limit").map_err(|e| flag_error(ctx, &e)));
    if !check_range(ctx, &p.args, 0, 0) {
        return 1;
    }
    let mut body = Map::new();
    let id = p.str("id");
    if !id.is_empty() {
        body.insert("id".into(), json!(id));
    }
    let policies = slice_flag(&p, "policy");
    if !policies.is_empty() {
        body.insert("policies".into(), json!(policies));
    }
    if !metadata.is_empty() {
        body.insert("meta".into(), json!(metadata));
    }
    body.insert("ttl".into(), json!(ttl));
    body.insert("explicit_max_ttl".into(), json!(max_ttl));
    body.insert("period".into(), json!(period));
    if p.bool("orphan") {
        body.insert("no_parent".into(), json!(true));
    }
    if p.bool("no-default-policy") {
        body.insert("no_default_policy".into(), json!(true));
    }
    body.insert("display_name".into(), json!(p.str("display-name")));
    body.insert("num_uses".into(), json!(uses));
    body.insert("renewable".into(), json!(p.bool("renewable")));
    body.insert("type".into(), json!(p.str("type")));
    body.insert("entity_alias".into(), json!(p.str("entity-alias")));
    let role = p.str("role");
    let path = if role.is_empty() {
        "auth/token/create".to_string()
    } else {
        format!("auth/token/create/{role}")
    };
    match ctx.block_on(client.post(&path, Some(Value::Object(body)))) {
        Ok(Some(secret)) => {
            if !p.str("field").is_empty() {
                ctx.print_warnings(&secret);
            }
            print_secret(ctx, &p, format, &secret)
        }
        Ok(None) => 0,
        Err(e) => {
            ctx.err(&format!("Error creating token: {e}"));
            2
        }
    }
}

const ACCESSOR: Spec = flag("accessor", Kind::Bool, "false");

fn lookup(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca token lookup [options] [TOKEN | ACCESSOR]\n\n  Displays information about a token or accessor.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD, ACCESSOR]], args, help));
    let accessor = p.bool("accessor");
    let n = p.args.len();
    if accessor && n != 1 {
        let what = if n < 1 { "Not enough" } else { "Too many" };
        ctx.err(&format!(
            "{what} arguments with -accessor (expected 1, got {n})"
        ));
        return 1;
    }
    if !accessor && !check_range(ctx, &p.args, 0, 1) {
        return 1;
    }
    let result = match p.args.first() {
        Some(a) if accessor => {
            ctx.block_on(client.post("auth/token/lookup-accessor", Some(json!({ "accessor": a }))))
        }
        Some(t) => ctx.block_on(client.post("auth/token/lookup", Some(json!({ "token": t })))),
        None => ctx.block_on(client.read("auth/token/lookup-self")),
    };
    match result {
        Ok(Some(secret)) => print_secret(ctx, &p, format, &secret),
        Ok(None) => 0,
        Err(e) => {
            ctx.err(&format!("Error looking up token: {e}"));
            2
        }
    }
}

fn renew(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca token renew [options] [TOKEN]\n\n  Renews a token's lease, extending the amount of time it can be used.";
    let specs: &[Spec] = &[
        ACCESSOR,
        flag("increment", Kind::Str, ""),
        flag("i", Kind::Str, ""),
    ];
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD], specs], args, help));
    let name = if p.is_set("i") && !p.is_set("increment") {
        "i"
    } else {
        "increment"
    };
    let increment = match duration_flag(&p, name) {
        Ok(d) => duration::seconds(d),
        Err(e) => return flag_error(ctx, &e),
    };
    if p.args.len() > 1 {
        ctx.err(&format!(
            "Too many arguments (expected 1, got {})",
            p.args.len()
        ));
        return 1;
    }
    let result = match p.args.first() {
        None => ctx.block_on(client.write(
            "auth/token/renew-self",
            Some(json!({ "increment": increment })),
        )),
        Some(a) if p.bool("accessor") => ctx.block_on(client.write(
            "auth/token/renew-accessor",
            Some(json!({ "accessor": a, "increment": increment })),
        )),
        Some(t) => ctx.block_on(client.write(
            "auth/token/renew",
            Some(json!({ "token": t, "increment": increment })),
        )),
    };
    match result {
        Ok(Some(secret)) => print_secret(ctx, &p, format, &secret),
        Ok(None) => 0,
        Err(e) => {
            ctx.err(&format!("Error renewing token: {e}"));
            2
        }
    }
}

fn revoke(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca token revoke [options] [TOKEN | ACCESSOR]\n\n  Revokes authentication tokens and their children.";
    let specs: &[Spec] = &[
        ACCESSOR,
        flag("self", Kind::Bool, "false"),
        flag("mode", Kind::Str, ""),
    ];
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, specs], args, help));
    let (selfish, accessor, mode) = (p.bool("self"), p.bool("accessor"), p.str("mode"));
    let n = p.args.len();
    if selfish && n > 0 {
        ctx.err(&format!(
            "Too many arguments with -self (expected 0, got {n})"
        ));
        return 1;
    }
    if !selfish && n < 1 {
        ctx.err(&format!(
            "Not enough arguments (expected 1 or -self, got {n})"
        ));
        return 1;
    }
    if !selfish && n > 1 {
        ctx.err(&format!("Too many arguments (expected 1, got {n})"));
        return 1;
    }
    match mode.as_str() {
        "" | "orphan" | "path" => {}
        other => {
            ctx.err(&format!("Invalid mode: {other}"));
            return 1;
        }
    }
    if selfish && !mode.is_empty() {
        ctx.err("Cannot use -self with -mode!");
        return 1;
    }
    if accessor && mode == "orphan" {
        ctx.err("Cannot use -accessor with -mode=orphan!");
        return 1;
    }
    if accessor && mode == "path" {
        ctx.err("Cannot use -accessor with -mode=path!");
        return 1;
    }
    let arg = p.args.first().cloned().unwrap_or_default();
    let (path, body) = if selfish {
        ("auth/token/revoke-self", None)
    } else if accessor {
        (
            "auth/token/revoke-accessor",
            Some(json!({ "accessor": arg })),
        )
    } else if mode == "orphan" {
        ("auth/token/revoke-orphan", Some(json!({ "token": arg })))
    } else {
        ("auth/token/revoke", Some(json!({ "token": arg })))
    };
    match ctx.block_on(client.write(path, body)) {
        Ok(_) => {
            ctx.out("Success! Revoked token (if it existed)");
            0
        }
        Err(e) => {
            ctx.err(&format!("Error revoking token: {e}"));
            2
        }
    }
}

fn capabilities(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca token capabilities [options] [TOKEN] PATH\n\n  Fetches the capabilities of a token for a given path.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, help));
    if !check_range(ctx, &p.args, 1, 2) {
        return 1;
    }
    let (path, body) = if p.args.len() == 1 {
        let path = p.args[0].clone();
        (
            path.clone(),
            ("sys/capabilities-self", json!({ "path": path })),
        )
    } else {
        let path = p.args[1].clone();
        (
            path.clone(),
            (
                "sys/capabilities",
                json!({ "token": p.args[0], "path": path }),
            ),
        )
    };
    let resp = ctx.block_on(client.checked(Method::POST, body.0, &[], Some(body.1)));
    let body = match resp {
        Ok(r) => r.body.unwrap_or(Value::Null),
        Err(e) => {
            ctx.err(&format!("Error listing capabilities: {e}"));
            return 2;
        }
    };
    let data = body.get("data").unwrap_or(&body);
    let caps = data
        .get(&path)
        .or_else(|| data.get("capabilities"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect::<Vec<_>>()
        });
    let Some(mut caps) = caps else {
        ctx.err("No capabilities found");
        return 1;
    };
    match format {
        Format::Table | Format::Raw => {
            caps.sort();
            ctx.out(&caps.join(", "));
            0
        }
        _ => ctx.output_data(format, &json!(caps)),
    }
}
