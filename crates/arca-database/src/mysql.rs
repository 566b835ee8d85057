//! `mysql-database-plugin` and its `mysql-aurora-`, `mysql-rds-` and `mysql-legacy-` names:
//! MySQL/MariaDB users from creation statements, over a pool of mysql_async connections.
//! Defaults are OpenBao's: usernames `v-<display 10>-<role 10>-<20 random>-<unix>` cut to 32
//! (the legacy names: `v-<role 4>-<20 random>` cut to 16), `ALTER USER … IDENTIFIED BY` for
//! rotation, a revoke-everything-then-drop for deletion, and no expiry (MySQL has none).
//!
//! `connection_url` is a Go-MySQL DSN (`{{username}}:{{password}}@tcp(127.0.0.1:3306)/`, with
//! `unix(/path)` sockets and comma-separated `tcp(h1,h2)` failover hosts) or a `mysql://` URL.

use std::sync::Arc;
use std::time::Duration;

use arca_sdk::JsonMap;
use arca_sdk::username_template::UsernameTemplate;
use async_trait::async_trait;
use futures::FutureExt;
use futures::future::BoxFuture;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, Pool, PoolConstraints, PoolOpts, TxOpts};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::connection::{SqlConnection, get_string};
use crate::plugin::{
    Database, DbError, DeleteUserRequest, Initialized, NewUserRequest, UpdateUserRequest,
};
use crate::statements::{Dialect, render, split};

/// OpenBao's `DefaultUserNameTemplate`, for `mysql-database-plugin`.
pub const DEFAULT_USERNAME_TEMPLATE: &str = r#"{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 10) (.RoleName | truncate 10) (random 20) (unix_time) | truncate 32 }}"#;
/// OpenBao's `DefaultLegacyUserNameTemplate`, for the aurora, rds and legacy names (MySQL
/// before 5.7.8 allowed 16-character usernames only).
pub const DEFAULT_LEGACY_USERNAME_TEMPLATE: &str =
    r#"{{ printf "v-%s-%s" (.RoleName | truncate 4) (random 20) | truncate 16 }}"#;
/// The revocation statements used when a role has none.
const DEFAULT_REVOCATION_STATEMENTS: &str = "
\t\tREVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%';
\t\tDROP USER '{{name}}'@'%'
\t";
/// The statement that sets a password when none is configured.
const DEFAULT_ROTATE_CREDENTIALS_SQL: &str = "
\t\tALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}';
\t";
/// The plugin's type name.
const TYPE_NAME: &str = "mysql";
/// The port of an address that names none.
const DEFAULT_PORT: u16 = 3306;
/// How long connecting may take, unless the DSN's `timeout` says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What `url::PathEscape`-like encoding leaves alone in a `mysql://` URL's user part.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The Go MySQL driver's parameters that only shape the client; they are not sent to the
/// server as session variables (every other parameter is, as `SET <name>=<value>`).
const DRIVER_PARAMS: &[&str] = &[
    "allowAllFiles",
    "allowCleartextPasswords",
    "allowFallbackToPlaintext",
    "allowNativePasswords",
    "allowOldPasswords",
    "charset",
    "checkConnLiveness",
    "clientFoundRows",
    "collation",
    "columnsWithAlias",
    "compress",
    "connectionAttributes",
    "interpolateParams",
    "loc",
    "maxAllowedPacket",
    "multiStatements",
    "parseTime",
    "readTimeout",
    "rejectReadOnly",
    "serverPubKey",
    "timeTruncate",
    "writeTimeout",
];

/// `Initialize` for `mysql-database-plugin`.
pub fn initialize_default(
    config: JsonMap,
    verify: bool,
) -> BoxFuture<'static, Result<Initialized, DbError>> {
    initialize(config, verify, DEFAULT_USERNAME_TEMPLATE)
}

/// `Initialize` for `mysql-aurora-database-plugin`, `mysql-rds-database-plugin` and
/// `mysql-legacy-database-plugin`: the same plugin with 16-character usernames.
pub fn initialize_legacy(
    config: JsonMap,
    verify: bool,
) -> BoxFuture<'static, Result<Initialized, DbError>> {
    initialize(config, verify, DEFAULT_LEGACY_USERNAME_TEMPLATE)
}

