//! One running plugin process on the host side: the child (watched for its exit), the mTLS gRPC
//! channel to it, go-plugin's broker stream, whether it multiplexes, and the registry through
//! which the mounts of a multiplexing plugin share one process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use tokio::process::Child;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use crate::error::PluginError;
use crate::host::{Intercepted, MultiplexId, SHUTDOWN_GRACE};
use crate::proto::multiplexing::{
    MultiplexingSupportRequest, plugin_multiplexing_client::PluginMultiplexingClient,
};
use crate::proto::plugin::{
    self, grpc_broker_client::GrpcBrokerClient, grpc_controller_client::GrpcControllerClient,
};

/// A plugin process the host started, and what it needs to talk to it.
pub(crate) struct PluginProcess {
    /// The binary's file name, for logs.
    pub(crate) name: String,
    pid: Option<u32>,
    /// The mTLS channel to the plugin's gRPC server.
    pub(crate) channel: Channel,
    /// The TLS config brokered host services listen with (pinned to the plugin's cert).
    pub(crate) broker_tls: Arc<rustls::ServerConfig>,
    broker_tx: mpsc::Sender<plugin::ConnInfo>,
    next_broker_id: AtomicU32,
    /// The plugin answered `MultiplexingSupport` with yes: it serves several mounts.
    pub(crate) multiplexed: bool,
    controller: GrpcControllerClient<Intercepted>,
    exited: watch::Receiver<bool>,
    stopping: Arc<AtomicBool>,
    kill: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

/// The pieces [`crate::host::PluginLauncher`] hands over once the handshake and dial worked.
pub(crate) struct Started {
    pub(crate) name: String,
    pub(crate) child: Child,
    pub(crate) channel: Channel,
    pub(crate) broker_tls: Arc<rustls::ServerConfig>,
    pub(crate) tasks: Vec<JoinHandle<()>>,
}

impl PluginProcess {
    /// Opens the broker stream, asks `MultiplexingSupport` (Unimplemented or any error means
    /// no) and starts watching the child for its exit.
    pub(crate) async fn connect(started: Started) -> Result<PluginProcess, PluginError> {
        let Started {
            name,
            mut child,
            channel,
            broker_tls,
            mut tasks,
        } = started;
        let pid = child.id();
        let mux = MultiplexId::random();

        let (broker_tx, broker_rx) = mpsc::channel(16);
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

        let multiplexed = match PluginMultiplexingClient::with_interceptor(
            channel.clone(),
            mux.clone(),
        )
        .multiplexing_support(MultiplexingSupportRequest {})
        .await
        {
            Ok(r) => r.into_inner().supported,
            Err(s) => {
                if s.code() != tonic::Code::Unimplemented {
                    tracing::debug!(plugin = %name, error = %s.message(), "multiplexing support unknown; assuming none");
                }
                false
            }
        };

        let (exit_tx, exited) = watch::channel(false);
        let (kill_tx, kill_rx) = oneshot::channel::<()>();
        let stopping = Arc::new(AtomicBool::new(false));
        let watcher_stopping = stopping.clone();
        let watcher_name = name.clone();
        tasks.push(tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    if watcher_stopping.load(Ordering::SeqCst) {
                        tracing::debug!(plugin = %watcher_name, %status, "plugin process exited");
                    } else {
                        tracing::warn!(plugin = %watcher_name, %status, "plugin process exited unexpectedly");
                    }
                }
                // Asked to kill, or the process handle was dropped.
                _ = kill_rx => {
                    let _ = child.kill().await;
                }
            }
            let _ = exit_tx.send(true);
        }));

        Ok(PluginProcess {
            name,
            pid,
            controller: GrpcControllerClient::with_interceptor(channel.clone(), mux),
            channel,
            broker_tls,
            broker_tx,
            next_broker_id: AtomicU32::new(1),
            multiplexed,
            exited,
            stopping,
            kill: std::sync::Mutex::new(Some(kill_tx)),
            tasks: std::sync::Mutex::new(tasks),
        })
    }

    /// The process id while the process runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        if self.has_exited() { None } else { self.pid }
    }

    /// The process has exited (or was killed).
    pub(crate) fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }

    /// New mounts may still be placed on this process.
    pub(crate) fn usable(&self) -> bool {
        !self.has_exited() && !self.stopping.load(Ordering::SeqCst)
    }

    /// No new mount joins this process any more (it is being replaced).
    pub(crate) fn retire(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Waits up to `limit` for the process to exit; says whether it did.
    pub(crate) async fn wait_exit(&self, limit: Duration) -> bool {
        let mut rx = self.exited.clone();
        matches!(
            tokio::time::timeout(limit, rx.wait_for(|e| *e)).await,
            Ok(Ok(_))
        )
    }

    /// A fresh broker id for one mount's brokered services.
    pub(crate) fn next_broker_id(&self) -> u32 {
        self.next_broker_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Announces a brokered listener to the plugin.
    pub(crate) async fn announce(
        &self,
        id: u32,
        socket: &std::path::Path,
    ) -> Result<(), PluginError> {
        self.broker_tx
            .send(plugin::ConnInfo {
                service_id: id,
                network: "unix".into(),
                address: socket.display().to_string(),
                knock: None,
            })
            .await
            .map_err(|_| PluginError::Handshake("plugin closed the broker stream".into()))
    }

    /// Asks the plugin to exit (`GRPCController.Shutdown`), waits up to 2 s, then kills it.
    pub(crate) async fn stop(&self) {
        self.retire();
        if !self.has_exited() {
            let _ = tokio::time::timeout(
                SHUTDOWN_GRACE,
                self.controller.clone().shutdown(plugin::Empty {}),
            )
            .await;
            if !self.wait_exit(SHUTDOWN_GRACE).await {
                self.kill_now().await;
            }
        }
        self.abort_tasks();
    }

    /// Kills the process without asking (a broken link), and waits briefly for the exit.
    pub(crate) async fn kill_now(&self) {
        self.retire();
        let tx = self.kill.lock().ok().and_then(|mut k| k.take());
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        let _ = self.wait_exit(SHUTDOWN_GRACE).await;
    }

    fn abort_tasks(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        // Aborting the watcher drops the child, which `kill_on_drop` kills.
        self.retire();
        self.abort_tasks();
    }
}

/// What identifies a plugin that mounts may share: the executable, its checksum, arguments
/// and environment.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct ProcessKey {
    pub(crate) command: PathBuf,
    pub(crate) sha256: [u8; 32],
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

/// One registry slot: the shared process of a key, if one runs. Its async lock serialises the
/// launches for that key, so concurrent mounts or restarts start one process, not many.
pub(crate) type Slot = Arc<tokio::sync::Mutex<Weak<PluginProcess>>>;

type Registry = std::sync::Mutex<HashMap<ProcessKey, Slot>>;

fn registry() -> &'static Registry {
    static SHARED: OnceLock<Registry> = OnceLock::new();
    SHARED.get_or_init(Registry::default)
}

/// The slot of `key` (created when missing; slots of processes gone are pruned).
pub(crate) fn slot(key: &ProcessKey) -> Slot {
    let Ok(mut map) = registry().lock() else {
        // A poisoned registry only loses sharing: hand out a private slot.
        return Arc::new(tokio::sync::Mutex::new(Weak::new()));
    };
    map.retain(|k, s| {
        k == key
            || Arc::strong_count(s) > 1
            || s.try_lock().map(|w| w.strong_count() > 0).unwrap_or(true)
    });
    map.entry(key.clone()).or_default().clone()
}
