//! `operator raft autopilot`: `get-config`, `set-config` and `state`.

use std::collections::BTreeMap;

use arca_api::{ApiError, Client, RawResponse, Secret};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::command_setup::{CliFormat, client, no_pretty, start};
use super::{flag_error, group_usage};
use crate::ctx::Ctx;
use crate::duration;
use crate::flags::{FORMAT, FlagError, HTTP, Kind, Parsed, Spec, flag, uint_flag};
use crate::output::kv_table;

const USAGE: &str = "This command is accessed by using one of the subcommands below.

Subcommands:
    get-config    Returns the configuration of the autopilot subsystem under integrated storage
    set-config    Modify the configuration of the autopilot subsystem under integrated storage
    state         Displays the state of the raft cluster under integrated storage as seen by autopilot";

const CONFIG_PATH: &str = "sys/storage/raft/autopilot/configuration";
const STATE_PATH: &str = "sys/storage/raft/autopilot/state";

/// `arca operator raft autopilot ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "get-config" => get_config(ctx, rest),
        "set-config" => set_config(ctx, rest),
        "state" => state(ctx, rest),
        "-h" | "-help" | "--help" => {
            ctx.out(USAGE);
            0
        }
        _ => group_usage(ctx, USAGE),
    }
}

/// Refuses positional arguments: `Incorrect arguments (expected 0, got N)`, exit 1.
fn no_args(ctx: &mut Ctx<'_, '_>, p: &Parsed) -> Result<(), i32> {
    if p.args.is_empty() {
        return Ok(());
    }
    ctx.err(&format!(
        "Incorrect arguments (expected 0, got {})",
        p.args.len()
    ));
    Err(1)
}

/// `GET path` read as `bao` reads the autopilot endpoints: a 404 is no answer (`Ok(None)`),
/// an answer without a body is the client's "data from server response is empty".
async fn read_autopilot(client: &Client, path: &str) -> Result<Option<Secret>, ApiError> {
    let raw: RawResponse = match client.checked(Method::GET, path, &[], None).await {
        Ok(raw) => raw,
        Err(e) if e.status() == Some(404) => return Ok(None),
        Err(e) => return Err(e),
    };
    let secret: Option<Secret> = raw
        .body
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ApiError::Decode(e.to_string()))?;
    secret.map(Some).ok_or(ApiError::EmptyData)
}

/// A duration field of an answer as Go's `parseutil.ParseDurationSecond` reads it (a number
/// or a bare integer is seconds, missing is zero), printed as Go's `time.Duration`.
fn duration_field(data: &Map<String, Value>, key: &str) -> Result<String, String> {
    let text = match data.get(key) {
        None | Some(Value::Null) => return Ok(duration::go_string(0)),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err("could not parse duration from input".to_string()),
    };
    duration::parse(&text).map(duration::go_string)
}

/// The autopilot configuration as `bao` prints it in JSON and YAML (its keys sorted, the
/// durations in Go's form).
#[derive(Serialize)]
struct AutopilotConfig {
    cleanup_dead_servers: bool,
    dead_server_last_contact_threshold: String,
    last_contact_threshold: String,
    max_trailing_logs: u64,
    min_quorum: u64,
    server_stabilization_time: String,
}

impl AutopilotConfig {
    fn from_data(data: &Map<String, Value>) -> Result<AutopilotConfig, String> {
        let number = |k: &str| match data.get(k) {
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            _ => 0,
        };
        Ok(AutopilotConfig {
            cleanup_dead_servers: data
                .get("cleanup_dead_servers")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            dead_server_last_contact_threshold: duration_field(
                data,
                "dead_server_last_contact_threshold",
            )?,
            last_contact_threshold: duration_field(data, "last_contact_threshold")?,
            max_trailing_logs: number("max_trailing_logs"),
            min_quorum: number("min_quorum"),
            server_stabilization_time: duration_field(data, "server_stabilization_time")?,
        })
    }
}

const GET_CONFIG_HELP: &str = "Usage: arca operator raft autopilot get-config

 Returns the configuration of the autopilot subsystem under integrated storage.";

