//! The plugin side of the host's brokered services: an `arca_sdk::Storage` that calls the
//! host's `pb.Storage`, and a `SystemView` snapshot read from the host's `pb.SystemView`.

use std::future::Future;
use std::time::Duration;

use arca_sdk::{Storage, StorageEntry, StorageError, SystemView};
use async_trait::async_trait;
use tonic::transport::Channel;
use zeroize::Zeroizing;

use crate::convert::ns_to_duration;
use crate::proto::pb;
use crate::proto::pb::storage_client::StorageClient;
use crate::proto::pb::system_view_client::SystemViewClient;
use crate::rpc::ErrReply;
use crate::transport::MAX_MESSAGE_SIZE;

/// Storage served by the host over the broker.
#[derive(Clone)]
pub struct RemoteStorage {
    client: StorageClient<Channel>,
}

impl RemoteStorage {
    /// Storage over an established brokered channel.
    pub fn new(channel: Channel) -> RemoteStorage {
        RemoteStorage {
            client: StorageClient::new(channel)
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        }
    }
}

impl RemoteStorage {
    /// One call of the host's `pb.Storage`: `send` makes it on a clone of the client; a
    /// transport failure or a reply's `err` becomes the `StorageError`.
    async fn call<R, Fut>(
        &self,
        send: impl FnOnce(StorageClient<Channel>) -> Fut,
    ) -> Result<R, StorageError>
    where
        R: ErrReply,
        Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        send(self.client.clone())
            .await
            .map_err(|s| StorageError::Backend(s.message().to_string()))?
            .into_inner()
            .into_result()
    }
}

#[async_trait]
impl Storage for RemoteStorage {
    async fn get(&self, key: &str) -> Result<Option<StorageEntry>, StorageError> {
        let args = pb::StorageGetArgs {
            key: key.to_string(),
            txn: String::new(),
        };
        let reply = self.call(|mut c| async move { c.get(args).await }).await?;
        Ok(reply.entry.map(|e| StorageEntry {
            key: e.key,
            value: Zeroizing::new(e.value),
            seal_wrap: e.seal_wrap,
        }))
    }

    async fn put(&self, entry: StorageEntry) -> Result<(), StorageError> {
        let args = pb::StoragePutArgs {
            entry: Some(pb::StorageEntry {
                key: entry.key.clone(),
                value: entry.value.to_vec(),
                seal_wrap: entry.seal_wrap,
            }),
            txn: String::new(),
        };
        self.call(|mut c| async move { c.put(args).await }).await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let args = pb::StorageDeleteArgs {
            key: key.to_string(),
            txn: String::new(),
        };
        self.call(|mut c| async move { c.delete(args).await })
            .await?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let args = pb::StorageListArgs {
            prefix: prefix.to_string(),
            txn: String::new(),
        };
        let reply = self.call(|mut c| async move { c.list(args).await }).await?;
        Ok(reply.keys)
    }

    async fn list_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>, StorageError> {
        let args = pb::StorageListPageArgs {
            prefix: prefix.to_string(),
            after: after.to_string(),
            limit: i32::try_from(limit).unwrap_or(i32::MAX),
            txn: String::new(),
        };
        let reply = self
            .call(|mut c| async move { c.list_page(args).await })
            .await?;
        Ok(reply.keys)
    }
}

/// The host's system view values at one moment.
#[derive(Debug, Clone)]
pub struct SystemViewSnapshot {
    /// Default lease TTL.
    pub default_lease_ttl: Duration,
    /// Maximum lease TTL.
    pub max_lease_ttl: Duration,
    /// Local mount flag.
    pub local_mount: bool,
    /// Tainted flag (at setup time).
    pub tainted: bool,
    /// Caching disabled flag.
    pub caching_disabled: bool,
    /// The host's version (`PluginEnv.vault_version`).
    pub server_version: String,
}

