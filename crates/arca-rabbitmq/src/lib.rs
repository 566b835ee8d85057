//! The `rabbitmq` secrets engine as OpenBao 2.7.2 has it: `config/connection` (the management
//! API and an administrator's credentials), `config/lease`, `roles/<name>` (tags, vhost and
//! topic permissions) and `creds/<role>`, which creates a RabbitMQ user under a lease of type
//! `creds` that deletes the user when it is revoked or expires. Storage keys and formats are
//! OpenBao's (`config/connection`, `config/lease` with nanosecond durations, `role/<name>`).

mod client;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arca_sdk::framework::{
    Field, FieldType, FrameworkBackend, PathDef, SecretType, generic_name_regex, handler,
    paged_list_path,
};
use arca_sdk::storage::StorageExt;
use arca_sdk::username_template::UsernameTemplate;
use arca_sdk::{
    Backend, BackendConfig, BackendType, Factory, JsonMap, LogicalError, Operation, Request,
    Response, SystemView,
};
use futures::FutureExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use client::Client;

/// The secret type of the credentials `creds/<role>` hands out.
const SECRET_CREDS: &str = "creds";
/// OpenBao's username template when the connection names none.
const DEFAULT_USERNAME_TEMPLATE: &str = r#"{{ printf "%s-%s" (.DisplayName) (uuid) }}"#;
/// Where the connection is stored.
const CONNECTION_KEY: &str = "config/connection";
/// Where the lease configuration is stored.
const LEASE_KEY: &str = "config/lease";

/// `config/connection` as stored (OpenBao's field names).
#[derive(Clone, Default, Serialize, Deserialize)]
struct Connection {
    #[serde(rename = "connection_uri", default)]
    uri: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_policy: String,
    #[serde(default)]
    username_template: String,
}

impl Drop for Connection {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.password);
    }
}

/// `config/lease` as stored: Go durations, in nanoseconds.
#[derive(Clone, Copy, Default, Serialize, Deserialize)]
struct LeaseConfig {
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    max_ttl: u64,
}

impl LeaseConfig {
    fn ttl(&self) -> Duration {
        Duration::from_nanos(self.ttl)
    }
    fn max_ttl(&self) -> Duration {
        Duration::from_nanos(self.max_ttl)
    }
}

/// Permissions on one vhost.
#[derive(Clone, Default, Serialize, Deserialize)]
struct VhostPermission {
    #[serde(default)]
    configure: String,
    #[serde(default)]
    write: String,
    #[serde(default)]
    read: String,
}

/// Topic permissions on one exchange.
#[derive(Clone, Default, Serialize, Deserialize)]
struct TopicPermission {
    #[serde(default)]
    write: String,
    #[serde(default)]
    read: String,
}

/// `roles/<name>` as stored (`role/<name>`).
#[derive(Clone, Default, Serialize, Deserialize)]
struct Role {
    #[serde(default)]
    tags: String,
    #[serde(default)]
    vhosts: Option<BTreeMap<String, VhostPermission>>,
    #[serde(default)]
    vhost_topics: Option<BTreeMap<String, BTreeMap<String, TopicPermission>>>,
}

/// What the engine keeps between requests.
struct State {
    http: reqwest::Client,
    system: Arc<dyn SystemView>,
}

