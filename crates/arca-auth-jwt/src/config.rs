//! `config`: the mount's one configuration (where signing keys come from, the OIDC client,
//! the default role), with OpenBao's checks on write and its fields on read. The client
//! secret is stored but never read back.

use arca_sdk::framework::FieldData;
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::keys::{SUPPORTED_ALGS, parse_pem_key};
use crate::{Shared, fetch};
use std::sync::Arc;

/// Storage key of the configuration.
const CONFIG_KEY: &str = "config";
/// The version of the record layout this code writes.
const RECORD_VERSION: u32 = 1;

/// The providers `provider_config.provider` may name (OpenBao's `ProviderMap`).
const PROVIDERS: [&str; 5] = ["azure", "gsuite", "secureauth", "ibmisam", "kubernetes"];

/// The stored configuration. `Debug` is not derived: the client secret must not show.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct JwtConfig {
    pub version: u32,
    pub oidc_discovery_url: String,
    pub oidc_discovery_ca_pem: String,
    pub oidc_client_id: String,
    pub oidc_client_secret: Zeroizing<String>,
    pub oidc_response_mode: String,
    pub oidc_response_types: Vec<String>,
    pub jwks_url: String,
    pub jwks_ca_pem: String,
    pub jwt_validation_pubkeys: Vec<String>,
    pub jwt_supported_algs: Vec<String>,
    pub bound_issuer: String,
    pub default_role: String,
    pub provider_config: JsonMap,
    pub override_allowed_server_names: Vec<String>,
    pub namespace_in_state: bool,
}

/// Where a mount's signing keys come from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `jwt_validation_pubkeys`.
    Static,
    /// `jwks_url`.
    Jwks,
    /// `oidc_discovery_url` without a client: keys only.
    Discovery,
    /// `oidc_discovery_url` with a client id and secret: the browser flow too.
    OidcFlow,
    /// Nothing usable.
    Unconfigured,
}

impl JwtConfig {
    /// OpenBao's `authType`.
    pub fn key_source(&self) -> KeySource {
        if !self.jwt_validation_pubkeys.is_empty() {
            KeySource::Static
        } else if !self.jwks_url.is_empty() {
            KeySource::Jwks
        } else if !self.oidc_discovery_url.is_empty() {
            if !self.oidc_client_id.is_empty() && !self.oidc_client_secret.is_empty() {
                KeySource::OidcFlow
            } else {
                KeySource::Discovery
            }
        } else {
            KeySource::Unconfigured
        }
    }

    /// Whether the response types include `t` (`code` when none are set).
    pub fn has_response_type(&self, t: &str) -> bool {
        if self.oidc_response_types.is_empty() && t == "code" {
            return true;
        }
        self.oidc_response_types.iter().any(|x| x == t)
    }
}

/// Reads the configuration, if any.
pub(crate) async fn load(storage: &dyn Storage) -> Result<Option<JwtConfig>, LogicalError> {
    let Some(c) = storage.get_json::<JwtConfig>(CONFIG_KEY).await? else {
        return Ok(None);
    };
    if c.version > RECORD_VERSION {
        return Err(LogicalError::internal(
            "config record version is newer than this server understands",
        ));
    }
    Ok(Some(c))
}

/// `GET config`.
pub(crate) async fn read(
    shared: Arc<Shared>,
    req: Request,
    _d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let Some(c) = load(req.storage()?.as_ref()).await? else {
        return Ok(None);
    };
    let mut data = JsonMap::new();
    let s = |v: &str| Value::from(v.to_string());
    data.insert("oidc_discovery_url".into(), s(&c.oidc_discovery_url));
    data.insert("oidc_discovery_ca_pem".into(), s(&c.oidc_discovery_ca_pem));
    data.insert("oidc_client_id".into(), s(&c.oidc_client_id));
    data.insert("oidc_response_mode".into(), s(&c.oidc_response_mode));
    data.insert(
        "oidc_response_types".into(),
        Value::from(c.oidc_response_types.clone()),
    );
    data.insert("default_role".into(), s(&c.default_role));
    data.insert(
        "jwt_validation_pubkeys".into(),
        Value::from(c.jwt_validation_pubkeys.clone()),
    );
    data.insert(
        "jwt_supported_algs".into(),
        Value::from(c.jwt_supported_algs.clone()),
    );
    data.insert("jwks_url".into(), s(&c.jwks_url));
    data.insert("jwks_ca_pem".into(), s(&c.jwks_ca_pem));
    data.insert("bound_issuer".into(), s(&c.bound_issuer));
    let mut provider_config = c.provider_config.clone();
    if let Some(p) = provider_config.get("provider").and_then(Value::as_str) {
        for k in sensitive_provider_keys(p) {
            provider_config.remove(*k);
        }
    }
    data.insert("provider_config".into(), Value::Object(provider_config));
    data.insert(
        "override_allowed_server_names".into(),
        Value::from(c.override_allowed_server_names.clone()),
    );
    data.insert(
        "namespace_in_state".into(),
        Value::from(c.namespace_in_state),
    );
    let mut resp = Response::default();
    let status = match shared.keys.validator_check(&c).await {
        Ok(()) => "valid",
        Err(e) => {
            resp.warn(format!("failed to construct JWK validator: {e}"));
            "invalid"
        }
    };
    data.insert("status".into(), Value::from(status));
    resp.data = Some(data);
    Ok(Some(resp))
}

fn err(msg: impl Into<String>) -> LogicalError {
    LogicalError::bad_request(msg)
}

