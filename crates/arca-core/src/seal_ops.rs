//! Operations that need unseal-key shares: unseal, rekey (new shares, optional verification)
//! and generate-root (an OTP-encoded root token).

use arca_barrier::{BarrierError, SealConfig};
use arca_sdk::LogicalError;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD as RAW_STANDARD};
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::core::{Core, barrier_err};
use crate::random::{random_base62, uuid};
use crate::token_store::{SERVICE_TOKEN_PREFIX, TOKEN_RANDOM_LEN};

/// OTP length for generate-root: the length of a root token (`hvs.` + 24).
pub const OTP_LENGTH: usize = SERVICE_TOKEN_PREFIX.len() + TOKEN_RANDOM_LEN;

/// Shares given so far towards an unseal.
#[derive(Default)]
pub(crate) struct UnsealProgress {
    pub(crate) nonce: String,
    pub(crate) keys: Vec<Zeroizing<Vec<u8>>>,
}

/// A rekey in progress.
pub(crate) struct RekeyState {
    pub(crate) nonce: String,
    pub(crate) config: SealConfig,
    pub(crate) keys: Vec<Zeroizing<Vec<u8>>>,
    pub(crate) verification_required: bool,
    pub(crate) backup: bool,
    /// Set once the shares are made but verification is pending.
    pub(crate) pending: Option<PendingRekey>,
}

pub(crate) struct PendingRekey {
    pub(crate) unseal_key: Zeroizing<Vec<u8>>,
    pub(crate) root_key: Zeroizing<Vec<u8>>,
    pub(crate) verification_nonce: String,
    pub(crate) verify_keys: Vec<Zeroizing<Vec<u8>>>,
}

/// A root token generation in progress.
pub(crate) struct GenerateRootState {
    pub(crate) nonce: String,
    pub(crate) otp: Zeroizing<String>,
    pub(crate) otp_generated: bool,
    pub(crate) keys: Vec<Zeroizing<Vec<u8>>>,
}

/// Decodes an unseal key share given as hex or base64, as Vault accepts it.
pub fn decode_key(s: &str) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
    let t = s.trim();
    let bytes = hex::decode(t)
        .or_else(|_| STANDARD.decode(t))
        .map_err(|_| LogicalError::bad_request("'key' must be a valid hex or base64 string"))?;
    if bytes.len() > 33 {
        return Err(LogicalError::bad_request(
            "invalid key: key is longer than maximum 33 bytes",
        ));
    }
    if bytes.is_empty() {
        return Err(LogicalError::bad_request(
            "'key' must be a valid hex or base64 string",
        ));
    }
    Ok(Zeroizing::new(bytes))
}

fn add_share(keys: &mut Vec<Zeroizing<Vec<u8>>>, key: Zeroizing<Vec<u8>>) {
    let dup = keys
        .iter()
        .any(|k| k.len() == key.len() && bool::from(k.as_slice().ct_eq(key.as_slice())));
    if !dup {
        keys.push(key);
    }
}

/// Combines shares into the unseal key (one share with one-of-one is the key itself).
fn combine(
    config: &SealConfig,
    keys: &[Zeroizing<Vec<u8>>],
) -> Result<Zeroizing<Vec<u8>>, LogicalError> {
    if config.secret_shares == 1 && config.secret_threshold == 1 {
        return keys
            .first()
            .cloned()
            .ok_or_else(|| LogicalError::internal("no key"));
    }
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    arca_barrier::shamir::combine(&refs)
        .map_err(|e| LogicalError::bad_request(format!("failed to compute root key: {e}")))
}

fn split(config: &SealConfig, key: &[u8]) -> Result<Vec<Zeroizing<Vec<u8>>>, LogicalError> {
    if config.secret_shares == 1 && config.secret_threshold == 1 {
        return Ok(vec![Zeroizing::new(key.to_vec())]);
    }
    arca_barrier::shamir::split(key, config.secret_shares, config.secret_threshold)
        .map_err(|e| LogicalError::internal(e.to_string()))
}

fn invalid_key(e: BarrierError) -> LogicalError {
    match e {
        BarrierError::InvalidKey
        | BarrierError::Decrypt
        | BarrierError::InvalidKeyLength { .. } => {
            LogicalError::bad_request("Unseal failed, invalid key")
        }
        other => barrier_err(other),
    }
}

