//! The calls to the Kubernetes API server: `POST /apis/authentication.k8s.io/v1/tokenreviews`
//! (is this service account token still valid, and whose is it?) and
//! `GET /api/v1/namespaces/<ns>` (the labels a namespace selector is matched against). Over
//! HTTPS, trusting only the configured CA.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// How long a connection to the API server may take to open (Go's default dialer's).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one call may take in all.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// An HTTPS client trusting the certificates of `ca_pem` and nothing else. With no usable
/// certificate there is no client, and so no call can succeed (OpenBao's empty pool).
pub(crate) fn client_for(ca_pem: &str) -> Result<reqwest::Client, String> {
    let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).unwrap_or_default();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .min_tls_version(reqwest::tls::Version::TLS_1_2)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    for cert in certs {
        builder = builder.add_root_certificate(cert);
    }
    builder.build().map_err(|e| e.to_string())
}

/// The innermost cause of a failed call, as Go prints one (`Get "<url>": <cause>`).
fn call_error(method: &str, url: &str, e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    format!("{method} {url:?}: {cause}")
}

fn bearer(token: &str) -> Result<HeaderValue, String> {
    let mut v = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
        .map_err(|_| "invalid bearer token".to_string())?;
    v.set_sensitive(true);
    Ok(v)
}

/// Who a TokenReview says a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reviewed {
    /// The service account's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its UID.
    pub uid: String,
}

/// Asks the API server at `host` to review `jwt` for `audiences`, authorised with
/// `reviewer_jwt` (or, when that is empty, `jwt` itself). Any failure is an error; its text
/// is only logged.
pub(crate) async fn token_review(
    client: Option<&reqwest::Client>,
    host: &str,
    reviewer_jwt: &str,
    jwt: &str,
    audiences: &[String],
) -> Result<Reviewed, String> {
    let url = format!(
        "{}/apis/authentication.k8s.io/v1/tokenreviews",
        host.trim_end_matches('/')
    );
    let mut spec = json!({ "token": jwt });
    if !audiences.is_empty() {
        spec["audiences"] = json!(audiences);
    }
    let body = Zeroizing::new(
        serde_json::to_vec(&json!({
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {},
            "spec": spec,
        }))
        .map_err(|e| e.to_string())?,
    );
    let auth = bearer(if reviewer_jwt.is_empty() {
        jwt
    } else {
        reviewer_jwt
    })?;
    let client = client.ok_or_else(|| "no trusted CA certificate".to_string())?;
    let resp = client
        .post(&url)
        .header(AUTHORIZATION, auth)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json")
        .body(body.to_vec())
        .send()
        .await
        .map_err(|e| call_error("Post", &url, &e))?;
    let status = resp.status().as_u16();
    let text = resp
        .bytes()
        .await
        .map_err(|e| call_error("Post", &url, &e))?;
    if status == 401 {
        return Err("lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token".into());
    }
    if !(200..=206).contains(&status) {
        return Err(format!(
            "the server responded with status {status}: {}",
            String::from_utf8_lossy(&text).trim()
        ));
    }
    let review: Value = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    parse_review(&review, audiences)
}

/// Reads a TokenReview answer: refuses a `Status` that is no success, an error, a token not
/// authenticated, no audience in common with the ones asked for, or a user that is not
/// `system:serviceaccount:<namespace>:<name>`.
fn parse_review(review: &Value, audiences: &[String]) -> Result<Reviewed, String> {
    match review.get("status") {
        None => return Err("unknown status of the API server's answer".into()),
        Some(Value::String(s)) if s != "Success" => {
            let message = review
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(message.to_string());
        }
        _ => {}
    }
    let status = &review["status"];
    let error = status
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !error.is_empty() {
        return Err(format!("lookup failed: {error}"));
    }
    if status.get("authenticated").and_then(Value::as_bool) != Some(true) {
        return Err("lookup failed: service account jwt not valid".into());
    }
    if !audiences.is_empty() {
        let got: Vec<&str> = status
            .get("audiences")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if !audiences.iter().any(|a| got.contains(&a.as_str())) {
            return Err(format!(
                "lookup failed: service account jwt valid for audience(s) {got:?}, but wanted {audiences:?}"
            ));
        }
    }
    let user = &status["user"];
    let username = user
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let parts: Vec<&str> = username.split(':').collect();
    let [system, kind, namespace, name] = parts.as_slice() else {
        return Err("lookup failed: unexpected username format".into());
    };
    if *system != "system" || *kind != "serviceaccount" {
        return Err("lookup failed: username returned is not a service account".into());
    }
    Ok(Reviewed {
        name: (*name).to_string(),
        namespace: (*namespace).to_string(),
        uid: user
            .get("uid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    })
}

/// The labels of `namespace`, read with `reviewer_jwt` (which must be set), with OpenBao's
/// texts for the failures.
pub(crate) async fn namespace_labels(
    client: Option<&reqwest::Client>,
    host: &str,
    reviewer_jwt: &str,
    namespace: &str,
) -> Result<BTreeMap<String, String>, String> {
    let url = format!(
        "{}/api/v1/namespaces/{namespace}",
        host.trim_end_matches('/')
    );
    if reviewer_jwt.is_empty() {
        return Err("namespace lookup failed: TokenReviewer JWT needs to be configured to use namespace selectors".into());
    }
    let auth = bearer(reviewer_jwt)?;
    let Some(client) = client else {
        return Err(format!(
            "Get {url:?}: tls: failed to verify certificate: x509: certificate signed by unknown authority"
        ));
    };
    let resp = client
        .get(&url)
        .header(AUTHORIZATION, auth)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| call_error("Get", &url, &e))?;
    let code = resp.status().as_u16();
    let text = resp
        .bytes()
        .await
        .map_err(|e| call_error("Get", &url, &e))?;
    if code != 200 {
        let status: Value = serde_json::from_slice(&text).map_err(|e| {
            format!("failed to parse error status on namespace retrieval failure err={e}")
        })?;
        let state = status
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if state != "Success" {
            let message = status
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(format!(
                "failed to get namespace (code {code} status {message})"
            ));
        }
    }
    let ns: Value = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    Ok(ns
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_are_read_as_openbao_reads_them() {
        let ok = json!({"status": {"authenticated": true, "audiences": ["a"],
            "user": {"username": "system:serviceaccount:ns:sa", "uid": "u"}}});
        assert_eq!(
            parse_review(&ok, &["a".into()]),
            Ok(Reviewed {
                name: "sa".into(),
                namespace: "ns".into(),
                uid: "u".into()
            })
        );
        assert!(
            parse_review(&ok, &["b".into()])
                .unwrap_err()
                .contains("but wanted")
        );
        let no = json!({"status": {"authenticated": false}});
        assert_eq!(
            parse_review(&no, &[]).unwrap_err(),
            "lookup failed: service account jwt not valid"
        );
        let user = json!({"status": {"authenticated": true, "user": {"username": "alice"}}});
        assert_eq!(
            parse_review(&user, &[]).unwrap_err(),
            "lookup failed: unexpected username format"
        );
        let failure = json!({"kind": "Status", "status": "Failure", "message": "nope"});
        assert_eq!(parse_review(&failure, &[]).unwrap_err(), "nope");
    }
}
