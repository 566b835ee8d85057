//! Generic path commands: `read`, `write`, `list`, `delete`, `patch`, `path-help`.

use arca_api::{Client, Secret};
use serde_json::{Map, Value};

use super::{check_args, parse};
use crate::ctx::Ctx;
use crate::flags::{FIELD, FORMAT, HTTP, Kind, Parsed, Spec, flag};
use crate::output::{Format, header_table};

/// The prologue shared by the path commands: flags, format and client.
pub fn setup(
    ctx: &mut Ctx<'_, '_>,
    specs: &[&[Spec]],
    args: &[String],
    help: &str,
) -> Result<(Parsed, Format, Client), i32> {
    let p = parse(ctx, specs, args, help)?;
    let format = ctx.format(&p).map_err(|e| {
        ctx.err(&e);
        1
    })?;
    let client = ctx.client(&p).map_err(|e| {
        ctx.err(&format!("Error initializing client: {e}"));
        1
    })?;
    Ok((p, format, client))
}

/// Turn `key=value` arguments (or a lone `-`: a JSON object on stdin) into a data map.
///
/// `key=@file` reads the value from a file, `key=-` from stdin; a repeated key gathers
/// its values into a list, as Vault's CLI does.
pub fn parse_kv_args(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Result<Map<String, Value>, String> {
    if args.len() == 1 && args[0] == "-" {
        let text = ctx.read_stdin().map_err(|e| e.to_string())?;
        return match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("stdin must hold a JSON object".to_string()),
            Err(e) => Err(e.to_string()),
        };
    }
    let mut out = Map::new();
    for arg in args {
        let Some((key, raw)) = arg.split_once('=') else {
            return Err(format!(
                "invalid key/value pair {arg:?}: format must be key=value"
            ));
        };
        let value = if let Some(file) = raw.strip_prefix('@') {
            std::fs::read_to_string(file).map_err(|e| {
                format!(
                    "invalid key/value pair {arg:?}: error reading file: {}",
                    crate::go_io::open_error(file, &e)
                )
            })?
        } else if raw == "-" {
            ctx.read_stdin().map_err(|e| e.to_string())?
        } else {
            raw.to_string()
        };
        match out.get_mut(key) {
            Some(Value::Array(list)) => list.push(Value::String(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(value)]);
            }
            None => {
                out.insert(key.to_string(), Value::String(value));
            }
        }
    }
    Ok(out)
}

/// Print a secret, or one field of it.
pub fn print_secret(ctx: &mut Ctx<'_, '_>, p: &Parsed, format: Format, secret: &Secret) -> i32 {
    let field = p.str("field");
    if !field.is_empty() {
        return ctx.output_field(format, secret, &field);
    }
    ctx.output_secret(format, secret)
}

fn path_arg(args: &[String]) -> String {
    args.first()
        .map(|s| s.trim_start_matches('/').to_string())
        .unwrap_or_default()
}

