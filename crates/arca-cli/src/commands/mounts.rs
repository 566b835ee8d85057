//! `secrets` and `auth`: enable, disable, list, tune (and `secrets move`).

use std::collections::BTreeMap;

use arca_api::mounts::MountOutput;
use serde_json::{Map, Value, json};

use super::logical::setup;
use super::{check_range, flag_error, group_usage};
use crate::ctx::Ctx;
use crate::duration;
use crate::flags::{
    FORMAT, FlagError, HTTP, Kind, Parsed, Spec, duration_flag, flag, int_flag, map_flag,
    slice_flag,
};
use crate::output::{Format, go_value, header_table};

const SECRETS_USAGE: &str = "Usage: arca secrets <subcommand> [options] [args]\n\n  This command groups subcommands for interacting with secrets engines.\n\nSubcommands:\n    disable    Disable a secrets engine\n    enable     Enable a secrets engine\n    list       List enabled secrets engines\n    move       Move a secrets engine to a new path\n    tune       Tune a secrets engine configuration";

const AUTH_USAGE: &str = "Usage: arca auth <subcommand> [options] [args]\n\n  This command groups subcommands for interacting with auth methods.\n\nSubcommands:\n    disable    Disables an auth method\n    enable     Enables a new auth method\n    list       Lists enabled auth methods\n    move       Move an auth method to a new path\n    tune       Tunes an auth method configuration";

/// Secrets engines or auth methods.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Table {
    Secrets,
    Auth,
}

/// `arca secrets ...`.
pub fn secrets(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, SECRETS_USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "enable" => enable(ctx, rest, Table::Secrets),
        "disable" => disable(ctx, rest, Table::Secrets),
        "list" => list(ctx, rest, Table::Secrets),
        "tune" => tune(ctx, rest, Table::Secrets),
        "move" => move_mount(ctx, rest),
        _ => group_usage(ctx, SECRETS_USAGE),
    }
}

/// `arca auth ...`.
pub fn auth(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, AUTH_USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "enable" => enable(ctx, rest, Table::Auth),
        "disable" => disable(ctx, rest, Table::Auth),
        "list" => list(ctx, rest, Table::Auth),
        "tune" => tune(ctx, rest, Table::Auth),
        "move" => move_any(ctx, rest, Table::Auth),
        _ => group_usage(ctx, AUTH_USAGE),
    }
}

/// `path/` with exactly one trailing slash and no leading one.
pub fn mount_path(p: &str) -> String {
    format!("{}/", p.trim_matches('/'))
}

const TUNABLE: &[Spec] = &[
    flag("description", Kind::Str, ""),
    flag("default-lease-ttl", Kind::Str, ""),
    flag("max-lease-ttl", Kind::Str, ""),
    flag("audit-non-hmac-request-keys", Kind::List, ""),
    flag("audit-non-hmac-response-keys", Kind::List, ""),
    flag("listing-visibility", Kind::Str, ""),
    flag("passthrough-request-headers", Kind::List, ""),
    flag("allowed-response-headers", Kind::List, ""),
    flag("options", Kind::List, ""),
    flag("plugin-version", Kind::Str, ""),
    flag("version", Kind::Str, "0"),
];

const ENABLE: &[Spec] = &[
    flag("path", Kind::Str, ""),
    flag("plugin-name", Kind::Str, ""),
    flag("local", Kind::Bool, "false"),
    flag("seal-wrap", Kind::Bool, "false"),
    flag("external-entropy-access", Kind::Bool, "false"),
];

const FORCE_NO_CACHE: Spec = flag("force-no-cache", Kind::Bool, "false");
const TOKEN_TYPE: Spec = flag("token-type", Kind::Str, "");

/// Plugin options of a mount (`-options`, `-version`), `None` when empty.
type Options = Option<BTreeMap<String, String>>;

