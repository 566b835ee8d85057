//! The `database` secrets engine end to end, against PostgreSQL servers of the tests' own that
//! check passwords (scram-sha-256; see `scram_pg`), beside a real OpenBao dev server for the
//! answers: configuration, roles and refusals answer as OpenBao's do; dynamic users log in with
//! their password (and not with a wrong one), stop working when their lease is revoked or
//! expires, and get a later `VALID UNTIL` when renewed; a failing statement leaves no user and
//! no lease; root rotation locks the old root password out while Arca keeps working; static
//! roles rotate on demand, on schedule and after a restart that missed their time; 200
//! concurrent requests make 200 distinct working users and 200 revocations leave none.

mod common;
mod scram_pg;

use std::time::{Duration, Instant};

use common::{Server, call, root_call as root, root_ok as ok, same_answer, servers};
use scram_pg::{SUPERUSER_PASSWORD, ScramPostgres};
use serde_json::{Value, json};

const CREATE_LOGIN: &str =
    r#"CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"#;

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !f().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Mounts `database/` and configures connection `pg` as `user`/`password`.
async fn configure(s: &Server, pg: &ScramPostgres, user: &str, password: &str) {
    ok(
        s,
        "POST",
        "sys/mounts/database",
        Some(json!({"type": "database"})),
    )
    .await;
    ok(
        s,
        "POST",
        "database/config/pg",
        Some(json!({
            "plugin_name": "postgresql-database-plugin",
            "connection_url": pg.template_url(),
            "username": user,
            "password": password,
            "allowed_roles": "*",
        })),
    )
    .await;
}

fn creds(body: &Value) -> (String, String, String) {
    (
        body["data"]["username"]
            .as_str()
            .expect("username")
            .to_string(),
        body["data"]["password"]
            .as_str()
            .expect("password")
            .to_string(),
        body["lease_id"].as_str().expect("lease_id").to_string(),
    )
}

