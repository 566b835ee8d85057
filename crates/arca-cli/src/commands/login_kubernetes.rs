//! `login -method=kubernetes`: the CLI side of the kubernetes auth method, as `bao login
//! -method=kubernetes` does it: `role=` is required, `jwt=` is asked for (hidden) when not
//! given, and the login is `PUT auth/<mount>/login`.

use arca_api::Secret;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::ctx::Ctx;

/// Logs in at the mount `default_mount` (unless `mount=` says otherwise).
pub(super) fn kubernetes_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &arca_api::Client,
    config: &Map<String, Value>,
    default_mount: &str,
    non_interactive: bool,
) -> Result<Secret, Zeroizing<String>> {
    let mount = super::login::login_mount(config, default_mount);
    let Some(role) = config.get("role").and_then(Value::as_str) else {
        return Err(Zeroizing::new("'role' must be supplied".into()));
    };
    let jwt = super::login::secret_arg(
        ctx,
        config.get("jwt"),
        "JWT (will be hidden): ",
        non_interactive.then_some("'jwt' not supplied and refusing to pull from stdin"),
    )?;
    let body = json!({ "jwt": jwt.as_str(), "role": role });
    let path = format!("auth/{mount}/login");
    super::login::write_login(ctx, client, &path, body)
}
