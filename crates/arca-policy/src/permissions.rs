//! What the ACL keeps per distinct path pattern: the rules of every policy that names the
//! pattern, merged the way OpenBao merges them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::capabilities::Capabilities;
use crate::policy::PathRules;

/// Merged permissions of one path pattern.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Permissions {
    pub capabilities: Capabilities,
    pub min_wrapping_ttl: Option<Duration>,
    pub max_wrapping_ttl: Option<Duration>,
    pub allowed_parameters: BTreeMap<String, Vec<Value>>,
    pub denied_parameters: BTreeMap<String, Vec<Value>>,
    pub required_parameters: Vec<String>,
    pub mfa_methods: Vec<String>,
    pub pagination_limit: Option<u64>,
    pub response_keys_filter_path: Option<String>,
    /// Per capability bit, the policies that granted it.
    pub granting_policies: BTreeMap<u32, Vec<String>>,
}

impl Permissions {
    /// The permissions of a single rule of policy `policy`.
    pub(crate) fn from_rule(policy: &str, rule: &PathRules) -> Permissions {
        let mut perms = Permissions {
            capabilities: rule.capabilities,
            min_wrapping_ttl: rule.min_wrapping_ttl,
            max_wrapping_ttl: rule.max_wrapping_ttl,
            allowed_parameters: rule.allowed_parameters.clone(),
            denied_parameters: rule.denied_parameters.clone(),
            required_parameters: rule.required_parameters.clone(),
            mfa_methods: rule.mfa_methods.clone(),
            pagination_limit: rule.pagination_limit,
            response_keys_filter_path: rule.list_scan_response_keys_filter_path.clone(),
            granting_policies: BTreeMap::new(),
        };
        perms.add_granting(policy, rule.capabilities);
        perms
    }

    fn add_granting(&mut self, policy: &str, capabilities: Capabilities) {
        for bit in capabilities.single_bits() {
            let names = self.granting_policies.entry(bit.bits()).or_default();
            if !names.iter().any(|n| n == policy) {
                names.push(policy.to_string());
            }
        }
    }

    /// Folds another rule for the same pattern into `self`:
    /// * an existing `deny` stays and ignores the new rule;
    /// * a new `deny` replaces everything (parameters dropped);
    /// * otherwise capabilities are OR'd, the smaller of two wrapping TTL bounds wins,
    ///   parameter value lists are concatenated (an empty list, "any value", absorbs the
    ///   other), required parameters and MFA methods are unioned, the smaller pagination
    ///   limit wins and the first response filter wins.
    pub(crate) fn merge(&mut self, policy: &str, rule: &PathRules) {
        if self.capabilities.intersects(Capabilities::DENY) {
            return;
        }
        if rule.capabilities.intersects(Capabilities::DENY) {
            self.capabilities = Capabilities::DENY;
            self.allowed_parameters.clear();
            self.denied_parameters.clear();
            return;
        }
        self.capabilities |= rule.capabilities;
        self.add_granting(policy, rule.capabilities);

        self.max_wrapping_ttl = smaller(self.max_wrapping_ttl, rule.max_wrapping_ttl);
        self.min_wrapping_ttl = smaller(self.min_wrapping_ttl, rule.min_wrapping_ttl);

        merge_parameters(&mut self.allowed_parameters, &rule.allowed_parameters);
        merge_parameters(&mut self.denied_parameters, &rule.denied_parameters);

        for p in &rule.required_parameters {
            if !self.required_parameters.contains(p) {
                self.required_parameters.push(p.clone());
            }
        }
        for m in &rule.mfa_methods {
            if !self.mfa_methods.contains(m) {
                self.mfa_methods.push(m.clone());
            }
        }
        self.pagination_limit = match (self.pagination_limit, rule.pagination_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.response_keys_filter_path.is_none() {
            self.response_keys_filter_path = rule.list_scan_response_keys_filter_path.clone();
        }
    }
}

fn smaller(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn merge_parameters(into: &mut BTreeMap<String, Vec<Value>>, from: &BTreeMap<String, Vec<Value>>) {
    for (key, values) in from {
        match into.get_mut(key) {
            Some(existing) if existing.is_empty() => {}
            Some(_) if values.is_empty() => {
                into.insert(key.clone(), Vec::new());
            }
            Some(existing) => {
                let mut merged = values.clone();
                merged.append(existing);
                *existing = merged;
            }
            None => {
                into.insert(key.clone(), values.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(caps: Capabilities) -> PathRules {
        let mut r = PathRules::new("p");
        r.capabilities = caps;
        r
    }

    #[test]
    fn deny_wins_in_either_order() {
        let mut a = Permissions::from_rule("a", &rule(Capabilities::READ));
        a.merge("b", &rule(Capabilities::DENY));
        assert_eq!(a.capabilities, Capabilities::DENY);
        a.merge("c", &rule(Capabilities::UPDATE));
        assert_eq!(a.capabilities, Capabilities::DENY);

        let mut b = Permissions::from_rule("a", &rule(Capabilities::DENY));
        b.merge("b", &rule(Capabilities::READ | Capabilities::SUDO));
        assert_eq!(b.capabilities, Capabilities::DENY);
    }

    #[test]
    fn merges_capabilities_ttls_and_parameters() {
        let mut r1 = rule(Capabilities::READ);
        r1.max_wrapping_ttl = Some(Duration::from_secs(90));
        r1.min_wrapping_ttl = Some(Duration::from_secs(10));
        r1.allowed_parameters.insert("a".into(), vec![json!("x")]);
        r1.allowed_parameters.insert("b".into(), vec![json!("y")]);
        r1.allowed_parameters.insert("c".into(), vec![]);
        r1.required_parameters = vec!["r1".into()];
        r1.pagination_limit = Some(50);
        let mut r2 = rule(Capabilities::UPDATE);
        r2.max_wrapping_ttl = Some(Duration::from_secs(60));
        r2.min_wrapping_ttl = Some(Duration::from_secs(20));
        r2.allowed_parameters.insert("a".into(), vec![json!("z")]);
        r2.allowed_parameters.insert("b".into(), vec![]);
        r2.allowed_parameters.insert("c".into(), vec![json!("q")]);
        r2.allowed_parameters.insert("d".into(), vec![json!(1)]);
        r2.required_parameters = vec!["r1".into(), "r2".into()];
        r2.pagination_limit = Some(20);

        let mut p = Permissions::from_rule("one", &r1);
        p.merge("two", &r2);
        assert_eq!(p.capabilities, Capabilities::READ | Capabilities::UPDATE);
        assert_eq!(p.max_wrapping_ttl, Some(Duration::from_secs(60)));
        assert_eq!(p.min_wrapping_ttl, Some(Duration::from_secs(10)));
        assert_eq!(p.allowed_parameters["a"], vec![json!("z"), json!("x")]);
        assert_eq!(p.allowed_parameters["b"], Vec::<Value>::new());
        assert_eq!(p.allowed_parameters["c"], Vec::<Value>::new());
        assert_eq!(p.allowed_parameters["d"], vec![json!(1)]);
        assert_eq!(
            p.required_parameters,
            vec!["r1".to_string(), "r2".to_string()]
        );
        assert_eq!(p.pagination_limit, Some(20));
        assert_eq!(
            p.granting_policies[&Capabilities::READ.bits()],
            vec!["one".to_string()]
        );
        assert_eq!(
            p.granting_policies[&Capabilities::UPDATE.bits()],
            vec!["two".to_string()]
        );
    }
}
