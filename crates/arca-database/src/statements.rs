//! Statement templates: the `{{name}}`, `{{username}}`, `{{password}}`, `{{expiration}}`
//! placeholders an operator writes into creation, revocation and rotation statements.
//!
//! OpenBao replaces the placeholders textually. Arca replaces them too, but escapes each value
//! for the place it lands in: inside `'…'` a quote is doubled (and, for MySQL, a backslash
//! too); inside `"…"` or `` `…` `` the identifier quote is doubled. A value in a bare position
//! must look like a plain word, so no value can end a quoted part early or add a statement.
//! Operator-written text other than the placeholders is never changed.

use crate::plugin::DbError;

/// The SQL dialect a statement is written in: how its quoting works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL: `'…'` strings (standard-conforming, no backslash escapes), `"…"` identifiers,
    /// `$tag$…$tag$` bodies (which hold SQL of their own, so quoting is tracked inside them).
    Postgres,
    /// MySQL/MariaDB: `'…'` and `"…"` strings with backslash escapes, `` `…` `` identifiers.
    Mysql,
}

/// Where a placeholder sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    Bare,
    Single,
    Double,
    Backtick,
}

/// Splits one statement entry into the queries it holds, on `;` outside quotes, dropping empty
/// ones (OpenBao's `ParseArbitraryStringSlice(stmt, ";")`, which honours quoting too).
pub fn split(stmt: &str, dialect: Dialect) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut ctx = Context::Bare;
    let bytes = stmt.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match (ctx, c) {
            (Context::Bare, b';') => {
                out.push(stmt[start..i].trim().to_string());
                start = i + 1;
            }
            _ => ctx = step(ctx, c, bytes.get(i + 1).copied(), dialect, &mut i),
        }
        i += 1;
    }
    out.push(stmt[start..].trim().to_string());
    out.retain(|q| !q.is_empty());
    out
}

/// The quoting context after byte `c` (at `*i`; may skip the next byte of an escape).
fn step(ctx: Context, c: u8, next: Option<u8>, dialect: Dialect, i: &mut usize) -> Context {
    match ctx {
        Context::Bare => match c {
            b'\'' => Context::Single,
            b'"' => Context::Double,
            b'`' if dialect == Dialect::Mysql => Context::Backtick,
            _ => Context::Bare,
        },
        Context::Single | Context::Double => {
            let quote = if ctx == Context::Single { b'\'' } else { b'"' };
            if dialect == Dialect::Mysql && c == b'\\' && next.is_some() {
                *i += 1;
                ctx
            } else if c == quote {
                if next == Some(quote) {
                    *i += 1;
                    ctx
                } else {
                    Context::Bare
                }
            } else {
                ctx
            }
        }
        Context::Backtick => {
            if c == b'`' {
                if next == Some(b'`') {
                    *i += 1;
                    Context::Backtick
                } else {
                    Context::Bare
                }
            } else {
                Context::Backtick
            }
        }
    }
}

/// Whether a value may stand unquoted: a plain word of letters, digits and `_ - . @ : +`.
fn plain_word(v: &str) -> bool {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@' | ':' | '+'))
}

fn escape(value: &str, ctx: Context, dialect: Dialect) -> Option<String> {
    Some(match ctx {
        Context::Bare => {
            if !plain_word(value) {
                return None;
            }
            value.to_string()
        }
        Context::Single | Context::Double => {
            let quote = if ctx == Context::Single { '\'' } else { '"' };
            let mut s = String::with_capacity(value.len() + 2);
            for ch in value.chars() {
                if ch == quote {
                    s.push(quote);
                } else if ch == '\\' && dialect == Dialect::Mysql {
                    s.push('\\');
                } else if ch == '\0' {
                    return None;
                }
                s.push(ch);
            }
            s
        }
        Context::Backtick => value.replace('`', "``"),
    })
}

