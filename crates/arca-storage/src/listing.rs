//! The listing walk every ordered backend shares: read keys in sorted order from a seek
//! position, report each immediate child of a prefix once (`"leaf"` or `"dir/"`), and jump over
//! a whole sub-directory with one new seek instead of reading its keys one by one.

use crate::StorageError;

/// Lists the immediate children of `prefix` that sort strictly after `after` (when non-empty),
/// at most `limit` of them (when `limit > 0`).
///
/// `seek(from)` must return the store's keys that are `>= from`, in ascending byte order. It is
/// called once at the start and once more for every sub-directory found, positioned just past
/// that sub-directory, so a directory holding 10,000 nested keys costs one seek, not 10,000
/// reads.
///
/// The children come out sorted and without duplicates: a key's child name is a prefix of the
/// key, so walking sorted keys yields child names in non-decreasing order, and every
/// sub-directory is left by the seek right after it is reported.
pub(crate) fn list_children<S, I, F>(
    prefix: &str,
    after: &str,
    limit: usize,
    mut seek: F,
) -> Result<Vec<String>, StorageError>
where
    S: AsRef<str>,
    I: Iterator<Item = Result<S, StorageError>>,
    F: FnMut(&str) -> Result<I, StorageError>,
{
    let mut out: Vec<String> = Vec::new();
    // No child sorting after `after` can come from a key below `prefix + after`: a child name is
    // a prefix of the rest of its key, so it sorts at or before that rest.
    let mut from = format!("{prefix}{after}");
    'seek: loop {
        for item in seek(&from)? {
            let item = item?;
            let Some(rest) = item.as_ref().strip_prefix(prefix) else {
                // Sorted keys: the first one outside the prefix ends the listing.
                break 'seek;
            };
            if rest.is_empty() {
                // The key equal to the prefix is not its own child.
                continue;
            }
            let (child, dir_name) = match rest.find('/') {
                Some(slash) => (&rest[..=slash], Some(&rest[..slash])),
                None => (rest, None),
            };
            if after.is_empty() || child > after {
                out.push(child.to_owned());
                if limit > 0 && out.len() >= limit {
                    break 'seek;
                }
            }
            if let Some(name) = dir_name {
                // Every key under `prefix + name + "/"` sorts below `prefix + name + "0"`
                // ('0' is the byte right after '/'), and nothing else sorts between them.
                from = format!("{prefix}{name}0");
                continue 'seek;
            }
        }
        break;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::BTreeSet;
    use std::ops::Bound;

    /// Runs the walk over `keys`, returning the listing and how many keys were read.
    fn walk(
        keys: &BTreeSet<String>,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> (Vec<String>, usize) {
        let reads = Cell::new(0usize);
        let out = list_children(prefix, after, limit, |from: &str| {
            Ok(keys
                .range::<str, _>((Bound::Included(from), Bound::Unbounded))
                .map(|k| {
                    reads.set(reads.get() + 1);
                    Ok(k.as_str())
                }))
        })
        .unwrap();
        (out, reads.get())
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    #[test]
    fn collapses_directories_and_keeps_order() {
        let keys = set(&["a", "a!", "a/x", "a/y/z", "a0", "b/", "c", "other"]);
        assert_eq!(
            walk(&keys, "", "", 0).0,
            ["a", "a!", "a/", "a0", "b/", "c", "other"]
        );
    }

    #[test]
    fn prefix_is_a_plain_string_prefix_and_excludes_itself() {
        let keys = set(&["foo", "foo/bar", "foobar", "fop"]);
        assert_eq!(walk(&keys, "foo", "", 0).0, ["/", "bar"]);
        assert_eq!(walk(&keys, "foo/", "", 0).0, ["bar"]);
        assert!(walk(&keys, "fop/", "", 0).0.is_empty());
    }

    #[test]
    fn after_and_limit() {
        let keys = set(&["p/a", "p/b/1", "p/b/2", "p/c", "p/d/x"]);
        assert_eq!(walk(&keys, "p/", "a", 0).0, ["b/", "c", "d/"]);
        assert_eq!(walk(&keys, "p/", "b/", 0).0, ["c", "d/"]);
        assert_eq!(walk(&keys, "p/", "b", 2).0, ["b/", "c"]);
        assert_eq!(walk(&keys, "p/", "", 1).0, ["a"]);
        assert!(walk(&keys, "p/", "z", 0).0.is_empty());
    }

    #[test]
    fn seeks_past_a_deep_subtree_instead_of_reading_it() {
        let mut keys: BTreeSet<String> = (0..10_000).map(|i| format!("p/deep/{i:05}")).collect();
        keys.insert("p/after".to_owned());
        keys.insert("p/zz".to_owned());
        let (out, reads) = walk(&keys, "p/", "", 0);
        assert_eq!(out, ["after", "deep/", "zz"]);
        // One read per child plus the terminating read past the end; nowhere near 10,000.
        assert!(reads <= 4, "read {reads} keys");
    }
}
