//! Password policies, stored per namespace under `sys/password_policy/<name>` as OpenBao
//! keeps them (`{"policy": "<HCL>"}`), and the passwords made from them.

use std::sync::Arc;

use arca_policy::PasswordPolicy;
use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A stored password policy: the text as written (base64 already decoded).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordPolicyEntry {
    /// The HCL (or JSON) text.
    pub policy: String,
}

/// Why a password could not be made from a named policy.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// No policy name was given.
    #[error("missing password policy name")]
    MissingName,
    /// No policy of that name in the namespace.
    #[error("policy does not exist")]
    NotFound,
    /// The stored text no longer parses (written by something else).
    #[error("stored password policy configuration failed to parse")]
    Unparsable,
    /// The policy cannot make a password (its charset is too long, or no candidate passed).
    #[error("failed to generate password from policy: {0}")]
    Generation(arca_policy::PasswordPolicyError),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] LogicalError),
}

/// The password policies of every namespace, over the whole barrier.
pub struct PasswordPolicies {
    view: Arc<dyn Storage>,
}

/// Where the namespace whose storage prefix is `ns` keeps its password policies.
fn prefix(ns: &str) -> String {
    format!("{ns}sys/password_policy/")
}

impl PasswordPolicies {
    /// The store over the whole barrier.
    pub fn new(view: Arc<dyn Storage>) -> PasswordPolicies {
        PasswordPolicies { view }
    }

    /// The names of the password policies of the namespace stored under `ns`, sorted.
    pub async fn list(&self, ns: &str) -> Result<Vec<String>, LogicalError> {
        let mut keys = self.view.list(&prefix(ns)).await?;
        keys.sort();
        Ok(keys)
    }

    /// The stored policy `name` of `ns`, if any.
    pub async fn get(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Option<PasswordPolicyEntry>, LogicalError> {
        self.view
            .get_json::<PasswordPolicyEntry>(&format!("{}{name}", prefix(ns)))
            .await
    }

    /// Stores `text` as policy `name` of `ns` (the caller has checked it).
    pub async fn put(&self, ns: &str, name: &str, text: &str) -> Result<(), LogicalError> {
        let entry = PasswordPolicyEntry {
            policy: text.to_string(),
        };
        self.view
            .put_json(&format!("{}{name}", prefix(ns)), &entry)
            .await
    }

    /// Deletes policy `name` of `ns` (nothing to delete is not an error).
    pub async fn delete(&self, ns: &str, name: &str) -> Result<(), LogicalError> {
        Ok(self.view.delete(&format!("{}{name}", prefix(ns))).await?)
    }

    /// A password from policy `name` of the namespace stored under `ns` (its storage
    /// prefix), drawn from the system CSPRNG: what `sys/policies/password/<name>/generate`
    /// answers and engines' `password_policy` use (through their mount's system view).
    pub async fn generate(&self, ns: &str, name: &str) -> Result<Zeroizing<String>, GenerateError> {
        if name.is_empty() {
            return Err(GenerateError::MissingName);
        }
        let entry = self.get(ns, name).await?.ok_or(GenerateError::NotFound)?;
        let policy = PasswordPolicy::parse(&entry.policy).map_err(|_| GenerateError::Unparsable)?;
        policy
            .generate(&mut crate::random::fill)
            .map_err(GenerateError::Generation)
    }
}
