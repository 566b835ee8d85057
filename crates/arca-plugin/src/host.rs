//! The host side: launches a plugin binary as OpenBao does (sha256 check right before exec,
//! go-plugin environment, handshake line, mTLS, broker) and proxies an `arca_sdk::Backend`
//! to its `pb.Backend` service.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
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
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::convert;
use crate::error::PluginError;
use crate::handshake::{
    APP_PROTOCOL, CLIENT_CERT_ENV, COOKIE_KEY, COOKIE_VALUE, HandshakeLine, PROTOCOL_VERSIONS_ENV,
};
use crate::host_services::serve_brokered;
use crate::proto::pb::{self, backend_client::BackendClient};
use crate::proto::plugin::{
    self, grpc_broker_client::GrpcBrokerClient, grpc_controller_client::GrpcControllerClient,
};
use crate::proto::{logical, logical::plugin_version_client::PluginVersionClient};
use crate::tls::{OneOffCert, client_config, server_config};
use crate::transport::{MAX_MESSAGE_SIZE, dial};

/// How long the host waits for the handshake line by default (go-plugin's `StartTimeout`).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the host waits for the process to exit after `GRPCController.Shutdown`.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// The broker id the host serves Storage and SystemView on (one mount per process).
const STORAGE_BROKER_ID: u32 = 1;

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

type Intercepted = InterceptedService<Channel, MultiplexId>;

/// The SHA-256 of a file, as the catalog stores it.
pub fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let bytes = std::fs::read(path)?;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
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
            .finish()
    }
}

