//! `arca-bench transit-cost`: the cost of one transit operation in process, without HTTP:
//! the raw aws-lc-rs calls beside Arca's transit engine (`arca-transit`), issue 17 asking the
//! engine to stay within 2x of the raw cost.
//!
//! What each timed region holds:
//! - **engine**: `Backend::handle_request` of a transit mount (in-memory storage) on a request
//!   built before the clock starts (operation, mount-relative path, the body as the HTTP layer
//!   hands it over, already parsed from JSON; built 32 at a time, so it is in cache as a
//!   just-parsed body is), and the drop of its answer. Inside: path routing,
//!   field conversion and validation, base64 of input and output, the key lookup in the cache,
//!   the crypto, the `vault:v1:` text and the answer's map. Not inside: HTTP, JSON parsing and
//!   writing, the core (token, ACL, mount table) and the existence check the core makes before
//!   an encrypt.
//! - **raw**: the same crypto straight on aws-lc-rs with a key object built beforehand: AES-GCM
//!   with the same key size, a fresh random nonce and the 64-byte plaintext copied into a new
//!   buffer (decrypt: opening a copy of one sealed buffer), Ed25519 signing, ECDSA P-256
//!   verification of an ASN.1 signature over SHA-256 of the input (the hash included, with a
//!   public key parsed once, as the engine keeps it).
//!
//! Each measured loop is its own non-inlined function ([`raw_loop`], [`engine_loop`]), so
//! `valgrind --tool=callgrind` can count its instructions (`bench/transit-callgrind.sh`).

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use arca_sdk::storage::MemoryStorage;
use arca_sdk::{
    Backend, BackendConfig, JsonMap, Operation, Request, Response, StaticSystemView, Storage,
};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SystemRandom, fill};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
    ParsedPublicKey, UnparsedPublicKey,
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

/// The operations, by the names `--only` takes.
pub const OPERATIONS: &[&str] = &["encrypt", "decrypt", "sign", "verify", "batch"];

/// Items in the batch line.
const BATCH: usize = 100;

const INPUT: &[u8] = &[b'a'; 64];

fn fail(m: &str) -> BenchError {
    BenchError::TransitCost(m.to_string())
}

fn per_op(iterations: u64, start: Instant) -> f64 {
    start.elapsed().as_nanos() as f64 / iterations.max(1) as f64
}

fn data(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A transit mount on in-memory storage.
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

    /// An update request of `path` with `body`, as the core hands it to the mount.
    fn request(&self, path: &str, body: &JsonMap) -> Request {
        let mut req = Request::new(Operation::Update, path).with_data(body.clone());
        req.storage = Some(self.storage.clone());
        req
    }

    /// `n` copies of a request, built before a timed loop.
    fn requests(&self, path: &str, body: &JsonMap, n: u64) -> Vec<Request> {
        (0..n).map(|_| self.request(path, body)).collect()
    }

    /// One call outside the timed loops: the answer's `ciphertext` or `signature`, else its
    /// whole data.
    async fn call(&self, path: &str, body: &JsonMap) -> Result<Value, BenchError> {
        let resp = self
            .backend
            .handle_request(self.request(path, body))
            .await
            .map_err(|e| BenchError::TransitCost(format!("{path}: {e}")))?;
        let mut d = resp.and_then(|r| r.data).unwrap_or_default();
        Ok(d.remove("ciphertext")
            .or_else(|| d.remove("signature"))
            .unwrap_or(Value::Object(d)))
    }
}

/// Times `n` calls of `op`: nanoseconds per call.
#[inline(never)]
fn raw_loop(n: u64, mut op: impl FnMut() -> Result<(), BenchError>) -> Result<f64, BenchError> {
    let t = Instant::now();
    for _ in 0..n {
        op()?;
    }
    Ok(per_op(n, t))
}

/// Times the engine on each request: the time they took. Every answer must be a success
/// (`check` says which). A plain function, not `async`, so that callgrind can collect inside it
/// alone whatever the compiler inlines: each answer future is polled here with a no-op waker
/// (on in-memory storage with the key cached it is ready at once) and, should it ever be
/// pending, driven to the end by a local executor.
#[inline(never)]
fn engine_loop(
    backend: &dyn Backend,
    reqs: Vec<Request>,
    check: fn(&Response) -> bool,
) -> Result<Duration, BenchError> {
    let mut cx = Context::from_waker(Waker::noop());
    let t = Instant::now();
    for req in reqs {
        let mut answer = backend.handle_request(req);
        let resp = match answer.as_mut().poll(&mut cx) {
            Poll::Ready(r) => r,
            Poll::Pending => block_on(answer),
        }
        .map_err(|e| BenchError::TransitCost(e.to_string()))?;
        match resp {
            Some(r) if check(&r) => drop(black_box(r)),
            _ => return Err(fail("engine answer without the expected data")),
        }
    }
    Ok(t.elapsed())
}

