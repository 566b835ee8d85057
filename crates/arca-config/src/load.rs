//! Entry points: reading a config from text, a file, or a directory of files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::server::{Layer, ServerConfig};
use crate::{hcl_syntax, json_syntax};

/// Parses a config from `text`. `file_name` is only used in messages.
///
/// The format is JSON when the first non-blank character is `{`, HCL otherwise (a byte-order
/// mark is skipped).
///
/// # Errors
///
/// A [`ConfigError`] naming `file_name`, the line and the key at fault.
pub fn parse_str(text: &str, file_name: &str) -> Result<ServerConfig, ConfigError> {
    parse_layer(text, file_name).map(|layer| layer.config)
}

fn parse_layer(text: &str, file_name: &str) -> Result<Layer, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let entries = if text.trim_start().starts_with('{') {
        json_syntax::parse(text, file_name)?
    } else {
        hcl_syntax::parse(text, file_name)?
    };
    Layer::from_entries(&entries, file_name)
}

fn read_layer(path: &Path) -> Result<Layer, ConfigError> {
    let text = fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_layer(&text, &path.display().to_string())
}

/// Loads the config at `path`.
///
/// A file is parsed with [`parse_str`]. A directory loads, as Vault does, every `*.hcl` and
/// `*.json` file in it (not in subdirectories; editor backups such as `x.hcl~` and `.#x.hcl`
/// skipped) in name order, and merges them: a later file's scalars override earlier ones, its
/// `storage` replaces theirs, and its listeners and audit devices are added to theirs. An empty
/// directory gives an empty config with a warning.
///
/// # Errors
///
/// [`ConfigError::Io`] when a path cannot be read, otherwise the first file's error, or the
/// error of a rule broken by the merged files (a default lease TTL above the maximum, two
/// audit devices with one path).
pub fn load_file(path: &Path) -> Result<ServerConfig, ConfigError> {
    load_files(std::slice::from_ref(&path.to_owned()))
}

/// Loads several configs (files or directories, as [`load_file`] reads each) and merges them
/// in the order given, as a server started with several `-config` flags does.
///
/// # Errors
///
/// As [`load_file`].
pub fn load_files(paths: &[PathBuf]) -> Result<ServerConfig, ConfigError> {
    let mut merged: Option<Layer> = None;
    let mut files = 0;
    let mut last = String::new();
    for path in paths {
        let (layer, count) = load_layer(path)?;
        files += count;
        last = path.display().to_string();
        merged = Some(match merged {
            None => layer,
            Some(mut earlier) => {
                earlier.merge(layer);
                earlier
            }
        });
    }
    let merged = merged.unwrap_or_default();
    if files > 1 {
        merged.check_lease_ttls(&last, None)?;
        merged.check_audit_paths()?;
    }
    Ok(merged.config)
}

/// The config at `path` (a file or a directory, see [`load_file`]) and how many files it read.
fn load_layer(path: &Path) -> Result<(Layer, usize), ConfigError> {
    let io_error = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    if !fs::metadata(path).map_err(io_error)?.is_dir() {
        return read_layer(path).map(|layer| (layer, 1));
    }
    let mut files: Vec<PathBuf> = Vec::new();
    for dir_entry in fs::read_dir(path).map_err(io_error)? {
        let dir_entry = dir_entry.map_err(io_error)?;
        let name = dir_entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let config_like = name.ends_with(".hcl") || name.ends_with(".json");
        let temporary = name.starts_with(".#") || (name.starts_with('#') && name.ends_with('#'));
        if !config_like || temporary {
            continue;
        }
        let file = dir_entry.path();
        // Follows symlinks, as Vault does.
        if fs::metadata(&file)
            .map_err(|source| ConfigError::Io {
                path: file.clone(),
                source,
            })?
            .is_file()
        {
            files.push(file);
        }
    }
    files.sort();

    let mut merged = Layer::default();
    if files.is_empty() {
        merged.config.warnings.push(format!(
            "{}: no .hcl or .json config files in this directory",
            path.display()
        ));
    }
    for file in &files {
        merged.merge(read_layer(file)?);
    }
    if files.len() > 1 {
        merged.check_lease_ttls(&path.display().to_string(), None)?;
        merged.check_audit_paths()?;
    }
    Ok((merged, files.len()))
}
