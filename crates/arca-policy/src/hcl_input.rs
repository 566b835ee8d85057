//! Reads HCL policy text into a [`Node`] tree, with line numbers.
//!
//! OpenBao parses policies with HCL v1; this uses `hcl-edit` (HCL2), which reads every
//! policy shape in OpenBao's documentation. Known gaps against HCL v1: nested blocks whose
//! keys are quoted (`allowed_parameters { "foo" = [] }`, use `allowed_parameters = {...}`),
//! several attributes on one line, and string interpolation (`${...}`), which policies
//! never need. Duplicate attributes in one body are an error, as Vault is moving to.

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey, UnaryOperator};
use hcl_edit::structure::{BlockLabel, Body, Structure};

use crate::document::{Entry, EntryKind, Located, Node};
use crate::error::PolicyError;

/// Parses `text` as HCL and returns the top-level body as a map node.
pub(crate) fn parse_hcl(text: &str) -> Result<Node, PolicyError> {
    let body = hcl_edit::parser::parse_body(text).map_err(|err| {
        let message = err.message().trim().to_string();
        let message = if message.contains("redefined attribute") {
            // Name the attribute: it is the key on the offending source line.
            let key = err.line().split('=').next().unwrap_or_default().trim();
            format!("duplicate attribute \"{key}\" (each attribute may be given once)")
        } else if message.is_empty() {
            "invalid HCL".to_string()
        } else {
            message
        };
        PolicyError::parse(Some(err.location().line()), message)
    })?;
    let lines = LineIndex::new(text);
    body_to_node(&body, &lines)
}

/// Maps byte offsets to 1-based line numbers.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `text`.
    pub(crate) fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    /// The 1-based line containing byte `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        match self.starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    fn line(&self, span: Option<std::ops::Range<usize>>) -> Option<usize> {
        span.map(|r| self.line_of(r.start))
    }
}

fn body_to_node(body: &Body, lines: &LineIndex) -> Result<Node, PolicyError> {
    let mut entries = Vec::with_capacity(body.len());
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let line = lines.line(attr.span());
                entries.push(Entry {
                    key: attr.key.as_str().to_string(),
                    kind: EntryKind::Attribute,
                    value: Located {
                        node: expr_to_node(&attr.value, lines)?,
                        line,
                    },
                });
            }
            Structure::Block(block) => {
                let line = lines.line(block.span());
                // `key "a" "b" { body }` is the map key -> a -> b -> body.
                let mut node = body_to_node(&block.body, lines)?;
                for label in block.labels.iter().rev() {
                    let label_text = match label {
                        BlockLabel::Ident(ident) => ident.as_str().to_string(),
                        BlockLabel::String(s) => s.as_str().to_string(),
                    };
                    node = Node::Map(vec![Entry {
                        key: label_text,
                        kind: EntryKind::Block,
                        value: Located { node, line },
                    }]);
                }
                entries.push(Entry {
                    key: block.ident.as_str().to_string(),
                    kind: EntryKind::Block,
                    value: Located { node, line },
                });
            }
        }
    }
    Ok(Node::Map(entries))
}

