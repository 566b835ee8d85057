//! `plugin`: register, list, info, deregister, reload and reload-status.

use reqwest::Method;
use serde_json::{Map, Value, json};

use super::logical::setup;
use super::{check_range, group_usage};
use crate::ctx::Ctx;
use crate::flags::{FIELD, FORMAT, HTTP, Kind, Spec, flag, slice_flag};
use crate::output::{Format, go_value, header_table};

const USAGE: &str = "Usage: arca plugin <subcommand> [options] [args]\n\n  This command groups subcommands for interacting with Arca's plugins and the\n  plugin catalog.\n\nSubcommands:\n    deregister       Deregister an existing plugin in the catalog\n    info             Read information about a plugin in the catalog\n    list             Lists available plugins\n    register         Registers a new plugin in the catalog\n    reload           Reload mounted plugin backend\n    reload-status    Get the status of an active or recently completed global plugin reload";

/// `arca plugin ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "list" => list(ctx, rest),
        "info" => info(ctx, rest),
        "register" => register(ctx, rest),
        "deregister" => deregister(ctx, rest),
        "reload" => reload(ctx, rest),
        "reload-status" => reload_status(ctx, rest),
        _ => group_usage(ctx, USAGE),
    }
}

/// One `details` entry of `plugin list -format=json`, in Go's field order.
#[derive(serde::Serialize)]
struct Detail {
    #[serde(rename = "type")]
    kind: Value,
    name: Value,
    version: Value,
    builtin: Value,
    deprecation_status: Value,
}

/// Serialises a sorted map keeping `details` objects in their own field order.
struct ListOutput<'a>(&'a Map<String, Value>);

impl serde::Serialize for ListOutput<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut keys: Vec<&String> = self.0.keys().collect();
        keys.sort();
        let mut m = s.serialize_map(Some(keys.len()))?;
        for k in keys {
            if k == "details" {
                let list: Vec<OrderedDetail<'_>> = self.0[k]
                    .as_array()
                    .map(|a| a.iter().map(OrderedDetail).collect())
                    .unwrap_or_default();
                m.serialize_entry(k, &list)?;
            } else {
                m.serialize_entry(k, &self.0[k])?;
            }
        }
        m.end()
    }
}

/// One detail object printed as type, name, version, builtin, deprecation_status.
struct OrderedDetail<'a>(&'a Value);

impl serde::Serialize for OrderedDetail<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let keys = ["type", "name", "version", "builtin", "deprecation_status"];
        let mut m = s.serialize_map(Some(keys.len()))?;
        for k in keys {
            m.serialize_entry(k, self.0.get(k).unwrap_or(&Value::Null))?;
        }
        m.end()
    }
}