/// `POST config`: checks in OpenBao's order, then stores and drops cached keys.
pub(crate) async fn write(
    shared: Arc<Shared>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let storage = req.storage()?.clone();
    let existing = load(storage.as_ref()).await?;
    let mut c = JwtConfig {
        version: RECORD_VERSION,
        oidc_discovery_url: d.get_str("oidc_discovery_url")?,
        oidc_discovery_ca_pem: d.get_str("oidc_discovery_ca_pem")?,
        oidc_client_id: d.get_str("oidc_client_id")?,
        oidc_client_secret: Zeroizing::new(d.get_str("oidc_client_secret")?),
        oidc_response_mode: d.get_str("oidc_response_mode")?,
        oidc_response_types: d.get_strings("oidc_response_types")?,
        jwks_url: d.get_str("jwks_url")?,
        jwks_ca_pem: d.get_str("jwks_ca_pem")?,
        jwt_validation_pubkeys: d.get_strings("jwt_validation_pubkeys")?,
        jwt_supported_algs: d.get_strings("jwt_supported_algs")?,
        bound_issuer: d.get_str("bound_issuer")?,
        default_role: d.get_str("default_role")?.to_lowercase(),
        provider_config: d.get_map("provider_config")?,
        override_allowed_server_names: d.get_strings("override_allowed_server_names")?,
        namespace_in_state: true,
    };
    let skip_check = d.get_bool("skip_jwks_validation")?;
    c.namespace_in_state = if d.is_set("namespace_in_state") {
        d.get_bool("namespace_in_state")?
    } else {
        existing.as_ref().is_none_or(|e| e.namespace_in_state)
    };
    let mut resp = Response::default();
    check_key_source(&c, skip_check, &mut resp).await?;
    for alg in &c.jwt_supported_algs {
        if !SUPPORTED_ALGS.contains(&alg.as_str()) {
            return Err(err(format!(
                "invalid jwt_supported_algs: unsupported signing algorithm \"{alg}\""
            )));
        }
    }
    if c.oidc_response_types
        .iter()
        .any(|t| t != "code" && t != "id_token")
    {
        return Err(err(format!(
            "invalid response_types [{}]. 'code' and 'id_token' are allowed",
            c.oidc_response_types.join(" ")
        )));
    }
    match c.oidc_response_mode.as_str() {
        "" | "query" => {
            if c.has_response_type("id_token") {
                return Err(err(
                    "query response_mode may not be used with an id_token response_type",
                ));
            }
        }
        "form_post" => {}
        other => return Err(err(format!("invalid response_mode: \"{other}\""))),
    }
    check_provider_config(&c.provider_config)?;
    let stored = storage.put_json(CONFIG_KEY, &c).await;
    shared.cache.forget();
    stored?;
    shared.keys.clear().await;
    if resp.warnings.is_empty() {
        Ok(None)
    } else {
        Ok(Some(resp))
    }
}

/// Exactly one key source, the OIDC client id and secret together, and the source usable
/// (reachable URLs, parseable keys), as OpenBao checks them.
async fn check_key_source(
    c: &JwtConfig,
    skip_check: bool,
    resp: &mut Response,
) -> Result<(), LogicalError> {
    let count = [
        !c.oidc_discovery_url.is_empty(),
        !c.jwt_validation_pubkeys.is_empty(),
        !c.jwks_url.is_empty(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if count != 1 {
        return Err(err(
            "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', 'oidc_discovery_url', or 'provider_config' must be set",
        ));
    }
    if c.oidc_client_id.is_empty() != c.oidc_client_secret.is_empty() {
        return Err(err(
            "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC",
        ));
    }
    if !c.oidc_discovery_url.is_empty() {
        if c.oidc_discovery_url
            .contains(".well-known/openid-configuration")
        {
            return Err(err("'oidc_discovery_url' contains '.well-known' component"));
        }
        let checked = match fetch::client(&c.oidc_discovery_ca_pem) {
            Ok(client) => fetch::discovery(&client, &c.oidc_discovery_url)
                .await
                .map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            if !skip_check {
                return Err(err(format!("error checking oidc discovery URL: {e}")));
            }
            resp.warn("error checking oidc discovery URL");
        }
        return Ok(());
    }
    if !c.oidc_client_id.is_empty() {
        return Err(err("'oidc_discovery_url' must be set for OIDC"));
    }
    if !c.jwks_url.is_empty() {
        let client =
            fetch::client(&c.jwks_ca_pem).map_err(|_| err("error checking jwks_ca_pem"))?;
        if fetch::get_json(&client, &c.jwks_url).await.is_err() {
            if !skip_check {
                return Err(err("error checking jwks URL"));
            }
            resp.warn("error checking jwks URL");
        }
        return Ok(());
    }
    for k in &c.jwt_validation_pubkeys {
        parse_pem_key(k).map_err(|e| err(format!("error parsing public key: {e}")))?;
    }
    Ok(())
}

/// The `provider_config` keys a read leaves out, per provider (OpenBao's `SensitiveKeys`):
/// the G Suite service account's key.
fn sensitive_provider_keys(provider: &str) -> &'static [&'static str] {
    match provider {
        "gsuite" => &["gsuite_service_account"],
        _ => &[],
    }
}

/// `provider_config`: empty, or naming one of OpenBao's providers. Provider-specific
/// settings are stored as given and not acted on.
fn check_provider_config(pc: &JsonMap) -> Result<(), LogicalError> {
    if pc.is_empty() {
        return Ok(());
    }
    let Some(p) = pc.get("provider").and_then(Value::as_str) else {
        return Err(err(
            "invalid provider_config: 'provider' field not found in provider_config",
        ));
    };
    if !PROVIDERS.contains(&p) {
        return Err(err(format!(
            "invalid provider_config: provider \"{p}\" not found in custom providers"
        )));
    }
    Ok(())
}