/// Replaces the `{{key}}` placeholders of `query` with their values, escaped for where each
/// stands. A placeholder with no value is left as written (OpenBao does the same).
pub fn render(query: &str, values: &[(&str, &str)], dialect: Dialect) -> Result<String, DbError> {
    let bytes = query.as_bytes();
    let mut out = String::with_capacity(query.len() + 64);
    let mut ctx = Context::Bare;
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' && bytes.get(i + 1) == Some(&b'{') {
            let rest = &query[i + 2..];
            if let Some(end) = rest.find("}}") {
                let key = rest[..end].trim();
                if let Some((_, v)) = values.iter().find(|(k, _)| *k == key) {
                    let escaped = escape(v, ctx, dialect).ok_or_else(|| {
                        DbError::Invalid(format!(
                            "the value of {{{{{key}}}}} cannot stand unquoted in a statement; \
                             write it inside quotes"
                        ))
                    })?;
                    out.push_str(&query[copied..i]);
                    out.push_str(&escaped);
                    i += 2 + end + 2;
                    copied = i;
                    continue;
                }
            }
        }
        let c = bytes[i];
        ctx = step(ctx, c, bytes.get(i + 1).copied(), dialect, &mut i);
        i += 1;
    }
    out.push_str(&query[copied..]);
    Ok(out)
}

/// The text `{{expiration}}` stands for: OpenBao's `2006-01-02 15:04:05-0700`, which both
/// PostgreSQL's `VALID UNTIL` and MySQL read.
pub fn expiration_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%z").to_string()
}

/// A PostgreSQL identifier in double quotes, for statements the plugin writes itself.
pub fn quote_identifier(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_only() {
        let q = split(
            "CREATE ROLE \"{{name}}\" WITH PASSWORD 'a;b'; GRANT x TO \"{{name}}\";",
            Dialect::Postgres,
        );
        assert_eq!(
            q,
            vec![
                "CREATE ROLE \"{{name}}\" WITH PASSWORD 'a;b'",
                "GRANT x TO \"{{name}}\""
            ]
        );
    }

    #[test]
    fn escapes_for_the_context() {
        let v = [("name", "a\"b'c"), ("password", "p'w\\d")];
        let pg = render(
            "CREATE ROLE \"{{name}}\" PASSWORD '{{password}}'",
            &v,
            Dialect::Postgres,
        )
        .unwrap();
        assert_eq!(pg, "CREATE ROLE \"a\"\"b'c\" PASSWORD 'p''w\\d'");
        let my = render(
            "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
            &v,
            Dialect::Mysql,
        )
        .unwrap();
        assert_eq!(my, "CREATE USER 'a\"b''c'@'%' IDENTIFIED BY 'p''w\\\\d'");
        let tick = render(
            "GRANT ALL ON `{{name}}`.* TO x",
            &[("name", "a`b")],
            Dialect::Mysql,
        );
        assert_eq!(tick.unwrap(), "GRANT ALL ON `a``b`.* TO x");
    }

    #[test]
    fn bare_values_must_be_plain_words() {
        assert_eq!(
            render(
                "DROP ROLE {{name}}",
                &[("name", "v-tok_1")],
                Dialect::Postgres
            )
            .unwrap(),
            "DROP ROLE v-tok_1"
        );
        assert!(
            render(
                "DROP ROLE {{name}}",
                &[("name", "x; DROP")],
                Dialect::Postgres
            )
            .is_err()
        );
        // Quoted text that merely looks like a placeholder boundary does not confuse it.
        assert_eq!(
            render(
                "SELECT '}}' || '{{name}}'",
                &[("name", "o'k")],
                Dialect::Postgres
            )
            .unwrap(),
            "SELECT '}}' || 'o''k'"
        );
        // Unknown placeholders stay as they are.
        assert_eq!(
            render("SELECT '{{other}}'", &[("name", "x")], Dialect::Postgres).unwrap(),
            "SELECT '{{other}}'"
        );
    }

    #[test]
    fn expiration_is_the_text_postgres_and_mysql_read() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-12-06T10:11:12Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(expiration_text(t), "2026-12-06 10:11:12+0000");
    }
}
