//! `sys/health`: the status codes load balancers read, with every query parameter Vault takes.

use arca_sdk::{JsonMap, LogicalError, Response};
use serde_json::Value;

use super::{bool_field, raw_json};
use crate::seal_ops::Seal;

fn code(d: &JsonMap, name: &str, default: u16) -> Result<u16, LogicalError> {
    let Some(v) = d.get(name) else {
        return Ok(default);
    };
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(LogicalError::bad_request(format!("bad code for {name}"))),
    };
    match s.trim().parse::<u16>() {
        Ok(c) if (100..=599).contains(&c) => Ok(c),
        _ => Err(LogicalError::bad_request(format!(
            "bad code for {name}: invalid status code {s:?}"
        ))),
    }
}

/// Answers `GET|HEAD sys/health`.
pub(crate) async fn health(
    seal: &Seal,
    standby_node: bool,
    d: &JsonMap,
) -> Result<Option<Response>, LogicalError> {
    let active = code(d, "activecode", 200)?;
    let standby_code = code(d, "standbycode", 429)?;
    let _dr = code(d, "drsecondarycode", 472)?;
    let _perf = code(d, "performancestandbycode", 473)?;
    let sealed_code = code(d, "sealedcode", 503)?;
    let uninit_code = code(d, "uninitcode", 501)?;
    let standby_ok = bool_field(d, "standbyok")?;
    let _ = bool_field(d, "perfstandbyok")?;

    let initialized = seal.initialized().await?;
    let sealed = seal.sealed();
    let cluster = if sealed { None } else { seal.cluster_info() };
    let mode = if sealed { "unknown" } else { "disabled" };
    let body = HealthBody {
        cluster_id: cluster.as_ref().map(|c| c.id.as_str()),
        cluster_name: cluster.as_ref().map(|c| c.name.as_str()),
        initialized,
        performance_standby: false,
        replication_dr_mode: mode,
        replication_performance_mode: mode,
        sealed,
        server_time_utc: chrono::Utc::now().timestamp(),
        standby: sealed || standby_node,
        version: seal.version(),
    };
    let status = if !initialized {
        uninit_code
    } else if sealed {
        sealed_code
    } else if standby_node && !standby_ok {
        standby_code
    } else {
        active
    };
    raw_json(status, &body)
}

/// The health answer, serialized straight from borrowed fields (no JSON tree per request);
/// the fields in alphabetical order, as a JSON object map writes them.
#[derive(serde::Serialize)]
struct HealthBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_name: Option<&'a str>,
    initialized: bool,
    /// Not in OpenBao's answer; vaultrs cannot read a health answer without it. Arca has no
    /// performance standbys (its standbys forward every request), so it is always false.
    performance_standby: bool,
    replication_dr_mode: &'a str,
    replication_performance_mode: &'a str,
    sealed: bool,
    server_time_utc: i64,
    standby: bool,
    version: &'a str,
}