/// The catalog's number for a plugin type (Go's `consts.PluginType`).
fn type_number(kind: &str) -> Option<u8> {
    match kind {
        "auth" => Some(1),
        "database" => Some(2),
        "secret" => Some(3),
        _ => None,
    }
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca plugin list [options] [TYPE]\n\n  Lists available plugins registered in the catalog.";
    let (p, format, client) = or_exit!(setup(
        ctx,
        &[HTTP, &[FORMAT, flag("detailed", Kind::Bool, "false")]],
        args,
        help,
    ));
    if !check_range(ctx, &p.args, 0, 1) {
        return 1;
    }
    let kind = p.args.first().cloned();
    if let Some(k) = &kind
        && type_number(k).is_none()
    {
        ctx.err(&format!(
            "Error parsing type: {k:?} is not a supported plugin type"
        ));
        return 2;
    }
    let body = match ctx.block_on(client.checked(Method::GET, "sys/plugins/catalog", &[], None)) {
        Ok(r) => r.body.unwrap_or(Value::Null),
        Err(e) => {
            ctx.err(&format!("Error listing available plugins: {e}"));
            return 2;
        }
    };
    let data = body.get("data").cloned().unwrap_or(Value::Null);
    let details: Vec<Value> = data
        .get("detailed")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if format != Format::Table && format != Format::Raw {
        let mut out = Map::new();
        if let Value::Object(m) = &data {
            for (k, v) in m {
                if k != "detailed" && (kind.is_none() || kind.as_deref() == Some(k.as_str())) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        let ordered: Vec<Value> = details
            .iter()
            .map(|d| {
                let pick = |k: &str| d.get(k).cloned().unwrap_or(Value::Null);
                serde_json::to_value(Detail {
                    kind: pick("type"),
                    name: pick("name"),
                    version: pick("version"),
                    builtin: pick("builtin"),
                    deprecation_status: pick("deprecation_status"),
                })
                .unwrap_or(Value::Null)
            })
            .collect();
        let mut sorted = match crate::output::sorted(&Value::Object(out)) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        sorted.insert("details".into(), Value::Array(ordered));
        let text = match format {
            Format::Yaml => crate::output::yaml_text(&Value::Object(sorted)),
            _ => crate::output::json_text(&ListOutput(&sorted)),
        };
        ctx.out(&text);
        return 0;
    }
    let s = |v: &Value, k: &str| v.get(k).map(go_value).unwrap_or_default();
    let chosen = details
        .iter()
        .filter(|d| kind.is_none() || d.get("type").and_then(Value::as_str) == kind.as_deref());
    let text = if p.bool("detailed") {
        let rows = chosen
            .map(|d| {
                vec![
                    s(d, "name"),
                    s(d, "type"),
                    s(d, "version"),
                    s(d, "deprecation_status"),
                ]
            })
            .collect();
        header_table(&["Name", "Type", "Version", "Deprecation Status"], rows)
    } else if kind.is_some() {
        let rows = chosen
            .map(|d| vec![s(d, "name"), s(d, "version")])
            .collect();
        header_table(&["Name", "Version"], rows)
    } else {
        let rows = chosen
            .map(|d| vec![s(d, "name"), s(d, "type"), s(d, "version")])
            .collect();
        header_table(&["Name", "Type", "Version"], rows)
    };
    ctx.out(&text);
    0
}

fn info(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca plugin info [options] TYPE NAME\n\n  Displays information about a plugin in the catalog.";
    let (p, format, client) = or_exit!(setup(
        ctx,
        &[HTTP, &[FORMAT, FIELD, flag("version", Kind::Str, "")]],
        args,
        help,
    ));
    if !check_range(ctx, &p.args, 1, 2) {
        return 1;
    }
    let (path, name) = if p.args.len() == 2 {
        let (kind, name) = (&p.args[0], &p.args[1]);
        if type_number(kind).is_none() {
            ctx.err(&format!("{kind:?} is not a supported plugin type"));
            return 2;
        }
        (format!("sys/plugins/catalog/{kind}/{name}"), name.clone())
    } else {
        (
            format!("sys/plugins/catalog/{}", p.args[0]),
            p.args[0].clone(),
        )
    };
    let version = p.str("version");
    let query: Vec<(&str, &str)> = if version.is_empty() {
        vec![]
    } else {
        vec![("version", version.as_str())]
    };
    let resp = ctx.block_on(client.checked(Method::GET, &path, &query, None));
    let data = match resp {
        Ok(r) => r
            .body
            .and_then(|b| b.get("data").cloned())
            .filter(|d| !d.is_null()),
        Err(e) if p.args.len() == 1 && e.status() == Some(404) => None,
        Err(e) => {
            ctx.err(&format!("Error reading plugin named {name}: {e}"));
            return 2;
        }
    };
    let Some(d) = data else {
        ctx.err(&format!("No value found for plugin {name:?}"));
        return 2;
    };
    let mut out = Map::new();
    for key in [
        "args",
        "builtin",
        "command",
        "deprecation_status",
        "name",
        "sha256",
        "version",
    ] {
        let v = d.get(key).cloned().unwrap_or(match key {
            "builtin" => json!(false),
            "args" => Value::Null,
            _ => json!(""),
        });
        out.insert(key.to_string(), v);
    }
    let field = p.str("field");
    let table = matches!(format, Format::Table | Format::Raw);
    if table && out.get("args").is_some_and(Value::is_null) {
        out.insert("args".into(), json!([]));
    }
    if !field.is_empty() {
        return match out.get(&field) {
            Some(v) => {
                let v = v.clone();
                ctx.print_value(format, &v)
            }
            None => {
                ctx.err(&format!("Field {field:?} not present in secret"));
                1
            }
        };
    }
    if table {
        let t = crate::output::kv_table(crate::output::data_rows(&out));
        ctx.out(&t);
        return 0;
    }
    ctx.output_data(format, &Value::Object(out))
}

fn register(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca plugin register [options] TYPE NAME\n\n  Registers a new plugin in the catalog.";
    let specs: &[Spec] = &[
        flag("sha256", Kind::Str, ""),
        flag("command", Kind::Str, ""),
        flag("args", Kind::List, ""),
        flag("env", Kind::List, ""),
        flag("version", Kind::Str, ""),
        flag("oci", Kind::Bool, "false"),
    ];
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, specs], args, help));
    if p.args.is_empty() || p.args.len() > 2 {
        let what = if p.args.is_empty() {
            "Not enough"
        } else {
            "Too many"
        };
        ctx.err(&format!(
            "{what} arguments (expected 1 or 2, got {})",
            p.args.len()
        ));
        return 1;
    }
    let sha = p.str("sha256");
    if sha.is_empty() {
        ctx.err("SHA256 is required for all plugins, please provide -sha256");
        return 1;
    }
    let (kind, name) = if p.args.len() == 2 {
        (Some(p.args[0].clone()), p.args[1].clone())
    } else {
        (None, p.args[0].clone())
    };
    let number = match &kind {
        Some(k) => match type_number(k) {
            Some(n) => n,
            None => {
                ctx.err(&format!("{k:?} is not a supported plugin type"));
                return 2;
            }
        },
        None => 0,
    };
    let command = match p.str("command") {
        c if c.is_empty() => name.clone(),
        c => c,
    };
    let mut body = Map::new();
    body.insert("type".into(), json!(number));
    body.insert("command".into(), json!(command));
    let plugin_args = slice_flag(&p, "args");
    if !plugin_args.is_empty() {
        body.insert("args".into(), json!(plugin_args));
    }
    body.insert("sha256".into(), json!(sha));
    let version = p.str("version");
    if !version.is_empty() {
        body.insert("version".into(), json!(version));
    }
    let env = slice_flag(&p, "env");
    if !env.is_empty() {
        body.insert("env".into(), json!(env));
    }
    let path = match &kind {
        Some(k) => format!("sys/plugins/catalog/{k}/{name}"),
        None => format!("sys/plugins/catalog/{name}"),
    };
    match ctx.block_on(client.write(&path, Some(Value::Object(body)))) {
        Ok(_) => {
            ctx.out(&format!("Success! Registered plugin: {name}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error registering plugin {name}: {e}"));
            2
        }
    }
}

