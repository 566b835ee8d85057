//! `arca server`: reads the config (or builds the dev one), opens storage, builds the core with
//! every builtin backend, and serves the listeners until interrupted.

use std::collections::HashMap;
use std::ffi::OsString;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use arca_config::{ClientCertMode, ListenerConfig, ServerConfig};
use arca_core::{BackendRegistry, Core, CoreConfig};
use arca_http::{ListenerOptions, RequestHandler, TlsOptions, TlsVersion};
use tokio_util::sync::CancellationToken;

/// Server command-line flags, Go-style (`-flag=value`, `-flag value`, `--flag`). `Debug`
/// redacts the dev root token.
#[derive(Default)]
struct Flags {
    configs: Vec<PathBuf>,
    dev: bool,
    dev_root_token_id: Option<zeroize::Zeroizing<String>>,
    dev_listen_address: Option<String>,
    dev_no_store_token: bool,
    dev_plugin_dir: Option<PathBuf>,
    log_level: Option<String>,
}

impl std::fmt::Debug for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flags")
            .field("configs", &self.configs)
            .field("dev", &self.dev)
            .field(
                "dev_root_token_id",
                &arca_sdk::redact::redacted_option(&self.dev_root_token_id),
            )
            .field("dev_listen_address", &self.dev_listen_address)
            .field("dev_no_store_token", &self.dev_no_store_token)
            .field("dev_plugin_dir", &self.dev_plugin_dir)
            .field("log_level", &self.log_level)
            .finish()
    }
}

/// Environment variable (a Go duration) that shortens the backoff between failed lease
/// revocations; for tests only.
pub const LEASE_RETRY_BASE_ENV: &str = "ARCA_LEASE_REVOKE_RETRY_BASE";

const USAGE: &str = "Usage: arca server [options]

  Starts an Arca server that speaks the Vault/OpenBao HTTP API.

  -config=<path>             Path to a configuration file or directory (repeatable).
  -dev                       In-memory, unsealed server with one unseal key and a root token.
  -dev-root-token-id=<id>    Root token id in dev mode.
  -dev-listen-address=<addr> Address to listen on in dev mode (default 127.0.0.1:8200).
  -dev-no-store-token        Do not write the dev root token to ~/.vault-token.
  -dev-plugin-dir=<dir>      Plugin directory in dev mode.
  -log-level=<level>         trace, debug, info, warn or error.
";

fn parse_flags(args: Vec<OsString>) -> Result<Flags> {
    let mut f = Flags::default();
    let mut it = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .peekable();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "-help" || arg == "--help" {
            print!("{USAGE}");
            std::process::exit(0);
        }
        let Some(stripped) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            bail!("unexpected argument {arg:?}\n\n{USAGE}");
        };
        let (name, inline) = match stripped.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (stripped.to_string(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .ok_or_else(|| anyhow!("flag needs an argument: -{name}")),
            }
        };
        let boolean =
            |inline: &Option<String>| inline.as_deref().is_none_or(|v| v == "true" || v == "1");
        match name.as_str() {
            "config" => f.configs.push(PathBuf::from(value("config")?)),
            "dev" => f.dev = boolean(&inline),
            "dev-root-token-id" => {
                f.dev_root_token_id = Some(zeroize::Zeroizing::new(value("dev-root-token-id")?))
            }
            "dev-listen-address" => f.dev_listen_address = Some(value("dev-listen-address")?),
            "dev-no-store-token" => f.dev_no_store_token = boolean(&inline),
            "dev-plugin-dir" => f.dev_plugin_dir = Some(PathBuf::from(value("dev-plugin-dir")?)),
            "log-level" => f.log_level = Some(value("log-level")?),
            other => bail!("flag provided but not defined: -{other}\n\n{USAGE}"),
        }
    }
    Ok(f)
}

/// Entry point of `arca server`; returns the process exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let flags = match parse_flags(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error starting the runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(flags)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e:#}");
            1
        }
    }
}

/// Serves core requests to the HTTP layer.
struct CoreHandler(
    Core,
    crate::cluster::Forwarders,
    Option<crate::raft::RaftStorage>,
    /// `ui = true`: `/ui/` is served (with the UI's headers).
    bool,
);

