//! `sys/tools/random[/<source>][/<bytes>]` and `sys/tools/hash[/<algorithm>]`: random bytes
//! and digests, worded as OpenBao's.

use arca_sdk::hashing::HashAlg;
use arca_sdk::{JsonMap, LogicalError, Operation, Request, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::endpoint::Endpoint;

/// The most bytes one `sys/tools/random` call returns (OpenBao's `APIMaxBytes`).
const MAX_RANDOM_BYTES: i64 = 128 * 1024;

/// Serves the `tools/*` endpoints.
pub(super) fn handle(
    e: Endpoint,
    op: Operation,
    req: &Request,
) -> Result<Option<Response>, LogicalError> {
    match (e, op) {
        (Endpoint::ToolsRandom(rest), Operation::Update | Operation::Create) => {
            random(&rest, &req.data)
        }
        (Endpoint::ToolsHash(alg), Operation::Update | Operation::Create) => hash(&alg, &req.data),
        _ => Err(LogicalError::UnsupportedOperation),
    }
}

/// The body parameters the path's captures replace (OpenBao warns about them), sorted.
pub(super) fn replaced_by_path(e: &Endpoint, d: &JsonMap) -> Vec<String> {
    let captured: &[&str] = match e {
        Endpoint::ToolsRandom(_) => &["source", "urlbytes"],
        Endpoint::ToolsHash(_) => &["urlalgorithm"],
        _ => &[],
    };
    captured
        .iter()
        .filter(|k| d.get(**k).is_some_and(|v| !v.is_null()))
        .map(|k| k.to_string())
        .collect()
}

/// A string parameter (declared as one, so already converted), or its default.
fn text(d: &JsonMap, k: &str, default: &str) -> String {
    super::str_field(d, k).unwrap_or_else(|| default.to_string())
}

/// Go's `strconv.Atoi` error text for `s`.
fn atoi(s: &str) -> Result<i64, LogicalError> {
    s.parse::<i64>().map_err(|_| {
        LogicalError::bad_request(format!(
            "error parsing url-set byte count: strconv.Atoi: parsing {s:?}: invalid syntax"
        ))
    })
}

/// `tools/random`: `rest` is what follows it in the path (`""`, `<source>`, `<bytes>` or
/// `<source>/<bytes>`). The path's source and byte count win over the body's, as OpenBao's
/// parsing does (so an operator can write ACLs on both).
fn random(rest: &str, d: &JsonMap) -> Result<Option<Response>, LogicalError> {
    let body_bytes = match d.get("bytes") {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 32,
    };
    let (url_source, url_bytes) = match rest.split_once('/') {
        Some((s, b)) => (s, Some(b)),
        None => (rest, None),
    };
    let valid_source = |s: &str| matches!(s, "" | "platform" | "seal" | "all");
    let (source, bytes) = match url_bytes {
        _ if url_source.is_empty() => ("platform", body_bytes),
        None if valid_source(url_source) => (url_source, body_bytes),
        None => ("platform", atoi(url_source)?),
        Some(b) => (url_source, atoi(b)?),
    };
    let format = text(d, "format", "base64");
    if bytes < 1 {
        return Err(LogicalError::bad_request("'bytes' cannot be less than 1"));
    }
    if bytes > MAX_RANDOM_BYTES {
        return Err(LogicalError::bad_request(format!(
            "'bytes' should be less than {MAX_RANDOM_BYTES}"
        )));
    }
    if format != "hex" && format != "base64" {
        return Err(LogicalError::bad_request(format!(
            "unsupported encoding format {format:?}; must be \"hex\" or \"base64\""
        )));
    }
    let warning = match source {
        "" | "platform" | "all" => None,
        // Arca's seals offer no entropy augmentation: OpenBao says so and uses the platform's.
        "seal" => Some("no seal/entropy augmentation available, using platform entropy source"),
        other => {
            return Err(LogicalError::bad_request(format!(
                "unsupported entropy source {other:?}; must be \"platform\" or \"seal\", or \"all\""
            )));
        }
    };
    let mut out = zeroize::Zeroizing::new(vec![0u8; bytes as usize]);
    arca_sdk::random::fill(&mut out);
    let encoded = if format == "hex" {
        hex::encode(out.as_slice())
    } else {
        STANDARD.encode(out.as_slice())
    };
    let mut resp = Response::with_data(
        json!({ "random_bytes": encoded })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );
    if let Some(w) = warning {
        resp.warn(w);
    }
    Ok(Some(resp))
}

/// `tools/hash[/<algorithm>]`: the path's algorithm wins over the body's.
fn hash(url_alg: &str, d: &JsonMap) -> Result<Option<Response>, LogicalError> {
    let input = arca_sdk::b64::decode_std(&text(d, "input", ""))
        .map_err(|e| LogicalError::bad_request(format!("unable to decode input as base64: {e}")))?;
    let format = text(d, "format", "hex");
    let alg = if url_alg.is_empty() {
        text(d, "algorithm", "sha2-256")
    } else {
        url_alg.to_string()
    };
    if format != "hex" && format != "base64" {
        return Err(LogicalError::bad_request(format!(
            "unsupported encoding format {format}; must be \"hex\" or \"base64\""
        )));
    }
    // OpenBao's sys/tools/hash offers SHA-2 and SHA-3 only.
    let sum = match HashAlg::parse(&alg) {
        Some(HashAlg::None | HashAlg::Sha1) | None => None,
        Some(a) => a.hash(&input),
    }
    .ok_or_else(|| LogicalError::bad_request(format!("unsupported algorithm {alg}")))?;
    let encoded = if format == "hex" {
        hex::encode(sum)
    } else {
        STANDARD.encode(sum)
    };
    Ok(Some(Response::with_data(
        json!({ "sum": encoded })
            .as_object()
            .cloned()
            .unwrap_or_default(),
    )))
}