fn initialize(
    config: JsonMap,
    verify: bool,
    default_template: &'static str,
) -> BoxFuture<'static, Result<Initialized, DbError>> {
    async move {
        let conn = SqlConnection::parse(&config, false)?;
        let encoded = Zeroizing::new(utf8_percent_encode(&conn.password, USERINFO).to_string());
        let secrets = [conn.password.as_str(), encoded.as_str()];
        let result = build(&config, &conn, verify, default_template).await;
        let db = result.map_err(|e| e.sanitized(&secrets))?;
        Ok(Initialized {
            database: Arc::new(db),
            config,
        })
    }
    .boxed()
}

/// A connected MySQL.
struct MySql {
    /// The pools to reach the server through, or why the connection URL is unusable (OpenBao
    /// reports a bad DSN only when it first connects).
    targets: Result<Targets, String>,
    usernames: UsernameTemplate,
    /// The root password (as written and URL-encoded), kept to scrub it from error texts.
    secrets: [Zeroizing<String>; 2],
}

/// Where connections come from: one pool per failover host, tried in order.
struct Targets {
    pools: Vec<(String, Pool)>,
    connect_timeout: Duration,
}

async fn build(
    config: &JsonMap,
    conn: &SqlConnection,
    verify: bool,
    default_template: &str,
) -> Result<MySql, DbError> {
    let template = if conn.username_template.is_empty() {
        default_template
    } else {
        conn.username_template.as_str()
    };
    let usernames = UsernameTemplate::parse(template)
        .map_err(|e| DbError::Invalid(format!("unable to initialize username template: {e}")))?;
    usernames
        .generate(
            &crate::plugin::UsernameMetadata::default().template_values(),
            &mut arca_sdk::random::fill,
        )
        .map_err(|e| DbError::Invalid(format!("invalid username template: {e}")))?;
    for key in ["tls_ca", "tls_certificate_key"] {
        if !get_string(config, key)?.is_empty() {
            return Err(DbError::Invalid(format!(
                "{key} is set, but TLS connections to MySQL are not supported by this build"
            )));
        }
    }
    let raw_url = get_string(config, "connection_url")?;
    let targets = if is_url(&raw_url) {
        url_targets(&raw_url, conn)
    } else {
        let (dsn, hosts) = split_hosts(&conn.url)
            .map_err(|e| DbError::Invalid(format!("error parsing multi-host DSN: {e}")))?;
        dsn_targets(&dsn, &hosts, conn)
    };
    let encoded = Zeroizing::new(utf8_percent_encode(&conn.password, USERINFO).to_string());
    let db = MySql {
        targets: targets.map_err(|e| format!("unable to parse connectionURL: {e}")),
        usernames,
        secrets: [conn.password.clone(), encoded],
    };
    if verify {
        if let Err(e) = &db.targets {
            return Err(DbError::Invalid(format!(
                "error verifying - connection: {e}"
            )));
        }
        let ping = async {
            let mut c = db.conn().await?;
            c.query_drop("SELECT 1")
                .await
                .map_err(|e| DbError::Database(driver_error(&e)))
        };
        if let Err(e) = ping.await {
            db.close().await;
            return Err(DbError::Database(format!(
                "error verifying - ping: {}",
                e.message()
            )));
        }
    }
    Ok(db)
}

/// A driver error as text; a server's error as the Go driver shows it
/// (`Error 1045 (28000): Access denied …`).
fn driver_error(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => {
            format!("Error {} ({}): {}", s.code, s.state, s.message)
        }
        other => other.to_string(),
    }
}

/// Whether the error is one of reaching the server (so another failover host may do).
fn is_dial_error(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Io(_))
}

/// Whether `connection_url` is a `mysql://` URL rather than a DSN.
fn is_url(raw: &str) -> bool {
    raw.get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("mysql://"))
}