/// Written out instead of through `#[async_trait]`: the core's future is boxed directly, not
/// wrapped in one more `async` block first, so the (large) request future is moved once per
/// request, not twice.
impl RequestHandler for CoreHandler {
    fn handle<'a, 'b>(
        &'a self,
        req: arca_sdk::Request,
    ) -> Pin<Box<dyn Future<Output = HandlerResult> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        if let Some(raft) = &self.2
            && crate::raft::intercepts(&req.path)
        {
            return Box::pin(crate::raft::intercept(raft.clone(), self.0.clone(), req));
        }
        self.0.handle_boxed(req)
    }

    fn metrics(&self, format: &str) -> Option<arca_sdk::RawHttp> {
        let answer = self.0.metrics().answer(format);
        Some(arca_sdk::RawHttp {
            status: answer.status,
            content_type: answer.content_type.to_owned(),
            body: answer.body,
            stream: None,
        })
    }

    fn ha_route(&self) -> arca_http::HaRoute {
        self.1.route(&self.0)
    }

    fn forward_failed<'a, 'b>(&'a self) -> Pin<Box<dyn Future<Output = ()> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        Box::pin(async move {
            if let Err(e) = self.0.refresh_leader().await {
                tracing::debug!(error = %e, "ha: could not look the active node up again");
            }
        })
    }

    fn echo(&self, node: serde_json::Value) {
        crate::cluster::record_echo(&self.0, node);
    }

    fn rate_limit(&self, ask: &arca_http::RateLimitAsk<'_>) -> arca_http::RateLimitVerdict {
        match self.0.rate_limit(&core_ask(ask)) {
            arca_core::RateLimitVerdict::Allowed(h) => arca_http::RateLimitVerdict::Allowed(h),
            arca_core::RateLimitVerdict::Refused(h) => arca_http::RateLimitVerdict::Refused(h),
            arca_core::RateLimitVerdict::NeedsRole => arca_http::RateLimitVerdict::NeedsRole,
        }
    }

    fn audits_rate_limited(&self) -> bool {
        self.0.audits_rate_limited()
    }

    fn audit_rate_limited<'a, 'e>(
        &'a self,
        req: arca_sdk::Request,
        error: String,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'e>>
    where
        'a: 'e,
        Self: 'e,
    {
        Box::pin(async move { self.0.audit_rate_limited(&req, &error).await })
    }

    fn login_role<'a, 'b, 'c, 'd, 'e>(
        &'a self,
        ask: &'b arca_http::RateLimitAsk<'c>,
        body: &'d serde_json::Map<String, serde_json::Value>,
    ) -> Pin<Box<dyn Future<Output = String> + Send + 'e>>
    where
        'a: 'e,
        'b: 'e,
        'c: 'e,
        'd: 'e,
        Self: 'e,
    {
        Box::pin(async move { self.0.quota_login_role(&core_ask(ask), body).await })
    }

    fn cors(&self) -> Option<Arc<arca_sdk::http_settings::CorsConfig>> {
        Some(self.0.cors_config())
    }

    fn ui_headers(&self) -> Option<Arc<arca_sdk::http_settings::UiHeaders>> {
        self.3.then(|| self.0.ui_headers())
    }
}

/// The HTTP layer's rate-limit question as the core takes it.
fn core_ask<'a>(ask: &arca_http::RateLimitAsk<'a>) -> arca_core::RateLimitAsk<'a> {
    arca_core::RateLimitAsk {
        path: ask.path,
        namespace: ask.namespace,
        client: ask.client,
        role: ask.role,
    }
}

/// What a request handler answers.
type HandlerResult = Result<Option<arca_sdk::Response>, arca_sdk::LogicalError>;

/// Every builtin secrets engine and auth method.
fn registry() -> BackendRegistry {
    let mut r = BackendRegistry::default();
    for (name, factory) in arca_engines::builtin_secrets() {
        r.secrets.insert(name.to_string(), factory);
    }
    r.secrets
        .insert("transit".to_string(), arca_transit::factory());
    r.secrets
        .insert("rabbitmq".to_string(), arca_rabbitmq::factory());
    r.secrets.insert("pki".to_string(), arca_pki::factory());
    r.secrets
        .insert("database".to_string(), arca_database::factory());
    r.databases = arca_database::plugin::BUILTIN_NAMES
        .iter()
        .map(|n| n.to_string())
        .collect();
    for (name, factory) in arca_auth::builtin_auth() {
        r.auth.insert(name.to_string(), factory);
    }
    // One implementation serves both names, as in OpenBao.
    r.auth.insert("jwt".to_string(), arca_auth_jwt::factory());
    r.auth.insert("oidc".to_string(), arca_auth_jwt::factory());
    r.auth.insert("cert".to_string(), arca_auth_cert::factory());
    r.auth
        .insert("kubernetes".to_string(), arca_auth_kubernetes::factory());
    r
}

