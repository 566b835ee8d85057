//! Response wrapping, as Vault's: a response is replaced by a single-use wrapping token
//! (policy `response-wrapping`, one use, an orphan whose TTL and explicit max TTL are the wrap
//! TTL) and the JSON envelope it would have been is kept in that token's cubbyhole
//! (`response`, with `wrapinfo` for `sys/wrapping/lookup`). The `sys/wrapping/*` endpoints
//! unwrap, look up and rewrap through [`Wrapping`]; the pipeline calls
//! [`Wrapping::wrap_response`] last, once the backend answered and leases are registered.
//!
//! A wrapping token is spent exactly once: by the pipeline when it is the request's own token
//! (its single use), or here, in a task of its own that a caller's cancellation cannot stop,
//! when a caller names it in a `token` field; every other caller meets [`invalid_token`].

use std::sync::{Arc, Weak};
use std::time::Duration;

use arca_sdk::{JsonMap, LogicalError, Operation, RawHttp, Request, Response, ResponseWrapInfo};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::leases::ExpirationManager;
use crate::mount_store::MountStore;
use crate::token_store::{TokenEntry, TokenStore};
use crate::wrapping_jwt::{JwtKeys, is_jwt};

use arca_policy::RESPONSE_WRAPPING_POLICY_NAME as RESPONSE_WRAPPING_POLICY;

/// The `sys/` paths (mount-relative) that take a wrapping token and check it first.
const TOKEN_ENDPOINTS: [&str; 3] = ["wrapping/lookup", "wrapping/rewrap", "wrapping/unwrap"];

/// OpenBao's answer for a token that is not a live wrapping token (400).
pub(crate) fn invalid_token() -> LogicalError {
    LogicalError::bad_request("wrapping token is not valid or does not exist")
}

/// A refusal while reading the wrapping token out of the request (403, OpenBao's texts).
fn validation_error(reason: &str) -> LogicalError {
    LogicalError::forbidden(format!("error validating wrapping token: {reason}"))
}

/// Whether `rel` (relative to `sys/`) is one of the endpoints that take a wrapping token.
pub(crate) fn takes_wrapping_token(rel: &str) -> bool {
    TOKEN_ENDPOINTS.contains(&rel.trim_end_matches('/'))
}

/// The wrapping token a `sys/wrapping/{lookup,rewrap,unwrap}` request names: the `token`
/// field when given (a third party's request), else the request's own token. `true` when it
/// came from the body.
pub(crate) fn requested_token(
    data: &JsonMap,
    client_token: &str,
) -> Result<(Zeroizing<String>, bool), LogicalError> {
    match data.get("token") {
        None | Some(Value::Null) => {
            if client_token.is_empty() {
                return Err(validation_error("token is empty"));
            }
            Ok((Zeroizing::new(client_token.to_string()), false))
        }
        Some(Value::String(s)) if s.is_empty() => {
            Err(validation_error("empty token in request body"))
        }
        Some(Value::String(s)) => Ok((Zeroizing::new(s.clone()), true)),
        Some(_) => Err(validation_error("could not decode token in request body")),
    }
}

/// Whether `entry` is a wrapping token (its only policy is `response-wrapping`).
pub(crate) fn is_wrapping_token(entry: &TokenEntry) -> bool {
    entry.policies.len() == 1 && entry.policies[0] == RESPONSE_WRAPPING_POLICY
}

/// What the pipeline keeps of a request to wrap its answer (the request itself goes to the
/// backend).
pub(crate) struct WrapContext {
    /// The request id, stored in the wrapped envelope.
    request_id: String,
    /// The full request path: the wrapping token's path and `creation_path`.
    path: String,
    /// The client's `X-Vault-Wrap-TTL` (zero when none).
    requested_ttl: Duration,
    /// A LIST answer without keys is a 404, never wrapped.
    listing: bool,
    /// The caller's display name, given to the wrapping token.
    display_name: String,
    /// `X-Vault-Wrap-Format: jwt` asks for the token as a signed JWT.
    jwt: bool,
    /// A wrapping token reads its own `cubbyhole/response`, the deprecated way to unwrap.
    reads_own_response: bool,
}

impl WrapContext {
    /// The error a backend's failed answer becomes: as in Vault, a listing asked to be wrapped
    /// that finds nothing (a backend's bare 404) is `unsupported path`, as an empty listing
    /// answered in full is.
    pub(crate) fn answer_error(&self, e: LogicalError) -> LogicalError {
        let empty_404 =
            matches!(&e, LogicalError::Coded { status: 404, message } if message.is_empty());
        if empty_404 && self.listing && !self.requested_ttl.is_zero() {
            return LogicalError::not_found("unsupported path");
        }
        e
    }

