//! `sys/config/cors` and `sys/config/ui/headers[/<header>]`, served by the `HttpConfig`
//! subsystem, with OpenBao's answers and texts.

use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::endpoint::Endpoint;
use super::{bool_field, data, legacy};
use crate::http_config::HttpConfig;

/// `sys/config/cors`'s fields.
pub(super) const CORS_FIELDS: &[(&str, arca_sdk::framework::FieldType)] = &[
    ("allow_credentials", arca_sdk::framework::FieldType::Bool),
    (
        "allowed_headers",
        arca_sdk::framework::FieldType::CommaStringSlice,
    ),
    (
        "allowed_origins",
        arca_sdk::framework::FieldType::CommaStringSlice,
    ),
    ("enabled", arca_sdk::framework::FieldType::Bool),
];
/// `sys/config/ui/headers/<header>`'s fields (`header` is the URL's).
pub(super) const UI_HEADER_FIELDS: &[(&str, arca_sdk::framework::FieldType)] = &[
    ("header", arca_sdk::framework::FieldType::String),
    ("multivalue", arca_sdk::framework::FieldType::Bool),
    ("values", arca_sdk::framework::FieldType::StringSlice),
];

/// A list field as the framework converted it.
fn strings(d: &arca_sdk::JsonMap, k: &str) -> Vec<String> {
    match d.get(k) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Serves one endpoint.
pub(super) async fn handle(
    config: &HttpConfig,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Operation as O;
    let d = &req.data;
    match (e, op) {
        (Endpoint::ConfigCors, O::Read) => {
            let cors = config.cors();
            if !cors.is_enabled() {
                return legacy(json!({ "enabled": false }));
            }
            legacy(json!({
                "enabled": true,
                "allowed_origins": cors.allowed_origins,
                "allowed_headers": cors.allowed_headers,
                "allow_credentials": cors.allow_credentials,
            }))
        }
        (Endpoint::ConfigCors, O::Update | O::Create) => {
            config
                .enable_cors(
                    strings(d, "allowed_origins"),
                    strings(d, "allowed_headers"),
                    bool_field(d, "allow_credentials")?,
                )
                .await?;
            Ok(None)
        }
        (Endpoint::ConfigCors, O::Delete) => {
            config.disable_cors().await?;
            Ok(None)
        }
        (Endpoint::UiHeaders, O::List) => {
            let keys = config.ui_header_names();
            if keys.is_empty() {
                return Ok(None);
            }
            data(json!({ "keys": keys }))
        }
        (Endpoint::UiHeader(header), O::Read) => {
            let values = config.ui_header(&header);
            let Some(first) = values.first() else {
                return Ok(None);
            };
            if bool_field(d, "multivalue")? {
                return data(json!({ "values": values }));
            }
            data(json!({ "value": first }))
        }
        (Endpoint::UiHeader(header), O::Update | O::Create) => {
            let values = strings(d, "values");
            if header.is_empty() || values.is_empty() {
                return Err(LogicalError::bad_request(
                    "header and values must be specified",
                ));
            }
            if header.to_ascii_lowercase().starts_with("x-vault-") {
                return Err(LogicalError::bad_request("X-Vault headers cannot be set"));
            }
            if config.is_custom_response_header(&header) {
                return Err(LogicalError::bad_request(
                    "This header already exists in the server configuration and cannot be set in the UI.",
                ));
            }
            config.set_ui_header(&header, Some(values)).await?;
            let mut resp = Response::default();
            if header.eq_ignore_ascii_case("content-security-policy") {
                resp.warnings.push(
                    "overriding default Content-Security-Policy which is secure by default, proceed with caution"
                        .into(),
                );
            }
            Ok(Some(resp))
        }
        (Endpoint::UiHeader(header), O::Delete) => {
            config.set_ui_header(&header, None).await?;
            Ok(None)
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}