/// The shared `config` body of enable and tune; `None` after printing a flag error.
fn config_body(
    ctx: &mut Ctx<'_, '_>,
    p: &Parsed,
    tune: bool,
) -> Result<(Map<String, Value>, Options), i32> {
    let mut options = map_flag(p, "options").map_err(|e| flag_error(ctx, &e))?;
    let version = int_flag(p, "version").map_err(|e| flag_error(ctx, &e))?;
    if version > 0 {
        options.insert("version".into(), version.to_string());
    }
    let mut ttl = |name: &str| -> Result<String, i32> {
        let d = duration_flag(p, name).map_err(|e| flag_error(ctx, &e))?;
        Ok(if tune && !p.is_set(name) {
            String::new()
        } else {
            duration::go_string(d)
        })
    };
    let default_ttl = ttl("default-lease-ttl")?;
    let max_ttl = ttl("max-lease-ttl")?;
    let options = (!options.is_empty()).then_some(options);
    let mut c = Map::new();
    c.insert("options".into(), json!(options));
    c.insert("default_lease_ttl".into(), json!(default_ttl));
    if tune && p.is_set("description") {
        c.insert("description".into(), json!(p.str("description")));
    }
    c.insert("max_lease_ttl".into(), json!(max_ttl));
    c.insert("force_no_cache".into(), json!(p.bool("force-no-cache")));
    for (flag_name, key) in [
        ("audit-non-hmac-request-keys", "audit_non_hmac_request_keys"),
        (
            "audit-non-hmac-response-keys",
            "audit_non_hmac_response_keys",
        ),
        ("passthrough-request-headers", "passthrough_request_headers"),
        ("allowed-response-headers", "allowed_response_headers"),
    ] {
        let v = slice_flag(p, flag_name);
        if !v.is_empty() {
            c.insert(key.into(), json!(v));
        }
    }
    for (flag_name, key) in [
        ("listing-visibility", "listing_visibility"),
        ("token-type", "token_type"),
        ("plugin-version", "plugin_version"),
    ] {
        let v = p.str(flag_name);
        if !v.is_empty() {
            c.insert(key.into(), json!(v));
        }
    }
    Ok((c, options))
}

fn enable(ctx: &mut Ctx<'_, '_>, args: &[String], table: Table) -> i32 {
    let help = "Usage: arca secrets enable [options] TYPE\n\n  Enables a secrets engine or auth method at a path.";
    let extra: &[Spec] = match table {
        Table::Secrets => &[FORCE_NO_CACHE],
        Table::Auth => &[TOKEN_TYPE],
    };
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, TUNABLE, ENABLE, extra], args, help));
    let (config, options) = or_exit!(config_body(ctx, &p, false));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let kind = p.args[0].trim_matches('/').to_string();
    let plugin_name = p.str("plugin-name");
    let path = match p.str("path") {
        s if s.is_empty() => {
            if kind == "plugin" {
                plugin_name.clone()
            } else {
                kind.clone()
            }
        }
        s => s,
    };
    let path = mount_path(&path);
    let mut body = Map::new();
    body.insert("type".into(), json!(kind));
    body.insert("description".into(), json!(p.str("description")));
    body.insert("config".into(), Value::Object(config));
    body.insert("local".into(), json!(p.bool("local")));
    body.insert("seal_wrap".into(), json!(p.bool("seal-wrap")));
    body.insert(
        "external_entropy_access".into(),
        json!(p.bool("external-entropy-access")),
    );
    body.insert("options".into(), json!(options));
    if !plugin_name.is_empty() {
        body.insert("plugin_name".into(), json!(plugin_name));
    }
    let api_path = match table {
        Table::Secrets => format!("sys/mounts/{}", path.trim_end_matches('/')),
        Table::Auth => format!("sys/auth/{}", path.trim_end_matches('/')),
    };
    let thing = if kind == "plugin" {
        &plugin_name
    } else {
        &kind
    };
    match ctx.block_on(client.post(&api_path, Some(Value::Object(body)))) {
        Ok(_) => {
            let msg = match table {
                Table::Secrets => {
                    let what = if kind == "plugin" {
                        format!("{thing} plugin")
                    } else {
                        format!("{thing} secrets engine")
                    };
                    format!("Success! Enabled the {what} at: {path}")
                }
                Table::Auth => format!("Success! Enabled {thing} auth method at: {path}"),
            };
            ctx.out(&msg);
            0
        }
        Err(e) => {
            let msg = match table {
                Table::Secrets => format!("Error enabling: {e}"),
                Table::Auth => format!("Error enabling {thing} auth: {e}"),
            };
            ctx.err(&msg);
            2
        }
    }
}

fn disable(ctx: &mut Ctx<'_, '_>, args: &[String], table: Table) -> i32 {
    let help = "Usage: arca secrets disable [options] PATH\n\n  Disables a secrets engine or auth method at the given PATH.";
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let path = mount_path(&p.args[0]);
    let (api_path, what) = match table {
        Table::Secrets => (
            format!("sys/mounts/{}", path.trim_end_matches('/')),
            "the secrets engine",
        ),
        Table::Auth => (
            format!("sys/auth/{}", path.trim_end_matches('/')),
            "the auth method",
        ),
    };
    match ctx.block_on(client.delete(&api_path)) {
        Ok(_) => {
            ctx.out(&format!(
                "Success! Disabled {what} (if it existed) at: {path}"
            ));
            0
        }
        Err(e) => {
            let which = match table {
                Table::Secrets => "secrets engine",
                Table::Auth => "auth method",
            };
            ctx.err(&format!("Error disabling {which} at {path}: {e}"));
            2
        }
    }
}