#[tokio::test]
async fn database_engine_answers_as_openbao() {
    let pg = ScramPostgres::start();
    let s = servers();
    for server in &s {
        ok(
            server,
            "POST",
            "sys/mounts/database",
            Some(json!({"type": "database"})),
        )
        .await;
    }
    let su = pg.superuser().await;
    su.batch_execute("CREATE ROLE st_user LOGIN PASSWORD 'initial'")
        .await
        .expect("static user");

    // A wrong root password is refused at config time with the driver's reason, and the
    // password is in neither answer.
    let bad = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": pg.template_url(),
        "username": "postgres",
        "password": "wrong-root-pw-123",
    });
    for server in &s {
        let a = root(server, "POST", "database/config/pg", Some(bad.clone())).await;
        assert_eq!(a.status, 400, "{}", a.body);
        let text = a.body["errors"][0].as_str().unwrap_or_default();
        assert!(
            text.starts_with("error creating database object: error verifying connection: "),
            "{text}"
        );
        assert!(text.contains("password authentication failed"), "{text}");
        assert!(!text.contains("wrong-root-pw-123"), "{text}");
    }
    let literal_bad = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": pg.url("postgres", "wrong-literal-pw-456"),
    });
    for server in &s {
        let a = root(
            server,
            "POST",
            "database/config/lit",
            Some(literal_bad.clone()),
        )
        .await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(
            !a.body.to_string().contains("wrong-literal-pw-456"),
            "{}",
            a.body
        );
    }
    let r = root(&s[0], "GET", "database/config/pg", None).await;
    assert_eq!(r.status, 404, "a refused config is not stored: {}", r.body);

    let config = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": pg.template_url(),
        "username": "postgres",
        "password": SUPERUSER_PASSWORD,
        "allowed_roles": "ro,st*,x",
        "max_open_connections": 5,
    });
    same_answer(&s, "POST", "database/config/pg", Some(config), &[]).await;
    let read = same_answer(&s, "GET", "database/config/pg", None, &[]).await;
    assert!(!read.body.to_string().contains(SUPERUSER_PASSWORD));
    same_answer(&s, "LIST", "database/config", None, &[]).await;
    // A literal password in the URL draws OpenBao's warning and is redacted when read.
    let literal = json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": pg.url("postgres", SUPERUSER_PASSWORD),
        "allowed_roles": "*",
    });
    same_answer(&s, "POST", "database/config/literal", Some(literal), &[]).await;
    let read = same_answer(&s, "GET", "database/config/literal", None, &[]).await;
    assert!(
        !read.body.to_string().contains(SUPERUSER_PASSWORD),
        "{}",
        read.body
    );

    let role = json!({
        "db_name": "pg",
        "creation_statements": CREATE_LOGIN,
        "default_ttl": "1h",
        "max_ttl": "2h",
    });
    same_answer(&s, "POST", "database/roles/ro", Some(role), &[]).await;
    same_answer(&s, "GET", "database/roles/ro", None, &[]).await;
    same_answer(&s, "LIST", "database/roles", None, &[]).await;
    let a = same_answer(
        &s,
        "GET",
        "database/creds/ro",
        None,
        &["username", "password"],
    )
    .await;
    let (user, password, _) = creds(&a.body);
    assert!(user.starts_with("v-token-ro-"), "{user}");
    assert_eq!(password.len(), 20, "{password}");

    for (method, path, body) in [
        ("GET", "database/creds/nope", None),
        (
            "POST",
            "database/roles/denied",
            Some(json!({"db_name": "pg", "creation_statements": CREATE_LOGIN})),
        ),
        ("GET", "database/creds/denied", None),
        (
            "POST",
            "database/roles/x",
            Some(json!({"db_name": "pg", "credential_type": "bogus"})),
        ),
        (
            "POST",
            "database/roles/x",
            Some(
                json!({"db_name": "pg", "credential_type": "rsa_private_key", "credential_config": {"key_bits": 1000}}),
            ),
        ),
        (
            "POST",
            "database/roles/x",
            Some(json!({"db_name": "pg", "credential_type": "rsa_private_key"})),
        ),
        ("GET", "database/roles/x", None),
        ("GET", "database/creds/x", None),
        (
            "POST",
            "database/roles/nodb",
            Some(json!({"creation_statements": CREATE_LOGIN})),
        ),
        (
            "POST",
            "database/static-roles/st1",
            Some(json!({"db_name": "pg", "username": "st_user", "rotation_period": "4s"})),
        ),
        (
            "POST",
            "database/static-roles/ro",
            Some(json!({"db_name": "pg", "username": "st_user", "rotation_period": "1h"})),
        ),
        (
            "POST",
            "database/static-roles/st1",
            Some(json!({"db_name": "pg", "rotation_period": "1h"})),
        ),
        (
            "POST",
            "database/static-roles/st1",
            Some(json!({"db_name": "pg", "username": "st_user"})),
        ),
        ("POST", "database/rotate-role/nope", None),
        ("POST", "database/rotate-root/nope", None),
        ("POST", "database/reset/nope", None),
        ("GET", "database/static-creds/nope", None),
        ("POST", "database/config/x", Some(json!({}))),
        (
            "POST",
            "database/config/x",
            Some(json!({"plugin_name": "nope-plugin"})),
        ),
        ("POST", "database/reset/pg", None),
    ] {
        same_answer(&s, method, path, body, &[]).await;
    }

    // Static roles: rotated at creation, the same fields read back.
    let st = json!({"db_name": "pg", "username": "st_user", "rotation_period": "1h"});
    same_answer(&s, "POST", "database/static-roles/st1", Some(st), &[]).await;
    same_answer(
        &s,
        "GET",
        "database/static-roles/st1",
        None,
        &["last_vault_rotation"],
    )
    .await;
    same_answer(
        &s,
        "POST",
        "database/roles/st1",
        Some(json!({"db_name": "pg"})),
        &[],
    )
    .await;
    same_answer(
        &s,
        "POST",
        "database/static-roles/st1",
        Some(json!({"db_name": "pg", "username": "other"})),
        &[],
    )
    .await;
    same_answer(&s, "LIST", "database/static-roles", None, &[]).await;
    let a = same_answer(
        &s,
        "GET",
        "database/static-creds/st1",
        None,
        &["last_vault_rotation", "password", "ttl"],
    )
    .await;
    let ttl = a.body["data"]["ttl"].as_i64().expect("ttl");
    assert!((3590..=3600).contains(&ttl), "{ttl}");
    same_answer(&s, "POST", "database/rotate-role/st1", None, &[]).await;
    // The password Arca holds is the one PostgreSQL takes (the last rotation was Arca's:
    // OpenBao's rotations above ran first, on the same user).
    let a = root(&s[0], "POST", "database/rotate-role/st1", None).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let a = root(&s[0], "GET", "database/static-creds/st1", None).await;
    let pw = a.body["data"]["password"].as_str().expect("password");
    pg.login("st_user", pw)
        .await
        .expect("static password logs in");
    assert!(pg.login("st_user", "initial").await.is_err());

    // The catalog lists the builtin database plugins as OpenBao does (less the two Arca does
    // not have) and reads one back the same way, but for the version string.
    let a = root(&s[0], "LIST", "sys/plugins/catalog/database", None).await;
    let b = root(&s[1], "LIST", "sys/plugins/catalog/database", None).await;
    let mut expected: Vec<Value> = b.body["data"]["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter(|k| {
            !matches!(
                k.as_str(),
                Some("cassandra-database-plugin" | "influxdb-database-plugin")
            )
        })
        .cloned()
        .collect();
    expected.sort_by_key(|v| v.to_string());
    assert_eq!(a.body["data"]["keys"], Value::Array(expected), "{}", a.body);
    let a = root(
        &s[0],
        "GET",
        "sys/plugins/catalog/database/postgresql-database-plugin",
        None,
    )
    .await;
    let b = root(
        &s[1],
        "GET",
        "sys/plugins/catalog/database/postgresql-database-plugin",
        None,
    )
    .await;
    let strip = |mut v: Value| {
        v["data"].as_object_mut().map(|d| d.remove("version"));
        v["data"].clone()
    };
    assert_eq!(strip(a.body), strip(b.body));

    same_answer(&s, "DELETE", "database/static-roles/st1", None, &[]).await;
    same_answer(&s, "DELETE", "database/roles/ro", None, &[]).await;
    same_answer(&s, "DELETE", "database/config/literal", None, &[]).await;
    same_answer(&s, "GET", "database/config/literal", None, &[]).await;
}

