//! Tests of the userpass method against `MemoryStorage`, held to OpenBao 2.7.2's answers
//! (observed with `bao server -dev`; the JSON in the comments is what it returned).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_sdk::storage::{MemoryStorage, StorageExt};
use arca_sdk::{Auth, Backend, Connection, LogicalError, Operation, Request, Response, Storage};
use serde_json::{Value, json};

use super::login::equivalent_policies;
use super::{backend, password};

const INVALID: &str = "invalid username or password";

/// A 72-byte password and a cost-5 bcrypt hash of it (made by Python's bcrypt).
fn x72() -> String {
    "x".repeat(72)
}
const X72_COST5: &str = "$2a$05$......................YgIDy4hFBdVlc/6LHnD9mX488r9cLd2";

struct Env {
    backend: Arc<dyn Backend>,
    storage: Arc<MemoryStorage>,
}

fn env() -> Env {
    Env {
        backend: Arc::new(backend()),
        storage: Arc::new(MemoryStorage::new()),
    }
}

fn body(v: Value) -> arca_sdk::JsonMap {
    match v {
        Value::Object(m) => m,
        _ => arca_sdk::JsonMap::new(),
    }
}

type Answer = Result<Option<Response>, LogicalError>;

impl Env {
    fn request(&self, op: Operation, path: &str, data: Value) -> Request {
        let mut req = Request::new(op, path).with_data(body(data));
        req.storage = Some(self.storage.clone() as Arc<dyn Storage>);
        req.mount_point = "auth/userpass/".into();
        req
    }

    async fn send(&self, req: Request) -> Answer {
        self.backend.handle_request(req).await
    }

    async fn call(&self, op: Operation, path: &str, data: Value) -> Answer {
        self.send(self.request(op, path, data)).await
    }

    /// A POST, create or update as the core picks it with the existence check.
    async fn post(&self, path: &str, data: Value) -> Answer {
        let mut req = self.request(Operation::Create, path, data);
        let ex = self.backend.handle_existence_check(&req).await?;
        if !ex.check_found || ex.exists {
            req.operation = Operation::Update;
        }
        self.send(req).await
    }

    async fn read(&self, path: &str) -> Answer {
        self.call(Operation::Read, path, json!({})).await
    }

    async fn data(&self, path: &str) -> Value {
        let resp = self.read(path).await.unwrap().unwrap();
        Value::Object(resp.data.unwrap())
    }

    async fn login_from(&self, user: &str, password: &str, addr: Option<&str>) -> Answer {
        let mut req = self.request(
            Operation::Update,
            &format!("login/{user}"),
            json!({ "password": password }),
        );
        req.unauthenticated = true;
        req.connection = addr.map(|a| Connection {
            remote_addr: a.into(),
            ..Connection::default()
        });
        self.send(req).await
    }

    async fn login(&self, user: &str, password: &str) -> Answer {
        self.login_from(user, password, Some("127.0.0.1")).await
    }

    async fn login_auth(&self, user: &str, password: &str) -> Auth {
        self.login(user, password)
            .await
            .unwrap()
            .unwrap()
            .auth
            .unwrap()
    }

    async fn renew(&self, auth: Auth) -> Answer {
        let mut req = self.request(Operation::Renew, "login/whoever", json!({}));
        req.auth = Some(auth);
        self.send(req).await
    }

    async fn stored(&self, name: &str) -> Option<Value> {
        self.storage
            .get_json::<Value>(&format!("user/{name}"))
            .await
            .unwrap()
    }
}

/// The `errors` array an error puts on the wire, and its status.
fn wire(e: &LogicalError) -> (u16, Vec<String>) {
    (e.status(), e.wire_messages())
}

fn multierror(text: &str) -> Vec<String> {
    vec![format!("1 error occurred:\n\t* {text}\n\n")]
}

