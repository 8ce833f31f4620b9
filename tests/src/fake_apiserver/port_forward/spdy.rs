//! SPDY/3.1 framing, the part of it kubectl's port-forward uses: a control
//! frame is `1|version(15) type(16) flags(8) length(24) data`, a data frame
//! `0|stream(31) flags(8) length(24) data`. Frames are cut from a byte
//! buffer as they complete, since the transport hands over bytes, not frames.

/// Control frame types.
pub(super) const SYN_STREAM: u16 = 1;
pub(super) const SYN_REPLY: u16 = 2;
pub(super) const RST_STREAM: u16 = 3;
pub(super) const PING: u16 = 6;
pub(super) const GOAWAY: u16 = 7;
pub(super) const HEADERS: u16 = 8;

/// The FIN flag: the sender sends no more on the stream.
pub(super) const FIN: u8 = 0x01;

const VERSION: u16 = 3;

/// One frame, its payload as sent.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Frame {
    Control { kind: u16, flags: u8, data: Vec<u8> },
    Data { stream: u32, flags: u8, data: Vec<u8> },
}

/// The first whole frame at the start of `buf` and its length on the wire,
/// or `None` until it is all there.
pub(super) fn cut(buf: &[u8]) -> Option<(Frame, usize)> {
    let head: [u8; 8] = buf.get(..8)?.try_into().ok()?;
    let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    let flags = head[4];
    let length = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
    let data = buf.get(8..8 + length)?.to_vec();
    let frame = if first & 0x8000_0000 != 0 {
        Frame::Control { kind: (first & 0xffff) as u16, flags, data }
    } else {
        Frame::Data { stream: first & 0x7fff_ffff, flags, data }
    };
    Some((frame, 8 + length))
}

fn with_length(mut out: Vec<u8>, flags: u8, data: &[u8]) -> Vec<u8> {
    let length = u32::try_from(data.len()).unwrap_or(0) & 0x00ff_ffff;
    out.push(flags);
    out.extend_from_slice(&length.to_be_bytes()[1..]);
    out.extend_from_slice(data);
    out
}

/// A control frame of `kind`.
pub(super) fn control(kind: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    let first = (0x8000 | VERSION).to_be_bytes().into_iter().chain(kind.to_be_bytes()).collect();
    with_length(first, flags, data)
}

/// A data frame on `stream`.
pub(super) fn data(stream: u32, flags: u8, data: &[u8]) -> Vec<u8> {
    with_length((stream & 0x7fff_ffff).to_be_bytes().to_vec(), flags, data)
}

/// The stream id a SYN_STREAM, SYN_REPLY, RST_STREAM or HEADERS frame starts with.
pub(super) fn stream_of(data: &[u8]) -> Option<u32> {
    let id: [u8; 4] = data.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(id) & 0x7fff_ffff)
}

/// The header block of a SYN_STREAM (after stream, associated stream,
/// priority and slot) or of a HEADERS frame (after the stream).
pub(super) fn header_block(kind: u16, data: &[u8]) -> &[u8] {
    let skip = if kind == SYN_STREAM { 10 } else { 4 };
    data.get(skip..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_once_complete() {
        let mut wire = control(PING, 0, &7u32.to_be_bytes());
        wire.extend(data(3, FIN, b"hi"));
        assert_eq!(cut(&wire[..11]), None);
        let (ping, n) = cut(&wire).unwrap();
        assert_eq!(ping, Frame::Control { kind: PING, flags: 0, data: vec![0, 0, 0, 7] });
        assert_eq!(&wire[..4], [0x80, 0x03, 0x00, 0x06]);
        assert_eq!(cut(&wire[n..]).unwrap(), (Frame::Data { stream: 3, flags: FIN, data: b"hi".to_vec() }, 10));
    }

    #[test]
    fn stream_ids_drop_the_reserved_bit() {
        assert_eq!(stream_of(&[0x80, 0, 0, 5, 9]), Some(5));
        assert_eq!(stream_of(&[0, 0]), None);
        assert_eq!(header_block(SYN_STREAM, &[0; 12]), [0, 0]);
    }
}
