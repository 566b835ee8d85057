//! The per-invocation context: streams, environment, runtime, and the shared plumbing
//! every command uses (client construction, output, prompting).

use arca_api::{ApiError, Client, Secret, TlsOptions};
pub use arca_sdk::namespace::canonicalize as canonical_namespace;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::Io;
use crate::flags::Parsed;
use crate::output::{self, Format};

/// How to read a secret (an unseal key) that was not given on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretPrompt {
    /// Read from the controlling terminal without echo.
    Terminal,
    /// Read one line from [`Io::stdin`] (tests, scripted use).
    Reader,
    /// Stdin is not a terminal: fail as Vault does.
    NotATerminal,
}

/// The default server address, as Vault's.
pub const DEFAULT_ADDRESS: &str = "https://127.0.0.1:8200";

/// Everything one command invocation works with.
pub struct Ctx<'a, 'b> {
    io: &'a mut Io<'b>,
    rt: tokio::runtime::Runtime,
}

impl<'a, 'b> Ctx<'a, 'b> {
    /// Wrap the streams and a runtime.
    pub fn new(io: &'a mut Io<'b>, rt: tokio::runtime::Runtime) -> Self {
        Ctx { io, rt }
    }

    /// Print a line on stdout.
    pub fn out(&mut self, text: &str) {
        let _ = writeln!(self.io.stdout, "{text}");
    }

    /// Print text on stdout without a newline.
    pub fn out_raw(&mut self, text: &str) {
        let _ = write!(self.io.stdout, "{text}");
    }

    /// Print a line on stderr.
    pub fn err(&mut self, text: &str) {
        let _ = writeln!(self.io.stderr, "{text}");
    }

    /// Print text on stderr without a newline.
    pub fn err_raw(&mut self, text: &str) {
        let _ = write!(self.io.stderr, "{text}");
    }

    /// An environment variable, `None` when unset or empty.
    pub fn env(&self, name: &str) -> Option<String> {
        self.io.env.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// The first set variable of `names`.
    pub fn env_any(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| self.env(n))
    }

    /// Read all of stdin.
    pub fn read_stdin(&mut self) -> std::io::Result<String> {
        let mut s = String::new();
        self.io.stdin.read_to_string(&mut s)?;
        Ok(s)
    }