impl Core {
    /// `sys/seal-status` as JSON.
    pub async fn seal_status(&self) -> Result<Value, LogicalError> {
        let config = self.seal_config().await?;
        let sealed = self.sealed();
        let (t, n) = config
            .as_ref()
            .map(|c| (c.secret_threshold, c.secret_shares))
            .unwrap_or((0, 0));
        let (progress, nonce) = {
            let u = self.inner.unseal.lock();
            (u.keys.len(), u.nonce.clone())
        };
        let mut v = json!({
            "type": "shamir",
            "initialized": config.is_some(),
            "sealed": sealed,
            "t": t,
            "n": n,
            "progress": progress,
            "nonce": nonce,
            "recovery_seal": false,
            "version": self.config().version,
            "commit_date": crate::BUILD_DATE,
            "migration": false,
        });
        if !sealed && let (Some(info), Value::Object(m)) = (self.cluster_info(), &mut v) {
            m.insert("cluster_name".into(), json!(info.name));
            m.insert("cluster_id".into(), json!(info.id));
        }
        if let Value::Object(m) = &mut v {
            m.insert("storage_type".into(), json!(self.config().storage_type));
        }
        Ok(v)
    }

    /// Adds one unseal key share; unseals when the threshold is reached.
    pub async fn submit_unseal_key(&self, key: Zeroizing<Vec<u8>>) -> Result<Value, LogicalError> {
        let Some(config) = self.seal_config().await? else {
            return Err(LogicalError::bad_request("Vault is not initialized"));
        };
        if !self.sealed() {
            return self.seal_status().await;
        }
        let ready = {
            let mut u = self.inner.unseal.lock();
            if u.nonce.is_empty() {
                u.nonce = uuid();
            }
            add_share(&mut u.keys, key);
            if u.keys.len() >= config.secret_threshold {
                Some(std::mem::take(&mut *u))
            } else {
                None
            }
        };
        if let Some(progress) = ready {
            let unseal_key = combine(&config, &progress.keys)?;
            let root_key =
                arca_barrier::recover_root_key(self.config().physical.as_ref(), &unseal_key)
                    .await
                    .map_err(invalid_key)?;
            self.unseal_with_root_key(&root_key).await?;
        }
        self.seal_status().await
    }

    /// Forgets the shares given so far.
    pub async fn reset_unseal(&self) -> Result<Value, LogicalError> {
        *self.inner.unseal.lock() = UnsealProgress::default();
        self.seal_status().await
    }

    /// Unseals with the complete unseal key at once (dev mode, tests).
    pub async fn unseal_with_key(&self, unseal_key: &[u8]) -> Result<(), LogicalError> {
        let root_key = arca_barrier::recover_root_key(self.config().physical.as_ref(), unseal_key)
            .await
            .map_err(invalid_key)?;
        self.unseal_with_root_key(&root_key).await
    }

    /// Recovers the root key from a full set of current shares, proving the caller holds them.
    async fn root_key_from_shares(
        &self,
        config: &SealConfig,
        keys: &[Zeroizing<Vec<u8>>],
    ) -> Result<(Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>), LogicalError> {
        let unseal_key = combine(config, keys)?;
        let root_key = arca_barrier::recover_root_key(self.config().physical.as_ref(), &unseal_key)
            .await
            .map_err(|e| match e {
                BarrierError::InvalidKey
                | BarrierError::Decrypt
                | BarrierError::InvalidKeyLength { .. } => {
                    LogicalError::bad_request("unable to authenticate provided keys: invalid key")
                }
                other => barrier_err(other),
            })?;
        Ok((unseal_key, root_key))
    }

    // ----- rekey -----

    fn rekey_status_json(&self, state: Option<&RekeyState>, required: usize) -> Value {
        match state {
            None => json!({
                "nonce": "", "started": false, "t": 0, "n": 0, "progress": 0, "required": required,
                "pgp_fingerprints": null, "backup": false, "verification_required": false,
            }),
            Some(s) => {
                let mut v = json!({
                    "nonce": s.nonce, "started": true, "t": s.config.secret_threshold,
                    "n": s.config.secret_shares, "progress": s.keys.len(), "required": required,
                    "pgp_fingerprints": null, "backup": s.backup,
                    "verification_required": s.verification_required,
                });
                if let (Some(p), Value::Object(m)) = (&s.pending, &mut v) {
                    m.insert("verification_nonce".into(), json!(p.verification_nonce));
                }
                v
            }
        }
    }

