//! Reading Vault's HCL config form into the config tree, with the line of every attribute and
//! block (from hcl-edit's byte spans).
//!
//! Configs hold literal values only: strings, numbers, booleans, lists, objects and heredocs.
//! Anything that would need evaluating (variables, function calls, `${...}` interpolation,
//! operators other than a leading minus) is refused with the key it appears under.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{Expression, ObjectKey, UnaryOperator};
use hcl_edit::structure::{BlockLabel, Body, Structure};
use hcl_edit::template::Element;

use crate::error::ConfigError;
use crate::lines::LineIndex;
use crate::tree::{Block, Entry, Field, Item, Node, Value};

/// How many repeated keys [`parse`] renames before giving up on reporting them nicely.
const MAX_RENAMES: usize = 256;

/// Parses HCL config `text` (named `file` in errors) into top-level entries.
///
/// hcl-edit refuses a repeated attribute as a syntax error without naming it. So that the
/// error can name the key with its block path and both lines, each repeated key is renamed to a
/// placeholder (on the same line) and the text parsed again; lowering then reports it.
pub(crate) fn parse(text: &str, file: &str) -> Result<Vec<Entry>, ConfigError> {
    let mut source = Cow::Borrowed(text);
    let mut renames = Vec::new();
    let body = loop {
        match hcl_edit::parser::parse_body(&source) {
            Ok(body) => break body,
            Err(err) => {
                let repeated = err.message().contains("found redefined");
                let key = key_at(&source, err.location().offset());
                match key {
                    Some((range, original)) if repeated && renames.len() < MAX_RENAMES => {
                        let placeholder = format!("__arca_repeated_{}__", renames.len());
                        let mut renamed = String::with_capacity(source.len() + placeholder.len());
                        renamed.push_str(&source[..range.start]);
                        renamed.push_str(&placeholder);
                        renamed.push_str(&source[range.end..]);
                        source = Cow::Owned(renamed);
                        renames.push((placeholder, original));
                    }
                    _ => {
                        return Err(ConfigError::Syntax {
                            file: file.to_owned(),
                            line: err.location().line(),
                            column: err.location().column(),
                            message: err.message().to_owned(),
                        });
                    }
                }
            }
        }
    };
    let lowering = Lowering {
        lines: LineIndex::new(&source),
        file,
        renames,
    };
    lowering.body(&body, "")
}

/// The key (a name, or the inside of a quoted string) starting at `offset`, after blanks.
fn key_at(source: &str, offset: usize) -> Option<(Range<usize>, String)> {
    let rest = source.get(offset..)?;
    let start = offset + (rest.len() - rest.trim_start().len());
    let rest = source.get(start..)?;
    let (start, len) = if let Some(quoted) = rest.strip_prefix('"') {
        (start + 1, quoted.find('"')?)
    } else {
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        (start, len)
    };
    let range = start..start + len;
    let key = source.get(range.clone())?.to_owned();
    (!key.is_empty()).then_some((range, key))
}

/// Turns hcl-edit's tree into the config tree.
struct Lowering<'a> {
    lines: LineIndex,
    file: &'a str,
    /// Placeholders put in for repeated keys, and the keys they stand for.
    renames: Vec<(String, String)>,
}

/// Remembers the keys of one body or object, to refuse repeats.
struct SeenKeys(HashMap<String, Option<usize>>);

impl SeenKeys {
    fn new() -> Self {
        Self(HashMap::new())
    }

    /// Records `key`; a repeat is an error naming `path` and both lines.
    fn add(
        &mut self,
        key: &str,
        line: Option<usize>,
        path: &str,
        file: &str,
    ) -> Result<(), ConfigError> {
        match self.0.insert(key.to_owned(), line) {
            None => Ok(()),
            Some(first) => {
                let first = first.map_or_else(String::new, |l| format!(" (first set on line {l})"));
                Err(ConfigError::invalid(
                    file,
                    line,
                    path,
                    format!("duplicate attribute{first}"),
                ))
            }
        }
    }
}

