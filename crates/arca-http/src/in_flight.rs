//! The requests the listeners are serving, for `sys/in-flight-req`: an entry from the moment
//! a request is read until its answer is ready.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

/// One request being served.
struct Entry {
    start_time: chrono::DateTime<chrono::Utc>,
    remote_address: String,
    path: String,
    method: String,
}

/// Every in-flight request of the server, by request id. One registry is shared by all
/// listeners.
#[derive(Default)]
pub struct InFlight {
    requests: Mutex<HashMap<String, Entry>>,
}

/// Removes its request from the registry when the request ends (answered, failed, or dropped
/// because the client went away).
pub(crate) struct Tracked<'a> {
    registry: &'a InFlight,
    id: String,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.registry.requests.lock() {
            m.remove(&self.id);
        }
    }
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InFlight")
            .field("requests", &self.len())
            .finish()
    }
}

impl InFlight {
    /// Records a request until the returned guard drops.
    pub(crate) fn track(&self, id: &str, remote: String, path: &str, method: &str) -> Tracked<'_> {
        let entry = Entry {
            start_time: chrono::Utc::now(),
            remote_address: remote,
            path: path.to_string(),
            method: method.to_string(),
        };
        if let Ok(mut m) = self.requests.lock() {
            m.insert(id.to_string(), entry);
        }
        Tracked {
            registry: self,
            id: id.to_string(),
        }
    }

    /// The requests as `sys/in-flight-req` lists them, by request id.
    pub fn snapshot(&self) -> Value {
        let Ok(m) = self.requests.lock() else {
            return Value::Object(Map::new());
        };
        let out: Map<String, Value> = m
            .iter()
            .map(|(id, e)| {
                (
                    id.clone(),
                    json!({
                        "start_time": e.start_time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                        "client_remote_address": e.remote_address,
                        "request_path": e.path,
                        "request_method": e.method,
                        // Vault's client id needs the token, which the listener never reads.
                        "client_id": "",
                    }),
                )
            })
            .collect();
        Value::Object(out)
    }

    /// How many requests are in flight.
    pub fn len(&self) -> usize {
        self.requests.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no request is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
