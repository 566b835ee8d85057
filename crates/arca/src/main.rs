//! `arca`: the server (`arca server`) and every client command in one binary.

mod cluster;
mod dev_plugins;
mod http_options;
mod introspection;
mod log_monitor;
mod logging;
mod raft;
mod server;
mod transit_seal;

use std::process::ExitCode;

/// mimalloc instead of the system allocator: a request makes and frees a few hundred small
/// allocations (strings, JSON maps, boxed futures), and glibc's malloc/free was about a fifth
/// of a KV request's instructions (`bench/results/callgrind.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = if args.get(1).is_some_and(|a| a == "server") {
        server::main(args.into_iter().skip(2).collect())
    } else {
        arca_cli::run(args)
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
