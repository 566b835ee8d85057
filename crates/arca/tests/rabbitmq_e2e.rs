//! The `rabbitmq` secrets engine against the machine's RabbitMQ (management API on
//! 127.0.0.1:15672, guest/guest), beside a real OpenBao dev server for the answers: the same
//! statuses and texts for configuration, roles and refusals; credentials that log in to
//! RabbitMQ with the role's tags and permissions, and stop working when their lease is revoked
//! or expires; passwords from a password policy and names from a username template. Each test
//! works in a vhost of its own, deleted at the end.

mod common;

use std::time::{Duration, Instant};

use common::{Answer, Server, call, same_answer, servers};
use serde_json::{Value, json};

const API: &str = "http://127.0.0.1:15672";

/// The management API as `user`.
async fn api(method: &str, path: &str, user: (&str, &str), body: Option<Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = reqwest::Client::new()
        .request(m, format!("{API}/api/{path}"))
        .basic_auth(user.0, Some(user.1));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let resp = rb
        .send()
        .await
        .expect("RabbitMQ management API (is rabbitmq_management on?)");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const GUEST: (&str, &str) = ("guest", "guest");

/// A vhost of the test's own; [`Vhost::delete`] removes it at the end.
struct Vhost(String);

impl Vhost {
    async fn new(tag: &str) -> Vhost {
        let name = format!("arca-e2e-{tag}-{}", std::process::id());
        let (status, body) = api("PUT", &format!("vhosts/{name}"), GUEST, None).await;
        assert!(status == 201 || status == 204, "{status} {body}");
        Vhost(name)
    }

    async fn delete(self) {
        let (status, body) = api("DELETE", &format!("vhosts/{}", self.0), GUEST, None).await;
        assert_eq!(status, 204, "{body}");
    }
}

async fn same(s: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> Answer {
    same_answer(s, method, path, body, &[]).await
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn user_exists(name: &str) -> bool {
    api("GET", &format!("users/{name}"), GUEST, None).await.0 == 200
}

#[tokio::test]
async fn rabbitmq_engine_answers_as_openbao_and_makes_real_users() {
    let s = servers();
    let vhost = Vhost::new("main").await;
    same(
        &s,
        "POST",
        "sys/mounts/rabbitmq",
        Some(json!({"type": "rabbitmq"})),
    )
    .await;

    // Configuration refusals and reads.
    same(&s, "GET", "rabbitmq/config/lease", None).await;
    let r = same(&s, "POST", "rabbitmq/config/connection", Some(json!({}))).await;
    assert_eq!(r.status, 400);
    same(
        &s,
        "POST",
        "rabbitmq/config/connection",
        Some(json!({"connection_uri": API})),
    )
    .await;
    same(
        &s,
        "POST",
        "rabbitmq/config/connection",
        Some(json!({"connection_uri": API, "username": "guest"})),
    )
    .await;
    // Wrong credentials: OpenBao answers 500, Arca 400; the text is the same.
    let bad = json!({"connection_uri": API, "username": "guest", "password": "wrong"});
    let a = call(
        &s[0],
        "POST",
        "rabbitmq/config/connection",
        Some("root"),
        Some(bad.clone()),
    )
    .await;
    let b = call(
        &s[1],
        "POST",
        "rabbitmq/config/connection",
        Some("root"),
        Some(bad),
    )
    .await;
    assert_eq!((a.status, b.status), (400, 500));
    assert_eq!(
        a.body["errors"][0],
        "failed to validate the connection: Error: API responded with a 401 Unauthorized"
    );
    assert_eq!(
        b.body["errors"][0],
        "1 error occurred:\n\t* failed to validate the connection: Error: API responded with a 401 Unauthorized\n\n"
    );
    let r = same(
        &s,
        "POST",
        "rabbitmq/config/connection",
        Some(json!({"connection_uri": API, "username": "guest", "password": "guest"})),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = same(&s, "GET", "rabbitmq/config/connection", None).await;
    assert_eq!(r.status, 405);
    same(
        &s,
        "POST",
        "rabbitmq/config/lease",
        Some(json!({"ttl": "1h", "max_ttl": 7200})),
    )
    .await;
    let r = same(&s, "GET", "rabbitmq/config/lease", None).await;
    assert_eq!(r.body["data"], json!({"ttl": 3600, "max_ttl": 7200}));

    // Roles.
    let r = same(&s, "POST", "rabbitmq/roles/r", Some(json!({}))).await;
    assert_eq!(
        r.body["errors"],
        json!(["both tags and vhosts not specified"])
    );
    let vhosts = json!({ &vhost.0: {"configure": ".*", "write": ".*", "read": ".*"} }).to_string();
    let topics = json!({ &vhost.0: {"amq.topic": {"write": "w.*", "read": "r.*"}} }).to_string();
    let r = same(
        &s,
        "POST",
        "rabbitmq/roles/r",
        Some(json!({"tags": "management,arca", "vhosts": vhosts, "vhost_topics": topics})),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = same(&s, "GET", "rabbitmq/roles/r", None).await;
    assert_eq!(r.body["data"]["tags"], "management,arca");
    same(&s, "GET", "rabbitmq/roles/none", None).await;
    let r = same(&s, "LIST", "rabbitmq/roles", None).await;
    assert_eq!(r.body["data"]["keys"], json!(["r"]));
    let r = same(&s, "GET", "rabbitmq/creds/none", None).await;
    assert_eq!(r.body["errors"], json!(["unknown role: none"]));

    // Credentials from both servers have the same shape; Arca's work in RabbitMQ.
    let mut users = Vec::new();
    for server in &s {
        let r = call(server, "GET", "rabbitmq/creds/r", Some("root"), None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["lease_duration"], 3600);
        assert_eq!(r.body["renewable"], true);
        let username = r.body["data"]["username"].as_str().unwrap().to_string();
        let password = r.body["data"]["password"].as_str().unwrap().to_string();
        assert_eq!(password.len(), 36);
        assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
        // `<display name>-<uuid>`: the root token's display name is `token` on both.
        let (prefix, uuid) = username.split_at(6);
        assert_eq!(prefix, "token-", "{username}");
        assert_eq!(uuid.len(), 36, "{username}");
        users.push((
            username,
            password,
            r.body["lease_id"].as_str().unwrap().to_string(),
        ));
    }
    let (username, password, lease) = users[0].clone();
    let (status, me) = api("GET", "whoami", (&username, &password), None).await;
    assert_eq!(status, 200, "{me}");
    let mut tags: Vec<String> = serde_json::from_value(me["tags"].clone()).unwrap_or_default();
    tags.sort();
    assert_eq!(tags, vec!["arca", "management"]);
    let (_, perms) = api("GET", &format!("users/{username}/permissions"), GUEST, None).await;
    assert_eq!(perms[0]["vhost"], vhost.0.as_str());
    assert_eq!(perms[0]["configure"], ".*");
    let (_, topic) = api(
        "GET",
        &format!("users/{username}/topic-permissions"),
        GUEST,
        None,
    )
    .await;
    assert_eq!(topic[0]["exchange"], "amq.topic");
    assert_eq!(topic[0]["write"], "w.*");

    // Renewal follows config/lease.
    let r = call(
        &s[0],
        "PUT",
        "sys/leases/renew",
        Some("root"),
        Some(json!({"lease_id": lease})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lease_duration"], 3600);

    // Revocation deletes the user: its password no longer logs in.
    for (server, (user, _, lease)) in s.iter().zip(&users) {
        let r = call(
            server,
            "PUT",
            "sys/leases/revoke",
            Some("root"),
            Some(json!({"lease_id": lease})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let user = user.clone();
        wait_until("the revoked user to be gone", || {
            let user = user.clone();
            async move { !user_exists(&user).await }
        })
        .await;
    }
    let (status, _) = api("GET", "whoami", (&username, &password), None).await;
    assert_eq!(status, 401);
    vhost.delete().await;
}

/// A lease that expires deletes its user; a password policy and a username template shape the
/// credentials.
#[tokio::test]
async fn expiry_policies_and_templates() {
    let s = Server::dev();
    let vhost = Vhost::new("expiry").await;
    let root = Some("root");
    let ok = |a: Answer| assert!(a.status < 300, "{} {}", a.status, a.body);
    ok(call(
        &s,
        "POST",
        "sys/mounts/rmq",
        root,
        Some(json!({"type": "rabbitmq"})),
    )
    .await);
    ok(call(
        &s,
        "PUT",
        "sys/policies/password/rmq",
        root,
        Some(json!({"policy": "length = 24\nrule \"charset\" {\n charset = \"abcdef\"\n min-chars = 1\n}\nrule \"charset\" {\n charset = \"0123\"\n min-chars = 1\n}"})),
    )
    .await);
    ok(call(
        &s,
        "POST",
        "rmq/config/connection",
        root,
        Some(json!({
            "connection_uri": API, "username": "guest", "password": "guest",
            "password_policy": "rmq",
            "username_template": "{{ printf \"arca-%s-%s\" (.RoleName | truncate 4) (random 8) | lowercase }}",
        })),
    )
    .await);
    ok(call(
        &s,
        "POST",
        "rmq/config/lease",
        root,
        Some(json!({"ttl": 2, "max_ttl": 10})),
    )
    .await);
    let vhosts = json!({ &vhost.0: {"configure": "", "write": "", "read": ".*"} }).to_string();
    ok(call(
        &s,
        "POST",
        "rmq/roles/reader",
        root,
        Some(json!({"tags": "management", "vhosts": vhosts})),
    )
    .await);

    let r = call(&s, "GET", "rmq/creds/reader", root, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lease_duration"], 2);
    let username = r.body["data"]["username"].as_str().unwrap().to_string();
    let password = r.body["data"]["password"].as_str().unwrap().to_string();
    assert!(username.starts_with("arca-read-"), "{username}");
    assert_eq!(username.len(), "arca-read-".len() + 8, "{username}");
    assert_eq!(username, username.to_lowercase());
    assert_eq!(password.len(), 24);
    assert!(
        password.chars().all(|c| "abcdef0123".contains(c)),
        "{password}"
    );
    assert_eq!(
        api("GET", "whoami", (&username, &password), None).await.0,
        200
    );

    // The lease runs out and the user goes with it.
    wait_until("the expired user to be gone", || {
        let username = username.clone();
        async move { !user_exists(&username).await }
    })
    .await;
    assert_eq!(
        api("GET", "whoami", (&username, &password), None).await.0,
        401
    );

    // A template that does not parse is refused at configuration.
    let r = call(
        &s,
        "POST",
        "rmq/config/connection",
        root,
        Some(json!({
            "connection_uri": API, "username": "guest", "password": "guest",
            "username_template": "{{ nope }}",
        })),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("unable to initialize username template: "),
        "{}",
        r.body
    );
    vhost.delete().await;
}

/// Username templates: the same ones are accepted or refused by both servers at configuration,
/// and a template without randomness names the user identically on both.
#[tokio::test]
async fn username_templates_match_openbao() {
    let s = servers();
    let vhost = Vhost::new("templates").await;
    same(
        &s,
        "POST",
        "sys/mounts/rabbitmq",
        Some(json!({"type": "rabbitmq"})),
    )
    .await;
    let templates = [
        (r#"{{ printf "%s-%s" (.DisplayName) (uuid) }}"#, true),
        ("{{ random 5 | uppercase }}-{{ unix_time }}", true),
        ("plain", true),
        (r#"{{ printf "%s" }}"#, true),
        (r#"{{- " x " -}} y"#, true),
        (
            r#"{{ "a-b" | replace "-" "_" | sha256 | truncate 10 }}"#,
            true,
        ),
        ("{{ .DisplayName | truncate 0 }}", false),
        (r#"{{ truncate_sha256 5 "abc" }}"#, false),
        ("{{ nope }}", false),
        ("{{ .Nope }}", false),
        ("{{ (random 2 }}", false),
        ("{{ random }}", false),
    ];
    for (template, accepted) in templates {
        let body = json!({
            "connection_uri": API, "username": "guest", "password": "guest",
            "verify_connection": false, "username_template": template,
        });
        let a = call(
            &s[0],
            "POST",
            "rabbitmq/config/connection",
            Some("root"),
            Some(body.clone()),
        )
        .await;
        let b = call(
            &s[1],
            "POST",
            "rabbitmq/config/connection",
            Some("root"),
            Some(body),
        )
        .await;
        let expected = if accepted { 204 } else { 400 };
        assert_eq!(
            (a.status, b.status),
            (expected, expected),
            "{template}: {} / {}",
            a.body,
            b.body
        );
    }
    same(
        &s,
        "POST",
        "rabbitmq/config/connection",
        Some(json!({
            "connection_uri": API, "username": "guest", "password": "guest",
            "username_template": r#"{{ printf "arca-%s-%s" .RoleName (.DisplayName | uppercase) }}-{{ .RoleName | truncate_sha256 9 }}"#,
        })),
    )
    .await;
    let vhosts = json!({ &vhost.0: {"configure": "", "write": "", "read": ""} }).to_string();
    same(
        &s,
        "POST",
        "rabbitmq/roles/a-long-role-name",
        Some(json!({"vhosts": vhosts})),
    )
    .await;
    let mut names = Vec::new();
    for server in &s {
        let r = call(
            server,
            "GET",
            "rabbitmq/creds/a-long-role-name",
            Some("root"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        names.push(r.body["data"]["username"].as_str().unwrap().to_string());
        let lease = r.body["lease_id"].as_str().unwrap().to_string();
        let r = call(
            server,
            "PUT",
            "sys/leases/revoke",
            Some("root"),
            Some(json!({"lease_id": lease})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    assert_eq!(names[0], names[1], "Arca (left) and OpenBao (right)");
    assert!(
        names[0].starts_with("arca-a-long-role-name-TOKEN-a"),
        "{}",
        names[0]
    );
    vhost.delete().await;
}
