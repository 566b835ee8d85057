//! Owner-only permissions for the durable store: its directory is `0700` and its database file
//! `0600`, set explicitly (whatever the umask) and tightened when an existing one is wider.

use std::fs;
use std::path::Path;

use crate::StorageError;

/// Mode of the storage directory.
pub(crate) const DIR_MODE: u32 = 0o700;
/// Mode of the database file.
pub(crate) const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) if needed and leaves it with mode [`DIR_MODE`].
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), StorageError> {
    let created = match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => false,
        Ok(_) => {
            return Err(StorageError::Config(format!(
                "storage path {} exists and is not a directory",
                dir.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_dir(dir).map_err(|e| {
                StorageError::Backend(format!(
                    "cannot create storage directory {}: {e}",
                    dir.display()
                ))
            })?;
            true
        }
        Err(e) => {
            return Err(StorageError::Backend(format!(
                "cannot inspect storage directory {}: {e}",
                dir.display()
            )));
        }
    };
    restrict(dir, DIR_MODE, created)
}

/// Creates the file at `path` if needed (empty) and leaves it with mode [`FILE_MODE`].
pub(crate) fn ensure_private_file(path: &Path) -> Result<(), StorageError> {
    let created = !path.exists();
    create_file(path).map_err(|e| {
        StorageError::Backend(format!(
            "cannot create database file {}: {e}",
            path.display()
        ))
    })?;
    restrict(path, FILE_MODE, created)
}

#[cfg(unix)]
fn create_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
}

#[cfg(not(unix))]
fn create_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn create_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
        .map(drop)
}

#[cfg(not(unix))]
fn create_file(path: &Path) -> std::io::Result<()> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
}

/// Sets `mode` on `path` when it was just created (the umask may have changed it) or when the
/// current mode grants anything beyond `mode`.
#[cfg(unix)]
fn restrict(path: &Path, mode: u32, created: bool) -> Result<(), StorageError> {
    use std::os::unix::fs::PermissionsExt;
    let current = fs::metadata(path)
        .map_err(|e| StorageError::Backend(format!("cannot inspect {}: {e}", path.display())))?
        .permissions()
        .mode()
        & 0o7777;
    if created || current & !mode != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| {
            StorageError::Backend(format!(
                "cannot set mode {mode:o} on {}: {e}",
                path.display()
            ))
        })?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_path: &Path, _mode: u32, _created: bool) -> Result<(), StorageError> {
    Ok(())
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn creates_owner_only_dir_and_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        let file = dir.join("db");
        ensure_private_file(&file).unwrap();
        assert_eq!(mode_of(&file), 0o600);
    }

    #[test]
    fn tightens_wider_modes_and_keeps_content() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let file = dir.join("db");
        fs::write(&file, b"existing").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        ensure_private_dir(&dir).unwrap();
        ensure_private_file(&file).unwrap();
        assert_eq!(mode_of(&dir), 0o700);
        assert_eq!(mode_of(&file), 0o600);
        assert_eq!(fs::read(&file).unwrap(), b"existing");
    }

    #[test]
    fn leaves_narrower_existing_modes_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        fs::create_dir(&dir).unwrap();
        let file = dir.join("db");
        fs::write(&file, b"").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o400)).unwrap();
        restrict(&file, FILE_MODE, false).unwrap();
        assert_eq!(mode_of(&file), 0o400);
    }

    #[test]
    fn refuses_a_path_that_is_a_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("plain");
        fs::write(&path, b"").unwrap();
        let err = ensure_private_dir(&path).unwrap_err();
        assert!(matches!(err, StorageError::Config(_)), "{err}");
        assert!(err.to_string().contains("is not a directory"), "{err}");
    }
}
