//! `status`: seal and HA status, and the seal-status output shared with `operator unseal`.

use arca_api::Client;
use arca_api::sys::{LeaderStatus, SealStatus};
use serde::Serialize;

use super::{check_args, parse};
use crate::ctx::Ctx;
use crate::flags::{FORMAT, HTTP};
use crate::output::{Format, columns};

const HELP: &str = "Usage: arca status [options]\n\n  Prints the current state of the server, including whether it is sealed and\n  whether HA mode is enabled. Exit code 0 means unsealed, 2 sealed, 1 error.";

/// Seal status plus the HA fields, as Vault's `SealStatusOutput` prints it.
#[derive(Serialize)]
struct SealStatusOutput<'a> {
    #[serde(flatten)]
    seal: &'a SealStatus,
    ha_enabled: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_self: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    active_time: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    leader_address: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    leader_cluster_address: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    raft_committed_index: u64,
    #[serde(skip_serializing_if = "is_zero")]
    raft_applied_index: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `arca status`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let p = or_exit!(parse(ctx, &[HTTP, &[FORMAT]], args, HELP));
    if !check_args(ctx, &p.args, 0, 0) {
        return 1;
    }
    let format = match ctx.format(&p) {
        Ok(f) => f,
        Err(e) => {
            ctx.err(&e);
            return 1;
        }
    };
    let client = match ctx.client(&p) {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&format!("Error initializing client: {e}"));
            return 1;
        }
    };
    let status = match ctx.block_on(client.seal_status()) {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error checking seal status: {e}"));
            return 1;
        }
    };
    if let Err(code) = output_seal_status(ctx, &client, format, &status) {
        return code;
    }
    if status.sealed { 2 } else { 0 }
}

/// Print a seal status with the leader information, as `status` and `operator unseal` do.
pub fn output_seal_status(
    ctx: &mut Ctx<'_, '_>,
    client: &Client,
    format: Format,
    status: &SealStatus,
) -> Result<(), i32> {
    let leader = match ctx.block_on(client.leader()) {
        Ok(l) => l,
        Err(e) if e.to_string().contains("is sealed") || status.sealed => LeaderStatus::default(),
        Err(e) => {
            ctx.err(&format!("Error checking leader status: {e}"));
            return Err(1);
        }
    };
    if format != Format::Table && format != Format::Raw {
        let out = SealStatusOutput {
            seal: status,
            ha_enabled: leader.ha_enabled,
            is_self: leader.is_self,
            active_time: if leader.is_self {
                &leader.active_time
            } else {
                ""
            },
            leader_address: &leader.leader_address,
            leader_cluster_address: &leader.leader_cluster_address,
            raft_committed_index: leader.raft_committed_index,
            raft_applied_index: leader.raft_applied_index,
        };
        ctx.output_struct(format, &out);
        return Ok(());
    }
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut row = |k: &str, v: String| rows.push((k.to_string(), v));
    row("Seal Type", status.seal_type.clone());
    row("Initialized", status.initialized.to_string());
    row("Sealed", status.sealed.to_string());
    if status.recovery_seal {
        row("Total Recovery Shares", status.n.to_string());
        row("Threshold", status.t.to_string());
    } else {
        row("Total Shares", status.n.to_string());
        row("Threshold", status.t.to_string());
    }
    if status.sealed {
        row(
            "Unseal Progress",
            format!("{}/{}", status.progress, status.t),
        );
        row("Unseal Nonce", status.nonce.clone());
    }
    if status.migration {
        row("Seal Migration in Progress", "true".into());
    }
    row("Version", status.version.clone());
    if !status.commit_date.is_empty() {
        row("Commit Date", status.commit_date.clone());
    }
    if !status.build_date.is_empty() {
        row("Build Date", status.build_date.clone());
    }
    row("Storage Type", status.storage_type.clone());
    if !status.cluster_name.is_empty() && !status.cluster_id.is_empty() {
        row("Cluster Name", status.cluster_name.clone());
        row("Cluster ID", status.cluster_id.clone());
    }
    row("HA Enabled", leader.ha_enabled.to_string());
    if leader.ha_enabled {
        row("HA Cluster", leader.leader_cluster_address.clone());
        let mode = if status.sealed {
            "sealed"
        } else if leader.is_self {
            "active"
        } else {
            "standby"
        };
        row("HA Mode", mode.into());
        if leader.is_self && !leader.active_time.is_empty() {
            row("Active Since", leader.active_time.clone());
        }
        if leader.raft_committed_index > 0 {
            row(
                "Raft Committed Index",
                leader.raft_committed_index.to_string(),
            );
            row("Raft Applied Index", leader.raft_applied_index.to_string());
        }
    }
    let mut all = vec![
        vec!["Key".to_string(), "Value".to_string()],
        vec!["---".to_string(), "-----".to_string()],
    ];
    all.extend(rows.into_iter().map(|(k, v)| vec![k, v]));
    let text = columns(&all);
    ctx.out(&text);
    Ok(())
}
