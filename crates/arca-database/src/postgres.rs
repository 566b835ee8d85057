//! `postgresql-database-plugin`: PostgreSQL users from creation statements, over a pool of
//! tokio-postgres connections (deadpool). Defaults are OpenBao's: usernames
//! `v-<display 8>-<role 8>-<20 random>-<unix>` cut to 63, `VALID UNTIL` for expiry,
//! `ALTER ROLE … WITH PASSWORD` for rotation, and a revoke-everything-then-drop for deletion.
//! `password_authentication = "scram-sha-256"` sends the password already hashed.

use std::sync::Arc;
use std::time::Duration;

use arca_sdk::JsonMap;
use arca_sdk::username_template::UsernameTemplate;
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio_postgres::NoTls;
use zeroize::Zeroizing;

use crate::connection::{SqlConnection, get_string};
use crate::plugin::{
    Database, DbError, DeleteUserRequest, Initialized, NewUserRequest, UpdateUserRequest,
};
use crate::statements::{Dialect, quote_identifier, render, split};

/// OpenBao's username template for PostgreSQL.
const DEFAULT_USERNAME_TEMPLATE: &str = r#"{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}"#;
/// The statement that moves a user's expiry when the role has no renew statements.
const DEFAULT_EXPIRATION_STATEMENT: &str = r#"ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';"#;
/// The statement that sets a password when none is configured.
const DEFAULT_CHANGE_PASSWORD_STATEMENT: &str =
    r#"ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}';"#;
/// How long connecting may take before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a transaction that lost a race is tried again.
const MAX_RETRIES: u32 = 8;

/// Why a transaction failed: a lost race (worth retrying) or anything else.
enum Failure {
    Retryable(DbError),
    Fatal(DbError),
}

/// Whether PostgreSQL refused because of a concurrent change to the same catalog row
/// (`tuple concurrently updated`, a serialization failure or a deadlock): the statement is fine,
/// another session got there first.
fn retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    e.as_db_error().is_some_and(|db| {
        let code = db.code();
        *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            || (*code == SqlState::INTERNAL_ERROR && db.message().contains("concurrently updated"))
    })
}

/// A short, growing pause before retry `attempt`, jittered so racers spread out.
fn retry_delay(attempt: u32) -> Duration {
    let mut b = [0u8; 1];
    arca_sdk::random::fill(&mut b);
    Duration::from_millis(u64::from(attempt) * 5 + u64::from(b[0] % 20))
}

/// How the password reaches the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PasswordAuthentication {
    Password,
    ScramSha256,
}

/// A connected PostgreSQL.
struct Postgres {
    pool: Pool,
    usernames: UsernameTemplate,
    password_authentication: PasswordAuthentication,
    /// The root password, kept to scrub it from error texts.
    root_password: Zeroizing<String>,
    /// `user=… database=…`, for connection errors.
    target: String,
    /// How long a connection is reused (zero: for ever).
    max_lifetime: Duration,
}

/// `Initialize` for `postgresql-database-plugin`.
pub fn initialize(
    config: JsonMap,
    verify: bool,
) -> BoxFuture<'static, Result<Initialized, DbError>> {
    async move {
        let conn = SqlConnection::parse(&config, true)?;
        // A literal password in the URL is as secret as the `password` field.
        let in_url = url::Url::parse(&conn.url)
            .ok()
            .and_then(|u| u.password().map(str::to_string))
            .map(Zeroizing::new)
            .unwrap_or_default();
        let decoded = Zeroizing::new(
            percent_encoding::percent_decode_str(&in_url)
                .decode_utf8_lossy()
                .to_string(),
        );
        let secrets = [conn.password.as_str(), in_url.as_str(), decoded.as_str()];
        let result = build(&config, &conn, verify).await;
        let db = result.map_err(|e| e.sanitized(&secrets))?;
        Ok(Initialized {
            database: Arc::new(db),
            config,
        })
    }
    .boxed()
}

async fn build(config: &JsonMap, conn: &SqlConnection, verify: bool) -> Result<Postgres, DbError> {
    let template = if conn.username_template.is_empty() {
        DEFAULT_USERNAME_TEMPLATE
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
    let password_authentication = match get_string(config, "password_authentication")?.as_str() {
        "" | "password" => PasswordAuthentication::Password,
        "scram-sha-256" => PasswordAuthentication::ScramSha256,
        other => {
            return Err(DbError::Invalid(format!(
                "'{other}' is not a valid password authentication type"
            )));
        }
    };
    let mut pg: tokio_postgres::Config = conn
        .url
        .parse()
        .map_err(|e| DbError::Invalid(format!("error parsing connection_url: {e}")))?;
    if pg.get_application_name().is_none() {
        pg.application_name("arca");
    }
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(CONNECT_TIMEOUT);
    }
    let target = target_of(&pg);
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(conn.max_open)
        .build()
        .map_err(|e| DbError::Invalid(format!("error creating connection pool: {e}")))?;
    let db = Postgres {
        pool,
        usernames,
        password_authentication,
        root_password: conn.password.clone(),
        target,
        max_lifetime: conn.max_lifetime,
    };
    if verify {
        let client = db.pool.get().await.map_err(|e| {
            DbError::Database(format!(
                "error verifying connection: {}",
                pool_error(e, &db.target)
            ))
        })?;
        client.simple_query("SELECT 1").await.map_err(|e| {
            DbError::Database(format!("error verifying connection: {}", pg_error(&e)))
        })?;
    }
    Ok(db)
}

