//! `arca-bench transit-cost`: the cost of one transit operation in process, without HTTP:
//! the raw aws-lc-rs calls beside Arca's transit engine (`arca-transit`, called through its
//! `Backend` with an in-memory storage: field parsing, base64, key lookup in the cache, the
//! crypto and the answer's JSON). Issue 17 asks the engine to stay within 2x of the raw cost.

use std::sync::Arc;
use std::time::Instant;

use arca_sdk::storage::MemoryStorage;
use arca_sdk::{Backend, BackendConfig, JsonMap, Operation, Request, StaticSystemView, Storage};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SystemRandom, fill};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
    UnparsedPublicKey,
};
use serde_json::{Value, json};

use crate::BenchError;

/// One measured operation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CostLine {
    /// What was measured.
    pub operation: &'static str,
    /// Raw aws-lc-rs, nanoseconds per operation.
    pub raw_ns: f64,
    /// Arca's transit engine, nanoseconds per operation.
    pub engine_ns: f64,
}

const INPUT: &[u8] = &[b'a'; 64];

fn per_op(iterations: u64, start: Instant) -> f64 {
    start.elapsed().as_nanos() as f64 / iterations as f64
}

fn data(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

struct Engine {
    backend: Arc<dyn Backend>,
    storage: Arc<dyn Storage>,
}

impl Engine {
    async fn new() -> Result<Engine, BenchError> {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let conf = BackendConfig {
            storage: storage.clone(),
            system: Arc::new(StaticSystemView::default()),
            config: Default::default(),
            backend_uuid: "bench".into(),
        };
        let backend = (arca_transit::factory())(conf)
            .await
            .map_err(|e| BenchError::TransitCost(e.to_string()))?;
        Ok(Engine { backend, storage })
    }

    async fn call(&self, path: &str, body: &JsonMap) -> Result<Value, BenchError> {
        let mut req = Request::new(Operation::Update, path).with_data(body.clone());
        req.storage = Some(self.storage.clone());
        let resp = self
            .backend
            .handle_request(req)
            .await
            .map_err(|e| BenchError::TransitCost(format!("{path}: {e}")))?;
        let mut d = resp.and_then(|r| r.data).unwrap_or_default();
        Ok(d.remove("ciphertext")
            .or_else(|| d.remove("signature"))
            .unwrap_or(Value::Object(d)))
    }
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn seal(key: &LessSafeKey, out: &mut Vec<u8>) -> Result<(), BenchError> {
    let mut nonce = [0u8; 12];
    fill(&mut nonce).map_err(|_| BenchError::TransitCost("rng".into()))?;
    out.clear();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(INPUT);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut out[12..],
        )
        .map_err(|_| BenchError::TransitCost("seal".into()))?;
    out.extend_from_slice(tag.as_ref());
    Ok(())
}

/// Measures every operation `iterations` times (after a tenth as warm-up).
pub async fn measure(iterations: u64) -> Result<Vec<CostLine>, BenchError> {
    let n = iterations.max(10);
    let warm = n / 10;
    let e = Engine::new().await?;
    let fail = |m: &str| BenchError::TransitCost(m.to_string());
    let mut lines = Vec::new();

    // AES-256-GCM encrypt / decrypt of 64 bytes.
    let mut raw_key = [0u8; 32];
    fill(&mut raw_key).map_err(|_| fail("rng"))?;
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &raw_key).map_err(|_| fail("key"))?);
    e.call("keys/aes", &data(json!({"type": "aes256-gcm96"})))
        .await?;
    let enc_body = data(json!({"plaintext": b64(INPUT)}));
    let mut buf = Vec::with_capacity(128);
    for _ in 0..warm {
        seal(&key, &mut buf)?;
        e.call("encrypt/aes", &enc_body).await?;
    }
    let t = Instant::now();
    for _ in 0..n {
        seal(&key, &mut buf)?;
    }
    let raw = per_op(n, t);
    let t = Instant::now();
    for _ in 0..n {
        e.call("encrypt/aes", &enc_body).await?;
    }
    lines.push(CostLine {
        operation: "aes256-gcm96 encrypt (64 B)",
        raw_ns: raw,
        engine_ns: per_op(n, t),
    });

    let sealed = buf.clone();
    let ct = e.call("encrypt/aes", &enc_body).await?;
    let dec_body = data(json!({"ciphertext": ct}));
    let t = Instant::now();
    for _ in 0..n {
        let mut b = sealed.clone();
        let (nonce, rest) = b.split_at_mut(12);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail("nonce"))?;
        key.open_in_place(nonce, Aad::empty(), rest)
            .map_err(|_| fail("open"))?;
    }
    let raw = per_op(n, t);
    let t = Instant::now();
    for _ in 0..n {
        e.call("decrypt/aes", &dec_body).await?;
    }
    lines.push(CostLine {
        operation: "aes256-gcm96 decrypt (64 B)",
        raw_ns: raw,
        engine_ns: per_op(n, t),
    });

    // Ed25519 sign of 64 bytes.
    let ed = Ed25519KeyPair::generate().map_err(|_| fail("ed25519"))?;
    e.call("keys/ed", &data(json!({"type": "ed25519"}))).await?;
    let sign_body = data(json!({"input": b64(INPUT)}));
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(ed.sign(INPUT));
    }
    let raw = per_op(n, t);
    let t = Instant::now();
    for _ in 0..n {
        e.call("sign/ed", &sign_body).await?;
    }
    lines.push(CostLine {
        operation: "ed25519 sign (64 B)",
        raw_ns: raw,
        engine_ns: per_op(n, t),
    });

    // ECDSA P-256 verify (SHA-256 of 64 bytes, ASN.1 signature).
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|_| fail("ecdsa"))?;
    let sig = ec
        .sign(&SystemRandom::new(), INPUT)
        .map_err(|_| fail("ecdsa sign"))?;
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, ec.public_key().as_ref().to_vec());
    e.call("keys/ec", &data(json!({"type": "ecdsa-p256"})))
        .await?;
    let engine_sig = e.call("sign/ec", &sign_body).await?;
    let verify_body = data(json!({"input": b64(INPUT), "signature": engine_sig}));
    let t = Instant::now();
    for _ in 0..n {
        public
            .verify(INPUT, sig.as_ref())
            .map_err(|_| fail("verify"))?;
    }
    let raw = per_op(n, t);
    let t = Instant::now();
    for _ in 0..n {
        let v = e.call("verify/ec", &verify_body).await?;
        if v["valid"] != json!(true) {
            return Err(fail("engine verify failed"));
        }
    }
    lines.push(CostLine {
        operation: "ecdsa-p256 verify (64 B)",
        raw_ns: raw,
        engine_ns: per_op(n, t),
    });

    // Batch encrypt of 100 items.
    let items: Vec<Value> = (0..100)
        .map(|i| json!({"plaintext": b64(INPUT), "reference": i.to_string()}))
        .collect();
    let batch_body = data(json!({"batch_input": items}));
    let bn = (n / 20).max(5);
    let t = Instant::now();
    for _ in 0..bn {
        for _ in 0..100 {
            seal(&key, &mut buf)?;
        }
    }
    let raw = per_op(bn, t);
    let t = Instant::now();
    for _ in 0..bn {
        e.call("encrypt/aes", &batch_body).await?;
    }
    lines.push(CostLine {
        operation: "aes256-gcm96 batch encrypt (100 x 64 B)",
        raw_ns: raw,
        engine_ns: per_op(bn, t),
    });
    Ok(lines)
}

/// The lines as a Markdown table.
pub fn table(lines: &[CostLine]) -> String {
    let mut out = String::from(
        "| operation | raw aws-lc-rs (µs/op) | Arca transit engine (µs/op) | engine / raw |\n|---|---:|---:|---:|\n",
    );
    for l in lines {
        out.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.2} |\n",
            l.operation,
            l.raw_ns / 1000.0,
            l.engine_ns / 1000.0,
            l.engine_ns / l.raw_ns
        ));
    }
    out
}
