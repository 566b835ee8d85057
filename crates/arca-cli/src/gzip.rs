//! A streaming gzip (RFC 1952) and DEFLATE (RFC 1951) decoder.
//!
//! Only what the snapshot check of `operator raft snapshot save` needs: the decompressed bytes
//! are handed to a sink as they come, the sink can stop the decoding early, and the input is
//! any byte iterator (a file, or the chunks of a response body as they arrive). Trailers
//! (CRC-32, size) are skipped, not checked: `bao` decides on the archive's content before its
//! reader reaches them.

use std::ops::ControlFlow;

/// Why a stream could not be decompressed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    /// The input ended inside a header or a block.
    #[error("unexpected EOF")]
    UnexpectedEof,
    /// The gzip header is not one (bad magic, method or flags).
    #[error("gzip: invalid header")]
    Header,
    /// The DEFLATE data is corrupt.
    #[error("flate: corrupt input")]
    Corrupt,
}

/// What the sink answers for each run of decompressed bytes.
pub type Flow = ControlFlow<()>;

/// How much decompressed history a back reference may reach (DEFLATE's window).
const WINDOW: usize = 32 * 1024;
/// How much output is gathered before it is handed to the sink.
const FLUSH_AT: usize = 4 * WINDOW;

/// Decompress every gzip member of `input` into `sink`, in order.
///
/// Returns `Ok(Break)` as soon as the sink asks to stop, `Ok(Continue)` at the end of the
/// input; a corrupt stream is an error (the bytes before the corruption have been handed over).
pub fn gunzip<I, S>(input: I, mut sink: S) -> Result<Flow, GzipError>
where
    I: Iterator<Item = u8>,
    S: FnMut(&[u8]) -> Flow,
{
    let mut bits = Bits::new(input);
    let mut first = true;
    loop {
        let magic = match bits.byte_or_end()? {
            Some(b) => b,
            // The end of the input after a whole member: the end of the stream.
            None if !first => return Ok(Flow::Continue(())),
            None => return Err(GzipError::UnexpectedEof),
        };
        first = false;
        read_header(&mut bits, magic)?;
        let mut out = Output::new(&mut sink);
        if inflate(&mut bits, &mut out)?.is_break() || out.flush_all().is_break() {
            return Ok(Flow::Break(()));
        }
        bits.align();
        for _ in 0..8 {
            bits.byte()?;
        }
    }
}

/// Reads a gzip member header whose first byte, `magic`, has been read.
fn read_header<I: Iterator<Item = u8>>(bits: &mut Bits<I>, magic: u8) -> Result<(), GzipError> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    if magic != 0x1f || bits.byte()? != 0x8b || bits.byte()? != 8 {
        return Err(GzipError::Header);
    }
    let flags = bits.byte()?;
    if flags & 0xe0 != 0 {
        return Err(GzipError::Header);
    }
    // MTIME (4), XFL, OS.
    for _ in 0..6 {
        bits.byte()?;
    }
    if flags & FEXTRA != 0 {
        let len = u16::from(bits.byte()?) | (u16::from(bits.byte()?) << 8);
        for _ in 0..len {
            bits.byte()?;
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            while bits.byte()? != 0 {}
        }
    }
    if flags & FHCRC != 0 {
        bits.byte()?;
        bits.byte()?;
    }
    Ok(())
}

/// Little-endian bit reader over a byte iterator.
struct Bits<I> {
    input: I,
    buf: u32,
    count: u32,
}

impl<I: Iterator<Item = u8>> Bits<I> {
    fn new(input: I) -> Self {
        Bits {
            input,
            buf: 0,
            count: 0,
        }
    }

    /// `n` (at most 16) bits, first bit lowest.
    fn bits(&mut self, n: u32) -> Result<u32, GzipError> {
        while self.count < n {
            let b = self.input.next().ok_or(GzipError::UnexpectedEof)?;
            self.buf |= u32::from(b) << self.count;
            self.count += 8;
        }
        let v = self.buf & ((1u32 << n) - 1);
        self.buf >>= n;
        self.count -= n;
        Ok(v)
    }

