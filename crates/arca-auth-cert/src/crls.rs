//! The CRL endpoints: `crls/` (list) and `crls/<name>` (write a CRL or a distribution point
//! URL, read the revoked serials, delete). A login refuses any chain holding a serial listed
//! in any stored CRL. A CRL given by URL is fetched again once its next update has passed,
//! by the mount's background task ([`refresh`], OpenBao's periodic `updateCRLs`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use arca_sdk::framework::FieldData;
use arca_sdk::{JsonMap, LogicalError, Request, Response};
use serde_json::Value;
use x509_parser::pem::Pem;

use crate::State;
use crate::entry::{self, CdpInfo, CrlInfo};

fn name_of(d: &FieldData) -> Result<String, LogicalError> {
    Ok(d.get_str("name")?.to_lowercase())
}

/// The revoked serials (decimal) and next update (RFC 3339) of a CRL in PEM or DER, or the
/// reason it does not parse.
pub(crate) fn parse_crl(bytes: &[u8]) -> Result<(Vec<String>, String), String> {
    let der = if bytes.starts_with(b"-----BEGIN X509 CRL") {
        match Pem::iter_from_buffer(bytes).next() {
            Some(Ok(p)) => p.contents,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("no PEM block".to_string()),
        }
    } else {
        bytes.to_vec()
    };
    let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|e| e.to_string())?;
    let serials = crl
        .iter_revoked_certificates()
        .map(|r| r.user_certificate.to_string())
        .collect();
    let next = crl
        .next_update()
        .and_then(|t| chrono::DateTime::from_timestamp(t.timestamp(), 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string());
    Ok((serials, next))
}

fn info_of(serials: Vec<String>, cdp: Option<CdpInfo>) -> CrlInfo {
    CrlInfo {
        version: 0,
        cdp,
        serials: serials
            .into_iter()
            .map(|s| (s, Value::Object(JsonMap::new())))
            .collect(),
    }
}

/// Fetches the CRL at `url` (off the async runtime's worker, via reqwest).
async fn fetch(url: &str) -> Result<(Vec<String>, String), LogicalError> {
    let resp = reqwest::get(url)
        .await
        .map_err(|e| LogicalError::internal(format!("Get \"{url}\": {e}")))?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(LogicalError::internal(format!(
            "unexpected response code {status} fetching CRL from {url}"
        )));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| LogicalError::internal(e.to_string()))?;
    parse_crl(&body).map_err(LogicalError::internal)
}

/// `POST crls/<name>` with `crl` (PEM or DER) or `url`.
pub(crate) async fn write(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    if name.is_empty() {
        return Err(LogicalError::bad_request(
            "'name' parameter cannot be empty",
        ));
    }
    let storage = req.storage()?;
    let info = if d.get_given("crl")?.is_some() {
        let text = d.get_str("crl")?;
        let (serials, _) = parse_crl(text.as_bytes())
            .map_err(|e| LogicalError::bad_request(format!("failed to parse CRL: {e}")))?;
        info_of(serials, None)
    } else if d.get_given("url")?.is_some() {
        let url = d.get_str("url")?;
        if url.is_empty() {
            return Err(LogicalError::bad_request("empty CRL url"));
        }
        let (serials, valid_until) = fetch(&url).await?;
        info_of(serials, Some(CdpInfo { url, valid_until }))
    } else {
        return Err(LogicalError::bad_request(
            "one of 'crl' or 'url' must be provided",
        ));
    };
    let by_url = info.cdp.is_some();
    let _guard = state.write_lock.lock().await;
    entry::store_crl(storage.as_ref(), &name, &info).await?;
    if by_url {
        // Its next update may come before the refresh task would wake.
        state.crl_written.notify_one();
    }
    Ok(None)
}

