//! The expiration manager through the real pipeline: a test secrets engine registered in the
//! `BackendRegistry` issues leased secrets (its revoke can be made to fail); leases expire on
//! time through the backend's revoke, renew with Vault's caps, die with the token that got
//! them, survive a restart over the same durable storage, are retried with backoff and kept
//! as irrevocable until forced out, and a revoke-prefix of 10,000 leases leaves none.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arca_core::leases::now_ms;
use arca_core::{BackendRegistry, Core, CoreConfig};
use arca_sdk::storage::StorageExt;
use arca_sdk::{
    Backend, BackendConfig, BackendType, ExistenceCheck, Factory, JsonMap, LeaseOptions,
    LogicalError, Operation, Request, Response, Secret, SpecialPaths,
};
use arca_storage::PhysicalBackend;
use arca_testkit::wait_until_async;
use async_trait::async_trait;
use common::call;
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The engine's settings, kept in its storage so they survive a restart.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct Config {
    ttl: u64,
    max_ttl: u64,
    renewable: bool,
    fail_revoke: bool,
}

/// What the engine saw, shared by every instance the factory builds.
#[derive(Default)]
struct Seen {
    revoked: AtomicUsize,
    revoke_attempts: AtomicUsize,
    renewals: AtomicUsize,
}

struct LeaseEngine {
    seen: Arc<Seen>,
}

async fn config(req: &Request) -> Result<Config, LogicalError> {
    Ok(req
        .storage()?
        .get_json::<Config>("config")
        .await?
        .unwrap_or_default())
}

fn secret(cfg: &Config, internal: JsonMap) -> Secret {
    Secret {
        lease: LeaseOptions {
            ttl: Duration::from_secs(cfg.ttl),
            max_ttl: Duration::from_secs(cfg.max_ttl),
            renewable: cfg.renewable,
            ..LeaseOptions::default()
        },
        internal_data: internal,
        lease_id: String::new(),
    }
}

#[async_trait]
impl Backend for LeaseEngine {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        let storage = req.storage()?.clone();
        match (req.operation, req.path.as_str()) {
            (Operation::Update | Operation::Create, "config") => {
                let cfg: Config = serde_json::from_value(serde_json::Value::Object(req.data))
                    .map_err(|e| LogicalError::bad_request(e.to_string()))?;
                storage.put_json("config", &cfg).await?;
                Ok(None)
            }
            (Operation::Read, p) if p.starts_with("creds/") => {
                let cfg = config(&req).await?;
                let name = &p["creds/".len()..];
                let mut internal = JsonMap::new();
                internal.insert("username".into(), json!(name));
                let mut data = JsonMap::new();
                data.insert("username".into(), json!(name));
                Ok(Some(Response {
                    data: Some(data),
                    secret: Some(secret(&cfg, internal)),
                    ..Response::default()
                }))
            }
            (Operation::Revoke, _) => {
                self.seen.revoke_attempts.fetch_add(1, Ordering::SeqCst);
                if config(&req).await?.fail_revoke {
                    return Err(LogicalError::bad_request("revoke failed on purpose"));
                }
                let s = req.secret.as_ref().expect("a revoke carries the secret");
                let user = s.internal_data["username"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                storage
                    .put_json(&format!("revoked/{user}"), &json!({"path": req.path}))
                    .await?;
                self.seen.revoked.fetch_add(1, Ordering::SeqCst);
                Ok(None)
            }
            (Operation::Renew, _) => {
                self.seen.renewals.fetch_add(1, Ordering::SeqCst);
                let cfg = config(&req).await?;
                let s = req.secret.as_ref().expect("a renew carries the secret");
                Ok(Some(Response {
                    secret: Some(secret(&cfg, s.internal_data.clone())),
                    ..Response::default()
                }))
            }
            _ => Err(LogicalError::UnsupportedPath),
        }
    }
    async fn handle_existence_check(&self, _req: &Request) -> Result<ExistenceCheck, LogicalError> {
        Ok(ExistenceCheck::default())
    }
    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths::default()
    }
    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }
}

struct Fixture {
    core: Core,
    root: String,
    key: Vec<u8>,
    seen: Arc<Seen>,
    physical: Arc<dyn PhysicalBackend>,
}

