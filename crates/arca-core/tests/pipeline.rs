//! The request pipeline's boundary with backends, through `Core::handle_request` with a
//! builtin test backend that records and counts what reaches it: the order of checks (no
//! backend code for a bad or missing token), what a backend sees (a salted token, only the
//! passthrough headers), what it may answer (allowed headers only, no token, lease id or
//! wrapping of its own), and paths no mount serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arca_core::{BackendRegistry, Core, CoreConfig};
use arca_sdk::{
    Auth, Backend, BackendConfig, BackendType, ExistenceCheck, Factory, LogicalError, Request,
    Response, ResponseWrapInfo, Secret, SpecialPaths,
};
use async_trait::async_trait;
use futures::FutureExt;
use serde_json::json;
use zeroize::Zeroizing;

use common::call;

/// What the test backend saw and how often it ran.
#[derive(Default)]
struct Seen {
    existence_checks: AtomicUsize,
    requests: AtomicUsize,
    last: parking_lot::Mutex<Option<Request>>,
}

/// Records every request; `answer` replies with headers, an auth with a token, a secret with
/// a lease id and wrapping information, all of its own making.
struct Recorder {
    seen: Arc<Seen>,
}

#[async_trait]
impl Backend for Recorder {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        self.seen.requests.fetch_add(1, Ordering::SeqCst);
        let path = req.path.clone();
        *self.seen.last.lock() = Some(req);
        if path != "answer" {
            return Ok(Some(Response::with_data(
                json!({"ok": true}).as_object().unwrap().clone(),
            )));
        }
        Ok(Some(Response {
            data: Some(json!({"ok": true}).as_object().unwrap().clone()),
            auth: Some(Auth {
                client_token: String::from("hvs.made-by-the-backend").into(),
                accessor: "backend-accessor".into(),
                policies: vec!["default".into()],
                ..Auth::default()
            }),
            secret: Some(Secret {
                lease_id: "backend/made/lease".into(),
                ..Secret::default()
            }),
            wrap_info: Some(ResponseWrapInfo {
                token: String::from("hvs.backend-wrap").into(),
                accessor: String::new(),
                // No TTL: not a request to be wrapped, only a token the core must drop.
                ttl: 0,
                creation_time: String::new(),
                creation_path: String::new(),
                wrapped_accessor: String::new(),
            }),
            headers: [
                ("X-Allowed".to_string(), vec!["yes".to_string()]),
                ("X-Not-Allowed".to_string(), vec!["no".to_string()]),
            ]
            .into(),
            ..Response::default()
        }))
    }
    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        self.seen.existence_checks.fetch_add(1, Ordering::SeqCst);
        *self.seen.last.lock() = Some(req.clone());
        Ok(ExistenceCheck {
            check_found: true,
            exists: false,
        })
    }
    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths {
            unauthenticated: vec!["login".into()],
            ..SpecialPaths::default()
        }
    }
    fn backend_type(&self) -> BackendType {
        BackendType::Logical
    }
}

struct Fixture {
    core: Core,
    root: String,
    seen: Arc<Seen>,
}

/// A core with the recorder mounted at `rec/`.
async fn fixture() -> Fixture {
    let seen = Arc::new(Seen::default());
    let factory_seen = seen.clone();
    let factory: Factory = Arc::new(move |_conf: BackendConfig| {
        let seen = factory_seen.clone();
        async move { Ok(Arc::new(Recorder { seen }) as Arc<dyn Backend>) }.boxed()
    });
    let mut registry = BackendRegistry::default();
    registry.secrets.insert("recorder".into(), factory);
    let mut config = CoreConfig::new(Arc::new(arca_storage::InmemBackend::new()), "inmem");
    config.registry = registry;
    let core = Core::new(config);
    let init = core.initialize(1, 1, None).await.unwrap();
    core.unseal_with_key(&init.keys[0]).await.unwrap();
    let root = init.root_token.to_string();
    call(
        &core,
        arca_sdk::Operation::Update,
        "sys/mounts/rec",
        json!({"type": "recorder"}),
        &root,
    )
    .await
    .unwrap();
    Fixture { core, root, seen }
}

impl Fixture {
    fn calls(&self) -> usize {
        self.seen.existence_checks.load(Ordering::SeqCst)
            + self.seen.requests.load(Ordering::SeqCst)
    }

    fn last(&self) -> Request {
        self.seen
            .last
            .lock()
            .clone()
            .expect("the backend saw no request")
    }

    async fn token(&self, policies: &[&str]) -> String {
        let resp = call(
            &self.core,
            arca_sdk::Operation::Update,
            "auth/token/create",
            json!({ "policies": policies }),
            &self.root,
        )
        .await
        .unwrap()
        .unwrap();
        resp.auth.unwrap().client_token.to_string()
    }

