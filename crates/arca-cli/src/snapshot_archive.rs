//! The completeness check `bao operator raft snapshot save` makes on what it wrote: a raft
//! snapshot is a gzip-compressed tar archive, and it is complete when the archive holds a
//! non-empty `SHA256SUMS.sealed` entry (the sealed checksums, written last).

use crate::gzip::{Flow, gunzip};

/// The entry whose presence marks a complete snapshot.
const SEALED_SUMS: &str = "SHA256SUMS.sealed";
/// A tar block.
const BLOCK: usize = 512;

/// What `bao` reports when the check fails.
pub const INCOMPLETE: &str = "incomplete snapshot, unable to read SHA256SUMS.sealed file";

/// Whether the gzip'd tar archive `input` holds a whole, non-empty `SHA256SUMS.sealed` entry.
///
/// Reading stops at that entry, so the rest of `input` may stay unread.
pub fn is_complete(input: impl Iterator<Item = u8>) -> bool {
    let mut scan = TarScan::default();
    let _ = gunzip(input, |chunk| scan.feed(chunk));
    scan.found
}

/// What the scanner is reading.
#[derive(Default)]
enum State {
    /// A header block (its bytes so far).
    #[default]
    Header,
    /// An entry's content and padding.
    Content {
        /// Content bytes still to come.
        left: u64,
        /// Padding bytes after the content.
        padding: u64,
        /// What the content is for.
        kind: Content,
    },
    /// The end of the archive or a broken header: nothing more is read.
    Done,
}

/// What an entry's content is read for.
enum Content {
    /// Nothing: skipped.
    Skip,
    /// `SHA256SUMS.sealed`: found once all of it came.
    SealedSums,
    /// A name for the next header (a PAX `x` header or a GNU `L` long name).
    Name {
        /// The bytes so far.
        bytes: Vec<u8>,
        /// PAX records (`path=`) or a bare NUL-terminated name.
        pax: bool,
    },
}

/// A tar reader that only looks for [`SEALED_SUMS`], fed decompressed bytes as they come.
#[derive(Default)]
struct TarScan {
    state: State,
    header: Vec<u8>,
    next_name: Option<String>,
    found: bool,
}

impl TarScan {
    fn feed(&mut self, mut data: &[u8]) -> Flow {
        while !data.is_empty() {
            match &mut self.state {
                State::Done => return Flow::Break(()),
                State::Header => {
                    let take = (BLOCK - self.header.len()).min(data.len());
                    self.header.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.header.len() == BLOCK {
                        let block = std::mem::take(&mut self.header);
                        self.state = self.start_entry(&block);
                    }
                }
                State::Content {
                    left,
                    padding,
                    kind,
                } => {
                    let in_content = usize::try_from(*left).unwrap_or(usize::MAX).min(data.len());
                    if let Content::Name { bytes, .. } = kind {
                        bytes.extend_from_slice(&data[..in_content]);
                    }
                    *left -= in_content as u64;
                    data = &data[in_content..];
                    if *left == 0 && matches!(kind, Content::SealedSums) {
                        self.found = true;
                        self.state = State::Done;
                        return Flow::Break(());
                    }
                    let in_padding = usize::try_from(*padding)
                        .unwrap_or(usize::MAX)
                        .min(data.len());
                    *padding -= in_padding as u64;
                    data = &data[in_padding..];
                    if *left == 0 && *padding == 0 {
                        if let Content::Name { bytes, pax } = kind {
                            self.next_name = if *pax {
                                pax_path(bytes)
                            } else {
                                Some(c_string(bytes))
                            };
                        }
                        self.state = State::Header;
                    }
                }
            }
        }
        Flow::Continue(())
    }

    /// The state after header `block`.
    fn start_entry(&mut self, block: &[u8]) -> State {
        if block.iter().all(|b| *b == 0) || !checksum_ok(block) {
            return State::Done;
        }
        let Some(size) = octal(&block[124..136]) else {
            return State::Done;
        };
        let padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let kind = match block[156] {
            b'x' => Content::Name {
                bytes: Vec::new(),
                pax: true,
            },
            b'L' => Content::Name {
                bytes: Vec::new(),
                pax: false,
            },
            _ => {
                let name = self.next_name.take().unwrap_or_else(|| header_name(block));
                if name == SEALED_SUMS && size > 0 {
                    Content::SealedSums
                } else {
                    Content::Skip
                }
            }
        };
        State::Content {
            left: size,
            padding,
            kind,
        }
    }
}

