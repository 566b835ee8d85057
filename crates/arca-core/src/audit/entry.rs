//! One request's audit record and the lines Vault's format makes of it: `type`, `time`,
//! `auth`, `request`, `response`, `error`, every string HMAC'd with the device's salt unless
//! the device logs raw.
//!
//! Lines are serialized straight from the record into one buffer per line: strings are
//! HMAC'd as they are written (no copy of the data is made to be hashed), and the `auth` and
//! `request` objects a device rendered for the request line are reused by its response line.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arca_sdk::{JsonMap, Operation, Request, Response};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;
use zeroize::Zeroizing;

use super::hash::Salt;
use crate::mounts::{MountEntry, TableKind};
use crate::token_store::TokenEntry;

/// How a device renders its lines (the format options every device kind shares).
#[derive(Clone, Debug, Default)]
pub(crate) struct Format {
    /// `log_raw`: nothing is HMAC'd.
    pub(crate) raw: bool,
    /// `hmac_accessor` (default true): token accessors are HMAC'd too.
    pub(crate) hmac_accessor: bool,
    /// `elide_list_responses`: a LIST answer's `keys` and `key_info` become their counts.
    pub(crate) elide_list: bool,
    /// `prefix`: written before every line.
    pub(crate) prefix: String,
    /// `format = "jsonx"`: the entry as JSONx (XML) instead of JSON.
    pub(crate) jsonx: bool,
}

/// What the pipeline knows of one request, gathered as it goes, for the request and
/// response lines. The raw token it holds is wiped on drop and never leaves unhashed
/// (unless a device logs raw).
#[derive(Default)]
pub(crate) struct AuditRecord {
    pub(crate) id: String,
    pub(crate) operation: &'static str,
    /// The path as the client sent it (after `/v1/`).
    pub(crate) path: String,
    pub(crate) data: JsonMap,
    pub(crate) client_token: Option<Zeroizing<String>>,
    pub(crate) remote_address: String,
    pub(crate) remote_port: u16,
    pub(crate) wrap_ttl: u64,
    /// The request's audited headers (lower-case names), set by the broker.
    pub(crate) headers: HashMap<String, Vec<String>>,
    /// The mount the request was routed to, and where, once routed.
    pub(crate) mount: Option<(String, Arc<MountEntry>)>,
    /// Set once the token is known.
    pub(crate) token: Option<Arc<TokenEntry>>,
    /// The namespace the request runs in, once resolved (`None`: the root).
    pub(crate) namespace: Option<Arc<crate::namespaces::Namespace>>,
    /// The ACL's verdict, once asked.
    pub(crate) allowed: Option<bool>,
    /// Whether the request line has been attempted (the backend may run only after).
    pub(crate) request_logged: bool,
    /// Whether no device could record the request line (the request then fails as is).
    pub(crate) audit_failed: bool,
    /// Each device's rendered `auth` and `request` objects (by device id), for its response
    /// line.
    pub(crate) parts: Vec<(u64, Parts)>,
}

impl AuditRecord {
    /// The record of `req` as it arrives (path absolute).
    pub(crate) fn of(req: &Request) -> AuditRecord {
        let (remote_address, remote_port) = req
            .connection
            .as_ref()
            .map(|c| (c.remote_addr.clone(), c.remote_port))
            .unwrap_or_default();
        AuditRecord {
            id: req.id.clone(),
            operation: req.operation.as_str(),
            path: req.path.clone(),
            data: req.data.clone(),
            client_token: req.client_token.clone().filter(|t| !t.is_empty()),
            remote_address,
            remote_port,
            wrap_ttl: req.wrap_info.as_ref().map_or(0, |w| w.ttl.as_secs()),
            ..AuditRecord::default()
        }
    }

    /// Notes the operation after the existence check (create or update).
    pub(crate) fn set_operation(&mut self, op: Operation) {
        self.operation = op.as_str();
    }

    fn mount_keys(&self, response: bool) -> &[String] {
        self.mount.as_ref().map_or(&[][..], |(_, m)| {
            if response {
                &m.config.audit_non_hmac_response_keys[..]
            } else {
                &m.config.audit_non_hmac_request_keys[..]
            }
        })
    }
}

/// A device's rendered `auth` and `request` objects of one request (JSON text).
#[derive(Default)]
pub(crate) struct Parts {
    auth: Vec<u8>,
    request: Vec<u8>,
}

/// Audited request headers: lower-case name → whether its values are HMAC'd.
pub(crate) type AuditedHeaders = BTreeMap<String, bool>;

