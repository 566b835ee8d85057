//! A PostgreSQL of the test's own that checks passwords (`scram-sha-256`), because the
//! machine's PostgreSQL trusts every local login and so cannot show that a password works or
//! stops working. `initdb` into a temporary directory (as the `postgres` user: PostgreSQL
//! refuses to run as root), `pg_ctl start` on a free port, stopped and removed on drop.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// Where Debian puts PostgreSQL's server programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The superuser's password.
pub const SUPERUSER_PASSWORD: &str = "root-pw-for-tests";

/// A running PostgreSQL with password authentication.
pub struct ScramPostgres {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    dir: tempfile::TempDir,
}

fn pg_bin(name: &str) -> PathBuf {
    PathBuf::from(PG_BIN).join(name)
}

/// Runs a PostgreSQL program as the `postgres` user, or as ourselves when we are not root.
fn as_postgres(program: &str, args: &[&str]) -> std::process::Output {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let out = if is_root {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_bin(program))
            .args(args)
            .output()
    } else {
        Command::new(pg_bin(program)).args(args).output()
    };
    out.unwrap_or_else(|e| panic!("running {program}: {e} (is PostgreSQL 15 installed?)"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl ScramPostgres {
    /// Initialises and starts a cluster; panics (the test fails) if PostgreSQL cannot start.
    pub fn start() -> ScramPostgres {
        let dir = tempfile::Builder::new()
            .prefix("arca-scram-pg")
            .tempdir()
            .expect("tempdir");
        let chown = |p: &std::path::Path| {
            let _ = Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(p)
                .status();
        };
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).expect("pwfile");
        chown(dir.path());
        let d = data.to_string_lossy().to_string();
        let pw = pwfile.to_string_lossy().to_string();
        let out = as_postgres(
            "initdb",
            &[
                "-D",
                &d,
                "--auth=scram-sha-256",
                "--username=postgres",
                "--pwfile",
                &pw,
                "--encoding=UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let sock = dir.path().to_string_lossy().to_string();
        let log = dir.path().join("log").to_string_lossy().to_string();
        let opts = format!(
            "-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        );
        let out = as_postgres(
            "pg_ctl",
            &["-D", &d, "-o", &opts, "-l", &log, "-w", "start"],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {} {}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        ScramPostgres { port, dir }
    }

    /// A connection URL for `user`/`password` to database `postgres`.
    pub fn url(&self, user: &str, password: &str) -> String {
        format!(
            "postgresql://{user}:{password}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// The templated URL Arca and OpenBao are configured with.
    pub fn template_url(&self) -> String {
        self.url("{{username}}", "{{password}}")
    }

    /// Logs in as `user`; the connection or the refusal's text.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
    ) -> Result<tokio_postgres::Client, String> {
        let config = format!(
            "host=127.0.0.1 port={} user={user} password={password} dbname=postgres sslmode=disable connect_timeout=10",
            self.port
        );
        match tokio_postgres::connect(&config, tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(client)
            }
            Err(e) => Err(match e.as_db_error() {
                Some(db) => db.message().to_string(),
                None => e.to_string(),
            }),
        }
    }

    /// A superuser connection.
    pub async fn superuser(&self) -> tokio_postgres::Client {
        self.login("postgres", SUPERUSER_PASSWORD)
            .await
            .expect("superuser login")
    }

    /// Whether a role exists.
    pub async fn role_exists(&self, name: &str) -> bool {
        let c = self.superuser().await;
        c.query_one("SELECT count(*) FROM pg_roles WHERE rolname = $1", &[&name])
            .await
            .map(|r| r.get::<_, i64>(0) > 0)
            .expect("pg_roles")
    }

    /// Roles whose name starts with `prefix`.
    pub async fn roles_like(&self, prefix: &str) -> Vec<String> {
        let c = self.superuser().await;
        let pattern = format!("{prefix}%");
        c.query(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE $1",
            &[&pattern],
        )
        .await
        .expect("pg_roles")
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
    }
}

impl Drop for ScramPostgres {
    fn drop(&mut self) {
        let d = self.dir.path().join("data").to_string_lossy().to_string();
        let _ = as_postgres("pg_ctl", &["-D", &d, "-m", "immediate", "-w", "stop"]);
    }
}
