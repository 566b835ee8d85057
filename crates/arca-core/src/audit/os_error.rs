//! Operating-system errors written as Go writes them (`connect: connection refused`,
//! `no such file or directory`), because OpenBao's audit errors reach the client in its 400s
//! and in the `failed test message` text, and Arca answers with the same words.

use std::io;

/// The text Go's `syscall.Errno` gives for `err`: the C library's message with a lower-case
/// first letter and without Rust's ` (os error N)` suffix. An error that carries no errno
/// (a timeout raised by Arca itself, a lookup failure) keeps its own text, first letter lowered.
pub(crate) fn errno_text(err: &io::Error) -> String {
    if err.kind() == io::ErrorKind::TimedOut && err.raw_os_error().is_none() {
        return "i/o timeout".to_owned();
    }
    let mut text = err.to_string();
    if let Some(code) = err.raw_os_error() {
        let suffix = format!(" (os error {code})");
        if let Some(stripped) = text.strip_suffix(&suffix) {
            text = stripped.to_owned();
        }
    }
    lower_first(&text)
}

/// `s` with its first character in lower case, as Go's errno table writes messages.
fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Go's `%q` for a path or option: between double quotes, with `"`, `\` and control
/// characters escaped.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let code = u32::from(c);
                if code < 0x80 {
                    out.push_str(&format!("\\x{code:02x}"));
                } else {
                    out.push_str(&format!("\\u{code:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_is_go_s() {
        let err = io::Error::from_raw_os_error(2);
        assert_eq!(errno_text(&err), "no such file or directory");
        let err = io::Error::from_raw_os_error(111);
        assert_eq!(errno_text(&err), "connection refused");
        let err = io::Error::new(io::ErrorKind::TimedOut, "deadline");
        assert_eq!(errno_text(&err), "i/o timeout");
    }

    #[test]
    fn quote_escapes_as_go() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("/tmp/x.log"), "\"/tmp/x.log\"");
    }
}