fn object(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

async fn connection(req: &Request) -> Result<Connection, LogicalError> {
    Ok(req
        .storage()?
        .get_json::<Connection>(CONNECTION_KEY)
        .await?
        .unwrap_or_default())
}

async fn lease_config(req: &Request) -> Result<Option<LeaseConfig>, LogicalError> {
    req.storage()?.get_json::<LeaseConfig>(LEASE_KEY).await
}

async fn role(req: &Request, name: &str) -> Result<Option<Role>, LogicalError> {
    req.storage()?
        .get_json::<Role>(&format!("role/{name}"))
        .await
}

/// A management API error as OpenBao words the call that failed; bad credentials or an
/// unreachable API are the operator's input, so a 400.
fn api_error(context: &str, e: client::ClientError) -> LogicalError {
    LogicalError::bad_request(format!("{context}: {e}"))
}

fn config_connection(state: Arc<State>) -> PathDef {
    PathDef::new("config/connection")
        .field(Field::new(
            "connection_uri",
            FieldType::String,
            "RabbitMQ Management URI",
        ))
        .field(Field::new(
            "username",
            FieldType::String,
            "Username of a RabbitMQ management administrator",
        ))
        .field(Field::new(
            "password",
            FieldType::String,
            "Password of the provided RabbitMQ management user",
        ))
        .field(
            Field::new(
                "verify_connection",
                FieldType::Bool,
                "If set, connection_uri is verified by actually connecting to the RabbitMQ management API",
            )
            .default_value(json!(true)),
        )
        .field(Field::new(
            "password_policy",
            FieldType::String,
            "Name of the password policy to use to generate passwords for dynamic credentials.",
        ))
        .field(Field::new(
            "username_template",
            FieldType::String,
            "Template describing how dynamic usernames are generated.",
        ))
        .op(
            Operation::Update,
            handler(move |req, d| {
                let state = state.clone();
                async move {
                    let uri = d.get_str("connection_uri")?;
                    if uri.is_empty() {
                        return Err(LogicalError::bad_request("missing connection_uri"));
                    }
                    let username = d.get_str("username")?;
                    if username.is_empty() {
                        return Err(LogicalError::bad_request("missing username"));
                    }
                    let password = Zeroizing::new(d.get_str("password")?);
                    if password.is_empty() {
                        return Err(LogicalError::bad_request("missing password"));
                    }
                    let username_template = d.get_str("username_template")?;
                    if !username_template.is_empty() {
                        let t = UsernameTemplate::parse(&username_template).map_err(|e| {
                            LogicalError::bad_request(format!(
                                "unable to initialize username template: {e}"
                            ))
                        })?;
                        let empty = BTreeMap::from([
                            ("DisplayName", String::new()),
                            ("RoleName", String::new()),
                        ]);
                        t.generate(&empty, &mut arca_sdk::random::fill).map_err(|e| {
                            LogicalError::bad_request(format!("invalid username template: {e}"))
                        })?;
                    }
                    if d.get_bool("verify_connection")? {
                        let c = Client::new(state.http.clone(), &uri, &username, &password);
                        c.list_users()
                            .await
                            .map_err(|e| api_error("failed to validate the connection", e))?;
                    }
                    let config = Connection {
                        uri,
                        username,
                        password: password.to_string(),
                        password_policy: d.get_str("password_policy")?,
                        username_template,
                    };
                    req.storage()?.put_json(CONNECTION_KEY, &config).await?;
                    Ok(None)
                }
            }),
        )
}

fn config_lease() -> PathDef {
    PathDef::new("config/lease")
        .field(
            Field::new(
                "ttl",
                FieldType::DurationSecond,
                "Duration before which the issued credentials needs renewal",
            )
            .default_value(json!(0)),
        )
        .field(
            Field::new(
                "max_ttl",
                FieldType::DurationSecond,
                "Duration after which the issued credentials should not be allowed to be renewed",
            )
            .default_value(json!(0)),
        )
        .op(
            Operation::Read,
            handler(|req, _d| async move {
                Ok(lease_config(&req).await?.map(|l| {
                    Response::with_data(object(json!({
                        "ttl": l.ttl().as_secs(),
                        "max_ttl": l.max_ttl().as_secs(),
                    })))
                }))
            }),
        )
        .op(
            Operation::Update,
            handler(|req, d| async move {
                let to_nanos = |v: Duration| u64::try_from(v.as_nanos()).unwrap_or(u64::MAX);
                let l = LeaseConfig {
                    ttl: to_nanos(d.get_duration("ttl")?),
                    max_ttl: to_nanos(d.get_duration("max_ttl")?),
                };
                req.storage()?.put_json(LEASE_KEY, &l).await?;
                Ok(None)
            }),
        )
}

fn roles_list() -> PathDef {
    paged_list_path("roles/?$", "role/")
}

fn roles() -> PathDef {
    PathDef::new(format!("roles/{}", generic_name_regex("name")))
        .field(Field::new("name", FieldType::String, "Name of the role."))
        .field(Field::new(
            "tags",
            FieldType::String,
            "Comma-separated list of tags for this role.",
        ))
        .field(Field::new(
            "vhosts",
            FieldType::String,
            "A map of virtual hosts to permissions.",
        ))
        .field(Field::new(
            "vhost_topics",
            FieldType::String,
            "A nested map of virtual hosts and exchanges to topic permissions.",
        ))
        .op(
            Operation::Read,
            handler(|req, d| async move {
                let name = d.get_str("name")?;
                let Some(r) = role(&req, &name).await? else {
                    return Ok(None);
                };
                Ok(Some(Response::with_data(object(json!({
                    "tags": r.tags,
                    "vhosts": r.vhosts.unwrap_or_default(),
                    "vhost_topics": r.vhost_topics.unwrap_or_default(),
                })))))
            }),
        )
        .op(
            Operation::Update,
            handler(|req, d| async move {
                let name = d.get_str("name")?;
                let tags = d.get_str("tags")?;
                let raw_vhosts = d.get_str("vhosts")?;
                let raw_topics = d.get_str("vhost_topics")?;
                if tags.is_empty() && raw_vhosts.is_empty() {
                    return Err(LogicalError::bad_request(
                        "both tags and vhosts not specified",
                    ));
                }
                let vhosts = if raw_vhosts.is_empty() {
                    None
                } else {
                    Some(serde_json::from_str(&raw_vhosts).map_err(|e| {
                        LogicalError::bad_request(format!("failed to unmarshal vhosts: {e}"))
                    })?)
                };
                let vhost_topics = if raw_topics.is_empty() {
                    None
                } else {
                    Some(serde_json::from_str(&raw_topics).map_err(|e| {
                        LogicalError::bad_request(format!("failed to unmarshal vhost_topics: {e}"))
                    })?)
                };
                let r = Role {
                    tags,
                    vhosts,
                    vhost_topics,
                };
                req.storage()?.put_json(&format!("role/{name}"), &r).await?;
                Ok(None)
            }),
        )
        .op(
            Operation::Delete,
            handler(|req, d| async move {
                let name = d.get_str("name")?;
                req.storage()?.delete(&format!("role/{name}")).await?;
                Ok(None)
            }),
        )
}

/// 36 base62 characters, OpenBao's password when no policy is named.
fn base62_password() -> Zeroizing<String> {
    Zeroizing::new(arca_sdk::random::base62(36))
}

/// Creates the user and gives it the role's permissions; deletes it again if a permission
/// cannot be set, so no half-made user is left behind.
async fn create_user(
    c: &Client,
    username: &str,
    password: &str,
    r: &Role,
) -> Result<(), LogicalError> {
    c.put_user(username, password, &r.tags).await.map_err(|_| {
        LogicalError::internal("failed to create a new user with the generated credentials")
    })?;
    let mut result = Ok(());
    'perms: {
        for (vhost, p) in r.vhosts.iter().flatten() {
            if let Err(e) = c
                .set_permissions(vhost, username, &p.configure, &p.write, &p.read)
                .await
            {
                result = Err(LogicalError::internal(format!(
                    "error updating vhost permissions for {vhost} - {e}"
                )));
                break 'perms;
            }
        }
        for (vhost, exchanges) in r.vhost_topics.iter().flatten() {
            for (exchange, p) in exchanges {
                if let Err(e) = c
                    .set_topic_permissions(vhost, username, exchange, &p.write, &p.read)
                    .await
                {
                    result = Err(LogicalError::internal(format!(
                        "error updating vhost permissions for {vhost} - {e}"
                    )));
                    break 'perms;
                }
            }
        }
    }
    if result.is_err() {
        let _ = c.delete_user(username).await;
    }
    result
}

