//! `debug`: probes one server for a while and writes what it saw into a bundle, with
//! `bao debug`'s flags, defaults, console lines and bundle layout (see [`debug_bundle`] for
//! the files, [`super::debug_capture`] for what is captured when).
//!
//! [`debug_bundle`]: crate::debug_bundle

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;

use super::debug_capture::{Capture, HEALTH_CODES, Plan};
use super::parse;
use crate::ctx::Ctx;
use crate::debug_bundle::{self, INDEX_VERSION, Index, json_time};
use crate::duration;
use crate::flags::{FlagError, HTTP, Kind, Parsed, Spec, duration_flag, flag};
use crate::go_io;
use crate::raw_http::RawHttp;

const HELP: &str = "Usage: arca debug [options]

  Probes a specific Arca server node for a specified period of time, recording
  information about the node, its cluster, and its host environment. The
  information collected is packaged and written to the specified path.

  Certain endpoints that this command uses require ACL permissions to access.
  If not permitted, the information from these endpoints will not be part of the
  output. The command uses the Arca address and token as specified via
  the login command, environment variables, or CLI flags.

  To create a debug package using default duration and interval values in the
  current directory that captures all applicable targets:

  $ arca debug

  To create a debug package with a specific duration and interval in the current
  directory that capture all applicable targets:

  $ arca debug -duration=10m -interval=1m

  To create a debug package in the current directory with a specific sub-set of
  targets:

  $ arca debug -target=host -target=metrics

Command Options:

  -compress
      Toggles whether to compress output package The default is true.

  -duration=<duration>
      Duration to run the command. The default is 2m0s.

  -interval=<duration>
      The polling interval at which to collect profiling data and server
      state. The default is 30s.

  -log-format=<string>
      Log format to be captured if \"log\" target specified. Supported values
      are \"standard\" and \"json\". The default is \"standard\". The default is
      standard.

  -metrics-interval=<duration>
      The polling interval at which to collect metrics data. The default is
      10s.

  -output=<string>
      Specifies the output path for the debug package.

  -target=<string>
      Target to capture, defaulting to all if none specified. This can be
      specified multiple times to capture multiple targets. Available targets
      are: config, host, metrics, pprof, replication-status, server-status,
      log.";

const OPTIONS: &[Spec] = &[
    flag("compress", Kind::Bool, "true"),
    flag("duration", Kind::Str, "2m"),
    flag("interval", Kind::Str, "30s"),
    flag("log-format", Kind::Str, "standard"),
    flag("metrics-interval", Kind::Str, "10s"),
    flag("output", Kind::Str, ""),
    flag("target", Kind::List, ""),
];

/// Every target, in `bao`'s order (the default when none is given).
const TARGETS: [&str; 8] = [
    "config",
    "host",
    "requests",
    "metrics",
    "pprof",
    "replication-status",
    "server-status",
    "log",
];

/// The shortest duration and intervals accepted; shorter ones are raised to it.
const MIN_INTERVAL: Duration = Duration::from_secs(5);

/// The archive's extension when compressing.
const ARCHIVE_EXT: &str = ".tar.gz";

/// The timing flags, raised and capped as `bao` does.
struct Timing {
    duration: i128,
    interval: i128,
    metrics_interval: i128,
}

