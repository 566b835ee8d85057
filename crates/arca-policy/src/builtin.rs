//! The built-in `default` and `root` policies.

use crate::name::{DEFAULT_POLICY_NAME, ROOT_POLICY_NAME};
use crate::policy::{Policy, parse_rules};

/// OpenBao 2.7.2's built-in `default` policy, byte for byte as `bao policy read default`
/// returns it on a fresh server.
pub const DEFAULT_POLICY_TEXT: &str = include_str!("default_policy.hcl");

/// The built-in `default` policy, parsed. Two of its paths use identity templates, so the
/// policy is marked templated.
pub fn default_policy() -> Policy {
    // The text is fixed and covered by a test; the fallback keeps the rules-free shell
    // rather than panicking should that ever change.
    let mut policy = parse_rules(DEFAULT_POLICY_TEXT).unwrap_or_else(|_| Policy {
        name: String::new(),
        raw: DEFAULT_POLICY_TEXT.to_string(),
        paths: Vec::new(),
        templated: false,
    });
    policy.name = DEFAULT_POLICY_NAME.to_string();
    policy
}

/// The name of the fixed policy every response-wrapping token carries.
pub const RESPONSE_WRAPPING_POLICY_NAME: &str = "response-wrapping";

/// OpenBao 2.7.2's fixed `response-wrapping` policy, byte for byte as `bao policy read
/// response-wrapping` returns it: a wrapping token may read its cubbyhole's `response`,
/// unwrap itself and revoke itself, nothing else.
pub const RESPONSE_WRAPPING_POLICY_TEXT: &str = "
path \"cubbyhole/response\" {
    capabilities = [\"create\", \"read\"]
}

path \"sys/wrapping/unwrap\" {
    capabilities = [\"update\"]
}

path \"auth/token/revoke-self\" {
    capabilities = [\"update\"]
}
";

/// The built-in `root` policy: no rules, and an ACL built from it allows everything.
pub fn root_policy() -> Policy {
    Policy {
        name: ROOT_POLICY_NAME.to_string(),
        raw: String::new(),
        paths: Vec::new(),
        templated: false,
    }
}
