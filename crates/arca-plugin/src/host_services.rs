//! The host side of the broker: `pb.Storage` and `pb.SystemView` served to a plugin from the
//! mount's `arca_sdk` storage view and system view, on a brokered unix socket with mTLS.

use std::path::PathBuf;
use std::sync::Arc;

use arca_sdk::{Storage, StorageEntry, SystemView};
use tokio::task::JoinHandle;
use tonic::{Request, Response, Status};
use zeroize::Zeroizing;

use crate::convert::duration_to_ns;
use crate::error::PluginError;
use crate::proto::logical;
use crate::proto::pb::{self, storage_server, system_view_server};
use crate::transport::{MAX_MESSAGE_SIZE, bind_temp_socket, tls_incoming};

const NO_TXN: &str = "transactions are not supported";

/// `pb.Storage` over an `arca_sdk::Storage`. Transactions are not offered
/// (`IsTransactional` = false), so OpenBao-SDK plugins never start one.
pub struct HostStorage(pub Arc<dyn Storage>);

fn txn_refused(txn: &str) -> Option<String> {
    (!txn.is_empty()).then(|| NO_TXN.to_string())
}

#[tonic::async_trait]
impl storage_server::Storage for HostStorage {
    async fn list(
        &self,
        request: Request<pb::StorageListArgs>,
    ) -> Result<Response<pb::StorageListReply>, Status> {
        let a = request.into_inner();
        if let Some(err) = txn_refused(&a.txn) {
            return Ok(Response::new(pb::StorageListReply { keys: vec![], err }));
        }
        Ok(Response::new(match self.0.list(&a.prefix).await {
            Ok(keys) => pb::StorageListReply {
                keys,
                err: String::new(),
            },
            Err(e) => pb::StorageListReply {
                keys: vec![],
                err: e.to_string(),
            },
        }))
    }

    async fn list_page(
        &self,
        request: Request<pb::StorageListPageArgs>,
    ) -> Result<Response<pb::StorageListReply>, Status> {
        let a = request.into_inner();
        if let Some(err) = txn_refused(&a.txn) {
            return Ok(Response::new(pb::StorageListReply { keys: vec![], err }));
        }
        let limit = usize::try_from(a.limit).unwrap_or(0);
        Ok(Response::new(
            match self.0.list_page(&a.prefix, &a.after, limit).await {
                Ok(keys) => pb::StorageListReply {
                    keys,
                    err: String::new(),
                },
                Err(e) => pb::StorageListReply {
                    keys: vec![],
                    err: e.to_string(),
                },
            },
        ))
    }

    async fn get(
        &self,
        request: Request<pb::StorageGetArgs>,
    ) -> Result<Response<pb::StorageGetReply>, Status> {
        let a = request.into_inner();
        if let Some(err) = txn_refused(&a.txn) {
            return Ok(Response::new(pb::StorageGetReply { entry: None, err }));
        }
        Ok(Response::new(match self.0.get(&a.key).await {
            Ok(e) => pb::StorageGetReply {
                entry: e.map(|e| pb::StorageEntry {
                    key: e.key.clone(),
                    value: e.value.to_vec(),
                    seal_wrap: e.seal_wrap,
                }),
                err: String::new(),
            },
            Err(e) => pb::StorageGetReply {
                entry: None,
                err: e.to_string(),
            },
        }))
    }

    async fn put(
        &self,
        request: Request<pb::StoragePutArgs>,
    ) -> Result<Response<pb::StoragePutReply>, Status> {
        let a = request.into_inner();
        if let Some(err) = txn_refused(&a.txn) {
            return Ok(Response::new(pb::StoragePutReply { err }));
        }
        let Some(entry) = a.entry else {
            return Ok(Response::new(pb::StoragePutReply {
                err: "missing entry".into(),
            }));
        };
        let entry = StorageEntry {
            key: entry.key,
            value: Zeroizing::new(entry.value),
            seal_wrap: entry.seal_wrap,
        };
        let err = self
            .0
            .put(entry)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        Ok(Response::new(pb::StoragePutReply { err }))
    }

    async fn delete(
        &self,
        request: Request<pb::StorageDeleteArgs>,
    ) -> Result<Response<pb::StorageDeleteReply>, Status> {
        let a = request.into_inner();
        if let Some(err) = txn_refused(&a.txn) {
            return Ok(Response::new(pb::StorageDeleteReply { err }));
        }
        let err = self
            .0
            .delete(&a.key)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        Ok(Response::new(pb::StorageDeleteReply { err }))
    }

