//! `redis-database-plugin` and `valkey-database-plugin` (one plugin, OpenBao's `valkey`): users
//! made with `ACL SETUSER`, over one multiplexed connection per configured database.
//!
//! Defaults are OpenBao's: the connection is `host`/`port`/`username`/`password` (all required)
//! or a `connection_url` (`valkey://user:pass@host:port`); usernames are
//! `V_<DISPLAY 64>_<ROLE 64>_<20 RANDOM>_<UNIX>` cut to 100 and upper-cased; the creation
//! statement is a JSON list of ACL rules (`["~*", "+@read"]` when there is none); rotation is
//! `ACL SETUSER <user> RESETPASS ><password>`; deletion is `ACL DELUSER`. Users do not expire.
//!
//! Arca additions: a `username_template` replaces the default usernames, as for the SQL
//! plugins. TLS (`tls`, `valkeys://`) is refused: this build has no TLS support for Redis.

use std::sync::Arc;
use std::time::Duration;

use arca_sdk::JsonMap;
use arca_sdk::username_template::UsernameTemplate;
use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use percent_encoding::percent_decode_str;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::connection::{get_bool, get_int, get_string};
use crate::plugin::{
    Database, DbError, DeleteUserRequest, Initialized, NewUserRequest, UpdateUserRequest,
};

/// The plugin's type name.
const TYPE_NAME: &str = "valkey";
/// The ACL rules of a user when the role has no creation statements.
pub const DEFAULT_USER_RULE: &str = r#"["~*", "+@read"]"#;
/// How long connecting, and waiting for an answer, may take (OpenBao's `defaultTimeout`).
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(20000);
/// How much of the display and role names goes into a username.
const MAX_KEY_LENGTH: usize = 64;
/// How long a generated username may be (`credsutil`'s default).
const MAX_USERNAME_LENGTH: usize = 100;
/// The port of a `connection_url` that names none.
const DEFAULT_PORT: u16 = 6379;

/// `Initialize` for `redis-database-plugin` and `valkey-database-plugin`.
pub fn initialize(
    config: JsonMap,
    verify: bool,
) -> BoxFuture<'static, Result<Initialized, DbError>> {
    async move {
        let settings = Settings::parse(&config)?;
        let secrets = settings.secrets();
        let db = build(&config, settings, verify)
            .await
            .map_err(|e| secrets.scrub(e))?;
        Ok(Initialized {
            database: Arc::new(db),
            config,
        })
    }
    .boxed()
}

/// The connection details.
struct Settings {
    host: String,
    port: u16,
    username: String,
    password: Zeroizing<String>,
}

/// What must never appear in an error text: OpenBao's sanitizer replaces the password with
/// `[password]` and the username with `[username]`.
struct Secrets {
    username: String,
    password: Zeroizing<String>,
}

impl Secrets {
    fn scrub(&self, e: DbError) -> DbError {
        let e = e.sanitized(&[self.password.as_str()]);
        if self.username.is_empty() {
            return e;
        }
        match e {
            DbError::Invalid(s) => DbError::Invalid(s.replace(&self.username, "[username]")),
            DbError::Database(s) => DbError::Database(s.replace(&self.username, "[username]")),
        }
    }
}