    async fn mount_uuid(&self) -> String {
        let resp = call(
            &self.core,
            arca_sdk::Operation::Read,
            "sys/mounts",
            json!({}),
            &self.root,
        )
        .await
        .unwrap()
        .unwrap();
        resp.data.unwrap()["rec/"]["uuid"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn acl_denied() -> LogicalError {
    LogicalError::acl_denied()
}

#[tokio::test]
async fn no_backend_code_runs_for_a_bad_or_missing_token() {
    let f = fixture().await;
    for token in ["", "hvs.not-a-token"] {
        for op in [
            arca_sdk::Operation::Update,
            arca_sdk::Operation::Create,
            arca_sdk::Operation::Read,
            arca_sdk::Operation::Delete,
        ] {
            let err = call(&f.core, op, "rec/x", json!({"a": 1}), token)
                .await
                .unwrap_err();
            assert_eq!(err, LogicalError::PermissionDenied, "{op:?} {token:?}");
        }
    }
    assert_eq!(f.calls(), 0, "the backend ran for a refused token");

    // A valid token the ACL refuses: the existence check may run (as in Vault, it decides
    // create or update for the ACL), the request itself does not.
    let t = f.token(&["default"]).await;
    let err = call(&f.core, arca_sdk::Operation::Update, "rec/x", json!({}), &t)
        .await
        .unwrap_err();
    assert_eq!(err, acl_denied());
    assert_eq!(f.seen.requests.load(Ordering::SeqCst), 0);

    // With the root token, both run.
    call(
        &f.core,
        arca_sdk::Operation::Update,
        "rec/x",
        json!({}),
        &f.root,
    )
    .await
    .unwrap();
    assert_eq!(f.seen.existence_checks.load(Ordering::SeqCst), 2);
    assert_eq!(f.seen.requests.load(Ordering::SeqCst), 1);
    assert_eq!(f.last().operation, arca_sdk::Operation::Create);
}

#[tokio::test]
async fn a_backend_sees_a_salted_token_and_only_passthrough_headers() {
    let f = fixture().await;
    call(
        &f.core,
        arca_sdk::Operation::Update,
        "sys/mounts/rec/tune",
        json!({"passthrough_request_headers": ["X-Custom", "Authorization", "X-Vault-Token"]}),
        &f.root,
    )
    .await
    .unwrap();
    let uuid = f.mount_uuid().await;
    let mut req = arca_sdk::Request::new(arca_sdk::Operation::Read, "rec/x");
    req.client_token = Some(Zeroizing::new(f.root.clone()));
    for (name, value) in [
        ("x-custom", "custom"),
        ("x-other", "other"),
        ("authorization", "Bearer hvs.raw-token"),
        ("x-vault-token", "hvs.raw-token"),
    ] {
        req.headers.insert(name.into(), vec![value.into()]);
    }
    f.core.handle_request(req.clone()).await.unwrap();
    let seen = f.last();
    // Vault's salted id: hex(sha1(mount uuid + token)), never the token.
    let seen_token = seen.token().to_string();
    assert_ne!(seen_token, f.root);
    assert!(!seen_token.contains(&f.root));
    assert_eq!(seen_token.len(), 40);
    assert!(seen_token.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(seen_token, uuid);
    assert_eq!(seen.headers.len(), 1, "{:?}", seen.headers.keys());
    assert_eq!(seen.headers["x-custom"], vec!["custom"]);

    // The same token always gives the same id on the mount; the existence check sees it too.
    let mut write = req.clone();
    write.operation = arca_sdk::Operation::Update;
    f.core.handle_request(write).await.unwrap();
    assert_eq!(f.last().token(), seen_token);
    assert_eq!(f.seen.existence_checks.load(Ordering::SeqCst), 1);

    // Without the tune, no header passes at all.
    call(
        &f.core,
        arca_sdk::Operation::Update,
        "sys/mounts/rec/tune",
        json!({"passthrough_request_headers": []}),
        &f.root,
    )
    .await
    .unwrap();
    f.core.handle_request(req).await.unwrap();
    assert!(f.last().headers.is_empty());
}

#[tokio::test]
async fn a_backend_answers_only_what_its_mount_allows() {
    let f = fixture().await;
    let resp = call(
        &f.core,
        arca_sdk::Operation::Read,
        "rec/answer",
        json!({}),
        &f.root,
    )
    .await
    .unwrap()
    .unwrap();
    assert!(resp.headers.is_empty(), "{:?}", resp.headers);
    let auth = resp.auth.unwrap();
    assert_eq!(auth.client_token.as_str(), "");
    assert_eq!(auth.accessor, "");
    // The backend's own lease id is dropped; the core mints the lease.
    let lease_id = resp.secret.unwrap().lease_id;
    assert_ne!(lease_id, "backend/made/lease");
    assert!(lease_id.starts_with("rec/answer/"), "{lease_id}");
    assert!(resp.wrap_info.is_none());

    call(
        &f.core,
        arca_sdk::Operation::Update,
        "sys/mounts/rec/tune",
        json!({"allowed_response_headers": ["x-allowed"]}),
        &f.root,
    )
    .await
    .unwrap();
    let resp = call(
        &f.core,
        arca_sdk::Operation::Read,
        "rec/answer",
        json!({}),
        &f.root,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(resp.headers.len(), 1);
    assert_eq!(resp.headers["X-Allowed"], vec!["yes"]);
}

#[tokio::test]
async fn a_path_no_mount_serves_is_permission_denied_unless_the_acl_allows_it() {
    let f = fixture().await;
    let read = |token: String| {
        let core = f.core.clone();
        async move {
            call(
                &core,
                arca_sdk::Operation::Read,
                "nomount/x",
                json!({}),
                &token,
            )
            .await
            .unwrap_err()
        }
    };
    assert_eq!(read(String::new()).await, LogicalError::PermissionDenied);
    assert_eq!(
        read("hvs.unknown".into()).await,
        LogicalError::PermissionDenied
    );
    let t = f.token(&["default"]).await;
    assert_eq!(read(t).await, acl_denied());
    // OpenBao tells a caller its ACL lets through that there is no handler (root does).
    let err = read(f.root.clone()).await;
    assert_eq!(err.status(), 404);
    assert_eq!(
        err.wire_messages(),
        vec!["no handler for route \"nomount/x\". route entry not found.".to_string()]
    );
}
