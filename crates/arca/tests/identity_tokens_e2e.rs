//! Issue 16, identity tokens (`identity/oidc/`) end to end against the real `arca` binary and
//! a real OpenBao dev server (one of each for the whole file): the issuer, named keys and their
//! rotation, roles and their templates, the discovery document and key set, introspection,
//! and every error OpenBao answers with.

mod common;

use common::{Answer, Server, call, servers};
use serde_json::{Value, json};

async fn both(servers: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> [Answer; 2] {
    let a = call(&servers[0], method, path, Some("root"), body.clone()).await;
    let b = call(&servers[1], method, path, Some("root"), body).await;
    [a, b]
}

/// The same status and, for an error, the same `errors` on both servers.
async fn same(servers: &[Server; 2], method: &str, path: &str, body: Option<Value>) -> Answer {
    let [a, b] = both(servers, method, path, body.clone()).await;
    assert_eq!(
        a.status, b.status,
        "{method} {path} {body:?}: Arca {} {} / OpenBao {} {}",
        a.status, a.body, b.status, b.body
    );
    if a.status >= 400 {
        assert_eq!(a.body, b.body, "{method} {path} {body:?}");
    }
    a
}

fn unauthenticated_get(s: &Server, path: &str) -> reqwest::RequestBuilder {
    common::client().get(s.url(path))
}

#[tokio::test(flavor = "multi_thread")]
async fn identity_tokens_as_openbao() {
    let servers = servers();
    config(&servers).await;
    keys_and_errors(&servers).await;
    roles_and_errors(&servers).await;
    token_without_entity(&servers).await;
    well_known(&servers).await;
    rotation_changes_the_key_set(&servers).await;
    introspection_errors(&servers).await;
    tokens_for_an_entity(&servers).await;
    provider_resources(&servers).await;
}

async fn config(servers: &[Server; 2]) {
    let r = same(servers, "GET", "identity/oidc/config", None).await;
    assert_eq!(r.body["data"], json!({"issuer": ""}));
    same(
        servers,
        "POST",
        "identity/oidc/config",
        Some(json!({"issuer": "https://x.example:8200/path"})),
    )
    .await;
    let [a, b] = both(
        servers,
        "POST",
        "identity/oidc/config",
        Some(json!({"issuer": "https://x.example:8200"})),
    )
    .await;
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.body["warnings"], b.body["warnings"]);
    let r = same(servers, "GET", "identity/oidc/config", None).await;
    assert_eq!(r.body["data"], json!({"issuer": "https://x.example:8200"}));
    same(
        servers,
        "POST",
        "identity/oidc/config",
        Some(json!({"issuer": ""})),
    )
    .await;
}

async fn keys_and_errors(servers: &[Server; 2]) {
    let r = same(servers, "LIST", "identity/oidc/key", None).await;
    assert_eq!(r.body["data"]["keys"], json!(["default"]));
    let r = same(servers, "GET", "identity/oidc/key/default", None).await;
    assert_eq!(
        r.body["data"],
        json!({"algorithm": "RS256", "allowed_client_ids": ["*"], "rotation_period": 86400,
               "verification_ttl": 86400})
    );
    for body in [
        json!({"algorithm": "ES256", "rotation_period": "30s"}),
        json!({"algorithm": "XX"}),
        json!({"algorithm": "ES256", "verification_ttl": "20d"}),
    ] {
        same(servers, "POST", "identity/oidc/key/k1", Some(body)).await;
    }
    same(servers, "GET", "identity/oidc/key/k1", None).await;
    for (name, alg) in [
        ("k1", "ES256"),
        ("k2", "EdDSA"),
        ("k3", "RS384"),
        ("k4", "ES512"),
    ] {
        let r = same(
            servers,
            "POST",
            &format!("identity/oidc/key/{name}"),
            Some(json!({"algorithm": alg, "allowed_client_ids": "*"})),
        )
        .await;
        assert_eq!(r.status, 204);
    }
    let r = same(servers, "GET", "identity/oidc/key/k2", None).await;
    assert_eq!(r.body["data"]["algorithm"], json!("EdDSA"));
    let r = same(servers, "LIST", "identity/oidc/key", None).await;
    assert_eq!(
        r.body["data"]["keys"],
        json!(["default", "k1", "k2", "k3", "k4"])
    );
    same(servers, "DELETE", "identity/oidc/key/default", None).await;
    same(servers, "POST", "identity/oidc/key/nope/rotate", None).await;
    same(servers, "DELETE", "identity/oidc/key/k4", None).await;
    same(servers, "GET", "identity/oidc/key/k4", None).await;
}