    /// Whether [`Wrapping::wrap_response`] has anything to do with `resp`: a wrap TTL asked
    /// by the client or the backend, or a wrapping token reading its own response. Lets the
    /// pipeline skip that call (and its future) for the usual answer.
    pub(crate) fn applies_to(&self, resp: &Response) -> bool {
        !self.requested_ttl.is_zero() || resp.wrap_info.is_some() || self.reads_own_response
    }

    /// Keeps what wrapping needs of `req`, whose full path is `full_path`.
    pub(crate) fn of(req: &Request, full_path: &str) -> WrapContext {
        WrapContext {
            request_id: req.id.clone(),
            path: full_path.to_string(),
            requested_ttl: req.wrap_info.as_ref().map(|w| w.ttl).unwrap_or_default(),
            listing: req.operation == Operation::List,
            display_name: req.display_name.clone(),
            jwt: req.wrap_info.as_ref().is_some_and(|w| w.format == "jwt"),
            reads_own_response: req.operation == Operation::Read
                && full_path == "cubbyhole/response"
                && req.policies.len() == 1
                && req.policies[0] == RESPONSE_WRAPPING_POLICY,
        }
    }
}

/// The wrapping subsystem: mints wrapping tokens through the token store (each with a lease
/// in the expiration manager, so it is revoked on time) and keeps the wrapped responses in
/// their cubbyholes (reached through the mount table, held weakly).
#[derive(Clone)]
pub(crate) struct Wrapping {
    tokens: Arc<TokenStore>,
    leases: Arc<ExpirationManager>,
    mounts: Weak<MountStore>,
    /// The key JWT-format wrapping tokens are signed with.
    jwt: Arc<JwtKeys>,
    /// The server's `api_addr`, the `addr` claim of a JWT.
    api_addr: Option<String>,
}

impl Wrapping {
    /// Wrapping over `tokens` and `leases`, storing into the cubbyhole mount of `mounts`;
    /// the JWT signing key lives in `jwt_view`, and `api_addr` goes into JWTs.
    pub(crate) fn new(
        tokens: Arc<TokenStore>,
        leases: Arc<ExpirationManager>,
        mounts: Weak<MountStore>,
        jwt_view: Arc<dyn arca_sdk::Storage>,
        api_addr: Option<String>,
    ) -> Wrapping {
        Wrapping {
            tokens,
            leases,
            mounts,
            jwt: Arc::new(JwtKeys::new(jwt_view)),
            api_addr,
        }
    }

    /// Loads (or makes) the JWT signing key. Called at unseal.
    pub(crate) async fn setup(&self) -> Result<(), LogicalError> {
        self.jwt.setup().await
    }

    /// Forgets the JWT signing key. Called at seal.
    pub(crate) fn teardown(&self) {
        self.jwt.teardown();
    }

