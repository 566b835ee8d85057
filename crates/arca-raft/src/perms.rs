//! Owner-only files and directories: the data directory is 0700, every file in it 0600.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use arca_storage::StorageError;

/// Mode of the data directory.
const DIR_MODE: u32 = 0o700;
/// Mode of every file in it.
const FILE_MODE: u32 = 0o600;

fn io(doing: &str, path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Backend(format!("cannot {doing} {}: {e}", path.display()))
}

/// Creates `dir` (and parents) with mode 0700, tightening an existing one.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StorageError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| io("create directory", dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))
        .map_err(|e| io("restrict directory", dir, e))
}

/// Creates `path` (empty) if it is missing and leaves it with mode 0600.
pub(crate) fn ensure_private_file(path: &Path) -> Result<(), StorageError> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| io("create file", path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(FILE_MODE))
        .map_err(|e| io("restrict file", path, e))
}

/// Writes `data` to `path` atomically (temporary file, fsync, rename, fsync of the
/// directory), mode 0600.
pub(crate) fn write_private_file(path: &Path, data: &[u8]) -> Result<(), StorageError> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .map_err(|e| io("create file", &tmp, e))?;
        f.write_all(data).map_err(|e| io("write", &tmp, e))?;
        f.sync_all().map_err(|e| io("sync", &tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| io("rename into", path, e))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync directory", dir, e))?;
    }
    Ok(())
}
