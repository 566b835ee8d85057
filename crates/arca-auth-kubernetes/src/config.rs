//! `config`: where the Kubernetes API server is and how to trust and call it, plus the keys
//! that verify service account JWTs locally. Stored at `config`; the reviewer JWT is never
//! shown back (a read says only whether one is set).

use std::fmt;

use arca_sdk::framework::{Field, FieldData, FieldType, PathDef, handler};
use arca_sdk::storage::StorageExt;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response, Storage};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::pem_keys::{self, PublicKey};
use crate::{State, shared_handler};
use std::sync::Arc;

/// Where the configuration lives in the mount's storage.
const CONFIG_KEY: &str = "config";

/// The version of the record layout this code writes and reads.
const RECORD_VERSION: u32 = 1;

/// The stored configuration. `Debug` leaves the reviewer JWT out.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct KubeConfig {
    /// Layout version ([`RECORD_VERSION`]).
    pub version: u32,
    /// `pem_keys` as given.
    pub pem_keys: Vec<String>,
    /// `kubernetes_host`.
    pub host: String,
    /// `kubernetes_ca_cert`.
    pub ca_cert: String,
    /// `token_reviewer_jwt`.
    pub token_reviewer_jwt: Zeroizing<String>,
    /// `issuer` (deprecated).
    pub issuer: String,
    /// `disable_iss_validation` (deprecated).
    pub disable_iss_validation: bool,
    /// `disable_local_ca_jwt`.
    pub disable_local_ca_jwt: bool,
}

impl fmt::Debug for KubeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeConfig")
            .field("host", &self.host)
            .field("pem_keys", &self.pem_keys.len())
            .field(
                "token_reviewer_jwt_set",
                &!self.token_reviewer_jwt.is_empty(),
            )
            .field("issuer", &self.issuer)
            .field("disable_iss_validation", &self.disable_iss_validation)
            .field("disable_local_ca_jwt", &self.disable_local_ca_jwt)
            .finish()
    }
}

/// The configuration a login uses: the stored one, its keys parsed, and the pod's own CA and
/// token filling in what it lacks (unless `disable_local_ca_jwt`).
pub(crate) struct LoginConfig {
    /// The stored configuration, decorated.
    pub config: KubeConfig,
    /// `pem_keys`, parsed.
    pub public_keys: Vec<PublicKey>,
}

/// Reads the stored configuration.
pub(crate) async fn load(storage: &dyn Storage) -> Result<Option<KubeConfig>, LogicalError> {
    let Some(config) = storage.get_json::<KubeConfig>(CONFIG_KEY).await? else {
        return Ok(None);
    };
    if config.version > RECORD_VERSION {
        return Err(LogicalError::internal(format!(
            "kubernetes config record version {} is newer than this server understands",
            config.version
        )));
    }
    Ok(Some(config))
}

