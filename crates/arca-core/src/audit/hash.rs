//! The HMAC every audit device applies to what it records: `hmac-sha256:<hex>` under the
//! device's own salt, over every string of a JSON value (object keys stay readable).

use aws_lc_rs::hmac;
use serde_json::Value;

/// A device's salt, kept in the barrier beside its table entry. Two devices hash the same
/// input differently; `sys/audit-hash/<path>` hashes with the named device's salt.
pub(crate) struct Salt {
    key: hmac::Key,
}

impl Salt {
    /// A salt from its stored bytes.
    pub(crate) fn new(salt: &[u8]) -> Salt {
        Salt {
            key: hmac::Key::new(hmac::HMAC_SHA256, salt),
        }
    }

    /// A salt nobody keeps (the test line written when a device is enabled).
    pub(crate) fn ephemeral() -> Salt {
        Salt::new(uuid::Uuid::new_v4().to_string().as_bytes())
    }

    /// `hmac-sha256:<hex>` of `data`, as Vault's `GetIdentifiedHMAC`.
    pub(crate) fn hmac(&self, data: &str) -> String {
        let tag = hmac::sign(&self.key, data.as_bytes());
        let mut out = String::with_capacity(12 + 64);
        out.push_str("hmac-sha256:");
        out.push_str(&hex::encode(tag.as_ref()));
        out
    }

    /// Replaces every string leaf of `value` by its HMAC, except the strings under a key
    /// named in `keep` (a mount's `audit_non_hmac_*_keys`): the nearest enclosing object
    /// key decides. Numbers, booleans and nulls keep their type.
    pub(crate) fn hash_value(&self, value: &mut Value, keep: &[String]) {
        self.walk(value, keep, false);
    }

    fn walk(&self, value: &mut Value, keep: &[String], kept: bool) {
        match value {
            Value::String(s) if !kept => *s = self.hmac(s),
            Value::Array(items) => {
                for item in items {
                    self.walk(item, keep, kept);
                }
            }
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let kept = keep.iter().any(|name| name == k);
                    self.walk(v, keep, kept);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hmac_matches_a_known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let s = Salt::new(b"Jefe");
        assert_eq!(
            s.hmac("what do ya want for nothing?"),
            "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn strings_are_hashed_keys_and_other_types_are_not() {
        let s = Salt::new(b"salt");
        let mut v = json!({"pw": "x", "n": 5, "b": true, "z": null,
                           "nested": {"a": ["x", 1, null]}, "keep": ["x", {"y": "x"}]});
        s.hash_value(&mut v, &["keep".to_string()]);
        let h = s.hmac("x");
        assert_eq!(v["pw"], json!(h));
        assert_eq!(v["n"], json!(5));
        assert_eq!(v["b"], json!(true));
        assert_eq!(v["z"], Value::Null);
        assert_eq!(v["nested"]["a"], json!([h, 1, null]));
        // Under a kept key, strings stay; a nested object's own key decides again.
        assert_eq!(v["keep"][0], json!("x"));
        assert_eq!(v["keep"][1]["y"], json!(h));
    }
}
