//! The start the `operator raft`, `operator members` and `operator step-down` commands share,
//! in `bao`'s order: the global output format (read from the whole command line, refused when
//! unknown), the flags (help, errors, the warning about flags after arguments), the refusal of
//! `-format=raw`, then the client.

use arca_api::Client;

use super::{parse, trailing_flag_warning};
use crate::ctx::Ctx;
use crate::flags::{Parsed, Spec};
use crate::output::Format;

/// An output format `bao` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CliFormat {
    /// Columns (the default).
    Table,
    /// Indented JSON.
    Json,
    /// YAML (`yaml` or `yml`).
    Yaml,
    /// The multi-section text only `operator raft autopilot state` prints.
    Pretty,
    /// Raw bytes, which only `read` accepts.
    Raw,
}

impl CliFormat {
    /// The matching format of [`crate::output`] (table for the formats it has not).
    pub fn output(self) -> Format {
        match self {
            CliFormat::Json => Format::Json,
            CliFormat::Yaml => Format::Yaml,
            CliFormat::Table | CliFormat::Pretty | CliFormat::Raw => Format::Table,
        }
    }
}

/// The `-format` value as `bao`'s `main` reads it before any command runs: the last `-format`
/// anywhere on the line (`-format=X`, `--format=X`, `-format X`), up to a `--`; else
/// `BAO_FORMAT`/`VAULT_FORMAT`; lower-cased; empty means `table`.
pub fn global_format(ctx: &Ctx<'_, '_>, args: &[String]) -> String {
    let mut found: Option<String> = None;
    let mut next_is_value = false;
    for arg in args {
        if next_is_value {
            next_is_value = false;
            found = Some(arg.clone());
            continue;
        }
        if arg == "--" {
            break;
        }
        if let Some(v) = arg
            .strip_prefix("--format=")
            .or_else(|| arg.strip_prefix("-format="))
        {
            found = Some(v.to_string());
        }
        if arg == "-format" || arg == "--format" {
            next_is_value = true;
        }
    }
    let chosen = found
        .filter(|f| !f.is_empty())
        .or_else(|| ctx.env_any(&["BAO_FORMAT", "VAULT_FORMAT"]))
        .unwrap_or_default()
        .to_lowercase();
    if chosen.is_empty() {
        "table".to_string()
    } else {
        chosen
    }
}

/// [`global_format`] checked against the formats `bao` knows (`Invalid output format: X`,
/// exit 1, otherwise).
pub fn known_format(ctx: &mut Ctx<'_, '_>, args: &[String]) -> Result<CliFormat, i32> {
    let name = global_format(ctx, args);
    match name.as_str() {
        "table" => Ok(CliFormat::Table),
        "json" => Ok(CliFormat::Json),
        "yaml" | "yml" => Ok(CliFormat::Yaml),
        "pretty" => Ok(CliFormat::Pretty),
        "raw" => Ok(CliFormat::Raw),
        _ => {
            ctx.err(&format!("Invalid output format: {name}"));
            Err(1)
        }
    }
}

/// What a command starts with: its flags and the output format.
pub struct Start {
    /// The parsed flags and arguments.
    pub flags: Parsed,
    /// The output format.
    pub format: CliFormat,
}

/// Checks the format, parses the flags (warning about flags after the arguments when the
/// output is a table) and refuses `-format=raw`. `table_is_pretty` is for `autopilot state`,
/// whose default is the pretty format.
pub fn start(
    ctx: &mut Ctx<'_, '_>,
    specs: &[&[Spec]],
    args: &[String],
    help: &str,
    table_is_pretty: bool,
) -> Result<Start, i32> {
    let mut format = known_format(ctx, args)?;
    if table_is_pretty && format == CliFormat::Table {
        format = CliFormat::Pretty;
    }
    let flags = parse(ctx, specs, args, help)?;
    let shown = if format == CliFormat::Table {
        Format::Table
    } else {
        Format::Json
    };
    trailing_flag_warning(ctx, shown, &flags.args);
    if format == CliFormat::Raw {
        ctx.err("This command does not support the -format=raw option.");
        return Err(1);
    }
    Ok(Start { flags, format })
}

/// The client of the HTTP flags; a failure to build it exits 2, as in `bao`.
pub fn client(ctx: &mut Ctx<'_, '_>, flags: &Parsed) -> Result<Client, i32> {
    ctx.client(flags).map_err(|e| {
        ctx.err(&e.to_string());
        2
    })
}

/// What `bao` prints when the pretty format is asked of a command that has none (exit 1).
pub fn no_pretty(ctx: &mut Ctx<'_, '_>) -> i32 {
    ctx.err("Could not parse output: cannot use the pretty formatter for this type");
    1
}