    /// Drops the bits left of the current byte.
    fn align(&mut self) {
        let drop = self.count % 8;
        self.buf >>= drop;
        self.count -= drop;
    }

    /// One whole byte (the reader must be aligned).
    fn byte(&mut self) -> Result<u8, GzipError> {
        self.byte_or_end()?.ok_or(GzipError::UnexpectedEof)
    }

    /// One whole byte, `None` at the end of the input.
    fn byte_or_end(&mut self) -> Result<Option<u8>, GzipError> {
        if self.count >= 8 {
            let b = (self.buf & 0xff) as u8;
            self.buf >>= 8;
            self.count -= 8;
            return Ok(Some(b));
        }
        Ok(self.input.next())
    }
}

/// The decompressed history, handed to the sink in runs; the last [`WINDOW`] bytes are kept
/// for back references.
struct Output<'s, S> {
    history: Vec<u8>,
    flushed: usize,
    sink: &'s mut S,
}

impl<'s, S: FnMut(&[u8]) -> Flow> Output<'s, S> {
    fn new(sink: &'s mut S) -> Self {
        Output {
            history: Vec::with_capacity(FLUSH_AT + 1024),
            flushed: 0,
            sink,
        }
    }

    fn push(&mut self, b: u8) -> Flow {
        self.history.push(b);
        if self.history.len() >= FLUSH_AT {
            return self.flush();
        }
        Flow::Continue(())
    }

    /// Copies `len` bytes from `dist` back.
    fn copy(&mut self, dist: usize, len: usize) -> Result<Flow, GzipError> {
        if dist == 0 || dist > self.history.len() {
            return Err(GzipError::Corrupt);
        }
        for _ in 0..len {
            let b = self.history[self.history.len() - dist];
            if self.push(b).is_break() {
                return Ok(Flow::Break(()));
            }
        }
        Ok(Flow::Continue(()))
    }

    /// Hands the unflushed output to the sink and trims the history to the window.
    fn flush(&mut self) -> Flow {
        let flow = self.flush_all();
        if self.history.len() > WINDOW {
            let cut = self.history.len() - WINDOW;
            self.history.drain(..cut);
            self.flushed -= cut;
        }
        flow
    }

    fn flush_all(&mut self) -> Flow {
        if self.flushed == self.history.len() {
            return Flow::Continue(());
        }
        let flow = (self.sink)(&self.history[self.flushed..]);
        self.flushed = self.history.len();
        flow
    }
}

