//! The `jwt` / `oidc` auth method, as OpenBao 2.7.2 serves it (one factory for both mount
//! types): an operator configures where signing keys come from (`config`: PEM keys, a JWKS
//! URL or OIDC discovery) and roles (`role/<name>`); a machine logs in with a signed JWT at
//! `login`, a person through the OIDC browser flow (`oidc/auth_url`, `oidc/callback`).
//!
//! Layout: [`config`] and [`role`] are the management endpoints; [`keys`] parses verification
//! keys, [`keystore`] caches remote key sets and checks signatures, [`token`] is the JWT
//! validation (signature, algorithm, registered claims, time), [`claims`] the claim lookups
//! and bound-claim matching, [`login`] the JWT login and renewal, [`oidc`] the browser flow,
//! [`fetch`] the HTTP calls to the identity provider.

mod cache;
mod claims;
mod config;
mod fetch;
mod keys;
mod keystore;
mod login;
mod oidc;
mod policy_templates;
mod role;
mod token;

use std::future::Future;
use std::sync::Arc;

use arca_sdk::framework::{
    Field, FieldData, FieldType, FrameworkBackend, OpHandler, PathDef, existence,
    generic_name_regex, handler,
};
use arca_sdk::token_util::{deprecation_text, token_fields};
use arca_sdk::{
    Backend, BackendConfig, BackendType, Factory, LogicalError, Operation, Request, Response,
    SpecialPaths, SystemView,
};
use futures::FutureExt;

/// Builds a mount of this method (`jwt` or `oidc`).
pub fn factory() -> Factory {
    Arc::new(|config: BackendConfig| {
        async move { Ok(Arc::new(backend(config.system)) as Arc<dyn Backend>) }.boxed()
    })
}

/// What the handlers of one mount share.
pub(crate) struct Shared {
    /// Makes each read-modify-write of a role atomic.
    write_lock: tokio::sync::Mutex<()>,
    /// Fetched key sets and discovery document.
    keys: keystore::KeyStore,
    /// Started OIDC logins.
    pending: oidc::PendingLogins,
    /// The mount's limits.
    system: Arc<dyn SystemView>,
    /// The decoded config and roles logins read.
    cache: cache::LoginCache,
}

fn shared_handler<F, Fut>(shared: &Arc<Shared>, f: F) -> OpHandler
where
    F: Fn(Arc<Shared>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let shared = Arc::clone(shared);
    handler(move |req, d| f(Arc::clone(&shared), req, d))
}

const BACKEND_HELP: &str =
    "The JWT backend plugin allows authentication using JWTs (including OIDC).";

/// The backend of one mount.
fn backend(system: Arc<dyn SystemView>) -> FrameworkBackend {
    let shared = Arc::new(Shared {
        write_lock: tokio::sync::Mutex::new(()),
        keys: keystore::KeyStore::default(),
        pending: oidc::PendingLogins::default(),
        system,
        cache: cache::LoginCache::default(),
    });
    // Another node changed this mount's storage: the cached config and roles may be stale.
    let cache_owner = Arc::clone(&shared);
    FrameworkBackend::new(BackendType::Credential, BACKEND_HELP)
        .special_paths(SpecialPaths {
            unauthenticated: vec![
                "login".into(),
                "oidc/auth_url".into(),
                "oidc/callback".into(),
                "oidc/poll".into(),
            ],
            ..SpecialPaths::default()
        })
        .path(login_path(&shared))
        .path(role_list_path())
        .path(role_path(&shared))
        .path(config_path(&shared))
        .path(callback_path(&shared))
        .path(auth_url_path(&shared))
        .auth_renew(handler(login::renew))
        .on_invalidate(move |_key| cache_owner.cache.forget())
}

fn s(name: &str, kind: FieldType, description: &str) -> Field {
    Field::new(name, kind, description)
}

fn login_path(shared: &Arc<Shared>) -> PathDef {
    PathDef::new("login$")
        .field(s(
            "role",
            FieldType::LowerCaseString,
            "The role to log in against.",
        ))
        .field(s("jwt", FieldType::String, "The signed JWT to validate."))
        .op(Operation::Update, shared_handler(shared, login::login))
        // As OpenBao: the look-ahead is the whole login (the alias only comes from a
        // verified token), and the role resolves for role-based quotas.
        .op(
            Operation::AliasLookahead,
            shared_handler(shared, login::login),
        )
        .op(
            Operation::ResolveRole,
            shared_handler(shared, login::resolve_role),
        )
        .help(
            "Authenticates to OpenBao using a JWT (or OIDC) token.",
            "Authenticates JWTs.",
        )
}

