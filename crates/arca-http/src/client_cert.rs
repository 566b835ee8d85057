//! A client certificate forwarded by a TLS-terminating proxy in a header (Vault's
//! `x_forwarded_for_client_cert_header` and `_decoders`, its `wrapClientCertificateHandler`):
//! decoded to DER, checked to be a certificate, and handed to the core as the connection's
//! certificate, which cert auth then prefers over the TLS peer's (OpenBao's
//! `GetPreferredCerts`). The forwarded-for rules decide first whether the header is believed.

use base64::Engine;
use hyper::header::{HeaderMap, HeaderName};

use crate::header_names::{CLIENT_CERT, CLIENT_CERT_CHAIN};

/// RFC 9440's certificate headers, removed whenever they are not the configured one.
pub(crate) static RFC9440_HEADERS: [&HeaderName; 2] = [&CLIENT_CERT, &CLIENT_CERT_CHAIN];

/// One step of turning the header's value into base64 DER.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CertDecoder {
    /// RFC 9440: base64 between colons.
    Rfc9440,
    /// URL (query) encoding.
    Url,
    /// A PEM `CERTIFICATE` block.
    Pem,
}

impl CertDecoder {
    /// The decoder a listener names (`RFC9440`, `URL`, `PEM`).
    pub(crate) fn parse(name: &str) -> Option<CertDecoder> {
        match name {
            "RFC9440" => Some(CertDecoder::Rfc9440),
            "URL" => Some(CertDecoder::Url),
            "PEM" => Some(CertDecoder::Pem),
            _ => None,
        }
    }

    fn apply(self, value: &str) -> Result<String, &'static str> {
        match self {
            CertDecoder::Rfc9440 => value
                .strip_prefix(':')
                .and_then(|v| v.strip_suffix(':'))
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or("error decoding RFC9440 client certificate header"),
            CertDecoder::Url => {
                query_unescape(value).ok_or("error url decoding client certificate header")
            }
            CertDecoder::Pem => x509_parser::pem::parse_x509_pem(value.as_bytes())
                .ok()
                .filter(|(_, pem)| pem.label == "CERTIFICATE")
                .map(|(_, pem)| base64::engine::general_purpose::STANDARD.encode(pem.contents))
                .ok_or("failed to decode PEM certificate"),
        }
    }
}

