//! Tests against a memory storage, held to the answers OpenBao 2.7.2 gave (observed with
//! `bao server -dev`, mount `auth/approle`, client address 127.0.0.1).

use std::sync::Arc;
use std::time::Duration;

use arca_sdk::framework::FrameworkBackend;
use arca_sdk::storage::{MemoryStorage, StorageExt};
use arca_sdk::{
    Auth, Backend, Connection, LogicalError, Operation, Request, Response, StaticSystemView,
    Storage,
};
use serde_json::{Value, json};

use super::secret_id::SecretIdEntry;

struct T {
    b: Arc<FrameworkBackend>,
    s: Arc<dyn Storage>,
}

impl T {
    fn new() -> T {
        T {
            b: Arc::new(super::backend(Arc::new(StaticSystemView::default()))),
            s: Arc::new(MemoryStorage::new()),
        }
    }

    fn request(&self, op: Operation, path: &str, data: Value, addr: &str) -> Request {
        let mut r = Request::new(op, path).with_data(data.as_object().cloned().unwrap_or_default());
        r.storage = Some(self.s.clone());
        r.connection = Some(Connection {
            remote_addr: addr.into(),
            ..Connection::default()
        });
        r
    }

    async fn call(
        &self,
        op: Operation,
        path: &str,
        data: Value,
    ) -> Result<Option<Response>, LogicalError> {
        self.b
            .handle_request(self.request(op, path, data, "127.0.0.1"))
            .await
    }

    /// The data of a successful answer (`null` for none).
    async fn ok(&self, op: Operation, path: &str, data: Value) -> Value {
        let resp = self
            .call(op, path, data)
            .await
            .unwrap_or_else(|e| panic!("{op:?} {path}: {e:?}"));
        resp.and_then(|r| r.data)
            .map(Value::Object)
            .unwrap_or(Value::Null)
    }

    async fn err(&self, op: Operation, path: &str, data: Value) -> LogicalError {
        match self.call(op, path, data).await {
            Err(e) => e,
            Ok(r) => panic!("{op:?} {path}: expected an error, got {r:?}"),
        }
    }

    async fn create(&self, name: &str, data: Value) {
        let r = self
            .call(Operation::Create, &format!("role/{name}"), data)
            .await;
        assert!(r.is_ok(), "create {name}: {r:?}");
    }

    async fn role_id(&self, name: &str) -> String {
        let d = self
            .ok(Operation::Read, &format!("role/{name}/role-id"), json!({}))
            .await;
        d["role_id"].as_str().unwrap_or_default().to_string()
    }

    async fn secret(&self, name: &str, data: Value) -> (String, String) {
        let d = self
            .ok(Operation::Update, &format!("role/{name}/secret-id"), data)
            .await;
        (
            d["secret_id"].as_str().unwrap().into(),
            d["secret_id_accessor"].as_str().unwrap().into(),
        )
    }

    async fn login_from(
        &self,
        addr: &str,
        role_id: &str,
        secret_id: &str,
    ) -> Result<Auth, LogicalError> {
        let req = self.request(
            Operation::Update,
            "login",
            json!({"role_id": role_id, "secret_id": secret_id}),
            addr,
        );
        let resp = self.b.handle_request(req).await?;
        Ok(resp.and_then(|r| r.auth).expect("auth"))
    }

    async fn login(&self, role_id: &str, secret_id: &str) -> Result<Auth, LogicalError> {
        self.login_from("127.0.0.1", role_id, secret_id).await
    }

    /// Keys stored under `prefix`, recursively.
    async fn keys_under(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![prefix.to_string()];
        while let Some(p) = todo.pop() {
            for k in self.s.list(&p).await.unwrap() {
                if k.ends_with('/') {
                    todo.push(format!("{p}{k}"));
                } else {
                    out.push(format!("{p}{k}"));
                }
            }
        }
        out
    }

    /// Makes every stored secret ID expired.
    async fn expire_all(&self) {
        for key in self.keys_under("secret_id/").await {
            let mut e: SecretIdEntry = self.s.get_json(&key).await.unwrap().unwrap();
            e.expiration_time = Some(1);
            self.s.put_json(&key, &e).await.unwrap();
        }
    }
}

/// An error as the wire shows it: status and `errors`.
type Wire = (u16, Vec<String>);

fn wire(e: &LogicalError) -> Wire {
    (e.status(), e.wire_messages())
}

fn multi(msg: &str) -> Vec<String> {
    vec![format!("1 error occurred:\n\t* {msg}\n\n")]
}

#[tokio::test]
async fn role_create_read_list_delete_as_openbao_shows_them() {
    let t = T::new();
    t.create("MyRole", json!({})).await;
    let want = json!({
        "bind_secret_id": true, "local_secret_ids": false, "secret_id_bound_cidrs": null,
        "secret_id_num_uses": 0, "secret_id_ttl": 0, "token_bound_cidrs": [],
        "token_explicit_max_ttl": 0, "token_max_ttl": 0, "token_no_default_policy": false,
        "token_num_uses": 0, "token_period": 0, "token_policies": [],
        "token_strictly_bind_ip": false, "token_ttl": 0, "token_type": "default"
    });
    assert_eq!(t.ok(Operation::Read, "role/myrole", json!({})).await, want);
    assert_eq!(t.ok(Operation::Read, "role/MyRole", json!({})).await, want);
    assert_eq!(
        t.ok(Operation::List, "role/", json!({})).await,
        json!({"keys": ["myrole"]})
    );
    let ex =
        t.b.handle_existence_check(&t.request(Operation::Create, "role/MYROLE", json!({}), ""))
            .await
            .unwrap();
    assert!(ex.check_found && ex.exists);
    let ex =
        t.b.handle_existence_check(&t.request(Operation::Create, "role/other", json!({}), ""))
            .await
            .unwrap();
    assert!(ex.check_found && !ex.exists);
    // An update (the core found no role) of a role that does not exist.
    let e = t.err(Operation::Update, "role/nope", json!({})).await;
    assert_eq!(
        wire(&e),
        (404, vec!["role name \"nope\" doesn't exist".to_string()])
    );
    assert!(
        t.call(Operation::Delete, "role/MyRole", json!({}))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        t.call(Operation::Read, "role/myrole", json!({}))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        t.err(Operation::List, "role", json!({})).await.status(),
        404
    );
    assert!(t.keys_under("role_id/").await.is_empty());
}

