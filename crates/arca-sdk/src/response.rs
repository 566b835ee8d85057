//! A logical response and the lease (`Secret`) and token (`Auth`) it may carry.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::JsonMap;
use crate::redact::{KeysOnly, Redacted};
use crate::storage::is_default;

/// Lease timing shared by secrets and auth.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseOptions {
    /// Time to live.
    #[serde(with = "secs")]
    pub ttl: Duration,
    /// Hard upper bound of the lease's life.
    #[serde(with = "secs")]
    pub max_ttl: Duration,
    /// Whether the lease may be renewed.
    pub renewable: bool,
    /// The increment asked for on renewal.
    #[serde(with = "secs")]
    pub increment: Duration,
    /// When the lease was issued (RFC 3339), set by the core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_time: Option<String>,
}

/// A secret with a lease: the backend's renew/revoke hooks are called through it.
/// `Debug` redacts `internal_data`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    /// Lease timing.
    #[serde(flatten)]
    pub lease: LeaseOptions,
    /// Data the backend keeps for renew/revoke, never shown to clients.
    #[serde(default)]
    pub internal_data: JsonMap,
    /// The lease id, set by the core.
    #[serde(default)]
    pub lease_id: String,
}

/// A token issued by a login or by the token store. `Debug` redacts the token and
/// `internal_data`. Serialized (in a token's stored lease), fields at their default are left
/// out.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Auth {
    /// Lease timing of the token.
    #[serde(flatten)]
    pub lease: LeaseOptions,
    /// Data the auth method keeps for renewals.
    #[serde(default, skip_serializing_if = "is_default")]
    pub internal_data: JsonMap,
    /// Display name for the token.
    #[serde(default)]
    pub display_name: String,
    /// Policies attached to the token.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Policies attached by the token itself (not via identity).
    #[serde(default)]
    pub token_policies: Vec<String>,
    /// Policies the token's entity gets from identity (its own and its groups'), shown
    /// apart after a login; empty for a token without one.
    #[serde(default, skip_serializing_if = "is_default")]
    pub identity_policies: Vec<String>,
    /// Metadata shown with the token.
    #[serde(default, skip_serializing_if = "is_default")]
    pub metadata: HashMap<String, String>,
    /// The token, set by the core once created (wiped on drop).
    #[serde(default, skip_serializing_if = "is_default")]
    pub client_token: Zeroizing<String>,
    /// Its accessor.
    #[serde(default, skip_serializing_if = "is_default")]
    pub accessor: String,
    /// Periodic tokens: renewals reset the TTL to this.
    #[serde(default, with = "secs", skip_serializing_if = "Duration::is_zero")]
    pub period: Duration,
    /// Hard upper bound whatever renewals happen.
    #[serde(default, with = "secs", skip_serializing_if = "Duration::is_zero")]
    pub explicit_max_ttl: Duration,
    /// How many uses the token has (0 = unlimited).
    #[serde(default, skip_serializing_if = "is_default")]
    pub num_uses: u64,
    /// Entity the token belongs to.
    #[serde(default, skip_serializing_if = "is_default")]
    pub entity_id: String,
    /// Whether the token has no parent.
    #[serde(default, skip_serializing_if = "is_default")]
    pub orphan: bool,
    /// `"service"` or `"batch"`.
    #[serde(default)]
    pub token_type: String,
    /// CIDR blocks (Go's text: an address alone for a full mask) the token may be used from;
    /// empty for anywhere.
    #[serde(default, skip_serializing_if = "is_default")]
    pub bound_cidrs: Vec<String>,
    /// Whether the core leaves out the `default` policy.
    #[serde(default, skip_serializing_if = "is_default")]
    pub no_default_policy: bool,
    /// The identity alias of the user or machine that logged in (the user name, the role id):
    /// the core keys user lockout and, later, identity entities on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<Alias>,
    /// The groups of the auth method's own (an LDAP group, an OIDC `groups` claim) the login
    /// belongs to: the core makes the entity a member of the external groups whose group
    /// alias names them on this mount, and drops it from this mount's others, at login and
    /// at every renewal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_aliases: Vec<Alias>,
    /// The MFA a login must still pass (OpenBao's `mfa_requirement`: a request id and the
    /// methods each enforcement takes), set by the core instead of a token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_requirement: Option<serde_json::Value>,
}

/// The identity of whoever logged in, as an auth method names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alias {
    /// The name, unique within the mount (`alice`, a role id).
    pub name: String,
    /// Metadata shown on the alias.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub metadata: HashMap<String, String>,
}

/// What the core tells the client about a wrapped response. `Debug` redacts the token.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseWrapInfo {
    /// The single-use wrapping token (wiped on drop).
    pub token: Zeroizing<String>,
    /// Its accessor.
    pub accessor: String,
    /// Seconds it lives.
    pub ttl: u64,
    /// When it was created (RFC 3339).
    pub creation_time: String,
    /// The path whose response was wrapped.
    pub creation_path: String,
    /// The entity that created it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wrapped_accessor: String,
}

