//! The HTTP options of a `listener "tcp"` stanza: who may tell Arca the client's address
//! (`x_forwarded_for_*`, `proxy_protocol_*`), the headers added to answers by status
//! (`custom_response_headers`), and what the unauthenticated status endpoints leave out
//! (`redact_*`). Checked with OpenBao's texts.

use std::collections::BTreeMap;

use arca_sdk::cidr::Cidr;

use crate::decode::Site;
use crate::error::ConfigError;
use crate::tree::{Entry, Item, Node, Value};

/// The listener keys this module reads.
pub(crate) const KEYS: &[&str] = &[
    "custom_response_headers",
    "proxy_protocol_authorized_addrs",
    "proxy_protocol_behavior",
    "redact_addresses",
    "redact_cluster_name",
    "redact_version",
    "x_forwarded_for_authorized_addrs",
    "x_forwarded_for_client_cert_decoders",
    "x_forwarded_for_client_cert_header",
    "x_forwarded_for_client_cert_keep_not_forwarded",
    "x_forwarded_for_client_cert_keep_unauthorized",
    "x_forwarded_for_hop_skips",
    "x_forwarded_for_reject_not_authorized",
    "x_forwarded_for_reject_not_present",
];

/// The decoders `x_forwarded_for_client_cert_decoders` may name (OpenBao's).
const CLIENT_CERT_DECODERS: &[&str] = &["RFC9440", "URL", "PEM"];

/// What a listener does with a PROXY protocol header (`proxy_protocol_behavior`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocolBehavior {
    /// `use_always`: a header, when sent, names the client whoever sent it.
    UseAlways,
    /// `allow_authorized`: a header names the client when the connection comes from
    /// `proxy_protocol_authorized_addrs`; from elsewhere it is read and ignored.
    AllowAuthorized,
    /// `deny_unauthorized`: a connection from outside `proxy_protocol_authorized_addrs` is
    /// closed.
    DenyUnauthorized,
}

/// The HTTP options of one listener. The default is what Vault does without them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListenerHttpOptions {
    /// Peers whose `X-Forwarded-For` is believed; empty turns the header off.
    pub x_forwarded_for_authorized_addrs: Vec<Cidr>,
    /// How many addresses to skip from the end of the `X-Forwarded-For` chain.
    pub x_forwarded_for_hop_skips: u64,
    /// Refuse (400) a request with `X-Forwarded-For` from a peer not authorized.
    pub x_forwarded_for_reject_not_authorized: bool,
    /// Refuse (400) a request without `X-Forwarded-For`.
    pub x_forwarded_for_reject_not_present: bool,
    /// The header a TLS-terminating proxy puts the client's certificate in; empty: none.
    pub x_forwarded_for_client_cert_header: String,
    /// How that header's value is decoded to base64 DER, in order (`RFC9440`, `URL`, `PEM`).
    pub x_forwarded_for_client_cert_decoders: Vec<String>,
    /// Keep the certificate headers of a request without `X-Forwarded-For`.
    pub x_forwarded_for_client_cert_keep_not_forwarded: bool,
    /// Keep the certificate headers of a request from a peer not authorized.
    pub x_forwarded_for_client_cert_keep_unauthorized: bool,
    /// Headers added to answers, by `default`, `Nxx` or an exact status code; names in Go's
    /// canonical form, several values joined with `; ` (Vault's `ParseCustomResponseHeaders`).
    pub custom_response_headers: BTreeMap<String, Vec<(String, String)>>,
    /// The PROXY protocol, when set.
    pub proxy_protocol_behavior: Option<ProxyProtocolBehavior>,
    /// The proxies `allow_authorized` and `deny_unauthorized` trust.
    pub proxy_protocol_authorized_addrs: Vec<Cidr>,
    /// Leave the leader's and the nodes' addresses out of `sys/leader` and `sys/ha-status`.
    pub redact_addresses: bool,
    /// Leave `cluster_name` out of `sys/health` and `sys/seal-status`.
    pub redact_cluster_name: bool,
    /// Leave the version out of `sys/health`, `sys/seal-status`, `sys/leader` and
    /// `sys/ha-status`.
    pub redact_version: bool,
}

