//! The plugin catalog and plugin reload through the core's request pipeline: OpenBao's
//! catalog answers, version selection for mounts, the sha256 checks, and reloads that build
//! before they break (in-flight requests finish on the old instance, failed reloads and
//! invalid lists change nothing, KV data survives). External plugins run through a test
//! runtime plugged into the `PluginRuntime` seam.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use arca_core::{BackendRegistry, Core, CoreConfig};
use arca_sdk::plugin_catalog::{PluginCatalogEntry, PluginRuntime};
use arca_sdk::{
    Backend, BackendConfig, BackendType, ExistenceCheck, Factory, JsonMap, LogicalError, Operation,
    Request, Response, SpecialPaths, Storage, StorageEntry,
};
use async_trait::async_trait;
use futures::FutureExt;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// Holds `slow` requests until the test lets them go, and counts those that started.
struct SlowGate {
    started: AtomicUsize,
    release: tokio::sync::Semaphore,
}

impl Default for SlowGate {
    fn default() -> Self {
        SlowGate {
            started: AtomicUsize::new(0),
            release: tokio::sync::Semaphore::new(0),
        }
    }
}

/// A plugin instance: answers `info` with its instance number and the catalog version it
/// was built from, `slow` once the test releases it, and `data/<k>` from its storage.
struct TestPlugin {
    instance: usize,
    version: String,
    storage: Arc<dyn Storage>,
    cleanups: Arc<AtomicUsize>,
    /// An auth method when registered as one (the core refuses a mismatch).
    credential: bool,
    slow: Arc<SlowGate>,
}

#[async_trait]
impl Backend for TestPlugin {
    async fn handle_request(&self, req: Request) -> Result<Option<Response>, LogicalError> {
        let info = || {
            let mut m = JsonMap::new();
            m.insert("instance".into(), json!(self.instance));
            m.insert("version".into(), json!(self.version));
            Ok(Some(Response::with_data(m)))
        };
        match (req.operation, req.path.as_str()) {
            (Operation::Read, "info") => info(),
            (Operation::Read, "slow") => {
                self.slow.started.fetch_add(1, Ordering::SeqCst);
                self.slow.release.acquire().await.unwrap().forget();
                info()
            }
            (Operation::Update | Operation::Create, p) if p.starts_with("data/") => {
                let bytes = serde_json::to_vec(&req.data).unwrap();
                self.storage
                    .put(StorageEntry::new(p, bytes))
                    .await
                    .map_err(LogicalError::internal)?;
                Ok(None)
            }
            (Operation::Read, p) if p.starts_with("data/") => {
                match self.storage.get(p).await.map_err(LogicalError::internal)? {
                    Some(e) => Ok(Some(Response::with_data(
                        serde_json::from_slice(&e.value).unwrap(),
                    ))),
                    None => Ok(None),
                }
            }
            _ => Err(LogicalError::UnsupportedPath),
        }
    }
    async fn handle_existence_check(&self, _req: &Request) -> Result<ExistenceCheck, LogicalError> {
        Ok(ExistenceCheck::default())
    }
    fn special_paths(&self) -> SpecialPaths {
        SpecialPaths::default()
    }
    fn backend_type(&self) -> BackendType {
        if self.credential {
            BackendType::Credential
        } else {
            BackendType::Logical
        }
    }
    async fn cleanup(&self) {
        self.cleanups.fetch_add(1, Ordering::SeqCst);
    }
}

/// A runtime that builds [`TestPlugin`]s; it can be told to refuse.
#[derive(Default)]
struct TestRuntime {
    instances: Arc<AtomicUsize>,
    cleanups: Arc<AtomicUsize>,
    slow: Arc<SlowGate>,
    refuse: AtomicBool,
    seen_dirs: parking_lot::Mutex<Vec<PathBuf>>,
}

#[async_trait]
impl PluginRuntime for TestRuntime {
    async fn factory(
        &self,
        entry: &PluginCatalogEntry,
        plugin_directory: &Path,
    ) -> Result<Factory, LogicalError> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(LogicalError::bad_request("the test runtime refuses"));
        }
        self.seen_dirs.lock().push(plugin_directory.to_path_buf());
        let instances = self.instances.clone();
        let cleanups = self.cleanups.clone();
        let slow = self.slow.clone();
        let version = entry.version.clone();
        Ok(Arc::new(move |conf: BackendConfig| {
            let instance = instances.fetch_add(1, Ordering::SeqCst) + 1;
            let cleanups = cleanups.clone();
            let slow = slow.clone();
            let version = version.clone();
            let credential = conf.config.get("plugin_type").map(String::as_str) == Some("auth");
            async move {
                let b: Arc<dyn Backend> = Arc::new(TestPlugin {
                    instance,
                    version,
                    storage: conf.storage,
                    cleanups,
                    credential,
                    slow,
                });
                Ok(b)
            }
            .boxed()
        }))
    }
}

struct Fixture {
    core: Core,
    root: String,
    dir: tempfile::TempDir,
    runtime: Arc<TestRuntime>,
}

