//! The `X-Vault-Namespace` header: canonicalized here as OpenBao does (leading `/` dropped,
//! cleaned like Go's `path.Clean`, a trailing `/` added; `root` and `/` name the root
//! namespace, `""`) and handed to the core, which resolves it together with any namespace the
//! path itself begins with.

/// What the header asks of a request to `api_path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NamespaceCheck {
    /// The namespace path to resolve (`""` for the root namespace), or `""` for an endpoint
    /// that ignores the header.
    Path(String),
    /// One of the unauthenticated setup endpoints, which refuse any namespace header:
    /// 400 `operation unavailable in namespaces`.
    Unavailable,
}

/// Decides from the header value and the API path.
pub(crate) fn check(header: Option<&str>, api_path: &str) -> NamespaceCheck {
    let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
        return NamespaceCheck::Path(String::new());
    };
    match api_path.trim_end_matches('/') {
        // OpenBao answers these whatever the header names, the root namespace included.
        "sys/health" | "sys/init" | "sys/unseal" => NamespaceCheck::Unavailable,
        "sys/seal-status" | "sys/leader" => NamespaceCheck::Path(String::new()),
        _ => NamespaceCheck::Path(canonical(header)),
    }
}

/// A namespace path as OpenBao resolves a header: canonicalized, and `root` (alone) meaning
/// the root namespace, `""`.
pub(crate) fn canonical(header: &str) -> String {
    let path = arca_sdk::namespace::canonicalize(header);
    if path == "root/" { String::new() } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> NamespaceCheck {
        NamespaceCheck::Path(p.to_string())
    }

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
            assert_eq!(check(Some(h), "secret/data/x"), path(""), "{h:?}");
        }
        assert_eq!(check(None, "secret/data/x"), path(""));
    }

    #[test]
    fn other_namespaces_are_canonical() {
        for (h, want) in [
            ("team-a", "team-a/"),
            ("team-a/", "team-a/"),
            ("/team-a/", "team-a/"),
            ("ROOT", "ROOT/"),
            ("root/child", "root/child/"),
            ("a//b/./c", "a/b/c/"),
            ("../root", "../root/"),
            ("..", "../"),
        ] {
            assert_eq!(check(Some(h), "sys/mounts"), path(want), "{h:?}");
        }
    }

    #[test]
    fn setup_endpoints() {
        for p in ["sys/health", "sys/init", "sys/unseal"] {
            assert_eq!(check(Some("root"), p), NamespaceCheck::Unavailable);
            assert_eq!(check(None, p), path(""));
        }
        assert_eq!(check(Some("team-a"), "sys/seal-status"), path(""));
        assert_eq!(check(Some("team-a"), "sys/leader"), path(""));
    }
}
