//! The `file` device: appends lines to a file (or stdout, or nowhere), reopened on SIGHUP.
//!
//! A caller that finds the file free writes its line itself, in one `write` on a file opened
//! `O_APPEND` (no hand-over: the common case costs one system call). A caller that finds it
//! busy copies its line into the device's queue (bounded in bytes) and wakes its writer thread
//! only if it sleeps; the thread takes every line queued at the moment, writes them in one
//! `write` (group commit), then tells each caller whether its line was written. A queued
//! caller waits for that answer at most `write_timeout` (default 2s). So a disk that stops
//! answering holds only the one write already inside the kernel (its request, and the thread
//! running it, wait for the disk); every other request fails after `write_timeout` instead of
//! holding the server. A failed write reopens the file once and retries, as OpenBao does.
//! `reload` (SIGHUP, after logrotate renamed the file) goes through the same queue, so it
//! happens between the lines queued before it and those queued after it.
//!
//! **fsync policy:** a line is handed to the kernel (`write(2)` returned) before the request's
//! response leaves the server, but it is not fsync'd: durability against a power loss is left
//! to the operating system's writeback, as Vault and OpenBao do. A process crash loses nothing
//! that was acknowledged.
//!
//! The file is created 0600 (or the `mode` option, executable bits stripped), with missing
//! parent directories created 0700; a path inside the plugin directory is refused
//! (CVE-2025-6000: an audit file must never become a plugin binary).

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use arca_sdk::duration::{format_go_duration, parse_duration};
use async_trait::async_trait;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};

use tokio::sync::oneshot;

use super::os_error::{errno_text, go_quote};
use super::{AuditError, Options, Sink};

/// How many bytes of lines may wait for the writer thread; beyond, a write fails at once
/// rather than grow memory without bound behind a stuck disk.
const MAX_PENDING_BYTES: usize = 64 << 20;
/// A batch buffer above this capacity is shrunk after its write.
const BATCH_BYTES: usize = 1 << 20;
/// The capacity the batch buffer shrinks back to after an unusually large batch.
const BATCH_KEEP: usize = 64 * 1024;
/// How long a write may take when the device sets no `write_timeout`.
const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// The mode of a created file when the device sets no `mode`.
const DEFAULT_MODE: u32 = 0o600;
/// The mode of created parent directories.
const DIR_MODE: u32 = 0o700;

/// What the writer thread answers for one line or one reopen: `Err` holds Go's error text.
type Outcome = Result<(), String>;

/// A `file` audit device's sink.
pub(crate) struct FileSink {
    /// `None` for `discard`; otherwise what callers share with the writer thread.
    queue: Option<Arc<Shared>>,
    /// The file path, or `stdout`, for error texts.
    label: String,
    /// How long one write (or reopen) may take.
    write_timeout: Duration,
}

/// What callers share with the writer thread.
struct Shared {
    /// The file (or stdout): written by a caller that finds it free, else by the thread.
    output: Mutex<Output>,
    pending: Mutex<Pending>,
    /// Wakes the writer thread when it sleeps.
    wake: Condvar,
}

