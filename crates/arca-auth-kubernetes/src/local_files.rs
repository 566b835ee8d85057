//! The pod's own service account files (`/var/run/secrets/kubernetes.io/serviceaccount/`):
//! when `disable_local_ca_jwt` is false, a missing `kubernetes_ca_cert` or
//! `token_reviewer_jwt` is read from them, as OpenBao reads them when it runs in a pod. Each
//! file is kept in memory for a while (the token a minute, as Kubernetes advises for rotated
//! tokens; the CA an hour) and read again after that.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// The pod's CA certificate file.
pub(crate) const LOCAL_CA_CERT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// The pod's service account token file.
pub(crate) const LOCAL_JWT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// A file read from disk and kept for `ttl`.
pub(crate) struct CachingFileReader {
    path: PathBuf,
    ttl: Duration,
    cache: std::sync::Mutex<Option<(Zeroizing<String>, Instant)>>,
}

impl CachingFileReader {
    /// A reader of `path` whose copy is good for `ttl`.
    pub(crate) fn new(path: impl Into<PathBuf>, ttl: Duration) -> CachingFileReader {
        CachingFileReader {
            path: path.into(),
            ttl,
            cache: std::sync::Mutex::new(None),
        }
    }

    /// The file's content: the kept copy while fresh, else read again. The error is worded
    /// as Go words a failed open (`open <path>: no such file or directory`).
    pub(crate) async fn read(&self) -> Result<Zeroizing<String>, String> {
        if let Ok(guard) = self.cache.lock()
            && let Some((text, expiry)) = guard.as_ref()
            && Instant::now() < *expiry
        {
            return Ok(text.clone());
        }
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map(Zeroizing::new)
            .map_err(|e| open_error(&self.path, &e))?;
        if let Ok(mut guard) = self.cache.lock() {
            *guard = Some((text.clone(), Instant::now() + self.ttl));
        }
        Ok(text)
    }
}

fn open_error(path: &std::path::Path, e: &io::Error) -> String {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    };
    format!("open {}: {why}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_keeps_and_words_errors_as_go() {
        let missing = CachingFileReader::new("/nonexistent/k8s/token", Duration::from_secs(60));
        assert_eq!(
            missing.read().await.unwrap_err(),
            "open /nonexistent/k8s/token: no such file or directory"
        );
        let dir = std::env::temp_dir().join(format!("arca-k8s-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "one").unwrap();
        let r = CachingFileReader::new(&file, Duration::from_secs(60));
        assert_eq!(r.read().await.unwrap().as_str(), "one");
        std::fs::write(&file, "two").unwrap();
        assert_eq!(r.read().await.unwrap().as_str(), "one", "kept while fresh");
        let r = CachingFileReader::new(&file, Duration::ZERO);
        assert_eq!(r.read().await.unwrap().as_str(), "two");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