/// A driver error as text: the server's message and SQLSTATE for a database error, else the
/// error with its causes (`error connecting to server: Connection refused (os error 111)`).
fn pg_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// A failure to get a pooled connection, named as pgx names a failed connect.
fn pool_error(e: deadpool_postgres::PoolError, target: &str) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(e) => {
            format!("failed to connect to `{target}`: {}", pg_error(&e))
        }
        other => format!("failed to connect to `{target}`: {other}"),
    }
}

/// `user=<user> database=<db>` for error texts.
fn target_of(pg: &tokio_postgres::Config) -> String {
    format!(
        "user={} database={}",
        pg.get_user().unwrap_or_default(),
        pg.get_dbname().unwrap_or_default()
    )
}

/// True if the statement is a block that must run whole (`DO $$ … END $$`): OpenBao's test for
/// an `END` outside quotes.
fn multiline(stmt: &str) -> bool {
    let mut bare = String::with_capacity(stmt.len());
    let mut quote: Option<char> = None;
    for c in stmt.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None => bare.push(c),
        }
    }
    bare.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .any(|w| w == "END")
}

impl Postgres {
    fn err(&self, e: impl Into<String>) -> DbError {
        DbError::Database(e.into()).sanitized(&[self.root_password.as_str()])
    }

    /// A pooled connection; one older than `max_connection_lifetime` is closed and replaced.
    async fn client(&self) -> Result<deadpool_postgres::Object, DbError> {
        loop {
            let client = self.pool.get().await.map_err(|e| {
                self.err(format!(
                    "unable to get connection: {}",
                    pool_error(e, &self.target)
                ))
            })?;
            let expired = !self.max_lifetime.is_zero()
                && deadpool_postgres::Object::metrics(&client).age() > self.max_lifetime;
            if !expired {
                return Ok(client);
            }
            drop(deadpool_postgres::Object::take(client));
        }
    }

    fn password_value(&self, password: &str) -> Zeroizing<String> {
        match self.password_authentication {
            PasswordAuthentication::Password => Zeroizing::new(password.to_string()),
            PasswordAuthentication::ScramSha256 => Zeroizing::new(
                postgres_protocol::password::scram_sha_256(password.as_bytes()),
            ),
        }
    }

