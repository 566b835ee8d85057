//! JSONx (IBM's XML encoding of JSON), the `format = "jsonx"` of Vault's audit devices.
//!
//! Each value is a `json:string`, `json:number`, `json:boolean`, `json:null`, `json:array` or
//! `json:object` element, with an object member's key in its `name` attribute (array items
//! have none) and members in name order, as Vault writes them. Vault wrote only the entry's
//! members, one after the other: a fragment with an unbound `json:` prefix, which no XML
//! parser takes. Arca writes the whole document instead (as the `Marshal` of the library
//! Vault used): an XML declaration, then a root `json:object` that declares the JSONx
//! namespace and holds those same member elements, so each line parses as XML. String values
//! are escaped too (Vault's library left them raw); characters XML 1.0 cannot carry (most
//! control characters) become U+FFFD, as Go's `xml.EscapeText` writes them.

use serde_json::Value;

/// The XML declaration that opens each document.
const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
/// The namespace attributes of the root element.
const NAMESPACES: &str = concat!(
    r#"xsi:schemaLocation="http://www.datapower.com/schemas/json jsonx.xsd" "#,
    r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" "#,
    r#"xmlns:json="http://www.ibm.com/xmlns/prod/2009/jsonx""#
);

/// Appends the JSONx document for `value` to `out`.
pub(crate) fn encode(value: &Value, out: &mut Vec<u8>) {
    out.extend_from_slice(XML_DECLARATION.as_bytes());
    match value {
        Value::Object(members) => {
            out.extend_from_slice(b"<json:object ");
            out.extend_from_slice(NAMESPACES.as_bytes());
            out.push(b'>');
            encode_members(members, out);
            out.extend_from_slice(b"</json:object>");
        }
        // An entry is always an object; anything else becomes the root element itself.
        other => encode_value(None, other, Some(NAMESPACES), out),
    }
}

/// Appends the members of an object, sorted by name as Vault sorts them.
fn encode_members(members: &serde_json::Map<String, Value>, out: &mut Vec<u8>) {
    let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for (name, member) in sorted {
        encode_value(Some(name), member, None, out);
    }
}

/// Appends the element of one value, named when it is an object's member; `namespaces` is
/// set on the root element only.
fn encode_value(name: Option<&str>, value: &Value, namespaces: Option<&str>, out: &mut Vec<u8>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.extend_from_slice(b"<json:");
    out.extend_from_slice(kind.as_bytes());
    if let Some(attributes) = namespaces {
        out.push(b' ');
        out.extend_from_slice(attributes.as_bytes());
    }
    if let Some(name) = name {
        out.extend_from_slice(b" name=\"");
        escape(name, out);
        out.push(b'"');
    }
    match value {
        Value::Null => {
            out.extend_from_slice(b" />");
            return;
        }
        Value::Bool(b) => {
            out.push(b'>');
            out.extend_from_slice(if *b { b"true" } else { b"false" });
        }
        Value::Number(n) => {
            out.push(b'>');
            out.extend_from_slice(n.to_string().as_bytes());
        }
        Value::String(s) => {
            out.push(b'>');
            escape(s, out);
        }
        Value::Array(items) => {
            out.push(b'>');
            for item in items {
                encode_value(None, item, None, out);
            }
        }
        Value::Object(members) => {
            out.push(b'>');
            encode_members(members, out);
        }
    }
    out.extend_from_slice(b"</json:");
    out.extend_from_slice(kind.as_bytes());
    out.push(b'>');
}

/// Appends `text` escaped for XML character data and attribute values.
fn escape(text: &str, out: &mut Vec<u8>) {
    let mut plain_from = 0;
    for (at, c) in text.char_indices() {
        let replacement: &str = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&#34;",
            '\'' => "&#39;",
            '\t' => "&#x9;",
            '\n' => "&#xA;",
            '\r' => "&#xD;",
            c if is_xml_char(c) => continue,
            _ => "\u{FFFD}",
        };
        out.extend_from_slice(&text.as_bytes()[plain_from..at]);
        out.extend_from_slice(replacement.as_bytes());
        plain_from = at + c.len_utf8();
    }
    out.extend_from_slice(&text.as_bytes()[plain_from..]);
}

/// Whether XML 1.0 allows `c` in a document (the `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;

    const JSONX: &str = "http://www.ibm.com/xmlns/prod/2009/jsonx";

    /// Reads a JSONx element back into JSON.
    fn decode(node: roxmltree::Node<'_, '_>) -> Value {
        assert_eq!(node.tag_name().namespace(), Some(JSONX));
        let text = || node.text().unwrap_or("").to_owned();
        match node.tag_name().name() {
            "null" => Value::Null,
            "boolean" => Value::Bool(text().parse().unwrap()),
            "number" => Value::Number(text().parse().unwrap()),
            "string" => Value::String(text()),
            "array" => Value::Array(
                node.children()
                    .filter(|n| n.is_element())
                    .map(decode)
                    .collect(),
            ),
            "object" => {
                let mut members = Map::new();
                for child in node.children().filter(|n| n.is_element()) {
                    let name = child.attribute("name").unwrap().to_owned();
                    members.insert(name, decode(child));
                }
                Value::Object(members)
            }
            other => panic!("unknown element {other}"),
        }
    }

    fn round_trip(value: &Value) -> (String, Value) {
        let mut out = Vec::new();
        encode(value, &mut out);
        let text = String::from_utf8(out).unwrap();
        let document = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        let decoded = decode(document.root_element());
        (text, decoded)
    }

    #[test]
    fn a_nested_entry_round_trips_through_xml() {
        let entry = json!({
            "type": "request",
            "time": "2026-12-05T07:56:58.466871685Z",
            "auth": {"policies": ["root", "a<b>&\"c'"], "token_ttl": 3600, "metadata": {}},
            "request": {
                "path": "secret/data/x",
                "data": {"data": {"b": true, "f": false, "n": -5.25, "nested": {"a": ["hmac-sha256:ab", 1, null]}}},
                "wrap_ttl": 60,
                "remote_address": "127.0.0.1",
                "headers": {"x-odd <name>&": ["tab\tnew\nline\rcr"]}
            },
            "error": "1 error occurred:\n\t* permission denied\n\n",
            "empty": "",
            "list": []
        });
        let (text, decoded) = round_trip(&entry);
        assert_eq!(decoded, entry, "{text}");
        assert!(text.starts_with(concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?><json:object xsi:schemaLocation="http://www.datapower.com/schemas/json jsonx.xsd" "#,
            r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:json="http://www.ibm.com/xmlns/prod/2009/jsonx">"#,
            r#"<json:object name="auth"><json:object name="metadata"></json:object><json:array name="policies"><json:string>root</json:string>"#,
        )), "{text}");
        assert!(!text.contains('\n'), "one line per entry: {text}");
    }

    #[test]
    fn shapes_and_escapes() {
        let (text, _) = round_trip(&json!({"n": null, "x": 1, "s": "<&>"}));
        assert!(text.ends_with(r#"<json:null name="n" /><json:string name="s">&lt;&amp;&gt;</json:string><json:number name="x">1</json:number></json:object>"#), "{text}");
        // Characters XML cannot carry are replaced, and the document still parses.
        let (text, decoded) = round_trip(&json!({"bad": "a\u{1}b\u{FFFE}"}));
        assert_eq!(decoded, json!({"bad": "a\u{FFFD}b\u{FFFD}"}), "{text}");
        // A non-object value is the root element itself.
        let (_, decoded) = round_trip(&json!(["x", 2]));
        assert_eq!(decoded, json!(["x", 2]));
    }
}
