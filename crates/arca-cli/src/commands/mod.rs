//! Command dispatch, the top-level usage text, and helpers shared by the commands.

/// The value of a step that either succeeds or has already printed its error and yields the
/// command's exit code, which the command then returns:
/// `let t = or_exit!(resolve(ctx, &client, &p));`.
macro_rules! or_exit {
    ($step:expr) => {
        match $step {
            Ok(value) => value,
            Err(code) => return code,
        }
    };
}

mod audit;
mod command_setup;
mod debug;
mod debug_capture;
mod ha;
mod hclfmt;
mod kv;
mod lease;
mod logical;
mod login;
mod login_cert;
mod login_jwt;
mod login_kubernetes;
mod monitor;
mod mounts;
mod namespace;
mod operator;
mod plugin;
mod policy;
mod raft;
mod raft_autopilot;
mod raft_snapshot;
mod status;
mod token;
mod unwrap;

use crate::ctx::Ctx;
use crate::flags::{self, FlagError, Parsed, Spec};

const COMMON: &[(&str, &str)] = &[
    ("read", "Read data and retrieves secrets"),
    ("write", "Write data, configuration, and secrets"),
    ("delete", "Delete secrets and configuration"),
    ("list", "List data or secrets"),
    ("login", "Authenticate locally"),
    ("server", "Start an Arca server"),
    ("status", "Print seal and HA status"),
    ("unwrap", "Unwrap a wrapped secret"),
];

const OTHER: &[(&str, &str)] = &[
    ("audit", "Interact with audit devices"),
    ("auth", "Interact with auth methods"),
    ("debug", "Runs the debug command"),
    ("kv", "Interact with Arca's Key-Value storage"),
    ("lease", "Interact with leases"),
    ("monitor", "Stream log messages from an Arca server"),
    ("namespace", "Interact with namespaces"),
    ("operator", "Perform operator-specific tasks"),
    ("patch", "Patch data, configuration, and secrets"),
    ("path-help", "Retrieve API help for paths"),
    ("plugin", "Interact with Arca plugins and catalog"),
    ("policy", "Interact with policies"),
    ("secrets", "Interact with secrets engines"),
    ("token", "Interact with tokens"),
    ("version", "Prints the Arca CLI version"),
];

fn usage() -> String {
    let mut s = String::from("Usage: arca <command> [args]\n\nCommon commands:\n");
    for (name, help) in COMMON {
        s.push_str(&format!("    {name:<12}{help}\n"));
    }
    s.push_str("\nOther commands:\n");
    for (name, help) in OTHER {
        s.push_str(&format!("    {name:<21}{help}\n"));
    }
    s
}

/// Run the command named by `args[0]`; returns the exit code.
pub fn dispatch(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(cmd) = args.first() else {
        ctx.err_raw(&usage());
        return 127;
    };
    let rest = &args[1..];
    match cmd.as_str() {
        "-h" | "-help" | "--help" | "help" => {
            ctx.out_raw(&usage());
            0
        }
        "version" | "-v" | "-version" | "--version" => {
            ctx.out(&format!("Arca v{}", env!("CARGO_PKG_VERSION")));
            0
        }
        "server" => {
            ctx.err(
                "The server command is run by the arca binary itself, not by the client commands.",
            );
            1
        }
        "status" => status::run(ctx, rest),
        "operator" => operator::run(ctx, rest),
        "read" => logical::read(ctx, rest),
        "write" => logical::write(ctx, rest),
        "list" => logical::list(ctx, rest),
        "delete" => logical::delete(ctx, rest),
        "patch" => logical::patch(ctx, rest),
        "path-help" => logical::path_help(ctx, rest),
        "token" => token::run(ctx, rest),
        "policy" => policy::run(ctx, rest),
        "login" => login::run(ctx, rest),
        "secrets" => mounts::secrets(ctx, rest),
        "auth" => mounts::auth(ctx, rest),
        "audit" => audit::run(ctx, rest),
        "kv" => kv::run(ctx, rest),
        "lease" => lease::run(ctx, rest),
        "namespace" => namespace::run(ctx, rest),
        "monitor" => monitor::run(ctx, rest),
        "plugin" => plugin::run(ctx, rest),
        "unwrap" => unwrap::run(ctx, rest),
        "debug" => debug::run(ctx, rest),
        _ => {
            ctx.err_raw(&usage());
            127
        }
    }
}

