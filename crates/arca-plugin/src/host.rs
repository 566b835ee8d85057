//! The host side: launches a plugin binary as OpenBao does (sha256 check right before exec,
//! go-plugin environment, handshake line, mTLS, broker) and proxies an `arca_sdk::Backend`
//! to its `pb.Backend` service.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arca_sdk::{
    Backend, BackendConfig, BackendType, ExistenceCheck, Factory, LogicalError, Request, Response,
    SpecialPaths,
};
use async_trait::async_trait;
use futures::FutureExt;
use rustls::pki_types::CertificateDer;
use subtle::ConstantTimeEq;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::convert;
use crate::error::PluginError;
use crate::handshake::{
    BACKEND_HANDSHAKE, CLIENT_CERT_ENV, HandshakeConfig, HandshakeLine, PROTOCOL_VERSIONS_ENV,
};
use crate::host_process::{self, PluginProcess, ProcessKey, Started};
use crate::host_services::serve_brokered;
use crate::proto::pb::{self, backend_client::BackendClient};
use crate::proto::{logical, logical::plugin_version_client::PluginVersionClient};
use crate::tls::{OneOffCert, client_config, server_config};
use crate::transport::{MAX_MESSAGE_SIZE, dial};

/// How long the host waits for the handshake line by default (go-plugin's `StartTimeout`).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the host waits for the process to exit after `GRPCController.Shutdown`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Puts the `multiplex_id` metadata OpenBao sends on every call (multiplexing Go plugins
/// refuse calls without it).
#[derive(Clone)]
pub struct MultiplexId(AsciiMetadataValue);

impl MultiplexId {
    /// A random 10-character base62 id.
    pub fn random() -> MultiplexId {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let id: String = (0..10)
            .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
            .collect();
        MultiplexId(
            MetadataValue::try_from(id.as_str())
                .unwrap_or_else(|_| MetadataValue::from_static("0000000000")),
        )
    }
}

impl Interceptor for MultiplexId {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("multiplex_id", self.0.clone());
        Ok(req)
    }
}

/// A gRPC channel that puts a `multiplex_id` on every call.
pub(crate) type Intercepted = InterceptedService<Channel, MultiplexId>;

/// The SHA-256 of a file, as the catalog stores it.
/// The file is read in 64 KiB pieces, never whole: a plugin binary is megabytes, and a
/// buffer that size would stay in the allocator after the check.
pub fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(buf.get(..n).unwrap_or_default());
    }
    let d = ctx.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Ok(out)
}

/// How to start one external plugin: the catalog entry's command, args, env and sha256.
#[derive(Clone)]
pub struct PluginLauncher {
    /// The binary to run (already resolved inside the plugin directory).
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Catalog `env` entries (the host's own environment wins over them, as in OpenBao).
    pub env: Vec<(String, String)>,
    /// The expected SHA-256 of the binary.
    pub sha256: [u8; 32],
    /// How long to wait for the handshake line.
    pub start_timeout: Duration,
    /// The cookie and protocol versions of the plugin's family (backend plugins unless set
    /// with [`PluginLauncher::with_handshake`]).
    pub handshake: HandshakeConfig,
}

impl std::fmt::Debug for PluginLauncher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Catalog env values may hold secrets: print only the names.
        f.debug_struct("PluginLauncher")
            .field("command", &self.command)
            .field("args", &self.args)
            .field(
                "env_keys",
                &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("sha256", &hex::encode(self.sha256))
            .field("handshake", &self.handshake.name)
            .finish()
    }
}

impl PluginLauncher {
    /// A launcher of a backend plugin with the default 60 s start timeout.
    pub fn new(
        command: PathBuf,
        args: Vec<String>,
        env: Vec<(String, String)>,
        sha256: [u8; 32],
    ) -> PluginLauncher {
        PluginLauncher {
            command,
            args,
            env,
            sha256,
            start_timeout: DEFAULT_START_TIMEOUT,
            handshake: BACKEND_HANDSHAKE,
        }
    }

    /// The same launcher for another family of plugins (e.g.
    /// [`crate::handshake::DATABASE_HANDSHAKE`]). Only backend plugins can be mounted with
    /// [`PluginLauncher::factory`] and [`PluginLauncher::launch`].
    pub fn with_handshake(mut self, handshake: HandshakeConfig) -> PluginLauncher {
        self.handshake = handshake;
        self
    }