fn creds(state: Arc<State>, issue: SecretType) -> PathDef {
    PathDef::new(format!("creds/{}", generic_name_regex("name")))
        .field(Field::new("name", FieldType::String, "Name of the role."))
        .op(
            Operation::Read,
            handler(move |req, d| {
                let state = state.clone();
                let issue = issue.clone();
                async move {
                    let name = d.get_str("name")?;
                    let Some(r) = role(&req, &name).await? else {
                        return Err(LogicalError::bad_request(format!("unknown role: {name}")));
                    };
                    let config = connection(&req).await?;
                    let template = if config.username_template.is_empty() {
                        DEFAULT_USERNAME_TEMPLATE
                    } else {
                        config.username_template.as_str()
                    };
                    let template = UsernameTemplate::parse(template).map_err(|e| {
                        LogicalError::internal(format!(
                            "unable to initialize username template: {e}"
                        ))
                    })?;
                    let meta = BTreeMap::from([
                        ("DisplayName", req.display_name.clone()),
                        ("RoleName", name.clone()),
                    ]);
                    let username = template
                        .generate(&meta, &mut arca_sdk::random::fill)
                        .map_err(|e| {
                            LogicalError::internal(format!("failed to generate username: {e}"))
                        })?;
                    let password = if config.password_policy.is_empty() {
                        base62_password()
                    } else {
                        state
                            .system
                            .generate_password_from_policy(&config.password_policy)
                            .await?
                    };
                    let c = Client::new(
                        state.http.clone(),
                        &config.uri,
                        &config.username,
                        &config.password,
                    );
                    create_user(&c, &username, &password, &r).await?;
                    let data = object(json!({"username": username, "password": password.as_str()}));
                    let internal = object(json!({ "username": username }));
                    let mut resp = issue.response(data, internal);
                    if let (Some(l), Some(secret)) =
                        (lease_config(&req).await?, resp.secret.as_mut())
                    {
                        secret.lease.ttl = l.ttl();
                        secret.lease.max_ttl = l.max_ttl();
                    }
                    Ok(Some(resp))
                }
            }),
        )
}

