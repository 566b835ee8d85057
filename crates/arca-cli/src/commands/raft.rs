//! `operator raft`: join, list-peers, remove-peer, promote and demote, and the dispatch to the
//! `snapshot` and `autopilot` groups.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::command_setup::{CliFormat, client, no_pretty, start};
use super::{group_usage, raft_autopilot, raft_snapshot};
use crate::ctx::Ctx;
use crate::flags::{FORMAT, HTTP, Kind, Spec, flag, uint_flag};
use crate::output::{header_table, kv_table};

const USAGE: &str = "Usage: arca operator raft <subcommand> [options] [args]

  This command groups subcommands for operators interacting with the Arca raft
  storage backend. Most users will not need to interact with these commands. Here
  are a few examples of the raft operator commands:

  Joins a node to the raft cluster:

      $ arca operator raft join https://127.0.0.1:8200

  Returns the set of raft peers:

      $ arca operator raft list-peers

  Removes a node from the raft cluster:

      $ arca operator raft remove-peer

  Restores and saves snapshots from the raft cluster:

      $ arca operator raft snapshot save out.snap

  Please see the individual subcommand help for detailed usage information.

Subcommands:
    autopilot      
    demote         Demotes a voter to a permanent non-voter
    join           Joins a node to the Raft cluster
    list-peers     Returns the Raft peer set
    promote        Promotes a permanent non-voter to a voter
    remove-peer    Removes a node from the Raft cluster
    snapshot       Restores and saves snapshots from the Raft cluster";

/// `arca operator raft ...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let Some(sub) = args.first() else {
        return group_usage(ctx, USAGE);
    };
    let rest = &args[1..];
    match sub.as_str() {
        "join" => join(ctx, rest),
        "list-peers" => list_peers(ctx, rest),
        "remove-peer" => peer_change(ctx, rest, &REMOVE_PEER),
        "promote" => peer_change(ctx, rest, &PROMOTE),
        "demote" => peer_change(ctx, rest, &DEMOTE),
        "snapshot" => raft_snapshot::run(ctx, rest),
        "autopilot" => raft_autopilot::run(ctx, rest),
        "-h" | "-help" | "--help" => {
            ctx.out(USAGE);
            0
        }
        _ => group_usage(ctx, USAGE),
    }
}

const JOIN_HELP: &str = r#"Usage: arca operator raft join [options] <leader-api-addr|auto-join-configuration>

  Join the current node as a peer to the Raft cluster by providing the address
  of the Raft leader node.

      $ arca operator raft join "http://127.0.0.2:8200"

  Join the current node as a peer to the Raft cluster by providing cloud auto-join
  configuration.

      $ arca operator raft join "provider=aws region=eu-west-1 ..."

  Join the current node as a peer to the Raft cluster by providing cloud auto-join
  configuration with an explicit URI scheme and port.

      $ arca operator raft join -auto-join-scheme="http" -auto-join-port=8201 \
        "provider=aws region=eu-west-1 ..."

  TLS certificate data can also be consumed from a file on disk by prefixing with
  the "@" symbol. For example:

      $ arca operator raft join "http://127.0.0.2:8200" \
        -leader-ca-cert=@leader_ca.crt \
        -leader-client-cert=@leader_client.crt \
        -leader-client-key=@leader.key

Command Options:

  -auto-join-port=<uint>
      An optional port used for addresses discovered via auto-join. The
      default is 8200.

  -auto-join-scheme=<string>
      An optional URI protocol scheme used for addresses discovered via
      auto-join. The default is https.

  -leader-ca-cert=<string>
      CA cert to use when verifying the Raft leader certificate.

  -leader-client-cert=<string>
      Client cert to use when authenticating with the Raft leader.

  -leader-client-key=<string>
      Client key to use when authenticating with the Raft leader.

  -non-voter
      Join the Raft cluster as non-voter. The default is false.

  -retry
      Continuously retry joining the Raft cluster upon failures. The default
      is false."#;

const JOIN_FLAGS: &[Spec] = &[
    flag("auto-join-scheme", Kind::Str, "https"),
    flag("auto-join-port", Kind::Str, "8200"),
    flag("leader-ca-cert", Kind::Str, ""),
    flag("leader-client-cert", Kind::Str, ""),
    flag("leader-client-key", Kind::Str, ""),
    flag("retry", Kind::Bool, "false"),
    flag("non-voter", Kind::Bool, "false"),
];