#[tokio::test]
async fn dynamic_credentials_log_in_and_stop_at_revoke_renewal_and_expiry() {
    let pg = ScramPostgres::start();
    let s = Server::dev();
    configure(&s, &pg, "postgres", SUPERUSER_PASSWORD).await;
    let su = pg.superuser().await;
    su.batch_execute("CREATE TABLE things (id int); INSERT INTO things VALUES (1), (2);")
        .await
        .expect("table");
    ok(
        &s,
        "POST",
        "database/roles/ro",
        Some(json!({
            "db_name": "pg",
            "creation_statements": [CREATE_LOGIN, r#"GRANT SELECT ON things TO "{{name}}";"#],
            "default_ttl": "1h",
            "max_ttl": "2h",
        })),
    )
    .await;

    let (user, password, lease) = creds(&ok(&s, "GET", "database/creds/ro", None).await);
    let c = pg
        .login(&user, &password)
        .await
        .expect("dynamic user logs in");
    let n: i64 = c
        .query_one("SELECT count(*) FROM things", &[])
        .await
        .expect("granted select")
        .get(0);
    assert_eq!(n, 2);
    assert!(
        c.batch_execute("INSERT INTO things VALUES (3)")
            .await
            .is_err(),
        "the role grants SELECT only"
    );
    let wrong = pg.login(&user, "not-the-password").await;
    assert!(wrong.is_err(), "a wrong password is refused");

    // Renewal moves VALID UNTIL to now + increment (+ OpenBao's 5 s of grace).
    let valid_until = |who: String| {
        let su = &su;
        async move {
            let row = su
                .query_one(
                    "SELECT extract(epoch from rolvaliduntil)::float8 FROM pg_roles WHERE rolname = $1",
                    &[&who],
                )
                .await
                .expect("valid until");
            row.get::<_, f64>(0)
        }
    };
    let before = valid_until(user.clone()).await;
    let now = unix_now();
    assert!((before - (now + 3605.0)).abs() < 30.0, "{before} vs {now}");
    let r = ok(
        &s,
        "PUT",
        "sys/leases/renew",
        Some(json!({"lease_id": lease, "increment": 600})),
    )
    .await;
    assert_eq!(r["lease_duration"], 600, "{r}");
    let after = valid_until(user.clone()).await;
    let now = unix_now();
    assert!((after - (now + 605.0)).abs() < 30.0, "{after} vs {now}");

    // Revocation drops the user: its password no longer logs in and the role is gone.
    drop(c);
    ok(
        &s,
        "PUT",
        "sys/leases/revoke",
        Some(json!({"lease_id": lease})),
    )
    .await;
    let refused = pg.login(&user, &password).await;
    assert!(refused.is_err(), "revoked user still logs in");
    assert!(!pg.role_exists(&user).await);

    // A statement that fails rolls the creation back: no user, no lease, and the rollback
    // statements ran.
    su.batch_execute("CREATE TABLE rollbacks (n int)")
        .await
        .expect("table");
    ok(
        &s,
        "POST",
        "database/roles/broken",
        Some(json!({
            "db_name": "pg",
            "creation_statements": [CREATE_LOGIN, r#"GRANT no_such_role TO "{{name}}";"#],
            "rollback_statements": ["INSERT INTO rollbacks VALUES (1);"],
        })),
    )
    .await;
    let a = root(&s, "GET", "database/creds/broken", None).await;
    assert_eq!(a.status, 500, "{}", a.body);
    let text = a.body["errors"][0].as_str().unwrap_or_default();
    assert!(text.contains("no_such_role"), "{text}");
    assert!(pg.roles_like("v-token-broken").await.is_empty());
    let leases = root(&s, "LIST", "sys/leases/lookup/database/creds/broken", None).await;
    assert_eq!(
        leases.status, 404,
        "no lease for a failed creation: {}",
        leases.body
    );
    let n: i64 = su
        .query_one("SELECT count(*) FROM rollbacks", &[])
        .await
        .expect("rollbacks")
        .get(0);
    assert_eq!(n, 1, "rollback statements ran once");

    // Expiry: a short lease drops its user on time.
    ok(
        &s,
        "POST",
        "database/roles/short",
        Some(json!({"db_name": "pg", "creation_statements": CREATE_LOGIN, "default_ttl": 2})),
    )
    .await;
    let (user, password, _) = creds(&ok(&s, "GET", "database/creds/short", None).await);
    pg.login(&user, &password)
        .await
        .expect("short-lived user logs in");
    let start = Instant::now();
    wait_until(
        "the expired user to be dropped",
        Duration::from_secs(30),
        || {
            let pg = &pg;
            let user = user.clone();
            async move { !pg.role_exists(&user).await }
        },
    )
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert!(pg.login(&user, &password).await.is_err());

    // The CLIs read credentials through their generic commands.
    for (bin, out) in [
        (
            "arca",
            common::run_arca(
                &s.addr,
                Some("root"),
                &["read", "-format=json", "database/creds/ro"],
            ),
        ),
        (
            "bao",
            common::run_bao(
                &s.addr,
                Some("root"),
                &["read", "-format=json", "database/creds/ro"],
            ),
        ),
    ] {
        assert_eq!(out.0, 0, "{bin}: {} {}", out.1, out.2);
        let v: Value = serde_json::from_str(&out.1).expect("json");
        let (user, password, _) = creds(&v);
        pg.login(&user, &password)
            .await
            .unwrap_or_else(|e| panic!("{bin} credentials: {e}"));
    }

    // Disabling the engine revokes its leases: every user it made is dropped.
    let (user, _, _) = creds(&ok(&s, "GET", "database/creds/ro", None).await);
    assert!(pg.role_exists(&user).await);
    ok(&s, "DELETE", "sys/mounts/database", None).await;
    assert!(
        pg.roles_like("v-token-").await.is_empty(),
        "users left after unmount"
    );
}

#[tokio::test]
async fn root_and_static_rotation_survive_a_restart() {
    let pg = ScramPostgres::start();
    let su = pg.superuser().await;
    su.batch_execute(
        "CREATE ROLE arca_admin LOGIN CREATEROLE PASSWORD 'admin-initial'; \
         CREATE ROLE app_user LOGIN PASSWORD 'app-initial';",
    )
    .await
    .expect("roles");
    let s = Server::with_file_storage(None);
    let (key, token) = common::init_unseal(&s).await;
    let t = Some(token.as_str());
    let a = call(
        &s,
        "POST",
        "sys/mounts/database",
        t,
        Some(json!({"type": "database"})),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let a = call(
        &s,
        "POST",
        "database/config/pg",
        t,
        Some(json!({
            "plugin_name": "postgresql-database-plugin",
            "connection_url": pg.template_url(),
            "username": "arca_admin",
            "password": "admin-initial",
            "allowed_roles": "*",
        })),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);

    // Root rotation: the old root password stops working and Arca keeps working.
    let a = call(&s, "POST", "database/rotate-root/pg", t, None).await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert!(pg.login("arca_admin", "admin-initial").await.is_err());
    let a = call(
        &s,
        "POST",
        "database/roles/ro",
        t,
        Some(json!({"db_name": "pg", "creation_statements": CREATE_LOGIN})),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let a = call(&s, "GET", "database/creds/ro", t, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (user, password, _) = creds(&a.body);
    pg.login(&user, &password)
        .await
        .expect("creds after root rotation");
    let read = call(&s, "GET", "database/config/pg", t, None).await;
    assert!(
        !read.body.to_string().contains("password\""),
        "{}",
        read.body
    );

    // A static role: rotated at creation, on demand, and on its schedule.
    let a = call(
        &s,
        "POST",
        "database/static-roles/app",
        t,
        Some(json!({"db_name": "pg", "username": "app_user", "rotation_period": "5s"})),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert!(pg.login("app_user", "app-initial").await.is_err());
    let static_creds = |s: &Server| {
        let s_url = s.url("database/static-creds/app");
        let tok = token.clone();
        async move {
            let r = common::client()
                .get(s_url)
                .header("X-Vault-Token", tok)
                .send()
                .await
                .expect("static-creds");
            let v: Value = r.json().await.expect("json");
            (
                v["data"]["password"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                v["data"]["last_vault_rotation"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        }
    };
    let (first, _) = static_creds(&s).await;
    pg.login("app_user", &first).await.expect("static password");
    let a = call(&s, "POST", "database/rotate-role/app", t, None).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let (second, rotated_at) = static_creds(&s).await;
    assert_ne!(first, second);
    pg.login("app_user", &second)
        .await
        .expect("rotated password");
    assert!(pg.login("app_user", &first).await.is_err());
    wait_until("a scheduled rotation", Duration::from_secs(20), || {
        let s = &s;
        let rotated_at = rotated_at.clone();
        let static_creds = &static_creds;
        async move { static_creds(s).await.1 != rotated_at }
    })
    .await;
    let (third, _) = static_creds(&s).await;
    pg.login("app_user", &third)
        .await
        .expect("scheduled password");
    assert!(pg.login("app_user", &second).await.is_err());

    // Down past the rotation time: the role is rotated as soon as the engine is back.
    let a = call(
        &s,
        "POST",
        "database/static-roles/app",
        t,
        Some(json!({"db_name": "pg", "username": "app_user", "rotation_period": "3600s"})),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let a = call(&s, "POST", "database/rotate-role/app", t, None).await;
    assert_eq!(a.status, 204, "{}", a.body);
    let (before_restart, at) = static_creds(&s).await;
    let a = call(
        &s,
        "POST",
        "database/static-roles/app",
        t,
        Some(json!({"db_name": "pg", "username": "app_user", "rotation_period": "6s"})),
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    let dir = s.stop();
    tokio::time::sleep(Duration::from_secs(7)).await; // the downtime that misses the rotation
    let s = Server::with_file_storage(dir);
    common::unseal(&s, &key).await;
    wait_until(
        "the missed rotation after restart",
        Duration::from_secs(15),
        || {
            let s = &s;
            let at = at.clone();
            let static_creds = &static_creds;
            async move { static_creds(s).await.1 != at }
        },
    )
    .await;
    let (after_restart, _) = static_creds(&s).await;
    pg.login("app_user", &after_restart)
        .await
        .expect("password after restart");
    assert!(pg.login("app_user", &before_restart).await.is_err());
    // Arca still holds the rotated root password across the restart.
    let a = call(&s, "GET", "database/creds/ro", t, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn two_hundred_concurrent_creds_make_distinct_users_and_revocation_leaves_none() {
    let pg = ScramPostgres::start();
    let s = Server::dev();
    configure(&s, &pg, "postgres", SUPERUSER_PASSWORD).await;
    ok(
        &s,
        "POST",
        "database/roles/many",
        Some(json!({"db_name": "pg", "creation_statements": CREATE_LOGIN, "default_ttl": "1h"})),
    )
    .await;
    let requests = (0..200).map(|_| root(&s, "GET", "database/creds/many", None));
    let answers = futures::future::join_all(requests).await;
    let mut users = std::collections::BTreeMap::new();
    for a in &answers {
        assert_eq!(a.status, 200, "{}", a.body);
        let (u, p, _) = creds(&a.body);
        users.insert(u, p);
    }
    assert_eq!(users.len(), 200, "usernames are distinct");
    for chunk in users.iter().collect::<Vec<_>>().chunks(25) {
        let logins = chunk.iter().map(|(u, p)| pg.login(u, p));
        for r in futures::future::join_all(logins).await {
            r.expect("each user logs in");
        }
    }
    assert_eq!(pg.roles_like("v-token-many-").await.len(), 200);
    let a = root(
        &s,
        "PUT",
        "sys/leases/revoke-prefix/database/creds/many",
        None,
    )
    .await;
    assert_eq!(a.status, 204, "{}", a.body);
    wait_until("every user to be dropped", Duration::from_secs(60), || {
        let pg = &pg;
        async move { pg.roles_like("v-token-many-").await.is_empty() }
    })
    .await;
    let (u, p) = users.iter().next().expect("one");
    assert!(pg.login(u, p).await.is_err());
}

/// Logs in to the machine's MariaDB as `user`.
async fn mysql_login(user: &str, password: &str) -> Result<(), String> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(3306)
        .user(Some(user))
        .pass(Some(password));
    let conn = mysql_async::Conn::new(opts)
        .await
        .map_err(|e| e.to_string())?;
    let _ = conn.disconnect().await;
    Ok(())
}

/// Logs in to the machine's Redis as `user` (an ACL user).
async fn redis_login(user: &str, password: &str) -> Result<(), String> {
    let client = redis::Client::open("redis://127.0.0.1:6379").map_err(|e| e.to_string())?;
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| e.to_string())?;
    redis::cmd("AUTH")
        .arg(user)
        .arg(password)
        .query_async::<()>(&mut c)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn mysql_and_redis_users_through_the_engine() {
    let s = Server::dev();
    ok(
        &s,
        "POST",
        "sys/mounts/database",
        Some(json!({"type": "database"})),
    )
    .await;
    ok(
        &s,
        "POST",
        "database/config/my",
        Some(json!({
            "plugin_name": "mysql-database-plugin",
            "connection_url": "{{username}}:{{password}}@tcp(127.0.0.1:3306)/",
            "username": "root",
            "password": "",
            "allowed_roles": "*",
        })),
    )
    .await;
    ok(
        &s,
        "POST",
        "database/roles/my",
        Some(json!({
            "db_name": "my",
            "creation_statements": "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON *.* TO '{{name}}'@'%';",
        })),
    )
    .await;
    let (user, password, lease) = creds(&ok(&s, "GET", "database/creds/my", None).await);
    assert!(
        user.len() <= 32 && user.starts_with("v-token-my-"),
        "{user}"
    );
    mysql_login(&user, &password)
        .await
        .expect("MySQL user logs in");
    assert!(mysql_login(&user, "wrong-password").await.is_err());
    ok(
        &s,
        "PUT",
        "sys/leases/revoke",
        Some(json!({"lease_id": lease})),
    )
    .await;
    assert!(
        mysql_login(&user, &password).await.is_err(),
        "revoked MySQL user"
    );

    for plugin in ["redis-database-plugin", "valkey-database-plugin"] {
        let name = plugin.split('-').next().unwrap_or("redis");
        ok(
            &s,
            "POST",
            &format!("database/config/{name}"),
            Some(json!({
                "plugin_name": plugin,
                "host": "127.0.0.1",
                "port": 6379,
                "username": "default",
                "password": "unused",
                "allowed_roles": "*",
            })),
        )
        .await;
        ok(
            &s,
            "POST",
            &format!("database/roles/{name}"),
            Some(json!({"db_name": name, "creation_statements": r#"["+@read", "~*"]"#})),
        )
        .await;
        let (user, password, lease) =
            creds(&ok(&s, "GET", &format!("database/creds/{name}"), None).await);
        assert!(user.starts_with("V_TOKEN_"), "{user}");
        redis_login(&user, &password)
            .await
            .expect("Redis user logs in");
        assert!(redis_login(&user, "wrong").await.is_err());
        ok(
            &s,
            "PUT",
            "sys/leases/revoke",
            Some(json!({"lease_id": lease})),
        )
        .await;
        assert!(
            redis_login(&user, &password).await.is_err(),
            "revoked Redis user"
        );
    }
}

#[tokio::test]
async fn rotation_schedules_are_validated_and_read_back() {
    let pg = ScramPostgres::start();
    let s = Server::dev();
    configure(&s, &pg, "postgres", SUPERUSER_PASSWORD).await;
    pg.superuser()
        .await
        .batch_execute("CREATE ROLE sched_user LOGIN PASSWORD 'x'")
        .await
        .expect("role");
    for (body, error) in [
        (
            json!({"db_name": "pg", "username": "sched_user", "rotation_period": 60, "rotation_schedule": "0 * * * *"}),
            "mutually exclusive fields rotation_period and rotation_schedule were both specified; only one of them can be provided",
        ),
        (
            json!({"db_name": "pg", "username": "sched_user", "rotation_period": 60, "rotation_window": 3600}),
            "rotation_window is invalid with use of rotation_period",
        ),
        (
            json!({"db_name": "pg", "username": "sched_user", "rotation_schedule": "0 * * * *", "rotation_window": 60}),
            "rotation_window is invalid: rotation_window must be 3600 seconds or more",
        ),
    ] {
        let a = root(&s, "POST", "database/static-roles/sched", Some(body)).await;
        assert_eq!(a.status, 400, "{}", a.body);
        assert_eq!(a.body["errors"][0], error);
    }
    let a = root(
        &s,
        "POST",
        "database/static-roles/sched",
        Some(json!({"db_name": "pg", "username": "sched_user", "rotation_schedule": "not a cron"})),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body["errors"][0]
            .as_str()
            .unwrap_or_default()
            .starts_with("could not parse rotation_schedule"),
        "{}",
        a.body
    );
    ok(
        &s,
        "POST",
        "database/static-roles/sched",
        Some(json!({"db_name": "pg", "username": "sched_user", "rotation_schedule": "0 0 1 1 *", "rotation_window": "2h"})),
    )
    .await;
    let r = ok(&s, "GET", "database/static-roles/sched", None).await;
    assert_eq!(r["data"]["rotation_schedule"], "0 0 1 1 *", "{r}");
    assert_eq!(r["data"]["rotation_window"], 7200, "{r}");
    assert!(r["data"].get("rotation_period").is_none(), "{r}");
    // Rotated at creation even on a schedule; the next time is next 1 January.
    let c = ok(&s, "GET", "database/static-creds/sched", None).await;
    let pw = c["data"]["password"].as_str().expect("password");
    pg.login("sched_user", pw)
        .await
        .expect("scheduled role's password");
    let ttl = c["data"]["ttl"].as_i64().expect("ttl");
    assert!(ttl > 0 && ttl <= 366 * 86400, "{ttl}");
    // Switching to a period drops the schedule.
    ok(
        &s,
        "POST",
        "database/static-roles/sched",
        Some(json!({"db_name": "pg", "username": "sched_user", "rotation_period": "1h"})),
    )
    .await;
    let r = ok(&s, "GET", "database/static-roles/sched", None).await;
    assert_eq!(r["data"]["rotation_period"], 3600, "{r}");
    assert!(r["data"].get("rotation_schedule").is_none(), "{r}");
}
