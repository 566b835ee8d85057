//! `login -method=cert`: the CLI side of the cert auth method. The certificate itself is not
//! configuration of the method: the client presents the one `-client-cert`/`-client-key` (or
//! `BAO_CLIENT_CERT`/`BAO_CLIENT_KEY`) name on the TLS connection, and the login names at
//! most the entry (`name=`) to check it against.

use arca_api::Secret;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::ctx::Ctx;

/// Logs in at the mount `default_mount` (unless `mount=` says otherwise): `PUT
/// auth/<mount>/login` with `name` (empty when not given), as `bao login -method=cert`.
pub(super) fn cert_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &arca_api::Client,
    config: &Map<String, Value>,
    default_mount: &str,
) -> Result<Secret, Zeroizing<String>> {
    let mount = config
        .get("mount")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .unwrap_or(default_mount);
    let name = config.get("name").and_then(Value::as_str).unwrap_or("");
    let path = format!("auth/{mount}/login");
    ctx.block_on(client.write(&path, Some(json!({ "name": name }))))
        .map_err(|e| Zeroizing::new(e.to_string()))?
        .ok_or_else(|| Zeroizing::new("empty response from credential provider".to_string()))
}
