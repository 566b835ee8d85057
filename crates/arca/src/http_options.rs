//! A listener stanza's HTTP options (`x_forwarded_for_*`, `custom_response_headers`,
//! `proxy_protocol_*`, `redact_*`) handed to `arca-http`.

use arca_config::{ListenerHttpOptions, ProxyProtocolBehavior, ServerConfig};
use arca_http::{
    CustomHeaders, ForwardedClientCert, ForwardedFor, ListenerOptions, ProxyProtocol,
    ProxyProtocolBehavior as Behavior, Redaction,
};

/// Sets `o`'s HTTP options from the stanza's.
pub(crate) fn apply(h: &ListenerHttpOptions, o: &mut ListenerOptions) {
    o.forwarded_for = ForwardedFor {
        authorized_addrs: h.x_forwarded_for_authorized_addrs.clone(),
        hop_skips: h.x_forwarded_for_hop_skips,
        reject_not_authorized: h.x_forwarded_for_reject_not_authorized,
        reject_not_present: h.x_forwarded_for_reject_not_present,
        client_cert: ForwardedClientCert::new(
            &h.x_forwarded_for_client_cert_header,
            &h.x_forwarded_for_client_cert_decoders,
        ),
        keep_cert_not_forwarded: h.x_forwarded_for_client_cert_keep_not_forwarded,
        keep_cert_unauthorized: h.x_forwarded_for_client_cert_keep_unauthorized,
    };
    o.custom_headers = CustomHeaders::new(h.custom_response_headers.iter().flat_map(
        |(status, headers)| {
            headers
                .iter()
                .map(move |(n, v)| (status.as_str(), n.as_str(), v.as_str()))
        },
    ));
    o.proxy_protocol = h.proxy_protocol_behavior.map(|b| ProxyProtocol {
        behavior: match b {
            ProxyProtocolBehavior::UseAlways => Behavior::UseAlways,
            ProxyProtocolBehavior::AllowAuthorized => Behavior::AllowAuthorized,
            ProxyProtocolBehavior::DenyUnauthorized => Behavior::DenyUnauthorized,
        },
        authorized_addrs: h.proxy_protocol_authorized_addrs.clone(),
    });
    o.redact = Redaction {
        addresses: h.redact_addresses,
        cluster_name: h.redact_cluster_name,
        version: h.redact_version,
    };
}

/// Every header name the listeners' `custom_response_headers` set.
pub(crate) fn custom_header_names(config: &ServerConfig) -> Vec<String> {
    let mut names: Vec<String> = config
        .listeners
        .iter()
        .flat_map(|l| l.http.custom_response_headers.values())
        .flat_map(|headers| headers.iter().map(|(n, _)| n.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}