fn expr_to_node(expr: &Expression, lines: &LineIndex) -> Result<Node, PolicyError> {
    let unsupported = |what: &str| {
        PolicyError::parse(
            lines.line(expr.span()),
            format!("unsupported expression in policy: {what}"),
        )
    };
    Ok(match expr {
        Expression::Null(_) => Node::Null,
        Expression::Bool(b) => Node::Bool(*b.value()),
        Expression::Number(n) => {
            Node::Number(hcl_number(n.value()).ok_or_else(|| {
                PolicyError::parse(lines.line(expr.span()), "number out of range")
            })?)
        }
        Expression::String(s) => Node::String(s.value().clone()),
        Expression::Array(array) => Node::List(
            array
                .iter()
                .map(|item| {
                    Ok(Located {
                        node: expr_to_node(item, lines)?,
                        line: lines.line(item.span()),
                    })
                })
                .collect::<Result<_, PolicyError>>()?,
        ),
        Expression::Object(object) => {
            let mut entries = Vec::with_capacity(object.len());
            for (key, value) in object.iter() {
                let key_text = match key {
                    ObjectKey::Ident(ident) => ident.as_str().to_string(),
                    ObjectKey::Expression(key_expr) => match expr_to_node(key_expr, lines)? {
                        Node::String(s) => s,
                        Node::Number(n) => n.to_string(),
                        Node::Bool(b) => b.to_string(),
                        _ => return Err(unsupported("object key")),
                    },
                };
                entries.push(Entry {
                    key: key_text,
                    kind: EntryKind::Attribute,
                    value: Located {
                        node: expr_to_node(value.expr(), lines)?,
                        line: lines.line(key.span()),
                    },
                });
            }
            Node::Map(entries)
        }
        Expression::HeredocTemplate(heredoc) => {
            let mut text = String::new();
            for element in heredoc.template.iter() {
                match element.as_literal() {
                    Some(literal) => text.push_str(literal.value()),
                    None => return Err(unsupported("template interpolation")),
                }
            }
            Node::String(text)
        }
        Expression::Parenthesis(inner) => expr_to_node(inner.inner(), lines)?,
        Expression::UnaryOp(op) if *op.operator.value() == UnaryOperator::Neg => {
            match expr_to_node(&op.expr, lines)? {
                Node::Number(n) => Node::Number(negate(&n).ok_or_else(|| unsupported("number"))?),
                _ => return Err(unsupported("negation of a non-number")),
            }
        }
        Expression::StringTemplate(_) => return Err(unsupported("string interpolation")),
        Expression::Variable(var) => {
            return Err(unsupported(&format!("bare identifier {}", var.as_str())));
        }
        _ => return Err(unsupported("computed value")),
    })
}

fn hcl_number(n: &hcl_edit::Number) -> Option<serde_json::Number> {
    if let Some(u) = n.as_u64() {
        Some(serde_json::Number::from(u))
    } else if let Some(i) = n.as_i64() {
        Some(serde_json::Number::from(i))
    } else {
        n.as_f64().and_then(serde_json::Number::from_f64)
    }
}

fn negate(n: &serde_json::Number) -> Option<serde_json::Number> {
    if let Some(i) = n.as_i64() {
        i.checked_neg().map(serde_json::Number::from)
    } else if let Some(u) = n.as_u64() {
        i64::try_from(u)
            .ok()
            .and_then(i64::checked_neg)
            .map(serde_json::Number::from)
    } else {
        n.as_f64().and_then(|f| serde_json::Number::from_f64(-f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_index_maps_offsets() {
        let idx = LineIndex::new("ab\ncd\n\nef");
        let cases = [
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 2),
            (5, 2),
            (6, 3),
            (7, 4),
            (8, 4),
        ];
        for (offset, line) in cases {
            assert_eq!(idx.line_of(offset), line, "offset {offset}");
        }
    }

    #[test]
    fn blocks_become_nested_maps_with_lines() {
        let node = parse_hcl("# c\npath \"a/b\" {\n  capabilities = [\"read\"]\n}\n").unwrap();
        let Node::Map(top) = node else {
            panic!("not a map")
        };
        assert_eq!(top.len(), 1);
        assert_eq!(top[0].key, "path");
        assert_eq!(top[0].kind, EntryKind::Block);
        assert_eq!(top[0].value.line, Some(2));
        let Node::Map(labels) = &top[0].value.node else {
            panic!("labels")
        };
        assert_eq!(labels[0].key, "a/b");
        let Node::Map(body) = &labels[0].value.node else {
            panic!("body")
        };
        assert_eq!(body[0].key, "capabilities");
        assert_eq!(body[0].value.line, Some(3));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse_hcl("path \"a\" {\n  capabilities = [\"read\"]\n}\npath \"b\" {\n  capabilities = [\"read\"\n").unwrap_err();
        // The unclosed list starts on line 5; hcl-edit points there (OpenBao says 6:1, at EOF).
        assert_eq!(err.line(), Some(5), "{err}");
    }
}
