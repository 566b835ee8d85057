//! The boundary between the core and a mount's backend, as Vault's router draws it: what a
//! backend sees of a request (a per-mount salted stand-in for the client token, only the
//! headers its mount lets through) and what it may answer (only the headers its mount allows;
//! never a client token, lease id or wrapping token of its own making — the core mints those).
//! Builtin engines and external plugins are treated alike: a plugin's gRPC request is built
//! from the request this module prepared.

use std::collections::HashMap;

use arca_sdk::{Response, ResponseWrapInfo};
use aws_lc_rs::digest;
use zeroize::Zeroizing;

use crate::token_store::TokenEntry;

/// Request headers never passed to a backend, whatever `passthrough_request_headers` says:
/// they carry the client token.
const DENIED_PASSTHROUGH_HEADERS: [&str; 2] = ["authorization", "x-vault-token"];

/// What the core's own mounts never get passed: OpenBao's list. `identity/` lists
/// `Authorization` by default, and its OIDC provider reads a client's Basic credentials and
/// an access token's Bearer header from it.
const DENIED_PASSTHROUGH_HEADERS_CORE: [&str; 1] = ["x-vault-token"];

/// The core's own mounts, whose backends see the client token itself (they are the token
/// store, or act on the caller's token).
fn sees_the_token(route_path: &str) -> bool {
    ["sys/", "auth/token/", "identity/"]
        .iter()
        .any(|p| route_path.starts_with(p))
}

/// Whether the backend at `route_path` is the core's own, trusted to answer with tokens (the
/// token store mints them).
fn mints_tokens(route_path: &str) -> bool {
    route_path.starts_with("sys/") || route_path.starts_with("auth/token/")
}

