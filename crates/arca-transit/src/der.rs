//! The little DER this crate needs: RSA key structures in and out of aws-lc-rs, EC private keys
//! and public keys for export, PEM armour.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// DER tag of an INTEGER.
pub const INTEGER: u8 = 0x02;
/// DER tag of a BIT STRING.
pub const BIT_STRING: u8 = 0x03;
/// DER tag of an OCTET STRING.
pub const OCTET_STRING: u8 = 0x04;
/// DER tag of a SEQUENCE.
pub const SEQUENCE: u8 = 0x30;

/// One element: tag and contents.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// An INTEGER of the non-negative big-endian `value`.
pub fn integer(value: &[u8]) -> Vec<u8> {
    let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
    let v = &value[start..];
    let mut content = Vec::with_capacity(v.len() + 1);
    if v.is_empty() || v[0] & 0x80 != 0 {
        content.push(0);
    }
    content.extend_from_slice(v);
    tlv(INTEGER, &content)
}

/// A SEQUENCE of already encoded elements.
pub fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// Reads one element of `input`: (tag, contents, rest); `None` when malformed.
pub fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for b in &rest[..n] {
            len = (len << 8) | usize::from(*b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The elements inside a SEQUENCE's contents.
pub fn elements(mut content: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tag, value, rest) = read(content)?;
        out.push((tag, value));
        content = rest;
    }
    Some(out)
}

/// PEM armour of `der` with `label`, lines of 64 characters, ending in a newline (Go's
/// `pem.EncodeToMemory`).
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER inside the first PEM block of `text`, with its label.
pub fn pem_decode(text: &str) -> Option<(String, Vec<u8>)> {
    let begin = text.find("-----BEGIN ")?;
    let after = &text[begin + 11..];
    let label_end = after.find("-----")?;
    let label = after[..label_end].to_string();
    let body_start = &after[label_end + 5..];
    let end = body_start.find("-----END ")?;
    let b64: String = body_start[..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD.decode(b64).ok()?;
    Some((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_and_read_back() {
        let seq = sequence(&[integer(&[0x80]), integer(&[0, 0, 5]), integer(&[])]);
        assert_eq!(seq, vec![0x30, 10, 2, 2, 0, 0x80, 2, 1, 5, 2, 1, 0]);
        let (tag, content, rest) = read(&seq).unwrap();
        assert_eq!((tag, rest.len()), (SEQUENCE, 0));
        let els = elements(content).unwrap();
        assert_eq!(els[0], (INTEGER, &[0u8, 0x80][..]));
        let long = tlv(OCTET_STRING, &[7u8; 300]);
        assert_eq!(&long[..4], &[4, 0x82, 1, 44]);
        let (_, c, _) = read(&long).unwrap();
        assert_eq!(c.len(), 300);
        let p = pem("PUBLIC KEY", &[1u8; 70]);
        assert_eq!(
            pem_decode(&p).unwrap(),
            ("PUBLIC KEY".into(), vec![1u8; 70])
        );
    }
}