/// The work waiting for the writer thread.
#[derive(Default)]
struct Pending {
    /// Lines waiting, one after the other: a caller copies its line in, so its buffer is
    /// freed where it was made.
    lines: Vec<u8>,
    /// The callers of those lines, in order, each told the outcome of their write.
    waiting: Vec<oneshot::Sender<Outcome>>,
    /// Reopens asked (SIGHUP), run after the lines queued with them.
    reloads: Vec<oneshot::Sender<Outcome>>,
    /// The writer thread waits for `wake`: the next caller must notify it (only then, so
    /// under load, while it writes a batch, callers queue without a wake-up).
    sleeping: bool,
    /// The sink is gone: the thread ends once the queue is empty.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves plain data: keep using it.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn output(&self) -> MutexGuard<'_, Output> {
        self.output.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The output, if no one is writing to it right now.
    fn free_output(&self) -> Option<MutexGuard<'_, Output>> {
        match self.output.try_lock() {
            Ok(out) => Some(out),
            Err(TryLockError::Poisoned(out)) => Some(out.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// Where a `file` device writes.
enum Target {
    /// The server's standard output.
    Stdout,
    /// Nowhere: every write succeeds.
    Discard,
    /// A file, appended to.
    File(PathBuf),
}

/// The permissions a device gives its file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// `mode = "0000"`: the file must exist and keeps its own mode.
    Keep,
    /// Create the file with this mode and chmod an existing regular file to it.
    Set(u32),
}

impl FileSink {
    /// Builds the sink from `file_path` (or `path`), `mode` and `write_timeout`; refuses a
    /// file inside `plugin_directory`; opens the file (created 0600) unless it is `stdout` or
    /// `discard`, and starts its writer thread.
    pub(crate) fn new(
        options: &Options,
        plugin_directory: Option<&Path>,
    ) -> Result<FileSink, AuditError> {
        let raw = options
            .get("file_path")
            .or_else(|| options.get("path"))
            .ok_or_else(|| AuditError::Config("file_path is required".into()))?;
        let target = if raw.eq_ignore_ascii_case("stdout") {
            Target::Stdout
        } else if raw.eq_ignore_ascii_case("discard") {
            Target::Discard
        } else {
            Target::File(PathBuf::from(raw))
        };
        let write_timeout = match options.get("write_timeout") {
            Some(text) => {
                parse_duration(text).map_err(|err| AuditError::Config(err.to_string()))?
            }
            None => DEFAULT_WRITE_TIMEOUT,
        };
        let mode = match options.get("mode") {
            Some(text) => parse_mode(text, &target)?,
            None => Mode::Set(DEFAULT_MODE),
        };
        let output = match target {
            Target::Discard => {
                return Ok(FileSink {
                    queue: None,
                    label: "discard".into(),
                    write_timeout,
                });
            }
            Target::Stdout => Output::Stdout,
            Target::File(path) => {
                if let Some(dir) = plugin_directory.filter(|d| !d.as_os_str().is_empty()) {
                    refuse_plugin_directory(&path, dir)?;
                }
                let file = open_file(&path, mode).map_err(|reason| {
                    AuditError::Config(format!(
                        "sanity check failed; unable to open {} for writing: {reason}",
                        go_quote(raw)
                    ))
                })?;
                Output::File(FileOutput {
                    path,
                    mode,
                    file: Some(file),
                })
            }
        };
        let label = match &output {
            Output::Stdout => "stdout".to_owned(),
            Output::File(out) => out.path.display().to_string(),
        };
        let queue = Arc::new(Shared {
            output: Mutex::new(output),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let shared = queue.clone();
        std::thread::Builder::new()
            .name("arca-audit-file".into())
            .spawn(move || run_writer(&shared))
            .map_err(|err| {
                AuditError::Config(format!(
                    "cannot start the audit writer: {}",
                    errno_text(&err)
                ))
            })?;
        Ok(FileSink {
            queue: Some(queue),
            label,
            write_timeout,
        })
    }

    /// Waits for the writer thread's answer within the write timeout.
    async fn wait(&self, answer: oneshot::Receiver<Outcome>) -> Result<(), AuditError> {
        match tokio::time::timeout(self.write_timeout, answer).await {
            Err(_) => Err(self.timed_out()),
            Ok(Err(_)) => Err(self.stopped()),
            Ok(Ok(outcome)) => outcome.map_err(AuditError::Io),
        }
    }

    /// The error of a write that did not finish within the timeout.
    fn timed_out(&self) -> AuditError {
        AuditError::Io(format!(
            "write {}: timed out after {}",
            self.label,
            format_go_duration(self.write_timeout)
        ))
    }

    /// The error of a write whose writer thread is gone.
    fn stopped(&self) -> AuditError {
        AuditError::Io(format!(
            "write {}: the audit writer has stopped",
            self.label
        ))
    }
}

#[async_trait]
impl Sink for FileSink {
    async fn write(&self, line: Vec<u8>) -> Result<(), AuditError> {
        let Some(shared) = &self.queue else {
            return Ok(());
        };
        // The file is free: write the line here, one `write` and no hand-over.
        if let Some(mut out) = shared.free_output() {
            return out.write(&line).map_err(AuditError::Io);
        }
        let (done, answer) = oneshot::channel();
        {
            let mut p = shared.lock();
            if p.lines.len() + line.len() > MAX_PENDING_BYTES {
                // The writer is stuck behind this much: fail now rather than grow.
                return Err(self.timed_out());
            }
            p.lines.extend_from_slice(&line);
            p.waiting.push(done);
            if p.sleeping {
                p.sleeping = false;
                shared.wake.notify_one();
            }
        }
        drop(line);
        self.wait(answer).await
    }

    async fn reload(&self) -> Result<(), AuditError> {
        let Some(shared) = &self.queue else {
            return Ok(());
        };
        let (done, answer) = oneshot::channel();
        {
            let mut p = shared.lock();
            p.reloads.push(done);
            if p.sleeping {
                p.sleeping = false;
                shared.wake.notify_one();
            }
        }
        self.wait(answer).await
    }

    fn write_timeout(&self) -> Duration {
        self.write_timeout
    }
}

/// Parses `mode` as Go's `strconv.ParseUint(mode, 8, 32)` and applies OpenBao's rules: 0 keeps
/// the existing file's mode (which must then exist), anything above 0o777 is refused, and the
/// executable bits are stripped.
fn parse_mode(text: &str, target: &Target) -> Result<Mode, AuditError> {
    if text.is_empty() || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Err(AuditError::Config(format!(
            "strconv.ParseUint: parsing {}: invalid syntax",
            go_quote(text)
        )));
    }
    let value = u32::from_str_radix(text, 8).map_err(|_| {
        AuditError::Config(format!(
            "strconv.ParseUint: parsing {}: value out of range",
            go_quote(text)
        ))
    })?;
    match value {
        0 => {
            if let Target::File(path) = target {
                fs::metadata(path).map_err(|err| {
                    AuditError::Config(format!("stat {}: {}", path.display(), errno_text(&err)))
                })?;
            }
            Ok(Mode::Keep)
        }
        v if v > 0o777 => Err(AuditError::Config(
            "file mode does not represent a regular file".into(),
        )),
        v => Ok(Mode::Set(v & !0o111)),
    }
}

/// Refuses `path` when it resolves inside `plugin_directory` (symbolic links and `..`
/// followed; neither needs to exist yet).
fn refuse_plugin_directory(path: &Path, plugin_directory: &Path) -> Result<(), AuditError> {
    let unresolvable = |what: &Path, err: io::Error| {
        AuditError::Config(format!(
            "cannot resolve {}: {}",
            go_quote(&what.display().to_string()),
            errno_text(&err)
        ))
    };
    let file = resolve(path).map_err(|err| unresolvable(path, err))?;
    let dir = resolve(plugin_directory).map_err(|err| unresolvable(plugin_directory, err))?;
    if file.starts_with(&dir) {
        return Err(AuditError::Config(format!(
            "file_path {} is inside the plugin directory {}: an audit device may not write there",
            go_quote(&path.display().to_string()),
            go_quote(&plugin_directory.display().to_string())
        )));
    }
    Ok(())
}

/// `path` made absolute with its deepest existing ancestor canonicalized and the rest
/// (which does not exist, so holds no link) applied lexically.
pub(crate) fn resolve(path: &Path) -> io::Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let components: Vec<Component<'_>> = absolute.components().collect();
    for split in (1..=components.len()).rev() {
        let existing: PathBuf = components[..split].iter().collect();
        let Ok(mut resolved) = existing.canonicalize() else {
            continue;
        };
        for component in &components[split..] {
            match component {
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => resolved.push(name),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        return Ok(resolved);
    }
    Err(io::Error::from(io::ErrorKind::NotFound))
}

/// Creates `dir` and its missing parents (0700), as Go's `os.MkdirAll`, with its error text.
fn mkdir_all(dir: &Path) -> Result<(), String> {
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => return Err(format!("mkdir {}: not a directory", dir.display())),
        Err(_) => {}
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        mkdir_all(parent)?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => Ok(()),
        // Created meanwhile by someone else: as good.
        Err(_) if fs::metadata(dir).is_ok_and(|m| m.is_dir()) => Ok(()),
        Err(err) => Err(format!("mkdir {}: {}", dir.display(), errno_text(&err))),
    }
}

/// Opens `path` for appending, creating it and its directories, and gives an existing regular
/// file the device's mode (never a device node such as `/dev/null`).
fn open_file(path: &Path, mode: Mode) -> Result<File, String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        mkdir_all(parent)?;
    }
    let create_mode = match mode {
        Mode::Keep => DEFAULT_MODE,
        Mode::Set(bits) => bits,
    };
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(create_mode)
        .open(path)
        .map_err(|err| format!("open {}: {}", path.display(), errno_text(&err)))?;
    if let Mode::Set(bits) = mode {
        let meta = file
            .metadata()
            .map_err(|err| format!("stat {}: {}", path.display(), errno_text(&err)))?;
        if meta.is_file() && meta.permissions().mode() & 0o7777 != bits {
            file.set_permissions(Permissions::from_mode(bits))
                .map_err(|err| format!("chmod {}: {}", path.display(), errno_text(&err)))?;
        }
    }
    Ok(file)
}

/// What the writer thread writes to.
enum Output {
    /// The server's standard output.
    Stdout,
    /// A file, reopened on failure and on reload.
    File(FileOutput),
}

/// An open (or to be reopened) audit file.
struct FileOutput {
    /// The file's path.
    path: PathBuf,
    /// The mode it is opened with.
    mode: Mode,
    /// The open file; `None` after a failed reopen, opened again on the next write.
    file: Option<File>,
}

impl FileOutput {
    /// Appends `bytes`; on failure reopens the file once and retries, as OpenBao does.
    fn write(&mut self, bytes: &[u8]) -> Outcome {
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(open_file(&self.path, self.mode)?),
        };
        if file.write_all(bytes).is_ok() {
            return Ok(());
        }
        self.file = None;
        let file = self.file.insert(open_file(&self.path, self.mode)?);
        file.write_all(bytes)
            .map_err(|err| format!("write {}: {}", self.path.display(), errno_text(&err)))
    }

