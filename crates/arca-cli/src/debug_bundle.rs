//! The files of a `debug` bundle as `bao debug` lays them out: one JSON array per polled
//! target (`metrics.json`, `host_info.json`, ...), one directory per capture interval named
//! after its UTC time (`2026-12-07T13-59-16Z/`), the `index.json` that lists them, and the
//! gzip'd tar archive the directory becomes with `-compress`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::go_io;
use crate::output;

/// The layout version `index.json` carries (`debugIndexVersion`).
pub const INDEX_VERSION: u32 = 1;

/// How interval directories (and the default output name) spell a time: Go's layout
/// `2006-01-02T15-04-05Z`, colons being awkward in file names.
const DIR_TIME: &str = "%Y-%m-%dT%H-%M-%SZ";

/// A time in the file-friendly form of interval directories and default output names.
pub fn dir_time(t: DateTime<Utc>) -> String {
    t.format(DIR_TIME).to_string()
}

/// A time as Go's `encoding/json` writes a `time.Time` (RFC 3339, trailing zeros trimmed).
pub fn json_time(t: DateTime<Utc>) -> String {
    arca_sdk::go_time::go_time(t)
}

/// One failure recorded while capturing, as `index.json`'s `errors` lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CaptureError {
    /// The error text.
    pub error: String,
    /// The target (or sub-target, `pprof.heap`, `server-status.seal`) that failed.
    pub target: String,
    /// When it failed (Go's JSON time).
    pub timestamp: String,
}

/// The content of `index.json`, fields in `bao`'s order.
#[derive(Debug, Clone, Serialize)]
pub struct Index {
    /// [`INDEX_VERSION`].
    pub version: u32,
    /// The server address probed (the field keeps Vault's name).
    pub vault_address: String,
    /// The CLI's version.
    pub client_version: String,
    /// The server's version, from `sys/health`.
    pub server_version: String,
    /// When the capture started (Go's JSON time).
    pub timestamp: String,
    /// `-duration` in whole seconds.
    pub duration_seconds: i64,
    /// `-interval` in whole seconds.
    pub interval_seconds: i64,
    /// `-metrics-interval` in whole seconds.
    pub metrics_interval_seconds: i64,
    /// `-compress`.
    pub compress: bool,
    /// The command's arguments as given.
    pub raw_args: Vec<String>,
    /// The targets captured.
    pub targets: Vec<String>,
    /// The files written, as [`layout`] lists them.
    pub output: Value,
    /// The failures, in the order they happened.
    pub errors: Vec<CaptureError>,
}

/// A bundle-writing failure, worded as `bao` words it.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Listing the output directory failed.
    #[error("error generating directory output layout: {0}")]
    Layout(String),
    /// Writing `index.json` failed.
    #[error("error generating index file; {0}")]
    Index(String),
    /// Writing the archive failed.
    #[error("failed to compress data: {0}")]
    Compress(String),
    /// Opening the archive failed.
    #[error("failed to open output archive for writing: {0}")]
    Open(String),
    /// Removing the directory after archiving it failed.
    #[error("failed to remove data directory: {0}")]
    Remove(String),
}

/// Writes `collection` as an indented JSON array to `dir/name`; an empty collection writes
/// nothing (the target then has no file, as with `bao`).
pub fn write_collection<T: Serialize>(
    dir: &Path,
    name: &str,
    collection: &[T],
) -> Result<(), String> {
    if collection.is_empty() {
        return Ok(());
    }
    let text = output::json_text(collection);
    let path = dir.join(name);
    write_private(&path, text.as_bytes())
        .map_err(|e| go_io::path_error("open", &path.display().to_string(), &e))
}

/// Creates (or truncates) `path` readable by its owner only and writes `bytes`.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = create_private(path)?;
    file.write_all(bytes)
}