impl SystemViewSnapshot {
    /// Reads every value from the host's `pb.SystemView`.
    pub async fn fetch(channel: Channel) -> Result<SystemViewSnapshot, tonic::Status> {
        let mut c = SystemViewClient::new(channel);
        let default_lease_ttl =
            ns_to_duration(c.default_lease_ttl(pb::Empty {}).await?.into_inner().ttl);
        let max_lease_ttl = ns_to_duration(c.max_lease_ttl(pb::Empty {}).await?.into_inner().ttl);
        let local_mount = c.local_mount(pb::Empty {}).await?.into_inner().local;
        let tainted = c.tainted(pb::Empty {}).await?.into_inner().tainted;
        let caching_disabled = c
            .caching_disabled(pb::Empty {})
            .await?
            .into_inner()
            .disabled;
        let server_version = c
            .plugin_env(pb::Empty {})
            .await?
            .into_inner()
            .plugin_environment
            .map(|e| e.vault_version)
            .unwrap_or_default();
        Ok(SystemViewSnapshot {
            default_lease_ttl,
            max_lease_ttl,
            local_mount,
            tainted,
            caching_disabled,
            server_version,
        })
    }
}

impl Default for SystemViewSnapshot {
    fn default() -> Self {
        // Vault's system defaults (32 days) until the host answers.
        SystemViewSnapshot {
            default_lease_ttl: Duration::from_secs(32 * 24 * 3600),
            max_lease_ttl: Duration::from_secs(32 * 24 * 3600),
            local_mount: false,
            tainted: false,
            caching_disabled: false,
            server_version: String::new(),
        }
    }
}

/// The host's system view as the SDK's synchronous [`SystemView`]: values are read from the
/// host with [`RemoteSystemView::refresh`] (at `Setup`, where OpenBao may refuse during a
/// catalog probe, and again at `Initialize`) and served from the last good snapshot.
pub struct RemoteSystemView {
    channel: Channel,
    snapshot: std::sync::RwLock<SystemViewSnapshot>,
}

impl RemoteSystemView {
    /// A view over the brokered channel, with default values until refreshed.
    pub fn new(channel: Channel) -> RemoteSystemView {
        RemoteSystemView {
            channel,
            snapshot: std::sync::RwLock::new(SystemViewSnapshot::default()),
        }
    }

    /// Reads the values from the host again.
    pub async fn refresh(&self) -> Result<(), tonic::Status> {
        let fresh = SystemViewSnapshot::fetch(self.channel.clone()).await?;
        if let Ok(mut s) = self.snapshot.write() {
            *s = fresh;
        }
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&SystemViewSnapshot) -> T) -> T {
        match self.snapshot.read() {
            Ok(s) => f(&s),
            Err(_) => f(&SystemViewSnapshot::default()),
        }
    }
}

#[async_trait]
impl SystemView for RemoteSystemView {
    fn default_lease_ttl(&self) -> Duration {
        self.read(|s| s.default_lease_ttl)
    }
    fn max_lease_ttl(&self) -> Duration {
        self.read(|s| s.max_lease_ttl)
    }
    fn local_mount(&self) -> bool {
        self.read(|s| s.local_mount)
    }
    fn tainted(&self) -> bool {
        self.read(|s| s.tainted)
    }
    fn caching_disabled(&self) -> bool {
        self.read(|s| s.caching_disabled)
    }
    fn server_version(&self) -> String {
        self.read(|s| s.server_version.clone())
    }
    async fn generate_password_from_policy(
        &self,
        policy_name: &str,
    ) -> Result<Zeroizing<String>, arca_sdk::LogicalError> {
        let mut client = SystemViewClient::new(self.channel.clone());
        let reply = client
            .generate_password_from_policy(pb::GeneratePasswordFromPolicyRequest {
                policy_name: policy_name.to_string(),
            })
            .await
            .map_err(|status| arca_sdk::LogicalError::internal(status.message()))?;
        Ok(Zeroizing::new(reply.into_inner().password))
    }
}