    /// Run a future to completion on the command's runtime.
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    /// Run a future to completion on the command's runtime, writing each line `lines`
    /// receives to stderr as it arrives (progress of work that runs concurrently).
    pub fn block_on_logging<F: std::future::Future>(
        &mut self,
        fut: F,
        lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    ) -> F::Output {
        let stderr = &mut self.io.stderr;
        self.rt.block_on(async {
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    out = &mut fut => {
                        while let Ok(line) = lines.try_recv() {
                            let _ = writeln!(stderr, "{line}");
                        }
                        return out;
                    }
                    Some(line) = lines.recv() => {
                        let _ = writeln!(stderr, "{line}");
                    }
                }
            }
        })
    }

    /// The output format: `-format`, else `VAULT_FORMAT`/`BAO_FORMAT`, else table.
    pub fn format(&self, p: &Parsed) -> Result<Format, String> {
        if p.is_set("format") {
            return Format::parse(&p.str("format"));
        }
        match self.env_any(&["BAO_FORMAT", "VAULT_FORMAT"]) {
            Some(f) => Format::parse(&f),
            None => Ok(Format::Table),
        }
    }

    /// The token: `VAULT_TOKEN`/`BAO_TOKEN`, else the token file `~/.vault-token`.
    pub fn token(&self) -> Option<Zeroizing<String>> {
        if let Some(t) = self.env_any(&["BAO_TOKEN", "VAULT_TOKEN"]) {
            return Some(Zeroizing::new(t));
        }
        let path = self.token_file()?;
        let text = Zeroizing::new(std::fs::read_to_string(path).ok()?);
        let t = text.trim();
        (!t.is_empty()).then(|| Zeroizing::new(t.to_string()))
    }

    /// Path of the token file (`$HOME/.vault-token`).
    pub fn token_file(&self) -> Option<std::path::PathBuf> {
        self.env("HOME")
            .map(|h| std::path::Path::new(&h).join(".vault-token"))
    }

    /// The namespace to send, canonicalised (`team-a` becomes `team-a/`) as `bao` does:
    /// `-ns`, else `-namespace`, else `BAO_NAMESPACE`/`VAULT_NAMESPACE`. A flag given empty
    /// (`-namespace=`) means the root namespace even when the environment names another.
    pub fn namespace(&self, p: &Parsed) -> Option<String> {
        let chosen = if p.is_set("ns") {
            p.str("ns")
        } else if p.is_set("namespace") {
            p.str("namespace")
        } else {
            self.env_any(&["BAO_NAMESPACE", "VAULT_NAMESPACE"])?
        };
        Some(canonical_namespace(&chosen)).filter(|n| !n.is_empty())
    }

    /// Build a client from the HTTP flags and the environment.
    pub fn client(&self, p: &Parsed) -> Result<Client, ApiError> {
        let address = if p.is_set("address") {
            p.str("address")
        } else {
            self.env_any(&["BAO_ADDR", "VAULT_ADDR"])
                .unwrap_or_else(|| DEFAULT_ADDRESS.to_string())
        };
        let tls = self.tls_options(p);
        let namespace = self.namespace(p);
        let wrap_ttl = Some(p.str("wrap-ttl"))
            .filter(|w| !w.is_empty())
            .or_else(|| self.env_any(&["BAO_WRAP_TTL", "VAULT_WRAP_TTL"]));
        let mut client = Client::new(&address)?.with_tls(&tls)?;
        if let Some(t) = self.token() {
            client = client.with_token(t.as_str());
        }
        Ok(client.with_namespace(namespace).with_wrap_ttl(wrap_ttl))
    }

    /// The TLS settings of the HTTP flags and the environment (`-ca-cert`, `-client-cert`,
    /// `-client-key`, `-tls-skip-verify` and their `BAO_`/`VAULT_` variables).
    pub fn tls_options(&self, p: &Parsed) -> TlsOptions {
        let mut tls = TlsOptions::default();
        let ca = if p.is_set("ca-cert") {
            Some(p.str("ca-cert"))
        } else {
            self.env_any(&["BAO_CACERT", "VAULT_CACERT"])
        };
        tls.ca_cert = ca.filter(|c| !c.is_empty()).map(Into::into);
        tls.skip_verify = p.bool("tls-skip-verify")
            || self
                .env_any(&["BAO_SKIP_VERIFY", "VAULT_SKIP_VERIFY"])
                .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "TRUE" | "True"));
        let file = |flag: &str, vars: &[&str]| {
            let v = if p.is_set(flag) {
                Some(p.str(flag))
            } else {
                self.env_any(vars)
            };
            v.filter(|v| !v.is_empty()).map(Into::into)
        };
        tls.client_cert = file("client-cert", &["BAO_CLIENT_CERT", "VAULT_CLIENT_CERT"]);
        tls.client_key = file("client-key", &["BAO_CLIENT_KEY", "VAULT_CLIENT_KEY"]);
        tls
    }

    /// Ask for a secret without echo, as configured by [`Io::prompt`]; prompt on stdout.
    pub fn prompt_secret(&mut self, prompt: &str) -> Result<Zeroizing<String>, String> {
        self.prompt_on(prompt, false)
    }

    /// Like [`Ctx::prompt_secret`], with the prompt on stderr (auth method helpers).
    pub fn prompt_secret_stderr(&mut self, prompt: &str) -> Result<Zeroizing<String>, String> {
        self.prompt_on(prompt, true)
    }

    fn prompt_on(&mut self, prompt: &str, stderr: bool) -> Result<Zeroizing<String>, String> {
        let newline = |ctx: &mut Self| {
            if stderr {
                ctx.err("");
            } else {
                ctx.out("");
            }
        };
        if stderr {
            self.err_raw(prompt);
        } else {
            self.out_raw(prompt);
        }
        let _ = self.io.stdout.flush();
        match self.io.prompt {
            SecretPrompt::Terminal => {
                let v = rpassword::read_password().map_err(|e| e.to_string());
                newline(self);
                v.map(Zeroizing::new)
            }
            SecretPrompt::Reader => {
                let mut line = Zeroizing::new(String::new());
                self.io
                    .stdin
                    .read_line(&mut line)
                    .map_err(|e| e.to_string())?;
                newline(self);
                Ok(Zeroizing::new(line.trim().to_string()))
            }
            SecretPrompt::NotATerminal => {
                newline(self);
                Err("file descriptor 0 is not a terminal".to_string())
            }
        }
    }

    /// Print data (a non-secret answer) as JSON or YAML.
    pub fn output_data(&mut self, format: Format, data: &Value) -> i32 {
        match format {
            Format::Yaml => {
                let y = output::yaml_text(data);
                self.out(&y);
            }
            _ => {
                let j = output::json_text(&output::sorted(data));
                self.out(&j);
            }
        }
        0
    }

    /// Print a structure whose field order matters (JSON) or sorted (YAML).
    pub fn output_struct<T: serde::Serialize>(&mut self, format: Format, value: &T) -> i32 {
        match format {
            Format::Yaml => {
                let v = serde_json::to_value(value).unwrap_or(Value::Null);
                let y = output::yaml_text(&v);
                self.out(&y);
            }
            _ => {
                let j = output::json_text(value);
                self.out(&j);
            }
        }
        0
    }

    /// The secret a read of `path` found, as `bao` reports a miss: nothing there prints
    /// `No value found at PATH`, a failure `Error reading PATH: ERR`; both exit 2.
    pub fn found(
        &mut self,
        path: &str,
        read: Result<Option<Secret>, ApiError>,
    ) -> Result<Secret, i32> {
        match read {
            Ok(Some(secret)) => Ok(secret),
            Ok(None) => {
                self.err(&format!("No value found at {path}"));
                Err(2)
            }
            Err(e) => {
                self.err(&format!("Error reading {path}: {e}"));
                Err(2)
            }
        }
    }

    /// Report the result of a write to `path` as `bao` does: an empty answer prints
    /// `Success! Data written to: PATH` (table format only) and exits 0, an answer with data
    /// goes to `print`, a failure prints `Error writing data to PATH: ERR` and exits 2.
    pub fn report_write(
        &mut self,
        format: Format,
        path: &str,
        result: Result<Option<Secret>, ApiError>,
        print: impl FnOnce(&mut Self, &Secret) -> i32,
    ) -> i32 {
        match result {
            Ok(None) => {
                if format == Format::Table {
                    self.out(&format!("Success! Data written to: {path}"));
                }
                0
            }
            Ok(Some(secret)) => print(self, &secret),
            Err(e) => {
                self.err(&format!("Error writing data to {path}: {e}"));
                2
            }
        }
    }

    /// Print a secret in `format` (table rows, JSON or YAML), warnings on stderr for tables.
    pub fn output_secret(&mut self, format: Format, secret: &Secret) -> i32 {
        match format {
            Format::Table | Format::Raw => {
                let rows = output::secret_rows(secret);
                if !rows.is_empty() {
                    let t = output::kv_table(rows);
                    self.out(&t);
                }
                self.print_warnings(secret);
                0
            }
            _ => self.output_struct(format, secret),
        }
    }

    /// Print a secret's warnings block on stderr, if it has warnings.
    pub fn print_warnings(&mut self, secret: &Secret) {
        if let Some(w) = &secret.warnings
            && !w.is_empty()
        {
            let text = output::warnings_text(w);
            self.err_raw(&text);
        }
    }

    /// Print one field of a secret (`-field`), raw for table format.
    pub fn output_field(&mut self, format: Format, secret: &Secret, field: &str) -> i32 {
        match output::secret_field(secret, field) {
            None => {
                self.err(&format!("Field {field:?} not present in secret"));
                1
            }
            Some(v) => self.print_value(format, &v),
        }
    }

    /// Print one value raw (table/raw format) or as JSON/YAML.
    pub fn print_value(&mut self, format: Format, v: &Value) -> i32 {
        match format {
            Format::Table | Format::Raw => {
                let text = output::go_value(v);
                self.print_raw(&text);
                0
            }
            Format::Yaml => {
                let text = output::yaml_text(v);
                self.print_raw(&text);
                0
            }
            Format::Json => {
                let text = output::json_text(&output::sorted(v));
                self.print_raw(&text);
                0
            }
        }
    }

    /// Print a raw value: with a newline on a terminal, bare otherwise (as Vault).
    pub fn print_raw(&mut self, text: &str) {
        if self.io.stdout_is_terminal {
            self.out(text);
        } else {
            self.out_raw(text);
        }
    }
}