impl PluginLauncher {
    /// A launcher with the default 60 s start timeout.
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
        }
    }

    /// This launcher as a backend factory: every call starts a new plugin process.
    pub fn factory(self) -> Factory {
        let launcher = Arc::new(self);
        Arc::new(move |config: BackendConfig| {
            let launcher = launcher.clone();
            async move {
                let backend = launcher
                    .launch(config)
                    .await
                    .map_err(|e| LogicalError::internal(e.to_string()))?;
                Ok(backend as Arc<dyn Backend>)
            }
            .boxed()
        })
    }

    fn check_sha256(&self) -> Result<(), PluginError> {
        let got = sha256_file(&self.command)
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
        cmd.env(COOKIE_KEY, COOKIE_VALUE)
            .env(PROTOCOL_VERSIONS_ENV, APP_PROTOCOL.to_string())
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

    /// Starts the plugin for one mount: checks the sha256, runs it, reads the handshake, dials
    /// it with mTLS, serves the mount's storage and system view on a brokered socket and calls
    /// `Setup`, `Type`, `SpecialPaths` and `PluginVersion.Version`. `Initialize` is left to
    /// [`Backend::initialize`], which the core calls next.
    pub async fn launch(&self, config: BackendConfig) -> Result<Arc<ExternalBackend>, PluginError> {
        self.check_sha256()?;
        let own = OneOffCert::generate(true)?;
        let name = self
            .command
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut child = self
            .command(&own, &config.system.server_version())
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
        if hs.app != APP_PROTOCOL {
            return Err(PluginError::Handshake(format!(
                "Incompatible API version with plugin. Plugin version: {}, Client versions: [{APP_PROTOCOL}]",
                hs.app
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
        let mux = MultiplexId::random();

        // The broker stream; our ConnInfos go out on `broker_tx`.
        let (broker_tx, broker_rx) = mpsc::channel(4);
        let mut broker = GrpcBrokerClient::with_interceptor(channel.clone(), mux.clone());
        let mut from_plugin = broker
            .start_stream(ReceiverStream::new(broker_rx))
            .await?
            .into_inner();
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(info)) = from_plugin.next().await {
                tracing::debug!(
                    service_id = info.service_id,
                    "plugin broker connection info"
                );
            }
        }));

        let (socket, server) = serve_brokered(
            config.storage.clone(),
            config.system.clone(),
            server_config(&own, peer)?,
        )?;
        tasks.push(server);
        let sent = broker_tx
            .send(plugin::ConnInfo {
                service_id: STORAGE_BROKER_ID,
                network: "unix".into(),
                address: socket.display().to_string(),
                knock: None,
            })
            .await;
        if sent.is_err() {
            return Err(PluginError::Handshake(
                "plugin closed the broker stream".into(),
            ));
        }

        let mut client = BackendClient::with_interceptor(channel.clone(), mux.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let mut backend = ExternalBackend {
            client: client.clone(),
            controller: GrpcControllerClient::with_interceptor(channel.clone(), mux.clone()),
            child: Mutex::new(Some(child)),
            tasks: std::sync::Mutex::new(tasks),
            socket,
            _broker_tx: broker_tx,
            special_paths: SpecialPaths::default(),
            backend_type: BackendType::Unknown,
            version: None,
        };
        let setup = client
            .setup(pb::SetupArgs {
                broker_id: STORAGE_BROKER_ID,
                config: config.config.clone().into_iter().collect(),
                backend_uuid: config.backend_uuid.clone(),
            })
            .await?
            .into_inner();
        if !setup.err.is_empty() {
            backend.stop().await;
            return Err(PluginError::Setup(setup.err));
        }
        let t = client.r#type(pb::Empty {}).await?.into_inner();
        backend.backend_type = convert::backend_type_from_pb(t.r#type);
        let paths = client.special_paths(pb::Empty {}).await?.into_inner();
        backend.special_paths = convert::paths_from_pb(paths.paths.unwrap_or_default());
        backend.version = PluginVersionClient::with_interceptor(channel, mux)
            .version(logical::Empty {})
            .await
            .ok()
            .map(|r| r.into_inner().plugin_version)
            .filter(|v| !v.is_empty());
        Ok(Arc::new(backend))
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

/// A running plugin process serving one mount, seen as an `arca_sdk::Backend`.
pub struct ExternalBackend {
    client: BackendClient<Intercepted>,
    controller: GrpcControllerClient<Intercepted>,
    child: Mutex<Option<Child>>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
    socket: PathBuf,
    _broker_tx: mpsc::Sender<plugin::ConnInfo>,
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

impl ExternalBackend {
    /// The plugin's process id, while it runs.
    pub async fn pid(&self) -> Option<u32> {
        self.child.lock().await.as_ref().and_then(|c| c.id())
    }

    /// Asks the plugin to exit (`GRPCController.Shutdown`), waits up to 2 s, then kills it;
    /// stops the brokered services.
    async fn stop(&self) {
        let _ = tokio::time::timeout(
            SHUTDOWN_GRACE,
            self.controller.clone().shutdown(plugin::Empty {}),
        )
        .await;
        if let Some(mut child) = self.child.lock().await.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, child.wait()).await {
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill().await;
                }
            }
        }
        self.release();
    }

    fn release(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

impl Drop for ExternalBackend {
    fn drop(&mut self) {
        // The child is killed by `kill_on_drop`.
        self.release();
    }
}

#[async_trait]
impl Backend for ExternalBackend {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        let reply = self
            .client
            .clone()
            .handle_request(pb::HandleRequestArgs {
                storage_id: 0,
                request: Some(convert::request_to_pb(&req)),
            })
            .await
            .map_err(rpc_error)?
            .into_inner();
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
        let reply = self
            .client
            .clone()
            .handle_existence_check(pb::HandleExistenceCheckArgs {
                storage_id: 0,
                request: Some(convert::request_to_pb(req)),
            })
            .await
            .map_err(rpc_error)?
            .into_inner();
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
            .client
            .clone()
            .initialize(pb::InitializeArgs {})
            .await
            .map_err(rpc_error)?
            .into_inner();
        match reply.err {
            Some(e) => Err(convert::error_from_pb(&e, None)),
            None => Ok(()),
        }
    }

    async fn cleanup(&self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            self.client.clone().cleanup(pb::Empty {}),
        )
        .await;
        self.stop().await;
    }

    async fn invalidate(&self, key: &str) {
        let _ = self
            .client
            .clone()
            .invalidate_key(pb::InvalidateKeyArgs {
                key: key.to_string(),
            })
            .await;
    }

    fn version(&self) -> Option<String> {
        self.version.clone()
    }
}