/// Renders lines for one device.
pub(crate) struct Renderer<'a> {
    pub(crate) salt: &'a Salt,
    pub(crate) format: &'a Format,
    pub(crate) headers: &'a AuditedHeaders,
}

/// A string HMAC'd as it is written (as it is when the device logs raw).
struct Hmac<'a> {
    salt: &'a Salt,
    raw: bool,
    s: &'a str,
}

impl Serialize for Hmac<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        if self.raw {
            return ser.serialize_str(self.s);
        }
        let out = self.salt.hmac_bytes(self.s);
        match std::str::from_utf8(&out) {
            Ok(text) => ser.serialize_str(text),
            Err(_) => Err(serde::ser::Error::custom("HMAC text is ASCII")),
        }
    }
}

/// A JSON value with every string leaf HMAC'd as it is written, except under a key of
/// `keep` (the nearest enclosing object key decides).
struct Tree<'a> {
    salt: &'a Salt,
    raw: bool,
    value: &'a Value,
    keep: &'a [String],
    kept: bool,
}

impl Serialize for Tree<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::String(s) => Hmac {
                salt: self.salt,
                raw: self.raw || self.kept,
                s,
            }
            .serialize(ser),
            Value::Array(items) => {
                let mut seq = ser.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&Tree {
                        value: item,
                        ..*self
                    })?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = ser.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    let kept = self.keep.iter().any(|name| name == k);
                    m.serialize_entry(
                        k,
                        &Tree {
                            value: v,
                            kept,
                            ..*self
                        },
                    )?;
                }
                m.end()
            }
            other => other.serialize(ser),
        }
    }
}

/// A response's `data`, with a LIST answer's `keys` and `key_info` as their counts when the
/// device elides list responses.
struct Data<'a> {
    tree: Tree<'a>,
    map: &'a JsonMap,
    elide: bool,
}

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(Some(self.map.len()))?;
        for (k, v) in self.map {
            match (self.elide, k.as_str(), v) {
                (true, "keys", Value::Array(a)) => m.serialize_entry(k, &a.len())?,
                (true, "key_info", Value::Object(o)) => m.serialize_entry(k, &o.len())?,
                _ => {
                    let kept = self.tree.keep.iter().any(|name| name == k);
                    m.serialize_entry(
                        k,
                        &Tree {
                            value: v,
                            kept,
                            ..self.tree
                        },
                    )?;
                }
            }
        }
        m.end()
    }
}

/// `{"allowed": …}` of `auth.policy_results`.
#[derive(Serialize)]
struct PolicyResults {
    allowed: bool,
}

/// `{"id": "root"}`, or `{"id": …, "path": "team-a/"}`: the request's namespace.
#[derive(Serialize)]
struct Namespace<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    path: &'a str,
}

type Map<'w> = serde_json::ser::Compound<'w, &'w mut Vec<u8>, serde_json::ser::CompactFormatter>;

/// Writes `key: value` when `value` is not empty.
fn put(m: &mut Map<'_>, key: &str, value: &str) -> serde_json::Result<()> {
    if value.is_empty() {
        return Ok(());
    }
    m.serialize_entry(key, value)
}

