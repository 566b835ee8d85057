//! Tests against the PostgreSQL server of this machine (127.0.0.1:5432, user `postgres`,
//! database `test`, trust auth). Every test works in its own tables, named with a random
//! suffix, so tests run in parallel and reruns do not collide; a test drops its tables at the
//! end.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arca_storage::{HaBackend, HeldLock, PhysicalBackend, StorageError, TxnOp};
use arca_storage_postgresql::{HaTimings, PostgresConfig, connect, open, open_with_timings};
use tokio::time::{Instant, timeout};

const URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

/// A test's own data and lock tables.
struct Tables {
    kv: String,
    ha: String,
}

impl Tables {
    fn new(tag: &str) -> Self {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..12];
        Self {
            kv: format!("arca_kv_{tag}_{suffix}"),
            ha: format!("arca_ha_{tag}_{suffix}"),
        }
    }

    fn conf(&self, extra: &[(&str, &str)]) -> HashMap<String, String> {
        // Few connections per node: the server (max_connections = 100) is shared by every test
        // running at once, this crate's and others'.
        let mut conf: HashMap<String, String> = [
            ("connection_url", URL),
            ("table", self.kv.as_str()),
            ("ha_table", self.ha.as_str()),
            ("max_parallel", "8"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            conf.insert((*k).to_owned(), (*v).to_owned());
        }
        conf
    }
}