#[tokio::test]
async fn create_read_list_delete() {
    let e = env();
    assert!(
        e.post("users/Alice", json!({"password": "pw1", "policies": "B,a"}))
            .await
            .unwrap()
            .is_none()
    );
    // bao: GET auth/userpass/users/alice (and users/Alice) →
    let want = json!({"policies":["a","b"],"token_bound_cidrs":[],"token_explicit_max_ttl":0,
        "token_max_ttl":0,"token_no_default_policy":false,"token_num_uses":0,"token_period":0,
        "token_policies":["a","b"],"token_strictly_bind_ip":false,"token_ttl":0,
        "token_type":"default"});
    assert_eq!(e.data("users/alice").await, want);
    assert_eq!(e.data("users/ALICE").await, want);
    e.post("users/bob", json!({"password": "pw"}))
        .await
        .unwrap();
    let list = e.call(Operation::List, "users/", json!({})).await.unwrap();
    assert_eq!(list.unwrap().data.unwrap()["keys"], json!(["alice", "bob"]));
    let page = e
        .call(
            Operation::List,
            "users",
            json!({"after": "alice", "limit": 5}),
        )
        .await
        .unwrap();
    assert_eq!(page.unwrap().data.unwrap()["keys"], json!(["bob"]));
    // An update without a password keeps it.
    e.post("users/alice", json!({"token_ttl": "1m"}))
        .await
        .unwrap();
    assert_eq!(e.data("users/alice").await["token_ttl"], 60);
    e.login_auth("alice", "pw1").await;
    // Delete (any case), then the user is gone; deleting again is fine.
    assert!(
        e.call(Operation::Delete, "users/ALICE", json!({}))
            .await
            .unwrap()
            .is_none()
    );
    e.call(Operation::Delete, "users/alice", json!({}))
        .await
        .unwrap();
    e.call(Operation::Delete, "users/bob", json!({}))
        .await
        .unwrap();
    // bao: a read of a missing user and a list of none are both {"errors":[]} 404.
    let none = e.read("users/alice").await.unwrap_err();
    assert_eq!(wire(&none), (404, vec![]));
    let empty = e
        .call(Operation::List, "users/", json!({}))
        .await
        .unwrap_err();
    assert_eq!(wire(&empty), (404, vec![]));
}

#[tokio::test]
async fn the_record_holds_a_cost_10_hash_never_the_password() {
    let e = env();
    e.post("users/Carol", json!({"password": "s3cret-pw"}))
        .await
        .unwrap();
    assert!(e.stored("Carol").await.is_none(), "the key is lower-cased");
    let rec = e.stored("carol").await.unwrap();
    assert_eq!(rec["version"], 1);
    let hash = rec["password_hash"].as_str().unwrap();
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    assert!(bcrypt::verify("s3cret-pw", hash).unwrap());
    assert!(!rec.to_string().contains("s3cret-pw"));
    let entry = super::entry::load(e.storage.as_ref(), "carol")
        .await
        .unwrap()
        .unwrap();
    assert!(!format!("{entry:?}").contains("$2b$"));
}