fn role_list_path() -> PathDef {
    PathDef::new("role/?")
        .field(s(
            "after",
            FieldType::String,
            "Optional entry to list begin listing after, not required to exist.",
        ))
        .field(s(
            "limit",
            FieldType::Int,
            "Optional number of entries to return; defaults to all entries.",
        ))
        .op(Operation::List, handler(role::list))
        .help(
            "Lists all the roles registered with the backend.",
            "The list will contain the names of the roles.",
        )
}

fn role_path(shared: &Arc<Shared>) -> PathDef {
    use FieldType::{Any, Bool, CommaStringSlice, DurationSecond, Int, KvPairs, Map, String};
    let fields = [
        s("name", FieldType::LowerCaseString, "Name of the role."),
        s(
            "role_type",
            String,
            "Type of the role, either 'jwt' or 'oidc'.",
        ),
        s(
            "policies",
            CommaStringSlice,
            &deprecation_text("token_policies"),
        ),
        s("num_uses", Int, &deprecation_text("token_num_uses")),
        s("ttl", DurationSecond, &deprecation_text("token_ttl")),
        s(
            "max_ttl",
            DurationSecond,
            &deprecation_text("token_max_ttl"),
        ),
        s("period", DurationSecond, &deprecation_text("token_period")),
        s(
            "bound_cidrs",
            CommaStringSlice,
            &deprecation_text("token_bound_cidrs"),
        ),
        s(
            "expiration_leeway",
            Any,
            "Duration in seconds of leeway when validating expiration of a token to account for clock skew.",
        ),
        s(
            "not_before_leeway",
            Any,
            "Duration in seconds of leeway when validating not before values of a token to account for clock skew.",
        ),
        s(
            "clock_skew_leeway",
            Any,
            "Duration in seconds of leeway when validating all claims to account for clock skew.",
        ),
        s(
            "bound_subject",
            String,
            "The 'sub' claim that is valid for login. Optional.",
        ),
        s(
            "bound_audiences",
            CommaStringSlice,
            "Comma-separated list of 'aud' claims that are valid for login; any match is sufficient",
        ),
        s(
            "bound_claims_type",
            String,
            "How to interpret values in the map of claims/values (which must match for login): allowed values are 'string' or 'glob'",
        ),
        s(
            "bound_claims",
            Map,
            "Map of claims/values which must match for login",
        ),
        s(
            "claim_mappings",
            KvPairs,
            "Mappings of claims (key) that will be copied to a metadata field (value)",
        ),
        s(
            "oauth2_metadata",
            CommaStringSlice,
            "Comma-separated list of one or more of access_token, id_token, refresh_token to return in metadata",
        ),
        s(
            "user_claim",
            String,
            "The claim to use for the Identity entity alias name",
        ),
        s(
            "user_claim_json_pointer",
            Bool,
            "If true, the user_claim value will use JSON pointer syntax for referencing claims.",
        ),
        s(
            "groups_claim",
            String,
            "The claim to use for the Identity group alias names",
        ),
        s(
            "oidc_scopes",
            CommaStringSlice,
            "Comma-separated list of OIDC scopes",
        ),
        s(
            "allowed_redirect_uris",
            CommaStringSlice,
            "Comma-separated list of allowed values for redirect_uri",
        ),
        s(
            "callback_mode",
            String,
            "OIDC callback mode from Authorization Server: allowed values are 'device' for device flow, 'direct' to server, or 'client', default 'client'",
        ),
        s(
            "poll_interval",
            Int,
            "poll interval in seconds for device and direct flows",
        ),
        s(
            "verbose_oidc_logging",
            Bool,
            "Log received OIDC tokens and claims when debug-level logging is active.",
        ),
        s(
            "max_age",
            DurationSecond,
            "Specifies the allowable elapsed time in seconds since the last time the user was actively authenticated.",
        ),
        s(
            "token_policies_template_claims",
            Bool,
            "When enabled, allows token_policies to be templated based upon claims in the JWT or OIDC ID token.",
        ),
        s(
            "oidc_disable_confirmation",
            Bool,
            "If set to true, disables the interactive confirmation page shown during OIDC direct callback mode login.",
        ),
    ];
    let mut p = PathDef::new(format!("role/{}", generic_name_regex("name")));
    for f in fields.into_iter().chain(token_fields()) {
        p = p.field(f);
    }
    p.op(Operation::Read, shared_handler(shared, role::read))
        .op(Operation::Create, shared_handler(shared, role::write))
        .op(Operation::Update, shared_handler(shared, role::write))
        .op(Operation::Delete, shared_handler(shared, role::delete))
        .existence(existence(role::exists))
        .help(
            "Register an role with the backend.",
            "A role is required to authenticate with this backend. The role binds JWT token \
             information with token policies and settings.",
        )
}