/// Drops the tables when the test ends, passed or failed (also while a failed test unwinds),
/// on a thread and runtime of its own since `Drop` cannot wait on the test's runtime.
impl Drop for Tables {
    fn drop(&mut self) {
        let names = [self.kv.clone(), self.ha.clone()];
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let admin = admin().await;
                for table in names {
                    admin
                        .batch_execute(&format!("DROP TABLE IF EXISTS {}", quote(&table)))
                        .await
                        .map_err(std::io::Error::other)?;
                }
                Ok::<_, std::io::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test tables {} and {}", self.kv, self.ha);
        }
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A direct connection for checks and set-up behind the backend's back.
async fn admin() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(URL, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

/// Short HA timings: TTL 3 s, renewals every 500 ms, attempts every 250 ms, lost 1 s before the
/// TTL runs out (a margin that absorbs the scheduling delays of a loaded test machine).
fn fast() -> HaTimings {
    HaTimings {
        lock_ttl: Duration::from_secs(3),
        renew_interval: Duration::from_millis(500),
        retry_interval: Duration::from_millis(250),
        lost_margin: Duration::from_secs(1),
    }
}

async fn open_ha(
    conf: &HashMap<String, String>,
    timings: HaTimings,
) -> (Arc<dyn PhysicalBackend>, Arc<dyn HaBackend>) {
    let (backend, ha) = open_with_timings(conf, timings).await.unwrap();
    (backend, ha.expect("ha_enabled gives an HA lock"))
}

fn put(key: &str, value: &[u8]) -> TxnOp {
    TxnOp::Put {
        key: key.to_owned(),
        value: value.to_vec(),
    }
}

fn del(key: &str) -> TxnOp {
    TxnOp::Delete {
        key: key.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// The physical backend
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_suite() {
    // A table name that only works quoted: a space, a capital and a double quote.
    let mut tables = Tables::new("conf");
    tables.kv = format!("Arca kv \"{}\"", &tables.kv[8..]);
    let (backend, ha) = open(&tables.conf(&[])).await.unwrap();
    assert!(ha.is_none(), "ha_enabled defaults to false");
    arca_storage::conformance::run_conformance(backend.as_ref()).await;
    arca_storage::conformance::run_concurrent_tasks(Arc::clone(&backend)).await;
    drop(backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transaction_leaves_nothing_written() {
    let tables = Tables::new("txn");
    let (backend, _) = open(&tables.conf(&[])).await.unwrap();
    backend.put("t/a", b"1".to_vec()).await.unwrap();
    backend.put("t/b", b"2".to_vec()).await.unwrap();

    // Refused before anything is sent: an empty key.
    let refused = backend
        .transaction(vec![put("t/c", b"3"), del("t/a"), put("", b"x")])
        .await;
    assert!(
        matches!(refused, Err(StorageError::InvalidKey(_))),
        "{refused:?}"
    );

    // Refused by the server in the middle of the batch: PostgreSQL text cannot hold a NUL
    // byte, so the fourth statement fails after the first three ran inside the transaction.
    let failed = backend
        .transaction(vec![
            put("t/c", b"3"),
            del("t/a"),
            put("t/b", b"22"),
            put("t/bad\0key", b"x"),
            put("t/d", b"4"),
        ])
        .await;
    match &failed {
        Err(StorageError::Backend(msg)) => {
            assert!(msg.starts_with("transaction put: ERROR: "), "{msg}");
            assert!(msg.contains("SQLSTATE 22021"), "{msg}");
        }
        other => panic!("expected a backend error, got {other:?}"),
    }

    // A failure in the second pipelined chunk rolls back the first chunk too.
    let mut many: Vec<TxnOp> = (0..1500)
        .map(|i| put(&format!("t/many/{i:04}"), b"v"))
        .collect();
    many.insert(1200, put("t/many/bad\0", b"x"));
    assert!(matches!(
        backend.transaction(many).await,
        Err(StorageError::Backend(_))
    ));

    for _ in 0..2 {
        // Nothing of either failed batch is there; the earlier values are untouched.
        assert_eq!(backend.get("t/a").await.unwrap(), Some(b"1".to_vec()));
        assert_eq!(backend.get("t/b").await.unwrap(), Some(b"2".to_vec()));
        assert_eq!(backend.get("t/c").await.unwrap(), None);
        assert_eq!(backend.get("t/d").await.unwrap(), None);
        assert_eq!(backend.list("t/").await.unwrap(), ["a", "b"]);
        let rows: i64 = admin()
            .await
            .query_one(&format!("SELECT count(*) FROM {}", quote(&tables.kv)), &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(rows, 2, "only the two keys written before the batches");
        // The connections that ran the failed batches are fine to use again.
        backend
            .transaction(vec![put("t/e", b"5"), del("t/e")])
            .await
            .unwrap();
    }
    drop(backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_closing_and_reopening() {
    let tables = Tables::new("reopen");
    let config = PostgresConfig::from_map(&tables.conf(&[])).unwrap();
    let (backend, _) = connect(&config, HaTimings::default()).await.unwrap();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    backend.put("sys/token/id/abc", big.clone()).await.unwrap();
    backend.put("core/keyring", b"kr".to_vec()).await.unwrap();
    backend
        .transaction(vec![put("logical/x/1", b"one"), put("logical/x/2", b"two")])
        .await
        .unwrap();
    backend.close();
    let closed = backend.get("core/keyring").await;
    match closed {
        Err(StorageError::Backend(msg)) => assert_eq!(msg, "the postgresql storage is closed"),
        other => panic!("a closed backend answers with an error, got {other:?}"),
    }
    drop(backend);

    // Reopened, and without creating anything: the tables are there.
    let (backend, _) = open(&tables.conf(&[("skip_create_table", "true")]))
        .await
        .unwrap();
    assert_eq!(backend.get("sys/token/id/abc").await.unwrap(), Some(big));
    assert_eq!(
        backend.get("core/keyring").await.unwrap(),
        Some(b"kr".to_vec())
    );
    assert_eq!(
        backend.list("").await.unwrap(),
        ["core/", "logical/", "sys/"]
    );
    assert_eq!(backend.list("logical/x/").await.unwrap(), ["1", "2"]);
    drop(backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_create_the_tables_once() {
    let tables = Tables::new("race");
    let conf = tables.conf(&[("ha_enabled", "true")]);
    let opens = (0..6).map(|_| open(&conf));
    let opened = futures::future::join_all(opens).await;
    let mut backends = Vec::new();
    for result in opened {
        let (backend, ha) = result.unwrap();
        assert!(ha.is_some());
        backends.push(backend);
    }
    backends[0].put("shared", b"v".to_vec()).await.unwrap();
    for backend in &backends {
        assert_eq!(backend.get("shared").await.unwrap(), Some(b"v".to_vec()));
    }
    drop(backends);
}

#[tokio::test]
async fn rows_have_openbao_s_layout_both_ways() {
    let tables = Tables::new("layout");
    let (backend, _) = open(&tables.conf(&[])).await.unwrap();
    backend.put("a/b/c", b"abc".to_vec()).await.unwrap();
    backend.put("top", b"t".to_vec()).await.unwrap();
    let admin = admin().await;
    let t = quote(&tables.kv);
    let rows = admin
        .query(
            &format!("SELECT parent_path, path, key, value FROM {t} ORDER BY path, key"),
            &[],
        )
        .await
        .unwrap();
    let rows: Vec<(String, String, String, Vec<u8>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        rows,
        [
            ("".into(), "/".into(), "top".into(), b"t".to_vec()),
            ("/a/".into(), "/a/b/".into(), "c".into(), b"abc".to_vec()),
        ]
    );
    // Rows as OpenBao writes them read back through the backend.
    admin
        .execute(
            &format!(
                "INSERT INTO {t} VALUES ('/x/', '/x/y/', 'z', 'xyz'), ('/', '/x/', 'w', NULL)"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(backend.get("x/y/z").await.unwrap(), Some(b"xyz".to_vec()));
    assert_eq!(backend.get("x/w").await.unwrap(), Some(Vec::new()));
    assert_eq!(backend.list("x/").await.unwrap(), ["w", "y/"]);
    drop(backend);
}

#[tokio::test]
async fn listing_treats_like_wildcards_and_odd_keys_as_plain_text() {
    let tables = Tables::new("list");
    let (backend, _) = open(&tables.conf(&[])).await.unwrap();
    for key in [
        "w/a%b/x",
        "w/axb/y",
        "w/a_c",
        "w/abc",
        "w/a\\d",
        "w/a\\e/f",
        "w/dir/",
        "w/dir//deep",
        "w//lead",
    ] {
        backend.put(key, b"v".to_vec()).await.unwrap();
    }
    assert_eq!(backend.list("w/a%").await.unwrap(), ["b/"]);
    assert_eq!(backend.list("w/a_").await.unwrap(), ["c"]);
    assert_eq!(backend.list("w/a\\").await.unwrap(), ["d", "e/"]);
    assert_eq!(
        backend.list("w/").await.unwrap(),
        ["/", "a%b/", "a\\d", "a\\e/", "a_c", "abc", "axb/", "dir/"]
    );
    // The key "w/dir/" equals the prefix, so it is not one of its children.
    assert_eq!(backend.list("w/dir/").await.unwrap(), ["/"]);
    assert_eq!(backend.get("w/dir/").await.unwrap(), Some(b"v".to_vec()));
    assert_eq!(backend.list("w/dir//").await.unwrap(), ["deep"]);
    assert_eq!(backend.list("w//").await.unwrap(), ["lead"]);
    assert_eq!(
        backend.list_page("w/", "a\\d", 3).await.unwrap(),
        ["a\\e/", "a_c", "abc"]
    );
    drop(backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idle_connections_are_capped() {
    let tables = Tables::new("idle");
    let config = PostgresConfig::from_map(
        &tables.conf(&[("max_parallel", "8"), ("max_idle_connections", "1")]),
    )
    .unwrap();
    let (backend, _) = connect(&config, HaTimings::default()).await.unwrap();
    backend.put("k", b"v".to_vec()).await.unwrap();

    // Lock the table so eight reads each hold a connection at once.
    let admin = admin().await;
    admin.batch_execute("BEGIN").await.unwrap();
    admin
        .batch_execute(&format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            quote(&tables.kv)
        ))
        .await
        .unwrap();
    let reads: Vec<_> = (0..8)
        .map(|_| {
            let backend = Arc::clone(&backend);
            tokio::spawn(async move { backend.get("k").await.unwrap() })
        })
        .collect();
    timeout(Duration::from_secs(10), async {
        while backend.connections().0 < 8 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("eight connections open");
    admin.batch_execute("COMMIT").await.unwrap();
    for read in reads {
        assert_eq!(read.await.unwrap(), Some(b"v".to_vec()));
    }
    let (open_conns, idle) = backend.connections();
    assert!(idle <= 1, "{idle} idle connections kept, at most 1 allowed");
    assert!(open_conns <= 1, "{open_conns} connections open");
    drop(backend);
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

async fn open_error(conf: &HashMap<String, String>) -> StorageError {
    match open(conf).await {
        Err(e) => e,
        Ok(_) => panic!("open succeeded with {conf:?}"),
    }
}

#[tokio::test]
async fn ha_disabled_gives_no_lock_and_enabled_gives_one() {
    let tables = Tables::new("haflag");
    let (_, ha) = open(&tables.conf(&[("ha_enabled", "false")]))
        .await
        .unwrap();
    assert!(ha.is_none());
    let exists = |name: String| async move {
        admin()
            .await
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&quote(&name)])
            .await
            .unwrap()
            .get::<_, bool>(0)
    };
    assert!(exists(tables.kv.clone()).await);
    assert!(
        !exists(tables.ha.clone()).await,
        "no lock table without ha_enabled"
    );
    let (_, ha) = open(&tables.conf(&[("ha_enabled", "true")])).await.unwrap();
    assert!(ha.is_some());
    assert!(exists(tables.ha.clone()).await);
    assert_eq!(ha.unwrap().holder().await.unwrap(), None);
}

#[tokio::test]
async fn bad_settings_are_named() {
    let tables = Tables::new("badconf");
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("max_parallel", "many")],
            "invalid storage configuration: failed parsing max_parallel parameter: \"many\" is \
             not an integer",
        ),
        (
            &[("max_idle_connections", "")],
            "invalid storage configuration: failed parsing max_idle_connections parameter: \"\" \
             is not an integer",
        ),
        (
            &[("max_connect_retries", "x")],
            "invalid storage configuration: failed parsing max_connect_retries parameter: \"x\" \
             is not an integer",
        ),
        (
            &[("ha_enabled", "on")],
            "invalid storage configuration: failed to parse value for ha_enabled: \"on\" is not \
             a boolean (true or false)",
        ),
        (
            &[("skip_create_table", "nope")],
            "invalid storage configuration: failed to parse value for skip_create_table: \
             \"nope\" is not a boolean (true or false)",
        ),
        (
            &[("connection_url", "")],
            "invalid storage configuration: connection_url must be set for postgresql storage \
             (or the BAO_PG_CONNECTION_URL environment variable)",
        ),
    ];
    for (extra, expected) in cases {
        let err = open_error(&tables.conf(extra)).await;
        assert!(matches!(err, StorageError::Config(_)), "{err:?}");
        assert_eq!(err.to_string(), *expected);
    }
    let mut no_url = tables.conf(&[]);
    no_url.remove("connection_url");
    let err = open_error(&no_url).await;
    assert!(
        err.to_string().contains("connection_url must be set"),
        "{err}"
    );

    let bad_timings = HaTimings {
        renew_interval: Duration::from_secs(20),
        ..HaTimings::default()
    };
    let err = open_with_timings(&tables.conf(&[]), bad_timings)
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("renew_interval (20s) must be shorter"),
        "{err}"
    );
}

#[tokio::test]
async fn connection_failures_never_show_the_password() {
    let tables = Tables::new("refused");
    // Nothing listens on port 1.
    let conf = tables.conf(&[(
        "connection_url",
        "postgres://arca:Sup3r-Secret@127.0.0.1:1/test?sslmode=disable",
    )]);
    let err = open_error(&conf).await;
    let text = err.to_string();
    assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
    assert!(
        text.contains("failed to connect to `user=arca host=127.0.0.1 database=test`"),
        "{text}"
    );
    assert!(!text.contains("Sup3r-Secret"), "{text}");
    let config = PostgresConfig::from_map(&conf).unwrap();
    assert!(!format!("{config:?}").contains("Sup3r-Secret"));

    // A wrong password is refused by the server; the message still hides it.
    let conf = tables.conf(&[(
        "connection_url",
        "postgres://no_such_role_arca:An0ther-Secret@127.0.0.1:5432/test?sslmode=disable",
    )]);
    let text = open_error(&conf).await.to_string();
    assert!(text.contains("no_such_role_arca"), "{text}");
    assert!(!text.contains("An0ther-Secret"), "{text}");
}

#[tokio::test]
async fn skip_create_table_creates_nothing() {
    let tables = Tables::new("skip");
    let (backend, ha) = open(&tables.conf(&[("skip_create_table", "true"), ("ha_enabled", "1")]))
        .await
        .unwrap();
    let err = backend
        .put("k", b"v".to_vec())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not exist") && err.contains("42P01"),
        "{err}"
    );
    let err = ha.unwrap().holder().await.unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// HA
// ---------------------------------------------------------------------------------------------

/// Resolves with the moment `lock.lost()` resolved.
fn watch_lost(lock: &Arc<dyn HeldLock>) -> tokio::task::JoinHandle<Instant> {
    let lock = Arc::clone(lock);
    tokio::spawn(async move {
        lock.lost().await;
        Instant::now()
    })
}

/// Resolves with the lock and the moment `acquire` returned it.
fn acquire_in_background(
    ha: &Arc<dyn HaBackend>,
    value: &'static str,
) -> tokio::task::JoinHandle<(Arc<dyn HeldLock>, Instant)> {
    let ha = Arc::clone(ha);
    tokio::spawn(async move {
        let lock = ha.acquire(value).await.unwrap();
        (Arc::from(lock), Instant::now())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_holder_renewals_keep_it_and_release_hands_over() {
    let tables = Tables::new("handover");
    let timings = HaTimings {
        retry_interval: Duration::from_millis(500),
        ..fast()
    };
    let conf = tables.conf(&[("ha_enabled", "true")]);
    let (_, node_a) = open_ha(&conf, timings).await;
    let (_, node_b) = open_ha(&conf, timings).await;
    assert_eq!(node_a.holder().await.unwrap(), None);

    let a: Arc<dyn HeldLock> = Arc::from(node_a.acquire("node-a").await.unwrap());
    assert!(a.held());
    assert_eq!(node_a.holder().await.unwrap().as_deref(), Some("node-a"));
    assert_eq!(node_b.holder().await.unwrap().as_deref(), Some("node-a"));

    // node-b waits; for two whole TTLs node-a's renewals keep the lock its own.
    let mut b_task = acquire_in_background(&node_b, "node-b");
    let a_lost = watch_lost(&a);
    assert!(
        timeout(timings.lock_ttl * 2, &mut b_task).await.is_err(),
        "node-b took a lock that node-a renews"
    );
    assert!(a.held());
    assert!(!a_lost.is_finished());
    assert_eq!(node_b.holder().await.unwrap().as_deref(), Some("node-a"));

    let released_at = Instant::now();
    a.release().await;
    assert!(!a.held());
    let (b, b_at) = timeout(timings.lock_ttl * 3, b_task)
        .await
        .expect("node-b takes the released lock")
        .unwrap();
    let a_lost_at = a_lost.await.unwrap();
    let handover = b_at - released_at;
    eprintln!("released lock taken by the waiting node after {handover:?}");
    assert!(
        handover <= timings.retry_interval * 2,
        "node-b took the released lock after {handover:?}"
    );
    assert!(a_lost_at <= b_at, "node-a lost it before node-b had it");
    assert!(b.held());
    assert_eq!(node_a.holder().await.unwrap().as_deref(), Some("node-b"));
    assert_eq!(node_b.holder().await.unwrap().as_deref(), Some("node-b"));

    // A lock dropped without release is freed as well.
    drop(b);
    let c = timeout(timings.lock_ttl, node_a.acquire("node-a-again"))
        .await
        .unwrap()
        .unwrap();
    assert!(c.held());
    assert_eq!(
        node_b.holder().await.unwrap().as_deref(),
        Some("node-a-again")
    );
    c.release().await;
    assert_eq!(node_b.holder().await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_holder_is_replaced_after_the_ttl() {
    let tables = Tables::new("dead");
    let timings = fast();
    let conf = tables.conf(&[("ha_enabled", "true")]);

    // node-a runs on a runtime of its own, which is dropped to kill the node: its renewal task
    // and its connections vanish without releasing anything.
    let (lock_tx, lock_rx) = tokio::sync::oneshot::channel::<Box<dyn HeldLock>>();
    let (die_tx, die_rx) = tokio::sync::oneshot::channel::<()>();
    let conf_a = conf.clone();
    let node_a = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let (_, ha) = open_ha(&conf_a, timings).await;
            let lock = ha.acquire("node-a").await.unwrap();
            assert!(lock_tx.send(lock).is_ok());
            // Renew for a while, then die.
            die_rx.await.unwrap();
        });
        drop(runtime);
    });
    let a: Arc<dyn HeldLock> = Arc::from(lock_rx.await.unwrap());
    assert!(a.held());

    let (_, node_b) = open_ha(&conf, timings).await;
    assert_eq!(node_b.holder().await.unwrap().as_deref(), Some("node-a"));
    let b_task = acquire_in_background(&node_b, "node-b");
    let a_lost = watch_lost(&a);
    // Let node-a renew past its first TTL, so node-b's wait is the renewals' doing.
    tokio::time::sleep(timings.lock_ttl + timings.renew_interval).await;
    assert!(a.held() && !b_task.is_finished());

    let died_at = Instant::now();
    die_tx.send(()).unwrap();
    tokio::task::spawn_blocking(move || node_a.join().unwrap())
        .await
        .unwrap();

    let (b, b_at) = timeout(timings.lock_ttl * 3, b_task)
        .await
        .unwrap()
        .unwrap();
    let a_lost_at = a_lost.await.unwrap();
    assert!(
        a_lost_at <= b_at,
        "node-a's lost() resolved {:?} after node-b acquired",
        a_lost_at - b_at
    );
    assert!(!a.held());
    // node-b had to wait for the row to expire: at least the TTL after node-a's last renewal,
    // which was at most one renewal interval before it died.
    let waited = b_at - died_at;
    eprintln!(
        "node-a lost {:?} after dying; node-b acquired {waited:?} after",
        a_lost_at - died_at
    );
    assert!(
        waited >= timings.lock_ttl - timings.renew_interval,
        "node-b took the lock {waited:?} after node-a died"
    );
    assert!(b.held());
    assert_eq!(node_b.holder().await.unwrap().as_deref(), Some("node-b"));
    let (_, node_c) = open_ha(&conf, timings).await;
    assert_eq!(node_c.holder().await.unwrap().as_deref(), Some("node-b"));
    b.release().await;
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_whose_renewals_stall_gives_up_before_the_row_expires() {
    let tables = Tables::new("stall");
    let timings = fast();
    let conf = tables.conf(&[("ha_enabled", "true")]);
    let (_, node_a) = open_ha(&conf, timings).await;
    let (_, node_b) = open_ha(&conf, timings).await;
    let a: Arc<dyn HeldLock> = Arc::from(node_a.acquire("node-a").await.unwrap());
    let a_lost = watch_lost(&a);

    // Another session locks the row: node-a's renewals now hang in the database (as they would
    // behind a partition), while node-a itself keeps running.
    let blocker = admin().await;
    let ha = quote(&tables.ha);
    blocker.batch_execute("BEGIN").await.unwrap();
    blocker
        .execute(
            &format!("SELECT 1 FROM {ha} WHERE ha_key = 'core/lock' FOR UPDATE"),
            &[],
        )
        .await
        .unwrap();
    let blocked_at = Instant::now();

    let a_lost_at = timeout(timings.lock_ttl * 2, a_lost)
        .await
        .unwrap()
        .unwrap();
    // Right when node-a gave up, the database still counts the row as valid: no other node
    // could have taken it yet.
    let checker = admin().await;
    let row = checker
        .query_one(
            &format!(
                "SELECT ha_value, EXTRACT(EPOCH FROM valid_until - clock_timestamp())::float8 \
                 FROM {ha} WHERE ha_key = 'core/lock'"
            ),
            &[],
        )
        .await
        .unwrap();
    let (value, valid_for): (String, f64) = (row.get(0), row.get(1));
    eprintln!(
        "node-a gave up {:?} after the block, {valid_for:.3} s before the row expired",
        a_lost_at - blocked_at
    );
    assert_eq!(value, "node-a");
    assert!(
        valid_for > 0.0,
        "node-a declared the lock lost {:.3} s after the row expired",
        -valid_for
    );
    assert!(!a.held());
    // It gave up at its deadline, not at the first slow renewal: the last successful renewal
    // went out at most one renewal interval before the block.
    let stalled = a_lost_at - blocked_at;
    let held_for = timings.lock_ttl - timings.lost_margin;
    assert!(
        stalled <= held_for + Duration::from_millis(50),
        "gave up {stalled:?} after the block"
    );
    assert!(
        stalled >= held_for - timings.renew_interval - Duration::from_millis(100),
        "gave up only {stalled:?} after the block"
    );
    assert_eq!(node_b.holder().await.unwrap().as_deref(), Some("node-a"));

    // The partition heals: node-b takes the lock, well within a TTL (node-a's pending
    // renewal was cancelled and its row removed).
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let healed_at = Instant::now();
    let b = timeout(timings.lock_ttl, node_b.acquire("node-b"))
        .await
        .unwrap()
        .unwrap();
    assert!(healed_at.elapsed() < timings.lock_ttl);
    assert!(b.held());
    assert!(!a.held(), "a lost lock stays lost");
    assert_eq!(node_a.holder().await.unwrap().as_deref(), Some("node-b"));
    b.release().await;
    drop(a);
}