/// The pool settings the connection details ask for.
fn pool_opts(conn: &SqlConnection) -> PoolOpts {
    let constraints =
        PoolConstraints::new(conn.max_idle.min(conn.max_open), conn.max_open).unwrap_or_default();
    let lifetime = (!conn.max_lifetime.is_zero()).then_some(conn.max_lifetime);
    PoolOpts::default()
        .with_constraints(constraints)
        .with_abs_conn_ttl(lifetime)
}

/// A `mysql://` URL: the credentials are URL-encoded into it, then mysql_async reads it.
fn url_targets(raw: &str, conn: &SqlConnection) -> Result<Targets, String> {
    let user = utf8_percent_encode(&conn.username, USERINFO).to_string();
    let password = Zeroizing::new(utf8_percent_encode(&conn.password, USERINFO).to_string());
    let url = Zeroizing::new(
        raw.replace("{{username}}", &user)
            .replace("{{password}}", &password),
    );
    let opts = mysql_async::Opts::from_url(&url).map_err(|e| e.to_string())?;
    let label = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    let builder = OptsBuilder::from_opts(opts).pool_opts(pool_opts(conn));
    Ok(Targets {
        pools: vec![(label, Pool::new(builder))],
        connect_timeout: CONNECT_TIMEOUT,
    })
}

/// A Go-MySQL DSN, with the failover hosts `split_hosts` found.
fn dsn_targets(dsn: &str, hosts: &[String], conn: &SqlConnection) -> Result<Targets, String> {
    let parsed = parse_dsn(dsn)?;
    let mut builder = OptsBuilder::default()
        .prefer_socket(false)
        .user((!parsed.user.is_empty()).then(|| parsed.user.clone()))
        .pass((!parsed.passwd.is_empty()).then(|| parsed.passwd.to_string()))
        .db_name((!parsed.db_name.is_empty()).then(|| parsed.db_name.clone()))
        .pool_opts(pool_opts(conn));
    let mut connect_timeout = CONNECT_TIMEOUT;
    let mut init = Vec::new();
    for (key, value) in &parsed.params {
        match key.as_str() {
            "tls" => match value.as_str() {
                "" | "false" | "preferred" => {}
                _ => {
                    return Err(format!(
                        "tls={value}: TLS connections to MySQL are not supported by this build"
                    ));
                }
            },
            "timeout" => {
                let nanos = arca_sdk::duration::parse_go_duration(value)
                    .map_err(|e| format!("invalid timeout: {e}"))?;
                if nanos > 0 {
                    connect_timeout = Duration::from_nanos(nanos.unsigned_abs());
                }
            }
            k if DRIVER_PARAMS.contains(&k) => {}
            k => init.push(format!("SET {k}={value}")),
        }
    }
    builder = builder.init(init);
    let mut pools = Vec::new();
    match parsed.net.as_str() {
        "unix" => {
            let opts = builder.socket(Some(parsed.addr.clone()));
            pools.push((parsed.addr.clone(), Pool::new(opts)));
        }
        "tcp" | "tcp4" | "tcp6" => {
            let addrs: Vec<String> = if hosts.len() > 1 {
                hosts.to_vec()
            } else {
                vec![parsed.addr.clone()]
            };
            for addr in addrs {
                let (host, port) = host_port(&addr)?;
                let opts = builder.clone().ip_or_hostname(host).tcp_port(port);
                pools.push((addr, Pool::new(opts)));
            }
        }
        other => return Err(format!("unknown network {other}")),
    }
    Ok(Targets {
        pools,
        connect_timeout,
    })
}

/// A DSN as the Go MySQL driver's `ParseDSN` reads it.
#[derive(Debug, Default, PartialEq, Eq)]
struct Dsn {
    user: String,
    passwd: Zeroizing<String>,
    net: String,
    addr: String,
    db_name: String,
    params: Vec<(String, String)>,
}

