//! `sys/namespaces*`: the request's namespace's children — create (or update), read, patch,
//! delete in the background, list — and the API lock, answering as OpenBao 2.7.2 does.
//!
//! A new namespace is written tainted first, then gets its policies (`default`,
//! `response-wrapping`) and its required mounts (`sys/`, `cubbyhole/`, `identity/`,
//! `auth/token/`), then is written again untainted; a crash in between leaves a tainted
//! namespace, which the next unseal deletes. Deleting one taints it and, in a task of its
//! own, revokes its leases (through their backends) and its tokens, stops its mounts, clears
//! its storage prefix and removes its record — resumed at unseal if the server stopped.

use std::collections::BTreeMap;
use std::sync::Arc;

use arca_policy::Capabilities;
use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::SystemDeps;
use super::endpoint::Endpoint;
use crate::mount_store::MountStore;
use crate::namespaces::{NAMESPACE_ENTRY_VERSION, Namespace, canonicalize, validate_path};
use crate::random::{random_base62, uuid};

/// Names no namespace may take (OpenBao's reserved names; checked with the trailing `/`).
const RESERVED: [&str; 6] = ["root", "sys", "audit", "auth", "cubbyhole", "identity"];

/// Runs a `sys/namespaces*` endpoint for the request's namespace `ns`.
pub(crate) async fn handle(
    deps: &SystemDeps,
    mounts: &Arc<MountStore>,
    ns: &Arc<Namespace>,
    endpoint: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    match (endpoint, op) {
        (E::Namespaces, O::List) => list(deps, ns),
        (E::Namespace(name), O::Read) => {
            let path = child_path(ns, &name)?;
            Ok(deps.namespaces.by_path(&path).map(|child| data(&child)))
        }
        (E::Namespace(name), O::Update | O::Create) => {
            let path = child_path(ns, &name)?;
            set(deps, mounts, ns, &path, req).await
        }
        (E::Namespace(name), O::Patch) => {
            let path = child_path(ns, &name)?;
            patch(deps, &path, req).await
        }
        (E::Namespace(name), O::Delete) => {
            let path = child_path(ns, &name)?;
            delete(deps, mounts, &path).await
        }
        (E::NamespaceLock(sub), O::Update | O::Create) => lock(deps, ns, &sub).await,
        (E::NamespaceUnlock(sub), O::Update | O::Create) => unlock(deps, ns, &sub, req).await,
        (E::NamespaceSeal(name, which), O::Read) if which == "seal-status" => {
            let path = child_path(ns, &name)?;
            seal_endpoint(deps, mounts, &path, which, req).await
        }
        (E::NamespaceSeal(name, which), O::Update | O::Create) if which != "seal-status" => {
            let path = child_path(ns, &name)?;
            seal_endpoint(deps, mounts, &path, which, req).await
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// The full path of `ns`'s child `name`, checked as OpenBao's `ParseName`: one segment,
/// not reserved.
fn child_path(ns: &Namespace, name: &str) -> Result<String, LogicalError> {
    let name = canonicalize(name);
    if name.is_empty() {
        return Err(LogicalError::bad_request("namespace name cannot be empty"));
    }
    let clipped = &name[..name.len() - 1];
    if clipped.contains('/') {
        return Err(LogicalError::bad_request("namespace name cannot contain /"));
    }
    if RESERVED.contains(&clipped) || clipped == ".." {
        return Err(LogicalError::bad_request(format!(
            "{name:?} is a reserved path and cannot be used as a namespace name"
        )));
    }
    Ok(format!("{}{name}", ns.path))
}

fn data(ns: &Namespace) -> Response {
    Response {
        data: ns.to_api_json().as_object().cloned(),
        ..Response::default()
    }
}

fn list(deps: &SystemDeps, ns: &Namespace) -> Result<Option<Response>, LogicalError> {
    let mut keys = Vec::new();
    let mut info = serde_json::Map::new();
    for child in deps.namespaces.children(ns) {
        let key = ns.relative(&child.path).to_string();
        info.insert(key.clone(), child.to_api_json());
        keys.push(key);
    }
    if keys.is_empty() {
        return Ok(Some(Response::from_serialize(&json!({ "keys": [] }))?));
    }
    Ok(Some(Response::from_serialize(
        &json!({ "keys": keys, "key_info": info }),
    )?))
}

/// `custom_metadata` as PUT takes it: an object of strings (absent: none).
fn metadata(req: &Request) -> Result<BTreeMap<String, String>, LogicalError> {
    match req.data.get("custom_metadata") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(LogicalError::bad_request(
                    "custom_metadata values must be strings",
                )),
            })
            .collect(),
        Some(_) => Err(LogicalError::bad_request(
            "custom_metadata values must be strings",
        )),
    }
}