#[tokio::test]
async fn a_creation_needs_exactly_one_password_form() {
    let e = env();
    for (given, text) in [
        (json!({}), "must provide either password or password_hash"),
        (
            json!({"password_hash": ""}),
            "must provide either password or password_hash",
        ),
        (
            json!({"password": "a", "password_hash": "b"}),
            "only one of password or password_hash may be provided",
        ),
    ] {
        let err = e.post("users/nopw", given).await.unwrap_err();
        assert_eq!(wire(&err), (400, vec![text.to_string()]));
    }
    assert!(e.stored("nopw").await.is_none());
    // The token fields are checked before the password (bao gives the token_type error for a
    // creation with a too-long password and a bad token_type).
    let err = e
        .post(
            "users/newu",
            json!({"password": "x".repeat(73), "token_type": "bogus"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        wire(&err),
        (
            400,
            vec!["invalid 'token_type' value \"bogus\"".to_string()]
        )
    );
    // An existing user: {} is fine, both forms are not.
    e.post("users/alice", json!({"password": "p"}))
        .await
        .unwrap();
    e.post("users/alice", json!({})).await.unwrap();
    let err = e
        .post(
            "users/alice",
            json!({"password": "p", "password_hash": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        LogicalError::bad_request("only one of password or password_hash may be provided")
    );
    let err = e
        .call(Operation::Update, "users/alice/password", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        LogicalError::bad_request("must provide either password or password_hash")
    );
}

#[tokio::test]
async fn legacy_fields_upgrade_as_openbao_does() {
    let e = env();
    e.post(
        "users/leg",
        json!({"password":"p","ttl":"1h","max_ttl":7200,"bound_cidrs":"127.0.0.1,10.0.0.0/8",
               "policies":"X, y"}),
    )
    .await
    .unwrap();
    assert_eq!(
        e.data("users/leg").await,
        json!({"bound_cidrs":["127.0.0.1","10.0.0.0/8"],"max_ttl":7200,"policies":["x","y"],
            "token_bound_cidrs":["127.0.0.1","10.0.0.0/8"],"token_explicit_max_ttl":0,
            "token_max_ttl":7200,"token_no_default_policy":false,"token_num_uses":0,
            "token_period":0,"token_policies":["x","y"],"token_strictly_bind_ip":false,
            "token_ttl":3600,"token_type":"default","ttl":3600})
    );
    // The new names clear the old ones they replace.
    e.post(
        "users/leg",
        json!({"token_ttl":60,"token_bound_cidrs":"127.0.0.1/32"}),
    )
    .await
    .unwrap();
    assert_eq!(
        e.data("users/leg").await,
        json!({"max_ttl":7200,"policies":["x","y"],"token_bound_cidrs":["127.0.0.1"],
            "token_explicit_max_ttl":0,"token_max_ttl":7200,"token_no_default_policy":false,
            "token_num_uses":0,"token_period":0,"token_policies":["x","y"],
            "token_strictly_bind_ip":false,"token_ttl":60,"token_type":"default"})
    );
    // Both names: the new wins and the old takes its value; the upgrade is not re-checked
    // against token_max_ttl (bao: 204), but the next write's token field parsing is.
    e.post("users/leg", json!({"ttl":100,"token_ttl":60,"max_ttl":50}))
        .await
        .unwrap();
    let d = e.data("users/leg").await;
    assert_eq!(
        (d["ttl"].clone(), d["token_ttl"].clone()),
        (json!(60), json!(60))
    );
    assert_eq!(
        (d["max_ttl"].clone(), d["token_max_ttl"].clone()),
        (json!(50), json!(50))
    );
    let err = e
        .post("users/leg", json!({"bound_cidrs":"bogus"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        LogicalError::bad_request("'token_ttl' cannot be greater than 'token_max_ttl'")
    );
    e.post("users/leg", json!({"token_ttl": 10})).await.unwrap();
    let err = e
        .post("users/leg", json!({"bound_cidrs":"bogus"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        LogicalError::bad_request(
            "error parsing address \"bogus\": Unable to convert \"bogus\" to an IPv4 or IPv6 address, or a UNIX Socket"
        )
    );
    // `root` among legacy policies leaves it alone (bao: ["root"] for "b,root,a").
    e.post("users/r", json!({"password":"p","policies":"b,root,a"}))
        .await
        .unwrap();
    let d = e.data("users/r").await;
    assert_eq!(
        (d["policies"].clone(), d["token_policies"].clone()),
        (json!(["root"]), json!(["root"]))
    );
    // token_policies are stored as given (bao: " b ,B,a,," → ["b","B","a","",""]).
    e.post("users/r", json!({"token_policies":" b ,B,a,,"}))
        .await
        .unwrap();
    let d = e.data("users/r").await;
    assert_eq!(d["token_policies"], json!(["b", "B", "a", "", ""]));
    assert!(d.get("policies").is_none());
}

#[tokio::test]
async fn records_with_only_legacy_fields_read_as_token_fields() {
    let e = env();
    let old = json!({"version":1,"password_hash":"","ttl":30,"max_ttl":90,
        "policies":["a"],"bound_cidrs":["10.0.0.0/8"]});
    e.storage.put_json("user/old", &old).await.unwrap();
    let d = e.data("users/old").await;
    assert_eq!(d["token_ttl"], 30);
    assert_eq!(d["token_max_ttl"], 90);
    assert_eq!(d["token_policies"], json!(["a"]));
    assert_eq!(d["token_bound_cidrs"], json!(["10.0.0.0/8"]));
    assert_eq!(d["policies"], json!(["a"]));
    // A record without a hash never logs in, and the failure is not counted.
    let err = e
        .login_from("old", "x", Some("10.0.0.1"))
        .await
        .unwrap_err();
    assert_eq!(err, LogicalError::bad_request(INVALID));
    // A newer layout is refused rather than misread.
    e.storage
        .put_json("user/new", &json!({"version": 2}))
        .await
        .unwrap();
    assert_eq!(e.read("users/new").await.unwrap_err().status(), 500);
}

#[tokio::test]
async fn the_policies_endpoint_follows_openbao() {
    let e = env();
    e.post("users/leg", json!({"password": "p"})).await.unwrap();
    let pol = |v: Value| (v["policies"].clone(), v["token_policies"].clone());
    let steps = [
        // (body, policies, token_policies) as bao showed them after each write.
        (json!({"policies":"P1"}), json!(["p1"]), json!(["p1"])),
        (json!({"token_policies":"P2"}), Value::Null, json!(["p2"])),
        (json!({}), Value::Null, json!(["p2"])),
        (
            json!({"policies":"b,ROOT,a"}),
            json!(["root"]),
            json!(["root"]),
        ),
        (
            json!({"token_policies":" b ,ROOT,a,,"}),
            Value::Null,
            json!(["root"]),
        ),
        (
            json!({"token_policies":"x","policies":"y"}),
            json!(["x"]),
            json!(["x"]),
        ),
        (
            json!({"token_policies":"b,a,B,,a"}),
            Value::Null,
            json!(["a", "b"]),
        ),
        (json!({"policies":""}), Value::Null, json!([])),
    ];
    for (given, want_old, want_new) in steps {
        e.call(Operation::Update, "users/LEG/policies", given.clone())
            .await
            .unwrap();
        assert_eq!(
            pol(e.data("users/leg").await),
            (want_old, want_new),
            "{given}"
        );
    }
}

#[tokio::test]
async fn password_hash_imports_are_checked() {
    let e = env();
    let cases = [
        (
            "$2a$04$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "bcrypt cost of 4 is too low, want 5 at minimum",
        ),
        (
            "$2a$13$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "bcrypt cost of 13 exceeds maximum cost of 12",
        ),
        (
            "$2a$32$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "password_hash is not a valid bcrypt hash",
        ),
        (
            "$2a$03$UuTkLRZZ6QofpDOlMz32MuuxEHA43WOemOYHPz6.SjsVsyO1tDU96",
            "password_hash is not a valid bcrypt hash",
        ),
        ("$2a$05$....", "password_hash is not a valid bcrypt hash"),
        ("b", "password_hash is not a valid bcrypt hash"),
    ];
    for (hash, text) in cases {
        let err = e
            .post("users/h", json!({ "password_hash": hash }))
            .await
            .unwrap_err();
        assert_eq!(wire(&err), (400, vec![text.to_string()]), "{hash}");
    }
    // A good one is stored as given; a 72-byte password (the most bcrypt takes) logs in.
    e.post("users/h05", json!({ "password_hash": X72_COST5 }))
        .await
        .unwrap();
    assert_eq!(e.stored("h05").await.unwrap()["password_hash"], X72_COST5);
    e.login_auth("h05", &x72()).await;
    let err = e
        .call(
            Operation::Update,
            "users/h05/password",
            json!({"password_hash": "$2a$05$...."}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        LogicalError::bad_request("password_hash is not a valid bcrypt hash")
    );
}

#[tokio::test]
async fn passwords_over_72_bytes_are_refused() {
    let e = env();
    // bao: {"errors":["1 error occurred:\n\t* bcrypt: password length exceeds 72 bytes\n\n"]} 500; Arca: 400, same text
    let long = "x".repeat(73);
    let err = e
        .post("users/long", json!({ "password": long }))
        .await
        .unwrap_err();
    assert_eq!(
        wire(&err),
        (400, multierror("bcrypt: password length exceeds 72 bytes"))
    );
    assert!(e.stored("long").await.is_none());
    // 72 bytes are taken whole, as Go's bcrypt takes them.
    e.post("users/l72", json!({ "password": x72() }))
        .await
        .unwrap();
    e.login_auth("l72", &x72()).await;
    let err = e
        .call(
            Operation::Update,
            "users/l72/password",
            json!({ "password": long }),
        )
        .await
        .unwrap_err();
    assert_eq!(
        wire(&err),
        (400, multierror("bcrypt: password length exceeds 72 bytes"))
    );
    // At login a longer password never matches (OpenBao compares its first 72 bytes and lets
    // `x`*73 in here: Arca refuses it).
    let err = e.login("l72", &long).await.unwrap_err();
    assert_eq!(err, LogicalError::invalid_credentials(INVALID));
    let err = e.login("nobody", &long).await.unwrap_err();
    assert_eq!(wire(&err), (400, vec![INVALID.to_string()]));
}

#[tokio::test]
async fn login_answers_the_users_token() {
    let e = env();
    e.post(
        "users/Alice",
        json!({"password":"pw1","token_policies":"a,b","token_ttl":"100s","token_max_ttl":1000,
               "token_period":0,"token_num_uses":3,"token_no_default_policy":true}),
    )
    .await
    .unwrap();
    let auth = e.login_auth("ALICE", "pw1").await;
    assert_eq!(
        auth.metadata.get("username").map(String::as_str),
        Some("alice")
    );
    assert_eq!(auth.metadata.len(), 1);
    assert_eq!(auth.display_name, "alice");
    assert_eq!(auth.alias.as_ref().map(|a| a.name.as_str()), Some("alice"));
    assert_eq!(auth.policies, ["a", "b"]);
    assert_eq!(auth.lease.ttl, Duration::from_secs(100));
    assert_eq!(auth.lease.max_ttl, Duration::from_secs(1000));
    assert!(auth.lease.renewable);
    assert_eq!(auth.num_uses, 3);
    assert!(auth.no_default_policy);
    assert_eq!(auth.token_type, "default");
    assert!(auth.bound_cidrs.is_empty());
    // Strict binding binds the token to the login's address.
    e.post("users/alice", json!({"token_strictly_bind_ip": true}))
        .await
        .unwrap();
    let auth = e
        .login_from("alice", "pw1", Some("10.9.8.7"))
        .await
        .unwrap();
    assert_eq!(auth.unwrap().auth.unwrap().bound_cidrs, ["10.9.8.7"]);
}

#[tokio::test]
async fn bad_logins_get_openbaos_answers() {
    let e = env();
    e.post("users/alice", json!({"password": "pw1"}))
        .await
        .unwrap();
    // bao: {"errors":["invalid username or password"]} 400 for both; only the known user's
    // failure is an invalid-credentials error (counted toward lockout).
    let wrong = e.login("alice", "wrong").await.unwrap_err();
    assert_eq!(wrong, LogicalError::invalid_credentials(INVALID));
    assert_eq!(wire(&wrong), (400, vec![INVALID.to_string()]));
    let unknown = e.login("nobody", "x").await.unwrap_err();
    assert_eq!(unknown, LogicalError::bad_request(INVALID));
    assert_eq!(wire(&unknown), (400, vec![INVALID.to_string()]));
    // bao: {"errors":["missing password"]} 500, before any lookup; Arca: 400, same text.
    for user in ["alice", "nobody"] {
        let mut req = e.request(Operation::Update, &format!("login/{user}"), json!({}));
        req.connection = None;
        let err = e.send(req).await.unwrap_err();
        assert_eq!(wire(&err), (400, vec!["missing password".to_string()]));
    }
}

#[tokio::test]
async fn the_alias_lookahead_checks_no_credentials() {
    let e = env();
    for user in ["Ghost", "ghost"] {
        let resp = e
            .call(
                Operation::AliasLookahead,
                &format!("login/{user}"),
                json!({}),
            )
            .await
            .unwrap()
            .unwrap();
        let auth = resp.auth.unwrap();
        assert_eq!(auth.alias.unwrap().name, "ghost");
        assert!(auth.policies.is_empty() && auth.metadata.is_empty());
    }
}

#[tokio::test]
async fn bound_cidrs_are_checked_at_login() {
    let e = env();
    e.post(
        "users/cidr",
        json!({"password":"p","token_bound_cidrs":"10.0.0.0/8"}),
    )
    .await
    .unwrap();
    e.post(
        "users/cidr2",
        json!({"password":"p","bound_cidrs":"10.0.0.0/8"}),
    )
    .await
    .unwrap();
    for user in ["cidr", "cidr2"] {
        let auth = e.login_from(user, "p", Some("10.1.2.3")).await.unwrap();
        assert_eq!(auth.unwrap().auth.unwrap().bound_cidrs, ["10.0.0.0/8"]);
        // bao, from 127.0.0.1: {"errors":["permission denied"]} 403.
        let err = e
            .login_from(user, "p", Some("127.0.0.1"))
            .await
            .unwrap_err();
        assert_eq!(err, LogicalError::PermissionDenied);
        assert_eq!(wire(&err), (403, vec!["permission denied".to_string()]));
        let err = e.login_from(user, "p", None).await.unwrap_err();
        assert_eq!(err, LogicalError::PermissionDenied);
    }
    // The password is checked first: a wrong one from a wrong address is a bad login.
    let err = e
        .login_from("cidr", "bad", Some("127.0.0.1"))
        .await
        .unwrap_err();
    assert_eq!(err, LogicalError::invalid_credentials(INVALID));
}

#[tokio::test]
async fn renewals_follow_the_user() {
    let e = env();
    e.post(
        "users/ren",
        json!({"password":"p","token_policies":"a,b","token_ttl":100,"token_max_ttl":1000}),
    )
    .await
    .unwrap();
    let mut auth = e.login_auth("ren", "p").await;
    // The core adds `default` to the token's policies.
    auth.token_policies = vec!["a".into(), "b".into(), "default".into()];
    auth.policies = auth.token_policies.clone();
    let renewed = e.renew(auth.clone()).await.unwrap().unwrap().auth.unwrap();
    assert_eq!(renewed.lease.ttl, Duration::from_secs(100));
    assert_eq!(renewed.lease.max_ttl, Duration::from_secs(1000));
    // The user's current settings apply; the same policies in another order are the same.
    e.post(
        "users/ren",
        json!({"token_policies":"b,a,default,a","token_ttl":50,"token_max_ttl":500,"token_period":40}),
    )
    .await
    .unwrap();
    let renewed = e.renew(auth.clone()).await.unwrap().unwrap().auth.unwrap();
    assert_eq!(renewed.lease.ttl, Duration::from_secs(50));
    assert_eq!(renewed.lease.max_ttl, Duration::from_secs(500));
    assert_eq!(renewed.period, Duration::from_secs(40));
    assert_eq!(renewed.metadata, auth.metadata);
    // bao: "failed to renew entry: policies have changed, not renewing" (500; the core adds
    // the prefix).
    e.post("users/ren", json!({"token_policies": "b"}))
        .await
        .unwrap();
    let err = e.renew(auth.clone()).await.unwrap_err();
    assert_eq!(
        err,
        LogicalError::internal("policies have changed, not renewing")
    );
    // bao: a deleted user's token is not renewed and no error is given (204).
    e.call(Operation::Delete, "users/ren", json!({}))
        .await
        .unwrap();
    assert!(e.renew(auth).await.unwrap().is_none());
}

#[test]
fn equivalent_policies_ignore_default_order_and_duplicates() {
    let none: [&str; 0] = [];
    assert!(equivalent_policies(&["a", "b"], &["b", "a", "default"]));
    assert!(equivalent_policies(&["a", "a", "b"], &["b", "a"]));
    assert!(equivalent_policies(&none, &["default"]));
    assert!(equivalent_policies(&none, &none));
    assert!(!equivalent_policies(&["a"], &["a", "b"]));
    assert!(!equivalent_policies(&["a"], &none));
}

#[tokio::test]
async fn every_missing_user_gets_openbaos_text() {
    let e = env();
    // bao: GET users/nobody → {"errors":[]} 404
    assert_eq!(
        wire(&e.read("users/nobody").await.unwrap_err()),
        (404, vec![])
    );
    // bao: {"errors":["1 error occurred:\n\t* username does not exist\n\n"]} 500 (Arca: 400, same text), checked
    // before the body (an empty body gets it too).
    for (path, given) in [
        ("users/nobody/password", json!({"password": "x"})),
        ("users/nobody/password", json!({})),
        ("users/nobody/policies", json!({"policies": "x"})),
        ("users/nobody/policies", json!({})),
    ] {
        let err = e.call(Operation::Update, path, given).await.unwrap_err();
        assert_eq!(
            wire(&err),
            (400, multierror("username does not exist")),
            "{path}"
        );
    }
    // bao: {"errors":["invalid username or password"]} 400
    let err = e.login("nobody", "x").await.unwrap_err();
    assert_eq!(wire(&err), (400, vec![INVALID.to_string()]));
    assert!(e.stored("nobody").await.is_none());
}

#[tokio::test]
async fn password_changes_apply_to_the_lower_cased_user() {
    let e = env();
    e.post("users/cidr2", json!({"password": "p"}))
        .await
        .unwrap();
    // OpenBao writes this one under `user/CIDR2` (a second record login never reads); Arca
    // lower-cases the name once, so the user's password changes.
    e.call(
        Operation::Update,
        "users/CIDR2/password",
        json!({"password": "q"}),
    )
    .await
    .unwrap();
    assert!(e.stored("CIDR2").await.is_none());
    e.login_auth("CIDR2", "q").await;
    let err = e.login("cidr2", "p").await.unwrap_err();
    assert_eq!(err, LogicalError::invalid_credentials(INVALID));
}

#[test]
fn logins_are_unauthenticated_as_openbao_declares() {
    // bao: a token-less POST auth/userpass/login is refused (403), login/<name> is served.
    assert_eq!(
        Backend::special_paths(&backend()).unauthenticated,
        vec!["login/*".to_string()]
    );
}

/// Unknown users cost what known users with a wrong password cost: one bcrypt of the same
/// cost each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_cost_the_same_as_wrong_passwords() {
    let e = env();
    e.post("users/alice", json!({"password": "right"}))
        .await
        .unwrap();
    password::warm_dummy();
    let (mut known, mut unknown) = (Duration::ZERO, Duration::ZERO);
    const ROUNDS: u32 = 20;
    // Interleaved, so that load on the machine weighs on both alike.
    for i in 0..ROUNDS {
        let t = Instant::now();
        assert!(e.login("alice", "wrong").await.is_err());
        known += t.elapsed();
        let t = Instant::now();
        assert!(e.login(&format!("ghost{i}"), "wrong").await.is_err());
        unknown += t.elapsed();
    }
    let (known, unknown) = (known / ROUNDS, unknown / ROUNDS);
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.8..=1.2).contains(&ratio),
        "unknown {unknown:?} vs known {known:?} (ratio {ratio:.2})"
    );
}

/// bcrypt runs on blocking threads: on a one-thread runtime, another task keeps running
/// while a login's hash is computed.
#[tokio::test(flavor = "current_thread")]
async fn bcrypt_leaves_the_runtime_free() {
    let e = env();
    e.post("users/alice", json!({"password": "right"}))
        .await
        .unwrap();
    let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counter = Arc::clone(&ticks);
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    e.login_auth("alice", "right").await;
    ticker.abort();
    let ticks = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        ticks >= 5,
        "the runtime stalled during bcrypt ({ticks} ticks)"
    );
}