/// `GET crls/<name>`: the revoked serials (each an empty object) and the distribution point.
pub(crate) async fn read(req: Request, d: FieldData) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    if name.is_empty() {
        return Err(LogicalError::bad_request("'name' parameter must be set"));
    }
    let Some(crl) = entry::load_crl(req.storage()?.as_ref(), &name).await? else {
        return Err(LogicalError::bad_request(format!("no such CRL {name}")));
    };
    let mut data = JsonMap::new();
    if !crl.serials.is_empty() {
        let serials: JsonMap = crl.serials.into_iter().collect();
        data.insert("serials".into(), Value::Object(serials));
    }
    if let Some(cdp) = crl.cdp {
        data.insert(
            "cdp".into(),
            serde_json::json!({"url": cdp.url, "valid_until": cdp.valid_until}),
        );
    }
    Ok(Some(Response::with_data(data)))
}

/// `DELETE crls/<name>`: the CRL must exist.
pub(crate) async fn delete(
    state: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let name = name_of(&d)?;
    if name.is_empty() {
        return Err(LogicalError::bad_request(
            "'name' parameter cannot be empty",
        ));
    }
    let storage = req.storage()?;
    let _guard = state.write_lock.lock().await;
    if entry::load_crl(storage.as_ref(), &name).await?.is_none() {
        return Err(LogicalError::bad_request(format!("no such CRL {name}")));
    }
    storage
        .delete(&format!("{}{name}", entry::CRL_PREFIX))
        .await?;
    Ok(None)
}

/// The longest the refresh task sleeps (OpenBao's periodic function runs once a minute).
const TICK: Duration = Duration::from_secs(60);
/// The shortest it sleeps.
const MIN_WAIT: Duration = Duration::from_millis(500);

/// The mount's CRL refresh task: re-fetches the CRLs given by URL whose next update has
/// passed, then sleeps until the earliest next update still to come (a minute at most) or
/// until a CRL is written by URL. Ends when the mount is gone.
pub(crate) async fn refresh(state: Weak<State>) {
    loop {
        let Some(strong) = state.upgrade() else {
            return;
        };
        let wait = refresh_due(&strong).await;
        let written = Arc::clone(&strong.crl_written);
        // Not holding the mount alive while asleep. A write in between leaves a permit, so
        // it is not missed.
        drop(strong);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = written.notified() => {}
        }
    }
}

fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// One pass of the refresh: OpenBao's `updateCRLs` (each CRL with a distribution point whose
/// next update is past is fetched and stored again; failures are logged and retried on the
/// next pass). Answers how long to sleep.
async fn refresh_due(state: &State) -> Duration {
    let storage = state.storage.as_ref();
    let Ok(names) = storage.list(entry::CRL_PREFIX).await else {
        return TICK;
    };
    let mut wait = TICK;
    for name in names {
        let Ok(Some(info)) = entry::load_crl(storage, &name).await else {
            continue;
        };
        let Some(cdp) = info.cdp else {
            continue;
        };
        let mut until = parse_time(&cdp.valid_until);
        if until.is_none_or(|t| chrono::Utc::now() > t) {
            match fetch(&cdp.url).await {
                Ok((serials, valid_until)) => {
                    until = parse_time(&valid_until);
                    let _guard = state.write_lock.lock().await;
                    // Store only if the entry still names this URL (not deleted or rewritten
                    // while the fetch ran).
                    let current = entry::load_crl(storage, &name).await.ok().flatten();
                    if current
                        .and_then(|c| c.cdp)
                        .is_some_and(|c| c.url == cdp.url)
                    {
                        let info = info_of(
                            serials,
                            Some(CdpInfo {
                                url: cdp.url.clone(),
                                valid_until,
                            }),
                        );
                        if let Err(e) = entry::store_crl(storage, &name, &info).await {
                            tracing::warn!(crl = %name, error = %e, "failed to store refreshed CRL");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(crl = %name, url = %cdp.url, error = %e, "failed to refresh CRL");
                    continue;
                }
            }
        }
        if let Some(left) = until.and_then(|t| (t - chrono::Utc::now()).to_std().ok()) {
            // Wake just after the next update, when it counts as passed.
            wait = wait.min(left + Duration::from_millis(100));
        }
    }
    wait.max(MIN_WAIT)
}
