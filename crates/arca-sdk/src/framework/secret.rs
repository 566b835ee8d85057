//! Secret types: what a framework backend declares for each kind of leased secret it issues.
//!
//! A backend answers a request with [`SecretType::response`]; the secret's internal data then
//! records the type's name under [`SECRET_TYPE_KEY`], as Vault's framework does. When the core
//! later renews or revokes the lease, it sends a `Renew` / `Revoke` request carrying that stored
//! secret (`req.secret`) and the original response data (`req.data`); [`FrameworkBackend`]
//! routes it to the named type's renew or revoke handler, whatever the request's path.
//!
//! [`FrameworkBackend`]: super::FrameworkBackend

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Field, FieldData, OpHandler};
use crate::{JsonMap, LeaseOptions, LogicalError, Operation, Request, Response, Secret};

/// The internal-data key naming a secret's type.
pub const SECRET_TYPE_KEY: &str = "secret_type";

/// One kind of leased secret a backend issues, with the handlers that renew and revoke it.
/// Cheap to clone: a backend registers one clone and its handlers build responses with another.
#[derive(Clone)]
pub struct SecretType {
    name: String,
    fields: Arc<BTreeMap<String, Field>>,
    default_ttl: Duration,
    max_ttl: Duration,
    renew: Option<OpHandler>,
    revoke: Option<OpHandler>,
}

impl SecretType {
    /// A secret type named `name`, neither renewable nor revocable yet.
    pub fn new(name: impl Into<String>) -> SecretType {
        SecretType {
            name: name.into(),
            fields: Arc::new(BTreeMap::new()),
            default_ttl: Duration::ZERO,
            max_ttl: Duration::ZERO,
            renew: None,
            revoke: None,
        }
    }

    /// The type's name, recorded in each secret's internal data.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Declares a field of the response data the handlers read (through their [`FieldData`]).
    pub fn field(mut self, f: Field) -> SecretType {
        Arc::make_mut(&mut self.fields).insert(f.name.clone(), f);
        self
    }

    /// The TTL a new secret of this type gets (zero: the mount's default).
    pub fn default_ttl(mut self, ttl: Duration) -> SecretType {
        self.default_ttl = ttl;
        self
    }

    /// The secret's own maximum life (zero: only the mount's and the system's caps).
    pub fn max_ttl(mut self, max_ttl: Duration) -> SecretType {
        self.max_ttl = max_ttl;
        self
    }

    /// Renews a secret of this type; a type with a renew handler issues renewable secrets.
    pub fn renew(mut self, h: OpHandler) -> SecretType {
        self.renew = Some(h);
        self
    }

    /// Revokes a secret of this type.
    pub fn revoke(mut self, h: OpHandler) -> SecretType {
        self.revoke = Some(h);
        self
    }

    /// Whether secrets of this type may be renewed (it has a renew handler).
    pub fn renewable(&self) -> bool {
        self.renew.is_some()
    }

    /// A response carrying `data` and a secret of this type: its internal data is `internal`
    /// plus the type's name, its lease the type's default TTL and max TTL, renewable when the
    /// type can be renewed. The handler may adjust `secret.lease` before answering.
    pub fn response(&self, data: JsonMap, internal: JsonMap) -> Response {
        let mut internal_data = internal;
        internal_data.insert(
            SECRET_TYPE_KEY.into(),
            serde_json::Value::String(self.name.clone()),
        );
        Response {
            data: Some(data),
            secret: Some(Secret {
                lease: LeaseOptions {
                    ttl: self.default_ttl,
                    max_ttl: self.max_ttl,
                    renewable: self.renewable(),
                    ..LeaseOptions::default()
                },
                internal_data,
                lease_id: String::new(),
            }),
            ..Response::default()
        }
    }

    /// Runs the renew or revoke handler for `req`; a missing one is Vault's unsupported
    /// operation.
    pub(crate) async fn handle(&self, mut req: Request) -> Result<Option<Response>, LogicalError> {
        let h = match req.operation {
            Operation::Renew => self.renew.clone(),
            Operation::Revoke => self.revoke.clone(),
            other => {
                return Err(LogicalError::internal(format!(
                    "invalid operation for revoke/renew: \"{}\"",
                    other.as_str()
                )));
            }
        };
        let Some(h) = h else {
            return Err(LogicalError::UnsupportedOperation);
        };
        let data = FieldData::new(std::mem::take(&mut req.data), self.fields.clone());
        h(req, data).await
    }
}

/// The name of the secret type `secret` records, if it records one as a string.
pub(crate) fn secret_type_of(secret: &Secret) -> Option<&str> {
    secret
        .internal_data
        .get(SECRET_TYPE_KEY)
        .and_then(serde_json::Value::as_str)
}