/// A canonical Huffman code: how many codes of each length, and the symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Huffman, GzipError> {
        let mut counts = [0u16; 16];
        for &l in lengths {
            counts[usize::from(l)] += 1;
        }
        // An over-subscribed code cannot be decoded; an incomplete one can (its missing codes
        // are refused when met).
        let mut left: i32 = 1;
        for &count in &counts[1..] {
            left = (left << 1) - i32::from(count);
            if left < 0 {
                return Err(GzipError::Corrupt);
            }
        }
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (symbol, &l) in lengths.iter().enumerate() {
            if l != 0 {
                let at = &mut offsets[usize::from(l)];
                symbols[usize::from(*at)] = symbol as u16;
                *at += 1;
            }
        }
        counts[0] = 0;
        Ok(Huffman { counts, symbols })
    }

    fn decode<I: Iterator<Item = u8>>(&self, bits: &mut Bits<I>) -> Result<u16, GzipError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.bits(1)? as i32;
            let count = i32::from(self.counts[len]);
            if code - count < first {
                let at = usize::try_from(index + (code - first)).map_err(|_| GzipError::Corrupt)?;
                return self.symbols.get(at).copied().ok_or(GzipError::Corrupt);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(GzipError::Corrupt)
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Decodes one DEFLATE stream (up to and with its final block).
fn inflate<I, S>(bits: &mut Bits<I>, out: &mut Output<'_, S>) -> Result<Flow, GzipError>
where
    I: Iterator<Item = u8>,
    S: FnMut(&[u8]) -> Flow,
{
    loop {
        let last = bits.bits(1)? == 1;
        let flow = match bits.bits(2)? {
            0 => stored(bits, out)?,
            1 => {
                let (lit, dist) = fixed_codes()?;
                codes(bits, out, &lit, &dist)?
            }
            2 => {
                let (lit, dist) = dynamic_codes(bits)?;
                codes(bits, out, &lit, &dist)?
            }
            _ => return Err(GzipError::Corrupt),
        };
        if flow.is_break() {
            return Ok(flow);
        }
        if last {
            return Ok(Flow::Continue(()));
        }
    }
}

fn stored<I, S>(bits: &mut Bits<I>, out: &mut Output<'_, S>) -> Result<Flow, GzipError>
where
    I: Iterator<Item = u8>,
    S: FnMut(&[u8]) -> Flow,
{
    bits.align();
    let len = bits.bits(16)?;
    let nlen = bits.bits(16)?;
    if len != !nlen & 0xffff {
        return Err(GzipError::Corrupt);
    }
    for _ in 0..len {
        if out.push(bits.byte()?).is_break() {
            return Ok(Flow::Break(()));
        }
    }
    Ok(Flow::Continue(()))
}

fn fixed_codes() -> Result<(Huffman, Huffman), GzipError> {
    let mut lengths = [0u8; 288];
    for (symbol, l) in lengths.iter_mut().enumerate() {
        *l = match symbol {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
    }
    Ok((Huffman::new(&lengths)?, Huffman::new(&[5u8; 30])?))
}

fn dynamic_codes<I: Iterator<Item = u8>>(
    bits: &mut Bits<I>,
) -> Result<(Huffman, Huffman), GzipError> {
    const ORDER: [usize; 19] = [
        16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
    ];
    let nlen = bits.bits(5)? as usize + 257;
    let ndist = bits.bits(5)? as usize + 1;
    let ncode = bits.bits(4)? as usize + 4;
    if nlen > 286 || ndist > 30 {
        return Err(GzipError::Corrupt);
    }
    let mut code_lengths = [0u8; 19];
    for &at in &ORDER[..ncode] {
        code_lengths[at] = bits.bits(3)? as u8;
    }
    let lencode = Huffman::new(&code_lengths)?;
    let mut lengths = vec![0u8; nlen + ndist];
    let mut at = 0;
    while at < lengths.len() {
        let symbol = lencode.decode(bits)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => {
                let prev = *at
                    .checked_sub(1)
                    .and_then(|p| lengths.get(p))
                    .ok_or(GzipError::Corrupt)?;
                (prev, 3 + bits.bits(2)? as usize)
            }
            17 => (0, 3 + bits.bits(3)? as usize),
            18 => (0, 11 + bits.bits(7)? as usize),
            _ => return Err(GzipError::Corrupt),
        };
        if at + repeat > lengths.len() {
            return Err(GzipError::Corrupt);
        }
        lengths[at..at + repeat].fill(value);
        at += repeat;
    }
    if lengths[256] == 0 {
        return Err(GzipError::Corrupt);
    }
    Ok((
        Huffman::new(&lengths[..nlen])?,
        Huffman::new(&lengths[nlen..])?,
    ))
}

fn codes<I, S>(
    bits: &mut Bits<I>,
    out: &mut Output<'_, S>,
    lit: &Huffman,
    dist: &Huffman,
) -> Result<Flow, GzipError>
where
    I: Iterator<Item = u8>,
    S: FnMut(&[u8]) -> Flow,
{
    loop {
        let symbol = usize::from(lit.decode(bits)?);
        if symbol < 256 {
            if out.push(symbol as u8).is_break() {
                return Ok(Flow::Break(()));
            }
            continue;
        }
        if symbol == 256 {
            return Ok(Flow::Continue(()));
        }
        let i = symbol - 257;
        if i >= LENGTH_BASE.len() {
            return Err(GzipError::Corrupt);
        }
        let len = usize::from(LENGTH_BASE[i]) + bits.bits(u32::from(LENGTH_EXTRA[i]))? as usize;
        let d = usize::from(dist.decode(bits)?);
        if d >= DIST_BASE.len() {
            return Err(GzipError::Corrupt);
        }
        let back = usize::from(DIST_BASE[d]) + bits.bits(u32::from(DIST_EXTRA[d]))? as usize;
        if out.copy(back, len)?.is_break() {
            return Ok(Flow::Break(()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn gunzip_all(data: &[u8]) -> Result<Vec<u8>, GzipError> {
        let mut out = Vec::new();
        let _ = gunzip(data.iter().copied(), |chunk| {
            out.extend_from_slice(chunk);
            Flow::Continue(())
        })?;
        Ok(out)
    }

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn fixed_huffman_member() {
        // `printf 'hello hello hello hello\n' | gzip -n`
        let data = b64("H4sIAAAAAAAAA8tIzcnJV8hAJ7kAAIhZCxgAAAA=");
        assert_eq!(gunzip_all(&data).unwrap(), b"hello hello hello hello\n");
    }

    #[test]
    fn dynamic_huffman_and_long_back_references() {
        // gzip -9 of the 120 lines `line {i} of the test`, joined by newlines (block type 2).
        let data = b64(concat!(
            "H4sIAAAAAAACA23VO07FMBRF0Z5RZAj+3Wt7QEEgPUFB5i9EibzaU3kpsffr8+u+yvX9fj0f9/Xc",
            "P8/b62+q59TOqZ/TOKc4pzyneU7rnDaOquPj/BWACkEFocJQgahQVDAqHA2Opu8AR4OjwdHgaHA0",
            "OBocDY4OR4ej64eCo8PR4ehwdDg6HB2OAceAY8AxdDPgGHAMOAYcA44BR8ARcAQcAUfoisMRcAQc",
            "AUfAkXAkHAlHwpFwpN4qOBKOhCPhmHBMOCYcE44Jx4Rj6tGFY8Ix4VhwLDgWHAuOBceCY8GxVA84",
            "Fhwbjg3HhmPDseHYcGw4NhxbGWQHFcKiEhalsKiFRTEsqmFRDot6WBTEIpHTLhHjzroz7+w7A8/C",
            "M/H/G/8LsBkJRWkJAAA=",
        ));
        let expected: Vec<String> = (0..120).map(|i| format!("line {i} of the test")).collect();
        assert_eq!(
            String::from_utf8(gunzip_all(&data).unwrap()).unwrap(),
            expected.join("\n")
        );
        // Corrupt input is an error or other bytes, never a panic.
        for at in 10..data.len() {
            let mut corrupt = data.clone();
            corrupt[at] ^= 0x55;
            let _ = gunzip_all(&corrupt);
        }
    }

    #[test]
    fn stored_block_and_multistream() {
        // Two members, each one stored block holding "ab".
        let member = [
            0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x01, 2, 0, 0xfd, 0xff, b'a', b'b', 0, 0, 0, 0,
            2, 0, 0, 0,
        ];
        let two: Vec<u8> = member.iter().chain(member.iter()).copied().collect();
        assert_eq!(gunzip_all(&two).unwrap(), b"abab");
    }

    #[test]
    fn garbage_and_truncation_are_errors() {
        assert_eq!(gunzip_all(b"not a gzip at all"), Err(GzipError::Header));
        assert_eq!(gunzip_all(b""), Err(GzipError::UnexpectedEof));
        let data = b64("H4sIAAAAAAAAA8tIzcnJV8hAJ7kAAIhZCxgAAAA=");
        assert_eq!(
            gunzip_all(&data[..data.len() - 12]),
            Err(GzipError::UnexpectedEof)
        );
    }

    #[test]
    fn sink_can_stop_early() {
        let data = b64("H4sIAAAAAAAAA8tIzcnJV8hAJ7kAAIhZCxgAAAA=");
        let flow = gunzip(data.iter().copied(), |_| Flow::Break(())).unwrap();
        assert!(flow.is_break());
    }
}
