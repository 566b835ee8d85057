//! The plugin side of a database plugin: serves a [`DatabasePlugin`] as OpenBao's
//! `dbplugin.Serve` does (protocol 5, one database per process), beside go-plugin's broker,
//! controller and health services and `logical.PluginVersion`.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::marshal::{commands, map_to_struct, struct_to_map, time_of};
use super::{
    ChangeExpiration, ChangePassword, ChangePublicKey, DatabaseError, DatabasePlugin, DeleteUser,
    NewUser, UpdateUser, UsernameConfig,
};
use crate::error::PluginError;
use crate::handshake::{DATABASE_HANDSHAKE, NOT_A_PROGRAM_MESSAGE};
use crate::proto::dbplugin::{self as pb, database_server};
use crate::proto::health::health_server;
use crate::proto::logical::{self, plugin_version_server};
use crate::proto::plugin::{self, grpc_broker_server, grpc_controller_server};
use crate::serve::{
    BrokerInbox, BrokerService, HealthService, cookie_present, listen, serve_router,
};
use crate::transport::MAX_MESSAGE_SIZE;

/// The app protocol this side serves: 5, a single database per process.
const DATABASE_PROTOCOL: u32 = 5;

/// Runs `plugin` as a database plugin binary and returns the process exit code: 1 without
/// the `VAULT_DATABASE_PLUGIN` cookie (after printing go-plugin's "This binary is a plugin"
/// text) or on a start-up error, 0 after the host shut it down.
pub async fn serve_database(plugin: Arc<dyn DatabasePlugin>) -> ExitCode {
    if !cookie_present(&DATABASE_HANDSHAKE) {
        eprint!("{NOT_A_PROGRAM_MESSAGE}");
        return ExitCode::from(1);
    }
    match run_database(plugin).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("plugin error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Serves the database plugin protocol (the cookie is assumed checked) until the host shuts
/// the plugin down.
pub async fn run_database(plugin: Arc<dyn DatabasePlugin>) -> Result<(), PluginError> {
    let listening = listen(DATABASE_PROTOCOL)?;
    let (stop, _) = watch::channel(false);
    let service = Arc::new(DatabaseService {
        plugin,
        stop: stop.clone(),
    });
    let router = tonic::transport::Server::builder()
        .add_service(
            database_server::DatabaseServer::from_arc(service.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
        .add_service(grpc_broker_server::GrpcBrokerServer::new(BrokerService(
            Arc::new(BrokerInbox::default()),
        )))
        .add_service(grpc_controller_server::GrpcControllerServer::from_arc(
            service.clone(),
        ))
        .add_service(health_server::HealthServer::new(HealthService))
        .add_service(plugin_version_server::PluginVersionServer::from_arc(
            service,
        ));
    serve_router(router, listening, stop).await
}

/// The services of a database plugin process over its one database.
struct DatabaseService {
    plugin: Arc<dyn DatabasePlugin>,
    stop: watch::Sender<bool>,
}

/// `Internal` with OpenBao's prefix for a failed call of the plugin.
fn internal(prefix: &str, e: DatabaseError) -> Status {
    Status::internal(format!("{prefix}: {e}"))
}

/// The plain form of an `UpdateUserRequest`, refused when it changes nothing (OpenBao's
/// `getUpdateUserRequest`).
fn update_request(req: pb::UpdateUserRequest) -> Result<UpdateUser, String> {
    let password = req
        .password
        .filter(|p| !p.new_password.is_empty())
        .map(|p| ChangePassword {
            new_password: p.new_password.into(),
            statements: commands(p.statements),
        });
    let public_key = req
        .public_key
        .filter(|k| !k.new_public_key.is_empty())
        .map(|k| ChangePublicKey {
            new_public_key: k.new_public_key,
            statements: commands(k.statements),
        });
    let expiration = match req.expiration {
        Some(pb::ChangeExpiration {
            new_expiration: Some(t),
            statements,
        }) => Some(ChangeExpiration {
            new_expiration: time_of(&t)
                .map_err(|e| format!("unable to parse new expiration: {e}"))?,
            statements: commands(statements),
        }),
        _ => None,
    };
    if password.is_none() && public_key.is_none() && expiration.is_none() {
        return Err("update user request has no changes".into());
    }
    Ok(UpdateUser {
        username: req.username,
        credential_type: req.credential_type,
        password,
        public_key,
        expiration,
    })
}

#[tonic::async_trait]
impl database_server::Database for DatabaseService {
    async fn initialize(
        &self,
        request: Request<pb::InitializeRequest>,
    ) -> Result<Response<pb::InitializeResponse>, Status> {
        let req = request.into_inner();
        let config = struct_to_map(req.config_data);
        let stored = self
            .plugin
            .initialize(config, req.verify_connection)
            .await
            .map_err(|e| internal("failed to initialize", e))?;
        Ok(Response::new(pb::InitializeResponse {
            config_data: Some(map_to_struct(&stored)),
        }))
    }

    async fn new_user(
        &self,
        request: Request<pb::NewUserRequest>,
    ) -> Result<Response<pb::NewUserResponse>, Status> {
        let req = request.into_inner();
        let Some(names) = req.username_config else {
            return Err(Status::invalid_argument("missing username config"));
        };
        let expiration = match &req.expiration {
            Some(t) => Some(time_of(t).map_err(|e| {
                Status::invalid_argument(format!("unable to parse expiration date: {e}"))
            })?),
            None => None,
        };
        let new = NewUser {
            username_config: UsernameConfig {
                display_name: names.display_name,
                role_name: names.role_name,
            },
            credential_type: req.credential_type,
            password: req.password.into(),
            public_key: req.public_key,
            subject: req.subject,
            expiration,
            statements: commands(req.statements),
            rollback_statements: commands(req.rollback_statements),
        };
        let username = self
            .plugin
            .new_user(new)
            .await
            .map_err(|e| internal("unable to create new user", e))?;
        Ok(Response::new(pb::NewUserResponse { username }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let req = request.into_inner();
        if req.username.is_empty() {
            return Err(Status::invalid_argument("no username provided"));
        }
        let update = update_request(req).map_err(Status::invalid_argument)?;
        self.plugin
            .update_user(update)
            .await
            .map_err(|e| internal("unable to update user", e))?;
        Ok(Response::new(pb::UpdateUserResponse {}))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let req = request.into_inner();
        if req.username.is_empty() {
            return Err(Status::invalid_argument("no username provided"));
        }
        self.plugin
            .delete_user(DeleteUser {
                username: req.username,
                statements: commands(req.statements),
            })
            .await
            .map_err(|e| internal("unable to delete user", e))?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    async fn r#type(
        &self,
        _request: Request<pb::Empty>,
    ) -> Result<Response<pb::TypeResponse>, Status> {
        Ok(Response::new(pb::TypeResponse {
            r#type: self.plugin.type_name(),
        }))
    }

    async fn close(&self, _request: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        self.plugin
            .close()
            .await
            .map_err(|e| internal("unable to close database plugin", e))?;
        Ok(Response::new(pb::Empty {}))
    }
}

#[tonic::async_trait]
impl grpc_controller_server::GrpcController for DatabaseService {
    async fn shutdown(
        &self,
        _request: Request<plugin::Empty>,
    ) -> Result<Response<plugin::Empty>, Status> {
        let _ = self.stop.send(true);
        Ok(Response::new(plugin::Empty {}))
    }
}

#[tonic::async_trait]
impl plugin_version_server::PluginVersion for DatabaseService {
    async fn version(
        &self,
        _request: Request<logical::Empty>,
    ) -> Result<Response<logical::VersionReply>, Status> {
        Ok(Response::new(logical::VersionReply {
            plugin_version: self.plugin.version().unwrap_or_default(),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_update_without_changes_is_refused() {
        let e = update_request(pb::UpdateUserRequest {
            username: "u".into(),
            password: Some(pb::ChangePassword {
                new_password: String::new(),
                statements: None,
            }),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e, "update user request has no changes");
        let ok = update_request(pb::UpdateUserRequest {
            username: "u".into(),
            password: Some(pb::ChangePassword {
                new_password: "p".into(),
                statements: Some(pb::Statements {
                    commands: vec!["ALTER".into()],
                }),
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.password.unwrap().statements, vec!["ALTER".to_string()]);
    }
}
