//! `HttpConfig`: the settings the HTTP layer applies around requests and that `sys/` changes —
//! the CORS configuration (`sys/config/cors`, stored at `sys/config/cors` as OpenBao's) and
//! the UI's response headers (`sys/config/ui/headers/*`, stored at `core/ui/config`). Both are
//! loaded at unseal and kept in memory behind an `ArcSwap`, so a request reads them without a
//! lock; they stay in force while sealed, as OpenBao's.

use std::collections::BTreeMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use arca_sdk::LogicalError;
use arca_sdk::http_settings::{CORS_STD_ALLOWED_HEADERS, CorsConfig, UiHeaders};
use arca_sdk::storage::StorageExt;
use serde::{Deserialize, Serialize};

use crate::views::BarrierView;

/// The CORS record's key (in the root view).
const CORS_KEY: &str = "sys/config/cors";
/// The UI headers record's key (in the root view).
const UI_KEY: &str = "core/ui/config";
/// The version marker of both records.
const RECORD_VERSION: u32 = 1;

/// The UI's headers when none is configured (Vault's `NewUIConfig`).
const UI_DEFAULT_HEADERS: &[(&str, &str)] = &[
    ("Service-Worker-Allowed", "/"),
    ("X-Content-Type-Options", "nosniff"),
    (
        "Content-Security-Policy",
        "default-src 'none'; connect-src 'self'; img-src 'self' data:; script-src 'self'; \
         style-src 'unsafe-inline' 'self'; form-action  'none'; frame-ancestors 'none'; \
         font-src 'self'",
    ),
];

/// The stored CORS record.
#[derive(Serialize, Deserialize)]
struct StoredCors {
    #[serde(default)]
    version: u32,
    #[serde(flatten)]
    config: CorsConfig,
}

/// The stored UI headers record: canonical header name → values.
#[derive(Serialize, Deserialize, Default)]
struct StoredUi {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    headers: BTreeMap<String, Vec<String>>,
}

/// Errors of `sys/config/cors` and `sys/config/ui/headers`, with OpenBao's texts.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpConfigError {
    /// No origin given.
    #[error("at least one origin or the wildcard must be provided")]
    NoOrigin,
    /// `*` with other origins.
    #[error("to allow all origins the '*' must be the only value for allowed_origins")]
    WildcardNotAlone,
}

impl From<HttpConfigError> for LogicalError {
    fn from(e: HttpConfigError) -> Self {
        // OpenBao returns these as plain errors, a 500 multierror; bad input is a 400 here,
        // with the same text.
        LogicalError::invalid_input(e)
    }
}

/// The CORS and UI header settings.
pub(crate) struct HttpConfig {
    /// The root view (`sys/config/cors`, `core/ui/config`).
    view: Arc<BarrierView>,
    cors: ArcSwap<CorsConfig>,
    ui: ArcSwap<BTreeMap<String, Vec<String>>>,
    ui_headers: ArcSwap<UiHeaders>,
    /// Header names the listeners' `custom_response_headers` set (canonical): the UI may not.
    custom_header_names: Vec<String>,
    /// Serializes writers.
    write: tokio::sync::Mutex<()>,
}

impl HttpConfig {
    /// Settings over the root `view`; `custom_header_names` are the listeners' configured
    /// response headers.
    pub(crate) fn new(view: Arc<BarrierView>, custom_header_names: Vec<String>) -> HttpConfig {
        HttpConfig {
            view,
            cors: ArcSwap::from_pointee(CorsConfig::default()),
            ui: ArcSwap::from_pointee(BTreeMap::new()),
            ui_headers: ArcSwap::from_pointee(ui_headers(&BTreeMap::new())),
            custom_header_names,
            write: tokio::sync::Mutex::new(()),
        }
    }

    /// Reads both records (at unseal).
    pub(crate) async fn load(&self) -> Result<(), LogicalError> {
        if let Some(stored) = self.view.get_json::<StoredCors>(CORS_KEY).await? {
            self.cors.store(Arc::new(stored.config));
        }
        if let Some(stored) = self.view.get_json::<StoredUi>(UI_KEY).await? {
            self.ui_headers.store(Arc::new(ui_headers(&stored.headers)));
            self.ui.store(Arc::new(stored.headers));
        }
        Ok(())
    }

