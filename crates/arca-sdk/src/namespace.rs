//! Namespace paths as OpenBao canonicalizes them, shared by the HTTP layer (the
//! `X-Vault-Namespace` header) and the core (namespace names and paths).

/// A namespace path cleaned as OpenBao's `Canonicalize`: leading `/` dropped, empty and `.`
/// segments removed, `..` applied (a leading one kept), a trailing `/` added; `""` for the
/// root. `root` is not special here: a header names the root with it, a name may not.
pub fn canonicalize(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." if segments.last().is_some_and(|s| *s != "..") => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    if segments.is_empty() {
        return String::new();
    }
    let mut p = segments.join("/");
    p.push('/');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaned_as_openbao() {
        assert_eq!(canonicalize("/a//b/"), "a/b/");
        assert_eq!(canonicalize("root"), "root/");
        assert_eq!(canonicalize("/"), "");
        assert_eq!(canonicalize("a/.."), "");
        assert_eq!(canonicalize(".."), "../");
        assert_eq!(canonicalize("a/./b"), "a/b/");
    }
}
