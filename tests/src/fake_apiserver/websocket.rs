//! The least of the WebSocket protocol (RFC 6455) that kubectl's `exec`
//! needs: kubectl 1.30+ opens `…/pods/P/exec` as a WebSocket with the
//! `v5.channel.k8s.io` subprotocol (falling back to SPDY only when the
//! upgrade fails). The fake accepts the upgrade, writes one line on the
//! stdout channel, reports success on the status channel and closes: kubectl
//! then exits 0, and the request stays recorded.
//!
//! Port-forward tunnels SPDY through binary messages (see `port_forward`):
//! for it the fake also reads the client's frames, which are masked.

use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The subprotocols the fake speaks, best first.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// Channel numbers of the Kubernetes stream protocol.
const STDOUT: u8 = 1;
const STATUS: u8 = 3;

/// Frame opcodes.
pub(super) const CONTINUATION: u8 = 0x0;
pub(super) const BINARY: u8 = 0x2;
pub(super) const CLOSE: u8 = 0x8;
pub(super) const PING: u8 = 0x9;
pub(super) const PONG: u8 = 0xa;

/// The best subprotocol of the client's `Sec-WebSocket-Protocol` list that
/// the fake speaks.
pub fn choose_protocol(offered: &str) -> Option<&'static str> {
    let offered: Vec<&str> = offered.split(',').map(str::trim).collect();
    PROTOCOLS.into_iter().find(|p| offered.contains(p))
}

/// `Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key`: the base64
/// of the SHA-1 of the key and the GUID.
pub fn accept_value(key: &str) -> String {
    BASE64.encode(Sha1::digest(format!("{key}{GUID}")))
}

/// One unmasked frame (servers never mask), final, with `payload`.
pub(super) fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// A binary frame on one channel of the Kubernetes stream protocol.
fn on_channel(channel: u8, data: &[u8]) -> Vec<u8> {
    frame(BINARY, &[&[channel], data].concat())
}

/// Plays a command that prints `stdout` and exits 0, then closes.
pub fn play_exec(stream: &mut impl Write, stdout: &str) -> io::Result<()> {
    stream.write_all(&on_channel(STDOUT, stdout.as_bytes()))?;
    stream.write_all(&on_channel(STATUS, br#"{"metadata":{},"status":"Success"}"#))?;
    // Close, status 1000 (normal).
    stream.write_all(&frame(CLOSE, &1000u16.to_be_bytes()))?;
    stream.flush()
}

/// The first whole frame a client sent at the start of `buf`: its opcode
/// and unmasked payload, and its length on the wire; `None` until it is all
/// there. (Whether it is final does not matter to the fake: a fragmented
/// binary message is the same bytes.)
pub(super) fn cut_client_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    let (&first, &second) = (buf.first()?, buf.get(1)?);
    let (length, mut at) = match second & 0x7f {
        126 => (u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)), 4),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask: [u8; 4] = if second & 0x80 != 0 {
        at += 4;
        buf.get(at - 4..at)?.try_into().ok()?
    } else {
        [0; 4]
    };
    let end = at + usize::try_from(length).ok()?;
    let payload = buf.get(at..end)?.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
    Some((first & 0x0f, payload, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_value_matches_the_rfc_example() {
        assert_eq!(accept_value("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn masked_client_frames_are_unmasked_once_complete() {
        let mask = [1, 2, 3, 4];
        let payload: Vec<u8> = b"spdy bytes".iter().enumerate().map(|(i, b)| b ^ mask[i % 4]).collect();
        let wire = [&[0x82, 0x80 | 10][..], &mask, &payload].concat();
        assert_eq!(cut_client_frame(&wire[..8]), None);
        assert_eq!(cut_client_frame(&wire), Some((BINARY, b"spdy bytes".to_vec(), 16)));
        let long = frame(BINARY, &[7; 300]);
        assert_eq!(cut_client_frame(&long), Some((BINARY, vec![7; 300], 304)));
    }

    #[test]
    fn the_best_offered_subprotocol_is_chosen() {
        assert_eq!(choose_protocol("v4.channel.k8s.io, v5.channel.k8s.io"), Some("v5.channel.k8s.io"));
        assert_eq!(choose_protocol("v4.channel.k8s.io"), Some("v4.channel.k8s.io"));
        assert_eq!(choose_protocol("channel.k8s.io"), None);
    }
}