/// `arca debug`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let p = or_exit!(parse(ctx, &[HTTP, OPTIONS], args, HELP));
    // Go's flag parsing refuses a bad duration before the arguments are counted.
    let given = match given_timing(&p) {
        Ok(t) => t,
        Err(e) => {
            ctx.err(&e.to_string());
            return 1;
        }
    };
    if !p.args.is_empty() {
        ctx.err(&format!(
            "Too many arguments (expected 0, got {})",
            p.args.len()
        ));
        return 1;
    }
    let timing = timing(ctx, given);
    let targets = targets(ctx, p.list("target"));
    let compress = p.bool("compress");
    let ready = match preflight(ctx, &p, compress) {
        Ok(r) => r,
        Err(e) => {
            ctx.err(&format!("Error during validation: {e}"));
            return 1;
        }
    };
    let index = Index {
        version: INDEX_VERSION,
        vault_address: ready.client.address().to_string(),
        client_version: env!("CARGO_PKG_VERSION").to_string(),
        server_version: ready.server_version.clone(),
        timestamp: json_time(ready.started),
        duration_seconds: duration::seconds(timing.duration),
        interval_seconds: duration::seconds(timing.interval),
        metrics_interval_seconds: duration::seconds(timing.metrics_interval),
        compress,
        raw_args: args.to_vec(),
        targets: targets.clone(),
        output: Value::Null,
        errors: Vec::new(),
    };

    ctx.out("==> Starting debug capture...");
    ctx.out(&format!("          Arca Address: {}", index.vault_address));
    ctx.out(&format!("        Client Version: {}", index.client_version));
    ctx.out(&format!("        Server Version: {}", index.server_version));
    ctx.out(&format!(
        "              Duration: {}",
        duration::go_string(timing.duration)
    ));
    ctx.out(&format!(
        "              Interval: {}",
        duration::go_string(timing.interval)
    ));
    ctx.out(&format!(
        "      Metrics Interval: {}",
        duration::go_string(timing.metrics_interval)
    ));
    ctx.out(&format!("               Targets: {}", targets.join(", ")));
    ctx.out(&format!("                Output: {}", ready.bundle));

    // The log stream lasts the whole capture: its client has no time limit of its own (the
    // capture's end closes it).
    let tls = ctx.tls_options(&p);
    let clients = RawHttp::new(&ready.client, &tls)
        .and_then(|raw| Ok((raw, RawHttp::streaming(&ready.client, &tls)?)));
    let (raw, monitor) = match clients {
        Ok(clients) => clients,
        Err(e) => {
            ctx.err(&format!("Error during validation: {e}"));
            return 1;
        }
    };
    let (log_tx, mut log_rx) = tokio::sync::mpsc::unbounded_channel();
    let plan = Plan {
        duration: nanos(timing.duration),
        interval: nanos(timing.interval),
        metrics_interval: nanos(timing.metrics_interval),
        targets,
        dir: PathBuf::from(&ready.dir),
        log_format: p.str("log-format"),
    };
    let capture = Capture::new(ready.client, raw, monitor, plan, log_tx);

    ctx.out("");
    ctx.out("==> Capturing static information...");
    if let Err(e) = ctx.block_on_logging(capture.capture_static(), &mut log_rx) {
        ctx.err(&e);
    }

    ctx.out("");
    ctx.out("==> Capturing dynamic information...");
    let collections = ctx.block_on_logging(capture.capture_polling(), &mut log_rx);
    let dir = Path::new(&ready.dir);
    for (name, e) in collections.write(dir) {
        ctx.err(&format!("Error writing data to {name}: {e}"));
    }

    ctx.out("");
    ctx.out("Finished capturing information, bundling files...");
    let index = Index {
        errors: capture.take_errors(),
        ..index
    };
    if let Err(e) = debug_bundle::write_index(dir, index) {
        ctx.err(&format!("Error generating index: {e}"));
        return 1;
    }
    if compress && let Err(e) = debug_bundle::compress(dir, Path::new(&ready.bundle)) {
        ctx.err(&format!("Error encountered during bundle compression: {e}"));
        // The files are all there, in the directory, even if the archive is not.
        ctx.out(&format!("Data written to: {}", ready.dir));
        return 1;
    }
    ctx.out(&format!("Success! Bundle written to: {}", ready.bundle));
    0
}