/// `arca read PATH [K=V...]`.
pub fn read(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca read [options] PATH\n\n  Reads data from the server at the given path.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD]], args, help));
    if !check_args(ctx, &p.args, 1, usize::MAX) {
        return 1;
    }
    let path = path_arg(&p.args);
    let data = match parse_kv_args(ctx, &p.args[1..]) {
        Ok(d) => d,
        Err(e) => {
            ctx.err(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let query: Vec<(String, String)> = data
        .iter()
        .map(|(k, v)| (k.clone(), crate::output::go_value(v)))
        .collect();
    let query_ref: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if format == Format::Raw {
        // As `bao read -format=raw`: the body as the server sent it.
        return match ctx.block_on(client.read_raw(&path, &query_ref)) {
            Ok(body) if body.is_empty() => {
                ctx.err(&format!("No value found at {path}"));
                2
            }
            Ok(body) => {
                ctx.out(&String::from_utf8_lossy(&body));
                0
            }
            Err(e) => {
                ctx.err(&format!("Error reading: {path}: {e}"));
                2
            }
        };
    }
    match ctx.block_on(client.read_with_query(&path, &query_ref)) {
        Ok(Some(secret)) => print_secret(ctx, &p, format, &secret),
        Ok(None) => {
            ctx.err(&format!("No value found at {path}"));
            2
        }
        Err(e) => {
            ctx.err(&format!("Error reading {path}: {e}"));
            2
        }
    }
}

fn write_like(ctx: &mut Ctx<'_, '_>, args: &[String], patch: bool) -> i32 {
    let help = if patch {
        "Usage: arca patch [options] PATH [DATA K=V...]\n\n  Patches data at the given path (JSON merge patch)."
    } else {
        "Usage: arca write [options] PATH [DATA K=V...]\n\n  Writes data to the server at the given path."
    };
    let force: &[Spec] = &[
        flag("force", Kind::Bool, "false"),
        flag("f", Kind::Bool, "false"),
    ];
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD], force], args, help));
    if !check_args(ctx, &p.args, 1, usize::MAX) {
        return 1;
    }
    let path = path_arg(&p.args);
    let data = match parse_kv_args(ctx, &p.args[1..]) {
        Ok(d) => d,
        Err(e) => {
            ctx.err(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let force = p.bool("force") || p.bool("f");
    if data.is_empty() && !force {
        ctx.err("Must supply data or use -force");
        return 1;
    }
    let body = (!data.is_empty()).then_some(Value::Object(data));
    let result = if patch {
        ctx.block_on(client.patch(&path, body.unwrap_or_else(|| Value::Object(Map::new()))))
    } else {
        ctx.block_on(client.write(&path, body))
    };
    ctx.report_write(format, &path, result, |ctx, secret| {
        print_secret(ctx, &p, format, secret)
    })
}

/// `arca write PATH K=V...`.
pub fn write(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    write_like(ctx, args, false)
}

/// `arca patch PATH K=V...`.
pub fn patch(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    write_like(ctx, args, true)
}

/// The `keys` list of a list answer.
pub fn list_keys(secret: &Secret) -> Option<Vec<Value>> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get("keys"))
        .and_then(Value::as_array)
        .cloned()
}

/// Print a list answer the way `vault list` does; returns the exit code.
pub fn output_list(
    ctx: &mut Ctx<'_, '_>,
    format: Format,
    path: &str,
    secret: Option<&Secret>,
) -> i32 {
    let keys = secret.and_then(list_keys);
    if format != Format::Table {
        return match keys {
            Some(k) => ctx.output_data(format, &Value::Array(k)),
            None => {
                ctx.output_data(format, &Value::Object(Map::new()));
                2
            }
        };
    }
    let Some(secret) = secret.filter(|s| s.data.is_some()) else {
        ctx.err(&format!("No value found at {path}"));
        return 2;
    };
    let Some(keys) = keys else {
        ctx.err(&format!("No entries found at {path}"));
        return 2;
    };
    let rows = keys
        .iter()
        .map(|k| vec![crate::output::go_value(k)])
        .collect();
    let text = header_table(&["Keys"], rows);
    ctx.out(&text);
    ctx.print_warnings(secret);
    0
}

/// `arca list PATH`.
pub fn list(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca list [options] PATH\n\n  Lists data from the server at the given path.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, help));
    if !check_args(ctx, &p.args, 1, 1) {
        return 1;
    }
    let path = path_arg(&p.args);
    match ctx.block_on(client.list(&path)) {
        Ok(secret) => output_list(ctx, format, &path, secret.as_ref()),
        Err(e) => {
            ctx.err(&format!("Error listing {path}: {e}"));
            2
        }
    }
}

/// `arca delete PATH`.
pub fn delete(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca delete [options] PATH\n\n  Deletes secrets and configuration from the server at the given path.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD]], args, help));
    if !check_args(ctx, &p.args, 1, usize::MAX) {
        return 1;
    }
    let path = path_arg(&p.args);
    match ctx.block_on(client.delete(&path)) {
        Ok(None) => {
            if format == Format::Table {
                ctx.out(&format!("Success! Data deleted (if it existed) at: {path}"));
            }
            0
        }
        Ok(Some(secret)) => print_secret(ctx, &p, format, &secret),
        Err(e) => {
            ctx.err(&format!("Error deleting {path}: {e}"));
            2
        }
    }
}

/// `arca path-help PATH`.
pub fn path_help(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca path-help [options] PATH\n\n  Retrieves API help for paths.";
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, help));
    if !check_args(ctx, &p.args, 1, 1) {
        return 1;
    }
    let path = path_arg(&p.args);
    let resp = ctx.block_on(client.checked(reqwest::Method::GET, &path, &[("help", "1")], None));
    match resp {
        Ok(raw) => {
            let text = raw
                .body
                .as_ref()
                .and_then(|b| b.get("help"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            ctx.out(&text);
            0
        }
        Err(e) => {
            ctx.err(&format!("Error retrieving help: {e}"));
            2
        }
    }
}