fn config_over(physical: Arc<dyn PhysicalBackend>, seen: &Arc<Seen>) -> CoreConfig {
    let factory_seen = seen.clone();
    let factory: Factory = Arc::new(move |_conf: BackendConfig| {
        let seen = factory_seen.clone();
        async move { Ok(Arc::new(LeaseEngine { seen }) as Arc<dyn Backend>) }.boxed()
    });
    let mut registry = BackendRegistry::default();
    registry.secrets.insert("leasetest".into(), factory);
    let mut config = CoreConfig::new(physical, "file");
    config.registry = registry;
    config.lease_revoke_retry_base = Duration::from_millis(20);
    config
}

/// A core with the lease engine at `lt/`, configured with `cfg`.
async fn fixture_over(physical: Arc<dyn PhysicalBackend>, cfg: serde_json::Value) -> Fixture {
    let seen = Arc::new(Seen::default());
    let core = Core::new(config_over(physical.clone(), &seen));
    let init = core.initialize(1, 1, None).await.unwrap();
    core.unseal_with_key(&init.keys[0]).await.unwrap();
    let root = init.root_token.to_string();
    call(
        &core,
        Operation::Update,
        "sys/mounts/lt",
        json!({"type": "leasetest"}),
        &root,
    )
    .await
    .unwrap();
    call(&core, Operation::Update, "lt/config", cfg, &root)
        .await
        .unwrap();
    Fixture {
        core,
        root,
        key: init.keys[0].to_vec(),
        seen,
        physical,
    }
}

async fn fixture(cfg: serde_json::Value) -> Fixture {
    fixture_over(Arc::new(arca_storage::InmemBackend::new()), cfg).await
}

impl Fixture {
    /// Reads `lt/creds/<name>` with `token`; the lease id, duration and renewable flag.
    async fn lease(&self, name: &str, token: &str) -> (String, u64, bool) {
        let resp = call(
            &self.core,
            Operation::Read,
            &format!("lt/creds/{name}"),
            json!({}),
            token,
        )
        .await
        .unwrap()
        .unwrap();
        let s = resp.secret.unwrap();
        (s.lease_id, s.lease.ttl.as_secs(), s.lease.renewable)
    }

    fn revoked(&self) -> usize {
        self.seen.revoked.load(Ordering::SeqCst)
    }

    /// Seals this core and unseals a new one over the same physical storage: a restart.
    async fn restart(self) -> Fixture {
        self.core.seal().await.unwrap();
        drop(self.core);
        let core = Core::new(config_over(self.physical.clone(), &self.seen));
        core.unseal_with_key(&self.key).await.unwrap();
        Fixture { core, ..self }
    }

    async fn set(&self, cfg: serde_json::Value) {
        call(&self.core, Operation::Update, "lt/config", cfg, &self.root)
            .await
            .unwrap();
    }

    async fn token(&self, token: &str, body: serde_json::Value) -> (String, String) {
        let resp = call(
            &self.core,
            Operation::Update,
            "auth/token/create",
            body,
            token,
        )
        .await
        .unwrap()
        .unwrap();
        let auth = resp.auth.unwrap();
        (auth.client_token.to_string(), auth.accessor)
    }
}

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_leased_secret_expires_on_time_through_the_backends_revoke() {
    let f = fixture(json!({"ttl": 1, "renewable": true})).await;
    let (id, ttl, renewable) = f.lease("alice", &f.root).await;
    assert!(id.starts_with("lt/creds/alice/"), "{id}");
    assert_eq!(id.len(), "lt/creds/alice/".len() + 24);
    assert_eq!((ttl, renewable), (1, true));
    let info = f.core.leases().lookup(&id).await.unwrap().unwrap();
    assert_eq!(info.path, "lt/creds/alice");
    assert!(info.renewable && info.expire_time.is_some() && info.last_renewal.is_none());
    assert_eq!(
        f.core
            .leases()
            .list_prefix(&arca_core::namespaces::Namespace::root(), "lt/creds/")
            .await
            .unwrap(),
        ["alice/"]
    );
    let issued = Instant::now();
    wait_until_async("the lease's revocation", WAIT, || async {
        (f.revoked() == 1).then_some(())
    })
    .await;
    // On time: not before its TTL ran out.
    assert!(issued.elapsed() >= Duration::from_millis(900));
    assert!(f.core.leases().lookup(&id).await.unwrap().is_none());
    assert!(
        f.core
            .leases()
            .list_prefix(&arca_core::namespaces::Namespace::root(), "lt/")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.core.leases().pending_count(), 0);
}