fn config_path(shared: &Arc<Shared>) -> PathDef {
    use FieldType::{Bool, CommaStringSlice, Map, String};
    let fields = [
        s(
            "oidc_discovery_url",
            String,
            "The base URL of the OIDC Discovery URL without \".well-known/openid-configuration\" component.",
        ),
        s(
            "oidc_discovery_ca_pem",
            String,
            "The CA certificate or chain of certificates, in PEM format, to use to validate connections to the OIDC Discovery URL.",
        ),
        s(
            "oidc_client_id",
            String,
            "The OAuth Client ID configured with your OIDC provider.",
        ),
        s(
            "oidc_client_secret",
            String,
            "The OAuth Client Secret configured with your OIDC provider.",
        ),
        s(
            "oidc_response_mode",
            String,
            "The response mode to be used in the OAuth2 request. Allowed values are 'query' and 'form_post'.",
        ),
        s(
            "oidc_response_types",
            CommaStringSlice,
            "The response types to request. Allowed values are 'code' and 'id_token'. Defaults to 'code'.",
        ),
        s(
            "jwks_url",
            String,
            "JWKS URL to use to authenticate signatures.",
        ),
        s(
            "jwks_ca_pem",
            String,
            "The CA certificate or chain of certificates, in PEM format, to use to validate connections to the JWKS URL.",
        ),
        s(
            "default_role",
            FieldType::LowerCaseString,
            "The default role to use if none is provided during login.",
        ),
        s(
            "jwt_validation_pubkeys",
            CommaStringSlice,
            "A list of PEM-encoded public keys to use to authenticate signatures locally.",
        ),
        s(
            "jwt_supported_algs",
            CommaStringSlice,
            "A list of supported signing algorithms. Defaults to RS256.",
        ),
        s(
            "bound_issuer",
            String,
            "The value against which to match the 'iss' claim in a JWT. Optional.",
        ),
        s(
            "provider_config",
            Map,
            "Provider-specific configuration. Optional.",
        ),
        s(
            "override_allowed_server_names",
            CommaStringSlice,
            "A list of hostnames to accept when performing TLS validation.",
        ),
        s(
            "namespace_in_state",
            Bool,
            "Pass namespace in the OIDC state parameter instead of as a separate query parameter.",
        ),
        s(
            "skip_jwks_validation",
            Bool,
            "When true and oidc_discovery_url or jwks_url are specified, if the connection fails to load, a warning will be issued.",
        ),
    ];
    let mut p = PathDef::new("config");
    for f in fields {
        p = p.field(f);
    }
    p.op(Operation::Read, shared_handler(shared, config::read))
        .op(Operation::Update, shared_handler(shared, config::write))
        .help(
            "Configures the JWT authentication backend.",
            "The JWT authentication backend validates JWTs (or OIDC) using the configured \
             credentials.",
        )
}

fn callback_path(shared: &Arc<Shared>) -> PathDef {
    let mut p = PathDef::new("oidc/callback");
    for name in [
        "state",
        "code",
        "id_token",
        "client_nonce",
        "error",
        "error_description",
        "error_uri",
        "confirmation",
    ] {
        p = p.field(s(name, FieldType::String, ""));
    }
    p.op(Operation::Read, shared_handler(shared, oidc::callback))
        .help("Callback endpoint to complete an OIDC login.", "")
}