    /// This launcher as a backend factory: every call sets up one mount (on a new process, or
    /// on the shared one when the plugin multiplexes).
    pub fn factory(self) -> Factory {
        let launcher = Arc::new(self);
        Arc::new(move |config: BackendConfig| {
            let launcher = launcher.clone();
            async move {
                let backend = ExternalBackend::start(launcher, config)
                    .await
                    .map_err(|e| LogicalError::internal(e.to_string()))?;
                Ok(backend as Arc<dyn Backend>)
            }
            .boxed()
        })
    }

    /// Hashes the binary on a blocking thread (several plugins may start at once) and
    /// compares it with the expected checksum.
    async fn check_sha256(&self) -> Result<(), PluginError> {
        let path = self.command.clone();
        let got = tokio::task::spawn_blocking(move || sha256_file(&path))
            .await
            .map_err(|e| PluginError::io("hash task", std::io::Error::other(e.to_string())))?
            .map_err(|e| PluginError::io(format!("read {}", self.command.display()), e))?;
        if bool::from(got.ct_eq(&self.sha256)) {
            Ok(())
        } else {
            Err(PluginError::Checksum)
        }
    }

    fn command(&self, own: &OneOffCert, server_version: &str) -> Command {
        let mut cmd = Command::new(&self.command);
        cmd.args(&self.args);
        // Catalog env first, then the host's environment over it, then the protocol's.
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.envs(std::env::vars_os());
        cmd.env(self.handshake.cookie_key, self.handshake.cookie_value)
            .env(PROTOCOL_VERSIONS_ENV, self.handshake.versions_env())
            .env("PLUGIN_MIN_PORT", "10000")
            .env("PLUGIN_MAX_PORT", "25000")
            .env(CLIENT_CERT_ENV, own.pem());
        for prefix in ["VAULT", "BAO"] {
            cmd.env(format!("{prefix}_VERSION"), server_version)
                .env(format!("{prefix}_PLUGIN_AUTOMTLS_ENABLED"), "true")
                .env(format!("{prefix}_PLUGIN_METADATA_MODE"), "false");
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Starts the plugin for one mount (or, when the plugin multiplexes, places the mount on
    /// the process already serving this plugin): checks the sha256, runs it, reads the
    /// handshake, dials it with mTLS, serves the mount's storage and system view on a brokered
    /// socket and calls `Setup`, `Type`, `SpecialPaths` and `PluginVersion.Version`.
    /// `Initialize` is left to [`Backend::initialize`], which the core calls next.
    pub async fn launch(&self, config: BackendConfig) -> Result<Arc<ExternalBackend>, PluginError> {
        ExternalBackend::start(Arc::new(self.clone()), config).await
    }

    fn key(&self) -> ProcessKey {
        ProcessKey {
            command: self.command.clone(),
            sha256: self.sha256,
            args: self.args.clone(),
            env: self.env.clone(),
        }
    }

    /// The process a new session goes on: the running shared one when the plugin multiplexes
    /// and it is still healthy, else a freshly started one (recorded for sharing if it
    /// multiplexes). Launches for the same plugin are serialised.
    async fn acquire(&self, server_version: &str) -> Result<Arc<PluginProcess>, PluginError> {
        let slot = host_process::slot(&self.key());
        let mut shared = slot.lock().await;
        if let Some(p) = shared.upgrade()
            && p.multiplexed
            && p.usable()
        {
            // Nothing is executed, so the file is not hashed again here (OpenBao does not
            // either): the core's catalog checks it before every mount, and a new process
            // below is checked right before exec.
            tracing::debug!(plugin = %p.name, pid = ?p.pid(), "mount joins the shared plugin process");
            return Ok(p);
        }
        let process = Arc::new(PluginProcess::connect(self.start(server_version).await?).await?);
        tracing::debug!(
            plugin = %process.name,
            pid = ?process.pid(),
            multiplexed = process.multiplexed,
            "plugin process started"
        );
        *shared = if process.multiplexed {
            Arc::downgrade(&process)
        } else {
            Weak::new()
        };
        Ok(process)
    }

    /// Lets go of `process` for one session; the last user stops it (`Shutdown`, then kill).
    async fn release(&self, process: Arc<PluginProcess>) {
        let slot = host_process::slot(&self.key());
        let last = {
            let mut shared = slot.lock().await;
            let last = Arc::strong_count(&process) == 1;
            if last && shared.upgrade().is_some_and(|p| Arc::ptr_eq(&p, &process)) {
                *shared = Weak::new();
            }
            last
        };
        if last {
            process.stop().await;
        }
    }

    /// Checks the checksum, execs the binary, reads and checks the handshake line (cookie and
    /// versions of [`PluginLauncher::handshake`]) and dials the plugin.
    pub(crate) async fn start(&self, server_version: &str) -> Result<Started, PluginError> {
        self.check_sha256().await?;
        let own = OneOffCert::generate(true)?;
        let name = self
            .command
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut child = self
            .command(&own, server_version)
            .spawn()
            .map_err(|e| PluginError::io(format!("start {}", self.command.display()), e))?;
        let mut tasks = Vec::new();
        if let Some(stderr) = child.stderr.take() {
            tasks.push(forward_lines(
                name.clone(),
                "stderr",
                BufReader::new(stderr),
            ));
        }
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| PluginError::Handshake("plugin stdout is not piped".into()))?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let read = tokio::time::timeout(self.start_timeout, stdout.read_line(&mut line)).await;
        match read {
            Err(_) => {
                let _ = child.start_kill();
                return Err(PluginError::Handshake(
                    "timeout while waiting for plugin to start".into(),
                ));
            }
            Ok(Err(e)) => return Err(PluginError::io("read plugin stdout", e)),
            Ok(Ok(_)) => {}
        }
        tasks.push(forward_lines(name.clone(), "stdout", stdout));
        let hs = HandshakeLine::parse(&line)?;
        if !self.handshake.accepts(hs.app) {
            return Err(PluginError::Handshake(format!(
                "Incompatible API version with plugin. Plugin version: {}, Client versions: {}",
                hs.app,
                self.handshake.versions_text()
            )));
        }
        if hs.protocol != "grpc" {
            return Err(PluginError::Handshake(format!(
                "Unsupported plugin protocol {:?}. Supported: [grpc]",
                hs.protocol
            )));
        }
        let peer = CertificateDer::from(hs.server_cert.clone().ok_or_else(|| {
            PluginError::Handshake("plugin sent no certificate: auto-mTLS is required".into())
        })?);
        let channel = dial(hs.network, &hs.address, client_config(&own, peer.clone())?).await?;
        Ok(Started {
            name,
            child,
            channel,
            broker_tls: server_config(&own, peer)?,
            tasks,
        })
    }
}

/// A factory that runs `command` as an external backend plugin for each mount.
pub fn external_factory(
    command: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    sha256: [u8; 32],
) -> Factory {
    PluginLauncher::new(command, args, env, sha256).factory()
}

/// Logs each line of a plugin's output stream.
fn forward_lines<R>(plugin: String, stream: &'static str, reader: BufReader<R>) -> JoinHandle<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut lines = reader.lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("[ERROR]") || line.contains("\"@level\":\"error\"") {
                tracing::error!(plugin = %plugin, stream, "{line}");
            } else if line.contains("[WARN]") || line.contains("\"@level\":\"warn\"") {
                tracing::warn!(plugin = %plugin, stream, "{line}");
            } else {
                tracing::debug!(plugin = %plugin, stream, "{line}");
            }
        }
    })
}