/// Creates (or truncates) `path`, readable by its owner only.
pub fn create_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates `dir` and its parents, readable by its owner only.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// The entries of `dir`, sorted by name as Go's directory walks return them.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<fs::DirEntry>> {
    let mut entries = fs::read_dir(dir)?.collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    Ok(entries)
}

/// The `output` object of `index.json`: `files` lists the files at the top of `root`, and
/// each interval directory is a key holding its parsed `timestamp` and its `files`.
pub fn layout(root: &Path) -> Result<Value, BundleError> {
    let io = |e: std::io::Error| BundleError::Layout(go_io::reason(&e));
    let mut out = Map::new();
    let mut top = Vec::new();
    for entry in sorted_entries(root).map_err(io)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().map_err(io)?.is_dir() {
            top.push(Value::String(name));
            continue;
        }
        let time = NaiveDateTime::parse_from_str(&name, DIR_TIME).map_err(|_| {
            BundleError::Layout(format!(
                "parsing time {name:?} as \"2006-01-02T15-04-05Z\": cannot parse {name:?}"
            ))
        })?;
        let mut files = Vec::new();
        for inner in sorted_entries(&entry.path()).map_err(io)? {
            files.push(Value::String(
                inner.file_name().to_string_lossy().into_owned(),
            ));
        }
        let mut interval = Map::new();
        interval.insert("files".into(), Value::Array(files));
        interval.insert("timestamp".into(), Value::String(json_time(time.and_utc())));
        out.insert(name, Value::Object(interval));
    }
    out.insert("files".into(), Value::Array(top));
    Ok(Value::Object(out))
}

/// Lists `root` into `index.output` and writes `root/index.json`.
pub fn write_index(root: &Path, mut index: Index) -> Result<(), BundleError> {
    index.output = layout(root)?;
    let text = output::json_text(&index);
    write_private(&root.join("index.json"), text.as_bytes())
        .map_err(|e| BundleError::Index(go_io::reason(&e)))
}

/// Archives the directory `root` into the gzip'd tar `archive` (entries named
/// `<root's name>/...`, directories first, names sorted), then removes `root`.
pub fn compress(root: &Path, archive: &Path) -> Result<(), BundleError> {
    let file = create_private(archive).map_err(|e| {
        BundleError::Open(go_io::path_error(
            "open",
            &archive.display().to_string(),
            &e,
        ))
    })?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let base = root
        .file_name()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let walked = append_dir(&mut tar, root, &base);
    let finished = walked.and_then(|()| {
        let gz = tar.into_inner().map_err(|e| go_io::reason(&e))?;
        let file = gz.finish().map_err(|e| go_io::reason(&e))?;
        file.sync_all().map_err(|e| go_io::reason(&e))
    });
    finished.map_err(BundleError::Compress)?;
    fs::remove_dir_all(root).map_err(|e| BundleError::Remove(go_io::reason(&e)))
}

/// Adds `dir` (as `name/`) and everything under it to `tar`.
fn append_dir<W: Write>(tar: &mut tar::Builder<W>, dir: &Path, name: &Path) -> Result<(), String> {
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o700);
    header.set_mtime(now);
    header.set_size(0);
    let dir_name = format!("{}/", name.display());
    append_named(tar, &mut header, &dir_name, std::io::empty())?;
    for entry in sorted_entries(dir).map_err(|e| go_io::reason(&e))? {
        let path = entry.path();
        let inner = name.join(entry.file_name());
        if entry.file_type().map_err(|e| go_io::reason(&e))?.is_dir() {
            append_dir(tar, &path, &inner)?;
            continue;
        }
        let bytes =
            fs::read(&path).map_err(|e| go_io::open_error(&path.display().to_string(), &e))?;
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o600);
        header.set_mtime(now);
        header.set_size(bytes.len() as u64);
        let file_name = inner.display().to_string();
        append_named(tar, &mut header, &file_name, bytes.as_slice())?;
    }
    Ok(())
}