/// Vault's `SaltID` with a mount's UUID as the salt: the hex SHA-1 of `salt + id`. Stable per
/// mount and token, not reversible, and different on every mount.
pub(crate) fn salt_id(salt: &str, id: &str) -> String {
    let mut ctx = digest::Context::new(&digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(salt.as_bytes());
    ctx.update(id.as_bytes());
    hex::encode(ctx.finish().as_ref())
}

/// What the backend mounted at `route_path` (of type `mount_type`, UUID `mount_uuid`) gets in
/// place of the client token: the token itself for the core's own mounts, the token's
/// cubbyhole id for the cubbyhole (its storage is keyed by it), and otherwise the token salted
/// with the mount's UUID.
pub(crate) fn backend_token(
    route_path: &str,
    mount_type: &str,
    mount_uuid: &str,
    token: Option<Zeroizing<String>>,
    entry: Option<&TokenEntry>,
) -> Option<Zeroizing<String>> {
    if sees_the_token(route_path) {
        return token;
    }
    if mount_type == "cubbyhole" {
        return entry.map(|e| Zeroizing::new(e.cubbyhole_id.clone()));
    }
    let token = token.filter(|t| !t.is_empty())?;
    Some(Zeroizing::new(salt_id(mount_uuid, &token)))
}

/// The headers a raw response may set whatever its mount allows.
const RAW_RESPONSE_HEADERS: [&str; 3] = ["Cache-Control", "Pragma", "WWW-Authenticate"];

/// The headers `allowed` names (any case), minus `denied`; names as they came.
fn filtered(
    headers: HashMap<String, Vec<String>>,
    allowed: &[String],
    denied: &[&str],
) -> HashMap<String, Vec<String>> {
    headers
        .into_iter()
        .filter(|(name, _)| {
            allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
                && !denied.iter().any(|d| d.eq_ignore_ascii_case(name))
        })
        .collect()
}

/// The request headers a backend sees: those its mount's `passthrough_request_headers` name,
/// never `X-Vault-Token`, and `Authorization` only for the core's own mounts.
pub(crate) fn passthrough_headers(
    route_path: &str,
    headers: HashMap<String, Vec<String>>,
    passthrough: &[String],
) -> HashMap<String, Vec<String>> {
    if sees_the_token(route_path) {
        filtered(headers, passthrough, &DENIED_PASSTHROUGH_HEADERS_CORE)
    } else {
        filtered(headers, passthrough, &DENIED_PASSTHROUGH_HEADERS)
    }
}

/// Screens a backend's answer before anything else sees it: keeps only the response headers
/// the mount's `allowed_response_headers` name, and drops (with a warning, never the value)
/// a client token, lease id or wrapping token a backend other than the core's own wrote: the
/// core mints those. Of a backend's `wrap_info` only the TTL stands: a request to be wrapped.
pub(crate) fn screen_response(route_path: &str, allowed_headers: &[String], resp: &mut Response) {
    // A raw response keeps the caching and authentication headers it sets (OpenBao's
    // `HTTPCacheControlHeader`, `HTTPPragmaHeader`, `HTTPWWWAuthenticateHeader`).
    let kept: Vec<(String, Vec<String>)> = if resp.raw.is_some() {
        resp.headers
            .iter()
            .filter(|(k, _)| {
                RAW_RESPONSE_HEADERS
                    .iter()
                    .any(|h| k.eq_ignore_ascii_case(h))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    } else {
        Vec::new()
    };
    resp.headers = filtered(std::mem::take(&mut resp.headers), allowed_headers, &[]);
    resp.headers.extend(kept);
    if mints_tokens(route_path) {
        return;
    }
    if let Some(auth) = resp.auth.as_mut()
        && (!auth.client_token.is_empty() || !auth.accessor.is_empty())
    {
        tracing::warn!(
            mount = %route_path,
            "dropping the client token a backend wrote into its auth response: the core mints tokens"
        );
        auth.client_token = Zeroizing::new(String::new());
        auth.accessor = String::new();
    }
    if let Some(secret) = resp.secret.as_mut()
        && !secret.lease_id.is_empty()
    {
        tracing::warn!(
            mount = %route_path,
            "dropping the lease id a backend wrote into its secret: the core assigns lease ids"
        );
        secret.lease_id = String::new();
    }
    // As Vault's core: a backend may ask for its answer to be wrapped by naming a TTL; all
    // else it wrote there (token, accessor, times, creation path) is the core's to set.
    if let Some(asked) = resp.wrap_info.take() {
        if !asked.token.is_empty()
            || !asked.accessor.is_empty()
            || !asked.creation_path.is_empty()
            || !asked.creation_time.is_empty()
            || !asked.wrapped_accessor.is_empty()
        {
            tracing::warn!(
                mount = %route_path,
                "dropping the wrapping token a backend answered with: the core wraps responses"
            );
        }
        if asked.ttl > 0 {
            resp.wrap_info = Some(ResponseWrapInfo {
                ttl: asked.ttl,
                ..ResponseWrapInfo::default()
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arca_sdk::{Auth, ResponseWrapInfo, Secret};

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn salt_id_is_vaults() {
        // Vault: hex(sha1(salt + id)).
        assert_eq!(
            salt_id("abc", "def"),
            "1f8ac10f23c5b5bc1167bda84b833e5c057a77d2"
        );
        assert_ne!(salt_id("mount-a", "hvs.x"), salt_id("mount-b", "hvs.x"));
    }

    #[test]
    fn who_sees_which_token() {
        let token = || Some(Zeroizing::new("hvs.secret".to_string()));
        let entry = TokenEntry {
            cubbyhole_id: "cubby".into(),
            ..TokenEntry::default()
        };
        for route in ["sys/", "auth/token/", "identity/"] {
            let seen = backend_token(route, "x", "uuid", token(), Some(&entry));
            assert_eq!(seen.as_deref().map(String::as_str), Some("hvs.secret"));
        }
        let seen = backend_token("cubbyhole/", "cubbyhole", "u", token(), Some(&entry));
        assert_eq!(seen.as_deref().map(String::as_str), Some("cubby"));
        for route in ["secret/", "auth/userpass/", "kvp/"] {
            let seen = backend_token(route, "kv", "uuid-1", token(), Some(&entry)).unwrap();
            assert_eq!(*seen, salt_id("uuid-1", "hvs.secret"));
            assert!(!seen.contains("hvs.secret"));
        }
        assert!(backend_token("secret/", "kv", "u", None, None).is_none());
    }

    #[test]
    fn request_headers_pass_only_when_listed_and_never_the_token() {
        let headers: HashMap<String, Vec<String>> = [
            ("x-custom", "1"),
            ("x-other", "2"),
            ("authorization", "Bearer hvs.secret"),
            ("x-vault-token", "hvs.secret"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
        .collect();
        assert!(passthrough_headers("secret/", headers.clone(), &[]).is_empty());
        let listed = strings(&["X-Custom", "Authorization", "X-VAULT-TOKEN"]);
        let passed = passthrough_headers("secret/", headers.clone(), &listed);
        assert_eq!(passed.len(), 1);
        assert_eq!(passed["x-custom"], vec!["1"]);
        // The core's identity mount may be given Authorization (OpenBao lists it there), never
        // X-Vault-Token.
        let passed = passthrough_headers("identity/", headers, &listed);
        assert_eq!(passed.len(), 2);
        assert_eq!(passed["authorization"], vec!["Bearer hvs.secret"]);
    }

    fn answer() -> Response {
        Response {
            auth: Some(Auth {
                client_token: String::from("hvs.plugin-made").into(),
                accessor: "acc".into(),
                policies: strings(&["default"]),
                ..Auth::default()
            }),
            secret: Some(Secret {
                lease_id: "plugin/lease".into(),
                ..Secret::default()
            }),
            wrap_info: Some(ResponseWrapInfo {
                token: String::from("hvs.wrap").into(),
                accessor: String::new(),
                ttl: 60,
                creation_time: String::new(),
                creation_path: String::new(),
                wrapped_accessor: String::new(),
            }),
            headers: [
                ("X-Allowed".to_string(), vec!["a".to_string()]),
                ("X-Other".to_string(), vec!["b".to_string()]),
            ]
            .into(),
            ..Response::default()
        }
    }

    #[test]
    fn a_backend_answers_without_tokens_of_its_own() {
        let mut resp = answer();
        screen_response("kvp/", &strings(&["x-allowed"]), &mut resp);
        let auth = resp.auth.unwrap();
        assert_eq!(auth.client_token.as_str(), "");
        assert_eq!(auth.accessor, "");
        assert_eq!(auth.policies, strings(&["default"]));
        assert_eq!(resp.secret.unwrap().lease_id, "");
        // Only the wish to be wrapped (its TTL) is kept.
        assert_eq!(
            resp.wrap_info,
            Some(ResponseWrapInfo {
                ttl: 60,
                ..ResponseWrapInfo::default()
            })
        );
        assert_eq!(resp.headers.len(), 1);
        assert_eq!(resp.headers["X-Allowed"], vec!["a"]);

        // No allowed headers: none pass.
        let mut resp = answer();
        screen_response("kvp/", &[], &mut resp);
        assert!(resp.headers.is_empty());

        // The token store mints tokens: its answer stands (headers are screened all the same).
        let mut resp = answer();
        screen_response("auth/token/", &[], &mut resp);
        assert_eq!(resp.auth.unwrap().client_token.as_str(), "hvs.plugin-made");
        assert!(resp.headers.is_empty());
    }
}