impl Renderer<'_> {
    fn hmac<'s>(&'s self, s: &'s str) -> Hmac<'s> {
        Hmac {
            salt: self.salt,
            raw: self.format.raw,
            s,
        }
    }

    fn accessor<'s>(&'s self, s: &'s str) -> Hmac<'s> {
        Hmac {
            salt: self.salt,
            raw: self.format.raw || !self.format.hmac_accessor,
            s,
        }
    }

    fn tree<'s>(&'s self, value: &'s Value, keep: &'s [String]) -> Tree<'s> {
        Tree {
            salt: self.salt,
            raw: self.format.raw,
            value,
            keep,
            kept: false,
        }
    }

    /// The `auth` and `request` objects of `rec`, reused by the response line.
    pub(crate) fn parts(&self, rec: &AuditRecord) -> serde_json::Result<Parts> {
        let mut parts = Parts {
            auth: Vec::with_capacity(512),
            request: Vec::with_capacity(512 + 64 * rec.data.len()),
        };
        self.write_auth(rec, &mut parts.auth)?;
        self.write_request(rec, &mut parts.request)?;
        Ok(parts)
    }

    /// The `auth` object: who made the request.
    fn write_auth(&self, rec: &AuditRecord, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let mut ser = serde_json::Serializer::new(out);
        let mut m = ser.serialize_map(None)?;
        let Some(te) = &rec.token else {
            m.serialize_entry("token_type", "default")?;
            return SerializeMap::end(m);
        };
        if let Some(t) = &rec.client_token {
            m.serialize_entry("client_token", &self.hmac(t))?;
        }
        if !te.accessor.is_empty() {
            m.serialize_entry("accessor", &self.accessor(&te.accessor))?;
        }
        put(&mut m, "display_name", &te.display_name)?;
        if !te.policies.is_empty() {
            m.serialize_entry("policies", &te.policies)?;
            m.serialize_entry("token_policies", &te.policies)?;
        }
        if let Some(allowed) = rec.allowed {
            m.serialize_entry("policy_results", &PolicyResults { allowed })?;
        }
        if !te.meta.is_empty() {
            m.serialize_entry("metadata", &te.meta)?;
        }
        put(&mut m, "entity_id", &te.entity_id)?;
        put(&mut m, "token_type", &te.token_type)?;
        if te.ttl > 0 {
            m.serialize_entry("token_ttl", &te.ttl)?;
        }
        if let Some(t) = chrono::DateTime::from_timestamp(te.creation_time, 0) {
            m.serialize_entry(
                "token_issue_time",
                &t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            )?;
        }
        SerializeMap::end(m)
    }

    /// The `request` object.
    fn write_request(&self, rec: &AuditRecord, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let mut ser = serde_json::Serializer::new(out);
        let mut m = ser.serialize_map(None)?;
        put(&mut m, "id", &rec.id)?;
        put(&mut m, "operation", rec.operation)?;
        if let Some((point, mount)) = &rec.mount {
            write_mount(&mut m, point, mount, "mount_running_version")?;
        }
        if let Some(t) = &rec.client_token {
            m.serialize_entry("client_token", &self.hmac(t))?;
        }
        if let Some(te) = rec.token.as_ref().filter(|te| !te.accessor.is_empty()) {
            m.serialize_entry("client_token_accessor", &self.accessor(&te.accessor))?;
        }
        let (id, path) = rec
            .namespace
            .as_ref()
            .map_or(("root", ""), |ns| (ns.id.as_str(), ns.path.as_str()));
        m.serialize_entry("namespace", &Namespace { id, path })?;
        put(&mut m, "path", &rec.path)?;
        if !rec.data.is_empty() {
            let keep = rec.mount_keys(false);
            m.serialize_entry(
                "data",
                &Data {
                    tree: self.tree(&Value::Null, keep),
                    map: &rec.data,
                    elide: false,
                },
            )?;
        }
        put(&mut m, "remote_address", &rec.remote_address)?;
        if rec.remote_port > 0 {
            m.serialize_entry("remote_port", &rec.remote_port)?;
        }
        if rec.wrap_ttl > 0 {
            m.serialize_entry("wrap_ttl", &rec.wrap_ttl)?;
        }
        if self.headers.keys().any(|h| rec.headers.contains_key(h)) {
            m.serialize_entry("headers", &Headers { r: self, rec })?;
        }
        SerializeMap::end(m)
    }

    /// The `response` object of an answer, or of an error (`data.error` is its text).
    fn write_response(
        &self,
        rec: &AuditRecord,
        resp: Option<&Response>,
        error: Option<&str>,
        out: &mut Vec<u8>,
    ) -> serde_json::Result<()> {
        let mut ser = serde_json::Serializer::new(out);
        let mut m = ser.serialize_map(None)?;
        if let Some((point, mount)) = &rec.mount {
            write_mount(&mut m, point, mount, "mount_running_plugin_version")?;
        }
        if let Some(e) = error {
            m.serialize_entry(
                "data",
                &ErrorData {
                    error: self.hmac(e),
                },
            )?;
            return SerializeMap::end(m);
        }
        let Some(resp) = resp else {
            return SerializeMap::end(m);
        };
        if let Some(auth) = &resp.auth {
            m.serialize_entry("auth", &RespAuth { r: self, auth })?;
        }
        if let Some(secret) = resp.secret.as_ref().filter(|s| !s.lease_id.is_empty()) {
            m.serialize_entry(
                "secret",
                &LeaseId {
                    lease_id: &secret.lease_id,
                },
            )?;
        }
        let keep = rec.mount_keys(true);
        if let Some(raw) = &resp.raw {
            // A raw body is recorded as Vault records it: the body as a string, HMAC'd.
            let data = serde_json::json!({
                "http_content_type": raw.content_type,
                "http_raw_body": String::from_utf8_lossy(&raw.body),
                "http_status_code": raw.status,
            });
            m.serialize_entry("data", &self.tree(&data, keep))?;
        } else if let Some(data) = resp.data.as_ref().filter(|d| !d.is_empty()) {
            m.serialize_entry(
                "data",
                &Data {
                    tree: self.tree(&Value::Null, keep),
                    map: data,
                    elide: self.format.elide_list && rec.operation == "list",
                },
            )?;
        }
        if !resp.warnings.is_empty() {
            m.serialize_entry("warnings", &resp.warnings)?;
        }
        if let Some(w) = &resp.wrap_info {
            m.serialize_entry("wrap_info", &WrapInfo { r: self, w })?;
        }
        if !resp.headers.is_empty() {
            let sorted: BTreeMap<_, _> = resp.headers.iter().collect();
            m.serialize_entry("headers", &sorted)?;
        }
        SerializeMap::end(m)
    }

    /// The request line.
    pub(crate) fn request_line(&self, parts: &Parts, error: Option<&str>) -> Vec<u8> {
        self.line("request", parts, None, error)
    }

    /// The response line: the request's parts again, with the answer (or the error).
    pub(crate) fn response_line(
        &self,
        parts: &Parts,
        rec: &AuditRecord,
        resp: Option<&Response>,
        error: Option<&str>,
    ) -> serde_json::Result<Vec<u8>> {
        let mut response = Vec::with_capacity(256);
        self.write_response(rec, resp, error, &mut response)?;
        Ok(self.line("response", parts, Some(&response), error))
    }

    /// The line written when a device is enabled, to prove it can write.
    pub(crate) fn test_line(&self) -> Vec<u8> {
        let id = uuid::Uuid::new_v4().to_string();
        let request = serde_json::json!({
            "id": id,
            "operation": "update",
            "namespace": {"id": "root"},
            "path": "sys/audit/test",
        });
        let parts = Parts {
            auth: br#"{"token_type":"default"}"#.to_vec(),
            request: serde_json::to_vec(&request).unwrap_or_else(|_| b"{}".to_vec()),
        };
        self.line("request", &parts, None, None)
    }

    /// Prefix, entry (JSON or JSONx), newline: one buffer per line.
    fn line(
        &self,
        kind: &str,
        parts: &Parts,
        response: Option<&[u8]>,
        error: Option<&str>,
    ) -> Vec<u8> {
        let size = parts.auth.len() + parts.request.len() + response.map_or(0, <[u8]>::len);
        let mut out = Vec::with_capacity(self.format.prefix.len() + size + 128);
        out.extend_from_slice(self.format.prefix.as_bytes());
        let start = out.len();
        out.extend_from_slice(b"{\"time\":\"");
        out.extend_from_slice(
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                .as_bytes(),
        );
        out.extend_from_slice(b"\",\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"auth\":");
        out.extend_from_slice(&parts.auth);
        out.extend_from_slice(b",\"request\":");
        out.extend_from_slice(&parts.request);
        if let Some(r) = response {
            out.extend_from_slice(b",\"response\":");
            out.extend_from_slice(r);
        }
        if let Some(e) = error {
            out.extend_from_slice(b",\"error\":");
            // A string always serialises.
            let _ = serde_json::to_writer(&mut out, e);
        }
        out.push(b'}');
        if self.format.jsonx {
            let entry: Value = serde_json::from_slice(&out[start..]).unwrap_or(Value::Null);
            out.truncate(start);
            super::jsonx::encode(&entry, &mut out);
        }
        out.push(b'\n');
        out
    }
}

