//! The versions this cluster has run, recorded at each activation (`core/versions/<version>`)
//! and listed by `sys/version-history`.

use std::sync::Arc;

use arca_barrier::Barrier;
use arca_sdk::storage::StorageExt;
use arca_sdk::{LogicalError, Storage};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::views::BarrierView;

/// Where the history lives, inside the barrier.
const PREFIX: &str = "core/versions/";

/// One version's record, as Vault's `VaultVersion`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Installed {
    version: String,
    timestamp_installed: DateTime<Utc>,
    #[serde(default)]
    build_date: String,
}

fn view(barrier: &Arc<Barrier>) -> BarrierView {
    BarrierView::new(barrier.clone(), PREFIX)
}

/// Records `version` the first time a node running it becomes active.
pub(crate) async fn record(barrier: &Arc<Barrier>, version: &str) -> Result<(), LogicalError> {
    let view = view(barrier);
    if view.get(version).await?.is_some() {
        return Ok(());
    }
    let entry = Installed {
        version: version.to_string(),
        timestamp_installed: Utc::now(),
        build_date: option_env!("ARCA_BUILD_DATE").unwrap_or("").to_string(),
    };
    view.put_json(version, &entry).await
}

/// `LIST sys/version-history`: the versions by installation time, each with the one before it.
pub(crate) async fn list(barrier: &Arc<Barrier>) -> Result<Value, LogicalError> {
    let view = view(barrier);
    let mut all = Vec::new();
    for key in view.list("").await? {
        if let Some(v) = view.get_json::<Installed>(&key).await? {
            all.push(v);
        }
    }
    all.sort_by_key(|v| v.timestamp_installed);
    let mut key_info = serde_json::Map::new();
    let mut previous: Option<&str> = None;
    for v in &all {
        key_info.insert(
            v.version.clone(),
            json!({
                "commit_date": v.build_date,
                "previous_version": previous,
                "timestamp_installed": v
                    .timestamp_installed
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
            }),
        );
        previous = Some(&v.version);
    }
    let keys: Vec<&str> = all.iter().map(|v| v.version.as_str()).collect();
    Ok(json!({ "keys": keys, "key_info": key_info }))
}