    async fn is_transactional(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::StorageIsTransactionalReply>, Status> {
        Ok(Response::new(pb::StorageIsTransactionalReply {
            transactional: false,
        }))
    }

    async fn begin_read_only_tx(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::StorageBeginTxReply>, Status> {
        Ok(Response::new(pb::StorageBeginTxReply {
            txn: String::new(),
            err: NO_TXN.into(),
        }))
    }

    async fn begin_tx(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::StorageBeginTxReply>, Status> {
        Ok(Response::new(pb::StorageBeginTxReply {
            txn: String::new(),
            err: NO_TXN.into(),
        }))
    }

    async fn commit(
        &self,
        _request: Request<pb::StorageCommitTxArgs>,
    ) -> Result<Response<pb::StorageCommitTxReply>, Status> {
        Ok(Response::new(pb::StorageCommitTxReply {
            err: NO_TXN.into(),
        }))
    }

    async fn rollback(
        &self,
        _request: Request<pb::StorageRollbackTxArgs>,
    ) -> Result<Response<pb::StorageRollbackTxReply>, Status> {
        Ok(Response::new(pb::StorageRollbackTxReply {
            err: NO_TXN.into(),
        }))
    }
}

/// `pb.SystemView` over an `arca_sdk::SystemView`; what Arca has no notion of answers with
/// empty values (no entity, no groups, replication state 0).
pub struct HostSystemView(pub Arc<dyn SystemView>);

#[tonic::async_trait]
impl system_view_server::SystemView for HostSystemView {
    async fn default_lease_ttl(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::TtlReply>, Status> {
        Ok(Response::new(pb::TtlReply {
            ttl: duration_to_ns(self.0.default_lease_ttl()),
        }))
    }

    async fn max_lease_ttl(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::TtlReply>, Status> {
        Ok(Response::new(pb::TtlReply {
            ttl: duration_to_ns(self.0.max_lease_ttl()),
        }))
    }

    async fn tainted(&self, _r: Request<pb::Empty>) -> Result<Response<pb::TaintedReply>, Status> {
        Ok(Response::new(pb::TaintedReply {
            tainted: self.0.tainted(),
        }))
    }

    async fn caching_disabled(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::CachingDisabledReply>, Status> {
        Ok(Response::new(pb::CachingDisabledReply {
            disabled: self.0.caching_disabled(),
        }))
    }

    async fn replication_state(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::ReplicationStateReply>, Status> {
        Ok(Response::new(pb::ReplicationStateReply { state: 0 }))
    }

    async fn response_wrap_data(
        &self,
        _r: Request<pb::ResponseWrapDataArgs>,
    ) -> Result<Response<pb::ResponseWrapDataReply>, Status> {
        Ok(Response::new(pb::ResponseWrapDataReply {
            wrap_info: None,
            err: "response wrapping is not available to plugins".into(),
        }))
    }

    async fn mlock_enabled(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::MlockEnabledReply>, Status> {
        Ok(Response::new(pb::MlockEnabledReply { enabled: false }))
    }

    async fn local_mount(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::LocalMountReply>, Status> {
        Ok(Response::new(pb::LocalMountReply {
            local: self.0.local_mount(),
        }))
    }

    async fn entity_info(
        &self,
        _r: Request<pb::EntityInfoArgs>,
    ) -> Result<Response<pb::EntityInfoReply>, Status> {
        Ok(Response::new(pb::EntityInfoReply {
            entity: None,
            err: String::new(),
        }))
    }

    async fn plugin_env(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::PluginEnvReply>, Status> {
        Ok(Response::new(pb::PluginEnvReply {
            plugin_environment: Some(logical::PluginEnvironment {
                vault_version: self.0.server_version(),
                vault_version_prerelease: String::new(),
                vault_version_metadata: String::new(),
            }),
            err: String::new(),
        }))
    }

    async fn groups_for_entity(
        &self,
        _r: Request<pb::EntityInfoArgs>,
    ) -> Result<Response<pb::GroupsForEntityReply>, Status> {
        Ok(Response::new(pb::GroupsForEntityReply {
            groups: vec![],
            err: String::new(),
        }))
    }

    async fn generate_password_from_policy(
        &self,
        _r: Request<pb::GeneratePasswordFromPolicyRequest>,
    ) -> Result<Response<pb::GeneratePasswordFromPolicyReply>, Status> {
        Err(Status::unimplemented(
            "password policies are not available to plugins",
        ))
    }

    async fn cluster_info(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::ClusterInfoReply>, Status> {
        Ok(Response::new(pb::ClusterInfoReply::default()))
    }
}

/// Listens on a new unix socket and serves `storage` and `system` there over mTLS; returns the
/// socket path (for the `ConnInfo`) and the server task.
pub fn serve_brokered(
    storage: Arc<dyn Storage>,
    system: Arc<dyn SystemView>,
    tls: Arc<rustls::ServerConfig>,
) -> Result<(PathBuf, JoinHandle<()>), PluginError> {
    let (listener, path) = bind_temp_socket()?;
    let incoming = tls_incoming(listener, tls);
    let router = tonic::transport::Server::builder()
        .add_service(
            storage_server::StorageServer::new(HostStorage(storage))
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(system_view_server::SystemViewServer::new(HostSystemView(
            system,
        )));
    let task = tokio::spawn(async move {
        if let Err(e) = router.serve_with_incoming(incoming).await {
            tracing::warn!(error = %e, "brokered plugin services stopped");
        }
    });
    Ok((path, task))
}
