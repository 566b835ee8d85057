//! Policy names: normalisation and the reserved `root` name.
//!
//! OpenBao compares policy names case-insensitively (it lowercases them on every write and
//! lookup). Checking `root` on the raw spelling let `ROOT` slip through on identity groups
//! (CVE-2024-9180 / CVE-2025-5999), so every check here goes through [`normalize_name`].

/// The name of the built-in policy that grants everything.
pub const ROOT_POLICY_NAME: &str = "root";

/// The name of the built-in policy attached to tokens by default.
pub const DEFAULT_POLICY_NAME: &str = "default";

/// Canonical form of a policy name: surrounding whitespace removed, lowercased.
pub fn normalize_name(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Whether `name`, in any spelling, is the reserved `root` policy name.
pub fn is_reserved_name(name: &str) -> bool {
    normalize_name(name) == ROOT_POLICY_NAME
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_and_root_is_reserved_in_any_spelling() {
        let cases: &[(&str, &str, bool)] = &[
            ("root", "root", true),
            ("ROOT", "root", true),
            ("Root", "root", true),
            (" rOoT\t", "root", true),
            ("roots", "roots", false),
            ("MyPol", "mypol", false),
            (" MyPol ", "mypol", false),
            ("default", "default", false),
        ];
        for (input, normal, reserved) in cases {
            assert_eq!(normalize_name(input), *normal, "normalize {input:?}");
            assert_eq!(is_reserved_name(input), *reserved, "reserved {input:?}");
        }
    }
}