/// Creates the namespace at `path` (a child of `parent`), or replaces an existing one's
/// `custom_metadata`.
async fn set(
    deps: &SystemDeps,
    mounts: &Arc<MountStore>,
    parent: &Namespace,
    path: &str,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let custom_metadata = metadata(req)?;
    let seal = seal_config(req)?;
    validate_path(parent.relative(path))?;
    let store = &deps.namespaces;
    let _guard = store.lock().await;
    if let Some(existing) = store.by_path(path) {
        if seal.is_some() {
            return Err(LogicalError::bad_request(
                "cannot modify existing namespace seal config",
            ));
        }
        if existing.tainted {
            return Err(LogicalError::bad_request(
                "namespace with that name exists and is currently being created or deleted",
            ));
        }
        let mut updated = (*existing).clone();
        updated.custom_metadata = custom_metadata;
        let updated = store.put(updated).await?;
        return Ok(Some(data(&updated)));
    }
    // A mount of the parent already answers at that path.
    if let Some((mount_path, route)) = mounts.router().route(path)
        && route.mount.load().namespace_id == parent.id
    {
        return Err(LogicalError::bad_request(format!(
            "new namespace conflicts with existing mount: {}",
            parent.relative(&mount_path)
        )));
    }
    let uuid = uuid();
    let ns = Namespace {
        version: NAMESPACE_ENTRY_VERSION,
        id: store.new_id(),
        prefix: format!("{}namespaces/{uuid}/", parent.storage_prefix()),
        uuid,
        path: path.to_string(),
        tainted: true,
        unlock_key: None,
        custom_metadata,
        sealable: seal.is_some(),
    };
    let tainted = store.put(ns).await?;
    let made = async {
        // A seal of its own first, so everything it holds is written under its key.
        let shares = match seal {
            Some((shares, threshold)) => Some((
                deps.seals.create(&tainted, shares, threshold).await?,
                threshold,
            )),
            None => None,
        };
        deps.policies.setup(&tainted).await?;
        mounts.load_namespace(&tainted).await?;
        Ok::<_, LogicalError>(shares)
    }
    .await;
    let shares = match made {
        Ok(shares) => shares,
        Err(e) => {
            // Undo what was made; the tainted record is deleted at the next unseal otherwise.
            if let Err(undo) = erase(deps, mounts, &tainted).await {
                tracing::warn!(namespace = %tainted.path, error = %undo, "namespaces: could not undo a failed creation; the next unseal finishes it");
            }
            return Err(e);
        }
    };
    let mut ready = (*tainted).clone();
    ready.tainted = false;
    let ready = store.put(ready).await?;
    let mut resp = data(&ready);
    if let Some((shares, threshold)) = shares {
        // A namespace with a seal of its own starts sealed, as OpenBao's.
        close(deps, mounts, &ready).await?;
        if let Some(d) = resp.data.as_mut() {
            d.insert("key_shares".into(), json!(shares));
            d.insert("key_threshold".into(), json!(threshold));
        }
    }
    Ok(Some(resp))
}

/// The `seal` parameter: a Shamir `seal` stanza (HCL or JSON text) → (shares, threshold).
fn seal_config(req: &Request) -> Result<Option<(usize, usize)>, LogicalError> {
    let text = match req.data.get("seal") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(LogicalError::bad_request(
                "seal config must be a HCL or JSON string",
            ));
        }
    };
    let stanzas = arca_config::parse_seal_stanzas(&text)
        .map_err(|e| LogicalError::bad_request(format!("unable to parse seal config: {e}")))?;
    let [stanza] = stanzas.as_slice() else {
        return Err(LogicalError::bad_request(
            "seal config must contain exactly one seal stanza",
        ));
    };
    if stanza.kind != "shamir" {
        return Err(LogicalError::bad_request(
            "namespaces currently only support shamir seals",
        ));
    }
    let int = |key: &str| -> Result<usize, LogicalError> {
        match stanza.config.get(key) {
            None => Ok(0),
            Some(v) => v.parse::<usize>().map_err(|_| {
                LogicalError::bad_request("value of shares parameter must be integer")
            }),
        }
    };
    let (shares, threshold) = (int("shares")?, int("threshold")?);
    let config = arca_barrier::SealConfig::shamir(shares, threshold);
    if let Err(e) = config.validate() {
        let text = match e {
            arca_barrier::BarrierError::SealConfig(m) => m,
            other => other.to_string(),
        };
        return Err(LogicalError::bad_request(format!(
            "invalid seal config: {text}"
        )));
    }
    Ok(Some((shares, threshold)))
}

