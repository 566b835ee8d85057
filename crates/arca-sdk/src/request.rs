//! A logical request: what the HTTP layer builds, the core checks and a backend handles.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::redact::{KeysOnly, redacted_option};
use crate::response::{Auth, Secret};
use crate::{JsonMap, Operation, Storage};

/// The network connection a request came in on.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    /// The client's IP address.
    pub remote_addr: String,
    /// The client's port.
    pub remote_port: u16,
    /// The client certificate chain presented on TLS (DER), leaf first.
    pub peer_certificates: Vec<Vec<u8>>,
}

/// What the client asked for in `X-Vault-Wrap-TTL` / `X-Vault-Wrap-Format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestWrapInfo {
    /// How long the wrapping token lives.
    pub ttl: Duration,
    /// `"jwt"` or empty for a plain token.
    pub format: String,
}

/// One request, as the core routes it. When handed to a backend, `path` is relative to the mount.
#[derive(Clone)]
pub struct Request {
    /// Unique id of the request (a UUID), echoed as `request_id`.
    pub id: String,
    /// The logical operation.
    pub operation: Operation,
    /// The path: absolute (after `/v1/`) in the core, relative to the mount in a backend.
    pub path: String,
    /// The request body or query parameters.
    pub data: JsonMap,
    /// The client token, if one was sent.
    pub client_token: Option<Zeroizing<String>>,
    /// The client token came in `Authorization: Bearer` rather than `X-Vault-Token` (an OIDC
    /// provider's userinfo endpoint takes it only so).
    pub client_token_from_authorization: bool,
    /// The accessor of the client token, once it has been looked up.
    pub client_token_accessor: String,
    /// The display name of the token.
    pub display_name: String,
    /// The entity the token belongs to, if any.
    pub entity_id: String,
    /// The policies of the token (after lookup).
    pub policies: Vec<String>,
    /// The mount the request was routed to (`"secret/"`, `"auth/userpass/"`).
    pub mount_point: String,
    /// The type of that mount (`"kv"`).
    pub mount_type: String,
    /// The accessor of that mount.
    pub mount_accessor: String,
    /// Request headers, lower-case names.
    pub headers: HashMap<String, Vec<String>>,
    /// The client connection.
    pub connection: Option<Connection>,
    /// Response wrapping asked for by the client.
    pub wrap_info: Option<RequestWrapInfo>,
    /// The storage view of the mount the request is routed to.
    pub storage: Option<Arc<dyn Storage>>,
    /// The lease being renewed or revoked.
    pub secret: Option<Secret>,
    /// The token auth being renewed.
    pub auth: Option<Auth>,
    /// True on paths the backend marks unauthenticated.
    pub unauthenticated: bool,
    /// True when the request came through the CLI or API with `X-Vault-Request`.
    pub from_api_client: bool,
    /// The namespace: on the way in, the canonical path the client named in
    /// `X-Vault-Namespace` (`""` for the root, else ending in `/`); once the core has resolved
    /// it (header and path prefix together), the path of the namespace the request runs in.
    pub namespace_path: String,
    /// The id of the namespace the request runs in (`"root"`), set by the core.
    pub namespace_id: String,
}

impl Request {
    /// A request with the given operation and path and everything else empty.
    pub fn new(operation: Operation, path: impl Into<String>) -> Request {
        Request {
            id: String::new(),
            operation,
            path: path.into(),
            data: JsonMap::new(),
            client_token: None,
            client_token_from_authorization: false,
            client_token_accessor: String::new(),
            display_name: String::new(),
            entity_id: String::new(),
            policies: Vec::new(),
            mount_point: String::new(),
            mount_type: String::new(),
            mount_accessor: String::new(),
            headers: HashMap::new(),
            connection: None,
            wrap_info: None,
            storage: None,
            secret: None,
            auth: None,
            unauthenticated: false,
            from_api_client: false,
            namespace_path: String::new(),
            namespace_id: String::new(),
        }
    }

    /// A copy of the request without its body (`data` empty): for a look at the request that
    /// needs only its path and context, without copying a large body.
    pub fn clone_without_data(&self) -> Request {
        let Request {
            id,
            operation,
            path,
            data: _,
            client_token,
            client_token_from_authorization,
            client_token_accessor,
            display_name,
            entity_id,
            policies,
            mount_point,
            mount_type,
            mount_accessor,
            headers,
            connection,
            wrap_info,
            storage,
            secret,
            auth,
            unauthenticated,
            from_api_client,
            namespace_path,
            namespace_id,
        } = self;
        Request {
            id: id.clone(),
            operation: *operation,
            path: path.clone(),
            data: JsonMap::new(),
            client_token: client_token.clone(),
            client_token_from_authorization: *client_token_from_authorization,
            client_token_accessor: client_token_accessor.clone(),
            display_name: display_name.clone(),
            entity_id: entity_id.clone(),
            policies: policies.clone(),
            mount_point: mount_point.clone(),
            mount_type: mount_type.clone(),
            mount_accessor: mount_accessor.clone(),
            headers: headers.clone(),
            connection: connection.clone(),
            wrap_info: wrap_info.clone(),
            storage: storage.clone(),
            secret: secret.clone(),
            auth: auth.clone(),
            unauthenticated: *unauthenticated,
            from_api_client: *from_api_client,
            namespace_path: namespace_path.clone(),
            namespace_id: namespace_id.clone(),
        }
    }

    /// Sets the body.
    pub fn with_data(mut self, data: JsonMap) -> Request {
        self.data = data;
        self
    }

    /// The client token as a plain `&str` (empty when none).
    pub fn token(&self) -> &str {
        self.client_token.as_ref().map(|t| t.as_str()).unwrap_or("")
    }

    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The storage view, or an internal error when the core handed none.
    pub fn storage(&self) -> Result<&Arc<dyn Storage>, crate::LogicalError> {
        self.storage
            .as_ref()
            .ok_or_else(|| crate::LogicalError::internal("request has no storage view"))
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token, the body and header values may hold secrets: never print them.
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("data", &KeysOnly::new(&self.data))
            .field("client_token", &redacted_option(&self.client_token))
            .field("client_token_accessor", &self.client_token_accessor)
            .field("display_name", &self.display_name)
            .field("entity_id", &self.entity_id)
            .field("policies", &self.policies)
            .field("mount_point", &self.mount_point)
            .field("mount_type", &self.mount_type)
            .field("headers", &KeysOnly::new(&self.headers))
            .field("wrap_info", &self.wrap_info)
            .field("secret", &self.secret)
            .field("auth", &self.auth)
            .field("unauthenticated", &self.unauthenticated)
            .finish_non_exhaustive()
    }
}
