//! `arca-cli`: the Vault/OpenBao-compatible client commands of the `arca` binary.
//!
//! [`run`] is what `arca`'s `main()` calls for every subcommand except `server`;
//! [`run_with`] is the same with explicit streams and environment, for tests.
//! Flags follow Go's `flag` package (see [`flags`]); output follows Vault's formatters
//! (see [`output`]).

mod commands;
mod ctx;
mod debug_bundle;
mod duration;
pub mod flags;
mod go_io;
pub mod output;
mod raw_http;
mod snapshot_archive;
mod stream_lines;
mod yaml;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};

pub use ctx::SecretPrompt;

/// The streams, environment and terminal facts a command runs with.
pub struct Io<'a> {
    /// Standard input (JSON for `write -`, keys when prompting from a reader).
    pub stdin: &'a mut dyn BufRead,
    /// Standard output.
    pub stdout: &'a mut dyn Write,
    /// Standard error.
    pub stderr: &'a mut dyn Write,
    /// Environment variables (`VAULT_ADDR`, `VAULT_TOKEN`, `HOME`, ...).
    pub env: BTreeMap<String, String>,
    /// How to ask for a secret (unseal key) that was not given as an argument.
    pub prompt: SecretPrompt,
    /// Whether stdout is a terminal (raw `-field` values then end with a newline).
    pub stdout_is_terminal: bool,
}

/// Run the CLI with the process's streams and environment; returns the exit code.
///
/// `args` is the full argument vector, program name first.
pub fn run(args: Vec<OsString>) -> i32 {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    let mut stdin = stdin.lock();
    let mut stdout = std::io::stdout();
    let stdout_is_terminal = stdout.is_terminal();
    let mut stderr = std::io::stderr();
    let mut io = Io {
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        env: std::env::vars().collect(),
        prompt: if interactive {
            SecretPrompt::Terminal
        } else {
            SecretPrompt::NotATerminal
        },
        stdout_is_terminal,
    };
    let code = run_with(args, &mut io);
    let _ = io.stdout.flush();
    code
}

/// Run the CLI against the given streams and environment; returns the exit code.
///
/// `args` is the full argument vector, program name first.
pub fn run_with(args: Vec<OsString>, io: &mut Io<'_>) -> i32 {
    let args: Vec<String> = args
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(io.stderr, "Error starting the async runtime: {e}");
            return 1;
        }
    };
    let mut ctx = ctx::Ctx::new(io, rt);
    commands::dispatch(&mut ctx, &args)
}