fn registry() -> BackendRegistry {
    let mut r = BackendRegistry::default();
    for (name, f) in arca_engines::builtin_secrets() {
        r.secrets.insert(name.to_string(), f);
    }
    r
}

async fn fixture_with(plugin_dir: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(TestRuntime::default());
    let mut config = CoreConfig::new(Arc::new(arca_storage::InmemBackend::new()), "inmem");
    config.registry = registry();
    if plugin_dir {
        config.plugin_directory = Some(dir.path().to_path_buf());
    }
    config.plugin_runtime = Some(runtime.clone());
    let core = Core::new(config);
    let init = core.initialize(1, 1, None).await.unwrap();
    core.unseal_with_key(&init.keys[0]).await.unwrap();
    Fixture {
        core,
        root: init.root_token.to_string(),
        dir,
        runtime,
    }
}

async fn fixture() -> Fixture {
    fixture_with(true).await
}

impl Fixture {
    async fn call(
        &self,
        op: Operation,
        path: &str,
        body: Value,
    ) -> Result<Option<Response>, LogicalError> {
        let data = match body {
            Value::Object(m) => m,
            _ => JsonMap::new(),
        };
        let mut req = Request::new(op, path).with_data(data);
        req.client_token = Some(Zeroizing::new(self.root.clone()));
        self.core.handle_request(req).await
    }

    async fn ok(&self, op: Operation, path: &str, body: Value) -> Option<Response> {
        self.call(op, path, body)
            .await
            .unwrap_or_else(|e| panic!("{op:?} {path}: {e}"))
    }

    async fn data(&self, op: Operation, path: &str, body: Value) -> Value {
        Value::Object(self.ok(op, path, body).await.unwrap().data.unwrap())
    }

    async fn err(&self, op: Operation, path: &str, body: Value) -> (u16, Vec<String>) {
        let e = self.call(op, path, body).await.expect_err(path);
        (e.status(), e.wire_messages())
    }

    /// Writes an executable into the plugin directory; returns its sha256 hex.
    fn plugin_file(&self, name: &str, content: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        sha256_hex(content.as_bytes())
    }

    async fn register(&self, t: &str, name: &str, sha: &str, version: &str) {
        self.ok(
            Operation::Update,
            &format!("sys/plugins/catalog/{t}/{name}"),
            json!({"sha256": sha, "command": name, "version": version}),
        )
        .await;
    }

    async fn instance(&self, path: &str) -> u64 {
        self.data(Operation::Read, path, json!({})).await["instance"]
            .as_u64()
            .unwrap()
    }

