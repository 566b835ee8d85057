//! [`open_backend`]: builds a physical backend from the type and settings of a config's
//! `storage "TYPE" { ... }` stanza.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{FileBackend, InmemBackend, PhysicalBackend, StorageError};

/// Opens the backend named `kind` with its `config` settings.
///
/// - `"inmem"`: an empty [`InmemBackend`]; settings are ignored.
/// - `"file"`: a [`FileBackend`] in directory `path` (required).
///
/// Any other kind is a [`StorageError::Config`] `unknown storage type KIND`.
pub fn open_backend(
    kind: &str,
    config: &HashMap<String, String>,
) -> Result<Arc<dyn PhysicalBackend>, StorageError> {
    match kind {
        "inmem" => Ok(Arc::new(InmemBackend::new())),
        "file" => {
            let path = config
                .get("path")
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    StorageError::Config("path must be set for file storage".to_owned())
                })?;
            Ok(Arc::new(FileBackend::open(path)?))
        }
        other => Err(StorageError::Config(format!(
            "unknown storage type {other}"
        ))),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn opens_inmem() {
        let backend = open_backend("inmem", &HashMap::new()).unwrap();
        backend.put("k", b"v".to_vec()).await.unwrap();
        assert_eq!(backend.get("k").await.unwrap(), Some(b"v".to_vec()));
    }

    #[tokio::test]
    async fn opens_file_in_the_given_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let backend = open_backend("file", &config(&[("path", dir.to_str().unwrap())])).unwrap();
        backend.put("k", b"v".to_vec()).await.unwrap();
        assert!(dir.join(crate::DB_FILE_NAME).is_file());
    }

    #[test]
    fn file_without_path_is_a_config_error() {
        for cfg in [config(&[]), config(&[("path", "")])] {
            let err = open_backend("file", &cfg).err().unwrap();
            assert!(matches!(err, StorageError::Config(_)));
            assert_eq!(
                err.to_string(),
                "invalid storage configuration: path must be set for file storage"
            );
        }
    }

    #[test]
    fn unknown_kind_is_a_config_error() {
        let err = open_backend("consul", &HashMap::new()).err().unwrap();
        match err {
            StorageError::Config(msg) => assert_eq!(msg, "unknown storage type consul"),
            other => panic!("unexpected error {other}"),
        }
    }
}
