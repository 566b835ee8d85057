//! What `Debug` prints in place of a secret: tokens, keys, passwords, request and response
//! data never reach a log line or a panic message through `{:?}`.

use std::fmt;

/// The text printed in place of a secret value.
pub const REDACTED: &str = "<redacted>";

/// Prints as `<redacted>`: `.field("client_token", &Redacted)` in a hand-written `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// `Some(<redacted>)` for a value that is there, `None` otherwise (whether a secret was given
/// is not itself secret).
pub fn redacted_option<T>(value: &Option<T>) -> Option<Redacted> {
    value.as_ref().map(|_| Redacted)
}

/// A map shown by its keys only, each value `<redacted>` (request data, headers, metadata):
/// which keys were sent is useful in a log, their values may be secrets.
pub struct KeysOnly<'a, K>(Vec<&'a K>);

impl<'a, K> KeysOnly<'a, K> {
    /// The keys of `map`, in its order.
    pub fn new<V: 'a>(map: impl IntoIterator<Item = (&'a K, &'a V)>) -> Self {
        KeysOnly(map.into_iter().map(|(k, _)| k).collect())
    }
}

impl<K: fmt::Debug> fmt::Debug for KeysOnly<'_, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|k| (k, Redacted)))
            .finish()
    }
}
