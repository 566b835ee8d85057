//! End to end: the server's signal handling. A SIGHUP reloads the audit devices and leaves the
//! server serving (its default action would end the process); SIGTERM still stops it.

mod common;

use std::process::Command;
use std::time::Duration;

use arca_testkit::wait_until;
use common::{Server, call};

/// Sends `signal` (`HUP`, `TERM`) to the server's process.
fn send(server: &Server, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(server.child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal}");
}

/// How many times the server has logged the audit reload so far.
fn reloads(server: &Server) -> usize {
    std::fs::read_to_string(&server.log)
        .unwrap_or_default()
        .matches("reloading audit devices")
        .count()
}

#[tokio::test]
async fn sighup_reloads_audit_devices_and_keeps_serving() {
    let mut server = Server::dev();
    for round in 1..=2 {
        send(&server, "HUP");
        wait_until("the reload log line", Duration::from_secs(30), || {
            (reloads(&server) >= round).then_some(())
        });
        assert!(
            server.child.try_wait().expect("process state").is_none(),
            "the server exited on SIGHUP"
        );
        let health = call(&server, "GET", "sys/health", None, None).await;
        assert_eq!(health.status, 200, "{}", health.body);
    }

    send(&server, "TERM");
    let status = wait_until("the server to stop", Duration::from_secs(60), || {
        server.child.try_wait().expect("process state")
    });
    assert!(status.success(), "{status:?}");
}
