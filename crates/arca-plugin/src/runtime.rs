//! The adapter the core plugs in: an `arca_sdk` [`PluginRuntime`] that runs catalog entries as
//! external go-plugin processes through [`crate::host::PluginLauncher`].

use std::path::Path;

use arca_sdk::plugin_catalog::{PluginCatalogEntry, PluginRuntime, resolve_plugin_command};
use arca_sdk::{Factory, LogicalError};
use async_trait::async_trait;

use crate::host::PluginLauncher;

/// Runs external secrets/auth plugins from the plugin directory (backend protocol v5).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExternalPluginRuntime;

/// Splits catalog `env` entries (`"K=V"`) into pairs; an entry without `=` is skipped.
pub use arca_sdk::plugin_catalog::split_env;

#[async_trait]
impl PluginRuntime for ExternalPluginRuntime {
    async fn factory(
        &self,
        entry: &PluginCatalogEntry,
        plugin_directory: &Path,
    ) -> Result<Factory, LogicalError> {
        let command = resolve_plugin_command(plugin_directory, &entry.command)
            .map_err(|e| LogicalError::internal(e.to_string()))?;
        let sha256: [u8; 32] = entry
            .sha256
            .as_slice()
            .try_into()
            .map_err(|_| LogicalError::internal("checksums did not match"))?;
        Ok(
            PluginLauncher::new(command, entry.args.clone(), split_env(&entry.env), sha256)
                .factory(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_entries_split_on_the_first_equals() {
        let env = vec!["A=1".to_string(), "B=x=y".to_string(), "bad".to_string()];
        assert_eq!(
            split_env(&env),
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "x=y".to_string())
            ]
        );
    }
}