/// The entry name of a header: `prefix/name` in the USTAR format, `name` otherwise.
fn header_name(block: &[u8]) -> String {
    let name = c_string(&block[..100]);
    let ustar = &block[257..263] == b"ustar\0" && &block[263..265] == b"00";
    let prefix = c_string(&block[345..500]);
    if ustar && !prefix.is_empty() {
        format!("{prefix}/{name}")
    } else {
        name
    }
}

/// The text up to the first NUL.
fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A numeric header field: octal text (spaces and NULs around it), or base-256 when the high
/// bit of its first byte is set.
fn octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let text = String::from_utf8_lossy(field);
    let text = text.trim_matches(|c| c == ' ' || c == '\0');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// Whether the header's checksum (its bytes summed with the checksum field as spaces, signed
/// or unsigned) matches.
fn checksum_ok(block: &[u8]) -> bool {
    let Some(want) = octal(&block[148..156]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    i64::try_from(want).is_ok_and(|w| w == unsigned || w == signed)
}

/// The `path` of PAX extended-header records (`"<len> path=<name>\n"`).
fn pax_path(records: &[u8]) -> Option<String> {
    let mut rest = records;
    let mut path = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return path;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(value) = record.strip_prefix(b"path=") {
            path = Some(String::from_utf8_lossy(value).into_owned());
        }
        rest = &rest[len..];
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tar header block for `name` of `size` bytes and `kind`, checksummed.
    fn header(name: &str, size: usize, kind: u8) -> Vec<u8> {
        let mut b = vec![0u8; BLOCK];
        b[..name.len()].copy_from_slice(name.as_bytes());
        b[100..107].copy_from_slice(b"0000600");
        b[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        b[156] = kind;
        b[257..263].copy_from_slice(b"ustar\0");
        b[263..265].copy_from_slice(b"00");
        b[148..156].fill(b' ');
        let sum: u32 = b.iter().map(|x| u32::from(*x)).sum();
        b[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        b
    }

    fn entry(name: &str, content: &[u8], kind: u8) -> Vec<u8> {
        let mut out = header(name, content.len(), kind);
        out.extend_from_slice(content);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        out
    }

    /// A gzip member of `data` in stored blocks.
    fn gzip_stored(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        let chunks: Vec<&[u8]> = data.chunks(65_535).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            out.push(u8::from(i + 1 == chunks.len()));
            let len = chunk.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        out.extend_from_slice(&[0; 8]);
        out
    }

    fn archive(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut tar: Vec<u8> = entries.concat();
        tar.extend_from_slice(&[0u8; 2 * BLOCK]);
        gzip_stored(&tar)
    }

    #[test]
    fn complete_snapshot() {
        let a = archive(&[
            entry("meta.json", b"{}", b'0'),
            entry("state.bin", &vec![7u8; 70_000], b'0'),
            entry("SHA256SUMS", b"sums", b'0'),
            entry("SHA256SUMS.sealed", b"sealed", b'0'),
        ]);
        assert!(is_complete(a.iter().copied()));
    }

    #[test]
    fn incomplete_snapshots() {
        let no_seal = archive(&[entry("meta.json", b"{}", b'0')]);
        assert!(!is_complete(no_seal.iter().copied()));
        let empty_seal = archive(&[entry("SHA256SUMS.sealed", b"", b'0')]);
        assert!(!is_complete(empty_seal.iter().copied()));
        let whole = archive(&[entry("SHA256SUMS.sealed", b"sealed", b'0')]);
        assert!(!is_complete(whole[..whole.len() - 1100].iter().copied()));
        assert!(!is_complete(b"not a gzip at all".iter().copied()));
        assert!(!is_complete(std::iter::empty()));
        let mut bad_sum = entry("SHA256SUMS.sealed", b"sealed", b'0');
        bad_sum[0] = b'X';
        assert!(!is_complete(archive(&[bad_sum]).iter().copied()));
    }

    #[test]
    fn long_names() {
        let pax = b"26 path=SHA256SUMS.sealed\n";
        let a = archive(&[
            entry("PaxHeaders/x", pax, b'x'),
            entry("short", b"sealed", b'0'),
        ]);
        assert!(is_complete(a.iter().copied()));
        let gnu = archive(&[
            entry("././@LongLink", b"SHA256SUMS.sealed\0", b'L'),
            entry("short", b"sealed", b'0'),
        ]);
        assert!(is_complete(gnu.iter().copied()));
    }
}
