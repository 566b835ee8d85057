//! Outbound HTTP to the identity provider: the OIDC discovery document, a JWKS, the token
//! endpoint and the userinfo endpoint, each through a client that trusts the configured CA
//! (or the system roots when none is set).

use std::time::Duration;

use serde_json::Value;

/// How long one call to the provider may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A client trusting `ca_pem` alone, or the system roots when it is empty.
pub(crate) fn client(ca_pem: &str) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(10));
    if !ca_pem.trim().is_empty() {
        let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
            .map_err(|_| "could not parse CA PEM value successfully".to_string())?;
        if certs.is_empty() {
            return Err("could not parse CA PEM value successfully".into());
        }
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build().map_err(|e| e.to_string())
}

/// GETs `url` and parses its JSON body; a status other than 200 is an error reading
/// `"<status>: <body>"`, as Go's clients report it.
pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("Get \"{url}\": {}", error_chain(&e)))?;
    json_body(resp).await
}

/// POSTs a form to `url`, with HTTP Basic credentials when `basic` is given, and parses the
/// JSON answer.
pub(crate) async fn post_form(
    client: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> Result<Value, String> {
    let mut req = client.post(url).form(form);
    if let Some((user, password)) = basic {
        req = req.basic_auth(user, Some(password));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("Post \"{url}\": {}", error_chain(&e)))?;
    json_body(resp).await
}

async fn json_body(resp: reqwest::Response) -> Result<Value, String> {
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("unable to read response body: {e}"))?;
    if status != reqwest::StatusCode::OK {
        return Err(format!("{status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("could not unmarshal as JSON: {e}"))
}

/// The innermost cause of a client error (the connection refusal, not reqwest's wrapper).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

/// The discovery document of `issuer` (`<issuer>/.well-known/openid-configuration`), whose
/// `issuer` must be `issuer` itself.
pub(crate) async fn discovery(client: &reqwest::Client, issuer: &str) -> Result<Value, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let doc = get_json(client, &url).await?;
    let got = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
    if got != issuer {
        return Err(format!(
            "issuer did not match the returned issuer, expected \"{issuer}\" got \"{got}\""
        ));
    }
    Ok(doc)
}