async fn roles_and_errors(servers: &[Server; 2]) {
    for body in [
        json!({}),
        json!({"key": "nope"}),
        json!({"key": "k1", "template": "{\"iss\":1}"}),
        json!({"key": "k1", "template": "{{bad"}),
        json!({"key": "k1", "ttl": "100d"}),
        json!({"key": "k1", "template": "{\"g\":{{identity.groups.names.x.id}}}"}),
    ] {
        same(servers, "POST", "identity/oidc/role/r1", Some(body)).await;
    }
    // A JSON error names the problem (Go's and serde's texts differ after the prefix).
    let [a, b] = both(
        servers,
        "POST",
        "identity/oidc/role/r1",
        Some(json!({"key": "k1", "template": "not json"})),
    )
    .await;
    assert_eq!((a.status, b.status), (400, 400));
    for x in [&a, &b] {
        assert!(
            x.body["errors"][0]
                .as_str()
                .unwrap_or_default()
                .starts_with("error parsing template JSON: "),
            "{}",
            x.body
        );
    }
    same(servers, "LIST", "identity/oidc/role", None).await;
    let template = "{\"n\":{{identity.entity.name}},\"g\":{{identity.entity.groups.names}}}";
    let r = same(
        servers,
        "POST",
        "identity/oidc/role/r1",
        Some(json!({"key": "k1", "template": template, "client_id": "cid"})),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = same(servers, "GET", "identity/oidc/role/r1", None).await;
    assert_eq!(
        r.body["data"],
        json!({"client_id": "cid", "key": "k1", "template": template, "ttl": 86400})
    );
    // Without a client ID, one is made: 26 base62 characters.
    same(
        servers,
        "POST",
        "identity/oidc/role/r2",
        Some(json!({"key": "default"})),
    )
    .await;
    let r = call(
        &servers[0],
        "GET",
        "identity/oidc/role/r2",
        Some("root"),
        None,
    )
    .await;
    let cid = r.body["data"]["client_id"].as_str().unwrap_or_default();
    assert_eq!(cid.len(), 26, "{cid}");
    assert!(cid.chars().all(|c| c.is_ascii_alphanumeric()));
    // A base64 template is stored decoded.
    let r = same(
        servers,
        "POST",
        "identity/oidc/role/r3",
        Some(json!({"key": "k2", "template": "eyJhIjoxfQ=="})),
    )
    .await;
    assert_eq!(r.status, 204);
    let r = same(servers, "GET", "identity/oidc/role/r3", None).await;
    assert_eq!(r.body["data"]["template"], json!("{\"a\":1}"));
    let r = same(servers, "LIST", "identity/oidc/role", None).await;
    assert_eq!(r.body["data"]["keys"], json!(["r1", "r2", "r3"]));
    same(servers, "GET", "identity/oidc/role/nope", None).await;
    // Keys in use are kept; a shorter verification_ttl than a role's TTL is refused.
    same(servers, "DELETE", "identity/oidc/key/k1", None).await;
    same(
        servers,
        "PUT",
        "identity/oidc/key/k1",
        Some(json!({"verification_ttl": "1m"})),
    )
    .await;
    same(
        servers,
        "PUT",
        "identity/oidc/key/k1",
        Some(json!({"rotation_period": "2h"})),
    )
    .await;
}

async fn token_without_entity(servers: &[Server; 2]) {
    same(servers, "GET", "identity/oidc/token/r1", None).await;
    same(servers, "GET", "identity/oidc/token/nope", None).await;
    same(servers, "POST", "identity/oidc/token/r1", None).await;
    // A key that no longer lists the role's client ID.
    same(
        servers,
        "PUT",
        "identity/oidc/key/k3",
        Some(json!({"allowed_client_ids": "someone-else"})),
    )
    .await;
    same(
        servers,
        "POST",
        "identity/oidc/role/r4",
        Some(json!({"key": "k3", "client_id": "mine"})),
    )
    .await;
    same(servers, "GET", "identity/oidc/token/r4", None).await;
}

async fn well_known(servers: &[Server; 2]) {
    let mut docs = Vec::new();
    for s in servers {
        let r = unauthenticated_get(s, "identity/oidc/.well-known/openid-configuration")
            .send()
            .await
            .expect("discovery");
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=3600")
        );
        let doc: Value = r.json().await.expect("json");
        let issuer = format!("{}/v1/identity/oidc", s.addr);
        assert_eq!(doc["issuer"], json!(issuer));
        assert_eq!(doc["jwks_uri"], json!(format!("{issuer}/.well-known/keys")));
        docs.push(doc);
    }
    let strip = |d: &Value| {
        let mut d = d.clone();
        d["issuer"] = Value::Null;
        d["jwks_uri"] = Value::Null;
        d
    };
    assert_eq!(strip(&docs[0]), strip(&docs[1]));
    // The key set holds the keys roles use (k1, k2, default, k3: current and next each).
    for s in servers {
        let set = key_set(s).await;
        assert_eq!(set.len(), 8, "{}: {set:?}", s.addr);
        let mut algs: Vec<&str> = set.iter().filter_map(|k| k["alg"].as_str()).collect();
        algs.sort_unstable();
        assert_eq!(
            algs,
            [
                "ES256", "ES256", "EdDSA", "EdDSA", "RS256", "RS256", "RS384", "RS384"
            ]
        );
        for k in &set {
            assert_eq!(k["use"], json!("sig"));
            let fields = match k["kty"].as_str() {
                Some("EC") => vec!["crv", "x", "y"],
                Some("OKP") => vec!["crv", "x"],
                Some("RSA") => vec!["n", "e"],
                other => panic!("kty {other:?}"),
            };
            for f in fields {
                assert!(k[f].is_string(), "{f} in {k}");
            }
        }
    }
}

