//! The commonest transit requests without the path framework: an `encrypt/<name>` update whose
//! body is only `plaintext`, a `decrypt/<name>` update whose body is only `ciphertext`. They
//! are answered with the same key lookup, the same checks, the same errors in the same order
//! and the same answer as the framework handlers in [`crate::paths_crypt`] give a one-item
//! request; everything else (a create, any other field, a batch, a non-string value, a name
//! that is not a plain ASCII generic name) goes to the framework. Routing, field conversion
//! and validation and the per-item bookkeeping of a batch cost several times the AES-GCM
//! operation itself (issue 17 asks for the engine within 2x of the raw aws-lc-rs cost).

use arca_sdk::framework::is_generic_name;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use serde_json::Value;

use crate::State;
use crate::keyring::{Loaded, OpError, b64_decode};

/// Which fast request a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fast {
    /// `encrypt/<name>` with only `plaintext`.
    Encrypt,
    /// `decrypt/<name>` with only `ciphertext`.
    Decrypt,
}

/// The fast request `req` is, if it is one.
pub(crate) fn classify(req: &Request) -> Option<Fast> {
    if req.operation != Operation::Update || req.data.len() != 1 {
        return None;
    }
    let (kind, name, field) = if let Some(name) = req.path.strip_prefix("encrypt/") {
        (Fast::Encrypt, name, "plaintext")
    } else if let Some(name) = req.path.strip_prefix("decrypt/") {
        (Fast::Decrypt, name, "ciphertext")
    } else {
        return None;
    };
    (is_generic_name(name) && matches!(req.data.get(field), Some(Value::String(_)))).then_some(kind)
}

/// The key name and the one field's text of a request [`classify`] accepted.
fn parts(kind: Fast, req: &Request) -> Result<(&str, &str), LogicalError> {
    let (prefix, field) = match kind {
        Fast::Encrypt => ("encrypt/", "plaintext"),
        Fast::Decrypt => ("decrypt/", "ciphertext"),
    };
    match (req.path.strip_prefix(prefix), req.data.get(field)) {
        (Some(name), Some(Value::String(text))) => Ok((name, text)),
        _ => Err(LogicalError::internal(
            "fast transit path on a request it does not take",
        )),
    }
}

/// The answer to a request [`classify`] accepted when its key is in the cache, at once (no
/// future holding the request); `None` when the key must be loaded first ([`handle`]).
pub(crate) fn answer_cached(
    state: &State,
    kind: Fast,
    req: &Request,
) -> Option<Result<Option<Response>, LogicalError>> {
    let (name, text) = match parts(kind, req) {
        Ok(p) => p,
        Err(e) => return Some(Err(e)),
    };
    let key = state.keys.cached(name)?;
    Some(answer(kind, text, Some(&key)))
}

/// Answers a request [`classify`] accepted, as the framework handler would, loading its key.
pub(crate) async fn handle(
    state: &State,
    kind: Fast,
    req: Request,
) -> Result<Option<Response>, LogicalError> {
    let (name, text) = parts(kind, &req)?;
    let key = state.keys.get(req.storage()?.as_ref(), name).await?;
    answer(kind, text, key.as_deref())
}

/// The framework handler's answer to a one-item request with input `text` and key `key`.
fn answer(kind: Fast, text: &str, key: Option<&Loaded>) -> Result<Option<Response>, LogicalError> {
    // The framework handlers decode (encrypt) or check (decrypt) the input first and report
    // its error only after the key lookup; the same order here.
    let data = match kind {
        Fast::Encrypt => {
            let plaintext = b64_decode(text);
            let Some(k) = key else {
                return Err(LogicalError::bad_request("encryption key not found"));
            };
            let plaintext = plaintext.map_err(LogicalError::bad_request)?;
            let (ciphertext, version) = k.encrypt(0, &[], &plaintext, &[]).map_err(op_error)?;
            let mut data = JsonMap::new();
            data.insert("ciphertext".into(), Value::String(ciphertext));
            data.insert("key_version".into(), Value::from(version));
            data
        }
        Fast::Decrypt => {
            let Some(k) = key else {
                return Err(LogicalError::bad_request("encryption key not found"));
            };
            if text.is_empty() {
                return Err(LogicalError::bad_request("missing ciphertext to decrypt"));
            }
            let (plain, _) = k.decrypt(&[], text, &[]).map_err(op_error)?;
            let mut data = JsonMap::new();
            data.insert(
                "plaintext".into(),
                Value::String(arca_sdk::b64::encode_std(plain.as_slice())),
            );
            data
        }
    };
    Ok(Some(Response::with_data(data)))
}