fn listener_options(l: &ListenerConfig) -> Result<ListenerOptions> {
    let address: SocketAddr = l
        .address
        .parse()
        .with_context(|| format!("listener address {:?} is not host:port", l.address))?;
    let mut o = ListenerOptions::new(address);
    o.max_request_size = l.max_request_size_bytes();
    o.max_request_duration = l.max_request_duration;
    o.metrics = arca_http::MetricsAccess {
        unauthenticated: l.telemetry.unauthenticated_metrics_access,
        disallow: l.telemetry.disallow_metrics,
        only: l.telemetry.metrics_only,
        path: l.telemetry.metrics_path.clone(),
    };
    crate::http_options::apply(&l.http, &mut o);
    if !l.tls_disable {
        let (Some(cert), Some(key)) = (&l.tls_cert_file, &l.tls_key_file) else {
            bail!(
                "listener {}: tls_cert_file and tls_key_file are required unless tls_disable = true",
                l.address
            );
        };
        let mut t = TlsOptions::new(cert, key);
        t.client_ca_file = l.tls_client_ca_file.clone();
        t.min_version = TlsVersion::parse(&l.tls_min_version).unwrap_or(TlsVersion::Tls12);
        t.max_version = l.tls_max_version.as_deref().and_then(TlsVersion::parse);
        match l.client_cert_mode() {
            ClientCertMode::Disabled => t.disable_client_certs = true,
            ClientCertMode::Required => t.require_and_verify_client_cert = true,
            ClientCertMode::Requested => {}
        }
        o.tls = Some(t);
    }
    Ok(o)
}

fn dev_config(flags: &Flags) -> ServerConfig {
    let address = flags
        .dev_listen_address
        .clone()
        .unwrap_or_else(|| "127.0.0.1:8200".to_string());
    let mut listener = ListenerConfig {
        address: address.clone(),
        ..ListenerConfig::default()
    };
    listener.kind = "tcp".into();
    listener.tls_disable = true;
    // As bao's dev mode: metrics readable without a token, Prometheus kept 24h, no host
    // name in gauge names.
    listener.telemetry.unauthenticated_metrics_access = true;
    ServerConfig {
        storage: Some(arca_config::StorageConfig {
            kind: "inmem".into(),
            options: Default::default(),
        }),
        listeners: vec![listener],
        plugin_directory: flags.dev_plugin_dir.clone(),
        // As bao's dev mode: clients are told to come back to the listener.
        api_addr: Some(format!("http://{address}")),
        telemetry: Some(arca_config::TelemetryConfig {
            disable_hostname: true,
            ..arca_config::TelemetryConfig::default()
        }),
        ui: true,
        ..ServerConfig::default()
    }
}