/// A positive nanosecond count as a [`Duration`].
fn nanos(ns: i128) -> Duration {
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// The duration flags, each raised to [`MIN_INTERVAL`] and the intervals capped at the
/// duration, saying so as `bao` does.
fn timing(ctx: &mut Ctx<'_, '_>, mut t: Timing) -> Timing {
    let min = i128::try_from(MIN_INTERVAL.as_nanos()).unwrap_or(i128::MAX);
    let q = |ns: i128| format!("{:?}", duration::go_string(ns));
    for (value, label) in [
        (&mut t.duration, "duration"),
        (&mut t.interval, "interval"),
        (&mut t.metrics_interval, "metrics interval"),
    ] {
        if *value < min {
            ctx.out(&format!(
                "Overwriting {label} value {} to the minimum value of {}",
                q(*value),
                q(min)
            ));
            *value = min;
        }
    }
    let limit = t.duration;
    for (value, label) in [
        (&mut t.interval, "interval"),
        (&mut t.metrics_interval, "metrics interval"),
    ] {
        if *value > limit {
            ctx.out(&format!(
                "Overwriting {label} value {} to the duration value {}",
                q(*value),
                q(limit)
            ));
            *value = limit;
        }
    }
    t
}

/// The duration flags as given.
fn given_timing(p: &Parsed) -> Result<Timing, FlagError> {
    Ok(Timing {
        duration: duration_flag(p, "duration")?,
        interval: duration_flag(p, "interval")?,
        metrics_interval: duration_flag(p, "metrics-interval")?,
    })
}

/// The targets to capture: all when none is given; otherwise the ones given, less (with a
/// note) those that are not targets. As in `bao`, once any is dropped the rest are
/// lower-cased, trimmed, deduplicated and sorted; otherwise they stay exactly as given.
fn targets(ctx: &mut Ctx<'_, '_>, given: Vec<String>) -> Vec<String> {
    if given.is_empty() {
        return TARGETS.iter().map(|t| t.to_string()).collect();
    }
    let known: Vec<String> = TARGETS.iter().map(|t| t.to_string()).collect();
    let invalid = difference(&given, &known);
    if invalid.is_empty() {
        return given;
    }
    ctx.out(&format!("Ignoring invalid targets: {}", invalid.join(", ")));
    difference(&given, &invalid)
}

/// Go's `strutil.Difference(a, b, true)`: the items of `a` not in `b`, both trimmed,
/// lower-cased and deduplicated, sorted (and `a` only lower-cased when `b` is empty).
fn difference(a: &[String], b: &[String]) -> Vec<String> {
    if a.is_empty() {
        return Vec::new();
    }
    if b.is_empty() {
        return a.iter().map(|s| s.to_lowercase()).collect();
    }
    let set = |items: &[String]| -> std::collections::BTreeSet<String> {
        items
            .iter()
            .map(|s| s.trim().to_lowercase())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let b = set(b);
    set(a).into_iter().filter(|s| !b.contains(s)).collect()
}

/// What the checks before the capture settled.
struct Ready {
    client: arca_api::Client,
    server_version: String,
    started: chrono::DateTime<Utc>,
    /// The directory the files are written to.
    dir: String,
    /// What the command reports as written: the archive, or the directory.
    bundle: String,
}

/// Builds the client, checks the server answers `sys/health`, and creates the output
/// directory (refusing to overwrite an existing one, or an existing archive).
fn preflight(ctx: &mut Ctx<'_, '_>, p: &Parsed, compress: bool) -> Result<Ready, String> {
    let client = ctx
        .client(p)
        .map_err(|e| format!("unable to create client to connect to Arca: {e}"))?;
    let health = ctx
        .block_on(client.request_full(
            reqwest::Method::GET,
            "sys/health",
            &HEALTH_CODES,
            None,
            None,
        ))
        .map_err(|e| format!("unable to connect to the server: {e}"))?;
    let server_version = health
        .body
        .as_ref()
        .and_then(|b| b.get("version"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let started = Utc::now();
    let mut output = p.str("output");
    if output.is_empty() {
        output = format!("arca-debug-{}", debug_bundle::dir_time(started));
    }
    let mut dir = debug_bundle::clean(&output);
    let mut bundle = dir.clone();
    if compress {
        if !bundle.ends_with(".tar.gz") && !bundle.ends_with(".tgz") {
            bundle.push_str(ARCHIVE_EXT);
        }
        match std::fs::symlink_metadata(&bundle) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                dir = dir.strip_suffix(".tar.gz").unwrap_or(&dir).to_string();
                dir = dir.strip_suffix(".tgz").unwrap_or(&dir).to_string();
            }
            Err(e) => {
                return Err(format!(
                    "unable to stat file: {}",
                    go_io::path_error("stat", &bundle, &e)
                ));
            }
            Ok(_) => return Err(format!("output file already exists: {bundle}")),
        }
    }
    match std::fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            debug_bundle::create_private_dir(Path::new(&dir)).map_err(|e| {
                format!(
                    "unable to create output directory: {}",
                    go_io::path_error("mkdir", &dir, &e)
                )
            })?;
        }
        Err(e) => {
            return Err(format!(
                "unable to stat directory: {}",
                go_io::path_error("stat", &dir, &e)
            ));
        }
        Ok(_) => return Err(format!("output directory already exists: {dir}")),
    }
    Ok(Ready {
        client,
        server_version,
        started,
        dir,
        bundle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn differences_as_strutil() {
        let known = s(&TARGETS);
        assert_eq!(
            difference(&s(&["HOST", "bogus", " Zed", "", "bogus"]), &known),
            s(&["bogus", "zed"])
        );
        assert_eq!(
            difference(&s(&["HOST", "bogus", "host"]), &s(&["bogus"])),
            s(&["host"])
        );
        assert!(difference(&s(&["Host"]), &known).is_empty());
        assert_eq!(
            difference(&s(&["a,b"]), &known),
            s(&["a,b"]),
            "commas do not split targets"
        );
    }
}
