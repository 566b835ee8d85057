//! The `transit` auto seal: the root key is encrypted and decrypted by another server's
//! transit engine (Arca or OpenBao), through `<mount_path>/encrypt/<key_name>` and
//! `<mount_path>/decrypt/<key_name>` as OpenBao's transit seal calls them.
//!
//! Settings come from the `seal "transit"` stanza, overridden by the environment as OpenBao
//! reads it: `TRANSIT_WRAPPER_*` first, then `VAULT_TRANSIT_SEAL_*` (`ADDR`, `TOKEN`,
//! `KEY_NAME`, `MOUNT_PATH`), then the stanza; without an address or token there,
//! `BAO_ADDR`/`VAULT_ADDR` and `BAO_TOKEN`/`VAULT_TOKEN`; the namespace from
//! `BAO_NAMESPACE`/`VAULT_NAMESPACE` first. The token is never logged nor shown by `Debug`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use arca_core::{AutoSeal, AutoSealError};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// How long one call to the transit server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of a transit engine, used as the server's seal.
pub struct TransitSeal {
    client: reqwest::Client,
    /// The server's address, without a trailing `/`.
    address: String,
    token: Zeroizing<String>,
    namespace: Option<String>,
    /// `<mount_path>/encrypt/<key_name>` and its decrypt twin, under `/v1/`.
    encrypt_url: String,
    decrypt_url: String,
}

impl std::fmt::Debug for TransitSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransitSeal")
            .field("address", &self.address)
            .field("namespace", &self.namespace)
            .field("encrypt_url", &self.encrypt_url)
            .finish_non_exhaustive()
    }
}

/// The first non-empty value among the environment variables `names`.
fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .find(|v| !v.trim().is_empty())
}

fn truthy(v: &str) -> bool {
    matches!(v.trim(), "true" | "1" | "t" | "T" | "TRUE" | "True")
}

impl TransitSeal {
    /// Builds the seal from a `seal "transit"` stanza's settings and the environment.
    pub fn from_config(config: &BTreeMap<String, String>) -> Result<Self> {
        let setting = |key: &str| config.get(key).filter(|v| !v.trim().is_empty()).cloned();
        let address = env_first(&["TRANSIT_WRAPPER_ADDR", "VAULT_TRANSIT_SEAL_ADDR"])
            .or_else(|| setting("address"))
            .or_else(|| env_first(&["BAO_ADDR", "VAULT_ADDR"]))
            .ok_or_else(|| anyhow!("transit seal: 'address' is required"))?;
        let token = Zeroizing::new(
            env_first(&["TRANSIT_WRAPPER_TOKEN", "VAULT_TRANSIT_SEAL_TOKEN"])
                .or_else(|| setting("token"))
                .or_else(|| env_first(&["BAO_TOKEN", "VAULT_TOKEN"]))
                .ok_or_else(|| anyhow!("transit seal: 'token' is required"))?,
        );
        let key_name = env_first(&["TRANSIT_WRAPPER_KEY_NAME", "VAULT_TRANSIT_SEAL_KEY_NAME"])
            .or_else(|| setting("key_name"))
            .ok_or_else(|| anyhow!("transit seal: 'key_name' is required"))?;
        let mount_path = env_first(&[
            "TRANSIT_WRAPPER_MOUNT_PATH",
            "VAULT_TRANSIT_SEAL_MOUNT_PATH",
        ])
        .or_else(|| setting("mount_path"))
        .ok_or_else(|| anyhow!("transit seal: 'mount_path' is required"))?;
        let namespace =
            env_first(&["BAO_NAMESPACE", "VAULT_NAMESPACE"]).or_else(|| setting("namespace"));
        for key in ["tls_client_cert", "tls_client_key", "tls_server_name"] {
            if setting(key).is_some() {
                bail!("transit seal: '{key}' is not supported by Arca yet");
            }
        }
        let address = address.trim().trim_end_matches('/').to_string();
        if !address.starts_with("http://") && !address.starts_with("https://") {
            bail!("transit seal: address {address:?} must start with http:// or https://");
        }
        let mut builder = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
        let ca = setting("tls_ca_cert").or_else(|| env_first(&["BAO_CACERT", "VAULT_CACERT"]));
        if let Some(ca) = ca {
            let pem = std::fs::read(&ca)
                .with_context(|| format!("transit seal: reading tls_ca_cert {ca}"))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("transit seal: tls_ca_cert {ca} is not PEM"))?;
            builder = builder.add_root_certificate(cert);
        }
        let skip_verify = setting("tls_skip_verify")
            .or_else(|| env_first(&["BAO_SKIP_VERIFY", "VAULT_SKIP_VERIFY"]))
            .is_some_and(|v| truthy(&v));
        if skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .context("transit seal: building the HTTP client")?;
        let mount = mount_path.trim().trim_matches('/');
        let key = key_name.trim();
        Ok(Self {
            encrypt_url: format!("{address}/v1/{mount}/encrypt/{key}"),
            decrypt_url: format!("{address}/v1/{mount}/decrypt/{key}"),
            client,
            address,
            token,
            namespace: namespace.map(|n| n.trim().trim_matches('/').to_string()),
        })
    }

    /// Writes `body` to `url`; returns the `data` of the answer.
    async fn write(
        &self,
        url: &str,
        body: Value,
    ) -> Result<serde_json::Map<String, Value>, AutoSealError> {
        let mut req = self
            .client
            .post(url)
            .header("X-Vault-Token", self.token.as_str())
            .header("X-Vault-Request", "true")
            .json(&body);
        if let Some(ns) = self.namespace.as_deref().filter(|n| !n.is_empty()) {
            req = req.header("X-Vault-Namespace", ns);
        }
        // The error of a failed send names the URL, never a header: the token stays out.
        let resp = req
            .send()
            .await
            .map_err(|e| AutoSealError(format!("transit server unreachable: {e}")))?;
        let status = resp.status();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let errors = answer
                .get("errors")
                .and_then(Value::as_array)
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            return Err(AutoSealError(format!(
                "transit server answered {}: {errors}",
                status.as_u16()
            )));
        }
        match answer.get("data") {
            Some(Value::Object(data)) => Ok(data.clone()),
            _ => Err(AutoSealError(
                "transit server answered without data".to_string(),
            )),
        }
    }
}