/// A one-item failure as the framework handlers answer it: 400 for the caller's, 500 for ours.
fn op_error(e: OpError) -> LogicalError {
    match e {
        OpError::User(e) => LogicalError::bad_request(e),
        OpError::Internal(e) => LogicalError::internal(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use arca_sdk::storage::MemoryStorage;
    use arca_sdk::{Backend, BackendConfig, StaticSystemView, Storage};
    use serde_json::json;
    use std::sync::Arc;

    /// A transit mount on in-memory storage, and its storage.
    async fn mount() -> (Arc<dyn Backend>, Arc<dyn Storage>) {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let conf = BackendConfig {
            storage: storage.clone(),
            system: Arc::new(StaticSystemView::default()),
            config: Default::default(),
            backend_uuid: "test".into(),
        };
        (crate::factory()(conf).await.unwrap(), storage)
    }

    async fn call(
        b: &Arc<dyn Backend>,
        s: &Arc<dyn Storage>,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<Option<Response>, LogicalError> {
        let mut r = req(op, path, body);
        r.storage = Some(s.clone());
        b.handle_request(r).await
    }

    /// The answer's data, or the error's status and text.
    fn outcome(r: Result<Option<Response>, LogicalError>) -> Result<JsonMap, (u16, String)> {
        match r {
            Ok(resp) => Ok(resp.unwrap().data.unwrap_or_default()),
            Err(e) => Err((e.status(), e.to_string())),
        }
    }

    /// The ciphertext of "hi" under key `name`.
    async fn ciphertext(b: &Arc<dyn Backend>, s: &Arc<dyn Storage>, name: &str) -> String {
        let path = format!("encrypt/{name}");
        let answer = call(b, s, Operation::Update, &path, json!({"plaintext": "aGk="})).await;
        outcome(answer).unwrap()["ciphertext"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The answers to `{field: value}` at `path` (the fast request) and to the same body with
    /// `key_version: 0` (the framework's).
    async fn fast_and_slow(
        b: &Arc<dyn Backend>,
        s: &Arc<dyn Storage>,
        path: &str,
        field: &str,
        value: &Value,
    ) -> [Result<JsonMap, (u16, String)>; 2] {
        let fast_body = json!({ field: value });
        assert!(classify(&req(Operation::Update, path, fast_body.clone())).is_some());
        let slow_body = json!({ field: value, "key_version": 0 });
        [
            outcome(call(b, s, Operation::Update, path, fast_body).await),
            outcome(call(b, s, Operation::Update, path, slow_body).await),
        ]
    }

    /// Each fast request answers as the framework answers the same request made slow by one
    /// more field at its default (`key_version: 0`, which a one-item encrypt and decrypt treat
    /// as absent): same errors, same plaintexts, ciphertexts of the same version that decrypt.
    #[tokio::test]
    async fn fast_answers_are_the_frameworks() {
        let (b, s) = mount().await;
        let create = |name: &str, body: Value| {
            let (b, s, path) = (b.clone(), s.clone(), format!("keys/{name}"));
            async move { call(&b, &s, Operation::Update, &path, body).await.unwrap() }
        };
        create("aes", json!({})).await;
        create("chacha", json!({"type": "chacha20-poly1305"})).await;
        create("derived", json!({"derived": true})).await;
        create("ed", json!({"type": "ed25519"})).await;
        create("rsa", json!({"type": "rsa-2048"})).await;
        create("old", json!({})).await;
        call(&b, &s, Operation::Update, "keys/old/rotate", json!({}))
            .await
            .unwrap();
        call(
            &b,
            &s,
            Operation::Update,
            "keys/old/config",
            json!({"min_decryption_version": 2}),
        )
        .await
        .unwrap();
        let v1_old = {
            // A version-1 ciphertext of `old`, made before its minimum moved is not at hand;
            // one claiming version 1 is refused by version before its bytes are read.
            "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string()
        };
        let ct_aes = ciphertext(&b, &s, "aes").await;
        let ct_rsa = ciphertext(&b, &s, "rsa").await;
        let encrypts = [
            ("aes", "aGk="),
            ("aes", ""),
            ("aes", "not base64!"),
            ("chacha", "aGk="),
            ("derived", "aGk="),
            ("ed", "aGk="),
            ("rsa", "aGk="),
            ("missing", "aGk="),
            ("missing", "not base64!"),
        ];
        for (name, plaintext) in encrypts {
            let path = format!("encrypt/{name}");
            let [fast, slow] = fast_and_slow(&b, &s, &path, "plaintext", &json!(plaintext)).await;
            match (&fast, &slow) {
                (Ok(f), Ok(sl)) => {
                    assert_eq!(f["key_version"], sl["key_version"], "{name}");
                    assert_eq!(f.len(), sl.len(), "{name}: {f:?} vs {sl:?}");
                    let back = outcome(
                        call(
                            &b,
                            &s,
                            Operation::Update,
                            &format!("decrypt/{name}"),
                            json!({"ciphertext": f["ciphertext"]}),
                        )
                        .await,
                    )
                    .unwrap();
                    assert_eq!(back["plaintext"], json!(plaintext), "{name}");
                }
                _ => assert_eq!(fast, slow, "encrypt/{name} {plaintext:?}"),
            }
        }
        let decrypts = [
            ("aes", ct_aes.clone()),
            ("aes", String::new()),
            ("aes", "vault:v1:not base64!".into()),
            ("aes", "vault:v9:AAAA".into()),
            ("aes", "nope:v1:AAAA".into()),
            ("aes", "vault:vx:AAAA".into()),
            (
                "aes",
                "vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            ),
            ("chacha", ct_aes.clone()),
            ("derived", ct_aes.clone()),
            ("ed", ct_aes.clone()),
            ("rsa", ct_rsa),
            ("old", v1_old),
            ("missing", ct_aes),
            ("missing", String::new()),
        ];
        for (name, ciphertext) in decrypts {
            let path = format!("decrypt/{name}");
            let [fast, slow] = fast_and_slow(&b, &s, &path, "ciphertext", &json!(ciphertext)).await;
            assert_eq!(fast, slow, "decrypt/{name} {ciphertext:?}");
        }
        // A key not in the cache (another node changed it) is loaded on the fast path too.
        let ct = ciphertext(&b, &s, "aes").await;
        b.invalidate("policy/aes").await;
        let fast_req = req(Operation::Update, "decrypt/aes", json!({"ciphertext": ct}));
        assert!(
            answer_cached(
                &crate::State {
                    keys: Default::default()
                },
                Fast::Decrypt,
                &fast_req
            )
            .is_none()
        );
        let back = outcome(
            call(
                &b,
                &s,
                Operation::Update,
                "decrypt/aes",
                json!({"ciphertext": ct}),
            )
            .await,
        )
        .unwrap();
        assert_eq!(back["plaintext"], json!("aGk="));
    }

    fn req(op: Operation, path: &str, body: Value) -> Request {
        let Value::Object(m) = body else {
            unreachable!()
        };
        Request::new(op, path).with_data(m)
    }

    #[test]
    fn only_plain_one_field_updates_are_fast() {
        let enc = |body| classify(&req(Operation::Update, "encrypt/k-1.a@b", body));
        assert_eq!(enc(json!({"plaintext": "aGk="})), Some(Fast::Encrypt));
        assert_eq!(enc(json!({"plaintext": ""})), Some(Fast::Encrypt));
        assert_eq!(enc(json!({"plaintext": 5})), None);
        assert_eq!(enc(json!({"plaintext": "aGk=", "context": "eA=="})), None);
        assert_eq!(enc(json!({"batch_input": [{"plaintext": "aGk="}]})), None);
        assert_eq!(enc(json!({"ciphertext": "x"})), None);
        let dec = |path: &str, body| classify(&req(Operation::Update, path, body));
        assert_eq!(
            dec("decrypt/k", json!({"ciphertext": "vault:v1:x"})),
            Some(Fast::Decrypt)
        );
        assert_eq!(dec("decrypt/k", json!({"plaintext": "x"})), None);
        for path in [
            "decrypt/",
            "decrypt/k/",
            "decrypt/-k",
            "decrypt/k-",
            "decrypt/é",
            "rewrap/k",
        ] {
            assert_eq!(dec(path, json!({"ciphertext": "x"})), None, "{path}");
        }
        let create = req(Operation::Create, "encrypt/k", json!({"plaintext": "aGk="}));
        assert_eq!(classify(&create), None);
    }
}