/// The mount fields of a request or response object.
fn write_mount(
    m: &mut Map<'_>,
    point: &str,
    mount: &MountEntry,
    version_key: &str,
) -> serde_json::Result<()> {
    put(m, "mount_point", point)?;
    // A namespace's own `sys/`, `auth/token/`, ... read `ns_system`, `ns_token` (OpenBao).
    if mount.namespace_id == crate::namespaces::ROOT_ID {
        put(m, "mount_type", &mount.kind)?;
    } else {
        put(m, "mount_type", &mount.api_type())?;
    }
    put(m, "mount_accessor", &mount.accessor)?;
    put(m, version_key, &mount.running_plugin_version)?;
    let class = match mount.table {
        TableKind::Auth => "auth",
        TableKind::Mounts => "secret",
    };
    m.serialize_entry("mount_class", class)
}

/// The audited headers of a request.
struct Headers<'a> {
    r: &'a Renderer<'a>,
    rec: &'a AuditRecord,
}

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut m = ser.serialize_map(None)?;
        for (name, hmac) in self.r.headers {
            let Some(values) = self.rec.headers.get(name) else {
                continue;
            };
            let values: Vec<Hmac<'_>> = values
                .iter()
                .map(|v| Hmac {
                    salt: self.r.salt,
                    raw: self.r.format.raw || !hmac,
                    s: v,
                })
                .collect();
            m.serialize_entry(name, &values)?;
        }
        m.end()
    }
}