/// Reads `[user[:password]@][net[(addr)]]/dbname[?param1=value1&paramN=valueN]`: the last `/`
/// ends the address part (a password or an address may hold one), the last `@` before it ends
/// the credentials and the first `:` in those ends the user.
fn parse_dsn(dsn: &str) -> Result<Dsn, String> {
    let mut out = Dsn::default();
    let Some(slash) = dsn.rfind('/') else {
        return Err("invalid DSN: missing the slash separating the database name".into());
    };
    let left = &dsn[..slash];
    if !left.is_empty() {
        let proto = match left.rfind('@') {
            Some(at) => {
                let credentials = &left[..at];
                match credentials.split_once(':') {
                    Some((user, pass)) => {
                        out.user = user.to_string();
                        out.passwd = Zeroizing::new(pass.to_string());
                    }
                    None => out.user = credentials.to_string(),
                }
                &left[at + 1..]
            }
            None => left,
        };
        match proto.find('(') {
            Some(open) => {
                let Some(inner) = proto[open + 1..].strip_suffix(')') else {
                    return Err(if proto[open + 1..].contains(')') {
                        "invalid DSN: did you forget to escape a param value?".into()
                    } else {
                        "invalid DSN: network address not terminated (missing closing brace)".into()
                    });
                };
                out.addr = inner.to_string();
                out.net = proto[..open].to_string();
            }
            None => out.net = proto.to_string(),
        }
    }
    let tail = &dsn[slash + 1..];
    let (db_name, params) = match tail.split_once('?') {
        Some((db, params)) => (db, Some(params)),
        None => (tail, None),
    };
    for pair in params.into_iter().flat_map(|p| p.split('&')) {
        if let Some((key, value)) = pair.split_once('=') {
            let value = percent_decode_str(&value.replace('+', " "))
                .decode_utf8()
                .map_err(|e| format!("invalid value for {key}: {e}"))?
                .into_owned();
            out.params.push((key.to_string(), value));
        }
    }
    out.db_name = percent_decode_str(db_name)
        .decode_utf8()
        .map_err(|e| format!("invalid dbname {db_name:?}: {e}"))?
        .into_owned();
    if out.net.is_empty() {
        out.net = "tcp".into();
    }
    if out.addr.is_empty() {
        out.addr = match out.net.as_str() {
            "tcp" => format!("127.0.0.1:{DEFAULT_PORT}"),
            "unix" => "/tmp/mysql.sock".into(),
            other => return Err(format!("default addr for network '{other}' unknown")),
        };
    } else if out.net == "tcp" {
        out.addr = with_port(&out.addr);
    }
    Ok(out)
}

/// Splits `host:port` or `[v6]:port` as Go's `net.SplitHostPort` does (`None` when it would
/// fail).
fn split_host_port(addr: &str) -> Option<(&str, &str)> {
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        (!port.contains(':') && !port.contains(']')).then_some((host, port))
    } else {
        let (host, port) = addr.rsplit_once(':')?;
        (!host.contains(':') && !host.contains('[') && !host.contains(']')).then_some((host, port))
    }
}

/// The address with MySQL's port added when it names none.
fn with_port(addr: &str) -> String {
    if split_host_port(addr).is_some() {
        addr.to_string()
    } else if addr.starts_with('[') && addr.ends_with(']') {
        format!("{addr}:{DEFAULT_PORT}")
    } else if addr.contains(':') {
        format!("[{addr}]:{DEFAULT_PORT}")
    } else {
        format!("{addr}:{DEFAULT_PORT}")
    }
}

/// The host and port of a TCP address.
fn host_port(addr: &str) -> Result<(String, u16), String> {
    let (host, port) =
        split_host_port(addr).ok_or_else(|| format!("address {addr}: missing port in address"))?;
    let port = port
        .parse()
        .map_err(|_| format!("address {addr}: invalid port"))?;
    Ok((host.to_string(), port))
}

