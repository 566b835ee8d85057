//! Fuzzes decoding of Vault's response envelope (arca-api's `Secret`) from arbitrary JSON: it
//! must decode or fail cleanly, and a decoded envelope must survive a re-encode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(secret) = serde_json::from_slice::<arca_api::Secret>(data) {
        let text = serde_json::to_string(&secret).expect("encode a decoded envelope");
        let again: arca_api::Secret = serde_json::from_str(&text).expect("decode own output");
        assert_eq!(
            serde_json::to_string(&again).expect("encode again"),
            text,
            "envelope round trip is not stable"
        );
    }
    // The generic decoder every request body goes through first.
    let _ = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(data);
});
