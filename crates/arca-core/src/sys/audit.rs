//! `sys/audit`, `sys/audit/<path>`, `sys/audit-hash/<path>` and
//! `sys/config/auditing/request-headers[/<header>]`, served by the audit broker.

use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::{Endpoint, bool_field, legacy, str_field};
use crate::audit::{AuditBroker, Options};

/// Runs one audit endpoint.
pub(crate) async fn handle(
    audit: &AuditBroker,
    endpoint: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    let d = &req.data;
    match (endpoint, op) {
        (E::Audit, O::Read) => legacy(audit.list().await?),
        (E::AuditDevice(path), O::Update | O::Create) => {
            let options: Options = match d.get("options") {
                Some(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
                _ => Options::new(),
            };
            audit
                .enable(
                    &path,
                    &str_field(d, "type").unwrap_or_default(),
                    &str_field(d, "description").unwrap_or_default(),
                    options,
                    bool_field(d, "local")?,
                )
                .await?;
            Ok(None)
        }
        (E::AuditDevice(path), O::Delete) => {
            audit.disable(&path).await?;
            Ok(None)
        }
        (E::AuditHash(path), O::Update | O::Create) => {
            let input = str_field(d, "input").unwrap_or_default();
            if input.is_empty() {
                return Err(LogicalError::bad_request(
                    "the \"input\" parameter is empty",
                ));
            }
            legacy(json!({ "hash": audit.hash(&path, &input)? }))
        }
        (E::AuditedHeaders, O::Read) => legacy(json!({ "headers": audit.headers() })),
        (E::AuditedHeader(header), O::Read) => {
            let all = audit.headers();
            match all.get(header.to_ascii_lowercase()) {
                Some(setting) => legacy(json!({ header: setting })),
                None => Err(LogicalError::bad_request("Could not find header in config")),
            }
        }
        (E::AuditedHeader(header), O::Update | O::Create) => {
            if header.is_empty() {
                return Err(LogicalError::bad_request("missing header name"));
            }
            audit.set_header(&header, bool_field(d, "hmac")?).await?;
            Ok(None)
        }
        (E::AuditedHeader(header), O::Delete) => {
            if header.is_empty() {
                return Err(LogicalError::bad_request("missing header name"));
            }
            audit.remove_header(&header).await?;
            Ok(None)
        }
        _ => Err(LogicalError::UnsupportedOperation),
    }
}