/// Drives `fut` to the end on this thread (tokio's runtime is not needed by a mount on
/// in-memory storage; its locks only need a waker).
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// Requests built at a time: few enough to be in cache when the engine gets them, as a body
/// the HTTP layer has just parsed is.
const CHUNK: u64 = 32;

fn has(r: &Response, key: &str) -> bool {
    r.data.as_ref().is_some_and(|d| d.contains_key(key))
}

fn encrypted(r: &Response) -> bool {
    has(r, "ciphertext")
}

fn decrypted(r: &Response) -> bool {
    has(r, "plaintext")
}

fn signed(r: &Response) -> bool {
    has(r, "signature")
}

fn verified(r: &Response) -> bool {
    r.data
        .as_ref()
        .is_some_and(|d| d.get("valid") == Some(&Value::Bool(true)))
}

fn batch_encrypted(r: &Response) -> bool {
    r.status.is_none() && has(r, "batch_results")
}

/// AES-256-GCM seal of [`INPUT`] with a fresh nonce into `out` (nonce, ciphertext, tag).
fn seal(key: &LessSafeKey, out: &mut Vec<u8>) -> Result<(), BenchError> {
    let mut nonce = [0u8; 12];
    fill(&mut nonce).map_err(|_| fail("rng"))?;
    out.clear();
    out.extend_from_slice(&nonce);
    out.extend_from_slice(INPUT);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::empty(),
            &mut out[12..],
        )
        .map_err(|_| fail("seal"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(())
}

/// Opens a copy of `sealed` (nonce, ciphertext, tag).
fn open(key: &LessSafeKey, sealed: &[u8]) -> Result<(), BenchError> {
    let mut b = sealed.to_vec();
    let (nonce, rest) = b.split_at_mut(12);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail("nonce"))?;
    black_box(
        key.open_in_place(nonce, Aad::empty(), rest)
            .map_err(|_| fail("open"))?,
    );
    Ok(())
}

/// What one line measures.
struct Measured {
    operation: &'static str,
    raw: f64,
    engine: f64,
}

/// Measures the operations named in `only` (all when empty) `iterations` times each (the
/// batch line a twentieth as many), after a tenth as many unmeasured.
pub async fn measure(iterations: u64, only: &[String]) -> Result<Vec<CostLine>, BenchError> {
    for o in only {
        if !OPERATIONS.contains(&o.as_str()) {
            return Err(BenchError::TransitCost(format!(
                "unknown operation {o} (one of {})",
                OPERATIONS.join(", ")
            )));
        }
    }
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let n = iterations.max(10);
    let e = Engine::new().await?;
    let mut lines = Vec::new();
    for name in OPERATIONS.iter().copied().filter(|o| wanted(o)) {
        let m = match name {
            "encrypt" => aes_encrypt(&e, n).await?,
            "decrypt" => aes_decrypt(&e, n).await?,
            "sign" => ed25519_sign(&e, n).await?,
            "verify" => ecdsa_verify(&e, n).await?,
            _ => batch_encrypt(&e, (n / 20).max(5)).await?,
        };
        lines.push(CostLine {
            operation: m.operation,
            raw_ns: m.raw,
            engine_ns: m.engine,
        });
    }
    Ok(lines)
}

fn aes_key() -> Result<LessSafeKey, BenchError> {
    let mut raw_key = [0u8; 32];
    fill(&mut raw_key).map_err(|_| fail("rng"))?;
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &raw_key).map_err(|_| fail("key"))?,
    ))
}

/// Times `n` engine requests of `path` with `body` (built [`CHUNK`] at a time, outside the
/// timed loops): nanoseconds per request.
async fn time_engine(
    e: &Engine,
    path: &str,
    body: &JsonMap,
    n: u64,
    check: fn(&Response) -> bool,
) -> Result<f64, BenchError> {
    let mut spent = Duration::ZERO;
    let mut left = n;
    while left > 0 {
        let k = left.min(CHUNK);
        spent += engine_loop(e.backend.as_ref(), e.requests(path, body, k), check)?;
        left -= k;
    }
    Ok(spent.as_nanos() as f64 / n.max(1) as f64)
}

/// [`time_engine`] after a tenth as many requests unmeasured.
async fn warm_then_time(
    e: &Engine,
    path: &str,
    body: &JsonMap,
    n: u64,
    check: fn(&Response) -> bool,
) -> Result<f64, BenchError> {
    time_engine(e, path, body, n / 10, check).await?;
    time_engine(e, path, body, n, check).await
}