async fn run(flags: Flags) -> Result<()> {
    let config = if flags.dev {
        dev_config(&flags)
    } else {
        if flags.configs.is_empty() {
            bail!("A storage backend must be specified (use -config=<file> or -dev)");
        }
        arca_config::load_files(&flags.configs).map_err(|e| anyhow!("{e}"))?
    };
    let level = flags
        .log_level
        .clone()
        .or_else(|| config.log_level.clone())
        .unwrap_or_else(|| "info".to_string());
    let logging = Arc::new(crate::logging::Logging::init(&level));
    let in_flight = Arc::new(arca_http::InFlight::default());
    let mut signals = Signals::install();
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let storage = config
        .storage
        .clone()
        .ok_or_else(|| anyhow!("A storage backend must be specified"))?;
    let options: HashMap<String, String> = storage.options.clone().into_iter().collect();
    if config.listeners.is_empty() {
        bail!("at least one listener must be configured");
    }
    let opened = crate::cluster::open_storage(
        &storage.kind,
        &options,
        config.api_addr.as_deref(),
        config.cluster_addr.as_deref(),
    )
    .await?;
    let raft = opened.raft.clone();

    let mut core_config = CoreConfig::new(opened.physical, &storage.kind);
    if let Some(ha) = opened.ha {
        core_config.ha = Some(crate::cluster::ha_config(
            ha,
            config.api_addr.as_deref(),
            config.cluster_addr.as_deref(),
            raft.as_ref(),
        )?);
    }
    if let Some(raft) = &raft {
        core_config.storage_admin = Some(Arc::new(raft.clone()));
    }
    core_config.registry = registry();
    core_config.server_info = Some(Arc::new(crate::introspection::Introspection {
        sanitized: config.sanitized(),
        logging: logging.clone(),
        in_flight: in_flight.clone(),
    }));
    if let Some(t) = config.default_lease_ttl {
        core_config.default_lease_ttl = t;
    }
    if let Some(t) = config.max_lease_ttl {
        core_config.max_lease_ttl = t;
    }
    core_config.cluster_name = config.cluster_name.clone();
    core_config.api_addr = config.api_addr.clone();
    core_config.plugin_directory = config.plugin_directory.clone();
    core_config.plugin_runtime = Some(Arc::new(arca_plugin::ExternalPluginRuntime));
    core_config.audit_devices = audit_devices(&config);
    core_config.user_lockouts = user_lockouts(&config);
    // Unset means refused, as OpenBao (and so in dev mode too, as `bao server -dev`).
    core_config.unsafe_allow_api_audit_creation =
        config.unsafe_allow_api_audit_creation.unwrap_or(false);
    core_config.allow_audit_log_prefixing = config.allow_audit_log_prefixing;
    core_config.custom_response_header_names = crate::http_options::custom_header_names(&config);
    if !flags.dev {
        core_config.seals = crate::transit_seal::seal_setup(&config.seals)?;
    }
    let auto_seal = core_config.seals.auto.is_some();
    let migration_from = core_config.seals.disabled.is_some();
    // A test knob (Vault has it only in its test harness): the base of the backoff between
    // failed lease revocations, so tests can watch retries without waiting minutes.
    if let Some(base) = std::env::var_os(LEASE_RETRY_BASE_ENV) {
        let text = base.to_string_lossy();
        core_config.lease_revoke_retry_base = arca_sdk::duration::parse_duration(&text)
            .map_err(|e| anyhow!("{LEASE_RETRY_BASE_ENV}: {e}"))?;
    }
    core_config.metrics =
        arca_core::Metrics::from_config(config.telemetry.as_ref(), &arca_core::reload::node_name())
            .map_err(|e| anyhow!("Error initializing telemetry: {e}"))?;
    let core = Core::new(core_config);
    core.start_metrics_loop();

    // Dev mode is initialized and unsealed before any listener opens, so a client that can
    // connect never sees it sealed.
    let dev_init = if flags.dev {
        Some(dev_bootstrap(&core, &flags).await?)
    } else {
        None
    };

    let shutdown = CancellationToken::new();
    let handler: Arc<dyn RequestHandler> = Arc::new(CoreHandler(
        core.clone(),
        crate::cluster::Forwarders::default(),
        raft.clone(),
        config.ui,
    ));
    let cluster_protocol = raft.as_ref().map(|r| r.cluster_protocol());
    if let Some(raft) = &raft {
        raft.start(core.clone());
    }
    if let Some(ha) = core.ha_config() {
        let port = crate::cluster::bind_port(
            &ha.cluster_addr,
            handler.clone(),
            cluster_protocol,
            shutdown.clone(),
        )
        .await?;
        tokio::spawn(crate::cluster::run(core.clone(), port, shutdown.clone()));
    }
    let mut handles = Vec::new();
    let mut addrs = Vec::new();
    for l in &config.listeners {
        let mut opts = listener_options(l)?;
        opts.in_flight = Some(in_flight.clone());
        let tls = opts.tls.is_some();
        let h = arca_http::serve(opts, handler.clone(), shutdown.clone())
            .await
            .map_err(|e| anyhow!("Error initializing listener of type tcp: {e}"))?;
        addrs.push((h.local_addr, tls));
        handles.push(h);
    }

    println!("==> Arca server configuration:\n");
    println!("{:>20}: {}", "Storage", storage.kind);
    for stanza in &config.seals {
        let label = if stanza.disabled() {
            "Old Seal"
        } else {
            "Seal"
        };
        println!("{label:>20}: {}", stanza.kind);
    }
    for (addr, tls) in &addrs {
        println!(
            "{:>20}: tcp (addr: \"{addr}\", tls: \"{}\")",
            "Listener",
            if *tls { "enabled" } else { "disabled" }
        );
    }
    println!("{:>20}: {}", "Log Level", level);
    println!("{:>20}: Arca v{}", "Version", env!("CARGO_PKG_VERSION"));
    println!();

    if let (Some((key, token)), Some((addr, _))) = (dev_init, addrs.first()) {
        print_dev_banner(*addr, &key, &token);
    }
    println!("==> Arca server started! Log data will stream in below:\n");
    if auto_seal {
        tokio::spawn(auto_unseal_loop(core.clone(), shutdown.clone()));
    } else if migration_from {
        match core.seal_config().await {
            Ok(Some(stored)) if !stored.is_shamir() => tracing::warn!(
                from = stored.seal_type.as_str(),
                "core: entering seal migration mode: run `operator unseal -migrate` with the recovery keys to move to shamir"
            ),
            Ok(_) => tracing::info!(
                "core: the stored keys are already under shamir; the disabled seal stanza is no longer needed"
            ),
            Err(e) => tracing::warn!(error = %e, "core: cannot read the seal configuration"),
        }
    }

    signals.wait_for_shutdown(&core).await;
    tracing::info!("==> Arca shutdown triggered");
    shutdown.cancel();
    for h in handles {
        let _ = tokio::time::timeout(Duration::from_secs(10), h.join).await;
    }
    let _ = core.seal().await;
    Ok(())
}

