//! The request log line: method, path and status at debug, and never a token, a query value
//! or a body.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::start;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime: the server's tasks run on this thread, under this subscriber.
#[tokio::test(flavor = "current_thread")]
async fn one_debug_line_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let s = start(|_| {}).await;
    let resp = reqwest::Client::new()
        .post(s.url("/v1/secret/data/app?q=query-secret-value"))
        .header("X-Vault-Token", "hvs.token-secret-value")
        .body(r#"{"password":"body-secret-value"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = reqwest::Client::new()
        .get(s.url("/v1/deny"))
        .header("Authorization", "Bearer hvs.bearer-secret-value")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("request")).collect();
    assert!(
        lines.iter().any(|l| l.contains("DEBUG")
            && l.contains("method=POST")
            && l.contains("path=/v1/secret/data/app")
            && l.contains("status=200")),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("method=GET") && l.contains("status=403")),
        "{log}"
    );
    for secret in [
        "query-secret-value",
        "hvs.token-secret-value",
        "body-secret-value",
        "bearer-secret-value",
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}