fn auth_url_path(shared: &Arc<Shared>) -> PathDef {
    PathDef::new("oidc/auth_url")
        .field(s(
            "role",
            FieldType::LowerCaseString,
            "The role to issue an OIDC authorization URL against.",
        ))
        .field(s(
            "redirect_uri",
            FieldType::String,
            "The OAuth redirect_uri to use in the authorization URL.",
        ))
        .field(s(
            "client_nonce",
            FieldType::String,
            "Client-provided nonce that must match during callback, if present.",
        ))
        .op(Operation::Update, shared_handler(shared, oidc::auth_url))
        .help(
            "Request an authorization URL to start an OIDC login flow.",
            "",
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use arca_sdk::Storage;
    use arca_sdk::storage::MemoryStorage;
    use arca_sdk::system_view::StaticSystemView;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use base64::Engine;
    use serde_json::{Value, json};

    struct Env {
        backend: FrameworkBackend,
        storage: Arc<MemoryStorage>,
        pkcs8: Vec<u8>,
    }

    impl Env {
        async fn new() -> Env {
            let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
            let pkcs8 = kp.to_pkcs8v1().unwrap().as_ref().to_vec();
            let spki = kp.public_key().as_der().unwrap();
            let pem = format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
                base64::engine::general_purpose::STANDARD.encode(spki.as_ref())
            );
            let e = Env {
                backend: backend(Arc::new(StaticSystemView::default())),
                storage: Arc::new(MemoryStorage::new()),
                pkcs8,
            };
            let cfg = json!({"jwt_validation_pubkeys": [pem], "default_role": "ci"});
            e.call(Operation::Update, "config", cfg).await.unwrap();
            let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "alice"});
            e.call(Operation::Create, "role/ci", role).await.unwrap();
            e
        }

        async fn call(
            &self,
            op: Operation,
            path: &str,
            data: Value,
        ) -> Result<Option<Response>, LogicalError> {
            let Value::Object(data) = data else {
                panic!("object");
            };
            let mut req = Request::new(op, path).with_data(data);
            req.storage = Some(self.storage.clone() as Arc<dyn Storage>);
            req.mount_point = "auth/jwt/".into();
            self.backend.handle_request(req).await
        }

        fn jwt(&self, sub: &str) -> String {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let claims = json!({"sub": sub, "iat": now, "exp": now + 60});
            let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            let key = jsonwebtoken::EncodingKey::from_ec_der(&self.pkcs8);
            jsonwebtoken::encode(&header, &claims, &key).unwrap()
        }
    }

    fn error_text(e: LogicalError) -> String {
        e.to_string()
    }

    #[tokio::test]
    async fn the_alias_lookahead_is_the_whole_login() {
        let e = Env::new().await;
        let ahead = e
            .call(
                Operation::AliasLookahead,
                "login",
                json!({"role": "ci", "jwt": e.jwt("alice")}),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ahead.auth.unwrap().alias.unwrap().name, "alice");
        // The token is verified before any alias is named.
        let refused = e
            .call(
                Operation::AliasLookahead,
                "login",
                json!({"role": "ci", "jwt": e.jwt("mallory")}),
            )
            .await
            .unwrap_err();
        assert!(
            error_text(refused).contains("error validating token: invalid subject (sub) claim")
        );
        let missing = e
            .call(Operation::AliasLookahead, "login", json!({"role": "ci"}))
            .await
            .unwrap_err();
        assert!(error_text(missing).contains("missing token"));
    }

    #[tokio::test]
    async fn resolve_role_names_the_role_or_the_default() {
        let e = Env::new().await;
        for body in [json!({"role": "CI"}), json!({})] {
            let r = e
                .call(Operation::ResolveRole, "login", body)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(r.data.unwrap()["role"], "ci");
        }
        let unknown = e
            .call(Operation::ResolveRole, "login", json!({"role": "zz"}))
            .await
            .unwrap_err();
        assert!(error_text(unknown).contains("role \"zz\" could not be found"));
    }
    /// The cached role and config never outlive a change: a role update or delete, a config
    /// update, and (for a change another node made straight in storage) the core's
    /// `invalidate` are each seen by the very next login.
    #[tokio::test]
    async fn logins_see_every_change_of_role_and_config() {
        let e = Env::new().await;
        let login = |sub: &str| {
            let body = json!({"role": "ci", "jwt": e.jwt(sub)});
            e.call(Operation::Update, "login", body)
        };
        assert!(login("alice").await.is_ok());
        assert!(login("bob").await.is_err());
        // Through the API.
        let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "bob"});
        e.call(Operation::Update, "role/ci", role).await.unwrap();
        assert!(login("bob").await.is_ok());
        assert!(login("alice").await.is_err());
        e.call(Operation::Delete, "role/ci", json!({}))
            .await
            .unwrap();
        let gone = error_text(login("bob").await.unwrap_err());
        assert!(gone.contains("role \"ci\" could not be found"), "{gone}");
        let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_subject": "bob"});
        e.call(Operation::Create, "role/ci", role).await.unwrap();
        assert!(login("bob").await.is_ok());
        let read = e.call(Operation::Read, "config", json!({})).await.unwrap();
        let pubkeys = read.unwrap().data.unwrap()["jwt_validation_pubkeys"].clone();
        let cfg = |issuer: &str| json!({"jwt_validation_pubkeys": pubkeys, "default_role": "ci", "bound_issuer": issuer});
        e.call(Operation::Update, "config", cfg("someone-else"))
            .await
            .unwrap();
        let refused = error_text(login("bob").await.unwrap_err());
        assert!(refused.contains("issuer"), "{refused}");
        e.call(Operation::Update, "config", cfg("")).await.unwrap();
        assert!(login("bob").await.is_ok());
        // Straight in storage, as another node's write arrives: seen after `invalidate`.
        let key_of = |name: &str| format!("role/{name}");
        let mut stored: Value =
            serde_json::from_slice(&e.storage.get(&key_of("ci")).await.unwrap().unwrap().value)
                .unwrap();
        stored["bound_subject"] = json!("carol");
        e.storage
            .put(arca_sdk::StorageEntry::new(
                key_of("ci"),
                serde_json::to_vec(&stored).unwrap(),
            ))
            .await
            .unwrap();
        e.backend.invalidate("role/ci").await;
        let refused = error_text(login("bob").await.unwrap_err());
        assert!(refused.contains("invalid subject (sub) claim"), "{refused}");
        assert!(login("carol").await.is_ok());
    }
}
