//! The HA cluster commands of `operator`: `members` (the nodes `sys/ha-status` reports) and
//! `step-down` (the active node resigns).

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::command_setup::{CliFormat, client, no_pretty, start};
use crate::ctx::Ctx;
use crate::flags::{FORMAT, HTTP};
use crate::output::header_table;
use crate::raw_http::RawHttp;

const MEMBERS_HELP: &str = "Usage: arca operator members

  Provides the details of all the nodes in the cluster.

      $ arca operator members";

/// One node of `sys/ha-status`, printed in JSON as `bao` prints its Go `HANode`.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct HaNode {
    hostname: String,
    api_address: String,
    cluster_address: String,
    active_node: bool,
    last_echo: Option<String>,
    version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    upgrade_version: String,
}

/// The answer of `sys/ha-status` as `bao` prints it (`Nodes`, Go's field name).
#[derive(Serialize)]
struct HaStatus {
    #[serde(rename = "Nodes")]
    nodes: Option<Vec<HaNode>>,
}

/// An RFC 3339 time printed as Go prints a `time.Time`: with the fraction of a second its JSON
/// keeps (`with_fraction`), or without it as `time.RFC3339` formats; the text itself when it
/// is not a time.
fn go_time(text: &str, with_fraction: bool) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) else {
        return text.to_string();
    };
    let mut out = t.format("%Y-%m-%dT%H:%M:%S").to_string();
    if with_fraction {
        let mut frac = format!("{:09}", t.timestamp_subsec_nanos());
        while frac.ends_with('0') {
            frac.pop();
        }
        if !frac.is_empty() {
            out.push('.');
            out.push_str(&frac);
        }
    }
    let offset = t.offset().local_minus_utc();
    if offset == 0 {
        out.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        out.push_str(&format!("{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60));
    }
    out
}

/// `arca operator members`.
pub fn members(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(ctx, &[HTTP, &[FORMAT]], args, MEMBERS_HELP, false));
    let client = or_exit!(client(ctx, &s.flags));
    let body = match ctx.block_on(client.checked(Method::GET, "sys/ha-status", &[], None)) {
        Ok(raw) => raw.body,
        Err(e) => {
            ctx.err(&e.to_string());
            return 2;
        }
    };
    let Some(Value::Object(body)) = body else {
        ctx.err("EOF");
        return 2;
    };
    // Go's JSON decoding matches the `Nodes` field without regard to case.
    let nodes = body
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("nodes"))
        .map(|(_, v)| v.clone())
        .unwrap_or(Value::Null);
    let nodes: Option<Vec<HaNode>> = match serde_json::from_value(nodes) {
        Ok(n) => n,
        Err(e) => {
            ctx.err(&e.to_string());
            return 2;
        }
    };
    let mut status = HaStatus { nodes };
    for node in status.nodes.iter_mut().flatten() {
        node.last_echo = node.last_echo.as_deref().map(|t| go_time(t, true));
    }
    match s.format {
        CliFormat::Table => {
            let rows = status
                .nodes
                .iter()
                .flatten()
                .map(|n| {
                    vec![
                        n.hostname.clone(),
                        n.api_address.clone(),
                        n.cluster_address.clone(),
                        n.active_node.to_string(),
                        n.version.clone(),
                        n.upgrade_version.clone(),
                        n.last_echo
                            .as_deref()
                            .map(|t| go_time(t, false))
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            let table = header_table(
                &[
                    "Host Name",
                    "API Address",
                    "Cluster Address",
                    "Active Node",
                    "Version",
                    "Upgrade Version",
                    "Last Echo",
                ],
                rows,
            );
            ctx.out(&table);
            0
        }
        CliFormat::Pretty => no_pretty(ctx),
        other => ctx.output_struct(other.output(), &status),
    }
}

const STEP_DOWN_HELP: &str = "Usage: arca operator step-down [options]

  Forces the Arca server at the given address to step down from active duty.
  While the affected node will have a delay before attempting to acquire the
  leader lock again, if no other Arca nodes acquire the lock beforehand, it
  is possible for the same node to re-acquire the lock and become active
  again.

  Force Arca to step down as the leader:

      $ arca operator step-down";

/// `arca operator step-down`.
pub fn step_down(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(ctx, &[HTTP], args, STEP_DOWN_HELP, false));
    if !s.flags.args.is_empty() {
        ctx.err(&format!(
            "Too many arguments (expected 0, got {})",
            s.flags.args.len()
        ));
        return 1;
    }
    let client = or_exit!(client(ctx, &s.flags));
    // Whatever a successful answer holds is not read, as `bao` does not read it.
    let http = match RawHttp::new(&client, &ctx.tls_options(&s.flags)) {
        Ok(http) => http,
        Err(e) => {
            ctx.err(&e.to_string());
            return 2;
        }
    };
    match ctx.block_on(http.send(Method::PUT, "sys/step-down", None)) {
        Ok(_) => {
            ctx.out(&format!("Success! Stepped down: {}", client.address()));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error stepping down: {e}"));
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::go_time;

    #[test]
    fn times_like_go() {
        let t = "2026-12-07T05:08:29.701395050Z";
        assert_eq!(go_time(t, true), "2026-12-07T05:08:29.70139505Z");
        assert_eq!(go_time(t, false), "2026-12-07T05:08:29Z");
        assert_eq!(
            go_time("2026-12-07T05:08:29+02:00", true),
            "2026-12-07T05:08:29+02:00"
        );
        assert_eq!(
            go_time("2026-12-07T05:08:29+00:00", false),
            "2026-12-07T05:08:29Z"
        );
        assert_eq!(go_time("soon", true), "soon");
    }
}
