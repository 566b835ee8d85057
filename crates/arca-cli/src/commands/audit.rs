//! `audit`: enable, disable and list audit devices, with `bao audit`'s flags, texts and exit
//! codes.

use std::collections::BTreeMap;

use arca_api::audit::{AuditOutput, EnableAudit};
use serde_json::Value;

use super::logical::{parse_kv_args, setup};
use super::{check_range, group_usage, trailing_flag_warning};
use crate::ctx::Ctx;
use crate::flags::{FORMAT, HTTP, Kind, Spec, flag};
use crate::output::{Format, header_table};

const USAGE: &str = "Usage: arca audit <subcommand> [options] [args]

  This command groups subcommands for interacting with Arca's audit devices.
  Users can list, enable, and disable audit devices.

  *NOTE*: Once an audit device has been enabled, failure to audit could prevent
  Arca from servicing future requests. It is highly recommended that you enable
  multiple audit devices.

  List all enabled audit devices:

      $ arca audit list

  Enable a new audit device \"file\":

      $ arca audit enable file file_path=/var/log/audit.log

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    disable    Disables an audit device
    enable     Enables an audit device
    list       Lists enabled audit devices";

const ENABLE_HELP: &str = "Usage: arca audit enable [options] TYPE [CONFIG K=V...]

  Enables an audit device of TYPE (file, socket or syslog) at a path. The
  device's options follow the type as key=value pairs, as for \"arca write\".

      $ arca audit enable file file_path=/var/log/audit.log

Command Options:

  -description=<string>
      Human-friendly description for the purpose of this audit device.

  -local
      Mark the audit device as a local-only device. The default is false.

  -path=<string>
      Where the audit device is enabled; unique across audit devices. The
      default is the TYPE.";

const DISABLE_HELP: &str = "Usage: arca audit disable [options] PATH

  Disables the audit device at PATH: nothing more is logged to it. What it
  has logged is left as it is. PATH is where the device was enabled, not its
  TYPE.

      $ arca audit disable file/";

const LIST_HELP: &str = "Usage: arca audit list [options]

  Lists the enabled audit devices, and with -detailed their replication and
  options.

      $ arca audit list -detailed

Command Options:

  -detailed
      Also print each device's replication and options. The default is false.";

const ENABLE: &[Spec] = &[
    flag("description", Kind::Str, ""),
    flag("path", Kind::Str, ""),
    flag("local", Kind::Bool, "false"),
];

/// `arca audit ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "enable" => enable(ctx, rest),
        "disable" => disable(ctx, rest),
        "list" => list(ctx, rest),
        "-h" | "-help" | "--help" => {
            ctx.out(USAGE);
            0
        }
        _ => group_usage(ctx, USAGE),
    }
}

/// `s` with at least one trailing slash (Go's `ensureTrailingSlash`; empty stays empty).
fn with_trailing_slash(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() || s.ends_with('/') {
        s.to_owned()
    } else {
        format!("{s}/")
    }
}

fn enable(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, ENABLE], args, ENABLE_HELP));
    trailing_flag_warning(ctx, format, &p.args);
    let Some(kind) = p.args.first() else {
        ctx.err(
            "Error enabling audit device: audit type missing. Valid types include 'file', 'socket' and 'syslog'.",
        );
        return 1;
    };
    let kind = kind.trim().to_owned();
    let path = match p.str("path") {
        s if s.is_empty() => with_trailing_slash(&kind),
        s => with_trailing_slash(&s),
    };
    let options = match parse_kv_args(ctx, &p.args[1..]).and_then(string_options) {
        Ok(options) => options,
        Err(e) => {
            ctx.err(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let device = EnableAudit {
        kind: kind.clone(),
        description: p.str("description"),
        options,
        local: p.bool("local"),
    };
    match ctx.block_on(client.enable_audit(&path, &device)) {
        Ok(()) => {
            ctx.out(&format!(
                "Success! Enabled the {kind} audit device at: {path}"
            ));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error enabling audit device: {e}"));
            2
        }
    }
}

/// K=V data as the string map the API takes, converting as Go's weak decoding does (numbers
/// and booleans to their text, a repeated key's list refused).
fn string_options(
    data: serde_json::Map<String, Value>,
) -> Result<BTreeMap<String, String>, String> {
    data.into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s,
                Value::Bool(b) => if b { "1" } else { "0" }.to_owned(),
                Value::Number(n) => n.to_string(),
                Value::Null => String::new(),
                other => {
                    return Err(format!(
                        "failed to convert values to strings: decoding failed due to the following error(s):\n\n'[{key}]' expected type 'string', got unconvertible type '{}'",
                        go_type(&other)
                    ));
                }
            };
            Ok((key, text))
        })
        .collect()
}

