//! Vault's JSON envelope for a [`Response`]: `request_id`, `lease_id`, `renewable`,
//! `lease_duration`, `data`, `wrap_info`, `warnings`, `auth` in Vault's key order. The HTTP
//! layer writes it on the wire, and the core stores it as the body a wrapping token unwraps to.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use crate::{Auth, JsonMap, Response, ResponseWrapInfo};

/// The envelope's own keys, in Vault's order (`mount_type` is Arca's addition).
pub const ENVELOPE_KEYS: [&str; 9] = [
    "request_id",
    "lease_id",
    "renewable",
    "lease_duration",
    "data",
    "wrap_info",
    "warnings",
    "auth",
    "mount_type",
];

/// The JSON envelope's bytes.
pub fn envelope_json(request_id: &str, resp: &Response) -> Vec<u8> {
    let envelope = Envelope::new(request_id, resp);
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::new(&mut out);
    let written = match resp.data.as_ref() {
        Some(data) if resp.top_level_data && resp.wrap_info.is_none() => {
            TopLevel { data, envelope }.serialize(&mut ser)
        }
        _ => envelope.serialize(&mut ser),
    };
    match written {
        Ok(()) => out,
        // Serializing maps of JSON values and strings cannot fail; keep an answer anyway.
        Err(_) => br#"{"errors":["failed to encode response"]}"#.to_vec(),
    }
}

/// The envelope's fields, borrowed from the response.
struct Envelope<'a> {
    request_id: &'a str,
    lease_id: &'a str,
    renewable: bool,
    lease_duration: u64,
    data: Option<&'a JsonMap>,
    wrap_info: Option<&'a ResponseWrapInfo>,
    warnings: &'a [String],
    auth: Option<AuthJson<'a>>,
    mount_type: &'a str,
}

impl<'a> Envelope<'a> {
    fn new(request_id: &'a str, resp: &'a Response) -> Envelope<'a> {
        let secret = resp.secret.as_ref();
        if let Some(wrap) = resp.wrap_info.as_ref() {
            // A wrapped answer shows the wrapping token only (Vault leaves request_id empty).
            return Envelope {
                request_id: "",
                lease_id: "",
                renewable: false,
                lease_duration: 0,
                data: None,
                wrap_info: Some(wrap),
                warnings: &resp.warnings,
                auth: None,
                mount_type: &resp.mount_type,
            };
        }
        Envelope {
            request_id,
            lease_id: secret.map(|s| s.lease_id.as_str()).unwrap_or(""),
            renewable: secret.is_some_and(|s| s.lease.renewable),
            lease_duration: secret.map(|s| s.lease.ttl.as_secs()).unwrap_or(0),
            data: resp.data.as_ref(),
            wrap_info: None,
            warnings: &resp.warnings,
            auth: resp.auth.as_ref().map(AuthJson),
            mount_type: &resp.mount_type,
        }
    }

    fn write<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("request_id", self.request_id)?;
        map.serialize_entry("lease_id", self.lease_id)?;
        map.serialize_entry("renewable", &self.renewable)?;
        map.serialize_entry("lease_duration", &self.lease_duration)?;
        map.serialize_entry("data", &self.data)?;
        map.serialize_entry("wrap_info", &self.wrap_info)?;
        let warnings = (!self.warnings.is_empty()).then_some(self.warnings);
        map.serialize_entry("warnings", &warnings)?;
        map.serialize_entry("auth", &self.auth)?;
        map.serialize_entry("mount_type", self.mount_type)
    }
}

impl Serialize for Envelope<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        self.write(&mut map)?;
        map.end()
    }
}

/// Vault's legacy form for some `sys/` endpoints: each data key also at the top level, before
/// the envelope's keys (which win over a data key of the same name).
struct TopLevel<'a> {
    data: &'a JsonMap,
    envelope: Envelope<'a>,
}

impl Serialize for TopLevel<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.data {
            if !ENVELOPE_KEYS.contains(&k.as_str()) {
                map.serialize_entry(k, v)?;
            }
        }
        self.envelope.write(&mut map)?;
        map.end()
    }
}

/// The `auth` object of a login answer, in Vault's key order.
struct AuthJson<'a>(&'a Auth);

impl Serialize for AuthJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        if let Some(req) = &a.mfa_requirement {
            // A login held back for MFA: no token, OpenBao's empty auth around the requirement.
            let mut map = s.serialize_map(Some(12))?;
            map.serialize_entry("client_token", "")?;
            map.serialize_entry("accessor", "")?;
            map.serialize_entry("policies", &())?;
            map.serialize_entry("metadata", &())?;
            map.serialize_entry("lease_duration", &0)?;
            map.serialize_entry("renewable", &false)?;
            map.serialize_entry("entity_id", "")?;
            map.serialize_entry("token_type", "default")?;
            map.serialize_entry("orphan", &false)?;
            map.serialize_entry("mfa_requirement", req)?;
            map.serialize_entry("num_uses", &0)?;
            return map.end();
        }
        let mut map = s.serialize_map(Some(12))?;
        map.serialize_entry("client_token", &a.client_token)?;
        map.serialize_entry("accessor", &a.accessor)?;
        map.serialize_entry("policies", &a.policies)?;
        map.serialize_entry("token_policies", &a.token_policies)?;
        if !a.identity_policies.is_empty() {
            map.serialize_entry("identity_policies", &a.identity_policies)?;
        }
        // Vault prints a token without metadata as `null`.
        let mut metadata: Vec<(&String, &String)> = a.metadata.iter().collect();
        metadata.sort();
        let metadata = (!metadata.is_empty()).then_some(SortedMap(metadata));
        map.serialize_entry("metadata", &metadata)?;
        map.serialize_entry("lease_duration", &a.lease.ttl.as_secs())?;
        map.serialize_entry("renewable", &a.lease.renewable)?;
        map.serialize_entry("entity_id", &a.entity_id)?;
        map.serialize_entry("token_type", &a.token_type)?;
        map.serialize_entry("orphan", &a.orphan)?;
        map.serialize_entry("mfa_requirement", &())?;
        map.serialize_entry("num_uses", &a.num_uses)?;
        map.end()
    }
}

/// Metadata in key order, so answers are stable.
struct SortedMap<'a>(Vec<(&'a String, &'a String)>);

impl Serialize for SortedMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().copied())
    }
}
