//! The host side of the broker: `pb.Storage` and `pb.SystemView` served to a plugin from the
//! mount's `arca_sdk` storage view and system view, on a brokered unix socket with mTLS.

use std::path::PathBuf;
use std::sync::Arc;

use arca_sdk::{Storage, StorageEntry, SystemView};
use tokio::task::JoinHandle;
use tonic::Status;
use zeroize::Zeroizing;

use crate::convert::duration_to_ns;
use crate::error::PluginError;
use crate::proto::logical;
use crate::proto::pb::{self, storage_server, system_view_server};
use crate::rpc::{ErrReply, grpc_service, reply};
use crate::transport::{MAX_MESSAGE_SIZE, bind_temp_socket, tls_incoming};

const NO_TXN: &str = "transactions are not supported";

/// `pb.Storage` over an `arca_sdk::Storage`. Transactions are not offered
/// (`IsTransactional` = false), so OpenBao-SDK plugins never start one.
pub struct HostStorage(pub Arc<dyn Storage>);

/// Refuses a call made inside a transaction (none is ever handed out).
fn no_txn<R: ErrReply>(txn: &str) -> Result<(), R> {
    if txn.is_empty() {
        Ok(())
    } else {
        Err(R::failed(NO_TXN))
    }
}

/// Leaves an RPC body with `Ok(reply)` when `check` refused the call.
macro_rules! refuse {
    ($check:expr) => {
        if let Err(refused) = $check {
            return Ok(refused);
        }
    };
}

fn keys(keys: Vec<String>) -> pb::StorageListReply {
    pb::StorageListReply {
        keys,
        err: String::new(),
    }
}

grpc_service! {
    impl storage_server::Storage for HostStorage {
        fn list(&self, a: pb::StorageListArgs) -> pb::StorageListReply {
            refuse!(no_txn(&a.txn));
            Ok(reply(self.0.list(&a.prefix).await, keys))
        }

        fn list_page(&self, a: pb::StorageListPageArgs) -> pb::StorageListReply {
            refuse!(no_txn(&a.txn));
            let limit = usize::try_from(a.limit).unwrap_or(0);
            Ok(reply(self.0.list_page(&a.prefix, &a.after, limit).await, keys))
        }

        fn get(&self, a: pb::StorageGetArgs) -> pb::StorageGetReply {
            refuse!(no_txn(&a.txn));
            Ok(reply(self.0.get(&a.key).await, |e| pb::StorageGetReply {
                entry: e.map(|e| pb::StorageEntry {
                    key: e.key.clone(),
                    value: e.value.to_vec(),
                    seal_wrap: e.seal_wrap,
                }),
                err: String::new(),
            }))
        }

        fn put(&self, a: pb::StoragePutArgs) -> pb::StoragePutReply {
            refuse!(no_txn(&a.txn));
            let Some(entry) = a.entry else {
                return Ok(ErrReply::failed("missing entry"));
            };
            let entry = StorageEntry {
                key: entry.key,
                value: Zeroizing::new(entry.value),
                seal_wrap: entry.seal_wrap,
            };
            Ok(reply(self.0.put(entry).await, |()| Default::default()))
        }

        fn delete(&self, a: pb::StorageDeleteArgs) -> pb::StorageDeleteReply {
            refuse!(no_txn(&a.txn));
            Ok(reply(self.0.delete(&a.key).await, |()| Default::default()))
        }

        fn is_transactional(&self, _: pb::Empty) -> pb::StorageIsTransactionalReply {
            Ok(pb::StorageIsTransactionalReply {
                transactional: false,
            })
        }

        fn begin_read_only_tx(&self, _: pb::Empty) -> pb::StorageBeginTxReply {
            Ok(ErrReply::failed(NO_TXN))
        }

        fn begin_tx(&self, _: pb::Empty) -> pb::StorageBeginTxReply {
            Ok(ErrReply::failed(NO_TXN))
        }

        fn commit(&self, _: pb::StorageCommitTxArgs) -> pb::StorageCommitTxReply {
            Ok(ErrReply::failed(NO_TXN))
        }

        fn rollback(&self, _: pb::StorageRollbackTxArgs) -> pb::StorageRollbackTxReply {
            Ok(ErrReply::failed(NO_TXN))
        }
    }
}

/// `pb.SystemView` over an `arca_sdk::SystemView`; what Arca has no notion of answers with
/// empty values (no entity, no groups, replication state 0).
pub struct HostSystemView(pub Arc<dyn SystemView>);

grpc_service! {
    impl system_view_server::SystemView for HostSystemView {
        fn default_lease_ttl(&self, _: pb::Empty) -> pb::TtlReply {
            Ok(pb::TtlReply {
                ttl: duration_to_ns(self.0.default_lease_ttl()),
            })
        }

        fn max_lease_ttl(&self, _: pb::Empty) -> pb::TtlReply {
            Ok(pb::TtlReply {
                ttl: duration_to_ns(self.0.max_lease_ttl()),
            })
        }

        fn tainted(&self, _: pb::Empty) -> pb::TaintedReply {
            Ok(pb::TaintedReply {
                tainted: self.0.tainted(),
            })
        }

        fn caching_disabled(&self, _: pb::Empty) -> pb::CachingDisabledReply {
            Ok(pb::CachingDisabledReply {
                disabled: self.0.caching_disabled(),
            })
        }

        fn replication_state(&self, _: pb::Empty) -> pb::ReplicationStateReply {
            Ok(pb::ReplicationStateReply { state: 0 })
        }

        fn response_wrap_data(&self, _: pb::ResponseWrapDataArgs) -> pb::ResponseWrapDataReply {
            Ok(pb::ResponseWrapDataReply {
                wrap_info: None,
                err: "response wrapping is not available to plugins".into(),
            })
        }

        fn mlock_enabled(&self, _: pb::Empty) -> pb::MlockEnabledReply {
            Ok(pb::MlockEnabledReply { enabled: false })
        }

        fn local_mount(&self, _: pb::Empty) -> pb::LocalMountReply {
            Ok(pb::LocalMountReply {
                local: self.0.local_mount(),
            })
        }

        fn entity_info(&self, _: pb::EntityInfoArgs) -> pb::EntityInfoReply {
            Ok(pb::EntityInfoReply::default())
        }

        fn plugin_env(&self, _: pb::Empty) -> pb::PluginEnvReply {
            Ok(pb::PluginEnvReply {
                plugin_environment: Some(logical::PluginEnvironment {
                    vault_version: self.0.server_version(),
                    vault_version_prerelease: String::new(),
                    vault_version_metadata: String::new(),
                }),
                err: String::new(),
            })
        }

        fn groups_for_entity(&self, _: pb::EntityInfoArgs) -> pb::GroupsForEntityReply {
            Ok(pb::GroupsForEntityReply::default())
        }

        fn generate_password_from_policy(
            &self,
            args: pb::GeneratePasswordFromPolicyRequest,
        ) -> pb::GeneratePasswordFromPolicyReply {
            // As OpenBao's gRPC system view: the cause stays in the host.
            if args.policy_name.is_empty() {
                return Err(Status::invalid_argument("no password policy specified"));
            }
            match self.0.generate_password_from_policy(&args.policy_name).await {
                Ok(password) => Ok(pb::GeneratePasswordFromPolicyReply {
                    password: password.as_str().to_string(),
                }),
                Err(_) => Err(Status::internal("failed to generate password")),
            }
        }

        fn cluster_info(&self, _: pb::Empty) -> pb::ClusterInfoReply {
            Ok(pb::ClusterInfoReply::default())
        }
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
