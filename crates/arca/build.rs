//! Lays out the release `arca` binary's code so that what start-up and the common requests run
//! sits together: on x86_64 GNU/Linux, where rustc links with LLD (by default since 1.90, the
//! workspace's `rust-version`; GNU ld would not know the option), release builds pass
//! `link-order.txt` (written by `scripts/link-order.sh` from a callgrind profile) to the linker
//! as its symbol ordering file.
//!
//! The kernel maps an executable's pages 64 KiB at a time around each page a process touches,
//! so code that runs scattered across a 30 MiB `.text` made most of it resident: 14 MiB of an
//! idle dev server's 23 MiB RSS. Packed together, the same code is about 3.5 MiB.
//! A name the file lists that the build no longer has is skipped, so a stale file only costs
//! memory, never a failed build. ThinLTO renames the local functions it promotes
//! (`.llvm.<hash>`) whenever their module changes, so rerun `scripts/link-order.sh` after
//! changes to start-up or the request path. `ARCA_NO_LINK_ORDER=1` builds without it, and so
//! does a build that chooses its own linker (`target.<triple>.linker`, `-fuse-ld`), which may not be LLD.

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=ARCA_NO_LINK_ORDER");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let release = var("PROFILE") == "release";
    let lld_target = var("TARGET") == "x86_64-unknown-linux-gnu";
    let rustflags = var("CARGO_ENCODED_RUSTFLAGS");
    let own_linker = env::var_os("RUSTC_LINKER").is_some()
        || rustflags.contains("fuse-ld")
        || rustflags.contains("linker");
    if !release || !lld_target || own_linker || env::var_os("ARCA_NO_LINK_ORDER").is_some() {
        return;
    }
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join("link-order.txt");
    if !order.is_file() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