/// Whether `c` may be part of an HTTP token (a header name).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-custom-ui` → `X-Custom-Ui`. A name with a
/// character outside a token is returned as it is, as Go does.
pub fn canonical_header_name(name: &str) -> String {
    if !name.chars().all(is_token_char) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// A list of addresses as `parseutil.ParseAddrs` takes it: a list, or a comma-separated
/// string.
fn addrs(site: &Site<'_>, node: &Node, what: &str) -> Result<Vec<Cidr>, ConfigError> {
    let items: Vec<String> = match &node.value {
        Value::Str(s) => s
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Value::List(items) => items
            .iter()
            .map(|n| site.string(n))
            .collect::<Result<_, _>>()?,
        other => {
            return Err(site.error(format!(
                "error parsing {what}: expected a list or a string, got {}",
                other.describe()
            )));
        }
    };
    if items.is_empty() {
        let raw = match &node.value {
            Value::Str(s) => s.clone(),
            _ => String::new(),
        };
        return Err(site.error(format!(
            "error parsing {what}: unable to parse addresses from {raw}"
        )));
    }
    items
        .iter()
        .map(|a| {
            Cidr::parse(a).map_err(|e| {
                site.error(format!(
                    "error parsing {what}: error parsing address {a:?}: {e}"
                ))
            })
        })
        .collect()
}

/// Reads `custom_response_headers` (a block or an object of status → header → list).
fn custom_headers(
    site: &Site<'_>,
    entry: &Entry,
) -> Result<BTreeMap<String, Vec<(String, String)>>, ConfigError> {
    let fail = |m: &str| site.error(format!("failed to parse custom_response_headers: {m}"));
    let mut statuses: Vec<(String, Node)> = Vec::new();
    match &entry.item {
        Item::Block(block) => {
            for e in &block.body {
                match &e.item {
                    Item::Value(node) => statuses.push((e.key.clone(), node.clone())),
                    Item::Block(b) => {
                        let fields = b
                            .body
                            .iter()
                            .filter_map(|x| match &x.item {
                                Item::Value(n) => Some(crate::tree::Field {
                                    key: x.key.clone(),
                                    line: x.line,
                                    node: n.clone(),
                                }),
                                Item::Block(_) => None,
                            })
                            .collect();
                        statuses.push((
                            e.key.clone(),
                            Node {
                                line: e.line,
                                value: Value::Map(fields),
                            },
                        ));
                    }
                }
            }
        }
        Item::Value(Node {
            value: Value::Map(fields),
            ..
        }) => {
            for f in fields {
                statuses.push((f.key.clone(), f.node.clone()));
            }
        }
        Item::Value(_) => {
            return Err(fail(
                "response headers were not configured correctly. please make sure they're in a slice of maps",
            ));
        }
    }
    let mut out = BTreeMap::new();
    for (status, node) in statuses {
        let Value::Map(headers) = &node.value else {
            return Err(fail(
                "response headers were not configured correctly. please make sure they're in a slice of maps",
            ));
        };
        if !valid_status(&status) {
            return Err(fail(&format!(
                "invalid status code found in the server configuration: {status}"
            )));
        }
        let mut list = Vec::new();
        for h in headers {
            let Value::List(values) = &h.node.value else {
                return Err(fail("headers must be given in a list of strings"));
            };
            let mut parts = Vec::new();
            for v in values {
                let Value::Str(s) = &v.value else {
                    return Err(fail(&format!(
                        "found a non-string header value: {}",
                        v.value.describe()
                    )));
                };
                let s = s.trim();
                if !s.is_empty() {
                    parts.push(s.to_owned());
                }
            }
            let name = canonical_header_name(&h.key);
            // As OpenBao's core: X-Vault-* and empty values are dropped (with a warning there).
            if name.starts_with("X-Vault-") || parts.is_empty() {
                continue;
            }
            list.push((name, parts.join("; ")));
        }
        out.insert(status, list);
    }
    Ok(out)
}

/// Vault's `IsValidStatusCode`: `default`, `1xx`..`5xx`, or 100..=599.
fn valid_status(s: &str) -> bool {
    matches!(s, "default" | "1xx" | "2xx" | "3xx" | "4xx" | "5xx")
        || s.parse::<i64>().is_ok_and(|n| (100..600).contains(&n))
}

impl ListenerHttpOptions {
    /// Reads one of [`KEYS`].
    pub(crate) fn read(&mut self, site: &Site<'_>, entry: &Entry) -> Result<(), ConfigError> {
        let key = entry.key.as_str();
        if key == "custom_response_headers" {
            self.custom_response_headers = custom_headers(site, entry)?;
            return Ok(());
        }
        let Some(node) = site.set_value(entry)? else {
            return Ok(());
        };
        let parse_bool = |what: &str| {
            site.bool(node).map_err(|_| {
                site.error(format!(
                    "invalid value for {what}: cannot parse '' as bool: strconv.ParseBool: parsing {}: invalid syntax",
                    node.value.describe()
                ))
            })
        };
        match key {
            "x_forwarded_for_authorized_addrs" => {
                self.x_forwarded_for_authorized_addrs = addrs(site, node, key)?;
            }
            "x_forwarded_for_hop_skips" => {
                let n = site
                    .int(node)
                    .map_err(|e| site.error(format!("error parsing {key}: {e}")))?;
                if n < 0 {
                    return Err(site.error(format!(
                        "x_forwarded_for_hop_skips cannot be negative but set to {n}"
                    )));
                }
                self.x_forwarded_for_hop_skips = n.unsigned_abs();
            }
            "x_forwarded_for_reject_not_authorized" => {
                self.x_forwarded_for_reject_not_authorized = parse_bool(key)?;
            }
            "x_forwarded_for_reject_not_present" => {
                self.x_forwarded_for_reject_not_present = parse_bool(key)?;
            }
            "x_forwarded_for_client_cert_header" => {
                let name = site.string(node)?;
                if !name.chars().all(is_token_char) {
                    return Err(site.error(format!(
                        "invalid value for x_forwarded_for_client_cert_header: {name:?} is not a header name"
                    )));
                }
                self.x_forwarded_for_client_cert_header = name;
            }
            "x_forwarded_for_client_cert_decoders" => {
                let decoders = site.strings(node)?;
                if let Some(bad) = decoders
                    .iter()
                    .find(|d| !CLIENT_CERT_DECODERS.contains(&d.as_str()))
                {
                    return Err(site.error(format!(
                        "invalid value for x_forwarded_for_client_cert_decoders: {bad}"
                    )));
                }
                self.x_forwarded_for_client_cert_decoders = decoders;
            }
            "x_forwarded_for_client_cert_keep_not_forwarded" => {
                self.x_forwarded_for_client_cert_keep_not_forwarded = parse_bool(key)?;
            }
            "x_forwarded_for_client_cert_keep_unauthorized" => {
                self.x_forwarded_for_client_cert_keep_unauthorized = parse_bool(key)?;
            }
            "proxy_protocol_behavior" => {
                self.proxy_protocol_behavior = Some(match site.string(node)?.as_str() {
                    "use_always" => ProxyProtocolBehavior::UseAlways,
                    "allow_authorized" => ProxyProtocolBehavior::AllowAuthorized,
                    "deny_unauthorized" => ProxyProtocolBehavior::DenyUnauthorized,
                    _ => {
                        return Err(site.error(
                            "failed configuring PROXY protocol wrapper: unknown behavior type for proxy proto config",
                        ));
                    }
                });
            }
            "proxy_protocol_authorized_addrs" => {
                self.proxy_protocol_authorized_addrs = addrs(site, node, key)?;
            }
            "redact_addresses" => self.redact_addresses = parse_bool(key)?,
            "redact_cluster_name" => self.redact_cluster_name = parse_bool(key)?,
            "redact_version" => self.redact_version = parse_bool(key)?,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_canonical_as_go_makes_them() {
        assert_eq!(canonical_header_name("x-custom-ui"), "X-Custom-Ui");
        assert_eq!(
            canonical_header_name("CONTENT-security-POLICY"),
            "Content-Security-Policy"
        );
        assert_eq!(canonical_header_name("a b"), "a b");
    }

    #[test]
    fn status_keys_as_vault_checks_them() {
        for ok in ["default", "2xx", "5xx", "100", "599", "404"] {
            assert!(valid_status(ok), "{ok}");
        }
        for bad in ["6xx", "600", "99", "bogus", ""] {
            assert!(!valid_status(bad), "{bad}");
        }
    }

    fn listener(body: &str) -> Result<ListenerHttpOptions, String> {
        let text = format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:8200\"\n  tls_disable = true\n{body}\n}}\n"
        );
        crate::parse_str(&text, "c.hcl")
            .map(|c| c.listeners[0].http.clone())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn options_are_read() {
        let h = listener(
            r#"x_forwarded_for_authorized_addrs = "10.0.0.0/8, 127.0.0.1"
  x_forwarded_for_hop_skips = "2"
  x_forwarded_for_reject_not_present = true
  proxy_protocol_behavior = "allow_authorized"
  proxy_protocol_authorized_addrs = ["10.0.0.1"]
  redact_version = true
  x_forwarded_for_client_cert_header = "X-SSL-Client-Cert"
  x_forwarded_for_client_cert_decoders = ["URL", "PEM"]
  x_forwarded_for_client_cert_keep_not_forwarded = true
  custom_response_headers = {
    "default" = { "x-a" = ["1", " ", "2"] }
    "404" = { "X-Vault-B" = ["no"], "X-C" = ["c"] }
  }"#,
        )
        .unwrap();
        assert_eq!(h.x_forwarded_for_authorized_addrs.len(), 2);
        assert_eq!(h.x_forwarded_for_hop_skips, 2);
        assert!(h.x_forwarded_for_reject_not_present);
        assert!(!h.x_forwarded_for_reject_not_authorized);
        assert_eq!(
            h.proxy_protocol_behavior,
            Some(ProxyProtocolBehavior::AllowAuthorized)
        );
        assert!(h.redact_version && !h.redact_addresses);
        assert_eq!(h.x_forwarded_for_client_cert_header, "X-SSL-Client-Cert");
        assert_eq!(h.x_forwarded_for_client_cert_decoders, ["URL", "PEM"]);
        assert!(h.x_forwarded_for_client_cert_keep_not_forwarded);
        assert!(!h.x_forwarded_for_client_cert_keep_unauthorized);
        assert_eq!(
            h.custom_response_headers["default"],
            vec![("X-A".to_owned(), "1; 2".to_owned())]
        );
        assert_eq!(
            h.custom_response_headers["404"],
            vec![("X-C".to_owned(), "c".to_owned())]
        );
    }

    #[test]
    fn errors_carry_openbao_texts() {
        for (body, text) in [
            (
                "x_forwarded_for_hop_skips = -1",
                "x_forwarded_for_hop_skips cannot be negative but set to -1",
            ),
            (
                r#"proxy_protocol_behavior = "bogus""#,
                "failed configuring PROXY protocol wrapper: unknown behavior type for proxy proto config",
            ),
            (
                r#"proxy_protocol_authorized_addrs = """#,
                "error parsing proxy_protocol_authorized_addrs: unable to parse addresses from ",
            ),
            (
                r#"custom_response_headers = { "600" = { "X-A" = ["b"] } }"#,
                "failed to parse custom_response_headers: invalid status code found in the server configuration: 600",
            ),
            (
                r#"custom_response_headers = { "default" = { "X-A" = "b" } }"#,
                "failed to parse custom_response_headers: headers must be given in a list of strings",
            ),
            (
                r#"x_forwarded_for_reject_not_present = "maybe""#,
                "invalid value for x_forwarded_for_reject_not_present",
            ),
            (
                r#"x_forwarded_for_client_cert_decoders = ["URL", "BOGUS"]"#,
                "invalid value for x_forwarded_for_client_cert_decoders: BOGUS",
            ),
            (
                r#"x_forwarded_for_client_cert_header = "bad header""#,
                "invalid value for x_forwarded_for_client_cert_header",
            ),
            (
                r#"x_forwarded_for_client_cert_keep_unauthorized = "maybe""#,
                "invalid value for x_forwarded_for_client_cert_keep_unauthorized",
            ),
        ] {
            let err = listener(body).unwrap_err();
            assert!(err.contains(text), "{body}: {err}");
        }
    }
}
