//! `policy`: write, read, list, delete and fmt.

use serde_json::{Value, json};

use super::logical::setup;
use super::{check_range, group_usage, parse};
use crate::ctx::Ctx;
use crate::flags::{FORMAT, HTTP};
use crate::output::Format;

const USAGE: &str = "Usage: arca policy <subcommand> [options] [args]\n\n  This command groups subcommands for interacting with policies.\n  Users can write, read, and list policies in Vault.\n\n  List all enabled policies:\n\n      $ arca policy list\n\n  Create a policy named \"my-policy\" from contents on local disk:\n\n      $ arca policy write my-policy ./my-policy.hcl\n\n  Delete the policy named my-policy:\n\n      $ arca policy delete my-policy\n\n  Please see the individual subcommand help for detailed usage information.\n\nSubcommands:\n    delete    Deletes a policy by name\n    fmt       Formats a policy on disk\n    list      Lists the installed policies\n    read      Prints the contents of a policy\n    write     Uploads a named policy from a file";

/// `arca policy ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "write" => write(ctx, rest),
        "read" => read(ctx, rest),
        "list" => list(ctx, rest),
        "delete" => delete(ctx, rest),
        "fmt" => fmt(ctx, rest),
        "-h" | "-help" | "--help" => {
            ctx.out(USAGE);
            0
        }
        _ => group_usage(ctx, USAGE),
    }
}

fn policy_path(name: &str) -> String {
    format!("sys/policies/acl/{}", name.trim().to_lowercase())
}

fn write(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca policy write [options] NAME PATH\n\n  Uploads a policy with name NAME from the contents of a local file PATH or\n  stdin.";
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP], args, help));
    if !check_range(ctx, &p.args, 2, 2) {
        return 1;
    }
    let name = p.args[0].trim().to_lowercase();
    let file = &p.args[1];
    let text = if file == "-" {
        match ctx.read_stdin() {
            Ok(t) => t,
            Err(e) => {
                ctx.err(&format!("Failed to read policy from stdin: {e}"));
                return 2;
            }
        }
    } else {
        match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                ctx.err(&format!(
                    "Error opening policy file: {}",
                    crate::go_io::open_error(file, &e)
                ));
                return 2;
            }
        }
    };
    let body = json!({ "policy": text });
    match ctx.block_on(client.write(&policy_path(&name), Some(body))) {
        Ok(_) => {
            ctx.out(&format!("Success! Uploaded policy: {name}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error uploading policy: {e}"));
            2
        }
    }
}

fn read(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca policy read [options] [NAME]\n\n  Prints the contents and metadata of the Vault policy named NAME.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let name = p.args[0].trim().to_lowercase();
    let rules = match ctx.block_on(client.read(&policy_path(&name))) {
        Ok(Some(s)) => s
            .data
            .as_ref()
            .and_then(|d| d.get("policy").or_else(|| d.get("rules")))
            .and_then(Value::as_str)
            .map(str::to_string),
        Ok(None) => None,
        Err(e) => {
            ctx.err(&format!("Error reading policy named {name}: {e}"));
            return 2;
        }
    };
    let Some(rules) = rules else {
        ctx.err(&format!("No policy named: {name}"));
        return 2;
    };
    match format {
        Format::Table | Format::Raw => {
            ctx.out(rules.trim());
            0
        }
        _ => ctx.output_data(format, &json!({ "policy": rules })),
    }
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca policy list [options]\n\n  Lists the names of the policies that are installed on the Vault server.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT]], args, help));
    if !check_range(ctx, &p.args, 0, 0) {
        return 1;
    }
    let keys = match ctx.block_on(client.list("sys/policies/acl")) {
        Ok(s) => s
            .as_ref()
            .and_then(super::logical::list_keys)
            .unwrap_or_default(),
        Err(e) => {
            ctx.err(&format!("Error listing policies: {e}"));
            return 2;
        }
    };
    match format {
        Format::Table | Format::Raw => {
            for k in &keys {
                let line = crate::output::go_value(k);
                ctx.out(&line);
            }
            0
        }
        _ => ctx.output_data(format, &Value::Array(keys)),
    }
}

fn delete(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca policy delete [options] NAME\n\n  Deletes the policy named NAME in the Vault server.";
    let (p, _format, client) = or_exit!(setup(ctx, &[HTTP], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let name = p.args[0].trim().to_lowercase();
    match ctx.block_on(client.delete(&policy_path(&name))) {
        Ok(_) => {
            ctx.out(&format!("Success! Deleted policy: {name}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error deleting {name}: {e}"));
            2
        }
    }
}

fn fmt(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca policy fmt [options] PATH\n\n  Formats a local policy file to the policy specification.";
    let p = or_exit!(parse(ctx, &[], args, help));
    if !check_range(ctx, &p.args, 1, 1) {
        return 1;
    }
    let file = &p.args[0];
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            ctx.err(&format!(
                "Error reading source file: {}",
                crate::go_io::open_error(file, &e)
            ));
            return 1;
        }
    };
    let formatted = match super::hclfmt::format(&text) {
        Ok(f) => f,
        Err(e) => {
            ctx.err(&format!("failed to parse policy: {e}"));
            return 1;
        }
    };
    if let Err(e) = std::fs::write(file, formatted) {
        ctx.err(&format!("Error writing result: {e}"));
        return 1;
    }
    ctx.out(&format!("Success! Formatted policy: {file}"));
    0
}