fn get_config(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(ctx, &[HTTP, &[FORMAT]], args, GET_CONFIG_HELP, false));
    or_exit!(no_args(ctx, &s.flags));
    let client = or_exit!(client(ctx, &s.flags));
    let secret = match ctx.block_on(read_autopilot(&client, CONFIG_PATH)) {
        Ok(Some(secret)) => secret,
        Ok(None) => return 0,
        Err(e) => {
            ctx.err(&e.to_string());
            return 2;
        }
    };
    let data = secret.data.unwrap_or_default();
    let config = match AutopilotConfig::from_data(&data) {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    match s.format {
        CliFormat::Table => {
            let rows = vec![
                (
                    "Cleanup Dead Servers".to_string(),
                    config.cleanup_dead_servers.to_string(),
                ),
                (
                    "Last Contact Threshold".to_string(),
                    config.last_contact_threshold,
                ),
                (
                    "Dead Server Last Contact Threshold".to_string(),
                    config.dead_server_last_contact_threshold,
                ),
                (
                    "Server Stabilization Time".to_string(),
                    config.server_stabilization_time,
                ),
                ("Min Quorum".to_string(), config.min_quorum.to_string()),
                (
                    "Max Trailing Logs".to_string(),
                    config.max_trailing_logs.to_string(),
                ),
            ];
            let table = kv_table(rows);
            ctx.out(&table);
            0
        }
        CliFormat::Pretty => no_pretty(ctx),
        other => ctx.output_struct(other.output(), &config),
    }
}

const SET_CONFIG_HELP: &str = "Usage: arca operator raft autopilot set-config [options]

  Modify the configuration of the autopilot subsystem under integrated storage.

Common Options:

  -cleanup-dead-servers=<*bool>
      Controls whether to remove dead servers from the Raft peer list
      periodically or when a new server joins.

  -dead-server-last-contact-threshold=<duration>
      Limit on the amount of time a server can go without leader contact
      before being considered failed. This takes effect only when
      cleanup_dead_servers is set.

  -last-contact-threshold=<duration>
      Limit on the amount of time a server can go without leader contact
      before being considered unhealthy.

  -max-trailing-logs=<uint>
      Amount of entries in the Raft Log that a server can be behind before
      being considered unhealthy.

  -min-quorum=<uint>
      Minimum number of servers allowed in a cluster before autopilot can
      prune dead servers. This should at least be 3.

  -server-stabilization-time=<duration>
      Minimum amount of time a server must be in a stable, healthy state
      before it can be added to the cluster.";

const SET_CONFIG_FLAGS: &[Spec] = &[
    flag("cleanup-dead-servers", Kind::Bool, "false"),
    flag("last-contact-threshold", Kind::Str, "0s"),
    flag("dead-server-last-contact-threshold", Kind::Str, "0s"),
    flag("max-trailing-logs", Kind::Str, "0"),
    flag("min-quorum", Kind::Str, "0"),
    flag("server-stabilization-time", Kind::Str, "0s"),
];

/// The durations `set-config` sends, in flag order.
const DURATIONS: [&str; 3] = [
    "last-contact-threshold",
    "dead-server-last-contact-threshold",
    "server-stabilization-time",
];

/// A duration flag as `bao`'s `DurationVar` reads it (`system` is -1s) in nanoseconds.
fn duration_value(p: &Parsed, name: &str) -> Result<i128, FlagError> {
    if p.str(name) == "system" {
        return Ok(-1_000_000_000);
    }
    crate::flags::duration_flag(p, name)
}

fn set_config(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(
        ctx,
        &[HTTP, &[FORMAT], SET_CONFIG_FLAGS],
        args,
        SET_CONFIG_HELP,
        false
    ));
    let p = &s.flags;
    let mut body = Map::new();
    if p.is_set("cleanup-dead-servers") {
        body.insert(
            "cleanup_dead_servers".into(),
            Value::Bool(p.bool("cleanup-dead-servers")),
        );
    }
    for name in ["max-trailing-logs", "min-quorum"] {
        match uint_flag(p, name) {
            Ok(0) => {}
            Ok(n) => {
                body.insert(name.replace('-', "_"), Value::from(n));
            }
            Err(e) => return flag_error(ctx, &e),
        }
    }
    for name in DURATIONS {
        match duration_value(p, name) {
            Ok(ns) if ns > 0 => {
                body.insert(name.replace('-', "_"), Value::from(duration::go_string(ns)));
            }
            Ok(_) => {}
            Err(e) => return flag_error(ctx, &e),
        }
    }
    or_exit!(no_args(ctx, p));
    let client = or_exit!(client(ctx, p));
    match ctx.block_on(client.write(CONFIG_PATH, Some(Value::Object(body)))) {
        Ok(None) => 0,
        Ok(Some(secret)) => match s.format {
            CliFormat::Pretty => no_pretty(ctx),
            other => ctx.output_secret(other.output(), &secret),
        },
        Err(e) => {
            ctx.err(&e.to_string());
            2
        }
    }
}

