//! `login -method=jwt`: the CLI side of the jwt auth method.

use arca_api::Secret;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::ctx::Ctx;

/// Logs in at the mount `default_mount` (unless `mount=` says otherwise).
pub(super) fn oidc_auth(
    _ctx: &mut Ctx<'_, '_>,
    _client: &arca_api::Client,
    _config: &Map<String, Value>,
    _default_mount: &str,
) -> Result<Secret, Zeroizing<String>> {
    Err(Zeroizing::new("not built yet".to_string()))
}

/// Logs in at the mount `default_mount` (unless `mount=` says otherwise).
pub(super) fn jwt_auth(
    _ctx: &mut Ctx<'_, '_>,
    _client: &arca_api::Client,
    _config: &Map<String, Value>,
    _default_mount: &str,
) -> Result<Secret, Zeroizing<String>> {
    Err(Zeroizing::new("not built yet".to_string()))
}
