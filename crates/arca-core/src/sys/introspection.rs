//! The introspection endpoints: `host-info`, `in-flight-req`, `loggers[/<name>]`,
//! `version-history`, `config/state/sanitized` and `internal/counters/{tokens,entities,requests}`.

use arca_sdk::{LogicalError, Operation, Request, Response};
use serde_json::{Value, json};

use super::endpoint::Endpoint;
use super::{SystemDeps, data, raw_json};
use crate::server_info::{LoggerError, ServerInfo};

/// The server's side, which a bare core (tests, embedders) may lack.
fn server(deps: &SystemDeps) -> Result<&dyn ServerInfo, LogicalError> {
    deps.server_info
        .as_deref()
        .ok_or_else(|| LogicalError::bad_request("this server does not offer introspection"))
}

fn logger_error(e: LoggerError) -> LogicalError {
    LogicalError::bad_request(e.to_string())
}

/// The `level` parameter, required for writes.
fn level(req: &Request) -> Result<String, LogicalError> {
    super::str_field(&req.data, "level")
        .filter(|l| !l.is_empty())
        .ok_or_else(|| LogicalError::bad_request("level is required"))
}

/// Serves the introspection endpoints.
pub(super) async fn handle(
    deps: &SystemDeps,
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    use Endpoint as E;
    use Operation as O;
    match (e, op) {
        (E::HostInfo, O::Read) => {
            let info = tokio::task::spawn_blocking(crate::host_info::collect)
                .await
                .map_err(LogicalError::internal)?;
            data(info)
        }
        (E::InFlightReq, O::Read) => raw_json(200, &server(deps)?.in_flight_requests()),
        (E::ConfigStateSanitized, O::Read) => data(server(deps)?.sanitized_config()),
        (E::VersionHistory, O::List) => {
            data(crate::version_history::list(deps.seal.barrier()).await?)
        }
        (E::CountersTokens, O::Read) => data(json!({
            "counters": { "service_tokens": { "total": deps.tokens.count().await? } }
        })),
        (E::CountersEntities, O::Read) => data(json!({
            "counters": { "entities": { "total": deps.identity.entity_count() } }
        })),
        // OpenBao keeps the path but answers that the request counter is gone.
        (E::CountersRequests, O::Read) => Err(LogicalError::not_found(
            "The functionality has been removed on this path",
        )),
        (E::Loggers, O::Read) => data(json!(server(deps)?.loggers())),
        (E::Loggers, O::Update | O::Create) => {
            let level = level(req)?;
            server(deps)?
                .set_log_level(None, &level)
                .map_err(logger_error)?;
            Ok(None)
        }
        (E::Loggers, O::Delete) => {
            server(deps)?.reset_log_level(None).map_err(logger_error)?;
            Ok(None)
        }
        (E::Logger(name), O::Read) => {
            // An unknown name reads as nothing, as OpenBao's does.
            let all = server(deps)?.loggers();
            let one: serde_json::Map<String, Value> = all
                .get(&name)
                .map(|l| (name.clone(), json!(l)))
                .into_iter()
                .collect();
            data(Value::Object(one))
        }
        (E::Logger(name), O::Update | O::Create) => {
            let level = level(req)?;
            server(deps)?
                .set_log_level(Some(&name), &level)
                .map_err(logger_error)?;
            Ok(None)
        }
        (E::Logger(name), O::Delete) => {
            server(deps)?
                .reset_log_level(Some(&name))
                .map_err(logger_error)?;
            Ok(None)
        }
        (E::Monitor, O::Read) => monitor(deps, req),
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// What a monitor says when the core seals under it, as its last line.
const SEALED_LINE: &[u8] = b"core received sealed state change, ending monitor session";

/// `sys/monitor`: the log from now on at `log_level` (default `info`), in `log_format`
/// (`standard` or `json`), until the client leaves or the core seals.
fn monitor(deps: &SystemDeps, req: &Request) -> Result<Option<Response>, LogicalError> {
    let level = super::str_field(&req.data, "log_level")
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "info".to_string());
    let format = super::str_field(&req.data, "log_format").unwrap_or_else(|| "standard".into());
    let server = deps
        .server_info
        .as_deref()
        .ok_or_else(|| LogicalError::bad_request("streaming not supported"))?;
    // OpenBao checks the level, then the format (the monitor opened for the level closes again
    // when it is dropped); a format is matched without case, but only `json` asks for JSON.
    let lines = server
        .monitor(&level, format == "json")
        .map_err(|_| LogicalError::bad_request("unknown log level"))?;
    if !matches!(format.to_ascii_lowercase().as_str(), "standard" | "json") {
        return Err(LogicalError::bad_request("unknown log format"));
    }
    let body = arca_sdk::body_stream::BodyStream::new(until_sealed(lines, deps.seal.clone()));
    Ok(Some(Response {
        raw: Some(arca_sdk::RawHttp {
            status: 200,
            content_type: String::new(),
            body: Vec::new(),
            stream: Some(body),
        }),
        ..Response::default()
    }))
}

/// `lines` until the core seals (checked every second, as OpenBao does), then [`SEALED_LINE`].
fn until_sealed(
    lines: arca_sdk::body_stream::Chunks,
    seal: std::sync::Arc<crate::seal_ops::Seal>,
) -> impl futures::Stream<Item = Vec<u8>> + Send {
    let ticks = tokio::time::interval(std::time::Duration::from_secs(1));
    futures::stream::unfold(Some((lines, ticks)), move |state| {
        let seal = seal.clone();
        async move {
            let (mut lines, mut ticks) = state?;
            loop {
                tokio::select! {
                    line = futures::StreamExt::next(&mut lines) => {
                        return line.map(|l| (l, Some((lines, ticks))));
                    }
                    _ = ticks.tick() => {
                        if seal.sealed() {
                            return Some((SEALED_LINE.to_vec(), None));
                        }
                    }
                }
            }
        }
    })
}
