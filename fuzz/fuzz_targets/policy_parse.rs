//! Fuzzes the ACL policy parser (HCL and JSON): any text must parse or fail cleanly, and a
//! policy that parses must be accepted again under its own name.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = arca_policy::parse_policy("fuzz", text) {
        // Parsing is deterministic: the same text gives the same verdict twice.
        assert!(arca_policy::parse_policy("fuzz", text).is_ok());
        drop(policy);
    }
});