/// One mount's link to a plugin process: its `multiplex_id`, its brokered Storage and
/// SystemView listener, and the process it runs on.
struct Session {
    process: Arc<PluginProcess>,
    client: BackendClient<Intercepted>,
    socket: PathBuf,
    server: JoinHandle<()>,
}

impl Session {
    /// Serves the mount's storage and system view on a new brokered socket and calls `Setup`
    /// with its broker id under a fresh `multiplex_id`.
    async fn open(
        process: Arc<PluginProcess>,
        config: &BackendConfig,
    ) -> Result<Session, PluginError> {
        let broker_id = process.next_broker_id();
        let (socket, server) = serve_brokered(
            config.storage.clone(),
            config.system.clone(),
            process.broker_tls.clone(),
        )?;
        let client =
            BackendClient::with_interceptor(process.channel.clone(), MultiplexId::random())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let session = Session {
            process,
            client,
            socket,
            server,
        };
        session.process.announce(broker_id, &session.socket).await?;
        let setup = session
            .client
            .clone()
            .setup(pb::SetupArgs {
                broker_id,
                config: config.config.clone().into_iter().collect(),
                backend_uuid: config.backend_uuid.clone(),
            })
            .await?
            .into_inner();
        if !setup.err.is_empty() {
            return Err(PluginError::Setup(setup.err));
        }
        Ok(session)
    }

    fn close(&self) {
        self.server.abort();
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.close();
    }
}

/// How long a failed call waits for the plugin process to be seen exiting before it decides
/// whether the failure was the process going away.
const EXIT_PROBE: Duration = Duration::from_millis(500);

