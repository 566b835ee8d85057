//! `tidy`, `tidy-status`, `tidy-cancel` and `config/auto-tidy`: removing expired certificates
//! from the store and from the revocation list, in a background task whose progress
//! `tidy-status` reports.

use std::sync::Arc;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef};
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde_json::{Value, json};

use crate::issuers::{put_json, read_json};
use crate::{State, certs, crl, data, op, storage, x509};

/// What a tidy run does and how far it got.
#[derive(Debug, Clone, Default)]
pub(crate) struct TidyStatus {
    state: String,
    error: Option<String>,
    started: Option<String>,
    finished: Option<String>,
    message: Option<String>,
    cert_store_deleted: u64,
    revoked_deleted: u64,
    params: JsonMap,
    running: bool,
    cancel: bool,
}

const FLAGS: &[&str] = &[
    "tidy_cert_store",
    "tidy_revoked_certs",
    "tidy_invalid_certs",
    "tidy_revoked_cert_issuer_associations",
    "tidy_expired_issuers",
    "tidy_move_legacy_ca_bundle",
    "tidy_acme",
];

fn auto_defaults() -> JsonMap {
    let v = json!({
        "acme_account_safety_buffer": 2592000,
        "enabled": false,
        "interval_duration": 43200,
        "issuer_safety_buffer": 31536000,
        "maintain_stored_certificate_counts": false,
        "page_size": 1000,
        "pause_duration": "0s",
        "publish_stored_certificate_count_metrics": false,
        "revoked_safety_buffer": 259200,
        "safety_buffer": 259200,
        "tidy_acme": false,
        "tidy_cert_store": false,
        "tidy_expired_issuers": false,
        "tidy_invalid_certs": false,
        "tidy_move_legacy_ca_bundle": false,
        "tidy_revoked_cert_issuer_associations": false,
        "tidy_revoked_certs": false,
    });
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

fn fields(mut p: PathDef) -> PathDef {
    for f in FLAGS.iter().chain(&[
        "enabled",
        "maintain_stored_certificate_counts",
        "publish_stored_certificate_count_metrics",
    ]) {
        p = p.field(Field::new(*f, FieldType::Bool, f.replace('_', " ")));
    }
    for f in [
        "safety_buffer",
        "issuer_safety_buffer",
        "acme_account_safety_buffer",
        "interval_duration",
        "revoked_safety_buffer",
    ] {
        p = p.field(Field::new(
            f,
            FieldType::DurationSecond,
            f.replace('_', " "),
        ));
    }
    p.field(Field::new("page_size", FieldType::Int, "page size"))
        .field(Field::new("pause_duration", FieldType::String, "pause"))
}

pub(crate) fn paths(state: &Arc<State>) -> Vec<PathDef> {
    vec![
        fields(PathDef::new("tidy")).op(Operation::Update, op(state, tidy)),
        PathDef::new("tidy-status").op(Operation::Read, op(state, status)),
        PathDef::new("tidy-cancel").op(Operation::Update, op(state, cancel)),
        fields(PathDef::new("config/auto-tidy"))
            .op(Operation::Read, op(state, read_auto))
            .op(Operation::Update, op(state, write_auto)),
    ]
}

async fn tidy(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let mut params = auto_defaults();
    params.remove("enabled");
    params.remove("interval_duration");
    params.remove("maintain_stored_certificate_counts");
    params.remove("publish_stored_certificate_count_metrics");
    for (k, v) in params.clone() {
        if d.is_set(&k) {
            params.insert(k.clone(), d.get(&k)?);
        } else {
            params.insert(k, v);
        }
    }
    let mut resp = Response {
        status: Some(202),
        ..Response::default()
    };
    if !FLAGS.iter().any(|f| params.get(*f) == Some(&json!(true))) {
        resp.warn("Manual tidy requested but no tidy operations were set. Enable at least one tidy operation to be run (tidy_cert_store / tidy_revoked_certs / tidy_invalid_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers / tidy_move_legacy_ca_bundle / tidy_acme).");
        return Ok(Some(resp));
    }
    {
        let mut st = state.tidy.lock();
        if st.running {
            return Err(LogicalError::bad_request(
                "Tidy operation already in progress.",
            ));
        }
        *st = TidyStatus {
            state: "Running".into(),
            started: Some(now()),
            params: params.clone(),
            running: true,
            ..TidyStatus::default()
        };
    }
    let st = state.clone();
    tokio::spawn(async move {
        let result = run(&st, s.as_ref(), &params).await;
        let mut t = st.tidy.lock();
        t.running = false;
        t.finished = Some(now());
        match result {
            Ok(()) if t.cancel => t.state = "Cancelled".into(),
            Ok(()) => t.state = "Finished".into(),
            Err(e) => {
                t.state = "Error".into();
                t.error = Some(e.to_string());
            }
        }
    });
    resp.warn("Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs.");
    Ok(Some(resp))
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

async fn run(state: &State, s: &dyn Storage, p: &JsonMap) -> Result<(), LogicalError> {
    let flag = |n: &str| p.get(n) == Some(&json!(true));
    let buffer = p
        .get("safety_buffer")
        .and_then(Value::as_i64)
        .unwrap_or(259200);
    let revoked_buffer = p
        .get("revoked_safety_buffer")
        .and_then(Value::as_i64)
        .unwrap_or(buffer);
    let now = chrono::Utc::now().timestamp();
    if flag("tidy_cert_store") {
        for serial in certs::list(s).await? {
            if state.tidy.lock().cancel {
                return Ok(());
            }
            let Some(der) = certs::load(s, &serial).await? else {
                continue;
            };
            let expired = x509::parse_cert(&der).map(|c| c.not_after.saturating_add(buffer) < now);
            if expired.unwrap_or(flag("tidy_invalid_certs")) {
                s.delete(&format!("certs/{}", x509::serial_key(&serial)))
                    .await?;
                state.tidy.lock().cert_store_deleted += 1;
            }
        }
    }
    if flag("tidy_revoked_certs") {
        let mut changed = false;
        for serial in certs::list_revoked(s).await? {
            if state.tidy.lock().cancel {
                break;
            }
            let Some(r) = certs::revocation(s, &serial).await? else {
                continue;
            };
            let expired = r
                .cert_der()
                .ok()
                .and_then(|d| x509::parse_cert(&d).ok())
                .is_none_or(|c| c.not_after.saturating_add(revoked_buffer) < now);
            if expired {
                s.delete(&format!("revoked/{}", x509::serial_key(&serial)))
                    .await?;
                s.delete(&format!("certs/{}", x509::serial_key(&serial)))
                    .await?;
                state.tidy.lock().revoked_deleted += 1;
                changed = true;
            }
        }
        if changed {
            let _g = state.crl_lock.lock().await;
            crl::rebuild_all(s).await?;
        }
    }
    put_json(s, "config/tidy-last-run", &json!({"finished": now})).await?;
    Ok(())
}

async fn status(
    state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let t = state.tidy.lock().clone();
    let cert_count = certs::list(s.as_ref()).await?.len();
    let revoked_count = certs::list_revoked(s.as_ref()).await?.len();
    let mut m = JsonMap::new();
    let null_or = |b: bool, v: Value| if b { v } else { Value::Null };
    let ran = !t.state.is_empty();
    for f in FLAGS {
        m.insert(
            (*f).into(),
            null_or(ran, t.params.get(*f).cloned().unwrap_or(json!(false))),
        );
    }
    for f in [
        "safety_buffer",
        "issuer_safety_buffer",
        "revoked_safety_buffer",
        "acme_account_safety_buffer",
        "page_size",
        "pause_duration",
    ] {
        m.insert(
            f.into(),
            null_or(ran, t.params.get(f).cloned().unwrap_or(Value::Null)),
        );
    }
    m.insert(
        "state".into(),
        json!(if ran {
            t.state.clone()
        } else {
            "Inactive".into()
        }),
    );
    m.insert("error".into(), json!(t.error));
    m.insert("time_started".into(), json!(t.started));
    m.insert("time_finished".into(), json!(t.finished));
    m.insert("message".into(), json!(t.message));
    m.insert(
        "cert_store_deleted_count".into(),
        json!(t.cert_store_deleted),
    );
    m.insert(
        "revoked_cert_deleted_count".into(),
        json!(t.revoked_deleted),
    );
    m.insert("missing_issuer_cert_count".into(), json!(0));
    m.insert("current_cert_store_count".into(), json!(cert_count));
    m.insert("current_revoked_cert_count".into(), json!(revoked_count));
    m.insert("acme_account_deleted_count".into(), json!(0));
    m.insert("acme_account_revoked_count".into(), json!(0));
    m.insert("acme_orders_deleted_count".into(), json!(0));
    m.insert("total_acme_account_count".into(), json!(0));
    Ok(Some(Response::with_data(m)))
}

async fn cancel(
    state: Arc<State>,
    _req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let mut t = state.tidy.lock();
    let mut resp = Response::default();
    if !t.running {
        resp.warn("Tidy operation cannot be cancelled as none is currently running.");
        return Ok(Some(resp));
    }
    t.cancel = true;
    t.state = "Cancelling".into();
    drop(t);
    Ok(data(json!({"state": "Cancelling"})))
}

async fn read_auto(
    _state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let cfg: JsonMap = read_json(s.as_ref(), "config/auto-tidy", "auto-tidy config")
        .await?
        .unwrap_or_else(auto_defaults);
    Ok(Some(Response::with_data(cfg)))
}

async fn write_auto(
    _state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let s = storage(&req)?;
    let mut cfg: JsonMap = read_json(s.as_ref(), "config/auto-tidy", "auto-tidy config")
        .await?
        .unwrap_or_else(auto_defaults);
    for k in auto_defaults().keys() {
        if d.is_set(k) {
            cfg.insert(k.clone(), d.get(k)?);
        }
    }
    if cfg.get("enabled") == Some(&json!(true))
        && !FLAGS.iter().any(|f| cfg.get(*f) == Some(&json!(true)))
    {
        return Err(LogicalError::bad_request(
            "Auto-tidy enabled but no tidy operations were requested. Enable at least one tidy operation to be run (tidy_cert_store / tidy_revoked_certs / tidy_invalid_certs / tidy_revoked_cert_issuer_associations / tidy_expired_issuers / tidy_move_legacy_ca_bundle / tidy_acme).",
        ));
    }
    put_json(s.as_ref(), "config/auto-tidy", &cfg).await?;
    Ok(Some(Response::with_data(cfg)))
}
