//! Conversions between `arca-sdk`'s requests, responses and errors and the `pb` messages.
//! Durations travel as Go `time.Duration` nanoseconds, `data` and `internal_data` as JSON
//! strings, errors as `ProtoError` with the codes of the SDK's translation table.

use std::collections::HashMap;
use std::time::Duration;

use arca_sdk::{
    Auth, BackendType, Connection, JsonMap, LeaseOptions, LogicalError, Operation, RawHttp,
    Request, RequestWrapInfo, Response, ResponseWrapInfo, Secret, SpecialPaths,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::proto::pb;

/// `ProtoError.err_type` values (Go constants, not a protobuf enum).
pub mod err_type {
    /// `ErrTypeUnknown`.
    pub const UNKNOWN: u32 = 0;
    /// `ErrTypeUserError`.
    pub const USER_ERROR: u32 = 1;
    /// `ErrTypeInternalError`.
    pub const INTERNAL_ERROR: u32 = 2;
    /// `ErrTypeCodedError`.
    pub const CODED_ERROR: u32 = 3;
    /// `ErrTypeStatusBadRequest`.
    pub const STATUS_BAD_REQUEST: u32 = 4;
    /// `ErrTypeUnsupportedOperation`.
    pub const UNSUPPORTED_OPERATION: u32 = 5;
    /// `ErrTypeUnsupportedPath`.
    pub const UNSUPPORTED_PATH: u32 = 6;
    /// `ErrTypeInvalidRequest`.
    pub const INVALID_REQUEST: u32 = 7;
    /// `ErrTypePermissionDenied`.
    pub const PERMISSION_DENIED: u32 = 8;
    /// `ErrTypeMultiAuthzPending`.
    pub const MULTI_AUTHZ_PENDING: u32 = 9;
    /// `ErrTypeUnrecoverable`.
    pub const UNRECOVERABLE: u32 = 10;
}

/// Data keys Vault uses for a raw HTTP response.
const HTTP_STATUS: &str = "http_status_code";
const HTTP_BODY: &str = "http_raw_body";
const HTTP_CONTENT_TYPE: &str = "http_content_type";

/// A `time.Duration` in nanoseconds from a [`Duration`] (saturating).
pub fn duration_to_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// A [`Duration`] from nanoseconds (negative counts as zero).
pub fn ns_to_duration(ns: i64) -> Duration {
    Duration::from_nanos(u64::try_from(ns).unwrap_or(0))
}

/// A JSON object as the string Vault's protocol carries: always JSON, `{}` when empty (a Go
/// peer's `json.Unmarshal` refuses an empty string: `unexpected end of JSON input`).
fn json_string(map: &JsonMap) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

/// Whether a protocol JSON string holds nothing (Go's `null` for a nil map, or nothing at all).
fn json_absent(s: &str) -> bool {
    matches!(s.trim(), "" | "null")
}

fn json_map(s: &str) -> Result<JsonMap, LogicalError> {
    if s.is_empty() {
        return Ok(JsonMap::new());
    }
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        Ok(serde_json::Value::Null) => Ok(JsonMap::new()),
        Ok(_) => Err(LogicalError::internal("plugin data is not a JSON object")),
        Err(e) => Err(LogicalError::internal(format!("bad plugin data JSON: {e}"))),
    }
}

/// Go's zero `time.Time` (0001-01-01T00:00:00Z) as a protobuf timestamp: what Vault's side
/// sends for "no time", and what it must receive instead of a missing timestamp (Go's
/// `CheckValid` refuses a nil one: `proto: invalid nil Timestamp`).
const GO_ZERO_TIME: prost_types::Timestamp = prost_types::Timestamp {
    seconds: -62_135_596_800,
    nanos: 0,
};

/// An RFC 3339 time as the timestamp Vault's protocol carries; none (or an unparsable one) is
/// Go's zero time.
fn timestamp_to_pb(s: Option<&str>) -> prost_types::Timestamp {
    s.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
        })
        .unwrap_or(GO_ZERO_TIME)
}