    /// The CORS configuration.
    pub(crate) fn cors(&self) -> Arc<CorsConfig> {
        self.cors.load_full()
    }

    /// Vault's `CORSConfig.Enable`: Vault's standard headers, then `headers`.
    pub(crate) async fn enable_cors(
        &self,
        origins: Vec<String>,
        headers: Vec<String>,
        allow_credentials: bool,
    ) -> Result<(), LogicalError> {
        if origins.is_empty() {
            return Err(HttpConfigError::NoOrigin.into());
        }
        if origins.len() > 1 && origins.iter().any(|o| o == "*") {
            return Err(HttpConfigError::WildcardNotAlone.into());
        }
        let mut allowed_headers: Vec<String> = CORS_STD_ALLOWED_HEADERS
            .iter()
            .map(|h| (*h).to_owned())
            .collect();
        allowed_headers.extend(headers);
        self.store_cors(CorsConfig {
            enabled: 1,
            allowed_origins: origins,
            allowed_headers,
            allow_credentials,
        })
        .await
    }

    /// Vault's `CORSConfig.Disable`: off, origins and headers forgotten.
    pub(crate) async fn disable_cors(&self) -> Result<(), LogicalError> {
        self.store_cors(CorsConfig::default()).await
    }

    async fn store_cors(&self, config: CorsConfig) -> Result<(), LogicalError> {
        let _guard = self.write.lock().await;
        let stored = StoredCors {
            version: RECORD_VERSION,
            config,
        };
        self.view.put_json(CORS_KEY, &stored).await?;
        self.cors.store(Arc::new(stored.config));
        Ok(())
    }

    /// The headers the UI's answers carry.
    pub(crate) fn ui_headers(&self) -> Arc<UiHeaders> {
        self.ui_headers.load_full()
    }

    /// A configured UI header's values (any case of its name).
    pub(crate) fn ui_header(&self, name: &str) -> Vec<String> {
        let name = canonical(name);
        self.ui.load().get(&name).cloned().unwrap_or_default()
    }

    /// The configured UI header names.
    pub(crate) fn ui_header_names(&self) -> Vec<String> {
        self.ui.load().keys().cloned().collect()
    }

    /// Whether a listener's `custom_response_headers` sets `name`.
    pub(crate) fn is_custom_response_header(&self, name: &str) -> bool {
        let name = canonical(name);
        self.custom_header_names.contains(&name)
    }

    /// Sets a UI header's values (`None` deletes it).
    pub(crate) async fn set_ui_header(
        &self,
        name: &str,
        values: Option<Vec<String>>,
    ) -> Result<(), LogicalError> {
        let _guard = self.write.lock().await;
        let mut headers = self.ui.load().as_ref().clone();
        let name = canonical(name);
        match values {
            Some(v) => headers.insert(name, v),
            None => headers.remove(&name),
        };
        let stored = StoredUi {
            version: RECORD_VERSION,
            headers,
        };
        self.view.put_json(UI_KEY, &stored).await?;
        self.ui_headers.store(Arc::new(ui_headers(&stored.headers)));
        self.ui.store(Arc::new(stored.headers));
        Ok(())
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`.
fn canonical(name: &str) -> String {
    arca_config::canonical_header_name(name)
}

/// The configured headers (first value of each, as Vault's `Header.Get`), then the defaults
/// not configured.
fn ui_headers(configured: &BTreeMap<String, Vec<String>>) -> UiHeaders {
    let mut headers: Vec<(String, String)> = configured
        .iter()
        .filter_map(|(k, v)| v.first().map(|first| (k.clone(), first.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    for (name, value) in UI_DEFAULT_HEADERS {
        if !headers.iter().any(|(k, _)| k == name) {
            headers.push(((*name).to_owned(), (*value).to_owned()));
        }
    }
    UiHeaders { headers }
}