#[tokio::test]
async fn renewal_goes_through_the_backend_and_is_capped_as_vaults() {
    let f = fixture(json!({"ttl": 60, "max_ttl": 120, "renewable": true})).await;
    let (id, _, _) = f.lease("bob", &f.root).await;
    let leases = f.core.leases();
    // The increment is capped by the secret's own max TTL, with Vault's warning.
    let resp = leases
        .renew(&id, Some(Duration::from_secs(1000)))
        .await
        .unwrap()
        .unwrap();
    let s = resp.secret.unwrap();
    assert_eq!(s.lease_id, id);
    assert!((118..=120).contains(&s.lease.ttl.as_secs()), "{s:?}");
    assert!(
        resp.warnings
            .iter()
            .any(|w| w.contains("exceeded the effective max_ttl")),
        "{:?}",
        resp.warnings
    );
    assert_eq!(f.seen.renewals.load(Ordering::SeqCst), 1);
    let info = leases.lookup(&id).await.unwrap().unwrap();
    assert!(info.last_renewal.is_some());
    assert!((118..=120).contains(&info.ttl), "{info:?}");
    // The mount's tuned max caps it further.
    call(
        &f.core,
        Operation::Update,
        "sys/mounts/lt/tune",
        json!({"max_lease_ttl": "30s"}),
        &f.root,
    )
    .await
    .unwrap();
    let resp = leases.renew(&id, None).await.unwrap().unwrap();
    assert!(resp.secret.unwrap().lease.ttl.as_secs() <= 30);
    // Vault's refusals.
    let e = leases.renew("lt/creds/bob/nope", None).await.unwrap_err();
    assert_eq!((e.status(), e.to_string()), (400, "lease not found".into()));
    f.set(json!({"ttl": 60, "renewable": false})).await;
    let (fixed, _, renewable) = f.lease("carol", &f.root).await;
    assert!(!renewable);
    let e = leases.renew(&fixed, None).await.unwrap_err();
    assert_eq!(e.to_string(), "lease is not renewable");
}

