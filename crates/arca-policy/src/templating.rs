//! Identity templating in policy paths (`{{identity.entity.id}}`): only the validity check
//! that OpenBao runs when a policy is written. Rendering happens later, per token.

/// Whether `path` holds at least one `{{ ... }}` template. Unbalanced or nested braces are
/// an error, with OpenBao's text.
pub(crate) fn check_templating(path: &str) -> Result<bool, String> {
    const UNBALANCED: &str =
        "failed to validate policy templating: unbalanced templating characters";
    let bytes = path.as_bytes();
    let mut open = false;
    let mut found = false;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(b"{{") {
            if open {
                return Err(UNBALANCED.to_string());
            }
            open = true;
            i += 2;
        } else if bytes[i..].starts_with(b"}}") {
            if !open {
                return Err(UNBALANCED.to_string());
            }
            open = false;
            found = true;
            i += 2;
        } else {
            i += 1;
        }
    }
    if open {
        return Err(UNBALANCED.to_string());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templating_validity() {
        let cases: &[(&str, Result<bool, ()>)] = &[
            ("secret/foo", Ok(false)),
            ("identity/entity/id/{{identity.entity.id}}", Ok(true)),
            (
                "a/{{identity.entity.name}}/b/{{identity.groups.ids.x.name}}",
                Ok(true),
            ),
            ("a/{{foo.bar}}", Ok(true)),
            ("a/{single}", Ok(false)),
            ("a/{{identity.entity.id", Err(())),
            ("a/}}x{{", Err(())),
            ("a/{{x{{y}}}}", Err(())),
            ("a/}}", Err(())),
        ];
        for (path, want) in cases {
            assert_eq!(check_templating(path).map_err(|_| ()), *want, "{path}");
        }
    }
}