    /// Closes the file and opens the path again (a rotated file is left to its new name).
    fn reopen(&mut self) -> Outcome {
        self.file = None;
        self.file = Some(open_file(&self.path, self.mode)?);
        Ok(())
    }
}

impl Output {
    /// Writes one batch of whole lines.
    fn write(&mut self, bytes: &[u8]) -> Outcome {
        match self {
            Output::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(bytes)
                    .and_then(|()| out.flush())
                    .map_err(|err| format!("write /dev/stdout: {}", errno_text(&err)))
            }
            Output::File(file) => file.write(bytes),
        }
    }

    /// Reopens the file; nothing to do for stdout.
    fn reopen(&mut self) -> Outcome {
        match self {
            Output::Stdout => Ok(()),
            Output::File(file) => file.reopen(),
        }
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        if let Some(shared) = &self.queue {
            shared.lock().closed = true;
            shared.wake.notify_one();
        }
    }
}

/// The writer thread: takes every line queued so far, writes them in one call (group
/// commit), answers each caller, runs the reopens asked meanwhile, and ends once the sink is
/// dropped and nothing is left.
fn run_writer(shared: &Shared) {
    let mut batch: Vec<u8> = Vec::with_capacity(BATCH_KEEP);
    let mut waiting: Vec<oneshot::Sender<Outcome>> = Vec::new();
    let mut reloads: Vec<oneshot::Sender<Outcome>> = Vec::new();
    loop {
        {
            let mut p = shared.lock();
            while p.lines.is_empty() && p.reloads.is_empty() {
                if p.closed {
                    return;
                }
                p.sleeping = true;
                p = shared.wake.wait(p).unwrap_or_else(PoisonError::into_inner);
            }
            std::mem::swap(&mut p.lines, &mut batch);
            std::mem::swap(&mut p.waiting, &mut waiting);
            std::mem::swap(&mut p.reloads, &mut reloads);
        }
        if !batch.is_empty() {
            let outcome = shared.output().write(&batch);
            for done in waiting.drain(..) {
                // A caller that timed out no longer listens.
                let _ = done.send(outcome.clone());
            }
            batch.clear();
            if batch.capacity() > BATCH_BYTES {
                batch.shrink_to(BATCH_KEEP);
            }
        }
        for done in reloads.drain(..) {
            // The caller may have given up waiting; the reopen happened all the same.
            let _ = done.send(shared.output().reopen());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::sink::test_support::{config_error, options};
    use std::os::unix::fs::MetadataExt;
    use std::sync::Arc;

    use super::*;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[tokio::test]
    async fn creates_file_0600_and_dirs_0700_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/deeper/audit.log");
        let sink = FileSink::new(&options(&[("file_path", path.to_str().unwrap())]), None).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(&dir.path().join("sub")), 0o700);
        assert_eq!(mode_of(&dir.path().join("sub/deeper")), 0o700);
        sink.write(b"one\n".to_vec()).await.unwrap();
        sink.write(b"two\n".to_vec()).await.unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        assert_eq!(sink.write_timeout(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn executable_bits_are_stripped_and_existing_files_chmodded() {
        let dir = tempfile::tempdir().unwrap();
        let fresh = dir.path().join("fresh.log");
        FileSink::new(
            &options(&[("path", fresh.to_str().unwrap()), ("mode", "0755")]),
            None,
        )
        .unwrap();
        assert_eq!(mode_of(&fresh), 0o644);

        let existing = dir.path().join("existing.log");
        fs::write(&existing, "kept\n").unwrap();
        fs::set_permissions(&existing, Permissions::from_mode(0o666)).unwrap();
        let sink =
            FileSink::new(&options(&[("file_path", existing.to_str().unwrap())]), None).unwrap();
        assert_eq!(mode_of(&existing), 0o600);
        sink.write(b"added\n".to_vec()).await.unwrap();
        assert_eq!(fs::read_to_string(&existing).unwrap(), "kept\nadded\n");

        // 0000 keeps the file's own mode.
        fs::set_permissions(&existing, Permissions::from_mode(0o640)).unwrap();
        FileSink::new(
            &options(&[("file_path", existing.to_str().unwrap()), ("mode", "0000")]),
            None,
        )
        .unwrap();
        assert_eq!(mode_of(&existing), 0o640);
    }

    #[test]
    fn option_errors_have_openbao_texts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a5.log");
        let path = path.to_str().unwrap();
        assert_eq!(
            config_error(FileSink::new(&options(&[("mode", "0600")]), None)),
            "file_path is required"
        );
        assert_eq!(
            config_error(FileSink::new(
                &options(&[("file_path", path), ("mode", "abc")]),
                None
            )),
            r#"strconv.ParseUint: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            config_error(FileSink::new(
                &options(&[("file_path", path), ("mode", "0000")]),
                None
            )),
            format!("stat {path}: no such file or directory")
        );
        assert_eq!(
            config_error(FileSink::new(
                &options(&[("file_path", path), ("mode", "4755")]),
                None
            )),
            "file mode does not represent a regular file"
        );
        assert_eq!(
            config_error(FileSink::new(
                &options(&[("file_path", path), ("write_timeout", "zz")]),
                None
            )),
            r#"time: invalid duration "zz""#
        );
        assert_eq!(
            config_error(FileSink::new(
                &options(&[("file_path", "/proc/nope/a.log")]),
                None
            )),
            r#"sanity check failed; unable to open "/proc/nope/a.log" for writing: mkdir /proc/nope: no such file or directory"#
        );
        assert!(
            !Path::new(path).exists(),
            "no refused device creates its file"
        );
    }

    #[tokio::test]
    async fn concurrent_writers_keep_each_writers_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let sink = Arc::new(
            FileSink::new(&options(&[("file_path", path.to_str().unwrap())]), None).unwrap(),
        );
        let mut tasks = Vec::new();
        for writer in 0..8 {
            let sink = Arc::clone(&sink);
            tasks.push(tokio::spawn(async move {
                for n in 0..200 {
                    sink.write(format!("w{writer} {n}\n").into_bytes())
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let text = fs::read_to_string(&path).unwrap();
        let mut next = [0u32; 8];
        let mut lines = 0;
        for line in text.lines() {
            let (writer, n) = line.split_once(' ').unwrap();
            let writer: usize = writer[1..].parse().unwrap();
            let n: u32 = n.parse().unwrap();
            assert_eq!(n, next[writer], "writer {writer}'s lines out of order");
            next[writer] += 1;
            lines += 1;
        }
        assert_eq!(lines, 8 * 200);
    }

    #[tokio::test]
    async fn reload_after_rename_writes_to_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let rotated = dir.path().join("audit.log.1");
        let sink = FileSink::new(&options(&[("file_path", path.to_str().unwrap())]), None).unwrap();
        sink.write(b"one\n".to_vec()).await.unwrap();
        fs::rename(&path, &rotated).unwrap();
        sink.write(b"two\n".to_vec()).await.unwrap();
        sink.reload().await.unwrap();
        sink.write(b"three\n".to_vec()).await.unwrap();
        assert_eq!(fs::read_to_string(&rotated).unwrap(), "one\ntwo\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), "three\n");
        assert_eq!(mode_of(&path), 0o600);
    }

    #[test]
    fn a_file_inside_the_plugin_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let plugins = dir.path().join("plugins");
        fs::create_dir(&plugins).unwrap();
        std::os::unix::fs::symlink(&plugins, dir.path().join("link")).unwrap();
        for inside in [
            plugins.join("evil"),
            plugins.join("not/yet/there.log"),
            dir.path().join("link/evil"),
            dir.path().join("elsewhere/../plugins/evil"),
        ] {
            let text = config_error(FileSink::new(
                &options(&[("file_path", inside.to_str().unwrap())]),
                Some(&plugins),
            ));
            assert!(text.contains(inside.to_str().unwrap()), "{text}");
            assert!(text.contains(plugins.to_str().unwrap()), "{text}");
            assert!(text.contains("plugin directory"), "{text}");
            assert!(!inside.exists(), "{} was created", inside.display());
        }
        let outside = dir.path().join("plugins-not/audit.log");
        FileSink::new(
            &options(&[("file_path", outside.to_str().unwrap())]),
            Some(&plugins),
        )
        .unwrap();
        assert!(outside.exists());
    }

    #[tokio::test]
    async fn a_full_disk_fails_the_write_without_hanging() {
        let before = mode_of(Path::new("/dev/full"));
        let sink = FileSink::new(
            &options(&[("file_path", "/dev/full"), ("write_timeout", "5s")]),
            None,
        )
        .unwrap();
        assert_eq!(
            mode_of(Path::new("/dev/full")),
            before,
            "a device is never chmodded"
        );
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(10), sink.write(b"line\n".to_vec()))
            .await
            .expect("the write hung");
        match result {
            Err(AuditError::Io(text)) => {
                assert_eq!(text, "write /dev/full: no space left on device");
            }
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_stuck_file_fails_after_the_write_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        // Opened read-write, the FIFO has a reader that reads nothing until told.
        let mut reader = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&fifo)
            .unwrap();
        let sink = Arc::new(
            FileSink::new(
                &options(&[
                    ("file_path", fifo.to_str().unwrap()),
                    ("write_timeout", "200ms"),
                ]),
                None,
            )
            .unwrap(),
        );
        // A first write finds the file free, writes it itself and is stuck in the kernel: the
        // FIFO takes 64 KiB, the line is 1 MiB. Only that write waits for the "disk".
        let line = vec![b'x'; 1 << 20];
        let stuck = {
            let (sink, line) = (sink.clone(), line.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(sink.write(line))
            })
        };
        let shared = sink.queue.clone().expect("a file sink has a queue");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while shared.free_output().is_some() {
            assert!(
                std::time::Instant::now() < deadline,
                "the first write never started"
            );
            std::thread::yield_now();
        }
        // Every other write fails after the timeout instead of waiting.
        let started = std::time::Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(10), sink.write(b"next\n".to_vec()))
            .await
            .expect("the write hung");
        let elapsed = started.elapsed();
        match result {
            Err(AuditError::Io(text)) => assert!(text.contains("timed out after 200ms"), "{text}"),
            other => panic!("{other:?}"),
        }
        assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        // Unstick the "disk": the first write completes, the queued line follows it.
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while io::Read::read(&mut reader, &mut buf).is_ok_and(|n| n > 0) {}
        });
        assert!(stuck.join().unwrap().is_ok());
        drop(sink);
    }

    #[tokio::test]
    async fn discard_accepts_everything() {
        let sink = FileSink::new(&options(&[("file_path", "DISCARD")]), None).unwrap();
        sink.write(b"gone\n".to_vec()).await.unwrap();
        sink.reload().await.unwrap();
    }
}