/// Seals `ns` and everything below it: their mounts stop, their policies and leases leave
/// memory, the namespaces below leave the index (storage keeps them all).
async fn close(
    deps: &SystemDeps,
    mounts: &MountStore,
    ns: &Arc<Namespace>,
) -> Result<(), LogicalError> {
    let mut all = deps.namespaces.descendants(ns);
    all.push(ns.clone());
    for n in &all {
        mounts.unload_namespace(n).await;
        deps.policies.forget(n);
        deps.leases.forget_namespace(n);
        if n.sealable {
            deps.seals.seal(n)?;
        }
    }
    deps.namespaces.unload_below(ns);
    Ok(())
}

/// Opens `ns` after its unseal: the namespaces below it are read, and it and they get their
/// policies, mounts and leases back (sealable ones below stay sealed).
async fn open(
    deps: &SystemDeps,
    mounts: &MountStore,
    ns: &Arc<Namespace>,
) -> Result<(), LogicalError> {
    let below = deps.namespaces.load_below(ns).await?;
    let mut opened = vec![ns.clone()];
    for n in below {
        if n.sealable {
            deps.seals.start_sealed(&n)?;
        } else if !deps.seals.sealed_at(&n.path) {
            opened.push(n);
        }
    }
    for n in &opened {
        deps.policies.setup(n).await?;
        mounts.load_namespace(n).await?;
    }
    deps.leases.restore_in_background(opened);
    Ok(())
}

/// `sys/namespaces/<name>/seal-status|seal|unseal`.
async fn seal_endpoint(
    deps: &SystemDeps,
    mounts: &MountStore,
    path: &str,
    which: &str,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let Some(ns) = deps.namespaces.by_path(path) else {
        return Err(LogicalError::bad_request(format!(
            "namespace {path:?} doesn't exist"
        )));
    };
    if !ns.sealable {
        return Err(LogicalError::bad_request("namespace is not sealable"));
    }
    let status = || async {
        let status = deps
            .seals
            .status(&ns)
            .await?
            .ok_or_else(|| LogicalError::bad_request("namespace is not sealable"))?;
        Ok(Some(Response::from_serialize(&status)?))
    };
    match which {
        "seal-status" => status().await,
        "seal" => {
            if !deps.seals.is_sealed(&ns) {
                close(deps, mounts, &ns).await?;
            }
            Ok(None)
        }
        _ if req.data.get("reset").and_then(Value::as_bool) == Some(true) => {
            deps.seals.reset(&ns);
            status().await
        }
        _ => {
            let key = req
                .data
                .get("key")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let share = decode_share(key)?;
            let (status, unsealed) = deps.seals.submit(&ns, share).await?;
            if unsealed {
                open(deps, mounts, &ns).await?;
            }
            Ok(Some(Response::from_serialize(&status)?))
        }
    }
}

