//! The `sys/capabilities` table in `data/capabilities_cases.txt` (checked live against
//! OpenBao 2.7.2 by `live_check.sh`), evaluated by this crate: one line per case.

// Tests may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use arca_policy::{Acl, Policy, default_policy, parse_policy, root_policy};

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn load(stem: &str) -> Policy {
    match stem {
        "default" => default_policy(),
        "root" => root_policy(),
        _ => {
            let dir = data_dir().join("policies");
            let file = ["hcl", "json"]
                .iter()
                .map(|ext| dir.join(format!("{stem}.{ext}")))
                .find(|p| p.exists())
                .unwrap_or_else(|| panic!("no policy file for {stem}"));
            let text = std::fs::read_to_string(&file).unwrap();
            parse_policy(stem, &text).unwrap_or_else(|e| panic!("{stem}: {e}"))
        }
    }
}

#[test]
fn capabilities_table_matches_openbao() {
    let table = std::fs::read_to_string(data_dir().join("capabilities_cases.txt")).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (n, line) in table.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 3, "line {}: {line}", n + 1);
        let policies: Vec<Policy> = cols[0].split(',').map(load).collect();
        let acl = Acl::new(&policies).unwrap();
        let got = acl.capabilities(cols[1]).join(",");
        if got != cols[2] {
            failures.push(format!(
                "line {}: {} {}: want {}, got {got}",
                n + 1,
                cols[0],
                cols[1],
                cols[2]
            ));
        }
        checked += 1;
    }
    assert!(checked >= 70, "table too small: {checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
