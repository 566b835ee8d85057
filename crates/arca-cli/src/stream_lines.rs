//! Whole lines out of a streamed answer (`sys/monitor`), whatever its chunks' boundaries, as
//! Go's `bufio.Scanner` reads them: without their `\n` (or `\r\n`), the last one even when
//! it has no newline.

/// The bytes received but not yet handed out as lines.
#[derive(Debug, Default)]
pub struct LineBuffer {
    pending: Vec<u8>,
}

impl LineBuffer {
    /// Adds `chunk`; returns the lines it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        self.pending.extend_from_slice(chunk);
        let mut lines = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            lines.push(line);
        }
        lines
    }

    /// The last line, when the stream ended without a newline after it.
    pub fn finish(self) -> Option<Vec<u8>> {
        (!self.pending.is_empty()).then_some(self.pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_across_chunks() {
        let mut buf = LineBuffer::default();
        assert!(buf.push(b"ab").is_empty());
        assert_eq!(
            buf.push(b"c\r\nd\n\ne"),
            vec![b"abc".to_vec(), b"d".to_vec(), vec![]]
        );
        assert_eq!(buf.finish(), Some(b"e".to_vec()));
        assert_eq!(LineBuffer::default().finish(), None);
    }
}
