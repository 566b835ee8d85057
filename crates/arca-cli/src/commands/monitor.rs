//! `arca monitor`: the server's log, streamed from `sys/monitor` until interrupted.

use reqwest::Method;

use super::command_setup::{client, start};
use crate::ctx::Ctx;
use crate::flags::{HTTP, Kind, Spec, flag};
use crate::raw_http::RawHttp;
use crate::stream_lines::LineBuffer;

const HELP: &str = "Usage: arca monitor [options]

\tStream log messages of an Arca server. The monitor command lets you listen
\tfor log levels that may be filtered out of the server logs. For example,
\tthe server may be logging at the INFO level, but with the monitor command
\tyou can set -log-level=DEBUG.

Monitor Options:

  -log-format=<string>
      Output format of logs. Supported values are \"standard\" and \"json\".
      The default is standard.

  -log-level=<string>
      If passed, the log level to monitor logs. Supported values(in order of
      detail) are \"trace\", \"debug\", \"info\", \"warn\" and \"error\". These are
      not case sensitive. The default is info.";

const MONITOR: &[Spec] = &[
    flag("log-level", Kind::Str, "info"),
    flag("log-format", Kind::Str, "standard"),
];

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error"];
const FORMATS: &[&str] = &["standard", "json"];

/// `arca monitor`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(ctx, &[HTTP, MONITOR], args, HELP, false));
    if !s.flags.args.is_empty() {
        ctx.err(&format!(
            "Too many arguments (expected 0, got {})",
            s.flags.args.len()
        ));
        return 1;
    }
    let level = s.flags.str("log-level").to_lowercase();
    if !LEVELS.contains(&level.as_str()) {
        ctx.err(&format!(
            "{level} is an unknown log level. Valid log levels are: [{}]",
            LEVELS.join(" ")
        ));
        return 1;
    }
    let format = s.flags.str("log-format").to_lowercase();
    if !FORMATS.contains(&format.as_str()) {
        ctx.err(&format!(
            "{format} is an unknown log format. Valid log formats are: [{}]",
            FORMATS.join(" ")
        ));
        return 1;
    }
    let client = or_exit!(client(ctx, &s.flags));
    let http = match RawHttp::streaming(&client, &ctx.tls_options(&s.flags)) {
        Ok(http) => http,
        Err(e) => {
            ctx.err(&e.to_string());
            return 2;
        }
    };
    let path = format!("sys/monitor?log_level={level}&log_format={format}");
    let mut answer = match ctx.block_on(http.send(Method::GET, &path, None)) {
        Ok(answer) => answer,
        Err(e) => {
            ctx.err(&format!("Error starting monitor: {e}"));
            return 1;
        }
    };
    // Whole lines as they come; the stream ends when the server ends it (it sealed).
    let mut lines = LineBuffer::default();
    loop {
        let chunk = match ctx.block_on(answer.chunk()) {
            Ok(Some(chunk)) => chunk,
            Ok(None) | Err(_) => break,
        };
        for line in lines.push(&chunk) {
            ctx.out(String::from_utf8_lossy(&line).as_ref());
        }
    }
    if let Some(last) = lines.finish() {
        ctx.out(String::from_utf8_lossy(&last).as_ref());
    }
    0
}