fn deregister(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca plugin deregister [options] TYPE NAME\n\n  Deregister an existing plugin in the catalog.";
    let (p, _format, client) = or_exit!(setup(
        ctx,
        &[HTTP, &[flag("version", Kind::Str, "")]],
        args,
        help
    ));
    if p.args.is_empty() || p.args.len() > 2 {
        let what = if p.args.is_empty() {
            "Not enough"
        } else {
            "Too many"
        };
        ctx.err(&format!(
            "{what} arguments (expected 1 or 2, got {})",
            p.args.len()
        ));
        return 1;
    }
    let name = p.args[p.args.len() - 1].clone();
    let path = if p.args.len() == 2 {
        let kind = &p.args[0];
        if type_number(kind).is_none() {
            ctx.err(&format!("{kind:?} is not a supported plugin type"));
            return 2;
        }
        format!("sys/plugins/catalog/{kind}/{name}")
    } else {
        format!("sys/plugins/catalog/{name}")
    };
    let version = p.str("version");
    let query: Vec<(&str, &str)> = if version.is_empty() {
        vec![]
    } else {
        vec![("version", version.as_str())]
    };
    match ctx.block_on(client.checked(Method::DELETE, &path, &query, None)) {
        Ok(_) => {
            ctx.out(&format!(
                "Success! Deregistered plugin (if it was registered): {name}"
            ));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error deregistering plugin named {name}: {e}"));
            2
        }
    }
}