/// Parse a command's flags; on error prints what Go would and gives the exit code.
pub fn parse(
    ctx: &mut Ctx<'_, '_>,
    specs: &[&[Spec]],
    args: &[String],
    help: &str,
) -> Result<Parsed, i32> {
    let all: Vec<Spec> = specs.iter().flat_map(|s| s.iter().copied()).collect();
    match flags::parse(&all, args) {
        Ok(p) => Ok(p),
        Err(FlagError::Help) => {
            ctx.out(help);
            Err(0)
        }
        Err(e) => {
            ctx.err(&e.to_string());
            Err(1)
        }
    }
}

/// Check the positional argument count as Vault's commands do (exit 1 on mismatch).
pub fn check_args(ctx: &mut Ctx<'_, '_>, args: &[String], min: usize, max: usize) -> bool {
    if args.len() < min {
        ctx.err(&format!(
            "Not enough arguments (expected {min}, got {})",
            args.len()
        ));
        return false;
    }
    if args.len() > max {
        ctx.err(&format!(
            "Too many arguments (expected {max}, got {})",
            args.len()
        ));
        return false;
    }
    true
}

/// Print a subcommand group's usage on stderr and return 1 (unknown or missing subcommand).
pub fn group_usage(ctx: &mut Ctx<'_, '_>, usage: &str) -> i32 {
    ctx.err(usage);
    1
}

/// Warns on stderr, as `bao` does for table output, about arguments after the first positional
/// one that look like flags (they are not parsed as flags). `-format`, `-detailed` and the
/// curl/policy output flags are left out: `bao` reads those anywhere on the line.
pub fn trailing_flag_warning(
    ctx: &mut Ctx<'_, '_>,
    format: crate::output::Format,
    args: &[String],
) {
    const GLOBAL: &[&str] = &["output-curl-string", "output-policy", "format", "detailed"];
    let trailing: Vec<&str> = args
        .iter()
        .filter(|arg| arg.starts_with('-') && arg.as_str() != "-")
        .filter(|arg| {
            let name = arg.trim_start_matches('-');
            let name = name.split_once('=').map_or(name, |(n, _)| n);
            !GLOBAL.contains(&name)
        })
        .map(String::as_str)
        .collect();
    if !trailing.is_empty() && format == crate::output::Format::Table {
        ctx.err(&format!(
            "Command flags must be provided before positional arguments. The following arguments will not be parsed as flags: [{}]",
            trailing.join(",")
        ));
    }
}

/// Print a flag-value error as Go's `flag` package does and give exit code 1.
pub fn flag_error(ctx: &mut Ctx<'_, '_>, e: &FlagError) -> i32 {
    ctx.err(&e.to_string());
    1
}

/// Print the "Not enough / Too many arguments" error when `args` is not within
/// `min..=max`, with Vault's `expected N` / `expected N-M` wording; `true` when it fits.
pub fn check_range(ctx: &mut Ctx<'_, '_>, args: &[String], min: usize, max: usize) -> bool {
    let expected = if min == max {
        min.to_string()
    } else {
        format!("{min}-{max}")
    };
    if args.len() < min {
        ctx.err(&format!(
            "Not enough arguments (expected {expected}, got {})",
            args.len()
        ));
        return false;
    }
    if args.len() > max {
        ctx.err(&format!(
            "Too many arguments (expected {expected}, got {})",
            args.len()
        ));
        return false;
    }
    true
}
