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
    let mount = super::login::login_mount(config, default_mount);
    let name = config.get("name").and_then(Value::as_str).unwrap_or("");
    let path = format!("auth/{mount}/login");
    super::login::write_login(ctx, client, &path, json!({ "name": name }))
}