/// Appends an entry named exactly `name` (a directory's with its trailing `/`, as Go's
/// archive names it); a name too long for the header is left to the tar crate, which
/// stores it in a GNU long-name entry (without the trailing `/`).
fn append_named<W: Write>(
    tar: &mut tar::Builder<W>,
    header: &mut tar::Header,
    name: &str,
    data: impl std::io::Read,
) -> Result<(), String> {
    let field = &mut header.as_old_mut().name;
    if name.len() < field.len() {
        field.fill(0);
        field[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        tar.append(header, data).map_err(|e| go_io::reason(&e))
    } else {
        tar.append_data(header, name.trim_end_matches('/'), data)
            .map_err(|e| go_io::reason(&e))
    }
}

/// Go's `filepath.Clean`: the shortest lexically equal path (`out/` is `out`, `./a/../b` is
/// `b`, an empty path is `.`).
pub fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn cleans_like_go() {
        for (given, want) in [
            ("out/", "out"),
            ("./out", "out"),
            ("a/../b", "b"),
            ("", "."),
            ("../x/./y//", "../x/y"),
            ("/../a", "/a"),
            ("/", "/"),
            ("a/..", "."),
        ] {
            assert_eq!(clean(given), want, "{given}");
        }
    }

    #[test]
    fn layout_lists_files_and_interval_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_private(&root.join("metrics.json"), b"[]").unwrap();
        write_private(&root.join("arca.log"), b"").unwrap();
        create_private_dir(&root.join("2026-12-07T13-59-16Z")).unwrap();
        write_private(&root.join("2026-12-07T13-59-16Z/heap.prof"), b"x").unwrap();
        write_private(&root.join("2026-12-07T13-59-16Z/allocs.prof"), b"x").unwrap();
        create_private_dir(&root.join("2026-12-07T13-59-21Z")).unwrap();
        let got = layout(root).unwrap();
        assert_eq!(
            got,
            serde_json::json!({
                "2026-12-07T13-59-16Z": {
                    "files": ["allocs.prof", "heap.prof"],
                    "timestamp": "2026-12-07T13:59:16Z"
                },
                "2026-12-07T13-59-21Z": {"files": [], "timestamp": "2026-12-07T13:59:21Z"},
                "files": ["arca.log", "metrics.json"]
            })
        );
        create_private_dir(&root.join("not-a-time")).unwrap();
        assert!(layout(root).is_err());
    }

    #[test]
    fn compresses_the_directory_and_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("bundle");
        create_private_dir(&root.join("2026-12-07T13-59-16Z")).unwrap();
        write_private(&root.join("index.json"), b"{}").unwrap();
        write_private(&root.join("2026-12-07T13-59-16Z/heap.prof"), b"heap").unwrap();
        let archive = dir.path().join("bundle.tar.gz");
        compress(&root, &archive).unwrap();
        assert!(!root.exists());
        let file = fs::File::open(&archive).unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let mut seen = Vec::new();
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut body = String::new();
            entry.read_to_string(&mut body).unwrap();
            seen.push((name, body));
        }
        let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "bundle/",
                "bundle/2026-12-07T13-59-16Z/",
                "bundle/2026-12-07T13-59-16Z/heap.prof",
                "bundle/index.json"
            ]
        );
        assert_eq!(seen[2].1, "heap");
    }

    #[test]
    fn empty_collections_write_no_file() {
        let dir = tempfile::tempdir().unwrap();
        write_collection::<Value>(dir.path(), "x.json", &[]).unwrap();
        assert!(!dir.path().join("x.json").exists());
        write_collection(dir.path(), "y.json", &[serde_json::json!({"a": "<b>"})]).unwrap();
        let text = fs::read_to_string(dir.path().join("y.json")).unwrap();
        assert_eq!(text, "[\n  {\n    \"a\": \"\\u003cb\\u003e\"\n  }\n]");
    }
}
