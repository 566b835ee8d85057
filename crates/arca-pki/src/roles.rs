//! Roles (`role/<name>` in storage): what certificates `issue/<role>` and `sign/<role>` may
//! make. The record's JSON is exactly what `roles/<name>` reads back.

use arca_sdk::framework::{Field, FieldData, FieldType};
use arca_sdk::{JsonMap, Storage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{PkiError, PkiResult};
use crate::issuers::{put_json, read_json};
use crate::keys::KeySpec;

/// A role, with OpenBao's field names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[allow(missing_docs)] // the fields are OpenBao's role fields, documented by OpenBao
#[serde(default)]
pub struct Role {
    pub allow_any_name: bool,
    pub allow_bare_domains: bool,
    pub allow_glob_domains: bool,
    pub allow_globs_in_identity_templates: bool,
    pub allow_ip_sans: bool,
    pub allow_localhost: bool,
    pub allow_subdomains: bool,
    pub allow_token_displayname: bool,
    pub allow_wildcard_certificates: bool,
    pub allowed_domains: Vec<String>,
    pub allowed_domains_template: bool,
    pub allowed_ip_sans_cidr: Vec<String>,
    pub allowed_other_sans: Vec<String>,
    pub allowed_serial_numbers: Vec<String>,
    pub allowed_uri_sans: Vec<String>,
    pub allowed_uri_sans_template: bool,
    pub allowed_user_ids: Vec<String>,
    pub basic_constraints_valid_for_non_ca: bool,
    pub client_flag: bool,
    pub cn_validations: Vec<String>,
    pub code_signing_flag: bool,
    pub country: Vec<String>,
    pub email_protection_flag: bool,
    pub enforce_hostnames: bool,
    pub ext_key_usage: Vec<String>,
    pub ext_key_usage_oids: Vec<String>,
    pub generate_lease: bool,
    pub issuer_ref: String,
    pub key_bits: i64,
    pub key_type: String,
    pub key_usage: Vec<String>,
    pub locality: Vec<String>,
    pub max_ttl: i64,
    pub no_store: bool,
    pub not_after: String,
    pub not_after_bound: String,
    pub not_before: String,
    pub not_before_bound: String,
    pub not_before_duration: i64,
    pub organization: Vec<String>,
    pub ou: Vec<String>,
    pub policy_identifiers: Vec<String>,
    pub postal_code: Vec<String>,
    pub province: Vec<String>,
    pub require_cn: bool,
    pub server_flag: bool,
    pub signature_bits: i64,
    pub street_address: Vec<String>,
    pub ttl: i64,
    pub use_csr_common_name: bool,
    pub use_csr_sans: bool,
    pub use_pss: bool,
}

impl Default for Role {
    fn default() -> Self {
        // OpenBao's defaults (the same as `role_fields`).
        Role {
            allow_any_name: false,
            allow_bare_domains: false,
            allow_glob_domains: false,
            allow_globs_in_identity_templates: false,
            allow_ip_sans: true,
            allow_localhost: true,
            allow_subdomains: false,
            allow_token_displayname: false,
            allow_wildcard_certificates: true,
            allowed_domains: vec![],
            allowed_domains_template: false,
            allowed_ip_sans_cidr: vec![],
            allowed_other_sans: vec![],
            allowed_serial_numbers: vec![],
            allowed_uri_sans: vec![],
            allowed_uri_sans_template: false,
            allowed_user_ids: vec![],
            basic_constraints_valid_for_non_ca: false,
            client_flag: true,
            cn_validations: vec!["email".into(), "hostname".into()],
            code_signing_flag: false,
            country: vec![],
            email_protection_flag: false,
            enforce_hostnames: true,
            ext_key_usage: vec![],
            ext_key_usage_oids: vec![],
            generate_lease: false,
            issuer_ref: "default".into(),
            key_bits: 2048,
            key_type: "rsa".into(),
            key_usage: vec![
                "DigitalSignature".into(),
                "KeyAgreement".into(),
                "KeyEncipherment".into(),
            ],
            locality: vec![],
            max_ttl: 0,
            no_store: false,
            not_after: String::new(),
            not_after_bound: "permit".into(),
            not_before: String::new(),
            not_before_bound: "permit".into(),
            not_before_duration: 30,
            organization: vec![],
            ou: vec![],
            policy_identifiers: vec![],
            postal_code: vec![],
            province: vec![],
            require_cn: true,
            server_flag: true,
            signature_bits: 0,
            street_address: vec![],
            ttl: 0,
            use_csr_common_name: true,
            use_csr_sans: true,
            use_pss: false,
        }
    }
}

/// Every role field: name, type and default (null: the type's zero value).
pub fn role_fields() -> Vec<(&'static str, FieldType, Value)> {
    use FieldType::{Bool, CommaStringSlice, DurationSecond, Int, String as Str};
    vec![
        ("allow_any_name", Bool, Value::Null),
        ("allow_bare_domains", Bool, Value::Null),
        ("allow_glob_domains", Bool, Value::Null),
        ("allow_globs_in_identity_templates", Bool, Value::Null),
        ("allow_ip_sans", Bool, json!(true)),
        ("allow_localhost", Bool, json!(true)),
        ("allow_subdomains", Bool, Value::Null),
        ("allow_token_displayname", Bool, Value::Null),
        ("allow_wildcard_certificates", Bool, json!(true)),
        ("allowed_domains", CommaStringSlice, Value::Null),
        ("allowed_domains_template", Bool, Value::Null),
        ("allowed_ip_sans_cidr", CommaStringSlice, Value::Null),
        ("allowed_other_sans", CommaStringSlice, Value::Null),
        ("allowed_serial_numbers", CommaStringSlice, Value::Null),
        ("allowed_uri_sans", CommaStringSlice, Value::Null),
        ("allowed_uri_sans_template", Bool, Value::Null),
        ("allowed_user_ids", CommaStringSlice, Value::Null),
        ("basic_constraints_valid_for_non_ca", Bool, Value::Null),
        ("client_flag", Bool, json!(true)),
        (
            "cn_validations",
            CommaStringSlice,
            json!(["email", "hostname"]),
        ),
        ("code_signing_flag", Bool, Value::Null),
        ("country", CommaStringSlice, Value::Null),
        ("email_protection_flag", Bool, Value::Null),
        ("enforce_hostnames", Bool, json!(true)),
        ("ext_key_usage", CommaStringSlice, Value::Null),
        ("ext_key_usage_oids", CommaStringSlice, Value::Null),
        ("generate_lease", Bool, Value::Null),
        ("issuer_ref", Str, json!("default")),
        ("key_bits", Int, json!(0)),
        ("key_type", Str, json!("rsa")),
        (
            "key_usage",
            CommaStringSlice,
            json!(["DigitalSignature", "KeyAgreement", "KeyEncipherment"]),
        ),
        ("locality", CommaStringSlice, Value::Null),
        ("max_ttl", DurationSecond, Value::Null),
        ("no_store", Bool, Value::Null),
        ("not_after", Str, Value::Null),
        ("not_after_bound", Str, json!("permit")),
        ("not_before", Str, Value::Null),
        ("not_before_bound", Str, json!("permit")),
        ("not_before_duration", DurationSecond, json!(30)),
        ("organization", CommaStringSlice, Value::Null),
        ("ou", CommaStringSlice, Value::Null),
        ("policy_identifiers", CommaStringSlice, Value::Null),
        ("postal_code", CommaStringSlice, Value::Null),
        ("province", CommaStringSlice, Value::Null),
        ("require_cn", Bool, json!(true)),
        ("server_flag", Bool, json!(true)),
        ("signature_bits", Int, Value::Null),
        ("street_address", CommaStringSlice, Value::Null),
        ("ttl", DurationSecond, Value::Null),
        ("use_csr_common_name", Bool, json!(true)),
        ("use_csr_sans", Bool, json!(true)),
        ("use_pss", Bool, Value::Null),
    ]
}

/// The role fields as framework fields.
pub fn fields() -> Vec<Field> {
    role_fields()
        .into_iter()
        .map(|(name, kind, default)| {
            let f = Field::new(name, kind, name.replace('_', " "));
            if default.is_null() {
                f
            } else {
                f.default_value(default)
            }
        })
        .collect()
}

/// Every key usage name OpenBao accepts, as `x509.KeyUsage` names them.
pub const KEY_USAGES: &[&str] = &[
    "DigitalSignature",
    "ContentCommitment",
    "KeyEncipherment",
    "DataEncipherment",
    "KeyAgreement",
    "CertSign",
    "CRLSign",
    "EncipherOnly",
    "DecipherOnly",
];

impl Role {
    /// Builds a role from a write's fields, validated as OpenBao validates them.
    pub fn from_fields(d: &FieldData) -> Result<Role, arca_sdk::LogicalError> {
        let mut m = JsonMap::new();
        for (name, _, _) in role_fields() {
            m.insert(name.to_string(), d.get(name)?);
        }
        let mut role: Role = serde_json::from_value(Value::Object(m))
            .map_err(|e| arca_sdk::LogicalError::bad_request(e.to_string()))?;
        role.normalize()?;
        Ok(role)
    }

    fn normalize(&mut self) -> PkiResult<()> {
        if self.key_type != "any" {
            let spec = KeySpec::parse(&self.key_type, self.key_bits)?;
            self.key_bits = i64::from(spec.bits());
        }
        if !matches!(self.signature_bits, 0 | 256 | 384 | 512) {
            return Err(PkiError::bad(format!(
                "unsupported signature_bits value: {}",
                self.signature_bits
            )));
        }
        if self.max_ttl > 0 && self.ttl > self.max_ttl {
            return Err(PkiError::bad(
                r#""ttl" value must be less than "max_ttl" value"#,
            ));
        }
        for ku in &mut self.key_usage {
            let norm = ku.trim().to_ascii_lowercase();
            if let Some(k) = KEY_USAGES.iter().find(|k| k.to_ascii_lowercase() == norm) {
                *ku = (*k).to_string();
            }
        }
        let mut cn = Vec::new();
        for v in &self.cn_validations {
            match v.trim().to_ascii_lowercase().as_str() {
                "email" => cn.push("email".to_string()),
                "hostname" => cn.push("hostname".to_string()),
                "disabled" => cn.push("disabled".to_string()),
                other => {
                    return Err(PkiError::bad(format!(
                        "unknown type of validation in cn_validations: {other}"
                    )));
                }
            }
        }
        if cn.iter().any(|v| v == "disabled") && cn.len() > 1 {
            return Err(PkiError::bad(
                "cannot specify 'disabled' along with other cn_validations",
            ));
        }
        cn.sort();
        cn.dedup();
        self.cn_validations = cn;
        if self.generate_lease && self.no_store {
            return Err(PkiError::bad(
                "'no_store' and 'generate_lease' cannot be set at the same time",
            ));
        }
        Ok(())
    }

    /// The role as `roles/<name>` reads it.
    pub fn to_json(&self) -> JsonMap {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => JsonMap::new(),
        }
    }
}

/// The role `name`, if stored.
pub async fn get(s: &dyn Storage, name: &str) -> PkiResult<Option<Role>> {
    read_json(s, &format!("role/{name}"), "role").await
}

/// Stores a role.
pub async fn put(s: &dyn Storage, name: &str, role: &Role) -> PkiResult<()> {
    put_json(s, &format!("role/{name}"), role).await
}

/// The role `sign-verbatim` uses when no role is named: anything goes.
pub fn verbatim() -> Role {
    Role {
        allow_any_name: true,
        enforce_hostnames: false,
        key_type: "any".into(),
        key_bits: 0,
        use_csr_common_name: true,
        use_csr_sans: true,
        allowed_serial_numbers: vec!["*".into()],
        allowed_uri_sans: vec!["*".into()],
        allowed_other_sans: vec!["*".into()],
        allowed_user_ids: vec!["*".into()],
        cn_validations: vec!["disabled".into()],
        generate_lease: false,
        ..Role::default()
    }
}
