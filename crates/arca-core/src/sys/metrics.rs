//! `sys/metrics`: the server's telemetry in go-metrics' JSON summary or Prometheus' text
//! format, as OpenBao's `handleMetrics` answers it (a raw body, not the JSON envelope).

use arca_sdk::{LogicalError, Operation, RawHttp, Request, Response};

use super::str_field;
use crate::metrics::Metrics;

/// `GET sys/metrics[?format=prometheus]`: 200 with the metrics; an unknown format or a
/// Prometheus request without retention is a 400 in plain text, with OpenBao's words.
pub(super) fn handle(
    metrics: &Metrics,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    match op {
        Operation::Read => {}
        Operation::List => return Err(LogicalError::UnsupportedPath),
        _ => return Err(LogicalError::UnsupportedOperation),
    }
    let format = str_field(&req.data, "format").unwrap_or_default();
    let answer = metrics.answer(&format);
    Ok(Some(Response {
        raw: Some(RawHttp {
            status: answer.status,
            content_type: answer.content_type.to_owned(),
            body: answer.body,
            stream: None,
        }),
        ..Response::default()
    }))
}