/// A response whose HTTP form the backend sets itself (status, content type, body). `Debug`
/// shows the body's length only.
#[derive(Clone, PartialEq, Eq)]
pub struct RawHttp {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type` header value.
    pub content_type: String,
    /// The body bytes.
    pub body: Vec<u8>,
    /// A body that follows `body` as it is produced (`sys/monitor`); an empty content type
    /// then sends no `Content-Type`.
    pub stream: Option<crate::body_stream::BodyStream>,
}

/// The result of a request, before the HTTP layer turns it into the JSON envelope. `Debug`
/// shows the keys of `data` and `headers`, never their values, and redacts what `secret`,
/// `auth` and `wrap_info` hold.
#[derive(Clone, Default)]
pub struct Response {
    /// The `data` object.
    pub data: Option<JsonMap>,
    /// A leased secret.
    pub secret: Option<Secret>,
    /// A token from a login.
    pub auth: Option<Auth>,
    /// Warnings for the client.
    pub warnings: Vec<String>,
    /// Wrapping information once the core wrapped the response.
    pub wrap_info: Option<ResponseWrapInfo>,
    /// Extra response headers.
    pub headers: HashMap<String, Vec<String>>,
    /// A raw HTTP response that replaces the JSON envelope.
    pub raw: Option<RawHttp>,
    /// A status code other than 200 for a JSON envelope response (e.g. 404 with data).
    pub status: Option<u16>,
    /// The mount type, echoed as `mount_type`.
    pub mount_type: String,
    /// Also copy every `data` key to the top level of the JSON envelope, as Vault does for its
    /// older `sys/` endpoints (`sys/mounts`, `sys/key-status`, ...).
    pub top_level_data: bool,
}

impl Response {
    /// A response carrying `data`.
    pub fn with_data(data: JsonMap) -> Response {
        Response {
            data: Some(data),
            ..Response::default()
        }
    }

    /// A response whose `data` is the serialized `value` (which must serialize to an object).
    pub fn from_serialize<T: Serialize>(value: &T) -> Result<Response, crate::LogicalError> {
        match serde_json::to_value(value) {
            Ok(serde_json::Value::Object(map)) => Ok(Response::with_data(map)),
            Ok(_) => Err(crate::LogicalError::internal(
                "response data is not a JSON object",
            )),
            Err(e) => Err(crate::LogicalError::internal(e)),
        }
    }

    /// The answer of an alias look-ahead: an `Auth` naming the alias `name` and nothing else.
    pub fn alias_lookahead(name: String) -> Response {
        Response {
            auth: Some(Auth {
                alias: Some(Alias {
                    name,
                    ..Alias::default()
                }),
                ..Auth::default()
            }),
            ..Response::default()
        }
    }

    /// Adds a warning.
    pub fn warn(&mut self, warning: impl Into<String>) {
        self.warnings.push(warning.into());
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("lease", &self.lease)
            .field("internal_data", &KeysOnly::new(&self.internal_data))
            .field("lease_id", &self.lease_id)
            .finish()
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("lease", &self.lease)
            .field("internal_data", &KeysOnly::new(&self.internal_data))
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .field("token_policies", &self.token_policies)
            .field("metadata", &KeysOnly::new(&self.metadata))
            .field("client_token", &Redacted)
            .field("accessor", &self.accessor)
            .field("period", &self.period)
            .field("explicit_max_ttl", &self.explicit_max_ttl)
            .field("num_uses", &self.num_uses)
            .field("entity_id", &self.entity_id)
            .field("orphan", &self.orphan)
            .field("token_type", &self.token_type)
            .field("bound_cidrs", &self.bound_cidrs)
            .field("no_default_policy", &self.no_default_policy)
            .field("alias", &self.alias.as_ref().map(|a| &a.name))
            .finish()
    }
}

impl fmt::Debug for ResponseWrapInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseWrapInfo")
            .field("token", &Redacted)
            .field("accessor", &self.accessor)
            .field("ttl", &self.ttl)
            .field("creation_time", &self.creation_time)
            .field("creation_path", &self.creation_path)
            .field("wrapped_accessor", &self.wrapped_accessor)
            .finish()
    }
}

impl fmt::Debug for RawHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawHttp")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("data", &self.data.as_ref().map(KeysOnly::new))
            .field("secret", &self.secret)
            .field("auth", &self.auth)
            .field("warnings", &self.warnings)
            .field("wrap_info", &self.wrap_info)
            .field("headers", &KeysOnly::new(&self.headers))
            .field("raw", &self.raw)
            .field("status", &self.status)
            .field("mount_type", &self.mount_type)
            .field("top_level_data", &self.top_level_data)
            .finish()
    }
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}