impl Settings {
    fn parse(config: &JsonMap) -> Result<Settings, DbError> {
        let mut host = get_string(config, "host")?;
        let port = get_int(config, "port")?;
        let mut username = get_string(config, "username")?;
        let mut password = Zeroizing::new(get_string(config, "password")?);
        let mut tls = get_bool(config, "tls")?;
        get_bool(config, "insecure_tls")?;
        let ca_cert = get_string(config, "ca_cert")?;
        let connection_url = Zeroizing::new(get_string(config, "connection_url")?);
        let port = if connection_url.is_empty() {
            match (
                host.is_empty(),
                port,
                username.is_empty(),
                password.is_empty(),
            ) {
                (true, ..) => return Err(DbError::Invalid("host cannot be empty".into())),
                (_, 0, ..) => return Err(DbError::Invalid("port cannot be empty".into())),
                (_, _, true, _) => {
                    return Err(DbError::Invalid("username cannot be empty".into()));
                }
                (_, _, _, true) => {
                    return Err(DbError::Invalid("password cannot be empty".into()));
                }
                _ => u16::try_from(port)
                    .map_err(|_| DbError::Invalid(format!("invalid port {port}")))?,
            }
        } else {
            if !host.is_empty() || port != 0 || !username.is_empty() || !password.is_empty() || tls
            {
                return Err(DbError::Invalid(
                    "cannot specify both connection_url and individual connection parameters"
                        .into(),
                ));
            }
            let url = url::Url::parse(&connection_url)
                .map_err(|e| DbError::Invalid(format!("error parsing connection_url: {e}")))?;
            if matches!(url.scheme(), "valkeys" | "rediss") {
                tls = true;
            }
            host = match url.host() {
                Some(url::Host::Ipv6(ip)) => ip.to_string(),
                Some(h) => h.to_string(),
                None => String::new(),
            };
            if host.is_empty() {
                return Err(DbError::Invalid(
                    "error parsing connection_url: missing host".into(),
                ));
            }
            username = decode(url.username());
            password = Zeroizing::new(url.password().map(decode).unwrap_or_default());
            url.port().unwrap_or(DEFAULT_PORT)
        };
        if tls {
            if ca_cert.is_empty() {
                return Err(DbError::Invalid("ca_cert cannot be empty".into()));
            }
            return Err(DbError::Invalid(
                "TLS connections to Redis/Valkey are not supported by this build".into(),
            ));
        }
        Ok(Settings {
            host,
            port,
            username,
            password,
        })
    }

    fn secrets(&self) -> Secrets {
        Secrets {
            username: self.username.clone(),
            password: self.password.clone(),
        }
    }
}

/// A percent-encoded part of a URL, decoded.
fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// A connected Redis or Valkey.
struct Valkey {
    client: redis::Client,
    /// The one connection, opened on first use and again after it breaks.
    conn: Mutex<Option<MultiplexedConnection>>,
    /// The operator's username template, if any.
    usernames: Option<UsernameTemplate>,
    secrets: Secrets,
}

async fn build(config: &JsonMap, settings: Settings, verify: bool) -> Result<Valkey, DbError> {
    let template = get_string(config, "username_template")?;
    let usernames = if template.is_empty() {
        None
    } else {
        let t = UsernameTemplate::parse(&template).map_err(|e| {
            DbError::Invalid(format!("unable to initialize username template: {e}"))
        })?;
        t.generate(
            &crate::plugin::UsernameMetadata::default().template_values(),
            &mut arca_sdk::random::fill,
        )
        .map_err(|e| DbError::Invalid(format!("invalid username template: {e}")))?;
        Some(t)
    };
    let secrets = settings.secrets();
    let info = ConnectionInfo {
        addr: ConnectionAddr::Tcp(settings.host, settings.port),
        redis: RedisConnectionInfo {
            username: (!settings.username.is_empty()).then_some(settings.username),
            password: (!settings.password.is_empty()).then(|| settings.password.to_string()),
            ..RedisConnectionInfo::default()
        },
    };
    let client = redis::Client::open(info)
        .map_err(|e| DbError::Invalid(format!("invalid connection details: {e}")))?;
    let db = Valkey {
        client,
        conn: Mutex::new(None),
        usernames,
        secrets,
    };
    if verify {
        let ping = async {
            let mut conn = db.connection().await?;
            redis::cmd("PING").query_async::<()>(&mut conn).await
        };
        if let Err(e) = ping.await {
            db.close().await;
            return Err(DbError::Database(format!(
                "error verifying connection: {}",
                redis_error(&e)
            )));
        }
    }
    Ok(db)
}

