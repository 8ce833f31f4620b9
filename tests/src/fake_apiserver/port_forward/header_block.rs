//! SPDY/3 header blocks: a count, then length-prefixed names and values, all
//! in one zlib stream per direction that spans the connection's frames. The
//! stream kubectl writes starts from the preset dictionary of the SPDY/3
//! draft (`spdy3_dictionary.bin`, 1423 bytes, Adler-32 `0xe3c6a7c2`), so it
//! is inflated with that dictionary as history. What the fake writes is
//! stored (uncompressed) deflate blocks without a dictionary, which every
//! zlib reader takes.

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

/// The dictionary both ends of a SPDY/3 connection start their zlib streams with.
const DICTIONARY: &[u8] = include_bytes!("spdy3_dictionary.bin");

/// Its Adler-32, which the client's zlib header names (`DICTID`).
const DICTIONARY_ID: u32 = 0xe3c6_a7c2;

/// The zlib header of the fake's stream: deflate, 32 KiB window, no dictionary.
const ZLIB_HEADER: [u8; 2] = [0x78, 0x01];

/// The client's header blocks, inflated in order.
pub(super) struct Inflater {
    state: Box<DecompressorOxide>,
    /// The dictionary, then everything inflated so far: back-references
    /// reach into both.
    history: Vec<u8>,
    header_read: bool,
}

impl Inflater {
    pub fn new() -> Self {
        Inflater { state: Box::default(), history: DICTIONARY.to_vec(), header_read: false }
    }

    /// The name-value pairs of the next header block.
    pub fn headers(&mut self, block: &[u8]) -> Result<Vec<(String, String)>, String> {
        let plain = self.inflate(block)?;
        parse(&plain).ok_or_else(|| format!("a malformed header block: {plain:?}"))
    }

    fn inflate(&mut self, block: &[u8]) -> Result<Vec<u8>, String> {
        let mut input = block;
        if !self.header_read {
            let (header, rest) = input.split_at_checked(6).ok_or("a zlib header cut short")?;
            let dictid = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
            if header[1] & 0x20 == 0 || dictid != DICTIONARY_ID {
                return Err(format!("a zlib stream without the SPDY/3 dictionary: {header:02x?}"));
            }
            input = rest;
            self.header_read = true;
        }
        let start = self.history.len();
        let mut pos = start;
        let flags = inflate_flags::TINFL_FLAG_HAS_MORE_INPUT | inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
        loop {
            self.history.resize(pos + 4096, 0);
            let (status, read, written) = decompress(&mut self.state, input, &mut self.history, pos, flags);
            input = &input[read..];
            pos += written;
            match status {
                TINFLStatus::HasMoreOutput => continue,
                TINFLStatus::NeedsMoreInput | TINFLStatus::Done if input.is_empty() => break,
                TINFLStatus::NeedsMoreInput => continue,
                other => return Err(format!("inflate failed: {other:?}")),
            }
        }
        self.history.truncate(pos);
        Ok(self.history[start..].to_vec())
    }
}

/// An empty stored block, not final: what a sync flush writes.
const SYNC_FLUSH: [u8; 5] = [0x00, 0x00, 0x00, 0xff, 0xff];

/// The fake's header blocks.
#[derive(Default)]
pub(super) struct Deflater {
    header_written: bool,
}

impl Deflater {
    /// `pairs` as the next block of the fake's zlib stream: a stored
    /// deflate block, then the empty one of a sync flush, as a SPDY framer
    /// ends each frame's block. (Without it Go's inflater only hands the
    /// bytes over after reading past the frame's end, and refuses the frame.)
    pub fn block(&mut self, pairs: &[(&str, &str)]) -> Vec<u8> {
        let plain = encode(pairs);
        let mut out = Vec::new();
        if !self.header_written {
            out.extend_from_slice(&ZLIB_HEADER);
            self.header_written = true;
        }
        let len = u16::try_from(plain.len()).unwrap_or(u16::MAX);
        // BFINAL 0, BTYPE 00 (stored), then to the byte boundary.
        out.push(0);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(&plain[..usize::from(len)]);
        out.extend_from_slice(&SYNC_FLUSH);
        out
    }
}

fn encode(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = u32::try_from(pairs.len()).unwrap_or(0).to_be_bytes().to_vec();
    for text in pairs.iter().flat_map(|(k, v)| [k, v]) {
        out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

fn parse(plain: &[u8]) -> Option<Vec<(String, String)>> {
    let mut rest = plain;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let word = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let count = word(take(4)?);
    let mut pairs = Vec::new();
    for _ in 0..count {
        let n = word(take(4)?);
        let name = take(n)?.to_vec();
        let n = word(take(4)?);
        let value = take(n)?.to_vec();
        pairs.push((String::from_utf8(name).ok()?, String::from_utf8(value).ok()?));
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in data {
            a = (a + u32::from(byte)) % 65_521;
            b = (b + a) % 65_521;
        }
        (b << 16) | a
    }

    #[test]
    fn the_dictionary_is_the_one_kubectl_names() {
        assert_eq!(DICTIONARY.len(), 1423);
        assert_eq!(adler32(DICTIONARY), DICTIONARY_ID);
        assert!(DICTIONARY.starts_with(b"\0\0\0\x07options\0\0\0\x04head"));
    }

    #[test]
    fn stored_blocks_read_back_as_one_stream() {
        let mut deflater = Deflater::default();
        let mut stream = deflater.block(&[("streamtype", "data"), ("port", "8888")]);
        stream.extend(deflater.block(&[]));
        let plain = miniz_oxide::inflate::decompress_to_vec_zlib(&stream).unwrap_err().output;
        assert_eq!(
            parse(&plain).unwrap(),
            [("streamtype".to_owned(), "data".to_owned()), ("port".into(), "8888".into())]
        );
        assert_eq!(&plain[plain.len() - 4..], [0, 0, 0, 0]);
        assert!(stream.ends_with(&SYNC_FLUSH));
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn blocks_compressed_with_the_dictionary_inflate_in_order() {
        // Two blocks of one stream, as zlib writes them with the dictionary
        // at level 9 and a sync flush after each (Python's zlib, zdict=).
        let first =
            hex("78f9e3c6a7c202253a703a2b294a4dcc851625aca9a0808614cb45e01c600104409ab308128d99a0e4cd6800000000ffff");
        let second = hex("c2aa19540e2512d60b000000ffff");
        let mut inflater = Inflater::new();
        let pairs = |kind: &str| {
            [("streamtype", kind), ("port", "8888"), ("requestid", "0")].map(|(k, v)| (k.to_owned(), v.to_owned()))
        };
        assert_eq!(inflater.headers(&first).unwrap(), pairs("error"));
        assert_eq!(inflater.headers(&second).unwrap(), pairs("data"));
    }

    #[test]
    fn a_stream_without_the_dictionary_is_refused() {
        let mut inflater = Inflater::new();
        assert!(
            inflater.headers(&Deflater::default().block(&[])).unwrap_err().contains("without the SPDY/3 dictionary")
        );
    }
}