/// An unseal share as OpenBao reads one: hex, else base64 (its error names the first byte
/// base64 cannot read).
fn decode_share(key: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, LogicalError> {
    use base64::Engine;
    let key = key.trim();
    if let Ok(bytes) = hex::decode(key) {
        return Ok(zeroize::Zeroizing::new(bytes));
    }
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .map(zeroize::Zeroizing::new)
        .map_err(|_| {
            let at = key
                .bytes()
                .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='))
                .unwrap_or(0);
            LogicalError::bad_request(format!("illegal base64 data at input byte {at}"))
        })
}

/// Merges `custom_metadata` into the namespace at `path` (RFC 7396: `null` removes a key).
async fn patch(
    deps: &SystemDeps,
    path: &str,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let patch = match req.data.get("custom_metadata") {
        Some(Value::Object(m)) => Some(m.clone()),
        Some(Value::Null) => None,
        _ => {
            return Err(LogicalError::bad_request(
                "missing required field \"custom_metadata\"",
            ));
        }
    };
    if let Some(p) = &patch {
        for v in p.values() {
            let go_type = match v {
                Value::String(_) | Value::Null => continue,
                Value::Number(_) => "json.Number",
                Value::Bool(_) => "bool",
                Value::Array(_) => "[]interface {}",
                Value::Object(_) => "map[string]interface {}",
            };
            return Err(LogicalError::bad_request(format!(
                "metadata patch can only have string or null values, got {go_type}"
            )));
        }
    }
    let store = &deps.namespaces;
    let _guard = store.lock().await;
    let Some(existing) = store.by_path(path).filter(|n| !n.tainted) else {
        return Err(LogicalError::bad_request("namespace not found"));
    };
    let mut updated = (*existing).clone();
    match patch {
        None => updated.custom_metadata.clear(),
        Some(p) => {
            for (k, v) in p {
                match v {
                    Value::String(s) => {
                        updated.custom_metadata.insert(k, s);
                    }
                    _ => {
                        updated.custom_metadata.remove(&k);
                    }
                }
            }
        }
    }
    let updated = store.put(updated).await?;
    Ok(Some(data(&updated)))
}

/// Starts deleting the namespace at `path`: `{"status": "in-progress"}`.
async fn delete(
    deps: &SystemDeps,
    mounts: &Arc<MountStore>,
    path: &str,
) -> Result<Option<Response>, LogicalError> {
    let store = &deps.namespaces;
    let guard = store.lock().await;
    let Some(existing) = store.by_path(path) else {
        let mut r = Response::default();
        r.warn("requested namespace does not exist");
        return Ok(Some(r));
    };
    if deps.seals.sealed_at(&existing.path) {
        return Err(LogicalError::bad_request("namespace is sealed"));
    }
    if !store.children(&existing).is_empty() {
        return Err(LogicalError::bad_request(
            "unable to delete namespace containing child namespaces",
        ));
    }
    let tainted = if existing.tainted {
        existing
    } else {
        let mut t = (*existing).clone();
        t.tainted = true;
        store.put(t).await?
    };
    drop(guard);
    spawn_deletion(deps.clone(), mounts.clone(), tainted);
    Ok(Some(Response::from_serialize(
        &json!({ "status": "in-progress" }),
    )?))
}

/// Deletes a tainted namespace in a task of its own.
fn spawn_deletion(deps: SystemDeps, mounts: Arc<MountStore>, ns: Arc<Namespace>) {
    tokio::spawn(async move {
        match erase(&deps, &mounts, &ns).await {
            Ok(()) => tracing::info!(namespace = %ns.path, "namespaces: deleted"),
            Err(e) => {
                tracing::error!(namespace = %ns.path, error = %e, "namespaces: deletion failed; it resumes at the next unseal")
            }
        }
    });
}

/// Resumes the deletion of every tainted namespace (at unseal), deepest first.
pub(crate) fn resume_deletions(deps: SystemDeps, mounts: Arc<MountStore>) {
    let mut tainted: Vec<_> = deps
        .namespaces
        .all()
        .into_iter()
        .filter(|n| n.tainted)
        .collect();
    if tainted.is_empty() {
        return;
    }
    tainted.sort_by_key(|n| std::cmp::Reverse(n.path.matches('/').count()));
    tokio::spawn(async move {
        for ns in tainted {
            // A child created under a namespace being deleted goes with it.
            for child in deps.namespaces.descendants(&ns) {
                if let Err(e) = erase(&deps, &mounts, &child).await {
                    tracing::error!(namespace = %child.path, error = %e, "namespaces: deletion failed");
                }
            }
            match erase(&deps, &mounts, &ns).await {
                Ok(()) => {
                    tracing::info!(namespace = %ns.path, "namespaces: deletion resumed and done")
                }
                Err(e) => {
                    tracing::error!(namespace = %ns.path, error = %e, "namespaces: deletion failed")
                }
            }
        }
    });
}

/// Removes everything of `ns`: its leases (revoked through their backends), its tokens,
/// its mounts, its policies, its storage and its record. Each step can run again.
async fn erase(deps: &SystemDeps, mounts: &MountStore, ns: &Namespace) -> Result<(), LogicalError> {
    deps.leases.revoke_namespace(ns).await?;
    deps.tokens.revoke_namespace(&ns.id).await?;
    mounts.unload_namespace(ns).await;
    deps.policies.forget(ns);
    deps.namespaces.clear_storage(ns).await?;
    if ns.sealable {
        deps.seals.forget(ns).await?;
    }
    let _guard = deps.namespaces.lock().await;
    deps.namespaces.remove(ns).await
}

/// The namespace `sub` names below `ns` (`""`: `ns` itself) for a lock or an unlock: it must
/// exist and not be the root.
fn target(deps: &SystemDeps, ns: &Namespace, sub: &str) -> Result<Arc<Namespace>, LogicalError> {
    let path = format!("{}{}", ns.path, canonicalize(sub));
    let target = deps
        .namespaces
        .by_path(&path)
        .filter(|n| !n.tainted)
        .ok_or_else(|| LogicalError::bad_request("requested namespace does not exist"))?;
    if target.is_root() {
        return Err(LogicalError::bad_request(
            "root namespace cannot be locked/unlocked",
        ));
    }
    Ok(target)
}

async fn lock(
    deps: &SystemDeps,
    ns: &Namespace,
    sub: &str,
) -> Result<Option<Response>, LogicalError> {
    let store = &deps.namespaces;
    let _guard = store.lock().await;
    let target = target(deps, ns, sub)?;
    if target.locked() {
        return Err(LogicalError::bad_request(format!(
            "cannot lock namespace {:?}: is already locked",
            target.path
        )));
    }
    if let Some(locked) = store.locked_ancestor(&target) {
        return Err(LogicalError::bad_request(format!(
            "cannot lock namespace {:?}: ancestor namespace {:?} is already locked",
            target.path, locked.path
        )));
    }
    let key = random_base62(24);
    let mut locked = (*target).clone();
    locked.unlock_key = Some(key.clone());
    store.put(locked).await?;
    Ok(Some(Response::from_serialize(
        &json!({ "unlock_key": key }),
    )?))
}

async fn unlock(
    deps: &SystemDeps,
    ns: &Namespace,
    sub: &str,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    let key = req
        .data
        .get("unlock_key")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let sudo = key.is_empty() && has_sudo(deps, ns, req).await?;
    if key.is_empty() && !sudo {
        return Err(LogicalError::bad_request("provided empty key"));
    }
    let store = &deps.namespaces;
    let _guard = store.lock().await;
    let target = target(deps, ns, sub)?;
    let Some(expected) = target.unlock_key.as_deref() else {
        return Err(LogicalError::bad_request(format!(
            "namespace {:?} is not locked",
            target.path
        )));
    };
    if let Some(locked) = store.locked_ancestor(&target)
        && locked.path != target.path
    {
        return Err(LogicalError::bad_request(format!(
            "cannot unlock {:?} with namespace {:?} being locked",
            target.path, locked.path
        )));
    }
    if !sudo && !crate::token_store::ct_eq(expected, &key) {
        return Err(LogicalError::bad_request("incorrect unlock key"));
    }
    let mut unlocked = (*target).clone();
    unlocked.unlock_key = None;
    store.put(unlocked).await?;
    if sudo {
        let mut r = Response::default();
        r.warn("Namespace unlocked using sudo capabilities");
        return Ok(Some(r));
    }
    Ok(None)
}

/// Whether the request's token holds `sudo` on the unlock path.
async fn has_sudo(deps: &SystemDeps, ns: &Namespace, req: &Request) -> Result<bool, LogicalError> {
    let Some(entry) = deps.tokens.lookup(req.token()).await? else {
        return Ok(false);
    };
    let Some(token_ns) = deps.namespaces.by_id(&entry.namespace_id) else {
        return Ok(false);
    };
    if !token_ns.contains(ns) {
        return Ok(false);
    }
    let names = deps
        .identity
        .acl_policies(&entry.entity_id, &entry.policies);
    let acl = deps.policies.acl(&token_ns, &names).await?;
    let path = format!(
        "{}{}{}",
        token_ns.relative(&ns.path),
        req.mount_point,
        req.path
    );
    Ok(acl.is_root() || acl.capability_set(&path).contains(Capabilities::SUDO))
}