#[tokio::test]
async fn revoking_a_token_revokes_its_leases_and_its_childrens() {
    let f = fixture(json!({"ttl": 3600, "renewable": true})).await;
    let (parent, _) = f.token(&f.root, json!({"ttl": "1h"})).await;
    let (child, _) = f.token(&parent, json!({"ttl": "1h"})).await;
    let (orphan_keeper, _) = f.token(&f.root, json!({"ttl": "1h"})).await;
    let (kept_child, _) = f.token(&orphan_keeper, json!({"ttl": "1h"})).await;
    let (p_lease, _, _) = f.lease("p", &parent).await;
    let (c_lease, _, _) = f.lease("c", &child).await;
    let (k_lease, _, _) = f.lease("k", &kept_child).await;
    // Every token with a TTL has its lease under its creation path.
    let token_leases = f
        .core
        .leases()
        .list_prefix(
            &arca_core::namespaces::Namespace::root(),
            "auth/token/create/",
        )
        .await
        .unwrap();
    assert_eq!(token_leases.len(), 4, "{token_leases:?}");
    assert_eq!(
        f.core
            .leases()
            .list_prefix(&arca_core::namespaces::Namespace::root(), "")
            .await
            .unwrap(),
        ["auth/", "lt/"]
    );

    call(
        &f.core,
        Operation::Update,
        "auth/token/revoke-self",
        json!({}),
        &parent,
    )
    .await
    .unwrap();
    wait_until_async("the leases of the revoked tree", WAIT, || async {
        (f.revoked() == 2).then_some(())
    })
    .await;
    let leases = f.core.leases();
    assert!(leases.lookup(&p_lease).await.unwrap().is_none());
    assert!(leases.lookup(&c_lease).await.unwrap().is_none());
    assert_eq!(
        leases
            .list_prefix(
                &arca_core::namespaces::Namespace::root(),
                "auth/token/create/"
            )
            .await
            .unwrap()
            .len(),
        2
    );

    // revoke-orphan keeps the children and their leases.
    call(
        &f.core,
        Operation::Update,
        "auth/token/revoke-orphan",
        json!({"token": orphan_keeper}),
        &f.root,
    )
    .await
    .unwrap();
    assert!(leases.lookup(&k_lease).await.unwrap().is_some());
    assert!(
        f.core
            .token_store()
            .lookup(&kept_child)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        leases
            .list_prefix(
                &arca_core::namespaces::Namespace::root(),
                "auth/token/create/"
            )
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(f.revoked(), 2);
}

#[tokio::test]
async fn an_expiring_token_is_revoked_by_the_timer_with_its_leases() {
    let f = fixture(json!({"ttl": 3600})).await;
    let before = f.core.token_store().accessor_hashes().await.unwrap().len();
    // Long enough for the read below on a loaded machine, short enough to wait for.
    let (t, _) = f.token(&f.root, json!({"ttl": "3s"})).await;
    let (lease, _, _) = f.lease("short", &t).await;
    let lookup = f
        .core
        .leases()
        .lookup(&format!(
            "auth/token/create/{}",
            f.core.token_store().hash(&t).unwrap()
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lookup.path, "auth/token/create");
    assert!(lookup.ttl <= 3 && lookup.expire_time.is_some());
    // Nobody looks the token up: the timer revokes it, and the secret it got.
    wait_until_async("the token's expiry", WAIT, || async {
        let n = f.core.token_store().accessor_hashes().await.unwrap().len();
        (n == before && f.revoked() == 1).then_some(())
    })
    .await;
    assert!(f.core.leases().lookup(&lease).await.unwrap().is_none());
    assert!(
        f.core
            .leases()
            .list_prefix(
                &arca_core::namespaces::Namespace::root(),
                "auth/token/create/"
            )
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn token_renewal_moves_its_lease() {
    let f = fixture(json!({"ttl": 60})).await;
    let (t, _) = f
        .token(&f.root, json!({"ttl": "2s", "explicit_max_ttl": "1h"}))
        .await;
    let id = format!(
        "auth/token/create/{}",
        f.core.token_store().hash(&t).unwrap()
    );
    let before = f.core.leases().lookup(&id).await.unwrap().unwrap();
    call(
        &f.core,
        Operation::Update,
        "auth/token/renew-self",
        json!({"increment": "1h"}),
        &t,
    )
    .await
    .unwrap();
    let after = f.core.leases().lookup(&id).await.unwrap().unwrap();
    assert!(after.expire_time > before.expire_time);
    assert!(
        after.last_renewal.is_some() && after.ttl > 3000,
        "{after:?}"
    );
    // Token leases renew through auth/token/renew*, as OpenBao says.
    let e = f.core.leases().renew(&id, None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "tokens cannot be renewed through this endpoint"
    );
}

#[tokio::test]
async fn a_restart_keeps_leases_and_expires_them_later_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let physical: Arc<dyn PhysicalBackend> =
        Arc::new(arca_storage::FileBackend::open(dir.path()).unwrap());
    let f = fixture_over(physical, json!({"ttl": 1})).await;
    let (soon, _, _) = f.lease("soon", &f.root).await;
    f.set(json!({"ttl": 4})).await;
    let (later, _, _) = f.lease("later", &f.root).await;
    let later_expiry = f
        .core
        .leases()
        .entry(&later)
        .await
        .unwrap()
        .unwrap()
        .expire_time;
    let soon_expiry = f
        .core
        .leases()
        .entry(&soon)
        .await
        .unwrap()
        .unwrap()
        .expire_time;
    f.core.seal().await.unwrap();
    // The first lease runs out while the server is down.
    wait_until_async("the first lease's expiry", WAIT, || async {
        (now_ms() > soon_expiry + 100).then_some(())
    })
    .await;
    assert_eq!(f.revoked(), 0);
    let f = f.restart_unsealed().await;
    // Found in storage whether or not the restore has reached it yet.
    assert!(f.core.leases().lookup(&later).await.unwrap().is_some());
    wait_until_async("the expired lease's revocation", WAIT, || async {
        (f.revoked() == 1).then_some(())
    })
    .await;
    // The backend's revoke is counted before the entry is deleted: wait for the entry too.
    wait_until_async("the expired lease's entry to go", WAIT, || async {
        f.core
            .leases()
            .lookup(&soon)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    assert!(f.core.leases().lookup(&later).await.unwrap().is_some());
    wait_until_async("the later lease's revocation", WAIT, || async {
        (f.revoked() == 2).then_some(())
    })
    .await;
    assert!(now_ms() >= later_expiry, "revoked before its time");
    assert!(f.core.leases().is_restored());
}

impl Fixture {
    /// A new core over the same storage, for a core already sealed.
    async fn restart_unsealed(self) -> Fixture {
        drop(self.core);
        let core = Core::new(config_over(self.physical.clone(), &self.seen));
        core.unseal_with_key(&self.key).await.unwrap();
        Fixture { core, ..self }
    }
}

#[tokio::test]
async fn a_failing_revoke_is_retried_survives_a_restart_and_only_force_removes_it() {
    let f = fixture(json!({"ttl": 1, "fail_revoke": true})).await;
    let (id, _, _) = f.lease("stuck", &f.root).await;
    wait_until_async("two failed attempts", WAIT, || async {
        (f.seen.revoke_attempts.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;
    let f = f.restart().await;
    assert!(f.core.leases().lookup(&id).await.unwrap().is_some());
    // Retried after the restart until every attempt is spent: then it is irrevocable.
    let irrevocable = wait_until_async("the lease marked irrevocable", WAIT, || async {
        let l = f.core.leases().irrevocable();
        (!l.is_empty()).then_some(l)
    })
    .await;
    assert_eq!(irrevocable.len(), 1);
    assert_eq!(irrevocable[0].lease_id, id);
    assert_eq!(
        irrevocable[0].error,
        "out of retries: failed to revoke entry: resp: (*logical.Response)(nil) err: revoke failed on purpose"
    );
    let (count, by_mount) = f.core.leases().irrevocable_counts();
    assert_eq!((count, by_mount.len()), (1, 1));
    assert!(f.seen.revoke_attempts.load(Ordering::SeqCst) >= 6);
    assert_eq!(f.revoked(), 0);
    let e = f.core.leases().renew(&id, None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "lease is expired and has failed previous revocation attempts"
    );

    // Kept across another restart, still irrevocable.
    let f = f.restart().await;
    wait_until_async("the restore", WAIT, || async {
        f.core.leases().is_restored().then_some(())
    })
    .await;
    assert_eq!(f.core.leases().irrevocable().len(), 1);
    // A plain revoke-prefix fails as the backend does; force removes it.
    let e = f
        .core
        .leases()
        .revoke_prefix(
            &arca_core::namespaces::Namespace::root(),
            "lt/",
            false,
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "failed to revoke {id:?} (1 / 1): failed to revoke entry: \
             resp: (*logical.Response)(nil) err: revoke failed on purpose"
        )
    );
    f.core
        .leases()
        .revoke_prefix(&arca_core::namespaces::Namespace::root(), "lt/", true, true)
        .await
        .unwrap();
    assert!(f.core.leases().lookup(&id).await.unwrap().is_none());
    assert!(f.core.leases().irrevocable().is_empty());
    assert_eq!(f.core.leases().irrevocable_counts().0, 0);
}

#[tokio::test]
async fn a_revoke_fixed_before_the_last_attempt_revokes_the_lease() {
    let f = fixture(json!({"ttl": 1, "fail_revoke": true})).await;
    let (id, _, _) = f.lease("flaky", &f.root).await;
    wait_until_async("a failed attempt", WAIT, || async {
        (f.seen.revoke_attempts.load(Ordering::SeqCst) >= 1).then_some(())
    })
    .await;
    f.set(json!({"ttl": 1, "fail_revoke": false})).await;
    wait_until_async("the retried revocation", WAIT, || async {
        (f.revoked() == 1).then_some(())
    })
    .await;
    assert!(f.core.leases().lookup(&id).await.unwrap().is_none());
    assert!(f.core.leases().irrevocable().is_empty());
}

#[tokio::test]
async fn revoke_prefix_of_ten_thousand_leases_leaves_none() {
    let f = fixture(json!({"ttl": 3600})).await;
    let n = 10_000;
    let started = Instant::now();
    for i in 0..n {
        f.lease(&format!("u{i}"), &f.root).await;
    }
    let issued = started.elapsed();
    assert_eq!(f.core.leases().pending_count(), n);
    let started = Instant::now();
    f.core
        .leases()
        .revoke_prefix(
            &arca_core::namespaces::Namespace::root(),
            "lt/",
            false,
            true,
        )
        .await
        .unwrap();
    let revoked = started.elapsed();
    println!("issued {n} leases in {issued:?}; revoke-prefix took {revoked:?}");
    assert_eq!(f.revoked(), n);
    assert!(
        f.core
            .leases()
            .list_prefix(&arca_core::namespaces::Namespace::root(), "lt/")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.core.leases().pending_count(), 0);
}

#[tokio::test]
async fn unmounting_revokes_the_mounts_leases() {
    let f = fixture(json!({"ttl": 3600})).await;
    f.lease("a", &f.root).await;
    f.lease("b", &f.root).await;
    call(
        &f.core,
        Operation::Delete,
        "sys/mounts/lt",
        json!({}),
        &f.root,
    )
    .await
    .unwrap();
    assert_eq!(f.revoked(), 2);
    assert!(
        f.core
            .leases()
            .list_prefix(&arca_core::namespaces::Namespace::root(), "lt/")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(f.core.leases().pending_count(), 0);
}

#[tokio::test]
async fn a_token_whose_uses_run_out_takes_its_leases_along() {
    let f = fixture(json!({"ttl": 3600})).await;
    let (t, _) = f.token(&f.root, json!({"num_uses": 2})).await;
    let (first, _, _) = f.lease("one", &t).await;
    let (second, _, _) = f.lease("two", &t).await;
    wait_until_async("the leases of the used-up token", WAIT, || async {
        (f.revoked() == 2).then_some(())
    })
    .await;
    assert!(f.core.leases().lookup(&first).await.unwrap().is_none());
    assert!(f.core.leases().lookup(&second).await.unwrap().is_none());
    assert!(f.core.token_store().lookup(&t).await.unwrap().is_none());
}

#[tokio::test]
async fn remounting_revokes_the_mounts_leases_first_as_vault() {
    let f = fixture(json!({"ttl": 3600})).await;
    let (id, _, _) = f.lease("a", &f.root).await;
    call(
        &f.core,
        Operation::Update,
        "sys/remount",
        json!({"from": "lt", "to": "lt2"}),
        &f.root,
    )
    .await
    .unwrap();
    assert_eq!(f.revoked(), 1);
    assert!(f.core.leases().lookup(&id).await.unwrap().is_none());
    // The moved mount issues leases under its new path.
    let resp = call(&f.core, Operation::Read, "lt2/creds/b", json!({}), &f.root)
        .await
        .unwrap()
        .unwrap();
    assert!(resp.secret.unwrap().lease_id.starts_with("lt2/creds/b/"));
}

#[tokio::test]
async fn a_root_token_without_ttl_has_a_lease_that_never_expires() {
    let f = fixture(json!({"ttl": 60})).await;
    let (t, _) = f.token(&f.root, json!({"policies": ["root"]})).await;
    let id = format!(
        "auth/token/create/{}",
        f.core.token_store().hash(&t).unwrap()
    );
    let info = f.core.leases().lookup(&id).await.unwrap().unwrap();
    assert_eq!(
        (info.expire_time, info.ttl, info.renewable),
        (None, 0, false)
    );
    assert_eq!(f.core.leases().pending_count(), 0);
    call(
        &f.core,
        Operation::Update,
        "auth/token/revoke",
        json!({"token": t}),
        &f.root,
    )
    .await
    .unwrap();
    assert!(f.core.leases().lookup(&id).await.unwrap().is_none());
}