/// OpenBao's multi-host failover: the first `tcp(…)` may list several comma-separated hosts;
/// each gets port 3306 when it names none, and the DSN keeps only the first. Answers the DSN
/// to parse and the hosts (empty when the DSN has no `tcp(…)`).
fn split_hosts(url: &str) -> Result<(Zeroizing<String>, Vec<String>), String> {
    let mut found = None;
    for (at, _) in url.match_indices("tcp(") {
        let inner_start = at + 4;
        if let Some(len) = url[inner_start..].find(')')
            && len > 0
        {
            found = Some((at, inner_start, inner_start + len));
            break;
        }
    }
    let Some((_, start, end)) = found else {
        return Ok((Zeroizing::new(url.to_string()), Vec::new()));
    };
    let list = &url[start..end];
    if !list.contains(',') {
        return Ok((
            Zeroizing::new(url.to_string()),
            vec![with_port(list.trim())],
        ));
    }
    let hosts: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(with_port)
        .collect();
    let Some(first) = hosts.first() else {
        return Err("no valid hosts found in connection URL".into());
    };
    // Every `tcp(…)` naming hosts is normalised to the first, as Go's ReplaceAllString does.
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(at) = rest.find("tcp(") {
        let inner = &rest[at + 4..];
        match inner.find(')') {
            Some(len) if len > 0 => {
                out.push_str(&rest[..at]);
                out.push_str("tcp(");
                out.push_str(first);
                out.push(')');
                rest = &inner[len + 1..];
            }
            _ => {
                out.push_str(&rest[..at + 4]);
                rest = inner;
            }
        }
    }
    out.push_str(rest);
    Ok((Zeroizing::new(out), hosts))
}

impl MySql {
    fn err(&self, e: impl Into<String>) -> DbError {
        let secrets = [self.secrets[0].as_str(), self.secrets[1].as_str()];
        DbError::Database(e.into()).sanitized(&secrets)
    }

    /// A connection from the first host that can be reached.
    async fn conn(&self) -> Result<Conn, DbError> {
        let targets = self
            .targets
            .as_ref()
            .map_err(|e| DbError::Invalid(e.clone()))?;
        let failover = targets.pools.len() > 1;
        let mut failures = Vec::new();
        for (addr, pool) in &targets.pools {
            match tokio::time::timeout(targets.connect_timeout, pool.get_conn()).await {
                Ok(Ok(conn)) => return Ok(conn),
                Ok(Err(e)) if failover && is_dial_error(&e) => {
                    failures.push(format!("failed to connect to {addr}: {}", driver_error(&e)));
                }
                Ok(Err(e)) => return Err(self.err(driver_error(&e))),
                Err(_) => failures.push(format!("failed to connect to {addr}: i/o timeout")),
            }
        }
        Err(self.err(failures.join("; ")))
    }

