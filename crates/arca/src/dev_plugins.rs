//! `-dev-plugin-dir`: every executable in the directory is registered in the catalog and
//! mounted at its name, as OpenBao's dev mode registers them (Arca also mounts them).
//!
//! Each binary must be started once to learn whether it is a secrets engine or an auth method.
//! Those probes run concurrently (each on its own task, the checksum off the runtime), and so do
//! the registrations and mounts that follow; of several failures, the one reported is the
//! first in file-name order, as a one-by-one start reported it.
//! A probe's process is kept until its plugin is mounted: a multiplexing plugin's mount then
//! joins that process instead of starting a second one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use arca_core::Core;
use arca_plugin::ExternalBackend;

/// A probed plugin: its name, checksum, what it is, and the probe backend (kept alive so the
/// mount can share its process).
struct Probed {
    name: String,
    sha: [u8; 32],
    kind: arca_sdk::BackendType,
    probe: Arc<ExternalBackend>,
}

/// The executables directly in `dir`, sorted by path.
fn plugin_files(dir: &Path) -> Result<Vec<PathBuf>> {
    use std::os::unix::fs::PermissionsExt;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading -dev-plugin-dir {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Hashes and starts one plugin binary, asks its type. `None` for a file name that is not
/// UTF-8 (skipped, as before).
async fn probe(dir: PathBuf, path: PathBuf) -> Result<Option<Probed>> {
    let Some(name) = path
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
    else {
        return Ok(None);
    };
    let hashed = path.clone();
    let sha = tokio::task::spawn_blocking(move || arca_plugin::sha256_file(&hashed))
        .await
        .map_err(|e| anyhow!("hashing plugin {}: {e}", path.display()))?
        .with_context(|| format!("hashing plugin {}", path.display()))?;
    // The command as the catalog will resolve it, so the mount finds this process to share;
    // a name that does not resolve is probed as found (its registration then fails as before).
    let command = arca_sdk::plugin_catalog::resolve_plugin_command(&dir, &name).unwrap_or(path);
    let launcher = arca_plugin::PluginLauncher::new(command, Vec::new(), Vec::new(), sha);
    let probe = launcher
        .launch(arca_sdk::BackendConfig {
            storage: Arc::new(arca_sdk::storage::MemoryStorage::new()),
            system: Arc::new(arca_sdk::StaticSystemView::default()),
            config: HashMap::new(),
            backend_uuid: String::new(),
        })
        .await
        .map_err(|e| anyhow!("dev plugin {name}: {e}"))?;
    let kind = arca_sdk::Backend::backend_type(probe.as_ref());
    Ok(Some(Probed {
        name,
        sha,
        kind,
        probe,
    }))
}

/// Probes every plugin in `dir` concurrently, then registers and mounts them all
/// concurrently; the error reported is the first in name order.
pub(crate) async fn register_and_mount(core: &Core, dir: &Path, root_token: &str) -> Result<()> {
    let probes: Vec<_> = plugin_files(dir)?
        .into_iter()
        .map(|path| tokio::spawn(probe(dir.to_path_buf(), path)))
        .collect();
    let mut probed = Vec::new();
    let mut result = Ok(());
    for handle in probes {
        match handle.await {
            Ok(Ok(Some(p))) => probed.push(p),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                result = Err(e);
                break;
            }
            Err(e) => {
                result = Err(anyhow!("dev plugin probe failed: {e}"));
                break;
            }
        }
    }
    if result.is_ok() {
        // Each registration and mount hashes the binary again and starts a mount session:
        // one after another they were most of a five-plugin start.
        let mounted =
            futures::future::join_all(probed.iter().map(|p| register_one(core, p, root_token)))
                .await;
        result = mounted.into_iter().collect::<Result<Vec<()>>>().map(drop);
    }
    // The probes' own sessions end in the background: a mount that shares a probe's process
    // keeps it running; another probe's process is stopped.
    let done: Vec<_> = probed.into_iter().map(|p| p.probe).collect();
    tokio::spawn(async move {
        for probe in done {
            arca_sdk::Backend::cleanup(probe.as_ref()).await;
        }
    });
    result
}

/// Registers one probed plugin under its type and mounts it at its name.
async fn register_one(core: &Core, p: &Probed, root_token: &str) -> Result<()> {
    let name = &p.name;
    let (plugin_type, mount_path) = match p.kind {
        arca_sdk::BackendType::Credential => ("auth", format!("sys/auth/{name}")),
        _ => ("secret", format!("sys/mounts/{name}")),
    };
    let mut register = arca_sdk::Request::new(
        arca_sdk::Operation::Update,
        format!("sys/plugins/catalog/{plugin_type}/{name}"),
    );
    register.client_token = Some(zeroize::Zeroizing::new(root_token.to_string()));
    register
        .data
        .insert("sha256".into(), hex::encode(p.sha).into());
    register.data.insert("command".into(), name.clone().into());
    core.handle_request(register)
        .await
        .map_err(|e| anyhow!("registering dev plugin {name}: {e}"))?;
    let mut mount = arca_sdk::Request::new(arca_sdk::Operation::Update, mount_path);
    mount.client_token = Some(zeroize::Zeroizing::new(root_token.to_string()));
    mount.data.insert("type".into(), name.clone().into());
    core.handle_request(mount)
        .await
        .map_err(|e| anyhow!("mounting dev plugin {name}: {e}"))?;
    tracing::info!(plugin = %name, r#type = plugin_type, "dev mode: registered and mounted plugin");
    Ok(())
}
