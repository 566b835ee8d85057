//! Fuzzes Shamir's secret sharing: `combine` on arbitrary shares must return or fail cleanly,
//! and `split` followed by `combine` of the first `threshold` shares must give the secret back.
#![no_main]

use arca_barrier::shamir::{combine, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    // Arbitrary shares: 1..=8 of them, cut evenly from the rest of the input.
    let count = usize::from(head % 8) + 1;
    let len = rest.len() / count;
    if len > 0 {
        let shares: Vec<&[u8]> = rest.chunks(len).take(count).collect();
        let _ = combine(&shares);
    }
    // Round trip: parts and threshold from the first byte, the rest as the secret.
    let parts = usize::from(head >> 4) + 2; // 2..=17
    let threshold = usize::from(head & 0x0f) % parts + 1;
    if rest.is_empty() || threshold < 2 || rest.len() > 256 {
        return;
    }
    let shares = split(rest, parts, threshold).expect("split of a valid request");
    let picked: Vec<&[u8]> = shares
        .iter()
        .take(threshold)
        .map(|s| s.as_slice())
        .collect();
    let back = combine(&picked).expect("combine of split shares");
    assert_eq!(back.as_slice(), rest);
});
