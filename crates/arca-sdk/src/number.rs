//! JSON numbers as Vault sees them: its HTTP layer keeps each number as the text the client
//! sent (Go's `json.Number`), and conversions (to a string, a duration, an integer) start from
//! that text.

use serde_json::Number;

/// The text of a JSON number as a client most likely wrote it: integers in full, other numbers
/// in the shortest form that reads back the same, exponents as `1e+30` (how Go, Python,
/// JavaScript and serde write a large float). The exact text is not kept: `1.50` reads as
/// `1.5`, and a hand-written `1e30` as `1e+30`.
pub fn number_text(n: &Number) -> String {
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let table: &[(&str, &str)] = &[
            ("5", "5"),
            ("-5", "-5"),
            ("18446744073709551615", "18446744073709551615"),
            ("1.5", "1.5"),
            ("1e30", "1e+30"),
            ("1e+30", "1e+30"),
            ("1E30", "1e+30"),
            ("1e-7", "1e-7"),
        ];
        for (json, want) in table {
            let n: Number = serde_json::from_str(json).unwrap();
            assert_eq!(number_text(&n), *want, "{json}");
        }
    }
}