    /// Runs every query of `statements` in one transaction: all or nothing. A transaction
    /// that lost a race on a shared catalog row (two grants on one table at once) is retried.
    async fn run_in_transaction(
        &self,
        statements: &[String],
        values: &[(&str, &str)],
    ) -> Result<(), DbError> {
        let mut attempt = 0;
        loop {
            match self.try_transaction(statements, values).await {
                Err(Failure::Retryable(_)) if attempt < MAX_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(retry_delay(attempt)).await;
                }
                Err(Failure::Retryable(e) | Failure::Fatal(e)) => return Err(e),
                Ok(()) => return Ok(()),
            }
        }
    }

    async fn try_transaction(
        &self,
        statements: &[String],
        values: &[(&str, &str)],
    ) -> Result<(), Failure> {
        let mut client = self.client().await.map_err(Failure::Fatal)?;
        let tx = client.transaction().await.map_err(|e| {
            self.failure(&e, format!("unable to start transaction: {}", pg_error(&e)))
        })?;
        for stmt in statements {
            let queries = if multiline(stmt) {
                vec![stmt.trim().to_string()]
            } else {
                split(stmt, Dialect::Postgres)
            };
            for q in queries {
                let sql = render(&q, values, Dialect::Postgres).map_err(Failure::Fatal)?;
                tx.batch_execute(&sql).await.map_err(|e| {
                    self.failure(&e, format!("failed to execute query: {}", pg_error(&e)))
                })?;
            }
        }
        tx.commit()
            .await
            .map_err(|e| self.failure(&e, format!("failed to commit: {}", pg_error(&e))))
    }

    /// Classifies a driver error: a lost race is worth another try, anything else is not.
    fn failure(&self, e: &tokio_postgres::Error, text: String) -> Failure {
        if retryable(e) {
            Failure::Retryable(self.err(text))
        } else {
            Failure::Fatal(self.err(text))
        }
    }

    /// Runs one statement outside a transaction, retrying a lost race.
    async fn execute_retrying(
        &self,
        client: &deadpool_postgres::Object,
        sql: &str,
    ) -> Result<(), tokio_postgres::Error> {
        let mut attempt = 0;
        loop {
            match client.batch_execute(sql).await {
                Err(e) if retryable(&e) && attempt < MAX_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(retry_delay(attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn default_delete(&self, username: &str) -> Result<(), DbError> {
        let client = self.client().await?;
        let exists: bool = client
            .query_one(
                "SELECT exists (SELECT rolname FROM pg_roles WHERE rolname=$1)",
                &[&username],
            )
            .await
            .map_err(|e| self.err(pg_error(&e)))?
            .get(0);
        if !exists {
            return Ok(());
        }
        let user = quote_identifier(username);
        let mut revocations = Vec::new();
        for row in client
            .query(
                "SELECT DISTINCT table_schema FROM information_schema.role_column_grants WHERE grantee=$1",
                &[&username],
            )
            .await
            .map_err(|e| self.err(pg_error(&e)))?
        {
            let schema: String = row.get(0);
            let schema = quote_identifier(&schema);
            revocations.push(format!(
                "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA {schema} FROM {user}"
            ));
            revocations.push(format!("REVOKE USAGE ON SCHEMA {schema} FROM {user}"));
        }
        revocations.push(format!(
            "REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM {user}"
        ));
        revocations.push(format!(
            "REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public FROM {user}"
        ));
        revocations.push(format!("REVOKE USAGE ON SCHEMA public FROM {user}"));
        let dbname: Option<String> = client
            .query_one("SELECT current_database()", &[])
            .await
            .map_err(|e| self.err(pg_error(&e)))?
            .get(0);
        if let Some(db) = dbname {
            revocations.push(format!(
                "REVOKE CONNECT ON DATABASE {} FROM {user}",
                quote_identifier(&db)
            ));
        }
        let mut last = None;
        for q in &revocations {
            if let Err(e) = self.execute_retrying(&client, q).await {
                last = Some(pg_error(&e));
            }
        }
        if let Some(e) = last {
            return Err(self.err(format!("could not perform all revocation statements: {e}")));
        }
        self.execute_retrying(&client, &format!("DROP ROLE IF EXISTS {user}"))
            .await
            .map_err(|e| self.err(pg_error(&e)))
    }
}

#[async_trait]
impl Database for Postgres {
    async fn new_user(&self, req: NewUserRequest) -> Result<String, DbError> {
        if req.statements.is_empty() {
            return Err(DbError::Invalid("empty creation statements".into()));
        }
        let meta = req.username_config.template_values();
        let username = self
            .usernames
            .generate(&meta, &mut arca_sdk::random::fill)
            .map_err(|e| DbError::Invalid(format!("failed to generate username: {e}")))?;
        let expiration = crate::statements::expiration_text(req.expiration);
        let password = self.password_value(&req.password);
        let values = [
            ("name", username.as_str()),
            ("username", username.as_str()),
            ("password", password.as_str()),
            ("expiration", expiration.as_str()),
        ];
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
            return Err(e.sanitized(&[req.password.as_str()]));
        }
        Ok(username)
    }

    async fn update_user(&self, req: UpdateUserRequest) -> Result<(), DbError> {
        if req.username.is_empty() {
            return Err(DbError::Invalid("missing username".into()));
        }
        if req.password.is_none() && req.expiration.is_none() {
            return Err(DbError::Invalid("no changes requested".into()));
        }
        let mut errors = Vec::new();
        if let Some(p) = &req.password {
            if p.new_password.is_empty() {
                return Err(DbError::Invalid("missing password".into()));
            }
            let stmts = if p.statements.is_empty() {
                vec![DEFAULT_CHANGE_PASSWORD_STATEMENT.to_string()]
            } else {
                p.statements.clone()
            };
            let password = self.password_value(&p.new_password);
            let values = [
                ("name", req.username.as_str()),
                ("username", req.username.as_str()),
                ("password", password.as_str()),
            ];
            if let Err(e) = self.run_in_transaction(&stmts, &values).await {
                errors.push(
                    e.sanitized(&[p.new_password.as_str()])
                        .message()
                        .to_string(),
                );
            }
        }
        if let Some(x) = &req.expiration {
            let stmts = if x.statements.is_empty() {
                vec![DEFAULT_EXPIRATION_STATEMENT.to_string()]
            } else {
                x.statements.clone()
            };
            let expiration = crate::statements::expiration_text(x.new_expiration);
            let values = [
                ("name", req.username.as_str()),
                ("username", req.username.as_str()),
                ("expiration", expiration.as_str()),
            ];
            if let Err(e) = self.run_in_transaction(&stmts, &values).await {
                errors.push(e.message().to_string());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DbError::Database(errors.join("; ")))
        }
    }

    async fn delete_user(&self, req: DeleteUserRequest) -> Result<(), DbError> {
        if req.statements.is_empty() {
            return self.default_delete(&req.username).await;
        }
        let values = [
            ("name", req.username.as_str()),
            ("username", req.username.as_str()),
        ];
        self.run_in_transaction(&req.statements, &values).await
    }

    fn type_name(&self) -> &'static str {
        "pgx"
    }

    async fn close(&self) {
        self.pool.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiline_blocks_are_recognised_outside_quotes_only() {
        assert!(multiline("DO $$ BEGIN CREATE ROLE \"{{name}}\"; END $$;"));
        assert!(!multiline("CREATE ROLE \"END\" WITH PASSWORD 'END';"));
    }
}
