//! File-system errors worded as Go's `os` package words them (`open PATH: no such file or
//! directory`), for the messages `bao` prints when a local file cannot be read or written.

/// An I/O error's reason as Go prints it: lower-case, without Rust's `(os error N)` suffix.
pub fn reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => {
            let text = e.to_string();
            let text = text
                .find(" (os error")
                .map_or(text.as_str(), |i| &text[..i]);
            text.to_lowercase()
        }
    }
}

/// Go's `*os.PathError` text: `OP PATH: REASON` (`mkdir out: permission denied`).
pub fn path_error(op: &str, path: &str, e: &std::io::Error) -> String {
    format!("{op} {path}: {}", reason(e))
}

/// Go's `os.Open` error text for `path` (`open PATH: no such file or directory`).
pub fn open_error(path: &str, e: &std::io::Error) -> String {
    path_error("open", path, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worded_as_go() {
        let missing = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            open_error("x.hcl", &missing),
            "open x.hcl: no such file or directory"
        );
        let other = std::io::Error::from_raw_os_error(28);
        assert_eq!(
            path_error("write", "out", &other),
            "write out: no space left on device"
        );
    }
}
