//! A test cluster on loopback: certificates from a throw-away CA, one TLS listener per node on
//! an ephemeral port, a shared fault table to cut links, and helpers that wait for
//! conditions with deadlines.
#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_raft::{FaultTransport, Faults, RaftConfig, RaftNode, RaftTls, RpcServer, TlsTransport};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};

/// A CA that signs a certificate for each node (valid for 127.0.0.1, server and client).
pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Pki {
    pub fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { ca }
    }

    pub fn node_tls(&self) -> RaftTls {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.ca).unwrap();
        RaftTls {
            ca_cert_der: self.ca.der().to_vec(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}

/// Fast timings for tests: heartbeats every 50 ms, elections after 500–1000 ms.
pub fn test_config(dir: PathBuf, name: &str) -> RaftConfig {
    let mut c = RaftConfig::new(dir);
    c.node_id = Some(name.to_owned());
    c.heartbeat_interval = Duration::from_millis(50);
    c.election_timeout = Duration::from_millis(500);
    c.apply_timeout = Duration::from_secs(5);
    c
}

pub struct TestNode {
    pub name: String,
    pub dir: PathBuf,
    pub addr: String,
    pub config: RaftConfig,
    pub node: Option<RaftNode>,
    server: Option<RpcServer>,
    pub tls: RaftTls,
}

pub struct Cluster {
    pub pki: Pki,
    pub faults: Faults,
    pub nodes: Vec<TestNode>,
    _tmp: tempfile::TempDir,
}

impl Cluster {
    /// `n` nodes, not started; `tune` adjusts each node's config.
    pub fn new(n: usize, tune: impl Fn(&mut RaftConfig)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let pki = Pki::new();
        let nodes = (0..n)
            .map(|i| {
                let name = format!("node-{i}");
                let dir = tmp.path().join(&name);
                let mut config = test_config(dir.clone(), &name);
                tune(&mut config);
                TestNode {
                    tls: pki.node_tls(),
                    name,
                    dir,
                    addr: String::new(),
                    config,
                    node: None,
                    server: None,
                }
            })
            .collect();
        Self {
            pki,
            faults: Faults::new(),
            nodes,
            _tmp: tmp,
        }
    }

    /// Starts (or restarts, on the same address and directory) node `i`.
    pub async fn start(&mut self, i: usize) -> RaftNode {
        let faults = self.faults.clone();
        let n = &mut self.nodes[i];
        let bind = if n.addr.is_empty() {
            "127.0.0.1:0".to_owned()
        } else {
            n.addr.clone()
        };
        let listener = bind_retrying(&bind).await;
        n.addr = listener.local_addr().unwrap().to_string();
        let transport = Arc::new(FaultTransport::new(
            Arc::new(TlsTransport::new(&n.tls).unwrap()),
            &n.name,
            faults,
        ));
        let node = RaftNode::open_with_transport(n.config.clone(), &n.addr, transport)
            .await
            .unwrap();
        let server =
            arca_raft::serve(listener, n.tls.server_config().unwrap(), node.clone()).unwrap();
        n.node = Some(node.clone());
        n.server = Some(server);
        node
    }

    /// Kills node `i`: its Raft stops and its listener and connections vanish, no step-down.
    pub async fn kill(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if let Some(server) = n.server.take() {
            server.shutdown();
        }
        if let Some(node) = n.node.take() {
            node.shutdown().await.unwrap();
        }
    }

    pub fn node(&self, i: usize) -> RaftNode {
        self.nodes[i].node.clone().expect("node is running")
    }

    pub fn running(&self) -> Vec<(usize, RaftNode)> {
        self.nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.node.clone().map(|node| (i, node)))
            .collect()
    }

    /// Starts every node, bootstraps node 0 and joins the others through it.
    pub async fn form(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i).await;
        }
        self.node(0).bootstrap().await.unwrap();
        let addr = self.nodes[0].addr.clone();
        for i in 1..self.nodes.len() {
            self.node(i).join(&addr).await.unwrap();
        }
    }

    /// Waits until exactly one running node leads (among those in `among`, or all running).
    pub async fn wait_leader(&self, timeout: Duration) -> usize {
        wait_until(timeout, "a single leader", || async {
            let leaders: Vec<usize> = self
                .running()
                .into_iter()
                .filter(|(_, n)| n.is_leader())
                .map(|(i, _)| i)
                .collect();
            (leaders.len() == 1).then(|| leaders[0])
        })
        .await
    }
}

async fn bind_retrying(addr: &str) -> tokio::net::TcpListener {
    wait_until(
        Duration::from_secs(10),
        "binding the node's address",
        || async { tokio::net::TcpListener::bind(addr).await.ok() },
    )
    .await
}

/// Polls `check` every 20 ms until it yields a value; panics after `timeout`.
pub async fn wait_until<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
