//! The requests the listeners are serving, for `sys/in-flight-req`: an entry from the moment
//! a request is read until its answer is ready.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arca_sdk::Connection;
use hyper::{Method, Uri};
use rustc_hash::FxHashMap;
use serde_json::{Map, Value, json};

/// One request being served: what the request already holds, shared or copied without an
/// allocation; `sys/in-flight-req` formats it when asked.
struct Entry {
    start_time: SystemTime,
    id: uuid::Uuid,
    connection: Arc<Connection>,
    uri: Uri,
    method: Method,
}

/// Every in-flight request of the server, by a number of its own (a counter: no string is
/// hashed per request). One registry is shared by all listeners.
#[derive(Default)]
pub struct InFlight {
    next: AtomicU64,
    requests: Mutex<FxHashMap<u64, Entry>>,
}

/// Removes its request from the registry when the request ends (answered, failed, or dropped
/// because the client went away).
pub(crate) struct Tracked<'a> {
    registry: &'a InFlight,
    key: u64,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        if let Ok(mut m) = self.registry.requests.lock() {
            m.remove(&self.key);
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
    /// Records the request `id` from `connection` until the returned guard drops.
    pub(crate) fn track(
        &self,
        id: uuid::Uuid,
        connection: &Arc<Connection>,
        uri: &Uri,
        method: &Method,
    ) -> Tracked<'_> {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let entry = Entry {
            start_time: SystemTime::now(),
            id,
            connection: connection.clone(),
            uri: uri.clone(),
            method: method.clone(),
        };
        if let Ok(mut m) = self.requests.lock() {
            m.insert(key, entry);
        }
        Tracked {
            registry: self,
            key,
        }
    }

    /// The requests as `sys/in-flight-req` lists them, by request id.
    pub fn snapshot(&self) -> Value {
        let Ok(m) = self.requests.lock() else {
            return Value::Object(Map::new());
        };
        let out: Map<String, Value> = m
            .values()
            .map(|e| {
                let start_time = chrono::DateTime::<chrono::Utc>::from(e.start_time);
                (
                    e.id.to_string(),
                    json!({
                        "start_time": start_time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                        "client_remote_address": format!(
                            "{}:{}",
                            e.connection.remote_addr, e.connection.remote_port
                        ),
                        // Without the query, as logged: query values can be secrets.
                        "request_path": e.uri.path(),
                        "request_method": e.method.as_str(),
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
