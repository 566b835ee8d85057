//! Which names a role allows: OpenBao's `validateNames` / `validateCommonName` rules for common
//! names, DNS and email SANs, wildcards, localhost, bare domains, subdomains and globs.

use std::sync::LazyLock;

use regex::Regex;

use crate::roles::Role;

const LABEL: &str = r"([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])";

static HOSTNAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"^(\*\.)?({LABEL}\.)*{LABEL}\.?$")).ok());

static LEFT_WILD_LABEL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!(r"^(\*|\*{LABEL}|{LABEL}\*|{LABEL}\*{LABEL})$")).ok());

/// Whether `name` has the shape of a DNS name (OpenBao's `hostnameRegex`).
pub fn is_hostname(name: &str) -> bool {
    name.len() <= 253 && HOSTNAME.as_ref().is_some_and(|r| r.is_match(name))
}

fn is_left_wild_label(label: &str) -> bool {
    LEFT_WILD_LABEL.as_ref().is_some_and(|r| r.is_match(label))
}

/// The first of `names` the role does not allow, if any.
pub fn first_disallowed<'a>(
    role: &Role,
    display_name: &str,
    names: &'a [String],
) -> Option<&'a str> {
    names
        .iter()
        .find(|n| !allowed(role, display_name, n))
        .map(String::as_str)
}

/// Whether the common name passes the role's `cn_validations` and name rules.
pub fn common_name_allowed(role: &Role, display_name: &str, cn: &str) -> bool {
    if role.cn_validations.len() == 1 && role.cn_validations[0] == "disabled" {
        return true;
    }
    if !allowed(role, display_name, cn) {
        return false;
    }
    if role.cn_validations.is_empty() {
        return true;
    }
    if cn.contains('@') {
        role.cn_validations.iter().any(|v| v == "email")
    } else {
        role.cn_validations.iter().any(|v| v == "hostname")
    }
}

fn allowed(role: &Role, display_name: &str, name: &str) -> bool {
    let mut reduced = name.to_string();
    let mut email_domain = reduced.clone();
    let mut wildcard_label = String::new();
    let mut is_email = false;
    let mut is_wildcard = false;
    if reduced.contains('@') {
        let parts: Vec<String> = reduced.split('@').map(str::to_string).collect();
        if parts.len() != 2 {
            return false;
        }
        reduced = parts[1].clone();
        email_domain = parts[1].clone();
        is_email = true;
    }
    if reduced.contains('*') {
        is_wildcard = true;
        if !role.allow_wildcard_certificates {
            return false;
        }
        if reduced.matches('*').count() > 1 {
            return false;
        }
        match reduced.split_once('.') {
            None => {
                wildcard_label = reduced.clone();
                reduced = String::new();
            }
            Some((l, rest)) => {
                if rest.contains('*') {
                    return false;
                }
                wildcard_label = l.to_string();
                reduced = rest.to_string();
            }
        }
    }
    if is_email && is_wildcard {
        return false;
    }
    if role.enforce_hostnames {
        if !reduced.is_empty() && (!reduced.is_ascii() || !is_hostname(&reduced)) {
            return false;
        }
        if is_wildcard && !is_left_wild_label(&wildcard_label) {
            return false;
        }
    }
    if role.allow_any_name {
        return true;
    }
    if role.allow_localhost {
        if reduced == "localhost"
            || reduced == "localdomain"
            || (is_email && (email_domain == "localhost" || email_domain == "localdomain"))
        {
            return true;
        }
        if role.allow_subdomains
            && (reduced.ends_with(".localhost")
                || (is_wildcard && reduced == "localhost")
                || reduced.ends_with(".localdomain")
                || (is_wildcard && reduced == "localdomain"))
        {
            return true;
        }
    }
    if role.allow_token_displayname {
        if name == display_name {
            return true;
        }
        if role.allow_subdomains
            && (reduced.ends_with(&format!(".{display_name}"))
                || (is_wildcard && reduced == display_name))
        {
            return true;
        }
    }
    for domain in role.allowed_domains.iter().filter(|d| !d.is_empty()) {
        if role.allow_bare_domains
            && (name.eq_ignore_ascii_case(domain)
                || (is_email && email_domain.eq_ignore_ascii_case(domain)))
        {
            return true;
        }
        if role.allow_subdomains
            && (reduced.ends_with(&format!(".{domain}"))
                || (is_wildcard && reduced.eq_ignore_ascii_case(domain)))
        {
            return true;
        }
        if role.allow_glob_domains
            && domain.contains('*')
            && arca_sdk::glob::glob_match(domain, name)
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_openbao_judges_them() {
        let role = Role {
            allowed_domains: vec!["example.com".into(), "*.glob.org".into()],
            allow_subdomains: true,
            allow_glob_domains: true,
            ..Role::default()
        };
        let cases = [
            ("a.example.com", true),
            ("example.com", false),
            ("*.example.com", true),
            ("evil.org", false),
            ("x.glob.org", true),
            ("localhost", true),
            ("bad_name.example.com", false),
            ("a@b.example.com", true),
        ];
        for (n, want) in cases {
            assert_eq!(allowed(&role, "", n), want, "{n}");
        }
    }
}