/// A server's error as the server wrote it (`NOPERM …`, `ERR …`), anything else as the driver
/// describes it.
fn redis_error(e: &redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

/// Whether the server itself answered with the error (the connection is fine).
fn is_server_error(e: &redis::RedisError) -> bool {
    e.code().is_some()
}

/// `s` cut to at most `n` bytes (at a character boundary).
fn truncate(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// OpenBao's `credsutil.GenerateUsername` as the valkey plugin calls it: the non-empty parts
/// of `v_<display>_<role>_<20 random>_<unix>` (display and role cut to 64), cut to 100,
/// upper-cased.
fn default_username(display_name: &str, role_name: &str) -> String {
    let random = arca_sdk::random::base62(20);
    let now = chrono::Utc::now().timestamp().to_string();
    let parts = [
        "v",
        truncate(display_name, MAX_KEY_LENGTH),
        truncate(role_name, MAX_KEY_LENGTH),
        random.as_str(),
        now.as_str(),
    ];
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("_");
    truncate(&joined, MAX_USERNAME_LENGTH).to_uppercase()
}

/// The ACL rules of the creation statements: the first statement read as a JSON list of
/// strings, or else every statement as one rule; the default rules when there are none.
fn acl_rules(statements: &[String]) -> Vec<String> {
    let statements: Vec<String> = statements
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let first = statements
        .first()
        .map(String::as_str)
        .unwrap_or(DEFAULT_USER_RULE);
    match serde_json::from_str::<Vec<String>>(first) {
        Ok(rules) => rules,
        Err(e) => {
            tracing::warn!(
                error = %e,
                "failed to unmarshal creation statements as JSON; applying as a raw string array"
            );
            statements
        }
    }
}

impl Valkey {
    fn err(&self, e: impl Into<String>) -> DbError {
        self.secrets.scrub(DbError::Database(e.into()))
    }

    /// The connection, opened if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, redis::RedisError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(DEFAULT_TIMEOUT)
            .set_response_timeout(DEFAULT_TIMEOUT);
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Forgets the connection after an error that may have broken it, so the next request
    /// opens a new one.
    async fn check(&self, e: &redis::RedisError) {
        if !is_server_error(e) {
            *self.conn.lock().await = None;
        }
    }

    /// Runs one command and discards its answer.
    async fn run(&self, cmd: &redis::Cmd) -> Result<redis::Value, redis::RedisError> {
        let mut conn = self.connection().await?;
        let result = cmd.query_async::<redis::Value>(&mut conn).await;
        if let Err(e) = &result {
            self.check(e).await;
        }
        result
    }
}

#[async_trait]
impl Database for Valkey {
    async fn new_user(&self, req: NewUserRequest) -> Result<String, DbError> {
        let username = match &self.usernames {
            Some(t) => {
                let meta = req.username_config.template_values();
                t.generate(&meta, &mut arca_sdk::random::fill)
                    .map_err(|e| DbError::Invalid(format!("failed to generate username: {e}")))?
            }
            None => default_username(
                &req.username_config.display_name,
                &req.username_config.role_name,
            ),
        };
        self.connection()
            .await
            .map_err(|e| self.err(format!("failed to get connection: {}", redis_error(&e))))?;
        let password = Zeroizing::new(format!(">{}", req.password.as_str()));
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER")
            .arg(&username)
            .arg("ON")
            .arg(password.as_str());
        for rule in acl_rules(&req.statements) {
            cmd.arg(rule);
        }
        self.run(&cmd).await.map_err(|e| {
            self.err(redis_error(&e))
                .sanitized(&[req.password.as_str()])
        })?;
        Ok(username)
    }

    async fn update_user(&self, req: UpdateUserRequest) -> Result<(), DbError> {
        // Only the password can change: Redis users do not expire.
        let Some(p) = &req.password else {
            return Ok(());
        };
        let user = req.username.as_str();
        let found = self
            .run(redis::cmd("ACL").arg("GETUSER").arg(user))
            .await
            .map_err(|e| {
                if is_server_error(&e) {
                    self.err(format!("valkey error returned: {}", redis_error(&e)))
                } else {
                    self.err(format!(
                        "reset of passwords for user {user} failed in changeUserPassword: {}",
                        redis_error(&e)
                    ))
                }
            })?;
        if found == redis::Value::Nil {
            return Err(self.err(format!(
                "changeUserPassword for user {user} failed: user not found"
            )));
        }
        let password = Zeroizing::new(format!(">{}", p.new_password.as_str()));
        self.run(
            redis::cmd("ACL")
                .arg("SETUSER")
                .arg(user)
                .arg("RESETPASS")
                .arg(password.as_str()),
        )
        .await
        .map_err(|e| {
            self.err(redis_error(&e))
                .sanitized(&[p.new_password.as_str()])
        })?;
        Ok(())
    }

    async fn delete_user(&self, req: DeleteUserRequest) -> Result<(), DbError> {
        self.connection()
            .await
            .map_err(|e| self.err(format!("failed to make connection: {}", redis_error(&e))))?;
        self.run(redis::cmd("ACL").arg("DELUSER").arg(&req.username))
            .await
            .map_err(|e| self.err(redis_error(&e)))?;
        Ok(())
    }

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    async fn close(&self) {
        *self.conn.lock().await = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(v: serde_json::Value) -> JsonMap {
        match v {
            serde_json::Value::Object(m) => m.into_iter().collect(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn default_usernames_are_openbao_s() {
        let name = default_username("token-display", "my-role");
        let parts: Vec<&str> = name.split('_').collect();
        assert_eq!(parts.len(), 5, "{name}");
        assert_eq!(&parts[..3], &["V", "TOKEN-DISPLAY", "MY-ROLE"]);
        assert_eq!(parts[3].len(), 20);
        assert!(parts[4].parse::<i64>().is_ok());
        assert_eq!(name, name.to_uppercase());
        // Empty parts are skipped, long ones cut.
        assert!(default_username("", "r").starts_with("V_R_"));
        assert_eq!(
            default_username(&"x".repeat(90), &"y".repeat(90)).len(),
            100
        );
    }

    #[test]
    fn acl_rules_from_statements() {
        assert_eq!(acl_rules(&[]), vec!["~*", "+@read"]);
        assert_eq!(acl_rules(&["  ".into()]), vec!["~*", "+@read"]);
        assert_eq!(
            acl_rules(&[r#"["+@all", "~app:*"]"#.into()]),
            vec!["+@all", "~app:*"]
        );
        assert_eq!(
            acl_rules(&["+get".into(), " ~k* ".into()]),
            vec!["+get", "~k*"]
        );
    }

    #[test]
    fn settings_follow_openbao() {
        let err = |v| match Settings::parse(&config(v)) {
            Err(e) => e.message().to_string(),
            Ok(_) => "ok".into(),
        };
        assert_eq!(err(serde_json::json!({})), "host cannot be empty");
        assert_eq!(
            err(serde_json::json!({"host": "h"})),
            "port cannot be empty"
        );
        assert_eq!(
            err(serde_json::json!({"host": "h", "port": 6379})),
            "username cannot be empty"
        );
        assert_eq!(
            err(serde_json::json!({"host": "h", "port": "6379", "username": "u"})),
            "password cannot be empty"
        );
        assert_eq!(
            err(
                serde_json::json!({"host": "h", "port": 6379, "username": "u", "password": "p", "tls": true})
            ),
            "ca_cert cannot be empty"
        );
        assert_eq!(
            err(serde_json::json!({"connection_url": "valkey://h:1", "host": "h"})),
            "cannot specify both connection_url and individual connection parameters"
        );
        let s = Settings::parse(&config(serde_json::json!({
            "connection_url": "valkey://us%40er:p%3Aw@[::1]:7000"
        })))
        .unwrap();
        assert_eq!(
            (
                s.host.as_str(),
                s.port,
                s.username.as_str(),
                s.password.as_str()
            ),
            ("::1", 7000, "us@er", "p:w")
        );
    }
}