/// A plugin serving one mount, seen as an `arca_sdk::Backend`. When the process dies, the
/// next call relaunches it (same catalog entry, checksum checked again, `Setup` and
/// `Initialize` with the same storage and system view) and is retried once. When the plugin
/// multiplexes, several mounts share one process, each under its own `multiplex_id`.
pub struct ExternalBackend {
    launcher: Arc<PluginLauncher>,
    config: BackendConfig,
    session: std::sync::RwLock<Option<Arc<Session>>>,
    restart_lock: Mutex<()>,
    restarts: AtomicU64,
    initialized: AtomicBool,
    closed: AtomicBool,
    special_paths: SpecialPaths,
    backend_type: BackendType,
    version: Option<String>,
}

fn rpc_error(s: tonic::Status) -> LogicalError {
    LogicalError::Internal(format!(
        "rpc error: code = {:?} desc = {}",
        s.code(),
        s.message()
    ))
}

/// A status a broken link or a dead process produces (not an answer of the plugin).
fn transport_failure(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
    )
}

impl ExternalBackend {
    /// Starts (or joins) the plugin process for a mount and sets the mount up there.
    pub(crate) async fn start(
        launcher: Arc<PluginLauncher>,
        config: BackendConfig,
    ) -> Result<Arc<ExternalBackend>, PluginError> {
        let process = launcher.acquire(&config.system.server_version()).await?;
        let session = match Session::open(process.clone(), &config).await {
            Ok(s) => s,
            Err(e) => {
                launcher.release(process).await;
                return Err(e);
            }
        };
        drop(process);
        let mut client = session.client.clone();
        let described = async {
            let t = client.r#type(pb::Empty {}).await?.into_inner();
            let paths = client.special_paths(pb::Empty {}).await?.into_inner();
            Ok::<_, tonic::Status>((t, paths))
        }
        .await;
        let (t, paths) = match described {
            Ok(d) => d,
            Err(e) => {
                let process = session.process.clone();
                drop(session);
                launcher.release(process).await;
                return Err(e.into());
            }
        };
        let version = PluginVersionClient::with_interceptor(
            session.process.channel.clone(),
            MultiplexId::random(),
        )
        .version(logical::Empty {})
        .await
        .ok()
        .map(|r| r.into_inner().plugin_version)
        .filter(|v| !v.is_empty());
        Ok(Arc::new(ExternalBackend {
            launcher,
            config,
            session: std::sync::RwLock::new(Some(Arc::new(session))),
            restart_lock: Mutex::new(()),
            restarts: AtomicU64::new(0),
            initialized: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            special_paths: convert::paths_from_pb(paths.paths.unwrap_or_default()),
            backend_type: convert::backend_type_from_pb(t.r#type),
            version,
        }))
    }

    /// The plugin's process id, while it runs.
    pub async fn pid(&self) -> Option<u32> {
        self.current().and_then(|s| s.process.pid())
    }

    /// How many times the plugin process was relaunched for this mount after it went away.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::SeqCst)
    }

    /// Whether this mount runs on a process that serves several mounts (the plugin said yes
    /// to `MultiplexingSupport`).
    pub fn multiplexed(&self) -> bool {
        self.current().is_some_and(|s| s.process.multiplexed)
    }

    fn current(&self) -> Option<Arc<Session>> {
        self.session.read().ok().and_then(|s| s.clone())
    }

    fn session(&self) -> Result<Arc<Session>, LogicalError> {
        self.current()
            .ok_or_else(|| rpc_error(tonic::Status::unavailable("plugin is shut down")))
    }

    /// Runs one RPC; when it fails because the process went away, relaunches the plugin and
    /// runs it once more.
    async fn call<T, F, Fut>(&self, rpc: F) -> Result<T, LogicalError>
    where
        F: Fn(BackendClient<Intercepted>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let session = self.session()?;
        let status = match rpc(session.client.clone()).await {
            Ok(r) => return Ok(r.into_inner()),
            Err(s) => s,
        };
        if !transport_failure(&status) || self.closed.load(Ordering::SeqCst) {
            return Err(rpc_error(status));
        }
        let gone = session.process.wait_exit(EXIT_PROBE).await;
        if !gone && status.code() != tonic::Code::Unavailable {
            return Err(rpc_error(status));
        }
        tracing::warn!(
            plugin = %session.process.name,
            error = %status.message(),
            "plugin process is gone; restarting it"
        );
        let fresh = self
            .restart(&session)
            .await
            .map_err(|e| LogicalError::internal(format!("restarting plugin: {e}")))?;
        rpc(fresh.client.clone())
            .await
            .map(tonic::Response::into_inner)
            .map_err(rpc_error)
    }

