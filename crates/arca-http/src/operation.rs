//! HTTP method and query → the logical operation, as Vault maps them.

use arca_sdk::Operation;
use hyper::Method;

/// Where the request data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataSource {
    /// The query string (GET, LIST, DELETE, HEAD, help).
    Query,
    /// A JSON or form body (POST, PUT).
    Body,
    /// A JSON merge-patch body (PATCH).
    PatchBody,
}

/// The logical side of a request's method and query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Routing {
    /// The operation.
    pub(crate) operation: Operation,
    /// Where the data comes from.
    pub(crate) data: DataSource,
}

/// Why a method/query pair has no operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoutingError {
    /// A method Vault does not serve: 405.
    MethodNotAllowed,
    /// `?list=` with a value that is not a boolean: 400.
    BadListValue,
}

/// Maps a method and the decoded query pairs to an operation.
pub(crate) fn route(method: &Method, query: &[(String, String)]) -> Result<Routing, RoutingError> {
    let first = |key: &str| {
        query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let routing = |operation, data| Ok(Routing { operation, data });
    let known = matches!(
        method.as_str(),
        "GET" | "HEAD" | "LIST" | "POST" | "PUT" | "PATCH" | "DELETE"
    );
    if !known {
        return Err(RoutingError::MethodNotAllowed);
    }
    // Vault answers `?help=<anything>` with the path's help whatever the method.
    if !first("help").is_empty() {
        return routing(Operation::Help, DataSource::Query);
    }
    match method.as_str() {
        "GET" => {
            let list = first("list");
            if !list.is_empty() && parse_go_bool(list).ok_or(RoutingError::BadListValue)? {
                routing(Operation::List, DataSource::Query)
            } else {
                routing(Operation::Read, DataSource::Query)
            }
        }
        "HEAD" => routing(Operation::Read, DataSource::Query),
        "LIST" => routing(Operation::List, DataSource::Query),
        "POST" | "PUT" => routing(Operation::Update, DataSource::Body),
        "PATCH" => routing(Operation::Patch, DataSource::PatchBody),
        "DELETE" => routing(Operation::Delete, DataSource::Query),
        _ => Err(RoutingError::MethodNotAllowed),
    }
}

/// Go's `strconv.ParseBool`, which Vault uses for `?list=`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn op(method: &str, query: &[(&str, &str)]) -> Result<Operation, RoutingError> {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        route(&method, &q(query)).map(|r| r.operation)
    }

    #[test]
    fn methods_map_like_vault() {
        assert_eq!(op("GET", &[]), Ok(Operation::Read));
        assert_eq!(op("HEAD", &[]), Ok(Operation::Read));
        assert_eq!(op("LIST", &[]), Ok(Operation::List));
        assert_eq!(op("POST", &[]), Ok(Operation::Update));
        assert_eq!(op("PUT", &[]), Ok(Operation::Update));
        assert_eq!(op("PATCH", &[]), Ok(Operation::Patch));
        assert_eq!(op("DELETE", &[]), Ok(Operation::Delete));
        assert_eq!(op("OPTIONS", &[]), Err(RoutingError::MethodNotAllowed));
        assert_eq!(
            op("FOO", &[("help", "1")]),
            Err(RoutingError::MethodNotAllowed)
        );
    }

    #[test]
    fn list_and_help_queries() {
        for v in ["true", "1", "t", "True", "TRUE"] {
            assert_eq!(op("GET", &[("list", v)]), Ok(Operation::List), "{v}");
        }
        for v in ["false", "0", "f", ""] {
            assert_eq!(op("GET", &[("list", v)]), Ok(Operation::Read), "{v}");
        }
        assert_eq!(
            op("GET", &[("list", "yes")]),
            Err(RoutingError::BadListValue)
        );
        // `list` means nothing on other methods.
        assert_eq!(op("POST", &[("list", "true")]), Ok(Operation::Update));
        assert_eq!(op("GET", &[("help", "1")]), Ok(Operation::Help));
        assert_eq!(op("GET", &[("help", "0")]), Ok(Operation::Help));
        assert_eq!(op("POST", &[("help", "1")]), Ok(Operation::Help));
        assert_eq!(op("GET", &[("help", "")]), Ok(Operation::Read));
    }
}