async fn aes_encrypt(e: &Engine, n: u64) -> Result<Measured, BenchError> {
    let key = aes_key()?;
    e.call("keys/aes", &data(json!({"type": "aes256-gcm96"})))
        .await?;
    let mut buf = Vec::with_capacity(128);
    raw_loop(n / 10, || seal(&key, &mut buf))?;
    let raw = raw_loop(n, || seal(&key, &mut buf))?;
    let body = data(json!({"plaintext": b64(INPUT)}));
    let engine = warm_then_time(e, "encrypt/aes", &body, n, encrypted).await?;
    Ok(Measured {
        operation: "aes256-gcm96 encrypt (64 B)",
        raw,
        engine,
    })
}

async fn aes_decrypt(e: &Engine, n: u64) -> Result<Measured, BenchError> {
    let key = aes_key()?;
    let mut sealed = Vec::with_capacity(128);
    seal(&key, &mut sealed)?;
    raw_loop(n / 10, || open(&key, &sealed))?;
    let raw = raw_loop(n, || open(&key, &sealed))?;
    e.call("keys/aes-dec", &data(json!({"type": "aes256-gcm96"})))
        .await?;
    let ct = e
        .call("encrypt/aes-dec", &data(json!({"plaintext": b64(INPUT)})))
        .await?;
    let body = data(json!({"ciphertext": ct}));
    let engine = warm_then_time(e, "decrypt/aes-dec", &body, n, decrypted).await?;
    Ok(Measured {
        operation: "aes256-gcm96 decrypt (64 B)",
        raw,
        engine,
    })
}

async fn ed25519_sign(e: &Engine, n: u64) -> Result<Measured, BenchError> {
    let ed = Ed25519KeyPair::generate().map_err(|_| fail("ed25519"))?;
    let sign = || {
        black_box(ed.sign(black_box(INPUT)));
        Ok(())
    };
    raw_loop(n / 10, sign)?;
    let raw = raw_loop(n, sign)?;
    e.call("keys/ed", &data(json!({"type": "ed25519"}))).await?;
    let body = data(json!({"input": b64(INPUT)}));
    let engine = warm_then_time(e, "sign/ed", &body, n, signed).await?;
    Ok(Measured {
        operation: "ed25519 sign (64 B)",
        raw,
        engine,
    })
}

async fn ecdsa_verify(e: &Engine, n: u64) -> Result<Measured, BenchError> {
    let ec = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|_| fail("ecdsa"))?;
    let sig = ec
        .sign(&SystemRandom::new(), INPUT)
        .map_err(|_| fail("ecdsa sign"))?;
    let public: ParsedPublicKey =
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, ec.public_key().as_ref())
            .parse()
            .map_err(|_| fail("public key"))?;
    let verify = || {
        public
            .verify_sig(black_box(INPUT), sig.as_ref())
            .map_err(|_| fail("verify"))
    };
    raw_loop(n / 10, verify)?;
    let raw = raw_loop(n, verify)?;
    e.call("keys/ec", &data(json!({"type": "ecdsa-p256"})))
        .await?;
    let engine_sig = e
        .call("sign/ec", &data(json!({"input": b64(INPUT)})))
        .await?;
    let body = data(json!({"input": b64(INPUT), "signature": engine_sig}));
    let engine = warm_then_time(e, "verify/ec", &body, n, verified).await?;
    Ok(Measured {
        operation: "ecdsa-p256 verify (64 B)",
        raw,
        engine,
    })
}

async fn batch_encrypt(e: &Engine, n: u64) -> Result<Measured, BenchError> {
    let key = aes_key()?;
    let mut buf = Vec::with_capacity(128);
    let mut hundred = || {
        for _ in 0..BATCH {
            seal(&key, &mut buf)?;
        }
        Ok(())
    };
    raw_loop(n / 10, &mut hundred)?;
    let raw = raw_loop(n, &mut hundred)?;
    e.call("keys/aes-batch", &data(json!({"type": "aes256-gcm96"})))
        .await?;
    let items: Vec<Value> = (0..BATCH)
        .map(|i| json!({"plaintext": b64(INPUT), "reference": i.to_string()}))
        .collect();
    let body = data(json!({ "batch_input": items }));
    let engine = warm_then_time(e, "encrypt/aes-batch", &body, n, batch_encrypted).await?;
    Ok(Measured {
        operation: "aes256-gcm96 batch encrypt (100 x 64 B)",
        raw,
        engine,
    })
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
