//! The allow-list of deliberate differences between Arca and OpenBao.
//!
//! One entry per line: `CASE POINTER REASON...`, where `CASE` is a case name and `POINTER` a
//! JSON pointer or `status`, either with `*` as a wildcard for any run of characters, and the
//! reason (required) says why the difference is deliberate. `#` starts a comment line.

use arca_sdk::glob::glob_match;

use crate::error::ConformanceError;

/// One deliberate difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Case name pattern.
    pub case: String,
    /// JSON pointer (or `status`) pattern.
    pub pointer: String,
    /// Why the difference is deliberate.
    pub reason: String,
}

/// All the entries of one allow-list.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    entries: Vec<Entry>,
}

/// The crate's own allow-list text: deliberate differences.
pub const ALLOWLIST: &str = include_str!("../allowlist.txt");

/// Known gaps: differences Arca should lose, listed so the suite stays green while they are
/// fixed (each is reported on every run).
pub const KNOWN_GAPS: &str = include_str!("../known_gaps.txt");

impl AllowList {
    /// Parses an allow-list; every entry must have a reason.
    pub fn parse(text: &str) -> Result<AllowList, ConformanceError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.splitn(3, char::is_whitespace);
            let case = parts.next().unwrap_or_default().to_string();
            let pointer = parts.next().unwrap_or_default().trim().to_string();
            let reason = parts.next().unwrap_or_default().trim().to_string();
            if pointer.is_empty() || reason.is_empty() {
                return Err(ConformanceError::AllowList {
                    line: i + 1,
                    detail: "expected `CASE POINTER REASON`".into(),
                });
            }
            entries.push(Entry {
                case,
                pointer,
                reason,
            });
        }
        Ok(AllowList { entries })
    }

    /// The crate's allow-list (`allowlist.txt`).
    pub fn builtin() -> Result<AllowList, ConformanceError> {
        AllowList::parse(ALLOWLIST)
    }

    /// The known-gaps list (`known_gaps.txt`).
    pub fn known_gaps() -> Result<AllowList, ConformanceError> {
        AllowList::parse(KNOWN_GAPS)
    }

    /// Both lists together: deliberate differences first, then known gaps.
    pub fn all() -> Result<AllowList, ConformanceError> {
        let mut list = AllowList::builtin()?;
        list.entries.extend(AllowList::known_gaps()?.entries);
        Ok(list)
    }

    /// The entry allowing a difference at `pointer` in `case`, if any.
    pub fn allows(&self, case: &str, pointer: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| glob_match(&e.case, case) && glob_match(&e.pointer, pointer))
    }

    /// Every entry.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_need_a_reason() {
        assert!(AllowList::parse("case /ptr\n").is_err());
        let l = AllowList::parse("# c\n* /mount_type OpenBao omits it here\n").unwrap();
        assert_eq!(l.entries().len(), 1);
        assert!(l.allows("x", "/mount_type").is_some());
        assert!(l.allows("x", "/data").is_none());
    }

    #[test]
    fn builtin_list_parses() {
        let l = AllowList::all().unwrap();
        assert!(l.entries().iter().all(|e| !e.reason.is_empty()));
    }
}