/// The Go type name a decoded JSON value has, for conversion errors.
fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
        _ => "interface {}",
    }
}

fn disable(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP], args, DISABLE_HELP));
    trailing_flag_warning(ctx, format, &p.args);
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let path = with_trailing_slash(p.args[0].trim().trim_matches('/'));
    match ctx.block_on(client.disable_audit(&path)) {
        Ok(()) => {
            ctx.out(&format!(
                "Success! Disabled audit device (if it was enabled) at: {path}"
            ));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error disabling audit device: {e}"));
            2
        }
    }
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let (p, format, client) = or_exit!(setup(
        ctx,
        &[HTTP, &[FORMAT, flag("detailed", Kind::Bool, "false")]],
        args,
        LIST_HELP,
    ));
    trailing_flag_warning(ctx, format, &p.args);
    if format == Format::Raw {
        ctx.err("This command does not support the -format=raw option.");
        return 1;
    }
    if !check_range(ctx, &p.args, 0, 0) {
        return 1;
    }
    let devices = match ctx.block_on(client.list_audit()) {
        Ok(devices) => devices,
        Err(e) => {
            ctx.err(&format!("Error listing audits: {e}"));
            return 2;
        }
    };
    if format != Format::Table {
        return ctx.output_struct(format, &devices);
    }
    if devices.is_empty() {
        ctx.out("No audit devices are enabled.");
        return 2;
    }
    let table = if p.bool("detailed") {
        detailed_table(&devices)
    } else {
        simple_table(&devices)
    };
    ctx.out(&table);
    0
}

/// Path, type and description of each device, by path.
fn simple_table(devices: &BTreeMap<String, AuditOutput>) -> String {
    let rows = devices
        .values()
        .map(|d| vec![d.path.clone(), d.kind.clone(), d.description.clone()])
        .collect();
    header_table(&["Path", "Type", "Description"], rows)
}

/// [`simple_table`] with replication and the options (`k=v`, space-separated, sorted).
fn detailed_table(devices: &BTreeMap<String, AuditOutput>) -> String {
    let rows = devices
        .iter()
        .map(|(path, d)| {
            let options: Vec<String> = d.options.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let replication = if d.local { "local" } else { "replicated" };
            vec![
                path.clone(),
                d.kind.clone(),
                d.description.clone(),
                replication.to_owned(),
                options.join(" "),
            ]
        })
        .collect();
    header_table(
        &["Path", "Type", "Description", "Replication", "Options"],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slash_is_added_once() {
        assert_eq!(with_trailing_slash("file"), "file/");
        assert_eq!(with_trailing_slash(" f2/ "), "f2/");
        assert_eq!(with_trailing_slash(""), "");
    }

    #[test]
    fn options_become_strings() {
        let data = serde_json::json!({"a": "x", "n": 5, "b": true, "f": false});
        let Value::Object(map) = data else {
            unreachable!()
        };
        let got = string_options(map).unwrap();
        let want: BTreeMap<String, String> = [("a", "x"), ("b", "1"), ("f", "0"), ("n", "5")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(got, want);
        let Value::Object(map) = serde_json::json!({"l": ["a", "b"]}) else {
            unreachable!()
        };
        assert_eq!(
            string_options(map).unwrap_err(),
            "failed to convert values to strings: decoding failed due to the following error(s):\n\n'[l]' expected type 'string', got unconvertible type '[]interface {}'"
        );
    }
}
