//! Times as Go's `time.Time` marshals them to JSON: the SDK's printer, which every engine uses.

pub(crate) use arca_sdk::go_time::go_time;