#[tokio::test]
async fn role_names_are_lower_cased_and_listed_in_pages() {
    let t = T::new();
    for name in ["c1", "C2", "b", "d"] {
        t.create(name, json!({})).await;
    }
    let page = t
        .ok(Operation::List, "role", json!({"after": "c", "limit": 2}))
        .await;
    assert_eq!(page, json!({"keys": ["c1", "c2"]}));
    let (sid, _) = t.secret("C2", json!({})).await;
    let auth = t.login(&t.role_id("c2").await, &sid).await.unwrap();
    assert_eq!(
        auth.metadata.get("role_name").map(String::as_str),
        Some("c2")
    );
    assert_eq!(auth.internal_data.get("role_name"), Some(&json!("c2")));
    assert_eq!(
        t.ok(Operation::List, "role/C2/secret-id", json!({})).await["keys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn role_writes_follow_openbao_rules_and_texts() {
    let t = T::new();
    t.create(
        "r",
        json!({"secret_id_bound_cidrs": "127.0.0.1/32, 10.0.0.0/8", "token_policies": "b,a",
        "secret_id_ttl": "1h", "secret_id_num_uses": 3, "period": 60}),
    )
    .await;
    let d = t.ok(Operation::Read, "role/r", json!({})).await;
    assert_eq!(
        d["secret_id_bound_cidrs"],
        json!(["127.0.0.1/32", "10.0.0.0/8"])
    );
    assert_eq!(d["token_policies"], json!(["b", "a"]));
    assert_eq!(
        (d["period"].clone(), d["token_period"].clone()),
        (json!(60), json!(60))
    );
    assert_eq!(
        (d["secret_id_ttl"].clone(), d["secret_id_num_uses"].clone()),
        (json!(3600), json!(3))
    );
    t.create("c7", json!({"local_secret_ids": true, "policies": "X,y"}))
        .await;
    let d = t.ok(Operation::Read, "role/c7", json!({})).await;
    assert_eq!(
        (d["policies"].clone(), d["token_policies"].clone()),
        (json!(["x", "y"]), json!(["x", "y"]))
    );
    assert_eq!(d["local_secret_ids"], true);
    let cases: Vec<(Operation, &str, Value, Wire)> = vec![
        (Operation::Create, "role/x", json!({"secret_id_bound_cidrs": "127.0.0.1"}),
            (400, multi("failed to validate CIDR blocks: invalid CIDR address: 127.0.0.1"))),
        (Operation::Create, "role/x", json!({"bind_secret_id": false}),
            (400, multi("at least one constraint should be enabled on the role"))),
        (Operation::Update, "role/r", json!({"local_secret_ids": true}),
            (400, vec!["local_secret_ids can only be modified during role creation".into()])),
        (Operation::Create, "role/x", json!({"period": "40000h"}),
            (400, vec!["period of \"40000h0m0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\"".into()])),
        (Operation::Create, "role/x", json!({"secret_id_num_uses": -1}),
            (400, vec!["secret_id_num_uses cannot be negative".into()])),
        (Operation::Create, "role/x", json!({"role_id": ""}),
            (400, vec!["invalid role_id supplied, or failed to generate a role_id".into()])),
        (Operation::Create, "role/x", json!({"token_ttl": 10, "token_max_ttl": 5}),
            (400, vec!["'token_ttl' cannot be greater than 'token_max_ttl'".into()])),
    ];
    for (op, path, data, want) in cases {
        assert_eq!(
            wire(&t.err(op, path, data.clone()).await),
            want,
            "{path} {data}"
        );
    }
    let rid = t.role_id("r").await;
    let e = t
        .err(Operation::Create, "role/other", json!({"role_id": rid}))
        .await;
    assert_eq!(wire(&e), (400, multi("role_id already in use")));
    // Older token types are adjusted, with OpenBao's warnings.
    let r = t
        .call(
            Operation::Create,
            "role/c5",
            json!({"token_bound_cidrs": "10.0.0.1", "token_type": "default-service"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.warnings,
        vec!["default-service has no useful meaning; adjusting to service"]
    );
    let r = t
        .call(
            Operation::Update,
            "role/c5",
            json!({"token_type": "default-batch"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.warnings,
        vec!["default-batch has no useful meaning; adjusting to batch"]
    );
    let d = t.ok(Operation::Read, "role/c5", json!({})).await;
    assert_eq!(
        (d["token_type"].clone(), d["token_bound_cidrs"].clone()),
        (json!("batch"), json!(["10.0.0.1"]))
    );
    let r = t
        .call(
            Operation::Update,
            "role/c5",
            json!({"token_max_ttl": "40000h"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.warnings,
        vec![
            "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"
        ]
    );
    // Only token_* given: the older value is cleared.
    t.ok(Operation::Update, "role/r", json!({"token_period": 30}))
        .await;
    let d = t.ok(Operation::Read, "role/r", json!({})).await;
    assert_eq!(
        (d.get("period"), d["token_period"].clone()),
        (None, json!(30))
    );
}

#[tokio::test]
async fn a_missing_role_gets_openbao_answer_on_every_endpoint() {
    let t = T::new();
    for path in [
        "role/nope",
        "role/nope/role-id",
        "role/nope/policies",
        "role/nope/token-ttl",
    ] {
        assert!(
            t.call(Operation::Read, path, json!({}))
                .await
                .unwrap()
                .is_none(),
            "{path}"
        );
    }
    let cases: Vec<(Operation, &str, Value, Wire)> = vec![
        (
            Operation::Update,
            "role/nope/role-id",
            json!({"role_id": "x"}),
            (404, multi("unsupported path")),
        ),
        (
            Operation::Update,
            "role/nope/policies",
            json!({"policies": "a"}),
            (404, multi("unsupported path")),
        ),
        (
            Operation::Update,
            "role/nope/secret-id",
            json!({}),
            (404, vec!["role \"nope\" does not exist".into()]),
        ),
        (
            Operation::List,
            "role/nope/secret-id",
            json!({}),
            (400, vec!["role \"nope\" does not exist".into()]),
        ),
        (
            Operation::Update,
            "role/nope/custom-secret-id",
            json!({"secret_id": "abc"}),
            (404, vec!["role \"nope\" does not exist".into()]),
        ),
        (
            Operation::Update,
            "role/nope/custom-secret-id",
            json!({}),
            (400, vec!["missing secret_id".into()]),
        ),
        (
            Operation::Update,
            "role/nope/secret-id/lookup",
            json!({"secret_id": "abc"}),
            (400, multi("role \"nope\" does not exist")),
        ),
        (
            Operation::Update,
            "role/nope/secret-id/lookup",
            json!({}),
            (400, vec!["missing secret_id".into()]),
        ),
        (
            Operation::Update,
            "role/nope/secret-id/destroy",
            json!({"secret_id": "abc"}),
            (400, multi("role \"nope\" does not exist")),
        ),
        (
            Operation::Update,
            "role/nope/secret-id-accessor/lookup",
            json!({"secret_id_accessor": "abc"}),
            (400, multi("role \"nope\" does not exist")),
        ),
        (
            Operation::Update,
            "role/nope/secret-id-accessor/destroy",
            json!({"secret_id_accessor": "abc"}),
            (400, multi("role \"nope\" does not exist")),
        ),
    ];
    for (op, path, data, want) in cases {
        assert_eq!(wire(&t.err(op, path, data).await), want, "{op:?} {path}");
    }
    assert!(
        t.call(Operation::Delete, "role/nope", json!({}))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        t.call(Operation::Delete, "role/nope/policies", json!({}))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn role_id_can_be_chosen_and_changed_and_is_unique() {
    let t = T::new();
    t.create("a", json!({"role_id": "custom-id"})).await;
    assert_eq!(t.role_id("a").await, "custom-id");
    let (sid, _) = t.secret("a", json!({})).await;
    assert!(t.login("custom-id", &sid).await.is_ok());
    t.ok(
        Operation::Update,
        "role/a/role-id",
        json!({"role_id": "new-id"}),
    )
    .await;
    assert_eq!(t.role_id("a").await, "new-id");
    assert!(t.login("new-id", &sid).await.is_ok());
    let e = t.login("custom-id", &sid).await.unwrap_err();
    assert_eq!(e, LogicalError::bad_request("invalid role or secret ID"));
    t.create("b", json!({})).await;
    let e = t
        .err(
            Operation::Update,
            "role/b/role-id",
            json!({"role_id": "new-id"}),
        )
        .await;
    assert_eq!(wire(&e), (400, multi("role_id already in use")));
    let e = t.err(Operation::Update, "role/b/role-id", json!({})).await;
    assert_eq!(e, LogicalError::bad_request("missing role_id"));
}

#[tokio::test]
async fn secret_ids_are_checked_against_the_role_as_openbao_does() {
    let t = T::new();
    t.create("r", json!({"secret_id_bound_cidrs": "127.0.0.1/32,10.0.0.0/8", "secret_id_ttl": "1h", "secret_id_num_uses": 3})).await;
    let d = t
        .ok(
            Operation::Update,
            "role/r/secret-id",
            json!({"metadata": "{\"env\":\"dev\"}", "cidr_list": "10.1.0.0/16"}),
        )
        .await;
    assert_eq!(
        (d["secret_id_num_uses"].clone(), d["secret_id_ttl"].clone()),
        (json!(3), json!(3600))
    );
    assert!(d["secret_id"].as_str().is_some_and(|s| s.len() == 36));
    let cases: Vec<(&str, Value, Wire)> = vec![
        ("secret-id", json!({"cidr_list": "11.0.0.0/8"}), (400, multi(
            "failed to verify subset relationship between CIDR blocks on the role [\"127.0.0.1/32\" \"10.0.0.0/8\"] and CIDR blocks on the secret ID [\"11.0.0.0/8\"]: %!w(<nil>)"))),
        ("secret-id", json!({"num_uses": 5}), (400, vec!["num_uses cannot be higher than the role's secret_id_num_uses".into()])),
        ("secret-id", json!({"num_uses": 0}), (400, vec!["num_uses cannot be higher than the role's secret_id_num_uses".into()])),
        ("secret-id", json!({"num_uses": -1}), (400, vec!["num_uses cannot be negative".into()])),
        ("secret-id", json!({"ttl": "2h"}), (400, vec!["ttl cannot be longer than the role's secret_id_ttl".into()])),
        ("secret-id", json!({"ttl": 0}), (400, vec!["ttl cannot be longer than the role's secret_id_ttl".into()])),
        ("secret-id", json!({"metadata": "notjson"}), (400, vec!["failed to parse metadata: failed to parse the input: invalid <key,value> format".into()])),
        ("secret-id", json!({"metadata": "{\"x\":\"\"}"}), (400, vec!["failed to parse metadata: invalid value for key \"x\"".into()])),
        ("secret-id", json!({"metadata": "a="}), (400, vec!["failed to parse metadata: failed to parse the input: invalid <key,value> pair: key: \"a\" value: \"\"".into()])),
        ("secret-id", json!({"token_bound_cidrs": "1.2.3.4"}), (400, multi("failed to validate token CIDR blocks: invalid CIDR address: 1.2.3.4"))),
        ("secret-id", json!({"cidr_list": "bogus"}), (400, multi("failed to validate CIDR blocks: invalid CIDR address: bogus"))),
    ];
    for (sub, data, want) in cases {
        assert_eq!(
            wire(
                &t.err(Operation::Update, &format!("role/r/{sub}"), data.clone())
                    .await
            ),
            want,
            "{data}"
        );
    }
    let d = t
        .ok(
            Operation::Update,
            "role/r/custom-secret-id",
            json!({"secret_id": "s3cr3t", "ttl": 60}),
        )
        .await;
    assert_eq!(
        (d["secret_id"].clone(), d["secret_id_ttl"].clone()),
        (json!("s3cr3t"), json!(60))
    );
    let e = t
        .err(
            Operation::Update,
            "role/r/custom-secret-id",
            json!({"secret_id": "s3cr3t"}),
        )
        .await;
    assert_eq!(
        wire(&e),
        (
            400,
            multi("failed to store secret_id: SecretID is already registered")
        )
    );
    let keys = t.ok(Operation::List, "role/r/secret-id", json!({})).await;
    assert_eq!(keys["keys"].as_array().map(Vec::len), Some(2));
    // Only HMACs are stored: the secret ID appears in no key and no value.
    for key in t.keys_under("").await {
        assert!(!key.contains("s3cr3t"));
        let raw = t.s.get(&key).await.unwrap().unwrap();
        assert!(
            !String::from_utf8_lossy(&raw.value).contains("s3cr3t"),
            "{key}"
        );
    }
    // A role without bind_secret_id issues none; the token CIDRs of one must lie in the role's.
    t.create(
        "o",
        json!({"bind_secret_id": false, "token_bound_cidrs": "10.0.0.1"}),
    )
    .await;
    assert_eq!(
        t.err(Operation::Update, "role/o/secret-id", json!({}))
            .await,
        LogicalError::bad_request("bind_secret_id is not set on the role")
    );
    t.create("c5", json!({"token_bound_cidrs": "10.0.0.1"}))
        .await;
    t.ok(
        Operation::Update,
        "role/c5/secret-id",
        json!({"token_bound_cidrs": "10.0.0.1/32"}),
    )
    .await;
    let e = t
        .err(
            Operation::Update,
            "role/c5/secret-id",
            json!({"token_bound_cidrs": "10.0.0.0/8"}),
        )
        .await;
    assert_eq!(
        wire(&e),
        (
            400,
            multi(
                "failed to verify subset relationship between CIDR blocks on the role [\"10.0.0.1/32\"] and CIDR blocks on the secret ID [\"10.0.0.0/8\"]: %!w(<nil>)"
            )
        )
    );
}

#[test]
fn metadata_parses_as_strutil_does() {
    use super::secret_id::parse_metadata;
    let m = parse_metadata("A=B, c=d").unwrap();
    assert_eq!(
        m.into_iter().collect::<Vec<_>>(),
        vec![("a".into(), "b".into()), ("c".into(), "d".into())]
    );
    let m = parse_metadata("eyJ4IjoiWSJ9").unwrap();
    assert_eq!(m.get("x").map(String::as_str), Some("Y"));
    assert!(parse_metadata("a=b,,").is_ok());
    assert_eq!(
        parse_metadata("a=b=c").unwrap_err(),
        "failed to parse the input: invalid <key,value> format"
    );
    assert_eq!(
        parse_metadata("{\"x\":1}").unwrap_err(),
        "failed to parse the input: invalid <key,value> format"
    );
}

#[test]
fn times_are_shown_as_go_marshals_them() {
    assert_eq!(super::go_time(None), "0001-01-01T00:00:00Z");
    assert_eq!(
        super::go_time(Some(1_796_515_106_267_121_358)),
        "2026-12-05T23:58:26.267121358Z"
    );
    assert_eq!(
        super::go_time(Some(1_796_515_106_500_000_000)),
        "2026-12-05T23:58:26.5Z"
    );
    assert_eq!(
        super::go_time(Some(1_796_515_106_000_000_000)),
        "2026-12-05T23:58:26Z"
    );
}

#[tokio::test]
async fn lookup_and_destroy_by_value() {
    let t = T::new();
    t.create("r", json!({"secret_id_ttl": "1h"})).await;
    t.ok(
        Operation::Update,
        "role/r/custom-secret-id",
        json!({"secret_id": "m1", "metadata": "A=B, c=d", "ttl": 60}),
    )
    .await;
    let d = t
        .ok(
            Operation::Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": "m1"}),
        )
        .await;
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cidr_list",
            "creation_time",
            "expiration_time",
            "last_updated_time",
            "metadata",
            "secret_id_accessor",
            "secret_id_num_uses",
            "secret_id_ttl",
            "token_bound_cidrs"
        ]
    );
    assert_eq!(d["metadata"], json!({"a": "b", "c": "d"}));
    assert_eq!(
        (d["cidr_list"].clone(), d["token_bound_cidrs"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(
        (d["secret_id_ttl"].clone(), d["secret_id_num_uses"].clone()),
        (json!(60), json!(0))
    );
    let created =
        chrono::DateTime::parse_from_rfc3339(d["creation_time"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(d["expiration_time"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_seconds(), 60);
    assert!(d["creation_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(d["creation_time"], d["last_updated_time"]);
    assert!(
        t.call(
            Operation::Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": "nope"})
        )
        .await
        .unwrap()
        .is_none()
    );
    // Without a TTL on either side the secret ID never expires: Go's zero time.
    t.create("forever", json!({})).await;
    t.ok(
        Operation::Update,
        "role/forever/custom-secret-id",
        json!({"secret_id": "f"}),
    )
    .await;
    let d = t
        .ok(
            Operation::Update,
            "role/forever/secret-id/lookup",
            json!({"secret_id": "f"}),
        )
        .await;
    assert_eq!(d["expiration_time"], "0001-01-01T00:00:00Z");
    assert!(
        t.call(
            Operation::Update,
            "role/r/secret-id/destroy",
            json!({"secret_id": "m1"})
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(
        t.call(
            Operation::Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": "m1"})
        )
        .await
        .unwrap()
        .is_none()
    );
    assert_eq!(
        t.err(Operation::Delete, "role/r/secret-id/destroy", json!({}))
            .await,
        LogicalError::bad_request("missing secret_id")
    );
    assert!(
        t.keys_under("accessor/").await.len() == 1,
        "only f's accessor is left"
    );
}

#[tokio::test]
async fn accessors_look_up_and_destroy_and_refuse_other_roles() {
    let t = T::new();
    t.create("r", json!({})).await;
    t.create("other", json!({})).await;
    let (_, acc) = t.secret("r", json!({"metadata": "x=Y"})).await;
    // Another role's accessor names nothing under this role.
    assert!(
        t.call(
            Operation::Update,
            "role/other/secret-id-accessor/lookup",
            json!({"secret_id_accessor": acc})
        )
        .await
        .unwrap()
        .is_none()
    );
    let e = t
        .err(
            Operation::Update,
            "role/other/secret-id-accessor/destroy",
            json!({"secret_id_accessor": acc}),
        )
        .await;
    assert_eq!(wire(&e), (403, vec!["invalid secret id accessor".into()]));
    let r = t
        .call(
            Operation::Update,
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": "nonexist"}),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, Some(404));
    assert_eq!(
        r.data.unwrap()["error"],
        "failed to find accessor entry for secret_id_accessor: \"nonexist\""
    );
    let e = t
        .err(
            Operation::Update,
            "role/r/secret-id-accessor/destroy",
            json!({"secret_id_accessor": "nonexist"}),
        )
        .await;
    assert_eq!(
        wire(&e),
        (
            400,
            multi("failed to find accessor entry for secret_id_accessor: \"nonexist\"")
        )
    );
    assert_eq!(
        t.err(
            Operation::Update,
            "role/r/secret-id-accessor/lookup",
            json!({})
        )
        .await,
        LogicalError::bad_request("missing secret_id_accessor")
    );
    let d = t
        .ok(
            Operation::Update,
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": acc}),
        )
        .await;
    assert_eq!(
        (d["secret_id_accessor"].clone(), d["metadata"].clone()),
        (json!(acc), json!({"x": "y"}))
    );
    assert!(
        t.call(
            Operation::Delete,
            "role/r/secret-id-accessor/destroy",
            json!({"secret_id_accessor": acc})
        )
        .await
        .unwrap()
        .is_none()
    );
    assert_eq!(
        t.err(Operation::List, "role/r/secret-id", json!({}))
            .await
            .status(),
        404
    );
    assert!(t.keys_under("accessor/").await.is_empty());
}

#[tokio::test]
async fn login_checks_in_openbao_order_and_answers_an_auth() {
    let t = T::new();
    t.create("r", json!({"token_policies": "b,a", "period": 60, "token_ttl": 30, "secret_id_bound_cidrs": "127.0.0.0/8"})).await;
    let rid = t.role_id("r").await;
    let (sid, _) = t.secret("r", json!({"metadata": "{\"x\":\"Y\"}"})).await;
    assert_eq!(
        t.login("", "x").await.unwrap_err(),
        LogicalError::bad_request("missing role_id")
    );
    assert_eq!(
        t.login("zzz", "x").await.unwrap_err(),
        LogicalError::bad_request("invalid role or secret ID")
    );
    assert_eq!(
        t.login(&rid, " ").await.unwrap_err(),
        LogicalError::bad_request("missing secret_id")
    );
    assert_eq!(
        t.login(&rid, "bad").await.unwrap_err(),
        LogicalError::invalid_credentials("invalid role or secret ID")
    );
    // A login's internal failure is a bare 500, unlike other paths' (observed).
    let e = t.login(&rid, &"a".repeat(4097)).await.unwrap_err();
    assert_eq!(
        wire(&e),
        (
            500,
            vec![
                "failed to create HMAC of secret_id: value is longer than maximum of 4096 bytes"
                    .into()
            ]
        )
    );
    let e = t
        .err(
            Operation::Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": "a".repeat(4097)}),
        )
        .await;
    assert_eq!(
        wire(&e),
        (
            500,
            multi("failed to create HMAC of secret_id: value is longer than maximum of 4096 bytes")
        )
    );
    let e = t
        .err(
            Operation::Update,
            "role/r/custom-secret-id",
            json!({"secret_id": "a".repeat(4097)}),
        )
        .await;
    assert_eq!(
        wire(&e),
        (
            500,
            multi(
                "failed to store secret_id: failed to create HMAC of secret ID: value is longer than maximum of 4096 bytes"
            )
        )
    );
    let auth = t.login(&format!(" {rid} "), &sid).await.unwrap();
    assert_eq!(
        auth.metadata.get("role_name").map(String::as_str),
        Some("r")
    );
    assert_eq!(auth.metadata.get("x").map(String::as_str), Some("Y"));
    let alias = auth.alias.clone().unwrap();
    assert_eq!(
        (alias.name.as_str(), alias.metadata.len()),
        (rid.as_str(), 2)
    );
    assert_eq!(auth.internal_data.get("role_name"), Some(&json!("r")));
    assert_eq!(auth.policies, ["b", "a"]);
    assert_eq!(
        (auth.period, auth.lease.ttl),
        (Duration::from_secs(60), Duration::from_secs(30))
    );
    assert!(auth.lease.renewable);
    assert_eq!(auth.display_name, "");
    // A role without bind_secret_id logs in on its role ID alone.
    t.create(
        "open",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.1/32"}),
    )
    .await;
    let auth = t.login(&t.role_id("open").await, "").await.unwrap();
    assert_eq!(auth.metadata.len(), 1);
    // A secret ID's token CIDRs bind the token instead of the role's.
    t.create("tb", json!({"token_bound_cidrs": "10.0.0.0/8"}))
        .await;
    let (sid, _) = t
        .secret("tb", json!({"token_bound_cidrs": "10.1.0.0/16"}))
        .await;
    assert_eq!(
        t.login(&t.role_id("tb").await, &sid)
            .await
            .unwrap()
            .bound_cidrs,
        ["10.1.0.0/16"]
    );
}

#[tokio::test]
async fn login_refuses_addresses_outside_the_cidrs() {
    let t = T::new();
    let cases = [
        (
            "c1",
            json!({"secret_id_bound_cidrs": "127.0.0.0/8"}),
            json!({"cidr_list": "127.0.0.2/32"}),
            "source address \"127.0.0.1\" unauthorized through CIDR restrictions on the secret ID",
        ),
        (
            "c2",
            json!({"secret_id_bound_cidrs": "127.0.0.0/8", "secret_id_num_uses": 2}),
            json!({"cidr_list": "127.0.0.2/32"}),
            "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the secret ID: %!w(<nil>)",
        ),
        (
            "c3",
            json!({"secret_id_bound_cidrs": "10.0.0.0/8"}),
            json!({}),
            "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the role: %!w(<nil>)",
        ),
    ];
    for (name, role, secret, want) in cases {
        t.create(name, role).await;
        let (sid, _) = t.secret(name, secret).await;
        let e = t.login(&t.role_id(name).await, &sid).await.unwrap_err();
        assert_eq!(e, LogicalError::bad_request(want), "{name}");
    }
    // c2's refused login still spent a use, as OpenBao's does.
    let d = t.ok(Operation::Update, "role/c2/secret-id-accessor/lookup",
        json!({"secret_id_accessor": t.ok(Operation::List, "role/c2/secret-id", json!({})).await["keys"][0]})).await;
    assert_eq!(d["secret_id_num_uses"], 1);
    t.create(
        "c4",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    let rid = t.role_id("c4").await;
    let e = t.login(&rid, "").await.unwrap_err();
    assert_eq!(
        e,
        LogicalError::bad_request(
            "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the role: %!w(<nil>)"
        )
    );
    assert!(t.login_from("10.2.3.4", &rid, "").await.is_ok());
}

#[tokio::test]
async fn uses_are_counted_and_the_last_deletes_the_secret_id() {
    let t = T::new();
    t.create("r", json!({"secret_id_num_uses": 2})).await;
    let rid = t.role_id("r").await;
    let (sid, acc) = t.secret("r", json!({})).await;
    t.login(&rid, &sid).await.unwrap();
    let d = t
        .ok(
            Operation::Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": sid}),
        )
        .await;
    assert_eq!(d["secret_id_num_uses"], 1);
    assert_ne!(d["last_updated_time"], d["creation_time"]);
    t.login(&rid, &sid).await.unwrap();
    assert_eq!(
        t.login(&rid, &sid).await.unwrap_err(),
        LogicalError::invalid_credentials("invalid role or secret ID")
    );
    let r = t
        .call(
            Operation::Update,
            "role/r/secret-id-accessor/lookup",
            json!({"secret_id_accessor": acc}),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, Some(404));
    assert!(t.keys_under("secret_id/").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_logins_share_one_use_exactly_once() {
    let t = Arc::new(T::new());
    t.create("r", json!({"secret_id_num_uses": 1})).await;
    let rid = t.role_id("r").await;
    for _ in 0..25 {
        let (sid, _) = t.secret("r", json!({})).await;
        let (a, b) = {
            let (t1, t2) = (t.clone(), t.clone());
            let (r1, s1, r2, s2) = (rid.clone(), sid.clone(), rid.clone(), sid.clone());
            let h1 = tokio::spawn(async move { t1.login(&r1, &s1).await });
            let h2 = tokio::spawn(async move { t2.login(&r2, &s2).await });
            (h1.await.unwrap(), h2.await.unwrap())
        };
        assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1, "{a:?} {b:?}");
        let failed = a.err().or(b.err()).unwrap();
        assert_eq!(
            failed,
            LogicalError::invalid_credentials("invalid role or secret ID")
        );
    }
    assert!(t.keys_under("secret_id/").await.is_empty());
    assert!(t.keys_under("accessor/").await.is_empty());
}

#[tokio::test]
async fn expired_secret_ids_fail_and_tidy_removes_them() {
    let t = T::new();
    t.create("e", json!({})).await;
    t.create("keep", json!({})).await;
    let rid = t.role_id("e").await;
    t.ok(
        Operation::Update,
        "role/e/custom-secret-id",
        json!({"secret_id": "ex", "ttl": 1}),
    )
    .await;
    t.expire_all().await;
    t.ok(
        Operation::Update,
        "role/keep/custom-secret-id",
        json!({"secret_id": "k"}),
    )
    .await;
    assert_eq!(
        t.login(&rid, "ex").await.unwrap_err(),
        LogicalError::invalid_credentials("invalid role or secret ID")
    );
    assert!(
        t.call(
            Operation::Update,
            "role/e/secret-id/lookup",
            json!({"secret_id": "ex"})
        )
        .await
        .unwrap()
        .is_none()
    );
    // Listed until tidied, as in OpenBao.
    assert_eq!(
        t.ok(Operation::List, "role/e/secret-id", json!({})).await["keys"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // A dangling accessor goes too.
    t.s.put_json("accessor/dangling", &json!({"secret_id_hmac": "gone"}))
        .await
        .unwrap();
    let r = t
        .call(Operation::Update, "tidy/secret-id", json!({}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.status, Some(202));
    assert_eq!(
        r.warnings,
        vec![
            "Tidy operation successfully started. Any information from the operation will be printed to OpenBao's server logs."
        ]
    );
    for _ in 0..200 {
        if t.keys_under("secret_id/").await.len() == 1 && t.keys_under("accessor/").await.len() == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        t.keys_under("secret_id/").await.len(),
        1,
        "only keep's secret ID is left"
    );
    assert_eq!(t.keys_under("accessor/").await.len(), 1);
    assert!(t.login(&t.role_id("keep").await, "k").await.is_ok());
    assert_eq!(
        t.err(Operation::List, "role/e/secret-id", json!({}))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_second_tidy_while_one_runs_is_told_so() {
    let t = T::new();
    t.b.handle_request(t.request(Operation::Update, "tidy/secret-id", json!({}), ""))
        .await
        .unwrap();
    // The first one may have finished already; either answer is OpenBao's.
    let r = t
        .call(Operation::Update, "tidy/secret-id", json!({}))
        .await
        .unwrap()
        .unwrap();
    assert!(r.warnings == ["Tidy operation already in progress."] || r.status == Some(202));
}

#[tokio::test]
async fn renewal_takes_the_role_current_ttls_and_needs_the_role() {
    let t = T::new();
    t.create("r", json!({"token_ttl": 30, "token_max_ttl": 90}))
        .await;
    let (sid, _) = t.secret("r", json!({})).await;
    let auth = t.login(&t.role_id("r").await, &sid).await.unwrap();
    t.ok(
        Operation::Update,
        "role/r",
        json!({"token_ttl": 60, "token_period": 45}),
    )
    .await;
    let renew = || {
        let mut req = t.request(Operation::Renew, "login", json!({}), "127.0.0.1");
        req.auth = Some(auth.clone());
        t.b.handle_request(req)
    };
    let renewed = renew().await.unwrap().unwrap().auth.unwrap();
    assert_eq!(renewed.lease.ttl, Duration::from_secs(60));
    assert_eq!(renewed.lease.max_ttl, Duration::from_secs(90));
    assert_eq!(renewed.period, Duration::from_secs(45));
    assert_eq!(renewed.metadata, auth.metadata);
    t.ok(Operation::Delete, "role/r", json!({})).await;
    let e = renew().await.unwrap_err();
    assert_eq!(
        wire(&e),
        (500, multi("role \"r\" does not exist during renewal"))
    );
}

#[tokio::test]
async fn alias_lookahead_answers_the_role_id_without_checking() {
    let t = T::new();
    let req = t.request(
        Operation::AliasLookahead,
        "login",
        json!({"role_id": " some-id ", "secret_id": "wrong"}),
        "",
    );
    let auth =
        t.b.handle_request(req)
            .await
            .unwrap()
            .unwrap()
            .auth
            .unwrap();
    assert_eq!(auth.alias.unwrap().name, "some-id");
    assert!(auth.policies.is_empty() && auth.metadata.is_empty());
    let req = t.request(Operation::AliasLookahead, "login", json!({}), "");
    let e = t.b.handle_request(req).await.unwrap_err();
    assert_eq!(wire(&e), (400, vec!["missing role_id".into()]));
}

#[tokio::test]
async fn a_secret_id_whose_accessor_is_gone_is_revoked_on_sight() {
    let t = T::new();
    t.create("r", json!({})).await;
    let rid = t.role_id("r").await;
    let (a, _) = t.secret("r", json!({})).await;
    let (b, _) = t.secret("r", json!({})).await;
    for key in t.keys_under("accessor/").await {
        t.s.delete(&key).await.unwrap();
    }
    let e = t.login(&rid, &a).await.unwrap_err();
    assert_eq!(e, LogicalError::bad_request("invalid role or secret ID"));
    let e = t
        .err(
            Operation::Update,
            "role/r/secret-id/lookup",
            json!({"secret_id": b}),
        )
        .await;
    assert_eq!(e, LogicalError::bad_request("invalid secret id"));
    assert!(t.keys_under("secret_id/").await.is_empty());
}

#[tokio::test]
async fn resolve_role_names_the_role_of_a_role_id() {
    let t = T::new();
    t.create("Web", json!({})).await;
    let req = t.request(
        Operation::ResolveRole,
        "login",
        json!({"role_id": t.role_id("web").await}),
        "",
    );
    let d =
        t.b.handle_request(req)
            .await
            .unwrap()
            .unwrap()
            .data
            .unwrap();
    assert_eq!(d["role"], "web");
    let req = t.request(
        Operation::ResolveRole,
        "login",
        json!({"role_id": "nope"}),
        "",
    );
    assert_eq!(
        t.b.handle_request(req).await.unwrap_err(),
        LogicalError::bad_request("invalid role or secret ID")
    );
}

#[tokio::test]
async fn deleting_a_role_deletes_its_secret_ids() {
    let t = T::new();
    t.create("r", json!({})).await;
    t.secret("r", json!({})).await;
    t.secret("r", json!({})).await;
    t.ok(Operation::Delete, "role/r", json!({})).await;
    assert!(t.keys_under("secret_id/").await.is_empty());
    assert!(t.keys_under("accessor/").await.is_empty());
    assert!(t.keys_under("role").await.is_empty());
}

#[tokio::test]
async fn field_sub_paths_read_update_delete_as_openbao() {
    let t = T::new();
    t.create("e", json!({})).await;
    let read = |p: &'static str| t.ok(Operation::Read, p, json!({}));
    assert_eq!(read("role/e/policies").await, json!({"token_policies": []}));
    assert_eq!(read("role/e/period").await, json!({"token_period": 0}));
    assert_eq!(read("role/e/token-ttl").await, json!({"token_ttl": 0}));
    assert_eq!(
        read("role/e/secret-id-bound-cidrs").await,
        json!({"secret_id_bound_cidrs": null})
    );
    assert_eq!(
        read("role/e/token-bound-cidrs").await,
        json!({"token_bound_cidrs": null})
    );
    assert_eq!(
        read("role/e/local-secret-ids").await,
        json!({"local_secret_ids": false})
    );
    assert_eq!(
        read("role/e/bind-secret-id").await,
        json!({"bind_secret_id": true})
    );
    let r = t
        .call(Operation::Read, "role/e/bound-cidr-list", json!({}))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        r.warnings,
        vec![
            r#"The "bound_cidr_list" field is deprecated and will be removed. Please use "secret_id_bound_cidrs" instead."#
        ]
    );
    let cases: Vec<(&str, Value, &str)> = vec![
        ("policies", json!({}), "missing token_policies"),
        ("period", json!({}), "missing period"),
        ("token-ttl", json!({}), "missing token_ttl"),
        ("token-max-ttl", json!({}), "missing token_max_ttl"),
        ("token-num-uses", json!({}), "missing token_num_uses"),
        (
            "secret-id-num-uses",
            json!({}),
            "missing secret_id_num_uses",
        ),
        ("secret-id-ttl", json!({}), "missing secret_id_ttl"),
        ("bind-secret-id", json!({}), "missing bind_secret_id"),
        (
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": ""}),
            "missing bound_cidr_list",
        ),
        (
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": "1.2.3.4"}),
            "failed to validate CIDR blocks: invalid CIDR address: 1.2.3.4",
        ),
        (
            "token-bound-cidrs",
            json!({"token_bound_cidrs": "bad"}),
            "failed to parse token_bound_cidrs: error parsing address \"bad\": Unable to convert \"bad\" to an IPv4 or IPv6 address, or a UNIX Socket",
        ),
        (
            "period",
            json!({"token_period": "40000h"}),
            "period of \"0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\"",
        ),
        (
            "secret-id-num-uses",
            json!({"secret_id_num_uses": -1}),
            "secret_id_num_uses cannot be negative",
        ),
    ];
    for (sub, data, want) in cases {
        let e = t
            .err(Operation::Update, &format!("role/e/{sub}"), data)
            .await;
        assert_eq!(e, LogicalError::bad_request(want), "{sub}");
    }
    t.ok(
        Operation::Update,
        "role/e/token-max-ttl",
        json!({"token_max_ttl": 5}),
    )
    .await;
    assert_eq!(
        t.err(
            Operation::Update,
            "role/e/token-ttl",
            json!({"token_ttl": 10})
        )
        .await,
        LogicalError::bad_request("token_ttl should not be greater than token_max_ttl")
    );
    t.ok(
        Operation::Update,
        "role/e/token-ttl",
        json!({"token_ttl": 4}),
    )
    .await;
    assert_eq!(
        t.err(
            Operation::Update,
            "role/e/token-max-ttl",
            json!({"token_max_ttl": 3})
        )
        .await,
        LogicalError::bad_request("token_max_ttl should be greater than or equal to token_ttl")
    );
    t.ok(Operation::Update, "role/e/period", json!({"period": 30}))
        .await;
    assert_eq!(
        read("role/e/period").await,
        json!({"period": 30, "token_period": 30})
    );
    t.ok(Operation::Delete, "role/e/period", json!({})).await;
    assert_eq!(read("role/e/period").await, json!({"token_period": 0}));
    t.ok(
        Operation::Update,
        "role/e/policies",
        json!({"policies": "Q,p"}),
    )
    .await;
    assert_eq!(
        read("role/e/policies").await,
        json!({"policies": ["p", "q"], "token_policies": ["p", "q"]})
    );
    t.ok(
        Operation::Update,
        "role/e/policies",
        json!({"token_policies": "z"}),
    )
    .await;
    assert_eq!(
        read("role/e/policies").await,
        json!({"token_policies": ["z"]})
    );
    t.ok(Operation::Delete, "role/e/policies", json!({})).await;
    assert_eq!(read("role/e/policies").await, json!({"token_policies": []}));
    t.ok(
        Operation::Update,
        "role/e/bound-cidr-list",
        json!({"bound_cidr_list": "10.0.0.0/8"}),
    )
    .await;
    assert_eq!(
        read("role/e/secret-id-bound-cidrs").await,
        json!({"secret_id_bound_cidrs": ["10.0.0.0/8"]})
    );
    t.ok(
        Operation::Update,
        "role/e/token-bound-cidrs",
        json!({"token_bound_cidrs": "10.0.0.1/32"}),
    )
    .await;
    assert_eq!(
        read("role/e/token-bound-cidrs").await,
        json!({"token_bound_cidrs": ["10.0.0.1"]})
    );
    for (sub, data, key, want) in [
        (
            "secret-id-num-uses",
            json!({"secret_id_num_uses": 4}),
            "secret_id_num_uses",
            json!(4),
        ),
        (
            "secret-id-ttl",
            json!({"secret_id_ttl": "1m"}),
            "secret_id_ttl",
            json!(60),
        ),
        (
            "token-num-uses",
            json!({"token_num_uses": 2}),
            "token_num_uses",
            json!(2),
        ),
        (
            "bind-secret-id",
            json!({"bind_secret_id": false}),
            "bind_secret_id",
            json!(false),
        ),
    ] {
        let path = format!("role/e/{sub}");
        t.ok(Operation::Update, &path, data).await;
        assert_eq!(
            t.ok(Operation::Read, &path, json!({})).await[key],
            want,
            "{sub}"
        );
        t.ok(Operation::Delete, &path, json!({})).await;
        assert_ne!(
            t.ok(Operation::Read, &path, json!({})).await[key],
            want,
            "{sub} reset"
        );
    }
    assert_eq!(
        t.err(Operation::Update, "role/e/local-secret-ids", json!({}))
            .await,
        LogicalError::UnsupportedOperation
    );
    // The last constraint cannot go.
    t.ok(Operation::Delete, "role/e/token-bound-cidrs", json!({}))
        .await;
    t.ok(
        Operation::Update,
        "role/e/bind-secret-id",
        json!({"bind_secret_id": false}),
    )
    .await;
    let e = t
        .err(Operation::Delete, "role/e/secret-id-bound-cidrs", json!({}))
        .await;
    assert_eq!(
        wire(&e),
        (
            400,
            multi("at least one constraint should be enabled on the role")
        )
    );
}

#[test]
fn cidr_blocks_parse_and_nest_as_go_does() {
    use super::cidr::{Block, ip_belongs_to_blocks, verify_subset};
    assert_eq!(
        Block::parse("10.0.0.1").unwrap_err(),
        "invalid CIDR address: 10.0.0.1"
    );
    assert_eq!(
        Block::parse("10.0.0.0/33").unwrap_err(),
        "invalid CIDR address: 10.0.0.0/33"
    );
    assert!(Block::parse("fd00::/8").is_ok());
    assert_eq!(
        ip_belongs_to_blocks("10.1.2.3", &["10.0.0.0/8".into()]),
        Ok(true)
    );
    assert_eq!(
        ip_belongs_to_blocks("::ffff:10.1.2.3", &["10.0.0.0/8".into()]),
        Ok(true)
    );
    assert_eq!(
        ip_belongs_to_blocks("x", &["10.0.0.0/8".into()]),
        Err("invalid IP address".into())
    );
    assert!(verify_subset(&["10.1.0.0/16".into()], &["10.0.0.0/8".into()]).is_ok());
    assert!(verify_subset(&["10.0.0.1/32".into()], &["10.0.0.1".into()]).is_ok());
    assert!(verify_subset(&["10.0.0.0/8".into()], &["10.1.0.0/16".into()]).is_err());
    let e = verify_subset(&["10.0.0.0/8".into()], &["10.0.0.0/0".into()]).unwrap_err();
    assert!(
        e.ends_with(": CIDR to be checked against is not in its canonical form"),
        "{e}"
    );
}
