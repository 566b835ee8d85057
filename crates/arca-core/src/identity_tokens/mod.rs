//! Identity tokens, as OpenBao 2.7.2 serves them under `identity/oidc/`: the issuer
//! (`oidc/config`), named signing keys that rotate (`oidc/key/…`), roles that say which key
//! signs and which claims a template adds (`oidc/role/…`), the signed JWT itself
//! (`oidc/token/<role>`), its introspection, and the unauthenticated discovery document and
//! key set (`oidc/.well-known/…`).
//!
//! Layout: [`keys`] generates keys and signs and checks JWS; [`named_keys`] the key endpoints,
//! rotation and expiry of old public keys; [`roles`] the role endpoints; [`tokens`] the token,
//! introspection and the well-known documents. Everything lives in the identity mount's
//! storage under OpenBao's keys (`oidc-config`, `oidc_tokens/…`). Rotation is done when keys are
//! next used (token, key set, introspection), not by a timer.

mod assignments;
mod clients;
mod keys;
mod named_keys;
mod provider_flow;
mod providers;
mod roles;
mod scopes;
mod tokens;

use std::sync::{Arc, OnceLock};

use arca_sdk::framework::{
    Field, FieldData, FieldType, OpHandler, PathDef, existence, generic_name_regex, handler,
};
use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::json;

use crate::identity_template::{TemplateEntity, TemplateGroup};

/// What identity tokens need to know about an entity: the template data and whether it is
/// disabled.
#[derive(Debug, Clone, Default)]
pub(crate) struct EntityView {
    /// The entity as templates see it.
    pub entity: TemplateEntity,
    /// The groups it is in, directly and through nested groups.
    pub groups: Vec<TemplateGroup>,
    /// Whether the entity is disabled.
    pub disabled: bool,
}

/// Where identity tokens look entities up (the identity store).
pub(crate) trait EntitySource: Send + Sync {
    /// The entity `id`, or `None` when there is no such entity.
    fn entity_view(&self, id: &str) -> Option<EntityView>;
}

/// The state the `identity/oidc/` handlers share.
pub(crate) struct IdentityTokens {
    /// The server's `api_addr`, the issuer unless `oidc/config` sets one.
    api_addr: Option<String>,
    /// Serialises every change to keys and roles (OpenBao's `oidcLock`).
    lock: tokio::sync::Mutex<()>,
    /// The identity store, once it is there.
    entities: OnceLock<Arc<dyn EntitySource>>,
    /// Per namespace ID: when key upkeep is next due (Unix seconds; absent: now). Keeps the
    /// storage scan of every key off the path of each token.
    next_upkeep: parking_lot::Mutex<std::collections::HashMap<String, i64>>,
    /// The token store: the provider's access tokens are batch tokens.
    tokens: Arc<crate::token_store::TokenStore>,
    /// Authorization codes waiting to be redeemed, by namespace ID and code (in memory, as
    /// OpenBao keeps them; a restart forgets them).
    codes: parking_lot::Mutex<std::collections::HashMap<(String, String), provider_flow::AuthCode>>,
    /// Per namespace ID and client ID: the name of the client last found with it (OpenBao's
    /// memdb index of clients), so the provider's endpoints read one record, not every
    /// client. A hint only: the record read is checked to still carry the ID.
    client_names: parking_lot::Mutex<std::collections::HashMap<(String, String), String>>,
}

