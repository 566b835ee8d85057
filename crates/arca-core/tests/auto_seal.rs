//! The core with an auto seal whose service can be switched off: a failing seal never leaves
//! half-written state, the core stays sealed until the service answers, and a seal migration
//! cut short by a failure runs again with the same shares.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arca_core::{AutoSeal, AutoSealError, AutoUnseal, Core, CoreConfig, SealSetup};
use arca_sdk::{JsonMap, LogicalError, Operation, Request};
use arca_storage::PhysicalBackend;
use async_trait::async_trait;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// XORs with a fixed byte while `up`; fails like an unreachable server otherwise.
struct FlakySeal {
    up: AtomicBool,
}

impl FlakySeal {
    fn check(&self) -> Result<(), AutoSealError> {
        if self.up.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(AutoSealError("transit server unreachable".into()))
        }
    }
}

#[async_trait]
impl AutoSeal for FlakySeal {
    fn seal_type(&self) -> &str {
        "transit"
    }
    async fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>, AutoSealError> {
        self.check()?;
        Ok(plaintext.iter().map(|b| b ^ 0xa5).collect())
    }
    async fn decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, AutoSealError> {
        self.check()?;
        Ok(Zeroizing::new(
            ciphertext.iter().map(|b| b ^ 0xa5).collect(),
        ))
    }
}

fn core_over(physical: Arc<dyn PhysicalBackend>, seal: Option<Arc<FlakySeal>>) -> Core {
    let mut config = CoreConfig::new(physical, "inmem");
    config.seals = SealSetup {
        auto: seal.map(|s| s as Arc<dyn AutoSeal>),
        disabled: None,
    };
    Core::new(config)
}

/// A pre-seal endpoint's raw JSON answer, or its error.
async fn sys(core: &Core, op: Operation, path: &str, body: Value) -> Result<Value, LogicalError> {
    let mut req = Request::new(op, path);
    if let Value::Object(map) = body {
        req.data = map.into_iter().collect::<JsonMap>();
    }
    let resp = core.handle_request(req).await?.unwrap();
    Ok(serde_json::from_slice(&resp.raw.unwrap().body).unwrap())
}

async fn status(core: &Core) -> Value {
    sys(core, Operation::Read, "sys/seal-status", json!({}))
        .await
        .unwrap()
}

fn b64_keys(v: &Value, field: &str) -> Vec<String> {
    v[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_failing_seal_writes_nothing_and_keeps_the_core_sealed() {
    let physical: Arc<dyn PhysicalBackend> = Arc::new(arca_storage::InmemBackend::new());
    let seal = Arc::new(FlakySeal {
        up: AtomicBool::new(false),
    });
    let core = core_over(physical.clone(), Some(seal.clone()));
    let body = json!({"recovery_shares": 3, "recovery_threshold": 2});
    let err = sys(&core, Operation::Update, "sys/init", body.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert_eq!(status(&core).await["initialized"], false);
    assert!(physical.list("").await.unwrap().is_empty());

    seal.up.store(true, Ordering::SeqCst);
    let init = sys(&core, Operation::Update, "sys/init", body)
        .await
        .unwrap();
    assert_eq!(init["keys"], json!([]));
    let recovery = b64_keys(&init, "recovery_keys_base64");
    assert_eq!(recovery.len(), 3);
    assert!(!core.sealed(), "init unseals an auto-sealed core");
    assert!(!physical.list("").await.unwrap().is_empty());

    // A restart while the service is down: sealed, an error to retry on.
    core.seal().await.unwrap();
    let core = core_over(physical.clone(), Some(seal.clone()));
    seal.up.store(false, Ordering::SeqCst);
    assert!(core.auto_unseal().await.is_err());
    assert!(core.sealed());
    seal.up.store(true, Ordering::SeqCst);
    assert_eq!(core.auto_unseal().await.unwrap(), AutoUnseal::Unsealed);
    assert!(!core.sealed());
    // Recovery shares open it again after a manual seal.
    core.seal().await.unwrap();
    for key in &recovery[1..] {
        sys(
            &core,
            Operation::Update,
            "sys/unseal",
            json!({ "key": key }),
        )
        .await
        .unwrap();
    }
    assert!(!core.sealed());
}

#[tokio::test]
async fn a_migration_cut_short_runs_again() {
    let physical: Arc<dyn PhysicalBackend> = Arc::new(arca_storage::InmemBackend::new());
    let shamir = core_over(physical.clone(), None);
    let init = sys(
        &shamir,
        Operation::Update,
        "sys/init",
        json!({"secret_shares": 3, "secret_threshold": 2}),
    )
    .await
    .unwrap();
    let keys = b64_keys(&init, "keys_base64");
    drop(shamir);

    let seal = Arc::new(FlakySeal {
        up: AtomicBool::new(false),
    });
    let core = core_over(physical.clone(), Some(seal.clone()));
    assert_eq!(
        core.auto_unseal().await.unwrap(),
        AutoUnseal::MigrationPending
    );
    let s = status(&core).await;
    assert_eq!(
        (s["migration"].clone(), s["type"].clone()),
        (json!(true), json!("transit"))
    );
    let migrate = |key: &String| json!({ "key": key, "migrate": true });
    sys(&core, Operation::Update, "sys/unseal", migrate(&keys[0]))
        .await
        .unwrap();
    // The seal's service fails mid-migration: still sealed, still Shamir underneath.
    let err = sys(&core, Operation::Update, "sys/unseal", migrate(&keys[1]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unreachable"), "{err}");
    assert!(core.sealed());
    assert_eq!(status(&core).await["migration"], true);
    assert_eq!(
        core.seal_config().await.unwrap().unwrap().seal_type,
        "shamir"
    );

    seal.up.store(true, Ordering::SeqCst);
    for key in &keys[1..] {
        sys(&core, Operation::Update, "sys/unseal", migrate(key))
            .await
            .unwrap();
    }
    assert!(!core.sealed());
    let s = status(&core).await;
    assert_eq!(s["migration"], false);
    assert_eq!((s["t"].clone(), s["n"].clone()), (json!(2), json!(3)));
    // The old Shamir record is gone: the root key is only under the seal now.
    assert!(
        physical
            .get(arca_barrier::ROOT_KEY_PATH)
            .await
            .unwrap()
            .is_none()
    );
}
