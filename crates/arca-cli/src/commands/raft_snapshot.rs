//! `operator raft snapshot`: `save` writes the cluster's snapshot to a file, `restore`
//! installs one. Both move raw bytes, not JSON.

use std::io::Write;

use reqwest::Method;

use super::command_setup::{client, start};
use super::group_usage;
use crate::ctx::Ctx;
use crate::flags::{FORMAT, HTTP, Kind, Parsed, flag};
use crate::raw_http::{RawHttp, transport_error};
use crate::snapshot_archive;

const USAGE: &str = "Usage: arca operator raft snapshot <subcommand> [options] [args]

  This command groups subcommands for operators interacting with the snapshot
  functionality of the integrated Raft storage backend. Here are a few examples of
  the Raft snapshot operator commands:

  Installs the provided snapshot, returning the cluster to the state defined in it:

      $ arca operator raft snapshot restore raft.snap

  Saves a snapshot of the current state of the Raft cluster into a file:

      $ arca operator raft snapshot save raft.snap

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    restore    Installs the provided snapshot, returning the cluster to the state defined in it
    save       Saves a snapshot of the current state of the Raft cluster into a file";

/// `arca operator raft snapshot ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "save" => save(ctx, rest),
        "restore" => restore(ctx, rest),
        "-h" | "-help" | "--help" => {
            ctx.out(USAGE);
            0
        }
        _ => group_usage(ctx, USAGE),
    }
}

/// The one file argument, trimmed; `missing` is the error for an empty one (exit 1).
fn file_arg(ctx: &mut Ctx<'_, '_>, p: &Parsed, missing: &str) -> Result<String, i32> {
    let path = match p.args.as_slice() {
        [one] => one.trim().to_string(),
        other => {
            ctx.err(&format!(
                "Incorrect arguments (expected 1, got {})",
                other.len()
            ));
            return Err(1);
        }
    };
    if path.is_empty() {
        ctx.err(missing);
        return Err(1);
    }
    Ok(path)
}

/// The raw-bytes client of the HTTP flags (exit 2 when it cannot be built).
fn raw_client(ctx: &mut Ctx<'_, '_>, p: &Parsed) -> Result<RawHttp, i32> {
    let api = client(ctx, p)?;
    RawHttp::new(&api, &ctx.tls_options(p)).map_err(|e| {
        ctx.err(&e.to_string());
        2
    })
}

const SAVE_HELP: &str = "Usage: arca operator raft snapshot save <snapshot_file>

  Saves a snapshot of the current state of the Raft cluster into a file.

      $ arca operator raft snapshot save raft.snap";

fn save(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(ctx, &[HTTP, &[FORMAT]], args, SAVE_HELP, false));
    let path = or_exit!(file_arg(ctx, &s.flags, "Output file name is required"));
    let http = or_exit!(raw_client(ctx, &s.flags));
    match ctx.block_on(download(&http, &path)) {
        Ok(()) => 0,
        Err(e) => {
            ctx.err(&format!("Error taking the snapshot: {e}"));
            2
        }
    }
}

/// Streams the snapshot into `path` (created only once the first bytes arrive, as `bao`
/// does) while a second thread checks that it is complete.
async fn download(http: &RawHttp, path: &str) -> Result<(), String> {
    const SNAPSHOT: &str = "sys/storage/raft/snapshot";
    let mut resp = http
        .send(Method::GET, SNAPSHOT, None)
        .await
        .map_err(|e| e.to_string())?;
    let url = resp.url().to_string();
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
    let checker = std::thread::spawn(move || {
        snapshot_archive::is_complete(snapshot_archive::ChunkReader::new(rx))
    });
    let mut file: Option<std::fs::File> = None;
    let copied = loop {
        let chunk = match resp.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break Ok(()),
            Err(e) => break Err(transport_error(&Method::GET, &url, &e).to_string()),
        };
        let out = match &mut file {
            Some(f) => f,
            None => match open_snapshot_file(path) {
                Ok(f) => file.insert(f),
                // `bao` then also closes the file it failed to open, which Go reports as
                // an `invalid argument` joined to the error.
                Err(e) => {
                    break Err(format!(
                        "{}\ninvalid argument",
                        crate::go_io::open_error(path, &e)
                    ));
                }
            },
        };
        if let Err(e) = out.write_all(&chunk) {
            break Err(format!("write {path}: {}", crate::go_io::reason(&e)));
        }
        // The checker stops reading once it has seen enough; later chunks are not needed.
        let _ = tx.send(chunk.to_vec());
    };
    drop(tx);
    let complete = checker.join().unwrap_or(false);
    drop(file);
    copied?;
    if complete {
        Ok(())
    } else {
        Err(snapshot_archive::INCOMPLETE.to_string())
    }
}

/// Creates (or truncates) the snapshot file, readable by its owner only.
fn open_snapshot_file(path: &str) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

const RESTORE_HELP: &str = "Usage: arca operator raft snapshot restore <snapshot_file>

  Installs the provided snapshot, returning the cluster to the state defined in it.

      $ arca operator raft snapshot restore raft.snap

Command Options:

  -force
      This bypasses checks ensuring the Autounseal or shamir keys are
      consistent with the snapshot data. The default is false.";

fn restore(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let force = [flag("force", Kind::Bool, "false")];
    let s = or_exit!(start(
        ctx,
        &[HTTP, &[FORMAT], &force],
        args,
        RESTORE_HELP,
        false
    ));
    let path = or_exit!(file_arg(ctx, &s.flags, "Snapshot file name is required"));
    let snapshot = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) => {
            ctx.err(&format!(
                "Error opening snapshot file: {}",
                crate::go_io::open_error(&path, &e)
            ));
            return 2;
        }
    };
    let http = or_exit!(raw_client(ctx, &s.flags));
    let target = if s.flags.bool("force") {
        "sys/storage/raft/snapshot-force"
    } else {
        "sys/storage/raft/snapshot"
    };
    match ctx.block_on(http.send(Method::POST, target, Some(snapshot))) {
        Ok(_) => 0,
        Err(e) => {
            ctx.err(&format!("Error installing the snapshot: {e}"));
            2
        }
    }
}
