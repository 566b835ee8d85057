//! The plugin side: turns an `arca_sdk::Factory` into a go-plugin v5 backend plugin process.
//!
//! [`serve`] checks the cookie, makes its certificate, listens on a unix socket with mTLS
//! pinned to the host's `PLUGIN_CLIENT_CERT`, prints the handshake line and serves `pb.Backend`,
//! go-plugin's broker and controller, the health service, `logical.PluginVersion` and
//! `PluginMultiplexing` (one backend per `multiplex_id`, so one process serves several mounts) until the
//! host calls `GRPCController.Shutdown`.

use std::collections::HashMap;
use std::io::Write;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use arca_sdk::{Backend, BackendConfig, Factory, Storage};
use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::convert;
use crate::error::PluginError;
use crate::handshake::{
    APP_PROTOCOL, BACKEND_HANDSHAKE, CLIENT_CERT_ENV, CORE_PROTOCOL, HandshakeConfig,
    HandshakeLine, NOT_A_PROGRAM_MESSAGE, Network, PROTOCOL_VERSIONS_ENV, offers_version,
};
use crate::proto::health::health_check_response::ServingStatus;
use crate::proto::health::{self, health_server};
use crate::proto::logical::{self, plugin_version_server};
use crate::proto::multiplexing::{self, plugin_multiplexing_server};
use crate::proto::pb::{self, backend_server};
use crate::proto::plugin::{self, grpc_broker_server, grpc_controller_server};
use crate::remote::{RemoteStorage, RemoteSystemView};
use crate::tls::{OneOffCert, cert_from_pem, client_config, server_config};
use crate::transport::{MAX_MESSAGE_SIZE, bind_temp_socket, dial, tls_incoming};

/// How long `Setup` waits for the host's `ConnInfo` of the broker id (go-plugin: 5 s).
const BROKER_WAIT: Duration = Duration::from_secs(5);

/// Runs the plugin and returns the process exit code: 1 without the cookie (after printing
/// go-plugin's "This binary is a plugin" text) or on a start-up error, 0 after a shutdown.
pub async fn serve(factory: Factory) -> ExitCode {
    if !cookie_present(&BACKEND_HANDSHAKE) {
        eprint!("{NOT_A_PROGRAM_MESSAGE}");
        return ExitCode::from(1);
    }
    match run(factory).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugin error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Whether the host set the cookie of `handshake` (go-plugin refuses to run without it).
pub(crate) fn cookie_present(handshake: &HandshakeConfig) -> bool {
    std::env::var(handshake.cookie_key).ok().as_deref() == Some(handshake.cookie_value)
}

/// A plugin's listener before it serves: the mTLS connections it accepts, its socket, its
/// certificate (for the handshake line) and the TLS config for dialing the host's brokered
/// services.
pub(crate) struct Listening {
    incoming: ReceiverStream<Result<crate::transport::TlsUnixConn, std::io::Error>>,
    socket_path: std::path::PathBuf,
    own: OneOffCert,
    app: u32,
    /// Dials the host's brokered listeners.
    pub(crate) client_tls: Arc<rustls::ClientConfig>,
}

/// Checks that the host offers app protocol `app`, makes the plugin's certificate (pinned to
/// the host's `PLUGIN_CLIENT_CERT`) and listens on a fresh unix socket.
pub(crate) fn listen(app: u32) -> Result<Listening, PluginError> {
    let versions = std::env::var(PROTOCOL_VERSIONS_ENV).ok();
    if !offers_version(versions.as_deref(), app) {
        return Err(PluginError::Handshake(format!(
            "Incompatible API version with plugin. Plugin version: {app}, Client versions: {}",
            versions.unwrap_or_default()
        )));
    }
    let peer_pem = std::env::var(CLIENT_CERT_ENV).map_err(|_| {
        PluginError::Handshake(format!(
            "{CLIENT_CERT_ENV} is not set: auto-mTLS is required"
        ))
    })?;
    let peer = cert_from_pem(&peer_pem)?;
    let own = OneOffCert::generate(false)?;
    let server_tls = server_config(&own, peer.clone())?;
    let client_tls = client_config(&own, peer)?;
    let (listener, socket_path) = bind_temp_socket()?;
    let incoming = tls_incoming(listener, server_tls);
    Ok(Listening {
        incoming,
        socket_path,
        own,
        app,
        client_tls,
    })
}

/// What every plugin process does around its gRPC services: ignores SIGINT (the host decides
/// when the plugin ends), stops when the host goes away without a shutdown, prints the
/// handshake line, serves `router` until `stop` turns true (the host's
/// `GRPCController.Shutdown`) and removes its socket.
pub(crate) async fn serve_router(
    router: tonic::transport::server::Router,
    listening: Listening,
    stop: watch::Sender<bool>,
) -> Result<(), PluginError> {
    let Listening {
        incoming,
        socket_path,
        own,
        app,
        client_tls: _,
    } = listening;
    // Subscribed first, so a stop sent from here on is never lost.
    let stop_rx = stop.subscribe();

    tokio::spawn(async { while tokio::signal::ctrl_c().await.is_ok() {} });

    // A host that dies without shutting us down (SIGKILL) must not leave us running: when
    // we are re-parented, stop as if the host had called Shutdown.
    let parent = std::os::unix::process::parent_id();
    let orphan_stop = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if std::os::unix::process::parent_id() != parent {
                tracing::warn!("plugin host went away; exiting");
                let _ = orphan_stop.send(true);
                break;
            }
        }
    });

    let line = HandshakeLine {
        core: CORE_PROTOCOL,
        app,
        network: Network::Unix,
        address: socket_path.display().to_string(),
        protocol: "grpc".into(),
        server_cert: Some(own.der().to_vec()),
    };
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", line.format()).map_err(|e| PluginError::io("write handshake", e))?;
        out.flush()
            .map_err(|e| PluginError::io("write handshake", e))?;
    }

    let mut graceful = stop_rx.clone();
    let server = router.serve_with_incoming_shutdown(incoming, async move {
        let _ = graceful.wait_for(|s| *s).await;
    });
    let mut hard = stop_rx;
    let result = tokio::select! {
        r = server => r.map_err(PluginError::from),
        _ = async move {
            let _ = hard.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        } => Ok(()),
    };
    let _ = std::fs::remove_file(&socket_path);
    result
}

