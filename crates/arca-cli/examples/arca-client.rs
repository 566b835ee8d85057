//! Runs the client commands as a standalone program, for comparing with `bao` by hand.

fn main() {
    std::process::exit(arca_cli::run(std::env::args_os().collect()));
}