/// The longest wait between two failed auto-unseal attempts.
const AUTO_UNSEAL_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Unseals through the auto seal at startup, retrying with backoff while its service fails
/// (the server answers sealed meanwhile). Stops once unsealed, when the core is not
/// initialized (init unseals it), or when a seal migration waits for the operator.
async fn auto_unseal_loop(core: Core, shutdown: CancellationToken) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match core.auto_unseal().await {
            Ok(arca_core::AutoUnseal::Unsealed) => {
                tracing::info!("core: unsealed with the auto seal");
                return;
            }
            Ok(arca_core::AutoUnseal::NotInitialized) => {
                tracing::info!("core: not initialized yet; sys/init unseals it");
                return;
            }
            Ok(arca_core::AutoUnseal::MigrationPending) => {
                tracing::warn!(
                    "core: entering seal migration mode; the server will not unseal itself: run `operator unseal -migrate` with the old shares"
                );
                return;
            }
            Ok(arca_core::AutoUnseal::NotAutoSealed) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "failed to unseal core");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(AUTO_UNSEAL_MAX_BACKOFF);
    }
}

/// Initializes and unseals a dev core, mounts KV v2 at `secret/`; returns (unseal key as
/// base64, root token).
async fn dev_bootstrap(core: &Core, flags: &Flags) -> Result<(String, zeroize::Zeroizing<String>)> {
    let mut init = core
        .initialize(1, 1, None)
        .await
        .map_err(|e| anyhow!("failed to initialize the dev server: {e}"))?;
    let key = init
        .keys
        .first()
        .ok_or_else(|| anyhow!("dev init produced no key"))?;
    core.unseal_with_key(key)
        .await
        .map_err(|e| anyhow!("failed to unseal the dev server: {e}"))?;
    if let Some(id) = &flags.dev_root_token_id {
        init.root_token = dev_root_token(core, init.root_token, id).await?;
    }
    // Dev mode mounts KV v2 at secret/, as Vault does.
    let mut req = arca_sdk::Request::new(arca_sdk::Operation::Update, "sys/mounts/secret");
    req.client_token = Some(zeroize::Zeroizing::new(init.root_token.to_string()));
    let mut data = arca_sdk::JsonMap::new();
    data.insert("type".into(), "kv".into());
    data.insert("description".into(), "key/value secret storage".into());
    let mut options = arca_sdk::JsonMap::new();
    options.insert("version".into(), "2".into());
    data.insert("options".into(), serde_json::Value::Object(options));
    req.data = data;
    if let Err(e) = core.handle_request(req).await {
        tracing::warn!("dev mode: could not mount kv v2 at secret/: {e}");
    }
    if let Some(dir) = &flags.dev_plugin_dir {
        crate::dev_plugins::register_and_mount(core, dir, &init.root_token).await?;
    }
    if !flags.dev_no_store_token
        && let Some(home) = std::env::var_os("HOME")
    {
        let path = PathBuf::from(home).join(".vault-token");
        if let Err(e) = write_private(&path, init.root_token.as_bytes()) {
            tracing::warn!("dev mode: could not write {}: {e}", path.display());
        }
    }
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key.as_slice());
    Ok((b64, init.root_token))
}

