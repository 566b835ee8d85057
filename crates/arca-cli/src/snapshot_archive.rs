//! The completeness check `bao operator raft snapshot save` makes on what it wrote: a raft
//! snapshot is a gzip-compressed tar archive, and it is complete when the archive holds a
//! non-empty `SHA256SUMS.sealed` entry (the sealed checksums, written last).

use std::io::Read;

/// The entry whose presence marks a complete snapshot.
const SEALED_SUMS: &str = "SHA256SUMS.sealed";

/// What `bao` reports when the check fails.
pub const INCOMPLETE: &str = "incomplete snapshot, unable to read SHA256SUMS.sealed file";

/// Whether the gzip'd tar archive read from `input` holds a whole, non-empty
/// `SHA256SUMS.sealed` entry. Reading stops at that entry.
pub fn is_complete(input: impl Read) -> bool {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(input));
    let Ok(entries) = archive.entries() else {
        return false;
    };
    for entry in entries {
        let Ok(mut entry) = entry else { return false };
        let is_sums = entry
            .path()
            .is_ok_and(|p| p.as_os_str() == std::ffi::OsStr::new(SEALED_SUMS));
        if is_sums {
            let mut content = Vec::new();
            return entry.read_to_end(&mut content).is_ok() && !content.is_empty();
        }
    }
    false
}

/// A reader over the chunks a download hands to another thread.
pub struct ChunkReader {
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    /// Reads the chunks `chunks` receives, in order, until its sender is dropped.
    pub fn new(chunks: std::sync::mpsc::Receiver<Vec<u8>>) -> ChunkReader {
        ChunkReader {
            chunks,
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.current.len() {
            match self.chunks.recv() {
                Ok(chunk) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            tar.append_data(&mut header, name, *data).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn complete_only_with_non_empty_sealed_sums() {
        let ok = archive(&[("meta.json", b"{}"), ("SHA256SUMS.sealed", b"x")]);
        assert!(is_complete(ok.as_slice()));
        let empty = archive(&[("meta.json", b"{}"), ("SHA256SUMS.sealed", b"")]);
        assert!(!is_complete(empty.as_slice()));
        let missing = archive(&[("meta.json", b"{}")]);
        assert!(!is_complete(missing.as_slice()));
        assert!(!is_complete(&b"not gzip"[..]));
        let truncated = &ok[..ok.len() / 2];
        assert!(!is_complete(truncated));
    }
}