/// One server in the autopilot state, named in JSON as `bao` names the Go fields.
#[derive(Serialize, Deserialize, Default)]
#[serde(
    default,
    rename_all(deserialize = "snake_case", serialize = "PascalCase")
)]
struct AutopilotServer {
    #[serde(rename(serialize = "ID"))]
    id: String,
    name: String,
    address: String,
    node_status: String,
    last_contact: String,
    last_term: u64,
    last_index: u64,
    healthy: bool,
    stable_since: String,
    status: String,
    version: String,
    upgrade_version: String,
    node_type: String,
}

/// The upgrade information of the autopilot state.
#[derive(Serialize, Deserialize, Default)]
#[serde(
    default,
    rename_all(deserialize = "snake_case", serialize = "PascalCase")
)]
struct AutopilotUpgrade {
    status: String,
    target_version: String,
    target_version_voters: Option<Vec<String>>,
    target_version_non_voters: Option<Vec<String>>,
    target_version_read_replicas: Option<Vec<String>>,
    other_version_voters: Option<Vec<String>>,
    other_version_non_voters: Option<Vec<String>>,
    other_version_read_replicas: Option<Vec<String>>,
}

/// The autopilot state, read from the answer's snake_case data and printed in JSON with the
/// Go field names, in Go's field order, as `bao` prints it.
#[derive(Serialize, Deserialize, Default)]
#[serde(
    default,
    rename_all(deserialize = "snake_case", serialize = "PascalCase")
)]
struct AutopilotState {
    healthy: bool,
    failure_tolerance: i64,
    servers: Option<BTreeMap<String, AutopilotServer>>,
    leader: String,
    voters: Option<Vec<String>>,
    non_voters: Option<Vec<String>>,
    #[serde(rename(deserialize = "upgrade_info", serialize = "Upgrade"))]
    upgrade: Option<AutopilotUpgrade>,
    optimistic_failure_tolerance: i64,
}

/// `bao`'s pretty text of the autopilot state.
fn pretty_state(state: &AutopilotState) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Healthy:                         {}\n",
        state.healthy
    ));
    out.push_str(&format!(
        "Failure Tolerance:               {}\n",
        state.failure_tolerance
    ));
    out.push_str(&format!(
        "Leader:                          {}\n",
        state.leader
    ));
    out.push_str("Voters:\n");
    for v in state.voters.iter().flatten() {
        out.push_str(&format!("   {v}\n"));
    }
    let non_voters = state.non_voters.as_deref().unwrap_or_default();
    if !non_voters.is_empty() {
        out.push_str("Non Voters:\n");
        for v in non_voters {
            out.push_str(&format!("   {v}\n"));
        }
    }
    if state.optimistic_failure_tolerance > 0 {
        out.push_str(&format!(
            "Optimistic Failure Tolerance:    {}\n",
            state.optimistic_failure_tolerance
        ));
    }
    out.push_str("Servers:\n");
    // Sorted by the map's keys; each headed by the id inside its entry.
    for srv in state.servers.iter().flat_map(BTreeMap::values) {
        out.push_str(&format!("   {}\n", srv.id));
        let rows = [
            ("Name", srv.name.clone()),
            ("Address", srv.address.clone()),
            ("Status", srv.status.clone()),
            ("Node Status", srv.node_status.clone()),
            ("Healthy", srv.healthy.to_string()),
            ("Last Contact", srv.last_contact.clone()),
            ("Last Term", srv.last_term.to_string()),
            ("Last Index", srv.last_index.to_string()),
            ("Version", srv.version.clone()),
        ];
        for (label, value) in rows {
            out.push_str(&format!("      {:<19}{value}\n", format!("{label}:")));
        }
        if !srv.upgrade_version.is_empty() {
            out.push_str(&format!(
                "      Upgrade Version:   {}\n",
                srv.upgrade_version
            ));
        }
        if !srv.node_type.is_empty() {
            out.push_str(&format!("      Node Type:         {}\n", srv.node_type));
        }
    }
    if let Some(u) = &state.upgrade {
        let join = |l: &Option<Vec<String>>| l.as_deref().unwrap_or_default().join(", ");
        out.push_str("Upgrade Info:\n");
        out.push_str(&format!("   Status: {}\n", u.status));
        out.push_str(&format!("   Target Version: {}\n", u.target_version));
        out.push_str(&format!(
            "   Target Version Voters: {}\n",
            join(&u.target_version_voters)
        ));
        out.push_str(&format!(
            "   Target Version Non-Voters: {}\n",
            join(&u.target_version_non_voters)
        ));
        out.push_str(&format!(
            "   Other Version Voters: {}\n",
            join(&u.other_version_voters)
        ));
        out.push_str(&format!(
            "   Other Version Non-Voters: {}\n",
            join(&u.other_version_non_voters)
        ));
    }
    out
}