/// Makes the `-dev-root-token-id` token as Vault's dev mode does: created through
/// `auth/token/create` by the init root token (so it looks up, and its lease lists, as
/// OpenBao's does: path `auth/token/create`, display name `token`), which is then revoked.
async fn dev_root_token(
    core: &Core,
    init_root: zeroize::Zeroizing<String>,
    id: &zeroize::Zeroizing<String>,
) -> Result<zeroize::Zeroizing<String>> {
    let mut req = arca_sdk::Request::new(arca_sdk::Operation::Update, "auth/token/create");
    req.client_token = Some(init_root.clone());
    let mut data = arca_sdk::JsonMap::new();
    data.insert("id".into(), id.as_str().into());
    data.insert("policies".into(), serde_json::json!(["root"]));
    data.insert("no_parent".into(), true.into());
    data.insert("no_default_policy".into(), true.into());
    req.data = data;
    core.handle_request(req)
        .await
        .map_err(|e| anyhow!("failed to create the dev root token: {e}"))?;
    let mut revoke = arca_sdk::Request::new(arca_sdk::Operation::Update, "auth/token/revoke-self");
    revoke.client_token = Some(init_root);
    core.handle_request(revoke)
        .await
        .map_err(|e| anyhow!("failed to revoke the dev server's init root token: {e}"))?;
    Ok(id.clone())
}

fn print_dev_banner(addr: SocketAddr, unseal_key: &str, root_token: &str) {
    println!(
        "WARNING! dev mode is enabled! In this mode, Arca runs entirely in-memory
and starts unsealed with a single unseal key. The root token is already
authenticated to the CLI, so you can immediately begin using Arca.

You may need to set the following environment variables:

    $ export VAULT_ADDR='http://{addr}'

The unseal key and root token are displayed below in case you want to
seal/unseal the Vault or re-authenticate.

Unseal Key: {unseal_key}
Root Token: {root_token}

Development mode should NOT be used in production installations!
"
    );
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

/// The config's `audit` stanzas, as the core takes them.
fn audit_devices(config: &ServerConfig) -> Vec<arca_core::ConfigAuditDevice> {
    config
        .audit_devices
        .iter()
        .map(|d| arca_core::ConfigAuditDevice {
            kind: d.kind.clone(),
            path: d.path.clone(),
            description: d.description.clone(),
            local: d.local,
            options: d.options.clone(),
        })
        .collect()
}

/// The config's `user_lockout` stanzas by auth method type (`all` too), as the core takes
/// them: what a stanza leaves unset is 0 / false, which the core reads as "not set".
fn user_lockouts(
    config: &ServerConfig,
) -> std::collections::HashMap<String, arca_core::mounts::UserLockoutConfig> {
    config
        .user_lockouts
        .iter()
        .map(|(kind, u)| {
            let c = arca_core::mounts::UserLockoutConfig {
                lockout_threshold: u.lockout_threshold.unwrap_or(0),
                lockout_duration: u.lockout_duration.map_or(0, |d| d.as_secs()),
                lockout_counter_reset: u.lockout_counter_reset.map_or(0, |d| d.as_secs()),
                disable_lockout: u.disable_lockout.unwrap_or(false),
            };
            (kind.clone(), c)
        })
        .collect()
}

/// The signals the server handles, installed as it starts: from then on a SIGHUP no longer
/// has its default action (ending the process).
struct Signals {
    hup: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the SIGHUP and SIGTERM handlers (SIGINT's is installed on first wait).
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        let hup = signal(SignalKind::hangup())
            .map_err(|e| tracing::warn!("cannot handle SIGHUP: {e}"))
            .ok();
        let term = signal(SignalKind::terminate())
            .map_err(|e| tracing::warn!("cannot handle SIGTERM: {e}"))
            .ok();
        Self { hup, term }
    }

    /// Waits for SIGINT or SIGTERM. Meanwhile each SIGHUP reopens the audit devices (after a
    /// log rotation), as OpenBao's reload does; a SIGHUP never stops the server.
    async fn wait_for_shutdown(&mut self, core: &Core) {
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return,
                Some(()) = async { self.term.as_mut()?.recv().await } => return,
                Some(()) = async { self.hup.as_mut()?.recv().await } => {
                    tracing::info!("reloading audit devices");
                    core.reload_audit_devices().await;
                }
            }
        }
    }
}
