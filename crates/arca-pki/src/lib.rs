//! The PKI secrets engine: certificate authorities (root and intermediate, several issuers
//! per mount), roles, issuing and signing certificates, revocation and CRLs, written against
//! `arca-sdk` only. Paths, fields, JSON shapes, error texts and the storage layout are
//! OpenBao 2.7.2's; certificates, CSRs and CRLs are built by rcgen and read by x509-parser.

mod certs;
mod config;
mod crl;
mod error;
mod issuers;
mod issuing;
mod keys;
mod names;
mod ocsp;
mod paths_ca;
mod paths_fetch;
mod paths_issue;
mod paths_issuers;
mod paths_revoke;
mod paths_roles;
mod roles;
mod tidy;
mod x509;

use std::future::Future;
use std::sync::Arc;

use arca_sdk::framework::{FieldData, FrameworkBackend, OpHandler, SecretType, handler};
use arca_sdk::{
    Backend, BackendConfig, BackendType, Factory, JsonMap, LogicalError, RawHttp, Request,
    Response, SpecialPaths, Storage, SystemView,
};
use futures::FutureExt;
use serde_json::{Value, json};

pub use error::PkiError;

const HELP: &str = "The PKI backend dynamically generates X509 server and client certificates.";

/// The secret type of certificates issued with `generate_lease`.
pub(crate) const SECRET_CERT: &str = "pki";

/// What every handler of a mount shares.
pub(crate) struct State {
    /// The mount's lease TTLs.
    pub(crate) system: Arc<dyn SystemView>,
    /// The secret type of leased certificates.
    pub(crate) cert_secret: std::sync::OnceLock<SecretType>,
    /// Serialises CRL rebuilds.
    pub(crate) crl_lock: tokio::sync::Mutex<()>,
    /// The last (or running) tidy.
    pub(crate) tidy: parking_lot::Mutex<tidy::TidyStatus>,
}

/// Wraps an async function of the shared state as a framework handler.
pub(crate) fn op<F, Fut>(state: &Arc<State>, f: F) -> OpHandler
where
    F: Fn(Arc<State>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let s = state.clone();
    handler(move |req, d| f(s.clone(), req, d))
}

/// The request's storage view.
pub(crate) fn storage(req: &Request) -> Result<Arc<dyn Storage>, LogicalError> {
    Ok(req.storage()?.clone())
}

/// A response with `data`.
pub(crate) fn data(v: Value) -> Option<Response> {
    match v {
        Value::Object(m) => Some(Response::with_data(m)),
        _ => Some(Response::with_data(JsonMap::new())),
    }
}

/// A LIST answer: `keys`, plus `key_info` when given.
pub(crate) fn list(keys: Vec<String>, key_info: Option<JsonMap>) -> Option<Response> {
    let mut m = JsonMap::new();
    if keys.is_empty() {
        return Some(Response::with_data(m));
    }
    m.insert("keys".into(), json!(keys));
    if let Some(info) = key_info {
        m.insert("key_info".into(), Value::Object(info));
    }
    Some(Response::with_data(m))
}

/// A raw HTTP answer (certificates and CRLs served as files).
pub(crate) fn raw(content_type: &str, body: Vec<u8>) -> Option<Response> {
    Some(Response {
        raw: Some(RawHttp {
            status: 200,
            content_type: content_type.to_string(),
            body,
            stream: None,
        }),
        ..Response::default()
    })
}

/// Unix seconds as RFC 3339 (UTC).
/// The last segment of a request path (`der` of `issuer/x/der`): what a path with unnamed
/// alternatives (one OpenAPI path each, as OpenBao documents them) was called as.
pub(crate) fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

pub(crate) fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// Revokes the certificate of an expired or revoked lease.
async fn revoke_lease(
    state: Arc<State>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let serial = req
        .secret
        .as_ref()
        .and_then(|s| s.internal_data.get("serial_number"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| LogicalError::internal("could not find serial in internal secret data"))?;
    let s = storage(&req)?;
    paths_revoke::revoke_serial(&state, s.as_ref(), &serial).await?;
    Ok(None)
}

/// The factory of the `pki` type.
pub fn factory() -> Factory {
    Arc::new(|conf: BackendConfig| {
        async move {
            let state = Arc::new(State {
                system: conf.system.clone(),
                cert_secret: std::sync::OnceLock::new(),
                crl_lock: tokio::sync::Mutex::new(()),
                tidy: parking_lot::Mutex::new(tidy::TidyStatus::default()),
            });
            let secret = SecretType::new(SECRET_CERT)
                .field(arca_sdk::framework::Field::new(
                    "serial_number",
                    arca_sdk::framework::FieldType::String,
                    "The serial number of the certificate",
                ))
                .revoke(op(&state, revoke_lease));
            let _ = state.cert_secret.set(secret.clone());
            let mut fb = FrameworkBackend::new(BackendType::Logical, HELP).secret(secret);
            for p in paths_fetch::paths(&state)
                .into_iter()
                .chain(paths_ca::paths(&state))
                .chain(paths_issuers::paths(&state))
                .chain(paths_roles::paths(&state))
                .chain(paths_issue::paths(&state))
                .chain(paths_revoke::paths(&state))
                .chain(tidy::paths(&state))
                .chain(ocsp::paths(&state))
            {
                fb = fb.path(p);
            }
            fb = fb.special_paths(SpecialPaths {
                unauthenticated: [
                    "cert/*",
                    "ca/pem",
                    "ca_chain",
                    "ca",
                    "crl/delta",
                    "crl/delta/pem",
                    "crl/pem",
                    "crl",
                    "issuer/+/crl/der",
                    "issuer/+/crl/pem",
                    "issuer/+/crl",
                    "issuer/+/crl/delta/der",
                    "issuer/+/crl/delta/pem",
                    "issuer/+/crl/delta",
                    "issuer/+/pem",
                    "issuer/+/der",
                    "issuer/+/json",
                    "issuers/",
                    "ocsp",
                    "ocsp/*",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
                local_storage: vec!["revoked/".into(), "crls/".into(), "certs/".into()],
                seal_wrap_storage: vec!["config/key/".into()],
                ..SpecialPaths::default()
            });
            let backend: Arc<dyn Backend> = Arc::new(fb);
            Ok(backend)
        }
        .boxed()
    })
}