/// `{"error": <hmac>}`: the data of an error response.
#[derive(Serialize)]
struct ErrorData<'a> {
    error: Hmac<'a>,
}

/// `{"lease_id": …}`: a response's secret.
#[derive(Serialize)]
struct LeaseId<'a> {
    lease_id: &'a str,
}

/// A response's `auth` (a login or a token creation).
struct RespAuth<'a> {
    r: &'a Renderer<'a>,
    auth: &'a arca_sdk::Auth,
}

impl Serialize for RespAuth<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let a = self.auth;
        let mut m = ser.serialize_map(None)?;
        if !a.client_token.is_empty() {
            m.serialize_entry("client_token", &self.r.hmac(&a.client_token))?;
        }
        if !a.accessor.is_empty() {
            m.serialize_entry("accessor", &self.r.accessor(&a.accessor))?;
        }
        if !a.display_name.is_empty() {
            m.serialize_entry("display_name", &a.display_name)?;
        }
        if !a.policies.is_empty() {
            m.serialize_entry("policies", &a.policies)?;
        }
        if !a.token_policies.is_empty() {
            m.serialize_entry("token_policies", &a.token_policies)?;
        }
        if !a.metadata.is_empty() {
            let sorted: BTreeMap<_, _> = a.metadata.iter().collect();
            m.serialize_entry("metadata", &sorted)?;
        }
        if a.num_uses > 0 {
            m.serialize_entry("num_uses", &a.num_uses)?;
        }
        if !a.entity_id.is_empty() {
            m.serialize_entry("entity_id", &a.entity_id)?;
        }
        if !a.token_type.is_empty() {
            m.serialize_entry("token_type", &a.token_type)?;
        }
        if !a.lease.ttl.is_zero() {
            m.serialize_entry("token_ttl", &a.lease.ttl.as_secs())?;
        }
        m.end()
    }
}

/// A response's `wrap_info`, its token and accessors HMAC'd.
struct WrapInfo<'a> {
    r: &'a Renderer<'a>,
    w: &'a arca_sdk::ResponseWrapInfo,
}

impl Serialize for WrapInfo<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let w = self.w;
        let token = wrapped_token_id(&w.token);
        let mut m = ser.serialize_map(None)?;
        m.serialize_entry("ttl", &w.ttl)?;
        m.serialize_entry("token", &self.r.hmac(&token))?;
        if !w.accessor.is_empty() {
            m.serialize_entry("accessor", &self.r.accessor(&w.accessor))?;
        }
        if !w.creation_time.is_empty() {
            m.serialize_entry("creation_time", &w.creation_time)?;
        }
        if !w.creation_path.is_empty() {
            m.serialize_entry("creation_path", &w.creation_path)?;
        }
        if !w.wrapped_accessor.is_empty() {
            m.serialize_entry("wrapped_accessor", &self.r.accessor(&w.wrapped_accessor))?;
        }
        m.end()
    }
}

/// A JWT wrapping token is recorded by its `jti` (the token id inside), as OpenBao does.
fn wrapped_token_id(token: &str) -> Zeroizing<String> {
    if token.matches('.').count() == 2
        && let Some(payload) = token.split('.').nth(1)
        && let Ok(bytes) =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
        && let Ok(claims) = serde_json::from_slice::<Value>(&bytes)
        && let Some(jti) = claims.get("jti").and_then(Value::as_str)
    {
        return Zeroizing::new(jti.to_string());
    }
    Zeroizing::new(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_hashed_keys_and_other_types_are_not() {
        let salt = Salt::new(b"salt");
        let v = json!({"pw": "x", "n": 5, "b": true, "z": null,
                       "nested": {"a": ["x", 1, null]}, "keep": ["x", {"y": "x"}]});
        let keep = ["keep".to_string()];
        let tree = Tree {
            salt: &salt,
            raw: false,
            value: &v,
            keep: &keep,
            kept: false,
        };
        let out: Value = serde_json::to_value(&tree).expect("serialises");
        let h = salt.hmac("x");
        assert_eq!(out["pw"], json!(h));
        assert_eq!(out["n"], json!(5));
        assert_eq!(out["b"], json!(true));
        assert_eq!(out["z"], Value::Null);
        assert_eq!(out["nested"]["a"], json!([h, 1, null]));
        // Under a kept key, strings stay; a nested object's own key decides again.
        assert_eq!(out["keep"][0], json!("x"));
        assert_eq!(out["keep"][1]["y"], json!(h));
        // Raw: nothing hashed.
        let raw = Tree { raw: true, ..tree };
        assert_eq!(serde_json::to_value(&raw).expect("serialises"), v);
    }
}