    /// `GET sys/rekey/init`.
    pub async fn rekey_status(&self) -> Result<Value, LogicalError> {
        let required = self
            .seal_config()
            .await?
            .map(|c| c.secret_threshold)
            .unwrap_or(0);
        let g = self.inner.rekey.lock();
        Ok(self.rekey_status_json(g.as_ref(), required))
    }

    /// `PUT sys/rekey/init`.
    pub async fn rekey_init(
        &self,
        shares: usize,
        threshold: usize,
        pgp_keys: Option<Vec<String>>,
        backup: bool,
        require_verification: bool,
    ) -> Result<Value, LogicalError> {
        if pgp_keys.as_ref().is_some_and(|k| !k.is_empty()) {
            return Err(LogicalError::bad_request(
                "pgp_keys are not supported yet by this server",
            ));
        }
        if backup {
            return Err(LogicalError::bad_request(
                "backup is only available with pgp_keys",
            ));
        }
        let config = SealConfig::shamir(shares, threshold);
        config
            .validate()
            .map_err(|e| LogicalError::bad_request(format!("invalid configuration: {e}")))?;
        let required = self
            .seal_config()
            .await?
            .map(|c| c.secret_threshold)
            .unwrap_or(0);
        let mut g = self.inner.rekey.lock();
        if g.is_some() {
            return Err(LogicalError::bad_request("rekey already in progress"));
        }
        *g = Some(RekeyState {
            nonce: uuid(),
            config,
            keys: Vec::new(),
            verification_required: require_verification,
            backup,
            pending: None,
        });
        Ok(self.rekey_status_json(g.as_ref(), required))
    }

    /// `DELETE sys/rekey/init`.
    pub fn rekey_cancel(&self) {
        *self.inner.rekey.lock() = None;
    }

    /// `PUT sys/rekey/update`.
    pub async fn rekey_update(
        &self,
        key: Zeroizing<Vec<u8>>,
        nonce: &str,
    ) -> Result<Value, LogicalError> {
        let current = self
            .seal_config()
            .await?
            .ok_or_else(|| LogicalError::bad_request("Vault is not initialized"))?;
        let ready = {
            let mut g = self.inner.rekey.lock();
            let Some(s) = g.as_mut() else {
                return Err(LogicalError::bad_request("no rekey in progress"));
            };
            if s.pending.is_some() {
                return Err(LogicalError::bad_request(
                    "rekey operation is waiting for verification of the new shares",
                ));
            }
            if nonce != s.nonce {
                return Err(LogicalError::bad_request(format!(
                    "incorrect nonce supplied; nonce for this rekey operation is {}",
                    s.nonce
                )));
            }
            add_share(&mut s.keys, key);
            if s.keys.len() >= current.secret_threshold {
                Some((
                    std::mem::take(&mut s.keys),
                    s.config.clone(),
                    s.verification_required,
                    s.nonce.clone(),
                ))
            } else {
                let v = self.rekey_status_json(Some(s), current.secret_threshold);
                return Ok(v);
            }
        };
        let Some((keys, new_config, verify, nonce)) = ready else {
            return Err(LogicalError::internal("rekey state lost"));
        };
        let (_, root_key) = match self.root_key_from_shares(&current, &keys).await {
            Ok(k) => k,
            Err(e) => {
                // Wrong shares: start the collection over, as Vault does.
                if let Some(s) = self.inner.rekey.lock().as_mut() {
                    s.keys.clear();
                }
                return Err(e);
            }
        };
        let new_unseal = arca_barrier::generate_key().map_err(barrier_err)?;
        let shares = split(&new_config, &new_unseal)?;
        let mut out = json!({
            "nonce": nonce, "complete": true,
            "keys": shares.iter().map(|k| hex::encode(k.as_slice())).collect::<Vec<_>>(),
            "keys_base64": shares.iter().map(|k| STANDARD.encode(k.as_slice())).collect::<Vec<_>>(),
            "pgp_fingerprints": null, "backup": false, "verification_required": verify,
        });
        if verify {
            let vnonce = uuid();
            if let Some(s) = self.inner.rekey.lock().as_mut() {
                s.pending = Some(PendingRekey {
                    unseal_key: new_unseal,
                    root_key,
                    verification_nonce: vnonce.clone(),
                    verify_keys: Vec::new(),
                });
            }
            if let Value::Object(m) = &mut out {
                m.insert("verification_nonce".into(), json!(vnonce));
            }
        } else {
            self.commit_rekey(&new_config, &new_unseal, &root_key)
                .await?;
            *self.inner.rekey.lock() = None;
        }
        Ok(out)
    }

