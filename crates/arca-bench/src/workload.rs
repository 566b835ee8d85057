//! The workloads: one entry of [`WORKLOADS`] each. A new workload is one more entry.
//!
//! A request is named by the worker that sends it and that worker's own request counter `n`
//! (0, 1, 2, ...), so a workload can pair requests within one worker (write a key, then read it).

/// A request a workload sends before it is measured (its data must exist first).
#[derive(Debug, Clone, Copy)]
pub struct SetupStep {
    /// HTTP method.
    pub method: &'static str,
    /// API path under `/v1/`.
    pub path: &'static str,
    /// JSON body.
    pub body: &'static str,
}

/// A second request sent right after each answer of a workload, built from that answer (the
/// token a create gave, the wrapping token a wrapped read gave). The pair is one operation:
/// its latency is both exchanges, and either failing fails it.
#[derive(Debug, Clone, Copy)]
pub struct Follow {
    /// The value the follow-up needs, taken from the first answer's JSON.
    pub extract: fn(&serde_json::Value) -> Option<String>,
    /// HTTP method of the follow-up.
    pub method: &'static str,
    /// Its API path (under `/v1/`).
    pub path: &'static str,
    /// Its JSON body, given the extracted value.
    pub body: fn(&str) -> Option<String>,
    /// Send the extracted value as the follow-up's `X-Vault-Token` (instead of the root token).
    pub as_token: bool,
}

/// One kind of request driven at every concurrency level.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Short name used in tables, JSON and the chart.
    pub name: &'static str,
    /// The HTTP method of request `n` sent by worker `worker`.
    pub method: fn(worker: usize, n: u64) -> &'static str,
    /// The API path (under `/v1/`) of that request.
    pub path: fn(worker: usize, n: u64) -> String,
    /// The JSON body of that request, if any.
    pub body: fn(worker: usize, n: u64) -> Option<String>,
    /// Requests sent once per server before measuring.
    pub setup: &'static [SetupStep],
    /// The workload targets the example plugin mounted at [`PLUGIN_NAME`] (skipped when the
    /// plugin binary is missing).
    pub needs_plugin: bool,
    /// The workload runs while a separate task reloads that plugin over and over (see
    /// [`crate::reload`]).
    pub under_reload: bool,
    /// One extra header on the (first) request, e.g. `X-Vault-Wrap-TTL`.
    pub header: Option<(&'static str, &'static str)>,
    /// The request sent after each answer, when the workload is a pair.
    pub follow: Option<Follow>,
    /// Measured with one `file` audit device enabled on both servers (see
    /// [`crate::audit`]); every other workload runs with none.
    pub audited: bool,
}

/// Name of the example KV plugin in both servers' catalogs, and its mount path.
pub const PLUGIN_NAME: &str = "kvbench";

fn no_body(_: usize, _: u64) -> Option<String> {
    None
}

fn get(_: usize, _: u64) -> &'static str {
    "GET"
}

fn post(_: usize, _: u64) -> &'static str {
    "POST"
}

/// Even requests write `key-<worker>-<n/2>`, odd ones read it back.
fn put_then_get(_: usize, n: u64) -> &'static str {
    if n.is_multiple_of(2) { "PUT" } else { "GET" }
}

fn plugin_key(worker: usize, n: u64) -> String {
    format!("{PLUGIN_NAME}/key-{worker}-{}", n / 2)
}

