//! Plugin versions as OpenBao reads them (hashicorp/go-version's grammar): an optional `v`,
//! dot-separated numbers, an optional pre-release and build metadata. The canonical form pads
//! to three numbers and drops leading zeros, with a `v` in front (`01.2` → `v1.2.0`).

use std::cmp::Ordering;

/// A parsed plugin version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginVersion {
    segments: Vec<u64>,
    pre: String,
    metadata: String,
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '~'
}

/// Dot-separated identifiers made of `[0-9A-Za-z-~]`, none empty.
fn dotted_idents(s: &str) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(ident_char))
}

impl PluginVersion {
    /// Parses `text`; the error is OpenBao's full message.
    pub fn parse(text: &str) -> Result<PluginVersion, String> {
        let malformed = || {
            format!("version {text:?} is not a valid semantic version: malformed version: {text}")
        };
        let body = text.strip_prefix('v').unwrap_or(text);
        let (rest, metadata) = match body.split_once('+') {
            Some((r, m)) if dotted_idents(m) => (r, m.to_string()),
            Some(_) => return Err(malformed()),
            None => (body, String::new()),
        };
        // The numbers run up to the first character that is neither digit nor dot.
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (nums, tail) = rest.split_at(num_end);
        // A trailing dot belongs to nothing.
        if nums.is_empty() || nums.ends_with('.') || nums.starts_with('.') {
            return Err(malformed());
        }
        let mut segments = Vec::new();
        for part in nums.split('.') {
            if part.is_empty() {
                return Err(malformed());
            }
            segments.push(part.parse::<u64>().map_err(|_| malformed())?);
        }
        let pre = if tail.is_empty() {
            String::new()
        } else {
            let p = tail.strip_prefix('-').unwrap_or(tail);
            // Without a dash the pre-release must start with a letter (`1.0beta`).
            let needs_letter = !tail.starts_with('-');
            if !dotted_idents(p)
                || (needs_letter && !p.starts_with(|c: char| c.is_ascii_alphabetic() || c == '-'))
            {
                return Err(malformed());
            }
            p.to_string()
        };
        while segments.len() < 3 {
            segments.push(0);
        }
        Ok(PluginVersion {
            segments,
            pre,
            metadata,
        })
    }

    /// The canonical text with a leading `v`.
    pub fn canonical(&self) -> String {
        let nums: Vec<String> = self.segments.iter().map(|n| n.to_string()).collect();
        let mut s = format!("v{}", nums.join("."));
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    /// The build metadata (`builtin` in `v1.0.0+builtin`).
    pub fn metadata(&self) -> &str {
        &self.metadata
    }

    /// Whether the metadata names a builtin (`+builtin`, `+builtin.bao`), which registrations
    /// may not use.
    pub fn is_builtin(&self) -> bool {
        self.metadata == "builtin" || self.metadata.starts_with("builtin.")
    }
}

fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut ia = a.split('.');
    let mut ib = b.split('.');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (Some(_), None) => return Ordering::Greater,
            (None, Some(_)) => return Ordering::Less,
            (Some(x), Some(y)) => {
                let ord = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(n), Ok(m)) => n.cmp(&m),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

impl PartialOrd for PluginVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PluginVersion {
    /// Precedence: the numbers, then a release above its pre-releases; metadata breaks ties
    /// only so the order is total.
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.segments.len().max(other.segments.len());
        for i in 0..n {
            let a = self.segments.get(i).copied().unwrap_or(0);
            let b = other.segments.get(i).copied().unwrap_or(0);
            if a != b {
                return a.cmp(&b);
            }
        }
        compare_pre(&self.pre, &other.pre).then_with(|| self.metadata.cmp(&other.metadata))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn canon(s: &str) -> String {
        PluginVersion::parse(s).unwrap().canonical()
    }

    #[test]
    fn canonical_forms_as_openbao_stores_them() {
        assert_eq!(canon("1.0.0"), "v1.0.0");
        assert_eq!(canon("v1.1.0"), "v1.1.0");
        assert_eq!(canon("1.0"), "v1.0.0");
        assert_eq!(canon("2"), "v2.0.0");
        assert_eq!(canon("01.02.03"), "v1.2.3");
        assert_eq!(canon("1.2.3.4"), "v1.2.3.4");
        assert_eq!(canon("v1.2.3-beta.1+meta"), "v1.2.3-beta.1+meta");
        assert_eq!(canon("1.0beta"), "v1.0.0-beta");
    }

    #[test]
    fn malformed_versions_use_openbaos_text() {
        for bad in [
            "notsemver",
            " 1.0.0",
            "V1.0.0",
            "",
            "v",
            "1.",
            "1..2",
            "1.0.0+",
            "1.0-",
        ] {
            assert!(PluginVersion::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            PluginVersion::parse("bad").unwrap_err(),
            "version \"bad\" is not a valid semantic version: malformed version: bad"
        );
    }

    #[test]
    fn ordering_and_builtin_metadata() {
        let v = |s: &str| PluginVersion::parse(s).unwrap();
        assert!(v("1.10.0") > v("1.9.9"));
        assert!(v("1.0.0") > v("1.0.0-rc.1"));
        assert!(v("1.0.0-rc.2") > v("1.0.0-rc.1"));
        assert!(v("1.0.0-rc.10") > v("1.0.0-rc.9"));
        assert!(v("1.0.0-beta") > v("1.0.0-1"));
        assert!(v("v1.0.0+builtin").is_builtin());
        assert!(v("v2.7.2+builtin.bao").is_builtin());
        assert!(!v("v1.0.0+foo").is_builtin());
    }
}
