//! The header names the request pipeline looks up on every request, as [`HeaderName`]
//! statics: a lookup by `&str` parses and validates the name each time, a `HeaderName` is
//! ready to hash.

use hyper::header::HeaderName;

/// The namespace a request is for (and its answer names).
pub(crate) static X_VAULT_NAMESPACE: HeaderName = HeaderName::from_static("x-vault-namespace");
/// The client token.
pub(crate) static X_VAULT_TOKEN: HeaderName = HeaderName::from_static("x-vault-token");
/// The response-wrapping TTL a client asks for.
pub(crate) static X_VAULT_WRAP_TTL: HeaderName = HeaderName::from_static("x-vault-wrap-ttl");
/// The response-wrapping format a client asks for.
pub(crate) static X_VAULT_WRAP_FORMAT: HeaderName = HeaderName::from_static("x-vault-wrap-format");
/// Sent by Vault's API client.
pub(crate) static X_VAULT_REQUEST: HeaderName = HeaderName::from_static("x-vault-request");
/// The client chain a proxy names.
pub(crate) static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// RFC 9440's client certificate.
pub(crate) static CLIENT_CERT: HeaderName = HeaderName::from_static("client-cert");
/// RFC 9440's client certificate chain.
pub(crate) static CLIENT_CERT_CHAIN: HeaderName = HeaderName::from_static("client-cert-chain");