/// Serves the plugin protocol (the cookie is assumed checked) until the host shuts it down.
pub async fn run(factory: Factory) -> Result<(), PluginError> {
    let listening = listen(APP_PROTOCOL)?;
    let (stop_tx, _) = watch::channel(false);
    let state = Arc::new(PluginState {
        factory,
        instances: RwLock::new(HashMap::new()),
        broker: Arc::new(BrokerInbox::default()),
        client_tls: listening.client_tls.clone(),
        stop: stop_tx.clone(),
    });

    let router = tonic::transport::Server::builder()
        .add_service(
            backend_server::BackendServer::from_arc(state.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(grpc_broker_server::GrpcBrokerServer::new(BrokerService(
            state.broker.clone(),
        )))
        .add_service(grpc_controller_server::GrpcControllerServer::from_arc(
            state.clone(),
        ))
        .add_service(health_server::HealthServer::new(HealthService))
        .add_service(plugin_version_server::PluginVersionServer::from_arc(
            state.clone(),
        ))
        .add_service(plugin_multiplexing_server::PluginMultiplexingServer::new(
            MultiplexingService,
        ));
    serve_router(router, listening, stop_tx).await
}

/// The gRPC metadata key naming the mount a call is for, when one process serves several.
pub const MULTIPLEX_ID_KEY: &str = "multiplex_id";

/// One mount's backend in this process and the host's system view it reads.
#[derive(Clone)]
struct Instance {
    backend: Arc<dyn Backend>,
    system: Arc<RemoteSystemView>,
}

/// What the plugin process holds: the factory, one backend per mount (`multiplex_id`; the
/// empty id for a host that sends none) once `Setup` built it, the broker's received addresses
/// and the TLS config for dialing the host.
struct PluginState {
    factory: Factory,
    instances: RwLock<HashMap<String, Instance>>,
    broker: Arc<BrokerInbox>,
    client_tls: Arc<rustls::ClientConfig>,
    stop: watch::Sender<bool>,
}

/// The `multiplex_id` of a call (empty when the host sent none).
fn multiplex_id<T>(request: &Request<T>) -> String {
    request
        .metadata()
        .get(MULTIPLEX_ID_KEY)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

impl PluginState {
    fn instance(&self, id: &str) -> Result<Instance, Status> {
        self.instances
            .read()
            .map_err(|_| Status::internal("backend lock poisoned"))?
            .get(id)
            .cloned()
            .ok_or_else(|| Status::failed_precondition("plugin backend is not set up"))
    }

    fn backend(&self, id: &str) -> Result<Arc<dyn Backend>, Status> {
        self.instance(id).map(|i| i.backend)
    }

    async fn setup(&self, id: String, args: pb::SetupArgs) -> Result<(), String> {
        let info = self
            .broker
            .wait_for(args.broker_id, BROKER_WAIT)
            .await
            .ok_or_else(|| {
                format!(
                    "timeout waiting for connection info for id {}",
                    args.broker_id
                )
            })?;
        let network = match info.network.as_str() {
            "unix" => Network::Unix,
            "tcp" => Network::Tcp,
            other => return Err(format!("unknown broker network {other:?}")),
        };
        let channel = dial(network, &info.address, self.client_tls.clone())
            .await
            .map_err(|e| e.to_string())?;
        let system = Arc::new(RemoteSystemView::new(channel.clone()));
        if let Err(e) = system.refresh().await {
            tracing::debug!(error = %e.message(), "system view not available during setup");
        }
        let storage: Arc<dyn Storage> = Arc::new(RemoteStorage::new(channel));
        let config = BackendConfig {
            storage: storage.clone(),
            system: system.clone(),
            config: args.config,
            backend_uuid: args.backend_uuid,
        };
        let backend = (self.factory)(config).await.map_err(|e| e.to_string())?;
        let wrapped: Arc<dyn Backend> = Arc::new(WithStorage {
            inner: backend,
            storage: Some(storage),
        });
        self.instances
            .write()
            .map_err(|_| "backend lock poisoned".to_string())?
            .insert(
                id,
                Instance {
                    backend: wrapped,
                    system,
                },
            );
        Ok(())
    }
}

/// A backend plus the storage every request it handles gets.
struct WithStorage {
    inner: Arc<dyn Backend>,
    storage: Option<Arc<dyn Storage>>,
}

impl WithStorage {
    fn attach(&self, mut req: arca_sdk::Request) -> arca_sdk::Request {
        req.storage = self.storage.clone();
        req
    }
}

#[async_trait::async_trait]
impl Backend for WithStorage {
    async fn handle_request(
        &self,
        req: arca_sdk::Request,
    ) -> Result<Option<arca_sdk::Response>, arca_sdk::LogicalError> {
        self.inner.handle_request(self.attach(req)).await
    }
    async fn handle_existence_check(
        &self,
        req: &arca_sdk::Request,
    ) -> Result<arca_sdk::ExistenceCheck, arca_sdk::LogicalError> {
        self.inner
            .handle_existence_check(&self.attach(req.clone()))
            .await
    }
    fn special_paths(&self) -> arca_sdk::SpecialPaths {
        self.inner.special_paths()
    }
    fn backend_type(&self) -> arca_sdk::BackendType {
        self.inner.backend_type()
    }
    async fn initialize(&self) -> Result<(), arca_sdk::LogicalError> {
        self.inner.initialize().await
    }
    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
    async fn invalidate(&self, key: &str) {
        self.inner.invalidate(key).await
    }
    fn version(&self) -> Option<String> {
        self.inner.version()
    }
}

#[tonic::async_trait]
impl backend_server::Backend for PluginState {
    async fn handle_request(
        &self,
        request: Request<pb::HandleRequestArgs>,
    ) -> Result<Response<pb::HandleRequestReply>, Status> {
        let backend = self.backend(&multiplex_id(&request))?;
        let args = request.into_inner();
        let result = match convert::request_from_pb(args.request.unwrap_or_default()) {
            Ok(req) => backend.handle_request(req).await,
            Err(e) => Err(e),
        };
        let reply = match result {
            Ok(resp) => pb::HandleRequestReply {
                response: resp.as_ref().map(convert::response_to_pb),
                err: None,
            },
            Err(e) => {
                let (response, err) = convert::error_to_pb(&e);
                pb::HandleRequestReply {
                    response,
                    err: Some(err),
                }
            }
        };
        Ok(Response::new(reply))
    }

    async fn special_paths(
        &self,
        request: Request<pb::Empty>,
    ) -> Result<Response<pb::SpecialPathsReply>, Status> {
        let backend = self.backend(&multiplex_id(&request))?;
        Ok(Response::new(pb::SpecialPathsReply {
            paths: Some(convert::paths_to_pb(&backend.special_paths())),
        }))
    }

    async fn handle_existence_check(
        &self,
        request: Request<pb::HandleExistenceCheckArgs>,
    ) -> Result<Response<pb::HandleExistenceCheckReply>, Status> {
        let backend = self.backend(&multiplex_id(&request))?;
        let args = request.into_inner();
        let result = match convert::request_from_pb(args.request.unwrap_or_default()) {
            Ok(req) => backend.handle_existence_check(&req).await,
            Err(e) => Err(e),
        };
        Ok(Response::new(match result {
            Ok(c) => pb::HandleExistenceCheckReply {
                check_found: c.check_found,
                exists: c.exists,
                err: None,
            },
            Err(e) => pb::HandleExistenceCheckReply {
                check_found: false,
                exists: false,
                err: Some(convert::error_to_pb(&e).1),
            },
        }))
    }

    /// Cleans the mount's backend up and forgets it; the process keeps serving other mounts.
    async fn cleanup(&self, request: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        let id = multiplex_id(&request);
        let removed = self
            .instances
            .write()
            .map_err(|_| Status::internal("backend lock poisoned"))?
            .remove(&id);
        if let Some(instance) = removed {
            instance.backend.cleanup().await;
        }
        Ok(Response::new(pb::Empty {}))
    }

    async fn invalidate_key(
        &self,
        request: Request<pb::InvalidateKeyArgs>,
    ) -> Result<Response<pb::Empty>, Status> {
        let backend = self.backend(&multiplex_id(&request))?;
        backend.invalidate(&request.into_inner().key).await;
        Ok(Response::new(pb::Empty {}))
    }

    async fn setup(
        &self,
        request: Request<pb::SetupArgs>,
    ) -> Result<Response<pb::SetupReply>, Status> {
        let id = multiplex_id(&request);
        let err = match self.setup(id, request.into_inner()).await {
            Ok(()) => String::new(),
            Err(e) => e,
        };
        Ok(Response::new(pb::SetupReply { err }))
    }

    async fn initialize(
        &self,
        request: Request<pb::InitializeArgs>,
    ) -> Result<Response<pb::InitializeReply>, Status> {
        let Instance { backend, system } = self.instance(&multiplex_id(&request))?;
        if let Err(e) = system.refresh().await {
            tracing::warn!(error = %e.message(), "cannot read the host's system view");
        }
        let err = backend
            .initialize()
            .await
            .err()
            .map(|e| convert::error_to_pb(&e).1);
        Ok(Response::new(pb::InitializeReply { err }))
    }

    async fn r#type(&self, request: Request<pb::Empty>) -> Result<Response<pb::TypeReply>, Status> {
        let t = self
            .backend(&multiplex_id(&request))
            .map(|b| convert::backend_type_to_pb(b.backend_type()))
            .unwrap_or(0);
        Ok(Response::new(pb::TypeReply { r#type: t }))
    }
}

#[tonic::async_trait]
impl grpc_controller_server::GrpcController for PluginState {
    async fn shutdown(
        &self,
        _request: Request<plugin::Empty>,
    ) -> Result<Response<plugin::Empty>, Status> {
        let _ = self.stop.send(true);
        Ok(Response::new(plugin::Empty {}))
    }
}

#[tonic::async_trait]
impl plugin_version_server::PluginVersion for PluginState {
    async fn version(
        &self,
        request: Request<logical::Empty>,
    ) -> Result<Response<logical::VersionReply>, Status> {
        // The version is the binary's: any mount's backend can tell it.
        let id = multiplex_id(&request);
        let plugin_version = self
            .instances
            .read()
            .ok()
            .and_then(|m| m.get(&id).or_else(|| m.values().next()).cloned())
            .and_then(|i| i.backend.version())
            .unwrap_or_default();
        Ok(Response::new(logical::VersionReply { plugin_version }))
    }
}

/// The `ConnInfo`s the host announced on the broker stream, by broker id; `Setup` waits on
/// `arrived` for its id (no polling: the host announces right before it calls `Setup`).
#[derive(Default)]
pub(crate) struct BrokerInbox {
    conns: Mutex<HashMap<u32, plugin::ConnInfo>>,
    arrived: tokio::sync::Notify,
}

impl BrokerInbox {
    fn insert(&self, info: plugin::ConnInfo) {
        if let Ok(mut m) = self.conns.lock() {
            m.insert(info.service_id, info);
        }
        self.arrived.notify_waiters();
    }

    fn take(&self, id: u32) -> Option<plugin::ConnInfo> {
        self.conns.lock().ok().and_then(|mut m| m.remove(&id))
    }

    async fn wait_for(&self, id: u32, timeout: Duration) -> Option<plugin::ConnInfo> {
        let wait = async {
            loop {
                // Registered before the check, so an insert between the two still wakes us.
                let arrived = self.arrived.notified();
                tokio::pin!(arrived);
                arrived.as_mut().enable();
                if let Some(info) = self.take(id) {
                    return info;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.ok()
    }
}

/// go-plugin's `GRPCBroker`: records the host's `ConnInfo`s; this side announces none.
pub(crate) struct BrokerService(pub(crate) Arc<BrokerInbox>);

#[tonic::async_trait]
impl grpc_broker_server::GrpcBroker for BrokerService {
    type StartStreamStream = ReceiverStream<Result<plugin::ConnInfo, Status>>;

    async fn start_stream(
        &self,
        request: Request<Streaming<plugin::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        let mut inbound = request.into_inner();
        let inbox = self.0.clone();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            // Holding `tx` keeps our half of the stream open while the host's half is.
            let _keep = tx;
            while let Some(Ok(info)) = inbound.next().await {
                tracing::debug!(service_id = info.service_id, "broker connection info");
                inbox.insert(info);
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// `PluginMultiplexing`: this process serves any number of mounts, one backend per
/// `multiplex_id`.
struct MultiplexingService;

#[tonic::async_trait]
impl plugin_multiplexing_server::PluginMultiplexing for MultiplexingService {
    async fn multiplexing_support(
        &self,
        _request: Request<multiplexing::MultiplexingSupportRequest>,
    ) -> Result<Response<multiplexing::MultiplexingSupportResponse>, Status> {
        Ok(Response::new(multiplexing::MultiplexingSupportResponse {
            supported: true,
        }))
    }
}

/// The health service: `plugin` (and the server as a whole) is SERVING.
pub(crate) struct HealthService;

fn health_of(service: &str) -> Option<health::HealthCheckResponse> {
    matches!(service, "" | "plugin").then(|| health::HealthCheckResponse {
        status: ServingStatus::Serving as i32,
    })
}

#[tonic::async_trait]
impl health_server::Health for HealthService {
    async fn check(
        &self,
        request: Request<health::HealthCheckRequest>,
    ) -> Result<Response<health::HealthCheckResponse>, Status> {
        health_of(&request.into_inner().service)
            .map(Response::new)
            .ok_or_else(|| Status::not_found("unknown service"))
    }

    async fn list(
        &self,
        _request: Request<health::HealthListRequest>,
    ) -> Result<Response<health::HealthListResponse>, Status> {
        let mut statuses = HashMap::new();
        for s in ["", "plugin"] {
            if let Some(h) = health_of(s) {
                statuses.insert(s.to_string(), h);
            }
        }
        Ok(Response::new(health::HealthListResponse { statuses }))
    }

    type WatchStream =
        Pin<Box<dyn Stream<Item = Result<health::HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<health::HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let status =
            health_of(&request.into_inner().service).unwrap_or(health::HealthCheckResponse {
                status: ServingStatus::ServiceUnknown as i32,
            });
        let stream = tokio_stream::once(Ok(status)).chain(tokio_stream::pending());
        Ok(Response::new(Box::pin(stream)))
    }
}