/// Go's `url.QueryUnescape`: `+` is a space, `%XX` a byte; a broken escape or a result that
/// is not UTF-8 is `None`.
fn query_unescape(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A listener's forwarded client certificate settings; no header name turns them off.
#[derive(Debug, Clone, Default)]
pub struct ForwardedClientCert {
    /// The header the proxy puts the certificate in.
    header: Option<HeaderName>,
    /// How its value is decoded, in order.
    decoders: Vec<CertDecoder>,
}

impl ForwardedClientCert {
    /// A listener's settings: the `header` (empty: none) and the decoders' names. A name that
    /// is not a header or a decoder (the config refuses both) is left out.
    pub fn new(header: &str, decoders: &[String]) -> ForwardedClientCert {
        ForwardedClientCert {
            header: (!header.is_empty())
                .then(|| HeaderName::from_bytes(header.as_bytes()).ok())
                .flatten(),
            decoders: decoders
                .iter()
                .filter_map(|d| CertDecoder::parse(d))
                .collect(),
        }
    }

    /// Removes the certificate headers from `headers` (a request whose forwarding is not
    /// believed).
    pub(crate) fn strip(&self, headers: &mut HeaderMap) {
        // A look at the few names a request has first: most carry none of these, and a
        // removal hashes its name.
        let carried = headers
            .keys()
            .any(|k| RFC9440_HEADERS.contains(&k) || self.header.as_ref().is_some_and(|h| h == k));
        if !carried {
            return;
        }
        if let Some(h) = &self.header {
            headers.remove(h);
        }
        for h in RFC9440_HEADERS {
            headers.remove(h);
        }
    }

    /// The forwarded certificate (DER) of a request, `None` when it carries none; `Err` is
    /// the 400's message. The certificate headers are removed either way.
    pub(crate) fn take(&self, headers: &mut HeaderMap) -> Result<Option<Vec<u8>>, &'static str> {
        let Some(name) = &self.header else {
            self.strip(headers);
            return Ok(None);
        };
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        self.strip(headers);
        let Some(first) = values.first().filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        if values.len() > 1 {
            return Err(
                "too many values for client certificate header; check RFC 9440 and do not send chain",
            );
        }
        let mut value = first.clone();
        for decoder in &self.decoders {
            value = decoder.apply(&value)?;
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(value.as_bytes())
            .map_err(|_| "error decoding client certificate header as base64")?;
        x509_parser::parse_x509_certificate(&der)
            .map_err(|_| "error decoding client certificate header as x509.Certificate")?;
        Ok(Some(der))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_der() -> Vec<u8> {
        let key = rcgen::KeyPair::generate().expect("key");
        rcgen::CertificateParams::new(vec!["client".into()])
            .expect("params")
            .self_signed(&key)
            .expect("cert")
            .der()
            .to_vec()
    }

    fn with(decoders: &[CertDecoder], value: &str) -> Result<Option<Vec<u8>>, &'static str> {
        let cfg = ForwardedClientCert {
            header: Some(HeaderName::from_static("x-ssl-client-cert")),
            decoders: decoders.to_vec(),
        };
        assert_eq!(
            ForwardedClientCert::new("X-SSL-Client-Cert", &["URL".into(), "bogus".into()]).decoders,
            vec![CertDecoder::Url]
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-ssl-client-cert", value.parse().expect("value"));
        headers.insert("client-cert", ":abc:".parse().expect("value"));
        let out = cfg.take(&mut headers);
        assert!(headers.is_empty(), "certificate headers left: {headers:?}");
        out
    }

    #[test]
    fn each_decoder_leads_to_the_der() {
        let der = cert_der();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        assert_eq!(with(&[], &b64), Ok(Some(der.clone())));
        assert_eq!(
            with(&[CertDecoder::Rfc9440], &format!(":{b64}:")),
            Ok(Some(der.clone()))
        );
        let pem = pem_of(&b64);
        let url: String = form_urlencoded::byte_serialize(pem.as_bytes()).collect();
        assert_eq!(
            with(&[CertDecoder::Url, CertDecoder::Pem], &url),
            Ok(Some(der))
        );
    }

    fn pem_of(b64: &str) -> String {
        let body: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).expect("ascii"))
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            body.join("\n")
        )
    }

    #[test]
    fn bad_values_get_openbaos_errors() {
        assert_eq!(
            with(&[], "not base64!"),
            Err("error decoding client certificate header as base64")
        );
        assert_eq!(
            with(&[], "aGVsbG8="),
            Err("error decoding client certificate header as x509.Certificate")
        );
        assert_eq!(
            with(&[CertDecoder::Rfc9440], "abc"),
            Err("error decoding RFC9440 client certificate header")
        );
        assert_eq!(
            with(&[CertDecoder::Url], "%zz"),
            Err("error url decoding client certificate header")
        );
        assert_eq!(
            with(&[CertDecoder::Pem], "nothing"),
            Err("failed to decode PEM certificate")
        );
        assert_eq!(query_unescape("a+b%2F"), Some("a b/".into()));
    }

    #[test]
    fn no_header_configured_strips_rfc9440s() {
        let mut headers = HeaderMap::new();
        headers.insert("client-cert", ":abc:".parse().expect("value"));
        headers.insert("client-cert-chain", ":abc:".parse().expect("value"));
        assert_eq!(ForwardedClientCert::default().take(&mut headers), Ok(None));
        assert!(headers.is_empty());
    }
}
