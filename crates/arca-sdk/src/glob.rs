//! The glob matchers Vault uses, one implementation each: [`glob_match`] is go-glob's `*`
//! anywhere (token role policy globs, allow-lists), [`globbed_strings_match`] is strutil's
//! `GlobbedStringsMatch`, a `*` only at either end (policy parameter values).

/// go-glob's `Glob`: `*` stands for any run of characters (none included), anywhere in the
/// pattern and any number of times; every other character matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let mut middle: Vec<&str> = parts.collect();
    let Some(last) = middle.pop() else {
        // No `*` at all: the whole text must be the pattern.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// strutil's `GlobbedStringsMatch`: a pattern of two characters or more may start and/or end
/// with `*` (`foo-*`, `*-bar`, `*mid*`); anything else, `"*"` alone included, must be equal.
pub fn globbed_strings_match(pattern: &str, text: &str) -> bool {
    if pattern.len() < 2 {
        return pattern == text;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(_), Some(_)) => text.contains(&pattern[1..pattern.len() - 1]),
        (Some(suffix), None) => text.ends_with(suffix),
        (None, Some(prefix)) => text.starts_with(prefix),
        (None, None) => pattern == text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_match_table() {
        let table: &[(&str, &str, bool)] = &[
            ("", "", true),
            ("", "a", false),
            ("*", "", true),
            ("*", "anything", true),
            ("status", "status", true),
            ("status", "statuses", false),
            ("dev-*", "dev-x", true),
            ("dev-*", "dev-", true),
            ("dev-*", "prod", false),
            ("*-ro", "kv-ro", true),
            ("*-ro", "kv-rw", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*/mount_type", "/mount_type", true),
            ("/data/*/x", "/data/a/b/x", true),
            ("/data/*/x", "/data/a/b/y", false),
            ("**", "x", true),
            ("kv2.*", "kv1.read", false),
        ];
        for (pattern, text, want) in table {
            assert_eq!(glob_match(pattern, text), *want, "{pattern:?} {text:?}");
        }
    }

    #[test]
    fn globbed_strings_match_table() {
        let table: &[(&str, &str, bool)] = &[
            ("*", "*", true),
            ("*", "anything", false),
            ("", "", true),
            ("a", "a", true),
            ("**", "x", true),
            ("foo-*", "foo-bar", true),
            ("foo-*", "bar-foo", false),
            ("*-bar", "foo-bar", true),
            ("*-bar", "foo-baz", false),
            ("*mid*", "amidb", true),
            ("*mid*", "amdb", false),
            ("a*b", "a*b", true),
            ("a*b", "axb", false),
        ];
        for (pattern, text, want) in table {
            assert_eq!(
                globbed_strings_match(pattern, text),
                *want,
                "{pattern:?} {text:?}"
            );
        }
    }
}