    /// Runs every query of `statements` in one transaction. MySQL commits implicitly around
    /// account statements (`CREATE USER`, `GRANT`, …), so a failure undoes only what came after
    /// the last of them.
    async fn run_in_transaction(
        &self,
        statements: &[String],
        values: &[(&str, &str)],
    ) -> Result<(), DbError> {
        let mut conn = self.conn().await?;
        let mut tx = conn
            .start_transaction(TxOpts::default())
            .await
            .map_err(|e| self.err(driver_error(&e)))?;
        let result = async {
            for stmt in statements {
                for query in split(stmt, Dialect::Mysql) {
                    let sql = render(&query, values, Dialect::Mysql)?;
                    tx.query_drop(sql)
                        .await
                        .map_err(|e| self.err(driver_error(&e)))?;
                }
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => tx.commit().await.map_err(|e| self.err(driver_error(&e))),
            Err(e) => {
                if let Err(re) = tx.rollback().await {
                    tracing::debug!(error = %driver_error(&re), "mysql transaction rollback failed");
                }
                Err(e)
            }
        }
    }

    /// The hosts a user exists for.
    async fn user_hosts(&self, username: &str) -> Result<Vec<String>, DbError> {
        let mut conn = self.conn().await?;
        conn.exec("SELECT host FROM mysql.user WHERE user = ?", (username,))
            .await
            .map_err(|e| self.err(driver_error(&e)))
    }

    /// After a failed creation: drops the accounts named `username` that the creation
    /// statements left behind (those committed implicitly before the failure), leaving any
    /// that existed before it alone.
    async fn drop_leftovers(&self, username: &str, before: &[String]) {
        let after = match self.user_hosts(username).await {
            Ok(hosts) => hosts,
            Err(e) => {
                tracing::warn!(error = %e, "could not look for users left by failed creation statements");
                return;
            }
        };
        for host in after.iter().filter(|h| !before.contains(h)) {
            let values = [("name", username), ("host", host.as_str())];
            let stmt = ["DROP USER '{{name}}'@'{{host}}'".to_string()];
            match self.run_in_transaction(&stmt, &values).await {
                Ok(()) => tracing::info!(
                    host = %host,
                    "dropped a user that failed creation statements had committed"
                ),
                Err(e) => tracing::warn!(
                    host = %host,
                    error = %e,
                    "could not drop a user left by failed creation statements"
                ),
            }
        }
    }

    async fn delete(&self, username: &str, statements: &[String]) -> Result<(), DbError> {
        let values = [("name", username), ("username", username)];
        let mut conn = self.conn().await?;
        let mut tx = conn
            .start_transaction(TxOpts::default())
            .await
            .map_err(|e| self.err(driver_error(&e)))?;
        let default = [DEFAULT_REVOCATION_STATEMENTS.to_string()];
        let statements = if statements.is_empty() {
            let exists: Option<i64> = tx
                .exec_first(
                    "SELECT exists (SELECT user FROM mysql.user WHERE user=?);",
                    (username,),
                )
                .await
                .map_err(|e| self.err(driver_error(&e)))?;
            if exists.unwrap_or(0) == 0 {
                return Ok(());
            }
            &default[..]
        } else {
            statements
        };
        for stmt in statements {
            for query in split(stmt, Dialect::Mysql) {
                let sql = render(&query, &values, Dialect::Mysql)?;
                tx.query_drop(sql)
                    .await
                    .map_err(|e| self.err(driver_error(&e)))?;
            }
        }
        tx.commit().await.map_err(|e| self.err(driver_error(&e)))
    }
}

#[async_trait]
impl Database for MySql {
    async fn new_user(&self, req: NewUserRequest) -> Result<String, DbError> {
        if req.statements.is_empty() {
            return Err(DbError::Invalid("empty creation statements".into()));
        }
        let meta = req.username_config.template_values();
        let username = self
            .usernames
            .generate(&meta, &mut arca_sdk::random::fill)
            .map_err(|e| DbError::Invalid(e.to_string()))?;
        let expiration = crate::statements::expiration_text(req.expiration);
        let values = [
            ("name", username.as_str()),
            ("username", username.as_str()),
            ("password", req.password.as_str()),
            ("expiration", expiration.as_str()),
        ];
        // Accounts of this name that exist already, so that cleaning up after a failure never
        // drops one the creation did not make.
        let before = match self.user_hosts(&username).await {
            Ok(hosts) => Some(hosts),
            Err(e) => {
                tracing::debug!(error = %e, "cannot read mysql.user; no cleanup after a failed creation");
                None
            }
        };
        if let Err(e) = self.run_in_transaction(&req.statements, &values).await {
            if !req.rollback_statements.is_empty() {
                let names = [("name", username.as_str()), ("username", username.as_str())];
                if let Err(re) = self
                    .run_in_transaction(&req.rollback_statements, &names)
                    .await
                {
                    tracing::warn!(error = %re, "database rollback statements failed");
                }
            }
            if let Some(before) = before {
                self.drop_leftovers(&username, &before).await;
            }
            return Err(e.sanitized(&[req.password.as_str()]));
        }
        Ok(username)
    }

    async fn update_user(&self, req: UpdateUserRequest) -> Result<(), DbError> {
        if req.password.is_none() && req.expiration.is_none() {
            return Err(DbError::Invalid("no change requested".into()));
        }
        if let Some(p) = &req.password {
            if req.username.is_empty() || p.new_password.is_empty() {
                return Err(DbError::Invalid(
                    "failed to change password: must provide both username and password".into(),
                ));
            }
            let statements = if p.statements.is_empty() {
                vec![DEFAULT_ROTATE_CREDENTIALS_SQL.to_string()]
            } else {
                p.statements.clone()
            };
            let values = [
                ("name", req.username.as_str()),
                ("username", req.username.as_str()),
                ("password", p.new_password.as_str()),
            ];
            self.run_in_transaction(&statements, &values)
                .await
                .map_err(|e| {
                    let text = format!("failed to change password: {}", e.message());
                    let e = match e {
                        DbError::Invalid(_) => DbError::Invalid(text),
                        DbError::Database(_) => DbError::Database(text),
                    };
                    e.sanitized(&[p.new_password.as_str()])
                })?;
        }
        // Changing the expiry is a no-op: MySQL users do not expire.
        Ok(())
    }