async fn key_set(s: &Server) -> Vec<Value> {
    let r = unauthenticated_get(s, "identity/oidc/.well-known/keys")
        .send()
        .await
        .expect("keys");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    body["keys"].as_array().cloned().unwrap_or_default()
}

async fn rotation_changes_the_key_set(servers: &[Server; 2]) {
    for s in servers {
        let before: Vec<String> = key_set(s)
            .await
            .iter()
            .filter_map(|k| k["kid"].as_str().map(String::from))
            .collect();
        let r = call(
            s,
            "POST",
            "identity/oidc/key/k2/rotate",
            Some("root"),
            Some(json!({"verification_ttl": "1h"})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let after: Vec<String> = key_set(s)
            .await
            .iter()
            .filter_map(|k| k["kid"].as_str().map(String::from))
            .collect();
        // The rotated-out key still verifies for an hour: one key more, all old ones kept.
        assert_eq!(after.len(), before.len() + 1, "{}", s.addr);
        assert!(before.iter().all(|k| after.contains(k)));
        // Rotating out with no verification time drops it at once.
        let r = call(
            s,
            "POST",
            "identity/oidc/key/k2/rotate",
            Some("root"),
            Some(json!({"verification_ttl": 0})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
}

async fn introspection_errors(servers: &[Server; 2]) {
    for body in [json!({"token": "abc"}), json!({})] {
        for s in servers {
            let r = common::client()
                .post(s.url("identity/oidc/introspect"))
                .header("X-Vault-Token", "root")
                .json(&body)
                .send()
                .await
                .expect("introspect");
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.expect("json");
            assert_eq!(
                v,
                json!({"active": false, "error": "error parsing token: go-jose/go-jose: compact JWS format must have three parts"})
            );
        }
    }
}

/// A userpass login gives an entity; its identity tokens verify with a JWT library against the
/// published key set, carry OpenBao's claims and the role's template, and introspect as active
/// until the entity is disabled.
async fn tokens_for_an_entity(servers: &[Server; 2]) {
    let mut claim_keys = Vec::new();
    for s in servers {
        let root = |m: &'static str, p: &'static str, b: Value| async move {
            let r = call(s, m, p, Some("root"), Some(b)).await;
            assert!(
                r.status < 300,
                "{} {m} {p}: {} {}",
                s.addr,
                r.status,
                r.body
            );
            r
        };
        root("POST", "sys/auth/userpass", json!({"type": "userpass"})).await;
        root(
            "POST",
            "sys/policies/acl/oidc",
            json!({"policy": "path \"identity/oidc/token/*\" { capabilities = [\"read\"] }"}),
        )
        .await;
        root(
            "POST",
            "auth/userpass/users/alice",
            json!({"password": "pw-alice", "token_policies": "oidc"}),
        )
        .await;
        let login = call(
            s,
            "POST",
            "auth/userpass/login/alice",
            None,
            Some(json!({"password": "pw-alice"})),
        )
        .await;
        assert_eq!(login.status, 200, "{}", login.body);
        let token = login.body["auth"]["client_token"]
            .as_str()
            .expect("token")
            .to_string();
        let entity_id = login.body["auth"]["entity_id"]
            .as_str()
            .expect("entity")
            .to_string();
        assert!(!entity_id.is_empty());
        let entity = call(
            s,
            "GET",
            &format!("identity/entity/id/{entity_id}"),
            Some("root"),
            None,
        )
        .await;
        let entity_name = entity.body["data"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        root(
            "POST",
            "identity/group",
            json!({"name": "eng", "member_entity_ids": [entity_id]}),
        )
        .await;
        let set = key_set(s).await;
        let issuer = format!("{}/v1/identity/oidc", s.addr);
        for (role, alg) in [
            ("r1", jsonwebtoken::Algorithm::ES256),
            ("r2", jsonwebtoken::Algorithm::RS256),
            ("r3", jsonwebtoken::Algorithm::EdDSA),
        ] {
            let r = call(
                s,
                "GET",
                &format!("identity/oidc/token/{role}"),
                Some(&token),
                None,
            )
            .await;
            assert_eq!(r.status, 200, "{} {role}: {}", s.addr, r.body);
            let jwt = r.body["data"]["token"].as_str().expect("jwt");
            let client_id = r.body["data"]["client_id"].as_str().expect("client_id");
            assert_eq!(r.body["data"]["ttl"], json!(86400));
            let header = jsonwebtoken::decode_header(jwt).expect("header");
            assert_eq!(header.alg, alg, "{role}");
            let kid = header.kid.expect("kid");
            let jwk_value = set
                .iter()
                .find(|k| k["kid"] == json!(kid))
                .unwrap_or_else(|| panic!("{}: {kid} not in the key set", s.addr))
                .clone();
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk_value).expect("jwk");
            let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key");
            let mut validation = jsonwebtoken::Validation::new(alg);
            validation.set_audience(&[client_id]);
            validation.set_issuer(&[&issuer]);
            let claims = jsonwebtoken::decode::<Value>(jwt, &key, &validation)
                .unwrap_or_else(|e| panic!("{} {role}: {e}", s.addr))
                .claims;
            assert_eq!(claims["sub"], json!(entity_id));
            assert_eq!(claims["namespace"], json!("root"));
            let exp = claims["exp"].as_i64().expect("exp");
            let iat = claims["iat"].as_i64().expect("iat");
            assert_eq!(exp - iat, 86400);
            match role {
                "r1" => {
                    assert_eq!(claims["n"], json!(entity_name));
                    assert_eq!(claims["g"], json!(["eng"]));
                }
                "r3" => assert_eq!(claims["a"], json!(1)),
                _ => {}
            }
            let mut keys: Vec<String> = claims
                .as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            keys.sort();
            claim_keys.push((role, keys));
            // A token signed by another role's key, or for another audience, is refused.
            let introspect = |body: Value| async move {
                let r = common::client()
                    .post(s.url("identity/oidc/introspect"))
                    .header("X-Vault-Token", "root")
                    .json(&body)
                    .send()
                    .await
                    .expect("introspect");
                assert_eq!(r.status(), 200);
                r.json::<Value>().await.expect("json")
            };
            assert_eq!(
                introspect(json!({"token": jwt, "client_id": client_id})).await,
                json!({"active": true})
            );
            assert_eq!(
                introspect(json!({"token": jwt, "client_id": "someone-else"})).await,
                json!({"active": false, "error": "error validating claims: go-jose/go-jose/jwt: validation failed, invalid audience claim (aud)"})
            );
            let mut forged = jwt.to_string();
            forged.push('A');
            assert_eq!(
                introspect(json!({"token": forged})).await["active"],
                json!(false)
            );
        }
        // A disabled entity's tokens no longer introspect as active.
        let r = call(s, "GET", "identity/oidc/token/r1", Some(&token), None).await;
        let jwt = r.body["data"]["token"].as_str().expect("jwt").to_string();
        let r = call(
            s,
            "POST",
            &format!("identity/entity/id/{entity_id}"),
            Some("root"),
            Some(json!({"disabled": true})),
        )
        .await;
        assert!(r.status < 300, "{}: {}", s.addr, r.body);
        let r = common::client()
            .post(s.url("identity/oidc/introspect"))
            .header("X-Vault-Token", "root")
            .json(&json!({"token": jwt}))
            .send()
            .await
            .expect("introspect");
        let v: Value = r.json().await.expect("json");
        assert_eq!(
            v,
            json!({"active": false, "error": "entity is disabled"}),
            "{}",
            s.addr
        );
    }
    assert_eq!(claim_keys.len(), 6);
    assert_eq!(
        claim_keys[0..3],
        claim_keys[3..6],
        "claims: Arca vs OpenBao"
    );
}

/// The OIDC provider's resources: assignments, scopes, clients and providers, their errors,
/// and each provider's discovery document and key set.
async fn provider_resources(servers: &[Server; 2]) {
    for s in servers {
        let r = call(
            s,
            "GET",
            "identity/oidc/provider/default",
            Some("root"),
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["data"],
            json!({"allowed_client_ids": ["*"], "scopes_supported": [],
                   "issuer": format!("{}/v1/identity/oidc/provider/default", s.addr)})
        );
        let r = call(s, "LIST", "identity/oidc/provider", Some("root"), None).await;
        assert_eq!(r.body["data"]["keys"], json!(["default"]), "{}", r.body);
        assert_eq!(
            r.body["data"]["key_info"]["default"]["allowed_client_ids"],
            json!(["*"])
        );
    }
    let r = same(servers, "LIST", "identity/oidc/assignment", None).await;
    assert_eq!(r.body["data"]["keys"], json!(["allow_all"]));
    let r = same(servers, "GET", "identity/oidc/assignment/allow_all", None).await;
    assert_eq!(
        r.body["data"],
        json!({"entity_ids": ["*"], "group_ids": ["*"]})
    );
    same(servers, "LIST", "identity/oidc/scope", None).await;
    same(servers, "LIST", "identity/oidc/client", None).await;
    for (path, body) in [
        ("identity/oidc/scope/openid", json!({})),
        (
            "identity/oidc/scope/bad",
            json!({"template": "{\"aud\":1}"}),
        ),
        (
            "identity/oidc/assignment/allow_all",
            json!({"entity_ids": "x"}),
        ),
        ("identity/oidc/client/bad", json!({"assignments": "nope"})),
        ("identity/oidc/client/bad", json!({"key": "nope"})),
        ("identity/oidc/client/bad", json!({"client_type": "odd"})),
        ("identity/oidc/client/bad", json!({"id_token_ttl": "100d"})),
        (
            "identity/oidc/provider/bad",
            json!({"scopes_supported": "nope"}),
        ),
        (
            "identity/oidc/provider/bad",
            json!({"issuer": "https://x.example/path"}),
        ),
    ] {
        same(servers, "POST", path, Some(body)).await;
    }
    let template = "{\"username\":{{identity.entity.name}}}";
    same(
        servers,
        "POST",
        "identity/oidc/scope/user",
        Some(json!({"template": template, "description": "d"})),
    )
    .await;
    same(
        servers,
        "POST",
        "identity/oidc/scope/name2",
        Some(json!({"template": "{\"username\":{{identity.entity.id}}}"})),
    )
    .await;
    let r = same(servers, "GET", "identity/oidc/scope/user", None).await;
    assert_eq!(
        r.body["data"],
        json!({"template": template, "description": "d"})
    );
    same(
        servers,
        "POST",
        "identity/oidc/assignment/a1",
        Some(json!({"entity_ids": "ABC,abc", "group_ids": "G1.ns1"})),
    )
    .await;
    let r = same(servers, "GET", "identity/oidc/assignment/a1", None).await;
    assert_eq!(
        r.body["data"],
        json!({"entity_ids": ["abc"], "group_ids": ["g1.ns1"]})
    );
    for (name, body) in [
        (
            "app",
            json!({"redirect_uris": "http://127.0.0.1:9999/cb", "assignments": "allow_all"}),
        ),
        (
            "pub",
            json!({"redirect_uris": "http://127.0.0.1:9999/cb", "assignments": "allow_all",
                       "client_type": "public"}),
        ),
        (
            "c2",
            json!({"assignments": "a1", "key": "k2", "id_token_ttl": "1h"}),
        ),
    ] {
        let r = same(
            servers,
            "POST",
            &format!("identity/oidc/client/{name}"),
            Some(body),
        )
        .await;
        assert_eq!(r.status, 204);
    }
    let mut reads = Vec::new();
    for s in servers {
        let r = call(s, "GET", "identity/oidc/client/app", Some("root"), None).await;
        let d = &r.body["data"];
        assert_eq!(d["client_id"].as_str().map(str::len), Some(32), "{d}");
        let secret = d["client_secret"].as_str().unwrap_or_default();
        assert!(
            secret.starts_with("hvo_secret_") && secret.len() == 75,
            "{secret}"
        );
        let mut d = d.clone();
        d["client_id"] = Value::Null;
        d["client_secret"] = Value::Null;
        reads.push(d);
        let r = call(s, "GET", "identity/oidc/client/pub", Some("root"), None).await;
        assert!(r.body["data"].get("client_secret").is_none(), "{}", r.body);
        let r = call(s, "LIST", "identity/oidc/client", Some("root"), None).await;
        assert_eq!(
            r.body["data"]["keys"],
            json!(["app", "c2", "pub"]),
            "{}",
            r.body
        );
        assert!(
            r.body["data"]["key_info"]["app"]
                .get("client_secret")
                .is_none()
        );
    }
    assert_eq!(reads[0], reads[1]);
    // Lists are trimmed, emptied of blanks and repeats, and sorted, as OpenBao stores them.
    same(
        servers,
        "POST",
        "identity/oidc/client/sorted",
        Some(json!({"redirect_uris": "http://b, http://a,http://b,", "assignments": "allow_all"})),
    )
    .await;
    let r = same(servers, "GET", "identity/oidc/client/sorted", None).await;
    assert_eq!(
        r.body["data"]["redirect_uris"],
        json!(["http://a", "http://b"])
    );
    same(servers, "DELETE", "identity/oidc/client/sorted", None).await;
    for (path, body) in [
        ("identity/oidc/client/app", json!({"key": "k1"})),
        ("identity/oidc/client/app", json!({"client_type": "public"})),
    ] {
        same(servers, "POST", path, Some(body)).await;
    }
    let r = same(
        servers,
        "POST",
        "identity/oidc/provider/p1",
        Some(json!({"scopes_supported": "user,name2", "allowed_client_ids": "*"})),
    )
    .await;
    assert_eq!(r.status, 200, "a conflicting claim earns a warning");
    for s in servers {
        let r = call(
            s,
            "POST",
            "identity/oidc/provider/p1",
            Some("root"),
            Some(json!({"scopes_supported": "user"})),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    let mut docs = Vec::new();
    let mut key_counts = Vec::new();
    for s in servers {
        let r = unauthenticated_get(
            s,
            "identity/oidc/provider/p1/.well-known/openid-configuration",
        )
        .send()
        .await
        .expect("discovery");
        assert_eq!(r.status(), 200);
        let text = r.text().await.expect("body");
        docs.push(text.replace(&s.addr, "ADDR"));
        let r = unauthenticated_get(s, "identity/oidc/provider/p1/.well-known/keys")
            .send()
            .await
            .expect("keys");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        key_counts.push(v["keys"].as_array().map(Vec::len));
        let r = call(
            s,
            "LIST",
            "identity/oidc/provider?allowed_client_id=nobody",
            Some("root"),
            None,
        )
        .await;
        // OpenBao builds this list from a Go map, so its order varies from call to call;
        // Arca's is sorted. Compare as sets.
        let mut keys: Vec<String> =
            serde_json::from_value(r.body["data"]["keys"].clone()).unwrap_or_default();
        keys.sort();
        assert_eq!(keys, ["default", "p1"], "{}", r.body);
    }
    let docs: Vec<Value> = docs
        .iter()
        .map(|d| serde_json::from_str(d).expect("json"))
        .collect();
    assert_eq!(docs[0], docs[1]);
    // The current and next keys of `default` and `k2` (a key rotated out with no
    // verification time may still show for the second it expires in, on either server).
    for count in &key_counts {
        assert!((4..=6).contains(&count.unwrap_or(0)), "{key_counts:?}");
    }
    for (path, body) in [
        ("identity/oidc/scope/user", None),
        ("identity/oidc/assignment/allow_all", None),
        ("identity/oidc/assignment/a1", None),
        ("identity/oidc/provider/default", None),
        ("identity/oidc/key/k2", None),
    ] {
        same(servers, "DELETE", path, body).await;
    }
    same(servers, "DELETE", "identity/oidc/client/c2", None).await;
    same(servers, "DELETE", "identity/oidc/assignment/a1", None).await;
    same(servers, "GET", "identity/oidc/assignment/a1", None).await;
    same(servers, "DELETE", "identity/oidc/provider/p1", None).await;
    same(servers, "GET", "identity/oidc/provider/p1", None).await;
}
