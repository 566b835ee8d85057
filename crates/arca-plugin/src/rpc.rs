//! What every RPC of the brokered services shares, written once: [`grpc_service!`] writes a
//! tonic service impl from plain bodies, and [`ErrReply`] is the `err` string the SDK's
//! storage replies carry in place of a gRPC error (as Vault's Go SDK does).

use arca_sdk::StorageError;

use crate::proto::pb;

/// Writes a tonic service impl from RPC bodies. Each
/// `fn name(&self, args: Args) -> Reply { body }` becomes the `async fn` tonic expects: the
/// request is unwrapped into `args`, and the body's `Result<Reply, Status>` is wrapped in a
/// `Response` (`return` leaves the body early with such a result).
macro_rules! grpc_service {
    (impl $($service:ident)::+ for $ty:ident {
        $(
            $(#[$meta:meta])*
            fn $name:ident(&$self:ident, $args:tt: $args_ty:ty $(,)?) -> $reply:ty $body:block
        )*
    }) => {
        #[tonic::async_trait]
        impl $($service)::+ for $ty {
            $(
                $(#[$meta])*
                async fn $name(
                    &$self,
                    request: tonic::Request<$args_ty>,
                ) -> Result<tonic::Response<$reply>, tonic::Status> {
                    let $args = request.into_inner();
                    let reply: Result<$reply, tonic::Status> = async { $body }.await;
                    reply.map(tonic::Response::new)
                }
            )*
        }
    };
}
pub(crate) use grpc_service;

/// A reply message with an `err` string: empty on success, the error text otherwise.
pub trait ErrReply: Default {
    /// The reply to a call that failed with `err`.
    fn failed(err: impl ToString) -> Self {
        let mut reply = Self::default();
        *reply.err_mut() = err.to_string();
        reply
    }

    /// Its `err` field.
    fn err_mut(&mut self) -> &mut String;

    /// `Ok(self)` when `err` is empty, else the error it names (the sealed error by its text,
    /// so a plugin sees `StorageError::Sealed` as the host raised it).
    fn into_result(mut self) -> Result<Self, StorageError> {
        let err = std::mem::take(self.err_mut());
        if err.is_empty() {
            Ok(self)
        } else if err == StorageError::Sealed.to_string() {
            Err(StorageError::Sealed)
        } else {
            Err(StorageError::Backend(err))
        }
    }
}

/// [`ErrReply`] for each listed message (each has `err: String`).
macro_rules! err_replies {
    ($($reply:ty),* $(,)?) => {
        $(impl ErrReply for $reply {
            fn err_mut(&mut self) -> &mut String {
                &mut self.err
            }
        })*
    };
}

err_replies!(
    pb::StorageListReply,
    pb::StorageGetReply,
    pb::StoragePutReply,
    pb::StorageDeleteReply,
    pb::StorageBeginTxReply,
    pb::StorageCommitTxReply,
    pb::StorageRollbackTxReply,
);

/// `ok(value)` for a successful storage call, the failed reply otherwise.
pub fn reply<T, E: ToString, R: ErrReply>(result: Result<T, E>, ok: impl FnOnce(T) -> R) -> R {
    match result {
        Ok(v) => ok(v),
        Err(e) => R::failed(e),
    }
}