    async fn delete_user(&self, req: DeleteUserRequest) -> Result<(), DbError> {
        self.delete(&req.username, &req.statements).await
    }

    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    async fn close(&self) {
        if let Ok(targets) = &self.targets {
            for (_, pool) in &targets.pools {
                if let Err(e) = pool.clone().disconnect().await {
                    tracing::debug!(error = %driver_error(&e), "closing mysql pool");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_dsns() {
        let d = parse_dsn("root:p@ss:w/rd@tcp(db.example:3307)/app?timeout=5s&x=a%20b").unwrap();
        assert_eq!(d.user, "root");
        assert_eq!(d.passwd.as_str(), "p@ss:w/rd");
        assert_eq!(d.net, "tcp");
        assert_eq!(d.addr, "db.example:3307");
        assert_eq!(d.db_name, "app");
        assert_eq!(
            d.params,
            vec![
                ("timeout".to_string(), "5s".to_string()),
                ("x".to_string(), "a b".to_string())
            ]
        );
        let d = parse_dsn("u@tcp(localhost)/").unwrap();
        assert_eq!((d.user.as_str(), d.addr.as_str()), ("u", "localhost:3306"));
        assert!(d.passwd.is_empty());
        let d = parse_dsn("/").unwrap();
        assert_eq!((d.net.as_str(), d.addr.as_str()), ("tcp", "127.0.0.1:3306"));
        let d = parse_dsn("u:p@unix(/run/mysqld/mysqld.sock)/db").unwrap();
        assert_eq!(
            (d.net.as_str(), d.addr.as_str()),
            ("unix", "/run/mysqld/mysqld.sock")
        );
        let d = parse_dsn("u:p@tcp([::1])/").unwrap();
        assert_eq!(d.addr, "[::1]:3306");
        assert_eq!(
            parse_dsn("u:p@tcp(localhost:3306").unwrap_err(),
            "invalid DSN: missing the slash separating the database name"
        );
        assert_eq!(
            parse_dsn("u:p@tcp(localhost:3306/").unwrap_err(),
            "invalid DSN: network address not terminated (missing closing brace)"
        );
    }

    #[test]
    fn splits_failover_hosts() {
        let (dsn, hosts) = split_hosts("u:p@tcp(h1, h2:3307,)/db").unwrap();
        assert_eq!(dsn.as_str(), "u:p@tcp(h1:3306)/db");
        assert_eq!(hosts, vec!["h1:3306", "h2:3307"]);
        let (dsn, hosts) = split_hosts("u:p@tcp(h1)/db").unwrap();
        assert_eq!(dsn.as_str(), "u:p@tcp(h1)/db");
        assert_eq!(hosts, vec!["h1:3306"]);
        let (_, hosts) = split_hosts("u:p@unix(/s)/db").unwrap();
        assert!(hosts.is_empty());
        assert!(split_hosts("u:p@tcp(, ,)/db").is_err());
    }

    #[test]
    fn go_server_error_text() {
        let e = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1045,
            message: "Access denied".into(),
            state: "28000".into(),
        });
        assert_eq!(driver_error(&e), "Error 1045 (28000): Access denied");
    }

    #[test]
    fn default_templates_fit_mysql() {
        for (template, max) in [
            (DEFAULT_USERNAME_TEMPLATE, 32),
            (DEFAULT_LEGACY_USERNAME_TEMPLATE, 16),
        ] {
            let t = UsernameTemplate::parse(template).unwrap();
            let name = t
                .generate(
                    &crate::plugin::UsernameMetadata {
                        display_name: "token-display-name-long".into(),
                        role_name: "a-very-long-role-name".into(),
                    }
                    .template_values(),
                    &mut arca_sdk::random::fill,
                )
                .unwrap();
            assert_eq!(name.len(), max, "{name}");
            assert!(name.starts_with("v-"));
        }
    }
}