fn ttl_cell(m: &MountOutput, secs: i64, table: Table) -> String {
    if table == Table::Secrets && matches!(m.kind.as_str(), "system" | "cubbyhole" | "ns_system") {
        "n/a".to_string()
    } else if secs == 0 {
        "system".to_string()
    } else {
        secs.to_string()
    }
}

fn options_cell(options: &Option<BTreeMap<String, String>>) -> String {
    let v = json!(options.clone().unwrap_or_default());
    go_value(&v)
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[String], table: Table) -> i32 {
    let help = "Usage: arca secrets list [options]\n\n  Lists the enabled secrets engines or auth methods.";
    let (p, format, client) = or_exit!(setup(
        ctx,
        &[HTTP, &[FORMAT, flag("detailed", Kind::Bool, "false")]],
        args,
        help,
    ));
    if !check_range(ctx, &p.args, 0, 0) {
        return 1;
    }
    let result = match table {
        Table::Secrets => ctx.block_on(client.list_mounts()),
        Table::Auth => ctx.block_on(client.list_auth()),
    };
    let mounts = match result {
        Ok(m) => m,
        Err(e) => {
            let what = match table {
                Table::Secrets => "secrets engines",
                Table::Auth => "enabled authentications",
            };
            ctx.err(&format!("Error listing {what}: {e}"));
            return 2;
        }
    };
    if format != Format::Table && format != Format::Raw {
        return ctx.output_struct(format, &mounts);
    }
    let detailed = p.bool("detailed");
    let text = if detailed {
        detailed_table(&mounts, table)
    } else {
        simple_table(&mounts, table)
    };
    ctx.out(&text);
    0
}

fn simple_table(mounts: &BTreeMap<String, MountOutput>, table: Table) -> String {
    let rows = mounts
        .iter()
        .map(|(path, m)| {
            let mut row = vec![
                path.clone(),
                m.kind.clone(),
                m.accessor.clone(),
                m.description.clone(),
            ];
            if table == Table::Auth {
                row.push(m.plugin_version.clone());
            }
            row
        })
        .collect();
    match table {
        Table::Secrets => header_table(&["Path", "Type", "Accessor", "Description"], rows),
        Table::Auth => header_table(
            &["Path", "Type", "Accessor", "Description", "Version"],
            rows,
        ),
    }
}

fn detailed_table(mounts: &BTreeMap<String, MountOutput>, table: Table) -> String {
    let rows = mounts
        .iter()
        .map(|(path, m)| {
            let replication = if m.local { "local" } else { "replicated" };
            let mut row = vec![
                path.clone(),
                m.kind.clone(),
                m.accessor.clone(),
                ttl_cell(m, m.config.default_lease_ttl, table),
                ttl_cell(m, m.config.max_lease_ttl, table),
            ];
            match table {
                Table::Secrets => row.push(m.config.force_no_cache.to_string()),
                Table::Auth => row.push(m.config.token_type.clone()),
            }
            row.extend([
                replication.to_string(),
                m.seal_wrap.to_string(),
                m.external_entropy_access.to_string(),
                options_cell(&m.options),
                m.description.clone(),
                m.uuid.clone(),
                m.plugin_version.clone(),
                m.running_plugin_version.clone(),
                m.running_sha256.clone(),
                m.deprecation_status.clone(),
            ]);
            row
        })
        .collect();
    let fourth = match table {
        Table::Secrets => "Force No Cache",
        Table::Auth => "Token Type",
    };
    header_table(
        &[
            "Path",
            "Plugin",
            "Accessor",
            "Default TTL",
            "Max TTL",
            fourth,
            "Replication",
            "Seal Wrap",
            "External Entropy Access",
            "Options",
            "Description",
            "UUID",
            "Version",
            "Running Version",
            "Running SHA256",
            "Deprecation Status",
        ],
        rows,
    )
}