    async fn commit_rekey(
        &self,
        config: &SealConfig,
        unseal_key: &[u8],
        root_key: &[u8],
    ) -> Result<(), LogicalError> {
        let physical = self.config().physical.clone();
        arca_barrier::store_root_key(physical.as_ref(), unseal_key, root_key)
            .await
            .map_err(barrier_err)?;
        arca_barrier::write_seal_config(physical.as_ref(), config)
            .await
            .map_err(barrier_err)?;
        tracing::info!("core: rekey complete, new unseal key shares in effect");
        Ok(())
    }

    /// `GET sys/rekey/verify`.
    pub fn rekey_verify_status(&self) -> Result<Value, LogicalError> {
        let g = self.inner.rekey.lock();
        let Some(s) = g.as_ref() else {
            return Err(LogicalError::bad_request("no rekey configuration found"));
        };
        let Some(p) = &s.pending else {
            return Err(LogicalError::bad_request(
                "no rekey verification in progress",
            ));
        };
        Ok(json!({
            "nonce": p.verification_nonce, "started": true, "t": s.config.secret_threshold,
            "n": s.config.secret_shares, "progress": p.verify_keys.len(),
        }))
    }

    /// `DELETE sys/rekey/verify`: throws away the verification progress (the new shares stay
    /// pending with a fresh nonce).
    pub fn rekey_verify_cancel(&self) -> Result<Value, LogicalError> {
        {
            let mut g = self.inner.rekey.lock();
            if let Some(p) = g.as_mut().and_then(|s| s.pending.as_mut()) {
                p.verify_keys.clear();
                p.verification_nonce = uuid();
            }
        }
        self.rekey_verify_status()
    }

    /// `PUT sys/rekey/verify`.
    pub async fn rekey_verify(
        &self,
        key: Zeroizing<Vec<u8>>,
        nonce: &str,
    ) -> Result<Value, LogicalError> {
        let done = {
            let mut g = self.inner.rekey.lock();
            let Some(s) = g.as_mut() else {
                return Err(LogicalError::bad_request("no rekey configuration found"));
            };
            let threshold = s.config.secret_threshold;
            let config = s.config.clone();
            let Some(p) = s.pending.as_mut() else {
                return Err(LogicalError::bad_request(
                    "no rekey verification in progress",
                ));
            };
            if nonce != p.verification_nonce {
                return Err(LogicalError::bad_request(format!(
                    "incorrect nonce supplied; nonce for this verify operation is {}",
                    p.verification_nonce
                )));
            }
            add_share(&mut p.verify_keys, key);
            if p.verify_keys.len() < threshold {
                return Ok(
                    json!({"nonce": p.verification_nonce, "complete": false, "progress": p.verify_keys.len()}),
                );
            }
            let combined = combine(&config, &p.verify_keys)?;
            let ok = combined.len() == p.unseal_key.len()
                && bool::from(combined.as_slice().ct_eq(p.unseal_key.as_slice()));
            if !ok {
                p.verify_keys.clear();
                return Err(LogicalError::bad_request(
                    "rekey verification failed; incorrect key shares supplied",
                ));
            }
            (
                config,
                p.unseal_key.clone(),
                p.root_key.clone(),
                p.verification_nonce.clone(),
            )
        };
        let (config, unseal, root, vnonce) = done;
        self.commit_rekey(&config, &unseal, &root).await?;
        *self.inner.rekey.lock() = None;
        Ok(json!({"nonce": vnonce, "complete": true}))
    }

    // ----- generate-root -----

    fn generate_root_json(&self, s: Option<&GenerateRootState>, required: usize) -> Value {
        match s {
            None => json!({
                "nonce": "", "started": false, "progress": 0, "required": required,
                "complete": false, "encoded_token": "", "encoded_root_token": "",
                "pgp_fingerprint": "", "otp": "", "otp_length": OTP_LENGTH,
            }),
            Some(s) => json!({
                "nonce": s.nonce, "started": true, "progress": s.keys.len(), "required": required,
                "complete": false, "encoded_token": "", "encoded_root_token": "",
                "pgp_fingerprint": "", "otp": if s.otp_generated { s.otp.as_str() } else { "" },
                "otp_length": OTP_LENGTH,
            }),
        }
    }