/// The request body of `sys/storage/raft/join`, every field sent as `bao` sends it.
#[derive(Serialize, Default, Debug, PartialEq)]
struct JoinRequest {
    auto_join: String,
    auto_join_scheme: String,
    auto_join_port: u64,
    leader_api_addr: String,
    leader_ca_cert: String,
    leader_client_cert: String,
    leader_client_key: String,
    retry: bool,
    non_voter: bool,
}

impl JoinRequest {
    /// Whom to join: an auto-join configuration (it names a `provider=`) with the scheme and
    /// port of the addresses it finds, or the leader's API address.
    fn target(&mut self, leader: String, scheme: String, port: u64) {
        if leader.contains("provider=") {
            self.auto_join = leader;
            self.auto_join_scheme = scheme;
            self.auto_join_port = port;
        } else {
            self.leader_api_addr = leader;
        }
    }
}

/// The answer of `sys/storage/raft/join`.
#[derive(Serialize, Deserialize)]
struct JoinResponse {
    #[serde(default)]
    joined: bool,
}

/// A flag value, or the contents of the file it names with a leading `@` (`bao`'s
/// `parseFlagFile`).
fn flag_file(value: &str) -> Result<String, String> {
    match value.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|e| format!("error reading file: {}", crate::go_io::open_error(path, &e))),
        None => Ok(value.to_string()),
    }
}

fn join(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(
        ctx,
        &[HTTP, &[FORMAT], JOIN_FLAGS],
        args,
        JOIN_HELP,
        false
    ));
    let p = &s.flags;
    let port = match uint_flag(p, "auto-join-port") {
        Ok(port) => port,
        Err(e) => return super::flag_error(ctx, &e),
    };
    let leader = match p.args.as_slice() {
        [] => String::new(),
        [one] => one.trim().to_string(),
        more => {
            ctx.err(&format!(
                "Too many arguments (expected 0-1, got {})",
                more.len()
            ));
            return 1;
        }
    };
    let mut files = Vec::with_capacity(3);
    for (name, what) in [
        ("leader-ca-cert", "leader CA certificate"),
        ("leader-client-cert", "leader client certificate"),
        ("leader-client-key", "leader client key"),
    ] {
        match flag_file(&p.str(name)) {
            Ok(v) => files.push(v),
            Err(e) => {
                ctx.err(&format!("Failed to parse {what}: {e}"));
                return 1;
            }
        }
    }
    let scheme = p.str("auto-join-scheme");
    if !scheme.is_empty() && scheme != "http" && scheme != "https" {
        ctx.err(&format!(
            "invalid scheme {scheme:?}; must either be http or https"
        ));
        return 1;
    }
    let client = or_exit!(client(ctx, p));
    let [ca, cert, key] = <[String; 3]>::try_from(files).unwrap_or_default();
    let mut req = JoinRequest {
        leader_ca_cert: ca,
        leader_client_cert: cert,
        leader_client_key: key,
        retry: p.bool("retry"),
        non_voter: p.bool("non-voter"),
        ..JoinRequest::default()
    };
    req.target(leader, scheme, port);
    let body = serde_json::to_value(&req).unwrap_or(Value::Null);
    let answer =
        ctx.block_on(client.checked(Method::POST, "sys/storage/raft/join", &[], Some(body)));
    let resp = match answer {
        Ok(raw) => match raw.body.map(serde_json::from_value::<JoinResponse>) {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                ctx.err(&format!("Error joining the node to the Raft cluster: {e}"));
                return 2;
            }
            None => {
                ctx.err("Error joining the node to the Raft cluster: EOF");
                return 2;
            }
        },
        Err(e) => {
            ctx.err(&format!("Error joining the node to the Raft cluster: {e}"));
            return 2;
        }
    };
    match s.format {
        CliFormat::Table => {
            let table = kv_table(vec![("Joined".into(), resp.joined.to_string())]);
            ctx.out(&table);
            0
        }
        CliFormat::Pretty => no_pretty(ctx),
        other => ctx.output_struct(other.output(), &resp),
    }
}

const LIST_PEERS_HELP: &str = "Usage: arca operator raft list-peers

  Provides the details of all the peers in the Raft cluster.

      $ arca operator raft list-peers";

