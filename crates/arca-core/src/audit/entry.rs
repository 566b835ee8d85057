//! One request's audit record and the lines Vault's format makes of it: `type`, `time`,
//! `auth`, `request`, `response`, `error`, every string HMAC'd with the device's salt unless
//! the device logs raw.

use std::collections::HashMap;
use std::sync::Arc;

use arca_sdk::{JsonMap, Operation, Request, Response};
use serde_json::{Map, Value, json};
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

/// The mount a request was routed to, as its audit lines name it.
#[derive(Clone, Debug, Default)]
pub(crate) struct MountInfo {
    pub(crate) point: String,
    pub(crate) kind: String,
    pub(crate) accessor: String,
    pub(crate) running_version: String,
    pub(crate) class: &'static str,
    pub(crate) non_hmac_request_keys: Vec<String>,
    pub(crate) non_hmac_response_keys: Vec<String>,
}

impl MountInfo {
    /// The audit view of `mount`, mounted at `point`.
    pub(crate) fn of(point: &str, mount: &MountEntry) -> MountInfo {
        MountInfo {
            point: point.to_string(),
            kind: mount.kind.clone(),
            accessor: mount.accessor.clone(),
            running_version: mount.running_plugin_version.clone(),
            class: match mount.table {
                TableKind::Auth => "auth",
                TableKind::Mounts => "secret",
            },
            non_hmac_request_keys: mount.config.audit_non_hmac_request_keys.clone(),
            non_hmac_response_keys: mount.config.audit_non_hmac_response_keys.clone(),
        }
    }
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
    /// Set once the request is routed.
    pub(crate) mount: Option<MountInfo>,
    /// Set once the token is known.
    pub(crate) token: Option<Arc<TokenEntry>>,
    /// The ACL's verdict, once asked.
    pub(crate) allowed: Option<bool>,
    /// Whether the request line has been attempted (the backend may run only after).
    pub(crate) request_logged: bool,
    /// Whether no device could record the request line (the request then fails as is).
    pub(crate) audit_failed: bool,
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
}

/// Audited request headers: lower-case name → whether its values are HMAC'd.
pub(crate) type AuditedHeaders = std::collections::BTreeMap<String, bool>;

/// Renders lines for one device.
pub(crate) struct Renderer<'a> {
    pub(crate) salt: &'a Salt,
    pub(crate) format: &'a Format,
    pub(crate) headers: &'a AuditedHeaders,
}