#[async_trait]
impl AutoSeal for TransitSeal {
    fn seal_type(&self) -> &str {
        "transit"
    }

    async fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, AutoSealError> {
        let b64 = Zeroizing::new(STANDARD.encode(plaintext));
        let data = self
            .write(&self.encrypt_url, json!({ "plaintext": b64.as_str() }))
            .await?;
        match data.get("ciphertext") {
            Some(Value::String(c)) => Ok(c.as_bytes().to_vec()),
            _ => Err(AutoSealError(
                "after encrypt operation ciphertext was not found in data returned from the transit server"
                    .to_string(),
            )),
        }
    }

    async fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, AutoSealError> {
        let ciphertext = std::str::from_utf8(ciphertext)
            .map_err(|_| AutoSealError("stored transit ciphertext is not text".to_string()))?;
        let mut data = self
            .write(&self.decrypt_url, json!({ "ciphertext": ciphertext }))
            .await?;
        let Some(Value::String(b64)) = data.remove("plaintext") else {
            return Err(AutoSealError(
                "after decrypt operation plaintext was not found in data returned from the transit server"
                    .to_string(),
            ));
        };
        let b64 = Zeroizing::new(b64);
        STANDARD
            .decode(b64.as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| {
                AutoSealError("transit server returned a plaintext that is not base64".to_string())
            })
    }
}

/// The seals a server config names: at most one in use and one disabled (the seal a
/// migration moves away from). `shamir` stanzas mean Shamir; `transit` is the only auto seal.
pub fn seal_setup(stanzas: &[arca_config::SealStanza]) -> Result<arca_core::SealSetup> {
    let mut setup = arca_core::SealSetup::default();
    let (mut enabled, mut disabled) = (0, 0);
    for stanza in stanzas {
        let auto: Option<std::sync::Arc<dyn AutoSeal>> = match stanza.kind.as_str() {
            "shamir" => None,
            "transit" => Some(std::sync::Arc::new(TransitSeal::from_config(
                &stanza.config,
            )?)),
            other => bail!("seal type {other:?} is not supported by Arca (shamir, transit)"),
        };
        if stanza.disabled() {
            disabled += 1;
            setup.disabled = auto;
        } else {
            enabled += 1;
            setup.auto = auto;
        }
    }
    if enabled > 1 || disabled > 1 {
        bail!("at most one seal stanza may be enabled and one disabled");
    }
    if setup.auto.is_some() && setup.disabled.is_some() {
        bail!("migrating between two auto seals is not supported by Arca");
    }
    Ok(setup)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn stanza(kind: &str, pairs: &[(&str, &str)]) -> arca_config::SealStanza {
        arca_config::SealStanza {
            kind: kind.into(),
            config: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    const TRANSIT: &[(&str, &str)] = &[
        ("address", "http://127.0.0.1:8200/"),
        ("token", "s.secret-token"),
        ("key_name", "unseal"),
        ("mount_path", "/transit/"),
    ];

    #[test]
    fn transit_urls_and_no_token_in_debug() {
        let seal = TransitSeal::from_config(&stanza("transit", TRANSIT).config).unwrap();
        assert_eq!(
            seal.encrypt_url,
            "http://127.0.0.1:8200/v1/transit/encrypt/unseal"
        );
        assert_eq!(
            seal.decrypt_url,
            "http://127.0.0.1:8200/v1/transit/decrypt/unseal"
        );
        assert!(!format!("{seal:?}").contains("secret-token"));
    }

    #[test]
    fn seal_setups() {
        let shamir = seal_setup(&[]).unwrap();
        assert_eq!(shamir.seal_type(), "shamir");
        let auto = seal_setup(&[stanza("transit", TRANSIT)]).unwrap();
        assert_eq!(auto.seal_type(), "transit");
        assert!(auto.disabled.is_none());
        let mut off = TRANSIT.to_vec();
        off.push(("disabled", "true"));
        let back = seal_setup(&[stanza("transit", &off)]).unwrap();
        assert_eq!(back.seal_type(), "shamir");
        assert!(back.disabled.is_some());
        assert!(seal_setup(&[stanza("awskms", &[])]).is_err());
        assert!(seal_setup(&[stanza("transit", TRANSIT), stanza("transit", &off)]).is_err());
        let missing = seal_setup(&[stanza("transit", &TRANSIT[..2])]).unwrap_err();
        assert!(missing.to_string().contains("key_name"), "{missing}");
    }
}
