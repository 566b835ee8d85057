//! The request path: percent-decoded once, refused when not canonical, and split into the API
//! path the core routes on.
//!
//! OpenBao answers `//` and `.`/`..` segments with a redirect to the cleaned path; Arca refuses
//! them on purpose (as Vault 2.0 does), so that a router, an ACL check and a proxy in front can
//! never disagree on which path a request names.

/// Why a request path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathError {
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// The decoded path is not UTF-8.
    NotUtf8,
    /// An empty segment (`//`), also when spelled `%2F`.
    EmptySegment,
    /// A `.` or `..` segment, also when spelled `%2e`.
    DotSegment,
    /// A NUL byte (`%00`).
    Nul,
}

impl PathError {
    /// The text for the `errors` array.
    pub(crate) fn message(self) -> &'static str {
        match self {
            PathError::BadEscape => "invalid request path: malformed percent-encoding",
            PathError::NotUtf8 => "invalid request path: not valid UTF-8",
            PathError::EmptySegment => "invalid request path: empty segment (//)",
            PathError::DotSegment => "invalid request path: relative segment (. or ..)",
            PathError::Nul => "invalid request path: NUL byte",
        }
    }
}

/// Percent-decodes `raw` strictly and checks that the result is canonical.
pub(crate) fn canonical_path(raw: &str) -> Result<String, PathError> {
    // Most paths have no escape: they are UTF-8 already (a `&str`) and copied as they are.
    let path = if raw.as_bytes().contains(&b'%') {
        let decoded = percent_decode(raw.as_bytes())?;
        String::from_utf8(decoded).map_err(|_| PathError::NotUtf8)?
    } else {
        raw.to_owned()
    };
    check_segments(&path)?;
    Ok(path)
}

/// Refuses a NUL byte, then (in path order) an empty segment other than the last (a trailing
/// `/`, as list requests have) and a `.` or `..` segment. A leading `/` gives one empty first
/// segment; that one is fine.
fn check_segments(path: &str) -> Result<(), PathError> {
    let bytes = path.as_bytes();
    if bytes.contains(&0) {
        return Err(PathError::Nul);
    }
    let rest = bytes.strip_prefix(b"/").unwrap_or(bytes);
    let mut start = 0;
    for end in 0..=rest.len() {
        let last = end == rest.len();
        if !last && rest[end] != b'/' {
            continue;
        }
        match &rest[start..end] {
            b"" if last => {}
            b"" => return Err(PathError::EmptySegment),
            b"." | b".." => return Err(PathError::DotSegment),
            _ => {}
        }
        start = end + 1;
    }
    Ok(())
}

/// The API path (what follows `/v1/`), or `None` when the path is not under `/v1/`.
pub(crate) fn api_path(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/")
}

fn percent_decode(raw: &[u8]) -> Result<Vec<u8>, PathError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hi = raw.get(i + 1).and_then(|b| hex_value(*b));
            let lo = raw.get(i + 2).and_then(|b| hex_value(*b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(PathError::BadEscape),
            }
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_pass_and_decode() {
        assert_eq!(canonical_path("/v1/sys/mounts").unwrap(), "/v1/sys/mounts");
        assert_eq!(canonical_path("/v1/secret/").unwrap(), "/v1/secret/");
        assert_eq!(canonical_path("/v1/a%20b").unwrap(), "/v1/a b");
        assert_eq!(canonical_path("/v1/a%2Fb").unwrap(), "/v1/a/b");
        assert_eq!(
            canonical_path("/v1/a.b/..c/...").unwrap(),
            "/v1/a.b/..c/..."
        );
        assert_eq!(canonical_path("/").unwrap(), "/");
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        let cases = [
            ("/v1/sys//mounts", PathError::EmptySegment),
            ("//v1/sys/mounts", PathError::EmptySegment),
            ("/v1/sys/mounts//", PathError::EmptySegment),
            ("/v1/sys/%2F/mounts", PathError::EmptySegment),
            ("/v1/sys/./mounts", PathError::DotSegment),
            ("/v1/sys/../sys/mounts", PathError::DotSegment),
            ("/v1/sys/%2e%2e/mounts", PathError::DotSegment),
            ("/v1/sys/%2E/mounts", PathError::DotSegment),
            ("/v1/sys/..", PathError::DotSegment),
            ("/v1/a%00b", PathError::Nul),
            ("/v1/a%zz", PathError::BadEscape),
            ("/v1/a%2", PathError::BadEscape),
            ("/v1/a%ff", PathError::NotUtf8),
        ];
        for (raw, want) in cases {
            assert_eq!(canonical_path(raw), Err(want), "{raw}");
        }
    }

    #[test]
    fn api_prefix() {
        assert_eq!(api_path("/v1/sys/health"), Some("sys/health"));
        assert_eq!(api_path("/v1/"), Some(""));
        assert_eq!(api_path("/v1"), None);
        assert_eq!(api_path("/v2/sys/health"), None);
        assert_eq!(api_path("/ui/"), None);
    }
}
