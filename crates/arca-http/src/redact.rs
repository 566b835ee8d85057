//! Vault's `redact_addresses`, `redact_cluster_name` and `redact_version` listener options:
//! what the status endpoints a client may call without a token (`sys/health`,
//! `sys/seal-status`, `sys/leader`, `sys/ha-status`) leave out on this listener. A redacted
//! value reads as an empty string, and `cluster_name` (which Vault omits when empty) goes.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use crate::envelope::Answer;

/// A listener's redaction settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redaction {
    /// `redact_addresses`: the leader's and the nodes' API and cluster addresses.
    pub addresses: bool,
    /// `redact_cluster_name`.
    pub cluster_name: bool,
    /// `redact_version`: the version (and the build date).
    pub version: bool,
}

impl Redaction {
    /// Whether anything is redacted.
    pub(crate) fn any(&self) -> bool {
        self.addresses || self.cluster_name || self.version
    }

    /// Whether `api_path` (`sys/health`, ...) is one this applies to.
    pub(crate) fn applies_to(&self, api_path: &str) -> bool {
        self.any()
            && matches!(
                api_path.trim_end_matches('/'),
                "sys/health" | "sys/seal-status" | "sys/leader" | "sys/ha-status"
            )
    }

    /// Rewrites a JSON answer of `api_path`.
    pub(crate) async fn apply(&self, api_path: &str, answer: Answer) -> Answer {
        let (mut parts, body) = answer.into_parts();
        let bytes = match body.collect().await {
            Ok(c) => c.to_bytes(),
            Err(never) => match never {},
        };
        let Ok(mut json) = serde_json::from_slice::<Value>(&bytes) else {
            return hyper::Response::from_parts(parts, Full::new(bytes));
        };
        let path = api_path.trim_end_matches('/');
        self.redact(path, &mut json);
        if let Some(Value::Object(data)) = json.get_mut("data") {
            let mut inner = Value::Object(std::mem::take(data));
            self.redact(path, &mut inner);
            json["data"] = inner;
        }
        let body = serde_json::to_vec(&json).unwrap_or_else(|_| bytes.to_vec());
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        hyper::Response::from_parts(parts, Full::new(Bytes::from(body)))
    }

    fn redact(&self, path: &str, v: &mut Value) {
        let Value::Object(m) = v else { return };
        let blank = |m: &mut serde_json::Map<String, Value>, k: &str| {
            if m.contains_key(k) {
                m.insert(k.to_owned(), Value::String(String::new()));
            }
        };
        match path {
            "sys/health" | "sys/seal-status" => {
                if self.version {
                    blank(m, "version");
                    blank(m, "build_date");
                }
                if self.cluster_name {
                    m.remove("cluster_name");
                }
            }
            "sys/leader" if self.addresses => {
                blank(m, "leader_address");
                blank(m, "leader_cluster_address");
            }
            "sys/ha-status" => {
                if let Some(Value::Array(nodes)) = m.get_mut("nodes") {
                    for node in nodes {
                        let Value::Object(n) = node else { continue };
                        if self.addresses {
                            blank(n, "api_address");
                            blank(n, "cluster_address");
                        }
                        if self.version {
                            blank(n, "version");
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