    /// Wraps `resp` when the client asked (`X-Vault-Wrap-TTL`) or the backend did (a
    /// `wrap_info` with a TTL and no token, as `sys/wrapping/wrap` and `rewrap` answer); the
    /// shorter of the two TTLs wins. Answers unchanged otherwise.
    pub(crate) async fn wrap_response(
        &self,
        ctx: WrapContext,
        mut resp: Response,
    ) -> Result<Response, LogicalError> {
        let asked = resp.wrap_info.take();
        let backend_ttl = asked
            .as_ref()
            .filter(|w| w.token.is_empty())
            .map(|w| Duration::from_secs(w.ttl))
            .unwrap_or_default();
        let ttl = match (backend_ttl.is_zero(), ctx.requested_ttl.is_zero()) {
            (true, _) => ctx.requested_ttl,
            (false, true) => backend_ttl,
            (false, false) => backend_ttl.min(ctx.requested_ttl),
        };
        if ctx.reads_own_response {
            resp.warn("Reading from 'cubbyhole/response' is deprecated. Please use sys/wrapping/unwrap to unwrap responses, as it provides additional security checks and other benefits.");
        }
        if ttl.is_zero() || resp.raw.is_some() {
            return Ok(resp);
        }
        // As Vault's: an empty listing asked to be wrapped is an unsupported path (404).
        if ctx.listing && !lists_something(&resp) {
            return Err(LogicalError::not_found("unsupported path"));
        }
        // A rewrap keeps the original creation path and stores the response as it was.
        let (creation_path, stored) = match asked.filter(|w| !w.creation_path.is_empty()) {
            Some(w) => {
                let stored = resp
                    .data
                    .as_ref()
                    .and_then(|d| d.get("response"))
                    .and_then(Value::as_str)
                    .map(|s| Zeroizing::new(s.to_string()))
                    .ok_or_else(|| LogicalError::internal("no response found to rewrap"))?;
                (w.creation_path, stored)
            }
            None => {
                // Internal data never leaves the core, wrapped or not.
                if let Some(s) = resp.secret.as_mut() {
                    s.internal_data = JsonMap::new();
                }
                if let Some(a) = resp.auth.as_mut() {
                    a.internal_data = JsonMap::new();
                }
                let body = arca_sdk::envelope::envelope_json(&ctx.request_id, &resp);
                let body = String::from_utf8(body).map_err(LogicalError::internal)?;
                (ctx.path.clone(), Zeroizing::new(body))
            }
        };
        let wrapped_accessor = resp
            .auth
            .as_ref()
            .map(|a| a.accessor.clone())
            .unwrap_or_default();
        // Boxed: only a wrapped answer pays for the minting future, not every request.
        let mut info =
            Box::pin(self.mint(&ctx.path, &creation_path, ttl, &ctx.display_name, &stored)).await?;
        let mut warnings = resp.warnings;
        if ctx.jwt {
            let iat = chrono::DateTime::parse_from_rfc3339(&info.creation_time)
                .map(|t| t.timestamp())
                .unwrap_or_else(|_| chrono::Utc::now().timestamp());
            let addr = self.api_addr.as_deref().unwrap_or_default();
            info.token = self.jwt.sign(
                &info.token,
                &wrapped_accessor,
                addr,
                iat,
                iat + ttl.as_secs() as i64,
            )?;
            if addr.is_empty() {
                warnings.push("No redirect address set in Vault so none could be encoded in the token. You may need to supply Vault's API address when unwrapping the token.".into());
            }
        }
        Ok(Response {
            wrap_info: Some(ResponseWrapInfo {
                wrapped_accessor,
                ..info
            }),
            warnings,
            mount_type: resp.mount_type,
            ..Response::default()
        })
    }

    /// Creates the wrapping token and stores `response` and the lookup information in its
    /// cubbyhole: all or nothing (a failed write revokes the token, which clears what was
    /// written).
    async fn mint(
        &self,
        token_path: &str,
        creation_path: &str,
        ttl: Duration,
        display_name: &str,
        response: &str,
    ) -> Result<ResponseWrapInfo, LogicalError> {
        let now = chrono::Utc::now();
        let ttl_secs = ttl.as_secs().max(1);
        let (token, entry) = self
            .tokens
            .create(
                TokenEntry {
                    policies: vec![RESPONSE_WRAPPING_POLICY.to_string()],
                    path: token_path.to_string(),
                    display_name: display_name.to_string(),
                    num_uses: 1,
                    creation_time: now.timestamp(),
                    ttl: ttl_secs,
                    explicit_max_ttl: ttl_secs,
                    orphan: true,
                    renewable: false,
                    token_type: "service".into(),
                    ..TokenEntry::default()
                },
                None,
            )
            .await?;
        let creation_time = now.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let stored = async {
            let mut data = JsonMap::new();
            data.insert("response".into(), Value::String(response.to_string()));
            self.cubbyhole(&entry, Operation::Create, "response", data)
                .await?;
            let info = json!({
                "creation_ttl": ttl_secs,
                "creation_time": creation_time,
                "creation_path": creation_path,
            });
            let Value::Object(info) = info else {
                return Err(LogicalError::internal(
                    "wrapping information is not an object",
                ));
            };
            self.cubbyhole(&entry, Operation::Create, "wrapinfo", info)
                .await?;
            self.leases.register_token(&entry).await
        }
        .await;
        if let Err(e) = stored {
            if let Err(revoke) = self.tokens.revoke_tree(&entry.id_hash).await {
                tracing::error!(error = %revoke, "wrapping: could not revoke a half-made wrapping token");
            }
            tracing::error!(error = %e, "wrapping: could not store the wrapped response");
            return Err(LogicalError::internal("internal error"));
        }
        Ok(ResponseWrapInfo {
            token,
            accessor: entry.accessor.clone(),
            ttl: ttl_secs,
            creation_time,
            creation_path: creation_path.to_string(),
            wrapped_accessor: String::new(),
        })
    }