const STATE_HELP: &str = "Usage: arca operator raft autopilot state

  Displays the state of the raft cluster under integrated storage as seen by autopilot.";

fn state(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(ctx, &[HTTP, &[FORMAT]], args, STATE_HELP, true));
    or_exit!(no_args(ctx, &s.flags));
    let client = or_exit!(client(ctx, &s.flags));
    let secret = match ctx.block_on(read_autopilot(&client, STATE_PATH)) {
        Ok(Some(secret)) => secret,
        Ok(None) => return 0,
        Err(e) => {
            ctx.err(&format!("Error checking autopilot state: {e}"));
            return 2;
        }
    };
    let Some(data) = secret.data else {
        ctx.err(&format!(
            "Error checking autopilot state: {}",
            ApiError::EmptyData
        ));
        return 2;
    };
    let state: AutopilotState = match serde_json::from_value(Value::Object(data)) {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error checking autopilot state: {e}"));
            return 2;
        }
    };
    match s.format {
        CliFormat::Pretty | CliFormat::Table | CliFormat::Raw => {
            let text = pretty_state(&state);
            ctx.out(&text);
            0
        }
        other => ctx.output_struct(other.output(), &state),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn state_reads_snake_case_and_prints_go_names() {
        let data = json!({
            "healthy": true, "failure_tolerance": 1, "leader": "n1", "voters": ["n1", "n2"],
            "servers": {"n2": {"id": "n2", "name": "n2", "address": "a2", "node_status": "alive",
                "last_contact": "1.5s", "last_term": 3, "last_index": 31, "healthy": true,
                "stable_since": "2026-12-07T05:08:16Z", "status": "voter", "version": "2.7.2",
                "node_type": "voter"},
              "n1": {"id": "n1", "name": "n1", "status": "leader", "last_contact": "0s"}}
        });
        let state: AutopilotState = serde_json::from_value(data).unwrap();
        let out = serde_json::to_string(&state).unwrap();
        assert!(out.starts_with(r#"{"Healthy":true,"FailureTolerance":1,"Servers":{"n1":{"ID":"n1","Name":"n1","Address":"""#));
        assert!(out.ends_with(r#""Leader":"n1","Voters":["n1","n2"],"NonVoters":null,"Upgrade":null,"OptimisticFailureTolerance":0}"#));
        let text = pretty_state(&state);
        assert!(text.starts_with("Healthy:                         true\nFailure Tolerance:               1\nLeader:                          n1\nVoters:\n   n1\n   n2\nServers:\n   n1\n      Name:              n1\n"));
        assert!(text.contains("   n2\n      Name:              n2\n      Address:           a2\n      Status:            voter\n      Node Status:       alive\n      Healthy:           true\n      Last Contact:      1.5s\n      Last Term:         3\n      Last Index:        31\n      Version:           2.7.2\n      Node Type:         voter\n"));
    }

    #[test]
    fn config_durations_like_go() {
        let data = json!({"last_contact_threshold": "10s", "server_stabilization_time": 90,
            "dead_server_last_contact_threshold": "24h", "max_trailing_logs": 1000});
        let Value::Object(data) = data else {
            unreachable!()
        };
        let c = AutopilotConfig::from_data(&data).unwrap();
        assert_eq!(c.last_contact_threshold, "10s");
        assert_eq!(c.server_stabilization_time, "1m30s");
        assert_eq!(c.dead_server_last_contact_threshold, "24h0m0s");
        assert_eq!(c.max_trailing_logs, 1000);
        assert_eq!(c.min_quorum, 0);
    }
}