impl Renderer<'_> {
    fn hash(&self, s: &str) -> Value {
        if self.format.raw {
            Value::String(s.to_string())
        } else {
            Value::String(self.salt.hmac(s))
        }
    }

    fn hash_accessor(&self, s: &str) -> Value {
        if self.format.hmac_accessor {
            self.hash(s)
        } else {
            Value::String(s.to_string())
        }
    }

    fn hash_tree(&self, mut v: Value, keep: &[String]) -> Value {
        if !self.format.raw {
            self.salt.hash_value(&mut v, keep);
        }
        v
    }

    /// The `auth` object: who made the request.
    fn auth(&self, rec: &AuditRecord) -> Value {
        let mut m = Map::new();
        let Some(te) = &rec.token else {
            m.insert("token_type".into(), json!("default"));
            return Value::Object(m);
        };
        if let Some(t) = &rec.client_token {
            m.insert("client_token".into(), self.hash(t));
        }
        put_str(&mut m, "accessor", &te.accessor, |s| self.hash_accessor(s));
        put_str(&mut m, "display_name", &te.display_name, plain);
        if !te.policies.is_empty() {
            m.insert("policies".into(), json!(te.policies));
            m.insert("token_policies".into(), json!(te.policies));
        }
        if let Some(allowed) = rec.allowed {
            m.insert("policy_results".into(), json!({ "allowed": allowed }));
        }
        if !te.meta.is_empty() {
            m.insert("metadata".into(), json!(te.meta));
        }
        put_str(&mut m, "entity_id", &te.entity_id, plain);
        put_str(&mut m, "token_type", &te.token_type, plain);
        if te.ttl > 0 {
            m.insert("token_ttl".into(), json!(te.ttl));
        }
        if let Some(t) = chrono::DateTime::from_timestamp(te.creation_time, 0) {
            m.insert(
                "token_issue_time".into(),
                json!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            );
        }
        Value::Object(m)
    }

    /// The `request` object.
    fn request(&self, rec: &AuditRecord) -> Value {
        let mut m = Map::new();
        put_str(&mut m, "id", &rec.id, plain);
        put_str(&mut m, "operation", rec.operation, plain);
        if let Some(mount) = &rec.mount {
            put_str(&mut m, "mount_point", &mount.point, plain);
            put_str(&mut m, "mount_type", &mount.kind, plain);
            put_str(&mut m, "mount_accessor", &mount.accessor, plain);
            put_str(
                &mut m,
                "mount_running_version",
                &mount.running_version,
                plain,
            );
            put_str(&mut m, "mount_class", mount.class, plain);
        }
        if let Some(t) = &rec.client_token {
            m.insert("client_token".into(), self.hash(t));
        }
        if let Some(te) = &rec.token {
            put_str(&mut m, "client_token_accessor", &te.accessor, |s| {
                self.hash_accessor(s)
            });
        }
        m.insert("namespace".into(), json!({"id": "root"}));
        put_str(&mut m, "path", &rec.path, plain);
        if !rec.data.is_empty() {
            let keep = rec
                .mount
                .as_ref()
                .map_or(&[][..], |m| &m.non_hmac_request_keys[..]);
            m.insert(
                "data".into(),
                self.hash_tree(Value::Object(rec.data.clone()), keep),
            );
        }
        put_str(&mut m, "remote_address", &rec.remote_address, plain);
        if rec.remote_port > 0 {
            m.insert("remote_port".into(), json!(rec.remote_port));
        }
        if rec.wrap_ttl > 0 {
            m.insert("wrap_ttl".into(), json!(rec.wrap_ttl));
        }
        let headers = self.audited_headers(&rec.headers);
        if !headers.is_empty() {
            m.insert("headers".into(), Value::Object(headers));
        }
        Value::Object(m)
    }

    /// The configured headers the request carried, HMAC'd where configured.
    fn audited_headers(&self, given: &HashMap<String, Vec<String>>) -> Map<String, Value> {
        let mut out = Map::new();
        for (name, hmac) in self.headers {
            let Some(values) = given.get(name) else {
                continue;
            };
            let values: Vec<Value> = values
                .iter()
                .map(|v| {
                    if *hmac {
                        self.hash(v)
                    } else {
                        Value::String(v.clone())
                    }
                })
                .collect();
            out.insert(name.clone(), Value::Array(values));
        }
        out
    }

    /// The `response` object of an answer, or of an error (`data.error` is its text).
    fn response(&self, rec: &AuditRecord, resp: Option<&Response>, error: Option<&str>) -> Value {
        let mut m = Map::new();
        if let Some(mount) = &rec.mount {
            put_str(&mut m, "mount_point", &mount.point, plain);
            put_str(&mut m, "mount_type", &mount.kind, plain);
            put_str(&mut m, "mount_accessor", &mount.accessor, plain);
            put_str(
                &mut m,
                "mount_running_plugin_version",
                &mount.running_version,
                plain,
            );
            put_str(&mut m, "mount_class", mount.class, plain);
        }
        if let Some(e) = error {
            m.insert("data".into(), json!({ "error": self.hash(e) }));
            return Value::Object(m);
        }
        let Some(resp) = resp else {
            return Value::Object(m);
        };
        if let Some(auth) = &resp.auth {
            let mut a = Map::new();
            if !auth.client_token.is_empty() {
                a.insert("client_token".into(), self.hash(&auth.client_token));
            }
            put_str(&mut a, "accessor", &auth.accessor, |s| {
                self.hash_accessor(s)
            });
            put_str(&mut a, "display_name", &auth.display_name, plain);
            if !auth.policies.is_empty() {
                a.insert("policies".into(), json!(auth.policies));
            }
            if !auth.token_policies.is_empty() {
                a.insert("token_policies".into(), json!(auth.token_policies));
            }
            if !auth.metadata.is_empty() {
                let meta: std::collections::BTreeMap<_, _> = auth.metadata.iter().collect();
                a.insert("metadata".into(), json!(meta));
            }
            if auth.num_uses > 0 {
                a.insert("num_uses".into(), json!(auth.num_uses));
            }
            put_str(&mut a, "entity_id", &auth.entity_id, plain);
            put_str(&mut a, "token_type", &auth.token_type, plain);
            if !auth.lease.ttl.is_zero() {
                a.insert("token_ttl".into(), json!(auth.lease.ttl.as_secs()));
            }
            m.insert("auth".into(), Value::Object(a));
        }
        if let Some(secret) = resp.secret.as_ref().filter(|s| !s.lease_id.is_empty()) {
            m.insert("secret".into(), json!({ "lease_id": secret.lease_id }));
        }
        let keep = rec
            .mount
            .as_ref()
            .map_or(&[][..], |m| &m.non_hmac_response_keys[..]);
        if let Some(raw) = &resp.raw {
            // A raw body is recorded as Vault records it: the body as a string, HMAC'd.
            let data = json!({
                "http_content_type": raw.content_type,
                "http_raw_body": String::from_utf8_lossy(&raw.body),
                "http_status_code": raw.status,
            });
            m.insert("data".into(), self.hash_tree(data, keep));
        } else if let Some(data) = resp.data.as_ref().filter(|d| !d.is_empty()) {
            let mut data = data.clone();
            if self.format.elide_list && rec.operation == "list" {
                elide_list(&mut data);
            }
            m.insert("data".into(), self.hash_tree(Value::Object(data), keep));
        }
        if !resp.warnings.is_empty() {
            m.insert("warnings".into(), json!(resp.warnings));
        }
        if let Some(w) = &resp.wrap_info {
            let mut wi = Map::new();
            wi.insert("ttl".into(), json!(w.ttl));
            wi.insert("token".into(), self.hash(&wrapped_token_id(&w.token)));
            put_str(&mut wi, "accessor", &w.accessor, |s| self.hash_accessor(s));
            put_str(&mut wi, "creation_time", &w.creation_time, plain);
            put_str(&mut wi, "creation_path", &w.creation_path, plain);
            put_str(&mut wi, "wrapped_accessor", &w.wrapped_accessor, |s| {
                self.hash_accessor(s)
            });
            m.insert("wrap_info".into(), Value::Object(wi));
        }
        if !resp.headers.is_empty() {
            m.insert("headers".into(), json!(resp.headers));
        }
        Value::Object(m)
    }

    /// The request line.
    pub(crate) fn request_line(&self, rec: &AuditRecord, error: Option<&str>) -> Vec<u8> {
        let mut entry = Map::new();
        entry.insert("time".into(), json!(now()));
        entry.insert("type".into(), json!("request"));
        entry.insert("auth".into(), self.auth(rec));
        entry.insert("request".into(), self.request(rec));
        if let Some(e) = error {
            entry.insert("error".into(), json!(e));
        }
        self.line(&Value::Object(entry))
    }

    /// The response line: the request again, with the answer (or the error).
    pub(crate) fn response_line(
        &self,
        rec: &AuditRecord,
        resp: Option<&Response>,
        error: Option<&str>,
    ) -> Vec<u8> {
        let mut entry = Map::new();
        entry.insert("time".into(), json!(now()));
        entry.insert("type".into(), json!("response"));
        entry.insert("auth".into(), self.auth(rec));
        entry.insert("request".into(), self.request(rec));
        entry.insert("response".into(), self.response(rec, resp, error));
        if let Some(e) = error {
            entry.insert("error".into(), json!(e));
        }
        self.line(&Value::Object(entry))
    }

    /// The line written when a device is enabled, to prove it can write.
    pub(crate) fn test_line(&self) -> Vec<u8> {
        let entry = json!({
            "time": now(),
            "type": "request",
            "auth": {"token_type": "default"},
            "request": {
                "id": uuid::Uuid::new_v4().to_string(),
                "operation": "update",
                "namespace": {"id": "root"},
                "path": "sys/audit/test",
            },
        });
        self.line(&entry)
    }

    /// Prefix, entry (JSON or JSONx), newline: one buffer per line.
    fn line(&self, entry: &Value) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(self.format.prefix.as_bytes());
        if self.format.jsonx {
            super::jsonx::encode(entry, &mut out);
        } else if serde_json::to_writer(&mut out, entry).is_err() {
            // A `Value` always serialises; keep the line well-formed regardless.
            out.extend_from_slice(b"{}");
        }
        out.push(b'\n');
        out
    }
}

fn plain(s: &str) -> Value {
    Value::String(s.to_string())
}

fn put_str(m: &mut Map<String, Value>, k: &str, v: &str, f: impl Fn(&str) -> Value) {
    if !v.is_empty() {
        m.insert(k.to_string(), f(v));
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
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

/// `elide_list_responses`: `keys` and `key_info` become their counts.
fn elide_list(data: &mut JsonMap) {
    for (k, v) in data.iter_mut() {
        match (k.as_str(), &*v) {
            ("keys", Value::Array(a)) => *v = json!(a.len()),
            ("key_info", Value::Object(o)) => *v = json!(o.len()),
            _ => {}
        }
    }
}