fn creds_type(state: Arc<State>) -> SecretType {
    SecretType::new(SECRET_CREDS)
        .field(Field::new(
            "username",
            FieldType::String,
            "RabbitMQ username",
        ))
        .field(Field::new(
            "password",
            FieldType::String,
            "Password for the RabbitMQ username",
        ))
        .renew(handler(|req, _d| async move {
            let l = lease_config(&req).await?.unwrap_or_default();
            let mut secret = req.secret.clone().unwrap_or_default();
            secret.lease.ttl = l.ttl();
            secret.lease.max_ttl = l.max_ttl();
            Ok(Some(Response {
                secret: Some(secret),
                ..Response::default()
            }))
        }))
        .revoke(handler(move |req, _d| {
            let state = state.clone();
            async move {
                let username = req
                    .secret
                    .as_ref()
                    .and_then(|s| s.internal_data.get("username"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| {
                        LogicalError::internal("secret is missing username internal data")
                    })?;
                let config = connection(&req).await?;
                let c = Client::new(
                    state.http.clone(),
                    &config.uri,
                    &config.username,
                    &config.password,
                );
                c.delete_user(&username)
                    .await
                    .map_err(|e| LogicalError::internal(format!("could not delete user: {e}")))?;
                Ok(None)
            }
        }))
}

fn backend(system: Arc<dyn SystemView>) -> Result<FrameworkBackend, LogicalError> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| LogicalError::internal(format!("failed to create client: {e}")))?;
    let state = Arc::new(State { http, system });
    let creds_secret = creds_type(state.clone());
    Ok(FrameworkBackend::new(
        BackendType::Logical,
        "The RabbitMQ backend dynamically generates RabbitMQ users.",
    )
    .secret(creds_secret.clone())
    .path(config_connection(state.clone()))
    .path(config_lease())
    .path(roles_list())
    .path(creds(state, creds_secret))
    .path(roles()))
}

/// The factory registered as the builtin secrets engine type `rabbitmq`.
pub fn factory() -> Factory {
    Arc::new(|config: BackendConfig| {
        async move { Ok(Arc::new(backend(config.system)?) as Arc<dyn Backend>) }.boxed()
    })
}