    async fn mount(&self, path: &str) -> Value {
        self.data(Operation::Read, &format!("sys/mounts/{path}"), json!({}))
            .await
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

fn one(msg: &str) -> Vec<String> {
    vec![msg.to_string()]
}

#[tokio::test]
async fn catalog_lists_builtins_and_registrations() {
    let f = fixture().await;
    let builtin = f.core.builtin_plugin_version();
    assert_eq!(builtin, format!("v{}+builtin", env!("CARGO_PKG_VERSION")));

    let d = f
        .data(Operation::Read, "sys/plugins/catalog", json!({}))
        .await;
    // cubbyhole is a singleton: OpenBao does not list it.
    assert_eq!(d["secret"], json!(["kv"]));
    assert_eq!(d["auth"], json!([]));
    assert_eq!(d["database"], json!([]));
    assert_eq!(
        d["detailed"],
        json!([{"builtin": true, "deprecation_status": "supported", "name": "kv",
                "type": "secret", "version": builtin}])
    );
    let kv = f
        .data(Operation::Read, "sys/plugins/catalog/secret/kv", json!({}))
        .await;
    assert_eq!(
        kv,
        json!({"args": null, "builtin": true, "command": "", "declarative": false,
               "deprecation_status": "supported", "name": "kv", "oci": false,
               "sha256": "", "version": builtin})
    );

    let sha = f.plugin_file("myplug", "#!/bin/sh\necho hi\n");
    f.ok(
        Operation::Update,
        "sys/plugins/catalog/secret/myplug",
        json!({"sha256": sha, "command": "myplug", "args": ["-a"], "env": ["X=1"]}),
    )
    .await;
    f.register("secret", "myplug", &sha, "1.0.0").await;
    f.register("secret", "myplug", &sha, "v1.1.0").await;

    let e = f
        .data(
            Operation::Read,
            "sys/plugins/catalog/secret/myplug",
            json!({}),
        )
        .await;
    assert_eq!(
        e,
        json!({"args": ["-a"], "builtin": false, "command": "myplug", "declarative": false,
               "name": "myplug", "oci": false, "sha256": sha, "version": ""})
    );
    for v in ["v1.0.0", "1.0.0"] {
        let e = f
            .data(
                Operation::Read,
                "sys/plugins/catalog/secret/myplug",
                json!({"version": v}),
            )
            .await;
        assert_eq!(e["version"], "v1.0.0");
        assert_eq!(e["args"], json!([]));
    }
    let keys = f
        .data(Operation::List, "sys/plugins/catalog/secret", json!({}))
        .await;
    assert_eq!(keys["keys"], json!(["kv", "myplug"]));
    let d = f
        .data(Operation::Read, "sys/plugins/catalog", json!({}))
        .await;
    let externals: Vec<&Value> = d["detailed"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["builtin"] == false)
        .collect();
    assert_eq!(externals.len(), 3);
    assert_eq!(
        *externals[1],
        json!({"builtin": false, "name": "myplug", "sha256": sha, "type": "secret",
               "version": "v1.0.0"})
    );

    // Missing entries and versions: OpenBao's bare 404.
    for (path, body) in [
        ("sys/plugins/catalog/secret/nope", json!({})),
        (
            "sys/plugins/catalog/secret/myplug",
            json!({"version": "v9.9.9"}),
        ),
        ("sys/plugins/catalog/secret/cubbyhole", json!({})),
    ] {
        assert_eq!(f.err(Operation::Read, path, body).await, (404, vec![]));
    }
    assert_eq!(
        f.err(
            Operation::Read,
            "sys/plugins/catalog/secret/myplug",
            json!({"version": "bad"})
        )
        .await,
        (
            400,
            one("version \"bad\" is not a valid semantic version: malformed version: bad")
        )
    );
    // GET on a type, LIST on the root: unsupported operation.
    assert_eq!(
        f.err(Operation::Read, "sys/plugins/catalog/secret", json!({}))
            .await
            .0,
        405
    );
    // The untyped form answers with a deprecation warning and no data.
    let r = f
        .ok(Operation::Read, "sys/plugins/catalog/myplug", json!({}))
        .await
        .unwrap();
    assert!(r.data.is_none());
    assert_eq!(
        r.warnings,
        one("Deprecated API endpoint, cannot read plugin information from catalog for \"myplug\"")
    );

    // Deletes.
    f.ok(
        Operation::Delete,
        "sys/plugins/catalog/secret/myplug",
        json!({"version": "1.0.0"}),
    )
    .await;
    assert_eq!(
        f.err(
            Operation::Read,
            "sys/plugins/catalog/secret/myplug",
            json!({"version": "v1.0.0"})
        )
        .await,
        (404, vec![])
    );
    f.ok(
        Operation::Delete,
        "sys/plugins/catalog/secret/nope",
        json!({}),
    )
    .await;
    f.ok(
        Operation::Delete,
        "sys/plugins/catalog/secret/kv",
        json!({}),
    )
    .await;
    assert_eq!(
        f.data(Operation::Read, "sys/plugins/catalog/secret/kv", json!({}))
            .await["builtin"],
        true
    );
    for v in [builtin.as_str(), "v0.1.0+builtin"] {
        assert_eq!(
            f.err(
                Operation::Delete,
                "sys/plugins/catalog/secret/kv",
                json!({"version": v})
            )
            .await,
            (400, one(&format!("version \"{v}\" cannot be deleted")))
        );
    }
}

#[tokio::test]
async fn catalog_survives_seal_and_unseal() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = CoreConfig::new(Arc::new(arca_storage::InmemBackend::new()), "inmem");
    config.registry = registry();
    config.plugin_directory = Some(dir.path().to_path_buf());
    let core = Core::new(config);
    let init = core.initialize(1, 1, None).await.unwrap();
    core.unseal_with_key(&init.keys[0]).await.unwrap();
    std::fs::write(dir.path().join("p"), b"plugin").unwrap();
    let reg = arca_core::catalog::PluginRegistration {
        name: "p".into(),
        plugin_type: Some(arca_sdk::plugin_catalog::PluginType::Auth),
        sha256: sha256_hex(b"plugin"),
        command: "p".into(),
        args: None,
        env: vec!["SECRET=x".into()],
        version: "v2.0.0".into(),
    };
    core.register_plugin(reg).await.unwrap();
    core.seal().await.unwrap();
    core.unseal_with_key(&init.keys[0]).await.unwrap();
    let e = core
        .plugin_entry(arca_sdk::plugin_catalog::PluginType::Auth, "p", "2.0.0")
        .unwrap()
        .unwrap();
    assert_eq!(e.env, vec!["SECRET=x".to_string()]);
    assert_eq!(e.sha256_hex(), sha256_hex(b"plugin"));
    assert_eq!(
        core.plugin_names(arca_sdk::plugin_catalog::PluginType::Auth),
        vec!["p".to_string()]
    );
}

#[tokio::test]
async fn registration_errors_are_openbaos() {
    let f = fixture().await;
    let sha = f.plugin_file("myplug", "#!/bin/sh\n");
    let put = |body: Value| {
        let f = &f;
        async move {
            f.err(Operation::Update, "sys/plugins/catalog/secret/myplug", body)
                .await
        }
    };
    assert_eq!(
        put(json!({"command": "myplug"})).await,
        (400, one("missing SHA-256 value"))
    );
    assert_eq!(
        put(json!({"sha256": sha})).await,
        (400, one("missing command value"))
    );
    assert_eq!(
        put(json!({"sha256": "zz", "command": "myplug"})).await,
        (400, one("Could not decode SHA-256 value from Hex"))
    );
    assert_eq!(
        put(json!({"sha256": "ab", "command": "myplug"})).await,
        (400, one("Decoded SHA-256 value is not 32 bytes"))
    );
    assert_eq!(
        put(json!({"sha256": sha, "command": "myplug -x", "args": ["-a"]})).await,
        (400, one("must not specify args in command and args field"))
    );
    assert_eq!(
        put(json!({"sha256": sha, "command": "myplug", "version": "v1.0.0+builtin"})).await,
        (
            400,
            one(
                "version \"v1.0.0+builtin\" is not allowed because 'builtin' is a reserved metadata identifier"
            )
        )
    );
    assert_eq!(
        put(json!({"sha256": sha, "command": "myplug", "version": "notsemver"})).await,
        (
            400,
            one(
                "version \"notsemver\" is not a valid semantic version: malformed version: notsemver"
            )
        )
    );
    assert_eq!(
        put(json!({"sha256": sha, "command": "../myplug"})).await,
        (
            500,
            one("1 error occurred:\n\t* path cannot contain parent references\n\n")
        )
    );
    let missing = f.dir.path().join("nosuchfile");
    assert_eq!(
        put(json!({"sha256": sha, "command": "nosuchfile"})).await,
        (
            500,
            one(&format!(
                "1 error occurred:\n\t* error while validating the command path: lstat {}: no such file or directory\n\n",
                missing.display()
            ))
        )
    );
    // A symlink out of the directory is refused after resolution.
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), f.dir.path().join("escape")).unwrap();
    assert_eq!(
        put(json!({"sha256": sha, "command": "escape"})).await,
        (
            500,
            one(
                "1 error occurred:\n\t* cannot execute files outside of configured plugin directory\n\n"
            )
        )
    );
    // Arca checks the checksum at registration too.
    let wrong = "00".repeat(32);
    let (status, msgs) = put(json!({"sha256": wrong, "command": "myplug"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        msgs,
        one(&format!(
            "sha256 mismatch for plugin command \"myplug\": the file has {sha}, the request gave {wrong}"
        ))
    );
    // `sha_256` is an alias.
    f.ok(
        Operation::Update,
        "sys/plugins/catalog/secret/myplug",
        json!({"sha_256": sha, "command": "myplug"}),
    )
    .await;

    // Without a plugin directory nothing can be registered.
    let g = fixture_with(false).await;
    assert_eq!(
        g.err(
            Operation::Update,
            "sys/plugins/catalog/secret/myplug",
            json!({"sha256": sha, "command": "myplug"})
        )
        .await,
        (
            500,
            one(
                "1 error occurred:\n\t* could not set plugin, plugin directory is not configured\n\n"
            )
        )
    );
}

#[tokio::test]
async fn mounts_pick_plugins_by_name_and_version() {
    let f = fixture().await;
    let builtin = f.core.builtin_plugin_version();
    let sha = f.plugin_file("myplug", "plugin v1");
    f.register("secret", "myplug", &sha, "v1.0.0").await;
    f.register("secret", "myplug", &sha, "v1.2.0").await;

    // With no version, the highest registered version runs.
    f.ok(
        Operation::Update,
        "sys/mounts/hi",
        json!({"type": "myplug"}),
    )
    .await;
    let m = f.mount("hi").await;
    assert_eq!(m["plugin_version"], "");
    assert_eq!(m["running_plugin_version"], "v1.2.0");
    assert_eq!(m["running_sha256"], sha);
    assert_eq!(
        f.data(Operation::Read, "hi/info", json!({})).await["version"],
        "v1.2.0"
    );
    // A version picked with config.plugin_version.
    f.ok(
        Operation::Update,
        "sys/mounts/lo",
        json!({"type": "myplug", "config": {"plugin_version": "1.0.0"}}),
    )
    .await;
    let m = f.mount("lo").await;
    assert_eq!(m["plugin_version"], "1.0.0");
    assert_eq!(m["running_plugin_version"], "v1.0.0");
    // An unversioned registration wins over versions.
    f.register("secret", "myplug", &sha, "").await;
    f.ok(
        Operation::Update,
        "sys/mounts/un",
        json!({"type": "myplug"}),
    )
    .await;
    let m = f.mount("un").await;
    assert_eq!(m["running_plugin_version"], "");
    assert_eq!(m["running_sha256"], sha);
    // The runtime saw the configured directory.
    assert!(f.runtime.seen_dirs.lock().iter().all(|d| d == f.dir.path()));

    // Builtins: the builtin version is accepted and stored as "".
    f.ok(
        Operation::Update,
        "sys/mounts/kva",
        json!({"type": "kv", "config": {"plugin_version": builtin}}),
    )
    .await;
    let m = f.mount("kva").await;
    assert_eq!(m["plugin_version"], "");
    assert_eq!(m["running_plugin_version"], builtin);
    assert_eq!(m["running_sha256"], "");
    assert_eq!(
        f.err(
            Operation::Update,
            "sys/mounts/kvb",
            json!({"type": "kv", "config": {"plugin_version": "v1.0.0"}})
        )
        .await,
        (
            400,
            one("cannot select non-builtin version of secrets plugin kv")
        )
    );
    assert_eq!(
        f.err(
            Operation::Update,
            "sys/mounts/kvc",
            json!({"type": "kv", "config": {"plugin_version": "bad"}})
        )
        .await,
        (
            400,
            one("version \"bad\" is not a valid semantic version: malformed version: bad")
        )
    );
    assert_eq!(
        f.err(
            Operation::Update,
            "sys/mounts/mp",
            json!({"type": "myplug", "config": {"plugin_version": "v9.0.0"}})
        )
        .await,
        (
            400,
            one("plugin not found in the catalog: myplug, version=v9.0.0")
        )
    );
    assert_eq!(
        f.err(Operation::Update, "sys/mounts/x", json!({"type": "nosuch"}))
            .await,
        (400, one("plugin not found in the catalog: nosuch"))
    );
    // Failed mounts leave nothing behind.
    assert_eq!(
        f.err(Operation::Read, "sys/mounts/kvb", json!({})).await.0,
        400
    );

    // An auth plugin mounts under sys/auth.
    let asha = f.plugin_file("myauth", "auth plugin");
    f.register("auth", "myauth", &asha, "v0.3.0").await;
    f.ok(Operation::Update, "sys/auth/ma", json!({"type": "myauth"}))
        .await;
    let a = f.data(Operation::Read, "sys/auth/ma", json!({})).await;
    assert_eq!(a["running_plugin_version"], "v0.3.0");
    assert_eq!(a["running_sha256"], asha);
    assert_eq!(
        f.data(Operation::Read, "auth/ma/info", json!({})).await["version"],
        "v0.3.0"
    );
}

#[tokio::test]
async fn launches_check_the_checksum_and_need_a_runtime() {
    let f = fixture().await;
    let sha = f.plugin_file("myplug", "original");
    f.register("secret", "myplug", &sha, "").await;
    // The file changes after registration: the launch is refused.
    f.plugin_file("myplug", "tampered");
    let (status, msgs) = f
        .err(Operation::Update, "sys/mounts/p", json!({"type": "myplug"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        msgs,
        one(&format!(
            "invalid backend version: checksums did not match: plugin command \"myplug\" has sha256 {}, the catalog expects {sha}",
            sha256_hex(b"tampered")
        ))
    );
    assert_eq!(f.runtime.instances.load(Ordering::SeqCst), 0);

    // No runtime: external plugins can be registered but not mounted.
    let dir = tempfile::tempdir().unwrap();
    let mut config = CoreConfig::new(Arc::new(arca_storage::InmemBackend::new()), "inmem");
    config.plugin_directory = Some(dir.path().to_path_buf());
    let core = Core::new(config);
    let init = core.initialize(1, 1, None).await.unwrap();
    core.unseal_with_key(&init.keys[0]).await.unwrap();
    std::fs::write(dir.path().join("p"), b"x").unwrap();
    core.register_plugin(arca_core::catalog::PluginRegistration {
        name: "p".into(),
        plugin_type: Some(arca_sdk::plugin_catalog::PluginType::Secret),
        sha256: sha256_hex(b"x"),
        command: "p".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut req = Request::new(Operation::Update, "sys/mounts/p")
        .with_data(json!({"type": "p"}).as_object().cloned().unwrap());
    req.client_token = Some(Zeroizing::new(init.root_token.to_string()));
    let e = core.handle_request(req).await.unwrap_err();
    assert_eq!(e.status(), 400);
    assert_eq!(
        e.to_string(),
        "plugin \"p\" is an external plugin and this server has no plugin runtime to run it"
    );
}

#[tokio::test]
async fn reload_answers_as_openbao() {
    let f = fixture().await;
    f.ok(
        Operation::Update,
        "sys/mounts/secret",
        json!({"type": "kv"}),
    )
    .await;
    let reload = "sys/plugins/reload/backend";
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"plugin": "kv", "mounts": ["secret/"]}),
            "plugin and mounts cannot be set at the same time",
        ),
        (json!({}), "plugin or mounts must be provided"),
        (json!({"mounts": []}), "plugin or mounts must be provided"),
        (json!({"mounts": ""}), "plugin or mounts must be provided"),
        (json!({"plugin": ""}), "plugin or mounts must be provided"),
        (
            json!({"plugin": "kv", "scope": "bogus"}),
            "scope must be unset or \"global\"",
        ),
        (
            json!({"plugin": "doesnotexist"}),
            "plugin not found in the catalog: \"doesnotexist\"",
        ),
        (
            json!({"plugin": "database"}),
            "plugin not found in the catalog: \"database\"",
        ),
        (
            json!({"plugin": 123}),
            "plugin not found in the catalog: \"123\"",
        ),
        (
            json!({"plugin": "token"}),
            "singleton plugin cannot be reloaded: \"token\"",
        ),
        (
            json!({"mounts": ["nosuchmount/"]}),
            "1 error occurred:\n\t* cannot fetch mount entry on \"nosuchmount/\"\n\n",
        ),
        (
            json!({"mounts": ["sys/"]}),
            "1 error occurred:\n\t* cannot reload plugin on \"sys/\": singleton plugin cannot be reloaded: \"system\"\n\n",
        ),
        (
            json!({"mounts": ["sys/auth/token"]}),
            "1 error occurred:\n\t* cannot reload plugin on \"auth/token/\": singleton plugin cannot be reloaded: \"token\"\n\n",
        ),
        (
            json!({"mounts": ["secret/", "cubbyhole/x", "nosuch"]}),
            "2 errors occurred:\n\t* cannot reload plugin on \"cubbyhole/x/\": singleton plugin cannot be reloaded: \"cubbyhole\"\n\t* cannot fetch mount entry on \"nosuch/\"\n\n",
        ),
        (
            json!({"mounts": "secret/, nosuch"}),
            "1 error occurred:\n\t* cannot fetch mount entry on \"nosuch/\"\n\n",
        ),
        (
            json!({"mounts": ["approle"]}),
            "1 error occurred:\n\t* cannot fetch mount entry on \"approle/\"\n\n",
        ),
    ];
    for (body, msg) in cases {
        assert_eq!(
            f.err(Operation::Update, reload, body.clone()).await,
            (400, one(msg)),
            "{body}"
        );
    }
    assert_eq!(
        f.err(Operation::Read, reload, json!({})).await,
        (405, one("1 error occurred:\n\t* unsupported operation\n\n"))
    );
    assert_eq!(f.err(Operation::Delete, reload, json!({})).await.0, 405);
    assert_eq!(
        f.err(Operation::List, reload, json!({})).await,
        (404, one("1 error occurred:\n\t* unsupported path\n\n"))
    );
    assert_eq!(
        f.err(Operation::Update, reload, json!({"mounts": {"a": 1}}))
            .await
            .0,
        400
    );

    // Successes: 200 with data.reload_id, the request id.
    for body in [
        json!({"plugin": "kv"}),
        json!({"plugin": "kv", "scope": "global"}),
        json!({"plugin": "kv", "mounts": []}),
        json!({"mounts": ["secret/"]}),
        json!({"mounts": "secret/"}),
        json!({"mounts": ["secret"]}),
        json!({"mounts": ["secret/foo/bar"]}),
    ] {
        let mut req =
            Request::new(Operation::Update, reload).with_data(body.as_object().cloned().unwrap());
        req.id = "0b1c2d3e-reload".into();
        req.client_token = Some(Zeroizing::new(f.root.clone()));
        let r = f.core.handle_request(req).await.unwrap().unwrap();
        assert_eq!(r.data.unwrap()["reload_id"], "0b1c2d3e-reload", "{body}");
        assert!(r.status.is_none());
        assert!(r.warnings.is_empty());
    }
    let r = f
        .ok(
            Operation::Update,
            reload,
            json!({"plugin": "kv", "extra": "x"}),
        )
        .await
        .unwrap();
    assert_eq!(
        r.warnings,
        one("Endpoint ignored these unrecognized parameters: [extra]")
    );
    // A plugin nobody mounted reloads nothing and succeeds.
    let sha = f.plugin_file("lonely", "x");
    f.register("auth", "lonely", &sha, "").await;
    f.ok(Operation::Update, reload, json!({"plugin": "lonely"}))
        .await;
}

#[tokio::test]
async fn database_plugins_cannot_be_reloaded_by_name() {
    let f = fixture().await;
    let sha = f.plugin_file("postgresql-database-plugin", "db");
    f.register("database", "postgresql-database-plugin", &sha, "")
        .await;
    assert_eq!(
        f.err(
            Operation::Update,
            "sys/plugins/reload/backend",
            json!({"plugin": "postgresql-database-plugin"})
        )
        .await
        .1,
        one(
            "plugin \"postgresql-database-plugin\" cannot be reloaded, only plugins of type auth and secret can be reloaded"
        )
    );
    // Vault's typed endpoint accepts it and says nothing was reloaded.
    let r = f
        .ok(
            Operation::Update,
            "sys/plugins/reload/database/postgresql-database-plugin",
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.warnings.len(), 1);
    assert!(r.warnings[0].starts_with("no plugins were reloaded"));
}

#[tokio::test]
async fn builtin_reload_keeps_kv_data() {
    let f = fixture().await;
    f.ok(
        Operation::Update,
        "sys/mounts/secret",
        json!({"type": "kv", "options": {"version": "2"}}),
    )
    .await;
    f.ok(Operation::Update, "sys/mounts/kv1", json!({"type": "kv"}))
        .await;
    f.ok(
        Operation::Update,
        "secret/data/app",
        json!({"data": {"password": "s3cret"}}),
    )
    .await;
    f.ok(Operation::Update, "kv1/app", json!({"k": "v"})).await;
    for body in [
        json!({"plugin": "kv"}),
        json!({"mounts": ["secret/", "kv1/"]}),
        json!({"mounts": "secret/data/app,kv1"}),
    ] {
        f.ok(Operation::Update, "sys/plugins/reload/backend", body)
            .await;
        let d = f.data(Operation::Read, "secret/data/app", json!({})).await;
        assert_eq!(d["data"]["password"], "s3cret");
        let d = f.data(Operation::Read, "kv1/app", json!({})).await;
        assert_eq!(d["k"], "v");
    }
    let m = f.mount("secret").await;
    assert_eq!(m["running_plugin_version"], f.core.builtin_plugin_version());
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    // A deadline, not a pace: generous for a loaded two-core machine.
    for _ in 0..3000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn reload_builds_before_it_breaks() {
    let f = Arc::new(fixture().await);
    let sha = f.plugin_file("myplug", "v1");
    f.register("secret", "myplug", &sha, "").await;
    f.ok(Operation::Update, "sys/mounts/p", json!({"type": "myplug"}))
        .await;
    f.ok(Operation::Update, "p/data/k", json!({"v": 1})).await;
    let first = f.instance("p/info").await;

    // A slow request starts on the first instance, then the plugin is reloaded.
    let slow = {
        let f = f.clone();
        tokio::spawn(async move { f.instance("p/slow").await })
    };
    wait_for("the slow request to start", || {
        f.runtime.slow.started.load(Ordering::SeqCst) == 1
    })
    .await;
    let r = f
        .ok(
            Operation::Update,
            "sys/plugins/reload/backend",
            json!({"plugin": "myplug"}),
        )
        .await
        .unwrap();
    let reload_id = r.data.unwrap()["reload_id"].as_str().unwrap().to_string();
    // New requests already reach the new instance, while the old one is still busy and not
    // cleaned up.
    let second = f.instance("p/info").await;
    assert_ne!(second, first);
    assert_eq!(f.runtime.cleanups.load(Ordering::SeqCst), 0);
    assert!(!slow.is_finished());
    // The slow request finishes on the instance it started with ...
    f.runtime.slow.release.add_permits(1);
    assert_eq!(slow.await.unwrap(), first);
    // ... and only then is that instance cleaned up.
    wait_for("cleanup of the replaced instance", || {
        f.runtime.cleanups.load(Ordering::SeqCst) == 1
    })
    .await;
    // Storage is the mount's: data written before the reload is still there.
    assert_eq!(f.data(Operation::Read, "p/data/k", json!({})).await["v"], 1);

    // Vault's status endpoint reports this node's result.
    let st = f
        .data(
            Operation::Read,
            "sys/plugins/reload/backend/status",
            json!({"reload_id": reload_id}),
        )
        .await;
    assert_eq!(st["reload_id"], reload_id);
    let results = st["results"].as_object().unwrap();
    assert_eq!(results.len(), 1);
    let node = results.values().next().unwrap();
    assert_eq!(node["error"], "");
    assert!(chrono::DateTime::parse_from_rfc3339(node["timestamp"].as_str().unwrap()).is_ok());
    assert_eq!(
        f.err(
            Operation::Read,
            "sys/plugins/reload/backend/status",
            json!({"reload_id": "nope"})
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn failed_reloads_change_nothing() {
    let f = fixture().await;
    let sha = f.plugin_file("myplug", "v1");
    f.register("secret", "myplug", &sha, "").await;
    f.ok(Operation::Update, "sys/mounts/a", json!({"type": "myplug"}))
        .await;
    f.ok(Operation::Update, "sys/mounts/b", json!({"type": "myplug"}))
        .await;
    let (a0, b0) = (f.instance("a/info").await, f.instance("b/info").await);

    // The binary is replaced without updating the catalog: the reload fails, both mounts
    // keep serving on their old instances.
    f.plugin_file("myplug", "v2");
    let mut req = Request::new(Operation::Update, "sys/plugins/reload/backend")
        .with_data(json!({"plugin": "myplug"}).as_object().cloned().unwrap());
    req.id = "failed-reload".into();
    req.client_token = Some(Zeroizing::new(f.root.clone()));
    let e = f.core.handle_request(req).await.unwrap_err();
    assert_eq!(e.status(), 400);
    let msg = &e.wire_messages()[0];
    assert!(
        msg.starts_with("1 error occurred:\n\t* cannot reload plugin on \"a/\": invalid backend version: checksums did not match"),
        "{msg}"
    );
    assert_eq!(f.instance("a/info").await, a0);
    assert_eq!(f.instance("b/info").await, b0);
    assert_eq!(f.runtime.cleanups.load(Ordering::SeqCst), 0);
    let st = f
        .data(
            Operation::Read,
            "sys/plugins/reload/backend/status",
            json!({"reload_id": "failed-reload"}),
        )
        .await;
    let node = st["results"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    assert!(
        node["error"]
            .as_str()
            .unwrap()
            .contains("checksums did not match")
    );

    // The runtime refusing is the same: nothing changes.
    let sha2 = f.plugin_file("myplug", "v2");
    f.register("secret", "myplug", &sha2, "").await;
    f.runtime.refuse.store(true, Ordering::SeqCst);
    let (status, msgs) = f
        .err(
            Operation::Update,
            "sys/plugins/reload/backend",
            json!({"mounts": ["a/", "b/"]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(msgs[0].contains("the test runtime refuses"), "{msgs:?}");
    assert_eq!(f.instance("a/info").await, a0);
    assert_eq!(f.mount("a").await["running_sha256"], sha);

    // Once the runtime works, the reload picks the new catalog entry up.
    f.runtime.refuse.store(false, Ordering::SeqCst);
    f.ok(
        Operation::Update,
        "sys/plugins/reload/backend",
        json!({"mounts": ["a/", "b/"]}),
    )
    .await;
    assert_ne!(f.instance("a/info").await, a0);
    assert_ne!(f.instance("b/info").await, b0);
    assert_eq!(f.mount("a").await["running_sha256"], sha2);
    assert_eq!(f.mount("b").await["running_sha256"], sha2);
    wait_for("both old instances cleaned", || {
        f.runtime.cleanups.load(Ordering::SeqCst) == 2
    })
    .await;
}

#[tokio::test]
async fn a_list_with_an_invalid_mount_reloads_none() {
    let f = fixture().await;
    let sha = f.plugin_file("myplug", "v1");
    f.register("secret", "myplug", &sha, "").await;
    f.ok(Operation::Update, "sys/mounts/a", json!({"type": "myplug"}))
        .await;
    let a0 = f.instance("a/info").await;
    let built = f.runtime.instances.load(Ordering::SeqCst);
    for mounts in [
        json!(["nosuch1/", "a/", "nosuch2/"]),
        json!("a/,cubbyhole/"),
    ] {
        let (status, _) = f
            .err(
                Operation::Update,
                "sys/plugins/reload/backend",
                json!({ "mounts": mounts }),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(f.instance("a/info").await, a0);
        // Not even built.
        assert_eq!(f.runtime.instances.load(Ordering::SeqCst), built);
    }
}

#[tokio::test]
async fn auth_mounts_reload_by_auth_and_sys_auth_paths() {
    let f = fixture().await;
    let sha = f.plugin_file("myauth", "auth");
    f.register("auth", "myauth", &sha, "").await;
    f.ok(
        Operation::Update,
        "sys/auth/approle",
        json!({"type": "myauth"}),
    )
    .await;
    f.ok(
        Operation::Update,
        "sys/auth/approle2",
        json!({"type": "myauth"}),
    )
    .await;
    let mut last = (
        f.instance("auth/approle/info").await,
        f.instance("auth/approle2/info").await,
    );
    for body in [
        json!({"mounts": ["auth/approle"]}),
        json!({"mounts": ["sys/auth/approle/"]}),
        json!({"mounts": ["auth/approle/login"]}),
    ] {
        f.ok(
            Operation::Update,
            "sys/plugins/reload/backend",
            body.clone(),
        )
        .await;
        let now = (
            f.instance("auth/approle/info").await,
            f.instance("auth/approle2/info").await,
        );
        assert_ne!(now.0, last.0, "{body}");
        assert_eq!(now.1, last.1, "{body}");
        last = now;
    }
    // By name: both mounts; Vault's typed form too.
    for path in [
        "sys/plugins/reload/backend",
        "sys/plugins/reload/auth/myauth",
    ] {
        let body = if path.ends_with("backend") {
            json!({"plugin": "myauth"})
        } else {
            json!({})
        };
        f.ok(Operation::Update, path, body).await;
        let now = (
            f.instance("auth/approle/info").await,
            f.instance("auth/approle2/info").await,
        );
        assert_ne!(now.0, last.0);
        assert_ne!(now.1, last.1);
        last = now;
    }
    // The typed form restricted to secrets finds no auth mount; `global` answers 202.
    let r = f
        .ok(
            Operation::Update,
            "sys/plugins/reload/unknown/myauth",
            json!({"scope": "global"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, Some(202));
    assert!(r.data.unwrap()["reload_id"].is_string());
    assert_eq!(
        f.err(
            Operation::Update,
            "sys/plugins/reload/secret/myauth",
            json!({})
        )
        .await,
        (400, one("plugin not found in the catalog: \"myauth\""))
    );
}

#[tokio::test]
async fn reloads_under_load_never_fail_a_request() {
    let f = Arc::new(fixture().await);
    f.ok(
        Operation::Update,
        "sys/mounts/secret",
        json!({"type": "kv", "options": {"version": "2"}}),
    )
    .await;
    let sha = f.plugin_file("myplug", "v1");
    f.register("secret", "myplug", &sha, "").await;
    f.ok(Operation::Update, "sys/mounts/p", json!({"type": "myplug"}))
        .await;
    f.ok(
        Operation::Update,
        "secret/data/app",
        json!({"data": {"password": "s3cret"}}),
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (f, stop, failures, done) = (f.clone(), stop.clone(), failures.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let path = if i % 2 == 0 {
                    "secret/data/app"
                } else {
                    "p/info"
                };
                match f.call(Operation::Read, path, json!({})).await {
                    Ok(Some(r)) if r.data.is_some() => {}
                    _ => {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
            }
        }));
    }
    for i in 0..20 {
        let body = if i % 2 == 0 {
            json!({"mounts": ["secret/", "p/"]})
        } else {
            json!({"plugin": "kv"})
        };
        f.ok(Operation::Update, "sys/plugins/reload/backend", body)
            .await;
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(failures.load(Ordering::SeqCst), 0);
    assert!(done.load(Ordering::SeqCst) > 0);
}