fn plugin_value(worker: usize, n: u64) -> Option<String> {
    n.is_multiple_of(2)
        .then(|| format!(r#"{{"worker":{worker},"n":{n},"value":"bench"}}"#))
}

/// `auth.client_token` of a token create answer.
fn created_token(answer: &serde_json::Value) -> Option<String> {
    answer["auth"]["client_token"].as_str().map(str::to_string)
}

/// `wrap_info.token` of a wrapped answer.
fn wrapping_token(answer: &serde_json::Value) -> Option<String> {
    answer["wrap_info"]["token"].as_str().map(str::to_string)
}

fn lease_id(answer: &serde_json::Value) -> Option<String> {
    answer["lease_id"]
        .as_str()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

fn no_follow_body(_: &str) -> Option<String> {
    None
}

/// The request that fills a server with live leases for the idle-memory measurement: a token
/// with a 32-day TTL, so its lease outlives the measurement.
pub const LEASE_FILL: Workload = Workload {
    name: "lease-fill",
    method: post,
    path: |_, _| "auth/token/create".into(),
    body: |_, _| Some(r#"{"policies":["default"],"ttl":"768h"}"#.into()),
    setup: &[],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// KV v2 read of one secret, the same for every worker.
pub const KV2_READ: Workload = Workload {
    name: "kv2-read",
    method: get,
    path: |_, _| "secret/data/bench-read".into(),
    body: no_body,
    setup: &[SetupStep {
        method: "POST",
        path: "secret/data/bench-read",
        body: r#"{"data":{"user":"bench","password":"correct horse battery staple"}}"#,
    }],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// KV v2 write, one key per worker.
pub const KV2_WRITE: Workload = Workload {
    name: "kv2-write",
    method: post,
    path: |worker, _| format!("secret/data/bench-write-{worker}"),
    body: |worker, n| Some(format!(r#"{{"data":{{"worker":{worker},"seq":{n}}}}}"#)),
    setup: &[],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// KV v2 read of one secret inside a namespace (`bench-ns/`, addressed by path prefix): the
/// twin of `kv2-read`, to show what resolving a namespace costs.
const KV2_READ_NS: Workload = Workload {
    name: "kv2-read-ns",
    path: |_, _| "bench-ns/secret/data/bench-read".into(),
    setup: &[
        SetupStep {
            method: "PUT",
            path: "sys/namespaces/bench-ns",
            body: "{}",
        },
        SetupStep {
            method: "POST",
            path: "bench-ns/sys/mounts/secret",
            body: r#"{"type":"kv","options":{"version":"2"}}"#,
        },
        SetupStep {
            method: "POST",
            path: "bench-ns/secret/data/bench-read",
            body: r#"{"data":{"user":"bench","password":"correct horse battery staple"}}"#,
        },
    ],
    ..KV2_READ
};

/// `GET sys/health`: also the floor's workload (see [`crate::floor`]).
pub const SYS_HEALTH: Workload = Workload {
    name: "sys-health",
    method: get,
    path: |_, _| "sys/health".into(),
    body: no_body,
    setup: &[],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// userpass login of one user (bcrypt at OpenBao's cost dominates; issue 15). Each login
/// mints a token with a one-hour lease.
const USERPASS_LOGIN: Workload = Workload {
    name: "userpass-login",
    method: post,
    path: |_, _| "auth/userpass/login/bench".into(),
    body: |_, _| Some(r#"{"password":"correct horse battery staple"}"#.into()),
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/auth/userpass",
            body: r#"{"type":"userpass"}"#,
        },
        SetupStep {
            method: "POST",
            path: "auth/userpass/users/bench",
            body: r#"{"password":"correct horse battery staple","token_policies":"default","token_ttl":"1h"}"#,
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// AppRole login with a role ID and a (custom) secret ID without a use limit (issue 15).
const APPROLE_LOGIN: Workload = Workload {
    name: "approle-login",
    method: post,
    path: |_, _| "auth/approle/login".into(),
    body: |_, _| Some(r#"{"role_id":"bench-role-id","secret_id":"bench-secret-id"}"#.into()),
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/auth/approle",
            body: r#"{"type":"approle"}"#,
        },
        SetupStep {
            method: "POST",
            path: "auth/approle/role/bench",
            body: r#"{"role_id":"bench-role-id","token_policies":"default","token_ttl":"1h"}"#,
        },
        SetupStep {
            method: "POST",
            path: "auth/approle/role/bench/custom-secret-id",
            body: r#"{"secret_id":"bench-secret-id"}"#,
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// Reading one entity by name from the identity store (issue 16): the in-memory index.
const IDENTITY_ENTITY_READ: Workload = Workload {
    name: "identity-entity-read",
    method: get,
    path: |_, _| "identity/entity/name/bench".into(),
    body: no_body,
    setup: &[SetupStep {
        method: "POST",
        path: "identity/entity",
        body: r#"{"name":"bench","policies":["default"],"metadata":{"team":"bench"}}"#,
    }],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// An AppRole login (which finds the role's entity) and, with the token it gives, a signed
/// identity token (ES256, one template claim) for that entity (issue 16).
const OIDC_TOKEN: Workload = Workload {
    name: "approle-login-oidc-token",
    method: post,
    path: |_, _| "auth/approle-oidc/login".into(),
    body: |_, _| Some(r#"{"role_id":"oidc-role-id","secret_id":"oidc-secret-id"}"#.into()),
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/auth/approle-oidc",
            body: r#"{"type":"approle"}"#,
        },
        SetupStep {
            method: "POST",
            path: "sys/policies/acl/oidc-bench",
            body: r#"{"policy":"path \"identity/oidc/token/*\" { capabilities = [\"read\"] }"}"#,
        },
        SetupStep {
            method: "POST",
            path: "auth/approle-oidc/role/bench",
            body: r#"{"role_id":"oidc-role-id","token_policies":"default,oidc-bench","token_ttl":"1h"}"#,
        },
        SetupStep {
            method: "POST",
            path: "auth/approle-oidc/role/bench/custom-secret-id",
            body: r#"{"secret_id":"oidc-secret-id"}"#,
        },
        SetupStep {
            method: "POST",
            path: "identity/oidc/key/bench",
            body: r#"{"algorithm":"ES256","allowed_client_ids":"*"}"#,
        },
        SetupStep {
            method: "POST",
            path: "identity/oidc/role/bench",
            body: r#"{"key":"bench","template":"{\"name\":{{identity.entity.name}}}"}"#,
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: Some(Follow {
        extract: created_token,
        method: "GET",
        path: "identity/oidc/token/bench",
        body: |_| None,
        as_token: true,
    }),
    audited: false,
};

/// 64 bytes of `a`, base64: the transit workloads' plaintext and signed input.
const TRANSIT_INPUT: &str =
    "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYQ==";

/// [`TRANSIT_INPUT`] encrypted by the fixed AES-256 key of `fixtures/transit-aes256-restore.json`.
const TRANSIT_CIPHERTEXT: &str = "vault:v1:fJ5BXGhW/RPm6H1Nne14zaIe/JfLwOGX94asBxCoCcfEZZzg6PW8XFrxu3We2m46JtDRPmHv5mvNiwfWezL/ab+G0DZQDGaLDJLZy5uJYKoZi2UVH79gf7Ag9xU=";

/// [`TRANSIT_INPUT`] signed (SHA-256, ASN.1) by the fixed key of
/// `fixtures/transit-ecdsa-p256-restore.json`.
const TRANSIT_SIGNATURE: &str = "vault:v1:MEQCIGHo/O7FRHosF47hlxbbzslEs7feFyqfxgFyULcfDNOCAiBTx5Ab7BVDfl2W4VgXAJY1rF78+YnheyUflOphKFCz6g==";

/// Items in the batch encrypt workload.
pub const TRANSIT_BATCH_ITEMS: usize = 100;

/// `aes256-gcm96` encrypt of 64 bytes on its own mount.
const TRANSIT_ENCRYPT: Workload = Workload {
    name: "transit-encrypt",
    method: post,
    path: |_, _| "transit-enc/encrypt/bench".into(),
    body: |_, _| Some(format!(r#"{{"plaintext":"{TRANSIT_INPUT}"}}"#)),
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/mounts/transit-enc",
            body: r#"{"type":"transit"}"#,
        },
        SetupStep {
            method: "POST",
            path: "transit-enc/keys/bench",
            body: r#"{"type":"aes256-gcm96"}"#,
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// Decrypt of one fixed ciphertext under a key restored from a fixed backup.
const TRANSIT_DECRYPT: Workload = Workload {
    name: "transit-decrypt",
    method: post,
    path: |_, _| "transit-dec/decrypt/bench".into(),
    body: |_, _| Some(format!(r#"{{"ciphertext":"{TRANSIT_CIPHERTEXT}"}}"#)),
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/mounts/transit-dec",
            body: r#"{"type":"transit"}"#,
        },
        SetupStep {
            method: "POST",
            path: "transit-dec/restore/bench",
            body: include_str!("../fixtures/transit-aes256-restore.json"),
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// Ed25519 signature of 64 bytes.
const TRANSIT_SIGN_ED25519: Workload = Workload {
    name: "transit-sign-ed25519",
    method: post,
    path: |_, _| "transit-sign/sign/bench".into(),
    body: |_, _| Some(format!(r#"{{"input":"{TRANSIT_INPUT}"}}"#)),
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/mounts/transit-sign",
            body: r#"{"type":"transit"}"#,
        },
        SetupStep {
            method: "POST",
            path: "transit-sign/keys/bench",
            body: r#"{"type":"ed25519"}"#,
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// ECDSA P-256 verification of one fixed signature under a key restored from a fixed backup.
const TRANSIT_VERIFY_ECDSA: Workload = Workload {
    name: "transit-verify-ecdsa-p256",
    method: post,
    path: |_, _| "transit-verify/verify/bench".into(),
    body: |_, _| {
        Some(format!(
            r#"{{"input":"{TRANSIT_INPUT}","signature":"{TRANSIT_SIGNATURE}"}}"#
        ))
    },
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/mounts/transit-verify",
            body: r#"{"type":"transit"}"#,
        },
        SetupStep {
            method: "POST",
            path: "transit-verify/restore/bench",
            body: include_str!("../fixtures/transit-ecdsa-p256-restore.json"),
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// The batch encrypt body: [`TRANSIT_BATCH_ITEMS`] items of 64 bytes, built once.
fn transit_batch_body(_: usize, _: u64) -> Option<String> {
    static BODY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    Some(
        BODY.get_or_init(|| {
            let items: Vec<String> = (0..TRANSIT_BATCH_ITEMS)
                .map(|i| format!(r#"{{"plaintext":"{TRANSIT_INPUT}","reference":"{i}"}}"#))
                .collect();
            format!(r#"{{"batch_input":[{}]}}"#, items.join(","))
        })
        .clone(),
    )
}

/// One encrypt request carrying [`TRANSIT_BATCH_ITEMS`] plaintexts.
const TRANSIT_ENCRYPT_BATCH: Workload = Workload {
    name: "transit-encrypt-batch-100",
    method: post,
    path: |_, _| "transit-batch/encrypt/bench".into(),
    body: transit_batch_body,
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/mounts/transit-batch",
            body: r#"{"type":"transit"}"#,
        },
        SetupStep {
            method: "POST",
            path: "transit-batch/keys/bench",
            body: r#"{"type":"aes256-gcm96"}"#,
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// `pki issue` with a key of the role's type generated per request, on its own mount with an
/// EC P-256 root. RSA key generation is the expensive part of the rsa-2048 workload.
macro_rules! pki_issue {
    ($name:literal, $mount:literal, $key_type:literal, $bits:literal) => {
        Workload {
            name: $name,
            method: post,
            path: |_, _| concat!($mount, "/issue/bench").into(),
            body: |_, _| Some(r#"{"common_name":"bench.example.com"}"#.into()),
            setup: &[
                SetupStep {
                    method: "POST",
                    path: concat!("sys/mounts/", $mount),
                    body: r#"{"type":"pki"}"#,
                },
                SetupStep {
                    method: "POST",
                    path: concat!($mount, "/root/generate/internal"),
                    body: r#"{"common_name":"Bench Root","key_type":"ec","ttl":"700h"}"#,
                },
                SetupStep {
                    method: "POST",
                    path: concat!($mount, "/roles/bench"),
                    body: concat!(
                        r#"{"allowed_domains":"example.com","allow_subdomains":true,"ttl":"1h","no_store":true,"key_type":""#,
                        $key_type,
                        r#"","key_bits":"#,
                        $bits,
                        "}"
                    ),
                },
            ],
            needs_plugin: false,
            under_reload: false,
            header: None,
            follow: None,
            audited: false,
        }
    };
}

/// `pki/issue` of an EC P-256 leaf.
const PKI_ISSUE_EC256: Workload = pki_issue!("pki-issue-ec-256", "pki-ec", "ec", 256);

/// `pki/issue` of an RSA-2048 leaf.
const PKI_ISSUE_RSA2048: Workload = pki_issue!("pki-issue-rsa-2048", "pki-rsa", "rsa", 2048);

/// `database/creds/bench` against the machine's PostgreSQL (127.0.0.1:5432, the built-in
/// `postgresql-database-plugin` on both servers, 16 pooled connections), then
/// `sys/leases/revoke` of the lease it made: one `CREATE ROLE` and one `DROP ROLE` per pair,
/// so the database ends as it started. PostgreSQL's own cost for the two statements bounds both
/// servers (`bench/README.md` reports it, measured with pgbench).
const DATABASE_CREDS_REVOKE: Workload = Workload {
    name: "database-creds-revoke",
    method: get,
    path: |_, _| "database/creds/bench".into(),
    body: no_body,
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/mounts/database",
            body: r#"{"type":"database"}"#,
        },
        SetupStep {
            method: "POST",
            path: "database/config/bench",
            body: r#"{"plugin_name":"postgresql-database-plugin","connection_url":"postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable","username":"postgres","password":"bench","allowed_roles":"bench","max_open_connections":16}"#,
        },
        SetupStep {
            method: "POST",
            path: "database/roles/bench",
            body: r#"{"db_name":"bench","creation_statements":["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"],"revocation_statements":["DROP ROLE IF EXISTS \"{{name}}\";"],"default_ttl":"1h"}"#,
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: Some(Follow {
        extract: lease_id,
        method: "PUT",
        path: "sys/leases/revoke",
        body: |lease| Some(serde_json::json!({ "lease_id": lease }).to_string()),
        as_token: false,
    }),
    audited: false,
};

/// Every workload, in report order. `plugin-mount` is the baseline of `plugin-mount-reload`:
/// the same requests without reloads; `kv2-read` and `kv2-write` are the baselines of their
/// `-audited` twins (the same requests with one `file` audit device enabled).
pub const WORKLOADS: &[Workload] = &[
    KV2_READ,
    KV2_WRITE,
    Workload {
        name: "kv2-read-audited",
        audited: true,
        ..KV2_READ
    },
    Workload {
        name: "kv2-write-audited",
        audited: true,
        ..KV2_WRITE
    },
    KV2_READ_NS,
    Workload {
        name: "token-lookup-self",
        method: get,
        path: |_, _| "auth/token/lookup-self".into(),
        body: no_body,
        setup: &[],
        needs_plugin: false,
        under_reload: false,
        header: None,
        follow: None,
        audited: false,
    },
    Workload {
        name: "token-create",
        method: post,
        path: |_, _| "auth/token/create".into(),
        body: |_, _| Some(r#"{"policies":["default"],"ttl":"1h"}"#.into()),
        setup: &[],
        needs_plugin: false,
        under_reload: false,
        header: None,
        follow: None,
        audited: false,
    },
    SYS_HEALTH,
    USERPASS_LOGIN,
    APPROLE_LOGIN,
    JWT_LOGIN,
    IDENTITY_ENTITY_READ,
    OIDC_TOKEN,
    TRANSIT_ENCRYPT,
    TRANSIT_DECRYPT,
    TRANSIT_SIGN_ED25519,
    TRANSIT_VERIFY_ECDSA,
    TRANSIT_ENCRYPT_BATCH,
    PKI_ISSUE_EC256,
    PKI_ISSUE_RSA2048,
    DATABASE_CREDS_REVOKE,
    Workload {
        name: "token-create-revoke",
        method: post,
        path: |_, _| "auth/token/create".into(),
        body: |_, _| Some(r#"{"policies":["default"],"ttl":"1h"}"#.into()),
        setup: &[],
        needs_plugin: false,
        under_reload: false,
        header: None,
        follow: Some(Follow {
            extract: created_token,
            method: "POST",
            path: "auth/token/revoke",
            body: |token| Some(serde_json::json!({ "token": token }).to_string()),
            as_token: false,
        }),
        audited: false,
    },
    Workload {
        name: "wrap-unwrap",
        method: get,
        path: |_, _| "secret/data/bench-read".into(),
        body: no_body,
        setup: &[SetupStep {
            method: "POST",
            path: "secret/data/bench-read",
            body: r#"{"data":{"user":"bench","password":"correct horse battery staple"}}"#,
        }],
        needs_plugin: false,
        under_reload: false,
        header: Some(("X-Vault-Wrap-TTL", "5m")),
        follow: Some(Follow {
            extract: wrapping_token,
            method: "POST",
            path: "sys/wrapping/unwrap",
            body: no_follow_body,
            as_token: true,
        }),
        audited: false,
    },
    Workload {
        name: "plugin-mount",
        method: put_then_get,
        path: plugin_key,
        body: plugin_value,
        setup: &[],
        needs_plugin: true,
        under_reload: false,
        header: None,
        follow: None,
        audited: false,
    },
    Workload {
        name: "plugin-mount-reload",
        method: put_then_get,
        path: plugin_key,
        body: plugin_value,
        setup: &[],
        needs_plugin: true,
        under_reload: true,
        header: None,
        follow: None,
        audited: false,
    },
];

/// JWT login (issue 20): one ES256 JWT, signed once (far-future `exp`, `iat` in the past),
/// checked against a public key given in `jwt_validation_pubkeys` (no JWKS fetch) and a role
/// binding its audience. Each login mints a token with a one-hour lease.
pub const JWT_LOGIN: Workload = Workload {
    name: "jwt-login",
    method: post,
    path: |_, _| "auth/jwt/login".into(),
    body: |_, _| Some(format!(r#"{{"role":"bench","jwt":"{JWT_LOGIN_TOKEN}"}}"#)),
    setup: &[
        SetupStep {
            method: "POST",
            path: "sys/auth/jwt",
            body: r#"{"type":"jwt"}"#,
        },
        SetupStep {
            method: "POST",
            path: "auth/jwt/config",
            body: r#"{"bound_issuer":"arca-bench","jwt_validation_pubkeys":["-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEHSFPWj3gLGkk2Y+zPZkyTb+TYZ9f\ndx3gXPhwUmsDo95DV+4AbzSSTN8R2um1gyVDF340JhYF4lWreWVHLwq+1g==\n-----END PUBLIC KEY-----"]}"#,
        },
        SetupStep {
            method: "POST",
            path: "auth/jwt/role/bench",
            body: r#"{"role_type":"jwt","bound_audiences":"bench","user_claim":"sub","token_policies":"default","token_ttl":"1h"}"#,
        },
    ],
    needs_plugin: false,
    under_reload: false,
    header: None,
    follow: None,
    audited: false,
};

/// The JWT every `jwt-login` request sends: ES256 over `{"iss":"arca-bench",
/// "sub":"bench-runner","aud":"bench","iat":1700000000,"exp":4102444800}`, by the key whose
/// public half the setup configures (the private half was discarded after signing).
const JWT_LOGIN_TOKEN: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhcmNhLWJlbmNoIiwic3ViIjoiYmVuY2gtcnVubmVyIiwiYXVkIjoiYmVuY2giLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6NDEwMjQ0NDgwMH0.XhwVr5GQuVt0-oUh1mftjRpSFx2tYVO7GFnnLdgvnyOWsm-ny2ML8XDNzGd7oIsXj1r8EjdIVPQMqbZRV997iQ";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_bodies_are_json() {
        let mut names: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WORKLOADS.len());
        for w in WORKLOADS {
            if let Some(b) = (w.body)(3, 7) {
                let v: serde_json::Value = serde_json::from_str(&b).unwrap();
                assert!(v.is_object(), "{}", w.name);
            }
            for s in w.setup {
                serde_json::from_str::<serde_json::Value>(s.body).unwrap();
            }
        }
        assert_eq!((WORKLOADS[1].path)(5, 0), "secret/data/bench-write-5");
        assert_eq!(WORKLOADS.iter().filter(|w| w.under_reload).count(), 1);
        assert!(WORKLOADS.iter().all(|w| w.needs_plugin || !w.under_reload));
    }

    #[test]
    fn pairs_follow_up_with_what_the_first_answer_gave() {
        let pair = |name: &str| WORKLOADS.iter().find(|w| w.name == name).unwrap();
        let revoke = pair("token-create-revoke").follow.unwrap();
        let created = serde_json::json!({"auth": {"client_token": "s.abc"}});
        assert_eq!((revoke.extract)(&created).as_deref(), Some("s.abc"));
        assert_eq!(
            (revoke.body)("s.abc").as_deref(),
            Some(r#"{"token":"s.abc"}"#)
        );
        assert!(!revoke.as_token);
        let wrap = pair("wrap-unwrap");
        assert_eq!(wrap.header, Some(("X-Vault-Wrap-TTL", "5m")));
        let unwrap = wrap.follow.unwrap();
        let wrapped = serde_json::json!({"data": null, "wrap_info": {"token": "s.w"}});
        assert_eq!((unwrap.extract)(&wrapped).as_deref(), Some("s.w"));
        assert_eq!((unwrap.extract)(&serde_json::json!({"data": {}})), None);
        assert!(unwrap.as_token);
        assert_eq!(unwrap.path, "sys/wrapping/unwrap");
    }

    #[test]
    fn audited_workloads_send_their_twins_requests() {
        let find = |name: &str| WORKLOADS.iter().find(|w| w.name == name).unwrap();
        let audited: Vec<_> = WORKLOADS.iter().filter(|w| w.audited).collect();
        assert_eq!(audited.len(), 2);
        for w in audited {
            let twin = find(w.name.strip_suffix("-audited").unwrap());
            assert!(!twin.audited);
            for (worker, n) in [(0, 0), (3, 7)] {
                assert_eq!((w.method)(worker, n), (twin.method)(worker, n));
                assert_eq!((w.path)(worker, n), (twin.path)(worker, n));
                assert_eq!((w.body)(worker, n), (twin.body)(worker, n));
            }
            assert_eq!(w.setup.len(), twin.setup.len());
            assert!(!w.needs_plugin && w.follow.is_none() && w.header.is_none());
        }
        assert_eq!(
            (find("kv2-read-audited").path)(1, 1),
            "secret/data/bench-read"
        );
    }

    #[test]
    fn reload_workload_writes_then_reads_the_same_key() {
        let w = WORKLOADS
            .iter()
            .find(|w| w.name == "plugin-mount-reload")
            .unwrap();
        assert!(w.under_reload);
        assert_eq!((w.method)(3, 0), "PUT");
        assert_eq!((w.method)(3, 1), "GET");
        assert_eq!((w.path)(3, 0), "kvbench/key-3-0");
        assert_eq!((w.path)(3, 1), "kvbench/key-3-0");
        assert_eq!((w.path)(3, 2), "kvbench/key-3-1");
        assert!((w.body)(3, 0).is_some());
        assert!((w.body)(3, 1).is_none());
    }
}