    /// `GET sys/generate-root/attempt`.
    pub async fn generate_root_status(&self) -> Result<Value, LogicalError> {
        let required = self
            .seal_config()
            .await?
            .map(|c| c.secret_threshold)
            .unwrap_or(0);
        let g = self.inner.generate_root.lock();
        let mut v = self.generate_root_json(g.as_ref(), required);
        // The OTP is only ever shown in the answer to the call that made it.
        if let Value::Object(m) = &mut v {
            m.insert("otp".into(), json!(""));
        }
        Ok(v)
    }

    /// `PUT sys/generate-root/attempt`.
    pub async fn generate_root_init(
        &self,
        otp: Option<String>,
        pgp_key: Option<String>,
    ) -> Result<Value, LogicalError> {
        if pgp_key.as_ref().is_some_and(|k| !k.is_empty()) {
            return Err(LogicalError::bad_request(
                "pgp_key is not supported yet by this server",
            ));
        }
        let required = self
            .seal_config()
            .await?
            .map(|c| c.secret_threshold)
            .unwrap_or(0);
        let (otp, generated) = match otp.filter(|o| !o.is_empty()) {
            Some(o) => {
                if o.len() != OTP_LENGTH {
                    return Err(LogicalError::bad_request(format!(
                        "OTP string must be {OTP_LENGTH} characters long"
                    )));
                }
                (o, false)
            }
            None => (random_base62(OTP_LENGTH), true),
        };
        let mut g = self.inner.generate_root.lock();
        if g.is_some() {
            return Err(LogicalError::bad_request(
                "root generation already in progress",
            ));
        }
        *g = Some(GenerateRootState {
            nonce: uuid(),
            otp: Zeroizing::new(otp),
            otp_generated: generated,
            keys: Vec::new(),
        });
        Ok(self.generate_root_json(g.as_ref(), required))
    }

    /// `DELETE sys/generate-root/attempt`.
    pub fn generate_root_cancel(&self) {
        *self.inner.generate_root.lock() = None;
    }

    /// `PUT sys/generate-root/update`.
    pub async fn generate_root_update(
        &self,
        key: Zeroizing<Vec<u8>>,
        nonce: &str,
    ) -> Result<Value, LogicalError> {
        let config = self
            .seal_config()
            .await?
            .ok_or_else(|| LogicalError::bad_request("Vault is not initialized"))?;
        let (keys, otp, nonce) = {
            let mut g = self.inner.generate_root.lock();
            let Some(s) = g.as_mut() else {
                return Err(LogicalError::bad_request("no root generation in progress"));
            };
            if nonce != s.nonce {
                return Err(LogicalError::bad_request(format!(
                    "incorrect nonce supplied; nonce for this root generation operation is {}",
                    s.nonce
                )));
            }
            add_share(&mut s.keys, key);
            if s.keys.len() < config.secret_threshold {
                let mut v = self.generate_root_json(Some(s), config.secret_threshold);
                if let Value::Object(m) = &mut v {
                    m.insert("otp".into(), json!(""));
                }
                return Ok(v);
            }
            (std::mem::take(&mut s.keys), s.otp.clone(), s.nonce.clone())
        };
        self.root_key_from_shares(&config, &keys).await?;
        *self.inner.generate_root.lock() = None;
        let (token, _) = self.create_root_token(None).await?;
        let xored: Zeroizing<Vec<u8>> = Zeroizing::new(
            token
                .as_bytes()
                .iter()
                .zip(otp.as_bytes())
                .map(|(a, b)| a ^ b)
                .collect(),
        );
        let encoded = RAW_STANDARD.encode(xored.as_slice());
        Ok(json!({
            "nonce": nonce, "started": true, "progress": config.secret_threshold,
            "required": config.secret_threshold, "complete": true,
            "encoded_token": encoded, "encoded_root_token": encoded,
            "pgp_fingerprint": "", "otp": "", "otp_length": OTP_LENGTH,
        }))
    }
}

/// Decodes an OTP-encoded root token (what `operator generate-root -decode` does).
pub fn decode_root_token(encoded: &str, otp: &str) -> Option<String> {
    let bytes = RAW_STANDARD.decode(encoded.trim_end_matches('=')).ok()?;
    if bytes.len() != otp.len() {
        return None;
    }
    String::from_utf8(
        bytes
            .iter()
            .zip(otp.as_bytes())
            .map(|(a, b)| a ^ b)
            .collect(),
    )
    .ok()
}
