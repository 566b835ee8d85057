//! The mount's cache of remote signing keys and of the provider's discovery document, and
//! signature checking against whichever key source the config names. A JWKS is fetched on
//! first use and fetched again, once per token, when no cached key verifies it (a new `kid`
//! after the provider rotated its keys), as go-oidc's remote key set does.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::config::{JwtConfig, KeySource};
use crate::fetch;
use crate::keys::{JWKS_ALGS, VerifyKey, parse_jwks, parse_pem_key};
use crate::token::Compact;

/// Keys and discovery document fetched for one config; cleared when the config changes.
#[derive(Default)]
pub(crate) struct KeyStore {
    jwks: Mutex<Option<Arc<CachedJwks>>>,
    discovery: Mutex<Option<Arc<Value>>>,
    statics: Mutex<Option<Arc<StaticKeys>>>,
}

/// The parsed `jwt_validation_pubkeys`, with the PEM texts they came from.
struct StaticKeys {
    pems: Vec<String>,
    keys: Vec<VerifyKey>,
}

struct CachedJwks {
    url: String,
    keys: Vec<VerifyKey>,
}

/// The reason a signature did not verify, as OpenBao words it (without the
/// `error verifying token signature: ` prefix).
pub(crate) type SigError = String;

impl KeyStore {
    /// Forgets every fetched key and document.
    pub async fn clear(&self) {
        if let Ok(mut g) = self.jwks.lock() {
            *g = None;
        }
        if let Ok(mut g) = self.discovery.lock() {
            *g = None;
        }
        if let Ok(mut g) = self.statics.lock() {
            *g = None;
        }
    }

    /// The config's PEM keys, parsed once per key list.
    fn static_keys(&self, pems: &[String]) -> Arc<StaticKeys> {
        if let Some(k) = self
            .statics
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .filter(|k| k.pems == pems)
        {
            return k;
        }
        let parsed = Arc::new(StaticKeys {
            pems: pems.to_vec(),
            keys: pems.iter().filter_map(|p| parse_pem_key(p).ok()).collect(),
        });
        if let Ok(mut g) = self.statics.lock() {
            *g = Some(Arc::clone(&parsed));
        }
        parsed
    }

    /// Whether a validator can be built for `c` (the `status` of `GET config`): an OIDC
    /// discovery config must have a reachable document whose issuer matches.
    pub async fn validator_check(&self, c: &JwtConfig) -> Result<(), String> {
        match c.key_source() {
            KeySource::Discovery | KeySource::OidcFlow => self.discovery_doc(c).await.map(|_| ()),
            KeySource::Unconfigured => Err("unsupported config type".into()),
            _ => Ok(()),
        }
    }

    /// The provider's discovery document, fetched once per config.
    pub async fn discovery_doc(&self, c: &JwtConfig) -> Result<Arc<Value>, String> {
        if let Some(d) = self.discovery.lock().ok().and_then(|g| g.clone()) {
            return Ok(d);
        }
        let client = fetch::client(&c.oidc_discovery_ca_pem)?;
        let doc = Arc::new(fetch::discovery(&client, &c.oidc_discovery_url).await?);
        if let Ok(mut g) = self.discovery.lock() {
            *g = Some(Arc::clone(&doc));
        }
        Ok(doc)
    }

    /// Checks the signature of `t` with the keys of `c`'s source.
    pub async fn verify(&self, c: &JwtConfig, t: &Compact) -> Result<(), SigError> {
        match c.key_source() {
            KeySource::Static => {
                let verified = self
                    .static_keys(&c.jwt_validation_pubkeys)
                    .keys
                    .iter()
                    .any(|k| t.verified_by(k));
                if verified {
                    Ok(())
                } else {
                    Err("no known key successfully validated the token signature".into())
                }
            }
            KeySource::Jwks => {
                let ca = c.jwks_ca_pem.clone();
                self.verify_remote(&c.jwks_url, &ca, t).await
            }
            KeySource::Discovery | KeySource::OidcFlow => {
                let doc = self.discovery_doc(c).await?;
                let url = doc
                    .get("jwks_uri")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.verify_remote(&url, &c.oidc_discovery_ca_pem, t).await
            }
            KeySource::Unconfigured => Err("unsupported config type".into()),
        }
    }

    async fn verify_remote(&self, url: &str, ca_pem: &str, t: &Compact) -> Result<(), SigError> {
        if !JWKS_ALGS.contains(&t.alg.as_str()) {
            let expected: Vec<String> = JWKS_ALGS.iter().map(|a| format!("\"{a}\"")).collect();
            return Err(format!(
                "oidc: malformed jwt: unexpected signature algorithm \"{}\"; expected [{}]",
                t.alg,
                expected.join(" ")
            ));
        }
        let cached = self
            .jwks
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .filter(|j| j.url == url);
        if let Some(j) = cached
            && verified_by_set(&j.keys, t)
        {
            return Ok(());
        }
        let client = fetch::client(ca_pem)?;
        let doc = fetch::get_json(&client, url)
            .await
            .map_err(|e| format!("fetching keys oidc: get keys failed: {e}"))?;
        let fresh = Arc::new(CachedJwks {
            url: url.to_string(),
            keys: parse_jwks(&doc),
        });
        if let Ok(mut g) = self.jwks.lock() {
            *g = Some(Arc::clone(&fresh));
        }
        if verified_by_set(&fresh.keys, t) {
            Ok(())
        } else {
            Err("failed to verify id token signature".into())
        }
    }
}

/// go-oidc's rule: with a `kid`, only keys of that id are tried; without one, all.
fn verified_by_set(keys: &[VerifyKey], t: &Compact) -> bool {
    keys.iter()
        .filter(|k| t.kid.is_empty() || k.kid == t.kid)
        .any(|k| t.verified_by(k))
}
