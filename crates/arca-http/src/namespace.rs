//! The `X-Vault-Namespace` header. Arca serves only the root namespace so far: a header naming
//! any other namespace is refused as OpenBao refuses a namespace that does not exist, so a
//! request meant for a namespace never lands in the root one.

/// What the header asks of a request to `api_path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamespaceCheck {
    /// The root namespace (no header, empty, `root`, `/`, ...), or an endpoint that ignores it.
    Root,
    /// One of the unauthenticated setup endpoints, which refuse any namespace header:
    /// 400 `operation unavailable in namespaces`.
    Unavailable,
    /// A namespace other than root: 404 `namespace not found`.
    NotFound,
}

/// Decides from the (trimmed) header value and the API path.
pub(crate) fn check(header: Option<&str>, api_path: &str) -> NamespaceCheck {
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return NamespaceCheck::Root;
    };
    match api_path.trim_end_matches('/') {
        // OpenBao answers these whatever the header names, the root namespace included.
        "sys/health" | "sys/init" | "sys/unseal" => NamespaceCheck::Unavailable,
        "sys/seal-status" | "sys/leader" => NamespaceCheck::Root,
        _ if is_root(header) => NamespaceCheck::Root,
        _ => NamespaceCheck::NotFound,
    }
}

/// Whether a namespace path names the root namespace once canonicalized as OpenBao does
/// (leading `/` dropped, cleaned like Go's `path.Clean`): `""`, `root`, `/root/`, `a/..`.
fn is_root(header: &str) -> bool {
    let mut segments: Vec<&str> = Vec::new();
    for segment in header.split('/') {
        match segment {
            "" | "." => {}
            ".." if segments.last().is_some_and(|s| *s != "..") => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    matches!(segments.as_slice(), [] | ["root"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_spellings() {
        for h in [
            "",
            "  ",
            "root",
            "root/",
            "/root",
            "/",
            "//",
            "./",
            "team-a/..",
            "a/../root",
        ] {
            assert_eq!(
                check(Some(h), "secret/data/x"),
                NamespaceCheck::Root,
                "{h:?}"
            );
        }
        assert_eq!(check(None, "secret/data/x"), NamespaceCheck::Root);
    }

    #[test]
    fn other_namespaces_are_not_found() {
        for h in [
            "team-a",
            "team-a/",
            "/team-a/",
            "ROOT",
            "root/child",
            "../root",
            "..",
        ] {
            assert_eq!(
                check(Some(h), "sys/mounts"),
                NamespaceCheck::NotFound,
                "{h:?}"
            );
        }
    }

    #[test]
    fn setup_endpoints() {
        for p in ["sys/health", "sys/init", "sys/unseal"] {
            assert_eq!(check(Some("root"), p), NamespaceCheck::Unavailable);
            assert_eq!(check(None, p), NamespaceCheck::Root);
        }
        assert_eq!(
            check(Some("team-a"), "sys/seal-status"),
            NamespaceCheck::Root
        );
        assert_eq!(check(Some("team-a"), "sys/leader"), NamespaceCheck::Root);
    }
}