    /// Runs one request against the cubbyhole of `entry`, as the cubbyhole engine serves it.
    async fn cubbyhole(
        &self,
        entry: &TokenEntry,
        operation: Operation,
        path: &str,
        data: JsonMap,
    ) -> Result<Option<JsonMap>, LogicalError> {
        let mounts = self
            .mounts
            .upgrade()
            .ok_or_else(|| LogicalError::internal("core is gone"))?;
        let route = mounts
            .router()
            .get("cubbyhole/")
            .ok_or_else(|| LogicalError::internal("no cubbyhole mount"))?;
        let mut req = Request::new(operation, path).with_data(data);
        req.client_token = Some(Zeroizing::new(entry.cubbyhole_id.clone()));
        req.mount_point = "cubbyhole/".into();
        req.mount_type = "cubbyhole".into();
        req.storage = Some(route.storage.clone());
        let backend = route.backend.load_full();
        match backend.backend.handle_request(req).await {
            Ok(resp) => Ok(resp.and_then(|r| r.data)),
            Err(e) if e.status() == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The live wrapping token `token` (with its last use in progress when `tainted`), or
    /// OpenBao's invalid-token error.
    async fn wrapping_entry(
        &self,
        token: &str,
        tainted: bool,
    ) -> Result<Arc<TokenEntry>, LogicalError> {
        match self.tokens.lookup_with(token, tainted).await? {
            Some(e) if is_wrapping_token(&e) => Ok(e),
            _ => Err(invalid_token()),
        }
    }

    /// The pipeline's check before `sys/wrapping/{lookup,rewrap,unwrap}` runs: the named
    /// token must be a live wrapping token.
    /// A JWT-format token is replaced in `req` by the wrapping token it stands for.
    pub(crate) async fn validate(&self, req: &mut Request) -> Result<(), LogicalError> {
        let (mut token, third_party) = requested_token(&req.data, req.token())?;
        if is_jwt(&token) {
            token = self.jwt.open(&token).map_err(|e| validation_error(&e))?;
            if third_party {
                req.data
                    .insert("token".into(), Value::String(token.to_string()));
            } else {
                req.client_token = Some(token.clone());
            }
        }
        self.wrapping_entry(&token, false).await.map(|_| ())
    }

    /// Spends the wrapping token `token` once and reads what it wraps (with the lookup
    /// information when `with_info`). A token named in the body is used and revoked here, in
    /// a task of its own (one caller wins, the rest get [`invalid_token`]); the request's own
    /// token was already used by the pipeline, which revokes it.
    async fn spend(
        &self,
        token: &str,
        third_party: bool,
        with_info: bool,
    ) -> Result<(JsonMap, Zeroizing<String>), LogicalError> {
        if !third_party {
            let entry = self.wrapping_entry(token, true).await?;
            return self.read(&entry, with_info).await;
        }
        let entry = self.wrapping_entry(token, false).await?;
        let this = self.clone();
        tokio::spawn(async move {
            if this.tokens.use_token(&entry).await?.is_none() {
                return Err(invalid_token());
            }
            let read = this.read(&entry, with_info).await;
            this.tokens.finish_use(&entry.id_hash).await?;
            read
        })
        .await
        .map_err(|_| LogicalError::internal("unwrapping failed"))?
    }

    async fn read(
        &self,
        entry: &TokenEntry,
        with_info: bool,
    ) -> Result<(JsonMap, Zeroizing<String>), LogicalError> {
        let info = if with_info {
            self.wrap_info(entry).await?
        } else {
            JsonMap::new()
        };
        Ok((info, self.stored_response(entry).await?))
    }

    /// `sys/wrapping/unwrap`: the wrapped envelope, as it would have been answered.
    pub(crate) async fn unwrap(
        &self,
        token: &str,
        third_party: bool,
    ) -> Result<Option<Response>, LogicalError> {
        let (_, body) = self.spend(token, third_party, false).await?;
        if body.is_empty() {
            return Ok(None);
        }
        Ok(Some(Response {
            raw: Some(RawHttp {
                status: 200,
                content_type: "application/json".into(),
                body: body.as_bytes().to_vec(),
                stream: None,
            }),
            ..Response::default()
        }))
    }

    /// `sys/wrapping/rewrap`: the same response under a new wrapping token with the original
    /// TTL and creation path (the pipeline wraps the answer).
    pub(crate) async fn rewrap(
        &self,
        token: &str,
        third_party: bool,
    ) -> Result<Option<Response>, LogicalError> {
        let (info, body) = self.spend(token, third_party, true).await?;
        let ttl = info
            .get("creation_ttl")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let creation_path = info
            .get("creation_path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut data = JsonMap::new();
        data.insert("response".into(), Value::String(body.to_string()));
        Ok(Some(Response {
            data: Some(data),
            wrap_info: Some(ResponseWrapInfo {
                ttl,
                creation_path,
                ..ResponseWrapInfo::default()
            }),
            ..Response::default()
        }))
    }

    /// `sys/wrapping/lookup`: `creation_path`, `creation_time`, `creation_ttl`, without
    /// spending the token.
    pub(crate) async fn lookup(&self, token: &str) -> Result<Option<Response>, LogicalError> {
        let entry = self.wrapping_entry(token, true).await?;
        let info = self.wrap_info(&entry).await?;
        let mut data = JsonMap::new();
        for key in ["creation_path", "creation_time", "creation_ttl"] {
            if let Some(v) = info.get(key) {
                data.insert(key.into(), v.clone());
            }
        }
        Ok(Some(Response::with_data(data)))
    }

    async fn wrap_info(&self, entry: &TokenEntry) -> Result<JsonMap, LogicalError> {
        self.cubbyhole(entry, Operation::Read, "wrapinfo", JsonMap::new())
            .await?
            .ok_or_else(|| {
                LogicalError::bad_request(
                    "no information found; wrapping token may be from a previous OpenBao version",
                )
            })
    }

    async fn stored_response(&self, entry: &TokenEntry) -> Result<Zeroizing<String>, LogicalError> {
        let data = self
            .cubbyhole(entry, Operation::Read, "response", JsonMap::new())
            .await?
            .ok_or_else(|| {
                LogicalError::bad_request(
                    "no information found; wrapping token may be from a previous OpenBao version",
                )
            })?;
        match data.get("response") {
            Some(Value::String(s)) => Ok(Zeroizing::new(s.clone())),
            _ => Err(LogicalError::internal(
                "no response found inside the cubbyhole",
            )),
        }
    }
}

/// Whether a LIST answer has something to show (Vault wraps no empty listing).
fn lists_something(resp: &Response) -> bool {
    let Some(data) = resp.data.as_ref().filter(|d| !d.is_empty()) else {
        return !resp.warnings.is_empty();
    };
    match data.get("keys") {
        None | Some(Value::Null) => true,
        Some(Value::Array(keys)) => !keys.is_empty(),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> JsonMap {
        match v {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        }
    }

    #[test]
    fn the_named_token_and_openbaos_refusals() {
        let (t, third) = requested_token(&body(json!({"token": "hvs.w"})), "hvs.own").unwrap();
        assert_eq!((t.as_str(), third), ("hvs.w", true));
        let (t, third) = requested_token(&body(json!({"token": null})), "hvs.own").unwrap();
        assert_eq!((t.as_str(), third), ("hvs.own", false));
        for (data, own, text) in [
            (
                json!({}),
                "",
                "error validating wrapping token: token is empty",
            ),
            (
                json!({"token": ""}),
                "hvs.own",
                "error validating wrapping token: empty token in request body",
            ),
            (
                json!({"token": 5}),
                "hvs.own",
                "error validating wrapping token: could not decode token in request body",
            ),
        ] {
            let e = requested_token(&body(data), own).err().unwrap();
            assert_eq!(
                (e.status(), e.wire_messages()),
                (403, vec![text.to_string()])
            );
        }
        assert_eq!(invalid_token().status(), 400);
    }

    #[test]
    fn which_paths_take_a_wrapping_token() {
        for p in ["wrapping/unwrap", "wrapping/lookup", "wrapping/rewrap/"] {
            assert!(takes_wrapping_token(p), "{p}");
        }
        assert!(!takes_wrapping_token("wrapping/wrap"));
        assert!(!takes_wrapping_token("mounts"));
    }

    #[test]
    fn only_a_lone_response_wrapping_policy_makes_a_wrapping_token() {
        let mut e = TokenEntry {
            policies: vec![RESPONSE_WRAPPING_POLICY.into()],
            ..TokenEntry::default()
        };
        assert!(is_wrapping_token(&e));
        e.policies.push("default".into());
        assert!(!is_wrapping_token(&e));
    }

    #[test]
    fn empty_listings_are_not_wrapped() {
        let list = |v: Value| Response::with_data(body(v));
        assert!(lists_something(&list(json!({"keys": ["a"]}))));
        assert!(!lists_something(&list(json!({"keys": []}))));
        assert!(!lists_something(&Response::default()));
        assert!(lists_something(&list(json!({"other": 1}))));
    }
}