fn reload(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca plugin reload [options]\n\n  Reloads mounted plugins.";
    let specs: &[Spec] = &[
        flag("plugin", Kind::Str, ""),
        flag("mounts", Kind::List, ""),
        flag("scope", Kind::Str, ""),
    ];
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, specs], args, help));
    let plugin = p.str("plugin");
    let mounts = slice_flag(&p, "mounts");
    let scope = p.str("scope");
    if plugin.is_empty() && mounts.is_empty() {
        ctx.err("Not enough arguments (expected 1, got 0)");
        return 1;
    }
    if !plugin.is_empty() && !mounts.is_empty() {
        ctx.err("Too many arguments (expected 1, got 2)");
        return 1;
    }
    if !scope.is_empty() && scope != "global" {
        ctx.err(&format!("Invalid reload scope: {scope}"));
        return 1;
    }
    let mounts_json = if mounts.is_empty() {
        Value::Null
    } else {
        json!(mounts)
    };
    let body = json!({ "plugin": plugin, "mounts": mounts_json, "scope": scope });
    let reload_id = match ctx.block_on(client.write("sys/plugins/reload/backend", Some(body))) {
        Ok(s) => s
            .and_then(|s| s.data)
            .and_then(|d| {
                d.get("reload_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .filter(|_| scope == "global")
            .unwrap_or_default(),
        Err(e) => {
            ctx.err(&format!("Error reloading plugin/mounts: {e}"));
            return 2;
        }
    };
    let msg = match (mounts.is_empty(), reload_id.is_empty()) {
        (false, true) => format!("Success! Reloaded mounts: [{}]", mounts.join(" ")),
        (false, false) => format!(
            "Success! Reloading mounts: [{}], reload_id: {reload_id}",
            mounts.join(" ")
        ),
        (true, true) => format!("Success! Reloaded plugin: {plugin}"),
        (true, false) => format!("Success! Reloading plugin: {plugin}, reload_id: {reload_id}"),
    };
    ctx.out(&msg);
    0
}

fn reload_status(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca plugin reload-status RELOAD_ID\n\n  Retrieves the status of a recent cluster plugin reload.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let id = p.args[0].clone();
    let resp = ctx.block_on(client.checked(
        Method::GET,
        "sys/plugins/reload/backend/status",
        &[("reload_id", id.as_str())],
        None,
    ));
    let data = match resp {
        Ok(r) => r
            .body
            .and_then(|b| b.get("data").cloned())
            .unwrap_or(Value::Null),
        Err(e) => {
            ctx.err(&format!("Error retrieving plugin reload status: {e}"));
            return 2;
        }
    };
    if format != Format::Table {
        return ctx.output_data(format, &data);
    }
    let mut rows = Vec::new();
    if let Some(Value::Object(results)) = data.get("results") {
        for (node, r) in results {
            let err = r.get("error").and_then(Value::as_str).unwrap_or_default();
            let time = r
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default();
            rows.push(vec![
                time,
                node.clone(),
                err.is_empty().to_string(),
                err.to_string(),
            ]);
        }
    }
    let t = header_table(&["Time", "Participant", "Success", "Message"], rows);
    ctx.out(&t);
    0
}
