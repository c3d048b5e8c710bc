//! Netascii encoding on the fly (RFC 764 via RFC 1350): LF -> CR LF, CR -> CR NUL.
//!
//! The encoder keeps only one pending byte between blocks, so a transfer never holds a
//! converted copy of the file.

use bytes::{Bytes, BytesMut};

use crate::content::{Content, ContentError};

/// Streaming encoder: feed input, take at most `room` output bytes.
#[derive(Default, Debug)]
pub struct Encoder {
    /// Second byte of a pair that did not fit in the previous block.
    pending: Option<u8>,
}

impl Encoder {
    /// Encode from `input` into `out` until `out` holds `limit` bytes. Returns how many
    /// input bytes were consumed.
    pub fn encode(&mut self, input: &[u8], out: &mut BytesMut, limit: usize) -> usize {
        if out.len() < limit {
            if let Some(b) = self.pending.take() {
                out.extend_from_slice(&[b]);
            }
        }
        let mut used = 0;
        for &b in input {
            if out.len() >= limit {
                break;
            }
            used += 1;
            let second = match b {
                b'\n' => {
                    out.extend_from_slice(b"\r");
                    b'\n'
                }
                b'\r' => {
                    out.extend_from_slice(b"\r");
                    0
                }
                other => {
                    out.extend_from_slice(&[other]);
                    continue;
                }
            };
            if out.len() < limit {
                out.extend_from_slice(&[second]);
            } else {
                self.pending = Some(second);
            }
        }
        used
    }

    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }
}

/// Reads successive netascii blocks out of a [`Content`].
pub struct BlockReader {
    content: Content,
    offset: u64,
    enc: Encoder,
    eof: bool,
}

impl BlockReader {
    pub fn new(content: Content) -> Self {
        BlockReader {
            content,
            offset: 0,
            enc: Encoder::default(),
            eof: false,
        }
    }

    /// The next block of exactly `blksize` bytes, shorter only at the end.
    pub async fn next_block(&mut self, blksize: usize) -> Result<Bytes, ContentError> {
        let mut out = BytesMut::with_capacity(blksize);
        while out.len() < blksize {
            if self.eof {
                self.enc.encode(&[], &mut out, blksize);
                break;
            }
            // Each input byte yields at most 2 output bytes; read about what fits.
            let want = (blksize - out.len()).max(1);
            let chunk = self.content.read_at(self.offset, want).await?;
            if chunk.is_empty() {
                self.eof = true;
                continue;
            }
            let used = self.enc.encode(&chunk, &mut out, blksize);
            self.offset += used as u64;
        }
        Ok(out.freeze())
    }
}

/// Encode a whole buffer (tests and size computation).
pub fn encode_all(input: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut enc = Encoder::default();
    enc.encode(input, &mut out, usize::MAX);
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_line_ends() {
        assert_eq!(encode_all(b"a\nb\rc\r\n"), b"a\r\nb\r\0c\r\0\r\n");
    }

    #[tokio::test]
    async fn blocks_split_pairs_across_boundaries() {
        let input = b"ab\n\n\rxyz\n".repeat(50);
        let want = encode_all(&input);
        for blksize in [1usize, 2, 3, 7, 512] {
            let mut r = BlockReader::new(Content::complete(Bytes::from(input.clone())));
            let mut got = Vec::new();
            loop {
                let b = r.next_block(blksize).await.unwrap();
                assert!(b.len() <= blksize);
                got.extend_from_slice(&b);
                if b.len() < blksize {
                    break;
                }
            }
            assert_eq!(got, want, "blksize {blksize}");
        }
    }
}