fn list_peers(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let s = or_exit!(start(ctx, &[HTTP, &[FORMAT]], args, LIST_PEERS_HELP, false));
    let client = or_exit!(client(ctx, &s.flags));
    let secret = match ctx.block_on(client.read("sys/storage/raft/configuration")) {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            ctx.err("No raft cluster configuration found");
            return 2;
        }
        Err(e) => {
            ctx.err(&format!(
                "Error reading the raft cluster configuration: {e}"
            ));
            return 2;
        }
    };
    match s.format {
        CliFormat::Table => {
            let servers = secret
                .data
                .as_ref()
                .and_then(|d| d.get("config"))
                .and_then(|c| c.get("servers"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let text =
                |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let flag = |v: &Value, k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
            let rows = servers
                .iter()
                .map(|server| {
                    let state = if flag(server, "leader") {
                        "leader"
                    } else {
                        "follower"
                    };
                    vec![
                        text(server, "node_id"),
                        text(server, "address"),
                        state.to_string(),
                        flag(server, "voter").to_string(),
                    ]
                })
                .collect();
            let table = header_table(&["Node", "Address", "State", "Voter"], rows);
            ctx.out(&table);
            0
        }
        CliFormat::Pretty => no_pretty(ctx),
        other => ctx.output_secret(other.output(), &secret),
    }
}

/// A change of one peer by its server id: remove, promote or demote.
struct PeerChange {
    path: &'static str,
    help: &'static str,
    failed: &'static str,
    done: &'static str,
}

const REMOVE_PEER: PeerChange = PeerChange {
    path: "sys/storage/raft/remove-peer",
    help: "Usage: arca operator raft remove-peer <server_id>

  Removes a node from the Raft cluster.

      $ arca operator raft remove-peer node1",
    failed: "Error removing the peer from raft cluster",
    done: "Peer removed successfully!",
};

const PROMOTE: PeerChange = PeerChange {
    path: "sys/storage/raft/promote",
    help: "Usage: arca operator raft promote <server_id>

  Promotes a permanent non-voter to a voter.

      $ arca operator raft promote node1",
    failed: "Error promoting server",
    done: "Server promoted successfully!",
};

const DEMOTE: PeerChange = PeerChange {
    path: "sys/storage/raft/demote",
    help: "Usage: arca operator raft demote <server_id>

  Demotes voter to a permanent non-voter.

      $ arca operator raft demote node1",
    // `bao` words a failed demotion as a failed promotion.
    failed: "Error promoting server",
    done: "Server demoted successfully!",
};

fn peer_change(ctx: &mut Ctx<'_, '_>, args: &[String], change: &PeerChange) -> i32 {
    let s = or_exit!(start(ctx, &[HTTP, &[FORMAT]], args, change.help, false));
    let id = match s.flags.args.as_slice() {
        [one] => one.trim().to_string(),
        other => {
            ctx.err(&format!(
                "Incorrect arguments (expected 1, got {})",
                other.len()
            ));
            return 1;
        }
    };
    if id.is_empty() {
        ctx.err("Server id is required");
        return 1;
    }
    let client = or_exit!(client(ctx, &s.flags));
    match ctx.block_on(client.write(change.path, Some(json!({ "server_id": id })))) {
        Ok(_) => {
            ctx.out(change.done);
            0
        }
        Err(e) => {
            ctx.err(&format!("{}: {e}", change.failed));
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_targets_like_bao() {
        let mut req = JoinRequest::default();
        req.target("http://10.0.0.1:8200".into(), "https".into(), 8200);
        assert_eq!(req.leader_api_addr, "http://10.0.0.1:8200");
        assert_eq!((req.auto_join.as_str(), req.auto_join_port), ("", 0));
        let mut req = JoinRequest::default();
        req.target("provider=aws region=x".into(), "http".into(), 8201);
        assert_eq!(req.auto_join, "provider=aws region=x");
        assert_eq!(
            (req.auto_join_scheme.as_str(), req.auto_join_port),
            ("http", 8201)
        );
        assert_eq!(req.leader_api_addr, "");
        let body = serde_json::to_value(&req).unwrap();
        assert_eq!(
            body.as_object().map(|o| o.len()),
            Some(9),
            "every field is sent"
        );
    }

    #[test]
    fn flag_files() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "PEM\n").unwrap();
        assert_eq!(flag_file(&format!("@{}", ca.display())).unwrap(), "PEM\n");
        assert_eq!(flag_file("inline").unwrap(), "inline");
        assert_eq!(flag_file("").unwrap(), "");
        assert_eq!(
            flag_file("@/nonexistent/ca.pem").unwrap_err(),
            "error reading file: open /nonexistent/ca.pem: no such file or directory"
        );
    }
}
