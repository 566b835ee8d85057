//! Shared by the integration tests: where `cargo test` put the example plugin binaries.

use std::path::PathBuf;

/// Builds example `name` with the cargo that runs the tests (same target directory, so this
/// is a no-op when `cargo test` already built it) and returns its path,
/// `target/<profile>/examples/<name>`.
pub fn example_binary(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "-q", "-p", "arca-plugin", "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build for the example");
    assert!(status.success(), "building example {name} failed");
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile> dir");
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p arca-plugin --example {name}` first \
         (a plain `cargo test -p arca-plugin` builds it)",
        path.display()
    );
    path
}