/// `prefix.key`, or `key` at the top level.
fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Lowering<'_> {
    /// The key as written, undoing [`parse`]'s renaming.
    fn name(&self, key: &str) -> String {
        self.renames
            .iter()
            .find(|(placeholder, _)| placeholder == key)
            .map_or_else(|| key.to_owned(), |(_, original)| original.clone())
    }

    fn line_of(&self, spanned: &impl Span) -> Option<usize> {
        spanned.span().map(|range| self.lines.line(range.start))
    }

    fn body(&self, body: &Body, prefix: &str) -> Result<Vec<Entry>, ConfigError> {
        let mut seen = SeenKeys::new();
        body.iter()
            .map(|structure| match structure {
                Structure::Attribute(attr) => {
                    let key = self.name(attr.key.as_str());
                    let path = join(prefix, &key);
                    let line = self.line_of(attr);
                    seen.add(&key, line, &path, self.file)?;
                    Ok(Entry {
                        line,
                        item: Item::Value(self.expr(&attr.value, &path)?),
                        key,
                    })
                }
                Structure::Block(block) => {
                    let key = block.ident.as_str().to_owned();
                    let labels: Vec<String> = block
                        .labels
                        .iter()
                        .map(|label| match label {
                            BlockLabel::Ident(ident) => ident.as_str().to_owned(),
                            BlockLabel::String(s) => s.as_str().to_owned(),
                        })
                        .collect();
                    let path = labels
                        .iter()
                        .fold(join(prefix, &key), |path, label| join(&path, label));
                    let line = self.line_of(block);
                    Ok(Entry {
                        key,
                        line,
                        item: Item::Block(Block {
                            labels,
                            body: self.body(&block.body, &path)?,
                            line,
                        }),
                    })
                }
            })
            .collect()
    }

    fn refuse(&self, expr: &Expression, path: &str, message: &str) -> ConfigError {
        ConfigError::invalid(self.file, self.line_of(expr), path, message)
    }

    fn expr(&self, expr: &Expression, path: &str) -> Result<Node, ConfigError> {
        let line = self.line_of(expr);
        let value = match expr {
            Expression::Null(_) => Value::Null,
            Expression::Bool(b) => Value::Bool(*b.value()),
            Expression::Number(n) => number(n.value()),
            Expression::String(s) => Value::Str(s.value().clone()),
            Expression::Array(array) => Value::List(
                array
                    .iter()
                    .map(|item| self.expr(item, path))
                    .collect::<Result<_, _>>()?,
            ),
            Expression::Object(object) => {
                let mut fields = Vec::new();
                let mut seen = SeenKeys::new();
                for (key, value) in object.iter() {
                    let name = match key {
                        ObjectKey::Ident(ident) => self.name(ident.as_str()),
                        ObjectKey::Expression(Expression::String(s)) => self.name(s.value()),
                        ObjectKey::Expression(other) => {
                            return Err(self.refuse(
                                other,
                                path,
                                "object keys must be names or quoted strings",
                            ));
                        }
                    };
                    let key_path = join(path, &name);
                    let line = self.line_of(key);
                    seen.add(&name, line, &key_path, self.file)?;
                    let node = self.expr(value.expr(), &key_path)?;
                    fields.push(Field {
                        key: name,
                        line,
                        node,
                    });
                }
                Value::Map(fields)
            }
            Expression::StringTemplate(template) => {
                Value::Str(self.literal_template(template, expr, path)?)
            }
            Expression::HeredocTemplate(heredoc) => {
                Value::Str(self.literal_template(&heredoc.template, expr, path)?)
            }
            Expression::Parenthesis(inner) => return self.expr(inner.inner(), path),
            Expression::UnaryOp(op) if *op.operator.value() == UnaryOperator::Neg => {
                match self.expr(&op.expr, path)?.value {
                    Value::Int(i) => Value::Int(
                        i.checked_neg()
                            .ok_or_else(|| self.refuse(expr, path, "number out of range"))?,
                    ),
                    Value::Float(f) => Value::Float(-f),
                    _ => return Err(self.refuse(expr, path, "only numbers can be negated")),
                }
            }
            _ => {
                return Err(self.refuse(
                    expr,
                    path,
                    "expressions are not supported in a config; write a literal value",
                ));
            }
        };
        Ok(Node { line, value })
    }

    /// The text of a template made of literal parts only.
    fn literal_template<'t>(
        &self,
        template: impl IntoIterator<Item = &'t Element>,
        expr: &Expression,
        path: &str,
    ) -> Result<String, ConfigError> {
        let mut out = String::new();
        for element in template {
            match element {
                Element::Literal(text) => out.push_str(text.value()),
                Element::Interpolation(_) | Element::Directive(_) => {
                    return Err(self.refuse(
                        expr,
                        path,
                        "template interpolation (${...}) is not supported in a config",
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// An HCL number as an integer when it is one, else a float.
fn number(n: &hcl_edit::Number) -> Value {
    match n.as_i64() {
        Some(i) if !n.is_f64() => Value::Int(i),
        _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(text: &str) -> Node {
        let mut entries = parse(text, "c.hcl").unwrap();
        match entries.remove(0).item {
            Item::Value(node) => node,
            Item::Block(_) => panic!("expected an attribute"),
        }
    }

    #[test]
    fn attributes_and_blocks_keep_lines() {
        let text =
            "# comment\nui = true\n\nlistener \"tcp\" {\n  address = \"a\"\n  tls_disable = 1\n}\n";
        let entries = parse(text, "c.hcl").unwrap();
        assert_eq!(entries[0].key, "ui");
        assert_eq!(entries[0].line, Some(2));
        assert_eq!(entries[1].key, "listener");
        assert_eq!(entries[1].line, Some(4));
        let Item::Block(block) = &entries[1].item else {
            panic!("listener is not a block");
        };
        assert_eq!(block.labels, vec!["tcp".to_owned()]);
        assert_eq!(block.body[1].key, "tls_disable");
        assert_eq!(block.body[1].line, Some(6));
    }

    #[test]
    fn literal_values() {
        assert!(matches!(single("n = -1").value, Value::Int(-1)));
        assert!(matches!(single("n = (5)").value, Value::Int(5)));
        assert!(matches!(single("n = 1.5").value, Value::Float(f) if f == 1.5));
        assert!(matches!(single("n = null").value, Value::Null));
        assert!(matches!(single("s = \"a$${b}\"").value, Value::Str(s) if s == "a${b}"));
        let heredoc = single("s = <<-EOT\n    line one\n    line two\n    EOT\n");
        assert!(matches!(heredoc.value, Value::Str(s) if s == "line one\nline two\n"));
        let Value::Map(fields) = single("o = {\n  a = 1\n  \"b\" = [true]\n}").value else {
            panic!("not an object");
        };
        assert_eq!(fields[1].key, "b");
        assert_eq!(fields[1].line, Some(3));
    }

    #[test]
    fn expressions_are_refused_with_line_and_key() {
        let err = parse("\nlistener \"tcp\" {\n  address = var.addr\n}", "c.hcl").unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.hcl:3: listener.tcp.address: expressions are not supported in a config; write a literal value"
        );
        let err = parse("api_addr = \"http://${host}\"", "c.hcl").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("c.hcl:1: api_addr: template interpolation"),
            "{err}"
        );
    }

    #[test]
    fn repeated_keys_name_the_path_and_both_lines() {
        let text = "listener \"tcp\" {\n  address = \"a\"\n  address = \"b\"\n}\n";
        assert_eq!(
            parse(text, "c.hcl").unwrap_err().to_string(),
            "c.hcl:3: listener.tcp.address: duplicate attribute (first set on line 2)"
        );
        let text = "\nseal \"x\" {\n  o = { a = 1, a = 2 }\n}";
        assert_eq!(
            parse(text, "c.hcl").unwrap_err().to_string(),
            "c.hcl:3: seal.x.o.a: duplicate attribute (first set on line 3)"
        );
        let text = "o = {\n  a = 1\n  \"a\" = 2\n}";
        assert_eq!(
            parse(text, "c.hcl").unwrap_err().to_string(),
            "c.hcl:3: o.a: duplicate attribute (first set on line 2)"
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = parse("ui = true\nlistener \"tcp\" {\n  address = \n}", "c.hcl").unwrap_err();
        let ConfigError::Syntax { line, column, .. } = &err else {
            panic!("not a syntax error: {err}");
        };
        assert!(*line >= 3, "{err}");
        assert!(*column >= 1);
        assert!(
            err.to_string()
                .starts_with(&format!("c.hcl:{line}:{column}: "))
        );
    }
}
