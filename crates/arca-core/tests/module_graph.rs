//! The core's subsystem modules must not import each other both ways, nor in any longer
//! loop: each subsystem owns its state and is handed the ones it needs, and `core` composes
//! them. This reads the sources and builds the graph of `crate::<module>` references
//! between top-level modules (a folder module such as `sys/` counts as one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("cannot read {}", dir.display());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`sys/mounts.rs` → `sys`), `None` for
/// the crate root.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib").then_some(name)
}

fn ident_at(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules a source text names through `crate::` (plain paths and grouped
/// `use crate::{a::X, b}` imports alike).
fn referenced_modules(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut end = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    end = j;
                    break;
                }
            }
            let inner = &group[..end];
            let mut depth = 0;
            let mut start = true;
            for (j, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        out.insert(ident_at(&inner[j..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident_at(rest);
            // `crate::Item` at the root (a re-export or a crate-level fn) is no module edge.
            if rest[name.len()..].starts_with("::") {
                out.insert(name);
            }
        }
    }
    out
}

/// Module → the modules it references.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let deps = g.entry(module.clone()).or_default();
        for m in referenced_modules(&text) {
            if m != module && !m.is_empty() {
                deps.insert(m);
            }
        }
    }
    g
}

#[test]
fn the_scanner_sees_plain_and_grouped_imports() {
    let refs = referenced_modules(
        "use crate::a::X;\nuse crate::{b::Y, c, d::{E, F}};\nlet x = crate::e::f();\ncrate::ROOT;",
    );
    let want: BTreeSet<String> = ["a", "b", "c", "d", "e"].map(String::from).into();
    assert_eq!(refs, want);
}

#[test]
fn no_two_subsystem_modules_import_each_other() {
    let g = graph();
    // The graph must be the real one: the core composes the subsystems it owns.
    for sub in [
        "seal_ops",
        "mount_store",
        "catalog",
        "token_store",
        "policy_store",
        "leases",
        "sys",
    ] {
        assert!(
            g.get("core").is_some_and(|d| d.contains(sub)),
            "core should compose {sub}; graph: {g:#?}"
        );
    }
    let mut two_way = Vec::new();
    for (a, deps) in &g {
        for b in deps {
            if a < b && g.get(b).is_some_and(|d| d.contains(a)) {
                two_way.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(
        two_way.is_empty(),
        "modules importing each other: {two_way:?}"
    );
}

#[test]
fn the_module_graph_has_no_loop() {
    let g = graph();
    // Depth-first search; a module met again while still on the stack closes a loop.
    fn visit(
        m: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[pos..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.to_string());
        for d in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(d, g, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for m in g.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(m, &g, &mut stack, &mut done) {
            panic!("module loop: {}", cycle.join(" -> "));
        }
    }
}