/// A protocol timestamp as RFC 3339; a missing one and Go's zero time are none.
fn timestamp_from_pb(t: Option<&prost_types::Timestamp>) -> Option<String> {
    let t = t.filter(|t| **t != GO_ZERO_TIME)?;
    let nanos = u32::try_from(t.nanos).unwrap_or(0);
    chrono::DateTime::from_timestamp(t.seconds, nanos)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

fn headers_to_pb(h: &HashMap<String, Vec<String>>) -> HashMap<String, pb::Header> {
    h.iter()
        .map(|(k, v)| (k.clone(), pb::Header { header: v.clone() }))
        .collect()
}

fn headers_from_pb(h: HashMap<String, pb::Header>) -> HashMap<String, Vec<String>> {
    h.into_iter().map(|(k, v)| (k, v.header)).collect()
}

fn lease_to_pb(l: &LeaseOptions) -> pb::LeaseOptions {
    pb::LeaseOptions {
        ttl: duration_to_ns(l.ttl),
        renewable: l.renewable,
        increment: duration_to_ns(l.increment),
        issue_time: Some(timestamp_to_pb(l.issue_time.as_deref())),
        max_ttl: duration_to_ns(l.max_ttl),
    }
}

fn lease_from_pb(l: Option<pb::LeaseOptions>) -> LeaseOptions {
    let l = l.unwrap_or_default();
    LeaseOptions {
        ttl: ns_to_duration(l.ttl),
        max_ttl: ns_to_duration(l.max_ttl),
        renewable: l.renewable,
        increment: ns_to_duration(l.increment),
        issue_time: timestamp_from_pb(l.issue_time.as_ref()),
    }
}

/// An SDK secret as `pb.Secret`.
pub fn secret_to_pb(s: &Secret) -> pb::Secret {
    pb::Secret {
        lease_options: Some(lease_to_pb(&s.lease)),
        internal_data: json_string(&s.internal_data),
        lease_id: s.lease_id.clone(),
    }
}

/// A `pb.Secret` as an SDK secret.
pub fn secret_from_pb(s: pb::Secret) -> Result<Secret, LogicalError> {
    Ok(Secret {
        lease: lease_from_pb(s.lease_options),
        internal_data: json_map(&s.internal_data)?,
        lease_id: s.lease_id,
    })
}

fn token_type_to_pb(t: &str) -> u32 {
    match t {
        "service" => 1,
        "batch" => 2,
        "default-service" => 3,
        "default-batch" => 4,
        _ => 0,
    }
}

fn token_type_from_pb(t: u32) -> String {
    match t {
        1 => "service",
        2 => "batch",
        3 => "default-service",
        4 => "default-batch",
        _ => "",
    }
    .to_string()
}

/// An SDK auth as `pb.Auth`.
pub fn auth_to_pb(a: &Auth) -> pb::Auth {
    pb::Auth {
        lease_options: Some(lease_to_pb(&a.lease)),
        internal_data: json_string(&a.internal_data),
        display_name: a.display_name.clone(),
        policies: a.policies.clone(),
        metadata: a.metadata.clone(),
        client_token: a.client_token.to_string(),
        accessor: a.accessor.clone(),
        period: duration_to_ns(a.period),
        num_uses: i64::try_from(a.num_uses).unwrap_or(i64::MAX),
        entity_id: a.entity_id.clone(),
        alias: a.alias.as_ref().map(alias_to_pb),
        group_aliases: a.group_aliases.iter().map(alias_to_pb).collect(),
        bound_cidrs: a.bound_cidrs.clone(),
        token_policies: a.token_policies.clone(),
        identity_policies: a.identity_policies.clone(),
        explicit_max_ttl: duration_to_ns(a.explicit_max_ttl),
        token_type: token_type_to_pb(&a.token_type),
        no_default_policy: a.no_default_policy,
    }
}

/// An SDK alias as `logical.Alias` (the name and metadata a method sets; the host fills
/// the rest).
fn alias_to_pb(al: &arca_sdk::Alias) -> crate::proto::logical::Alias {
    crate::proto::logical::Alias {
        name: al.name.clone(),
        metadata: al.metadata.clone(),
        ..Default::default()
    }
}

/// A `logical.Alias` as an SDK alias.
fn alias_from_pb(al: crate::proto::logical::Alias) -> arca_sdk::Alias {
    arca_sdk::Alias {
        name: al.name,
        metadata: al.metadata,
    }
}

/// A `pb.Auth` as an SDK auth.
pub fn auth_from_pb(a: pb::Auth) -> Result<Auth, LogicalError> {
    Ok(Auth {
        lease: lease_from_pb(a.lease_options),
        internal_data: json_map(&a.internal_data)?,
        display_name: a.display_name,
        policies: a.policies,
        token_policies: a.token_policies,
        identity_policies: a.identity_policies,
        metadata: a.metadata,
        client_token: Zeroizing::new(a.client_token),
        accessor: a.accessor,
        period: ns_to_duration(a.period),
        explicit_max_ttl: ns_to_duration(a.explicit_max_ttl),
        num_uses: u64::try_from(a.num_uses).unwrap_or(0),
        entity_id: a.entity_id,
        orphan: false,
        token_type: token_type_from_pb(a.token_type),
        bound_cidrs: a.bound_cidrs,
        no_default_policy: a.no_default_policy,
        alias: a.alias.map(alias_from_pb),
        group_aliases: a.group_aliases.into_iter().map(alias_from_pb).collect(),
        // A plugin never sets it: the core decides which logins need MFA.
        mfa_requirement: None,
    })
}

/// An SDK request as `pb.Request` (what the host sends).
pub fn request_to_pb(r: &Request) -> pb::Request {
    pb::Request {
        id: r.id.clone(),
        replication_cluster: String::new(),
        operation: r.operation.as_str().to_string(),
        path: r.path.clone(),
        data: json_string(&r.data),
        secret: r.secret.as_ref().map(secret_to_pb),
        auth: r.auth.as_ref().map(auth_to_pb),
        headers: headers_to_pb(&r.headers),
        client_token: r.token().to_string(),
        client_token_accessor: r.client_token_accessor.clone(),
        display_name: r.display_name.clone(),
        mount_point: r.mount_point.clone(),
        mount_type: r.mount_type.clone(),
        mount_accessor: r.mount_accessor.clone(),
        wrap_info: r.wrap_info.as_ref().map(|w| pb::RequestWrapInfo {
            ttl: duration_to_ns(w.ttl),
            format: w.format.clone(),
            seal_wrap: false,
        }),
        client_token_remaining_uses: 0,
        entity_id: r.entity_id.clone(),
        policy_override: false,
        unauthenticated: r.unauthenticated,
        connection: r.connection.as_ref().map(|c| pb::Connection {
            remote_addr: c.remote_addr.clone(),
            remote_port: i32::from(c.remote_port),
            connection_state: None,
            proxied_certificates_raw: Vec::new(),
            peer_certificates_raw: c.peer_certificates.clone(),
        }),
    }
}

/// A `pb.Request` as an SDK request (what the plugin receives). An operation the SDK does not
/// know (OpenBao's `resolve-path`, `scan`, `header`) is refused as unsupported.
pub fn request_from_pb(r: pb::Request) -> Result<Request, LogicalError> {
    let operation = Operation::parse(&r.operation).ok_or(LogicalError::UnsupportedOperation)?;
    let mut req = Request::new(operation, r.path);
    req.id = r.id;
    req.data = json_map(&r.data).map_err(|_| LogicalError::bad_request("invalid request data"))?;
    req.secret = r.secret.map(secret_from_pb).transpose()?;
    req.auth = r.auth.map(auth_from_pb).transpose()?;
    req.headers = headers_from_pb(r.headers);
    if !r.client_token.is_empty() {
        req.client_token = Some(Zeroizing::new(r.client_token));
    }
    req.client_token_accessor = r.client_token_accessor;
    req.display_name = r.display_name;
    req.mount_point = r.mount_point;
    req.mount_type = r.mount_type;
    req.mount_accessor = r.mount_accessor;
    req.wrap_info = r.wrap_info.map(|w| RequestWrapInfo {
        ttl: ns_to_duration(w.ttl),
        format: w.format,
    });
    req.entity_id = r.entity_id;
    req.unauthenticated = r.unauthenticated;
    req.connection = r.connection.map(|c| Connection {
        remote_addr: c.remote_addr,
        remote_port: u16::try_from(c.remote_port).unwrap_or(0),
        peer_certificates: c.peer_certificates_raw,
    });
    Ok(req)
}

/// An SDK response as `pb.Response` (what the plugin answers).
pub fn response_to_pb(r: &Response) -> pb::Response {
    let mut data = r.data.clone().unwrap_or_default();
    if let Some(raw) = &r.raw {
        data.insert(HTTP_STATUS.into(), raw.status.into());
        data.insert(HTTP_CONTENT_TYPE.into(), raw.content_type.clone().into());
        data.insert(HTTP_BODY.into(), STANDARD.encode(&raw.body).into());
    }
    pb::Response {
        secret: r.secret.as_ref().map(secret_to_pb),
        auth: r.auth.as_ref().map(auth_to_pb),
        // No data is Go's nil map: `null`.
        data: if r.data.is_none() && r.raw.is_none() {
            "null".into()
        } else {
            json_string(&data)
        },
        redirect: String::new(),
        warnings: r.warnings.clone(),
        wrap_info: r.wrap_info.as_ref().map(|w| pb::ResponseWrapInfo {
            ttl: duration_to_ns(Duration::from_secs(w.ttl)),
            token: w.token.to_string(),
            accessor: w.accessor.clone(),
            creation_time: Some(timestamp_to_pb(Some(&w.creation_time))),
            wrapped_accessor: w.wrapped_accessor.clone(),
            wrapped_entity_id: String::new(),
            format: String::new(),
            creation_path: w.creation_path.clone(),
            seal_wrap: false,
        }),
        headers: headers_to_pb(&r.headers),
    }
}

/// A `pb.Response` as an SDK response (what the host receives).
pub fn response_from_pb(r: pb::Response) -> Result<Response, LogicalError> {
    let mut data = json_map(&r.data)?;
    let mut raw = None;
    if let Some(status) = data.get(HTTP_STATUS).and_then(|v| v.as_u64()) {
        let body = match data.get(HTTP_BODY) {
            Some(serde_json::Value::String(s)) => STANDARD.decode(s).unwrap_or_default(),
            _ => Vec::new(),
        };
        raw = Some(RawHttp {
            status: u16::try_from(status).unwrap_or(500),
            content_type: data
                .get(HTTP_CONTENT_TYPE)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string(),
            body,
            stream: None,
        });
        for k in [HTTP_STATUS, HTTP_BODY, HTTP_CONTENT_TYPE] {
            data.remove(k);
        }
    }
    Ok(Response {
        data: if json_absent(&r.data) {
            None
        } else {
            Some(data)
        },
        secret: r.secret.map(secret_from_pb).transpose()?,
        auth: r.auth.map(auth_from_pb).transpose()?,
        warnings: r.warnings,
        wrap_info: r.wrap_info.map(|w| ResponseWrapInfo {
            token: Zeroizing::new(w.token),
            accessor: w.accessor,
            ttl: ns_to_duration(w.ttl).as_secs(),
            creation_time: timestamp_from_pb(w.creation_time.as_ref()).unwrap_or_default(),
            creation_path: w.creation_path,
            wrapped_accessor: w.wrapped_accessor,
        }),
        headers: headers_from_pb(r.headers),
        raw,
        ..Response::default()
    })
}

fn proto_err(kind: u32, msg: impl Into<String>, code: i64) -> pb::ProtoError {
    pb::ProtoError {
        err_type: kind,
        err_msg: msg.into(),
        err_code: code,
    }
}

fn error_data(msg: &str) -> pb::Response {
    let mut data = JsonMap::new();
    data.insert("error".into(), msg.into());
    pb::Response {
        data: json_string(&data),
        ..pb::Response::default()
    }
}

/// An SDK error as the reply parts a plugin sends: an optional response (an error response's
/// `{"error": …}` data) and the `ProtoError`.
pub fn error_to_pb(e: &LogicalError) -> (Option<pb::Response>, pb::ProtoError) {
    use err_type::*;
    match e {
        // Go's `logical.ErrorResponse` + `ErrInvalidRequest`: hosts answer 400 with the text.
        LogicalError::BadRequest(m) | LogicalError::InvalidRequest(m) => (
            Some(error_data(m)),
            proto_err(INVALID_REQUEST, "invalid request", 0),
        ),
        // Go's `ErrInvalidCredentials` crosses the wire as an untyped error.
        LogicalError::InvalidCredentials(m) => (
            Some(error_data(m)),
            proto_err(UNKNOWN, "invalid credentials", 0),
        ),
        LogicalError::Coded { status, message } => (
            None,
            proto_err(CODED_ERROR, message.clone(), i64::from(*status)),
        ),
        LogicalError::PermissionDenied => (None, proto_err(PERMISSION_DENIED, e.to_string(), 0)),
        LogicalError::UnsupportedOperation => {
            (None, proto_err(UNSUPPORTED_OPERATION, e.to_string(), 0))
        }
        LogicalError::UnsupportedPath => (None, proto_err(UNSUPPORTED_PATH, e.to_string(), 0)),
        LogicalError::Sealed => (None, proto_err(CODED_ERROR, e.to_string(), 503)),
        LogicalError::Internal(m) => (None, proto_err(INTERNAL_ERROR, m.clone(), 0)),
    }
}

/// A `ProtoError` (plus the response sent with it) as an SDK error, as the host maps it. A
/// response whose data is `{"error": "…"}` wins (400 with that text); a coded error with a
/// status outside 100–599 becomes 500 instead of an invalid HTTP status.
pub fn error_from_pb(e: &pb::ProtoError, resp: Option<&pb::Response>) -> LogicalError {
    use err_type::*;
    if let Some(msg) = resp.and_then(error_response_text) {
        if e.err_type == UNKNOWN && e.err_msg == "invalid credentials" {
            return LogicalError::InvalidCredentials(msg);
        }
        return LogicalError::BadRequest(msg);
    }
    match e.err_type {
        CODED_ERROR => match u16::try_from(e.err_code) {
            Ok(code) if (100..=599).contains(&code) => {
                LogicalError::from_status(code, e.err_msg.clone())
            }
            _ => LogicalError::Internal(e.err_msg.clone()),
        },
        STATUS_BAD_REQUEST => LogicalError::BadRequest(e.err_msg.clone()),
        UNSUPPORTED_OPERATION => LogicalError::UnsupportedOperation,
        UNSUPPORTED_PATH => LogicalError::UnsupportedPath,
        INVALID_REQUEST => LogicalError::InvalidRequest(e.err_msg.clone()),
        PERMISSION_DENIED => LogicalError::PermissionDenied,
        _ => LogicalError::Internal(e.err_msg.clone()),
    }
}

/// The text of an error response (`data` is exactly `{"error": "<string>"}`).
pub fn error_response_text(r: &pb::Response) -> Option<String> {
    let data = json_map(&r.data).ok()?;
    if data.len() != 1 {
        return None;
    }
    data.get("error")?.as_str().map(str::to_string)
}

/// SDK special paths as `pb.Paths`.
pub fn paths_to_pb(p: &SpecialPaths) -> pb::Paths {
    pb::Paths {
        root: p.root.clone(),
        unauthenticated: p.unauthenticated.clone(),
        local_storage: p.local_storage.clone(),
        seal_wrap_storage: p.seal_wrap_storage.clone(),
        write_forwarded_storage: Vec::new(),
    }
}

/// `pb.Paths` as SDK special paths.
pub fn paths_from_pb(p: pb::Paths) -> SpecialPaths {
    SpecialPaths {
        root: p.root,
        unauthenticated: p.unauthenticated,
        local_storage: p.local_storage,
        seal_wrap_storage: p.seal_wrap_storage,
    }
}

/// A backend type as `TypeReply.type`.
pub fn backend_type_to_pb(t: BackendType) -> u32 {
    match t {
        BackendType::Unknown => 0,
        BackendType::Logical => 1,
        BackendType::Credential => 2,
    }
}

/// `TypeReply.type` as a backend type.
pub fn backend_type_from_pb(t: u32) -> BackendType {
    match t {
        1 => BackendType::Logical,
        2 => BackendType::Credential,
        _ => BackendType::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_round_trip() {
        let mut req = Request::new(Operation::Update, "data/foo")
            .with_data(json!({"a": 1, "b": "x"}).as_object().cloned().unwrap());
        req.client_token = Some(Zeroizing::new("s.tok".into()));
        req.mount_point = "kvp/".into();
        req.headers
            .insert("x-a".into(), vec!["1".into(), "2".into()]);
        let pbr = request_to_pb(&req);
        assert_eq!(pbr.operation, "update");
        assert_eq!(pbr.client_token, "s.tok");
        let back = request_from_pb(pbr).unwrap();
        assert_eq!(back.operation, Operation::Update);
        assert_eq!(back.path, "data/foo");
        assert_eq!(back.data["a"], 1);
        assert_eq!(back.token(), "s.tok");
        assert_eq!(back.headers["x-a"], vec!["1", "2"]);
        let mut odd = request_to_pb(&req);
        odd.operation = "resolve-path".into();
        assert_eq!(
            request_from_pb(odd).unwrap_err(),
            LogicalError::UnsupportedOperation
        );
    }

    #[test]
    fn response_and_auth_round_trip() {
        let mut resp = Response::with_data(json!({"k": "v"}).as_object().cloned().unwrap());
        resp.auth = Some(Auth {
            lease: LeaseOptions {
                ttl: Duration::from_secs(60),
                renewable: true,
                ..LeaseOptions::default()
            },
            policies: vec!["default".into()],
            token_type: "service".into(),
            ..Auth::default()
        });
        resp.warnings.push("w".into());
        let p = response_to_pb(&resp);
        assert_eq!(
            p.auth.as_ref().unwrap().lease_options.as_ref().unwrap().ttl,
            60_000_000_000
        );
        let back = response_from_pb(p).unwrap();
        assert_eq!(back.data.unwrap()["k"], "v");
        let auth = back.auth.unwrap();
        assert_eq!(auth.lease.ttl, Duration::from_secs(60));
        assert_eq!(auth.token_type, "service");
        assert_eq!(back.warnings, vec!["w"]);
    }

    #[test]
    fn renew_and_revoke_requests_carry_the_secret_as_vault_does() {
        let secret = Secret {
            lease: LeaseOptions {
                ttl: Duration::from_secs(60),
                max_ttl: Duration::from_secs(300),
                renewable: true,
                increment: Duration::from_secs(90),
                issue_time: Some("2026-01-02T03:04:05.500Z".into()),
            },
            internal_data: json!({"secret_type": "cred", "username": "u"})
                .as_object()
                .cloned()
                .unwrap(),
            lease_id: "lease/creds/x/abc".into(),
        };
        for (op, wire) in [(Operation::Renew, "renew"), (Operation::Revoke, "revoke")] {
            let mut req = Request::new(op, "creds/x")
                .with_data(json!({"username": "u"}).as_object().cloned().unwrap());
            req.secret = Some(secret.clone());
            let p = request_to_pb(&req);
            assert_eq!(p.operation, wire);
            let ps = p.secret.as_ref().unwrap();
            assert_eq!(ps.lease_id, "lease/creds/x/abc");
            let lo = ps.lease_options.as_ref().unwrap();
            // Durations are Go's time.Duration: nanoseconds.
            assert_eq!(
                (lo.ttl, lo.max_ttl, lo.increment),
                (60_000_000_000, 300_000_000_000, 90_000_000_000)
            );
            assert_eq!(
                lo.issue_time,
                Some(prost_types::Timestamp {
                    seconds: 1_767_323_045,
                    nanos: 500_000_000
                })
            );
            let back = request_from_pb(p).unwrap();
            assert_eq!(back.operation, op);
            assert_eq!(back.secret.as_ref(), Some(&secret));
            assert_eq!(back.data["username"], "u");
        }
    }

    #[test]
    fn a_secret_without_issue_time_crosses_as_gos_zero_time() {
        let resp = Response {
            secret: Some(Secret::default()),
            ..Response::default()
        };
        let p = response_to_pb(&resp);
        let lo = p.secret.as_ref().unwrap().lease_options.unwrap();
        // A Go host refuses a nil timestamp (`proto: invalid nil Timestamp`).
        assert_eq!(lo.issue_time, Some(GO_ZERO_TIME));
        let back = response_from_pb(p).unwrap();
        assert_eq!(back.secret.unwrap().lease.issue_time, None);
        // A missing timestamp (as an older peer may send) is no time either.
        assert_eq!(timestamp_from_pb(None), None);
    }

    #[test]
    fn json_fields_are_always_json_for_a_go_peer() {
        // A renewal answering only a secret: no data is Go's nil map, `null`.
        let resp = Response {
            secret: Some(Secret::default()),
            ..Response::default()
        };
        let p = response_to_pb(&resp);
        assert_eq!(p.data, "null");
        assert_eq!(p.secret.as_ref().unwrap().internal_data, "{}");
        assert!(response_from_pb(p).unwrap().data.is_none());
        let empty = response_to_pb(&Response::with_data(JsonMap::new()));
        assert_eq!(empty.data, "{}");
        assert_eq!(response_from_pb(empty).unwrap().data, Some(JsonMap::new()));
        let req = request_to_pb(&Request::new(Operation::Revoke, "creds/x"));
        assert_eq!(req.data, "{}");
        // What older peers send for nothing still reads as nothing.
        let blank = pb::Response {
            data: String::new(),
            ..pb::Response::default()
        };
        assert!(response_from_pb(blank).unwrap().data.is_none());
    }

    #[test]
    fn raw_http_round_trip() {
        let resp = Response {
            raw: Some(RawHttp {
                status: 201,
                content_type: "text/plain".into(),
                body: b"hi".to_vec(),
                stream: None,
            }),
            ..Response::default()
        };
        let back = response_from_pb(response_to_pb(&resp)).unwrap();
        assert_eq!(back.raw, resp.raw);
        assert!(back.data.unwrap().is_empty());
    }

    #[test]
    fn errors_map_both_ways() {
        let cases = [
            LogicalError::bad_request("nope"),
            LogicalError::not_found("missing"),
            LogicalError::PermissionDenied,
            LogicalError::UnsupportedOperation,
            LogicalError::UnsupportedPath,
            LogicalError::internal("boom"),
        ];
        for e in cases {
            let (resp, pe) = error_to_pb(&e);
            assert_eq!(error_from_pb(&pe, resp.as_ref()), e, "{e:?}");
        }
        let (resp, pe) = error_to_pb(&LogicalError::bad_request("x"));
        assert_eq!(pe.err_type, err_type::INVALID_REQUEST);
        assert_eq!(error_response_text(resp.as_ref().unwrap()).unwrap(), "x");
        // A coded error with code 0 would crash a Go host's HTTP layer: clamp to 500.
        let zero = proto_err(err_type::CODED_ERROR, "bad", 0);
        assert_eq!(error_from_pb(&zero, None).status(), 500);
        assert_eq!(
            error_from_pb(&proto_err(err_type::STATUS_BAD_REQUEST, "m", 0), None).status(),
            400
        );
    }
}