impl IdentityTokens {
    /// Identity tokens issued under `api_addr` (unless `oidc/config` names an issuer).
    pub(crate) fn new(
        api_addr: Option<String>,
        tokens: Arc<crate::token_store::TokenStore>,
    ) -> Arc<IdentityTokens> {
        Arc::new(IdentityTokens {
            api_addr,
            tokens,
            codes: parking_lot::Mutex::new(std::collections::HashMap::new()),
            client_names: parking_lot::Mutex::new(std::collections::HashMap::new()),
            lock: tokio::sync::Mutex::new(()),
            entities: OnceLock::new(),
            next_upkeep: parking_lot::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Connects the identity store (once).
    pub(crate) fn set_entities(&self, source: Arc<dyn EntitySource>) {
        let _ = self.entities.set(source);
    }

    /// Runs the key upkeep of the request's namespace when it is due; says when it is next
    /// due.
    async fn upkeep_if_due(&self, req: &Request) -> Result<i64, LogicalError> {
        let now = now_unix();
        if let Some(&next) = self.next_upkeep.lock().get(&req.namespace_id)
            && next > now
        {
            return Ok(next);
        }
        let _guard = self.lock.lock().await;
        let next = named_keys::upkeep(req.storage()?.as_ref()).await?;
        self.next_upkeep
            .lock()
            .insert(req.namespace_id.clone(), next);
        Ok(next)
    }

    /// Keeps an authorization code for redemption (dropping expired ones).
    fn put_code(&self, namespace_id: &str, code: &str, entry: provider_flow::AuthCode) {
        let now = now_unix();
        let mut codes = self.codes.lock();
        codes.retain(|_, c| c.expires_at > now);
        codes.insert((namespace_id.to_string(), code.to_string()), entry);
    }

    /// Takes an authorization code out (it can be redeemed once), if it is still valid.
    fn take_code(&self, namespace_id: &str, code: &str) -> Option<provider_flow::AuthCode> {
        self.codes
            .lock()
            .remove(&(namespace_id.to_string(), code.to_string()))
            .filter(|c| c.expires_at > now_unix())
    }

    /// Mints a token for the provider (an access token).
    async fn create_token(
        &self,
        entry: crate::token_store::TokenEntry,
    ) -> Result<zeroize::Zeroizing<String>, LogicalError> {
        Ok(self.tokens.create(entry, None).await?.0)
    }

    /// The live entry of `token`, if any.
    async fn token_entry(
        &self,
        token: &str,
    ) -> Result<Option<Arc<crate::token_store::TokenEntry>>, LogicalError> {
        self.tokens.lookup(token).await
    }

    /// Keys changed in the request's namespace: the next use runs the upkeep.
    fn keys_changed(&self, req: &Request) {
        self.next_upkeep.lock().remove(&req.namespace_id);
    }

    fn entity(&self, id: &str) -> Option<EntityView> {
        self.entities.get().and_then(|s| s.entity_view(id))
    }

    /// The paths of `identity/oidc/` this module serves (the discovery and key-set paths are
    /// unauthenticated: see [`UNAUTHENTICATED`]).
    pub(crate) fn paths(self: &Arc<Self>) -> Vec<PathDef> {
        vec![
            config_path(self),
            named_keys::key_path(self),
            named_keys::rotate_path(self),
            named_keys::list_path(),
            roles::role_path(self),
            roles::list_path(),
            tokens::token_path(self),
            tokens::introspect_path(self),
            tokens::discovery_path(self),
            tokens::keys_path(self),
            assignments::assignment_path(self),
            assignments::list_path(),
            scopes::scope_path(self),
            scopes::list_path(),
            clients::client_path(self),
            clients::list_path(),
            providers::provider_path(self),
            providers::list_path(self),
            providers::discovery_path(self),
            providers::keys_path(self),
            provider_flow::authorize_path(self),
            provider_flow::token_path(self),
            provider_flow::userinfo_path(self),
        ]
    }
}

/// The `identity/` paths reachable without a token that belong to this module (OpenBao's
/// list; a provider's token endpoint authenticates the client itself).
pub(crate) const UNAUTHENTICATED: [&str; 4] = [
    "oidc/.well-known/*",
    "oidc/provider/+/.well-known/*",
    "oidc/provider/+/token",
    // OpenBao's access token carries an inline policy for this path; Arca's carries none, and
    // the endpoint checks the Bearer token itself.
    "oidc/provider/+/userinfo",
];

/// The warning an explicit issuer earns.
const ISSUER_WARNING: &str = "If \"issuer\" is set explicitly, all tokens must be validated \
against that address, including those issued by secondary clusters. Setting issuer to \"\" will \
restore the default behavior of using the cluster's api_addr as the issuer.";

/// Wraps a handler that needs the shared state.
fn with<F, Fut>(state: &Arc<IdentityTokens>, f: F) -> OpHandler
where
    F: Fn(Arc<IdentityTokens>, Request, FieldData) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Option<Response>, LogicalError>> + Send + 'static,
{
    let state = Arc::clone(state);
    handler(move |req, d| f(Arc::clone(&state), req, d))
}

/// The storage key of the issuer configuration.
const CONFIG_KEY: &str = "oidc-config";

/// The stored issuer configuration.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Config {
    #[serde(default)]
    issuer: String,
}

impl IdentityTokens {
    /// The issuer every token names: the configured one or `api_addr`, then
    /// `/v1/<namespace>identity/oidc`.
    async fn issuer(&self, req: &Request) -> Result<String, LogicalError> {
        use arca_sdk::storage::StorageExt;
        let config: Config = req
            .storage()?
            .get_json(CONFIG_KEY)
            .await?
            .unwrap_or_default();
        let base = if config.issuer.is_empty() {
            self.api_addr.clone().unwrap_or_default()
        } else {
            config.issuer
        };
        Ok(format!(
            "{base}/v1/{}identity/oidc",
            req.namespace_path.trim_start_matches('/')
        ))
    }
}

fn config_path(state: &Arc<IdentityTokens>) -> PathDef {
    PathDef::new("oidc/config/?")
        .field(Field::new(
            "issuer",
            FieldType::String,
            "Issuer URL of the tokens: scheme, host and optional port only (empty: api_addr).",
        ))
        .op(Operation::Read, handler(read_config))
        .op(Operation::Update, with(state, write_config))
        .help(
            "OIDC configuration",
            "The issuer named in every identity token. Empty means the server's api_addr.",
        )
}

async fn read_config(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    use arca_sdk::storage::StorageExt;
    let config: Config = req
        .storage()?
        .get_json(CONFIG_KEY)
        .await?
        .unwrap_or_default();
    Ok(Some(Response::with_data(
        json!({"issuer": config.issuer})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )))
}

/// Whether `issuer` is `http(s)://host[:port]` and nothing more (OpenBao's check).
fn valid_issuer(issuer: &str) -> bool {
    let Some((scheme, rest)) = issuer.split_once("://") else {
        return false;
    };
    if scheme != "http" && scheme != "https" || rest.is_empty() {
        return false;
    }
    !rest.contains(['/', '?', '#', '@']) && !rest.starts_with(':')
}

async fn write_config(
    state: Arc<IdentityTokens>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    use arca_sdk::storage::StorageExt;
    let Some(issuer) = d.get_given("issuer")? else {
        return Ok(None);
    };
    let issuer = issuer.as_str().unwrap_or_default().to_string();
    let mut resp = None;
    if !issuer.is_empty() {
        if !valid_issuer(&issuer) {
            return Err(LogicalError::bad_request(
                "invalid issuer, which must include only a scheme, host, and optional port \
                 (e.g. https://example.com:8200)",
            ));
        }
        let mut r = Response::default();
        r.warn(ISSUER_WARNING);
        resp = Some(r);
    }
    let _guard = state.lock.lock().await;
    req.storage()?
        .put_json(CONFIG_KEY, &Config { issuer })
        .await?;
    Ok(resp)
}

/// The `name` field of the named objects' paths (OpenBao's words, no full stop).
fn name_field(what: &str) -> Field {
    Field::new("name", FieldType::String, format!("Name of the {what}"))
}

/// The pattern of a named object under `prefix`.
fn named(prefix: &str) -> String {
    format!("{prefix}/{}", generic_name_regex("name"))
}

/// Whether the named object under `storage_prefix` exists (for create vs update).
fn exists_under(storage_prefix: &'static str) -> arca_sdk::framework::ExistenceFn {
    existence(move |req: Request, d: FieldData| async move {
        let name = d.get_str("name")?;
        Ok(req
            .storage()?
            .get(&format!("{storage_prefix}{name}"))
            .await?
            .is_some())
    })
}

use crate::token_store::now_unix;

/// OpenBao's `strutil.RemoveDuplicates`: items trimmed, empty ones dropped, each once, sorted.
fn remove_duplicates(list: Vec<String>) -> Vec<String> {
    let set: std::collections::BTreeSet<String> = list
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_go_as_openbao_drops_them() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            remove_duplicates(list(&["http://b", " http://a", "http://b", ""])),
            list(&["http://a", "http://b"])
        );
    }

    #[test]
    fn issuers_are_scheme_host_and_port_only() {
        for ok in ["https://x.example", "http://127.0.0.1:8200"] {
            assert!(valid_issuer(ok), "{ok}");
        }
        for bad in [
            "https://x.example/path",
            "ftp://x",
            "x.example",
            "https://",
            "https://x?y",
            "https://u@x",
        ] {
            assert!(!valid_issuer(bad), "{bad}");
        }
    }
}