fn tune(ctx: &mut Ctx<'_, '_>, args: &[String], table: Table) -> i32 {
    let help = "Usage: arca secrets tune [options] PATH\n\n  Tunes the configuration options for the secrets engine or auth method at PATH.";
    let extra: &[Spec] = match table {
        Table::Secrets => &[],
        Table::Auth => &[
            TOKEN_TYPE,
            flag("user-lockout-threshold", Kind::Str, "0"),
            flag("user-lockout-duration", Kind::Str, ""),
            flag("user-lockout-counter-reset-duration", Kind::Str, ""),
            flag("user-lockout-disable", Kind::Bool, "false"),
        ],
    };
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, TUNABLE, extra], args, help));
    let (mut config, _) = or_exit!(config_body(ctx, &p, true));
    if table == Table::Auth {
        let lockout = or_exit!(user_lockout_body(ctx, &p));
        if !lockout.is_empty() {
            config.insert("user_lockout_config".into(), Value::Object(lockout));
        }
    }
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let path = mount_path(&p.args[0]);
    let api_path = match table {
        Table::Secrets => format!("sys/mounts/{path}tune"),
        Table::Auth => format!("sys/mounts/auth/{path}tune"),
    };
    let which = match table {
        Table::Secrets => "secrets engine",
        Table::Auth => "auth method",
    };
    match ctx.block_on(client.post(&api_path, Some(Value::Object(config)))) {
        Ok(_) => {
            ctx.out(&format!("Success! Tuned the {which} at: {path}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error tuning {which} {path}: {e}"));
            2
        }
    }
}

/// The `-user-lockout-*` flags given, as the tune's `user_lockout_config` (durations as Go
/// prints them, as OpenBao's CLI sends them).
fn user_lockout_body(ctx: &mut Ctx<'_, '_>, p: &Parsed) -> Result<Map<String, Value>, i32> {
    let mut m = Map::new();
    if p.is_set("user-lockout-threshold") {
        let t = p.str("user-lockout-threshold");
        if t.parse::<u64>().is_err() {
            return Err(flag_error(
                ctx,
                &FlagError::Value {
                    value: t,
                    name: "user-lockout-threshold".into(),
                    message: "parse error".into(),
                },
            ));
        }
        m.insert("lockout_threshold".into(), json!(t));
    }
    for (flag_name, key) in [
        ("user-lockout-duration", "lockout_duration"),
        (
            "user-lockout-counter-reset-duration",
            "lockout_counter_reset",
        ),
    ] {
        if p.is_set(flag_name) {
            let d = duration_flag(p, flag_name).map_err(|e| flag_error(ctx, &e))?;
            m.insert(key.into(), json!(duration::go_string(d)));
        }
    }
    if p.is_set("user-lockout-disable") {
        m.insert(
            "lockout_disable".into(),
            json!(p.bool("user-lockout-disable")),
        );
    }
    Ok(m)
}

fn move_mount(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    move_any(ctx, args, Table::Secrets)
}

/// `secrets move` and `auth move`: `sys/remount`, then its status polled until it ends.
fn move_any(ctx: &mut Ctx<'_, '_>, args: &[String], table: Table) -> i32 {
    let (help, which) = match table {
        Table::Secrets => (
            "Usage: arca secrets move [options] SOURCE DESTINATION\n\n  Moves an existing secrets engine to a new path.",
            "secrets engine",
        ),
        Table::Auth => (
            "Usage: arca auth move [options] SOURCE DESTINATION\n\n  Moves an existing auth method to a new path.",
            "auth method",
        ),
    };
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP], args, help));
    if !check_range(ctx, &p.args, 2, 2) {
        return 1;
    }
    let (from, to) = match table {
        Table::Secrets => (mount_path(&p.args[0]), mount_path(&p.args[1])),
        Table::Auth => (
            format!("auth/{}", mount_path(&p.args[0])),
            format!("auth/{}", mount_path(&p.args[1])),
        ),
    };
    let body = json!({ "from": from, "to": to });
    let id = match ctx.block_on(client.post("sys/remount", Some(body))) {
        Ok(s) => s
            .and_then(|s| s.data)
            .and_then(|d| {
                d.get("migration_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default(),
        Err(e) => {
            ctx.err(&format!("Error moving {which} {from} to {to}: {e}"));
            return 2;
        }
    };
    ctx.out(&format!(
        "Started moving {which} {from} to {to}, with migration ID {id}"
    ));
    ctx.err(&format!(
        "Waiting for terminal status in migration of {which} {from} to {to}, with migration ID {id}"
    ));
    let status_path = format!("sys/remount/status/{id}");
    loop {
        let status = match ctx.block_on(client.read(&status_path)) {
            Ok(s) => s
                .and_then(|s| s.data)
                .and_then(|d| {
                    d.get("migration_info")
                        .and_then(|i| i.get("status"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .unwrap_or_default(),
            Err(e) => {
                ctx.err(&format!(
                    "Error checking migration status of {which} {from} to {to}: {e}"
                ));
                return 2;
            }
        };
        match status.as_str() {
            "success" => {
                ctx.out(&format!(
                    "Success! Finished moving {which} {from} to {to}, with migration ID {id}"
                ));
                return 0;
            }
            "failure" => {
                ctx.err(&format!(
                    "Failure! Error encountered moving {which} {from} to {to}, with migration ID {id}"
                ));
                return 0;
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
}
