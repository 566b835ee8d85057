//! `sys/health`: the status codes load balancers read, with every query parameter Vault takes.

use arca_sdk::{JsonMap, LogicalError, Response};
use serde_json::{Value, json};

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
pub(crate) async fn health(seal: &Seal, d: &JsonMap) -> Result<Option<Response>, LogicalError> {
    let active = code(d, "activecode", 200)?;
    // Accepted and validated even though this single-node server is never a standby.
    let _standby = code(d, "standbycode", 429)?;
    let _dr = code(d, "drsecondarycode", 472)?;
    let _perf = code(d, "performancestandbycode", 473)?;
    let sealed_code = code(d, "sealedcode", 503)?;
    let uninit_code = code(d, "uninitcode", 501)?;
    let _ = bool_field(d, "standbyok")?;
    let _ = bool_field(d, "perfstandbyok")?;

    let initialized = seal.initialized().await?;
    let sealed = seal.sealed();
    let mut v = json!({
        "initialized": initialized,
        "sealed": sealed,
        "standby": sealed,
        "replication_performance_mode": if sealed { "unknown" } else { "disabled" },
        "replication_dr_mode": if sealed { "unknown" } else { "disabled" },
        "server_time_utc": chrono::Utc::now().timestamp(),
        "version": seal.version(),
    });
    if !sealed && let (Some(info), Value::Object(m)) = (seal.cluster_info(), &mut v) {
        m.insert("cluster_name".into(), json!(info.name));
        m.insert("cluster_id".into(), json!(info.id));
    }
    let status = if !initialized {
        uninit_code
    } else if sealed {
        sealed_code
    } else {
        active
    };
    raw_json(status, &v)
}