/// OpenBao's `loadConfig`: the stored configuration with its keys parsed and, unless
/// `disable_local_ca_jwt`, the pod's token (when no reviewer JWT is set; a missing file is
/// fine) and CA (when none is set; a missing file is an error).
pub(crate) async fn load_for_login(
    st: &State,
    storage: &dyn Storage,
) -> Result<Option<LoginConfig>, String> {
    let Some(mut config) = load(storage).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let public_keys = config
        .pem_keys
        .iter()
        .map(|p| pem_keys::parse_public_key_pem(p).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    if !config.disable_local_ca_jwt {
        if config.token_reviewer_jwt.is_empty()
            && let Ok(token) = st.local_token.read().await
        {
            config.token_reviewer_jwt = token;
        }
        if config.ca_cert.is_empty() {
            config.ca_cert = st.local_ca.read().await?.to_string();
        }
    }
    Ok(Some(LoginConfig {
        config,
        public_keys,
    }))
}

/// The `config` path.
pub(crate) fn path(st: &Arc<State>) -> PathDef {
    PathDef::new("config$")
        .field(Field::new(
            "kubernetes_host",
            FieldType::String,
            "Host must be a host string, a host:port pair, or a URL to the base of the Kubernetes API server.",
        ))
        .field(Field::new(
            "kubernetes_ca_cert",
            FieldType::String,
            "PEM encoded CA cert for use by the TLS client used to talk with the API.",
        ))
        .field(Field::new(
            "token_reviewer_jwt",
            FieldType::String,
            "A service account JWT (or other token) used as a bearer token to access the TokenReview API to validate other JWTs during login. If not set the JWT used for login will be used to access the API.",
        ))
        .field(Field::new(
            "pem_keys",
            FieldType::CommaStringSlice,
            "Optional list of PEM-formated public keys or certificates used to verify the signatures of kubernetes service account JWTs. If a certificate is given, its public key will be extracted. Not every installation of Kubernetes exposes these keys.",
        ))
        .field(Field::new(
            "issuer",
            FieldType::String,
            "Optional JWT issuer. If no issuer is specified, then this plugin will use kubernetes.io/serviceaccount as the default issuer. (Deprecated, will be removed in a future release)",
        ))
        .field(
            Field::new(
                "disable_iss_validation",
                FieldType::Bool,
                "Disable JWT issuer validation (Deprecated, will be removed in a future release)",
            )
            .default_value(Value::Bool(true)),
        )
        .field(
            Field::new(
                "disable_local_ca_jwt",
                FieldType::Bool,
                "Disable defaulting to the local CA cert and service account JWT when running in a Kubernetes pod",
            )
            .default_value(Value::Bool(false)),
        )
        .op(Operation::Read, handler(read))
        .op(Operation::Update, shared_handler(st, write))
        .help(
            "Configures the JWT Public Key and Kubernetes API information.",
            "The Kubernetes Auth backend validates service account JWTs and verifies their existence with the Kubernetes TokenReview API. This endpoint configures the public key used to validate the JWT signature and the necessary information to access the Kubernetes API.",
        )
}

/// `GET config`: as OpenBao shows it; a bare 404 when not configured.
async fn read(req: Request, _d: FieldData) -> Result<Option<Response>, LogicalError> {
    let Some(config) = load(req.storage()?.as_ref()).await? else {
        return Err(LogicalError::empty_not_found());
    };
    let mut data = JsonMap::new();
    data.insert("kubernetes_host".into(), Value::from(config.host));
    data.insert("kubernetes_ca_cert".into(), Value::from(config.ca_cert));
    data.insert("pem_keys".into(), Value::from(config.pem_keys));
    data.insert("issuer".into(), Value::from(config.issuer));
    data.insert(
        "disable_iss_validation".into(),
        Value::from(config.disable_iss_validation),
    );
    data.insert(
        "disable_local_ca_jwt".into(),
        Value::from(config.disable_local_ca_jwt),
    );
    data.insert(
        "token_reviewer_jwt_set".into(),
        Value::from(!config.token_reviewer_jwt.is_empty()),
    );
    Ok(Some(Response::with_data(data)))
}

/// `POST config`: checks in OpenBao's order and with its texts, then replaces the whole
/// configuration.
async fn write(
    st: Arc<State>,
    req: Request,
    d: FieldData,
) -> Result<Option<Response>, LogicalError> {
    let host = d.get_str("kubernetes_host")?;
    if host.is_empty() {
        return Err(LogicalError::bad_request("no host provided"));
    }
    let config = KubeConfig {
        version: RECORD_VERSION,
        pem_keys: d.get_strings("pem_keys")?,
        host,
        ca_cert: d.get_str("kubernetes_ca_cert")?,
        token_reviewer_jwt: Zeroizing::new(d.get_str("token_reviewer_jwt")?),
        issuer: d.get_str("issuer")?,
        disable_iss_validation: d.get_bool("disable_iss_validation")?,
        disable_local_ca_jwt: d.get_bool("disable_local_ca_jwt")?,
    };
    if config.disable_local_ca_jwt && config.ca_cert.is_empty() {
        return Err(LogicalError::bad_request(
            "kubernetes_ca_cert must be given when disable_local_ca_jwt is true",
        ));
    }
    for pem in &config.pem_keys {
        pem_keys::parse_public_key_pem(pem)
            .map_err(|e| LogicalError::bad_request(e.to_string()))?;
    }
    // OpenBao builds its TLS settings here: without a CA of its own it needs the pod's.
    if config.ca_cert.is_empty() && !config.disable_local_ca_jwt {
        st.local_ca
            .read()
            .await
            .map_err(LogicalError::bad_request)?;
    }
    let _guard = st.write_lock.lock().await;
    req.storage()?.put_json(CONFIG_KEY, &config).await?;
    Ok(None)
}
