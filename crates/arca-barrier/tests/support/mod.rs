//! A tiny in-memory physical backend whose raw contents the tests can inspect.

#![allow(clippy::unwrap_used)] // a poisoned test mutex is a failed test

use std::collections::BTreeMap;
use std::sync::Mutex;

use arca_storage::{PhysicalBackend, StorageError, TxnOp};
use async_trait::async_trait;

/// A `BTreeMap` behind a mutex, with a way to look at (and tamper with) the raw bytes.
#[derive(Default)]
pub struct MemBackend {
    entries: Mutex<BTreeMap<String, Vec<u8>>>,
}

#[allow(dead_code)]
impl MemBackend {
    /// Every stored (key, raw value) pair.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.entries.lock().unwrap().clone()
    }

    /// The raw bytes at `key`.
    pub fn raw(&self, key: &str) -> Option<Vec<u8>> {
        self.entries.lock().unwrap().get(key).cloned()
    }

    /// Overwrites the raw bytes at `key`.
    pub fn set_raw(&self, key: &str, value: Vec<u8>) {
        self.entries.lock().unwrap().insert(key.to_string(), value);
    }
}

#[async_trait]
impl PhysicalBackend for MemBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.raw(key))
    }

    async fn put(&self, key: &str, value: Vec<u8>) -> Result<(), StorageError> {
        self.set_raw(key, value);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.entries.lock().unwrap().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let entries = self.entries.lock().unwrap();
        let mut out: Vec<String> = entries
            .keys()
            .filter_map(|k| k.strip_prefix(prefix))
            .map(|rest| match rest.find('/') {
                Some(i) => rest[..=i].to_string(),
                None => rest.to_string(),
            })
            .collect();
        out.dedup();
        Ok(out)
    }

    async fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), StorageError> {
        let mut entries = self.entries.lock().unwrap();
        for op in ops {
            match op {
                TxnOp::Put { key, value } => {
                    entries.insert(key, value);
                }
                TxnOp::Delete { key } => {
                    entries.remove(&key);
                }
            }
        }
        Ok(())
    }
}