    /// Replaces the `failed` session by one on a live process. Callers that failed on the same
    /// session wait for one relaunch and share its result.
    async fn restart(&self, failed: &Arc<Session>) -> Result<Arc<Session>, PluginError> {
        let _one_at_a_time = self.restart_lock.lock().await;
        if let Some(current) = self.current()
            && !Arc::ptr_eq(&current, failed)
        {
            return Ok(current);
        }
        if self.closed.load(Ordering::SeqCst) {
            return Err(PluginError::Setup("plugin backend was cleaned up".into()));
        }
        // A process that is alive but unreachable is replaced too: no one joins it any more.
        if !failed.process.has_exited() {
            failed.process.kill_now().await;
        }
        let process = self
            .launcher
            .acquire(&self.config.system.server_version())
            .await?;
        let session = match Session::open(process.clone(), &self.config).await {
            Ok(s) => Arc::new(s),
            Err(e) => {
                self.launcher.release(process).await;
                return Err(e);
            }
        };
        drop(process);
        if self.initialized.load(Ordering::SeqCst) {
            let reply = session
                .client
                .clone()
                .initialize(pb::InitializeArgs {})
                .await?
                .into_inner();
            if let Some(e) = reply.err {
                return Err(PluginError::Setup(e.err_msg));
            }
        }
        let old = match self.session.write() {
            Ok(mut s) => s.replace(session.clone()),
            Err(_) => None,
        };
        self.restarts.fetch_add(1, Ordering::SeqCst);
        if let Some(old) = old {
            let process = old.process.clone();
            drop(old);
            self.launcher.release(process).await;
        }
        Ok(session)
    }
}

#[async_trait]
impl Backend for ExternalBackend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        let args = pb::HandleRequestArgs {
            storage_id: 0,
            request: Some(convert::request_to_pb(&req)),
        };
        let reply = self
            .call(|mut c| {
                let args = args.clone();
                async move { c.handle_request(args).await }
            })
            .await?;
        if let Some(err) = &reply.err {
            return Err(convert::error_from_pb(err, reply.response.as_ref()));
        }
        let Some(resp) = reply.response else {
            return Ok(None);
        };
        if let Some(msg) = convert::error_response_text(&resp) {
            return Err(LogicalError::BadRequest(msg));
        }
        convert::response_from_pb(resp).map(Some)
    }

    async fn handle_existence_check(&self, req: &Request) -> Result<ExistenceCheck, LogicalError> {
        let args = pb::HandleExistenceCheckArgs {
            storage_id: 0,
            request: Some(convert::request_to_pb(req)),
        };
        let reply = self
            .call(|mut c| {
                let args = args.clone();
                async move { c.handle_existence_check(args).await }
            })
            .await?;
        if let Some(err) = &reply.err {
            return Err(convert::error_from_pb(err, None));
        }
        Ok(ExistenceCheck {
            check_found: reply.check_found,
            exists: reply.exists,
        })
    }

    fn special_paths(&self) -> SpecialPaths {
        self.special_paths.clone()
    }

    fn backend_type(&self) -> BackendType {
        self.backend_type
    }

    async fn initialize(&self) -> Result<(), LogicalError> {
        let reply = self
            .call(|mut c| async move { c.initialize(pb::InitializeArgs {}).await })
            .await?;
        match reply.err {
            Some(e) => Err(convert::error_from_pb(&e, None)),
            None => {
                self.initialized.store(true, Ordering::SeqCst);
                Ok(())
            }
        }
    }

    /// `Cleanup` for this mount, then its brokered services stop; the process is shut down
    /// when no other mount uses it (a multiplexed process keeps serving the others).
    async fn cleanup(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _wait_for_restart = self.restart_lock.lock().await;
        let session = match self.session.write() {
            Ok(mut s) => s.take(),
            Err(_) => None,
        };
        let Some(session) = session else {
            return;
        };
        if !session.process.has_exited() {
            let _ = tokio::time::timeout(
                Duration::from_secs(10),
                session.client.clone().cleanup(pb::Empty {}),
            )
            .await;
        }
        let process = session.process.clone();
        drop(session);
        self.launcher.release(process).await;
    }

    async fn invalidate(&self, key: &str) {
        let args = pb::InvalidateKeyArgs {
            key: key.to_string(),
        };
        let _ = self
            .call(|mut c| {
                let args = args.clone();
                async move { c.invalidate_key(args).await }
            })
            .await;
    }

    fn version(&self) -> Option<String> {
        self.version.clone()
    }
}
