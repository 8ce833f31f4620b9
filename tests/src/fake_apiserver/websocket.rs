//! The least of the WebSocket protocol (RFC 6455) that kubectl's `exec`
//! needs: kubectl 1.30+ opens `…/pods/P/exec` as a WebSocket with the
//! `v5.channel.k8s.io` subprotocol (falling back to SPDY only when the
//! upgrade fails). The fake accepts the upgrade, writes one line on the
//! stdout channel, reports success on the status channel and closes: kubectl
//! then exits 0, and the request stays recorded.

use std::io::{self, Write as _};
use std::net::TcpStream;

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The subprotocols the fake speaks, best first.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// Channel numbers of the Kubernetes stream protocol.
const STDOUT: u8 = 1;
const STATUS: u8 = 3;

/// The `101 Switching Protocols` head for a client `key` and its offered
/// `protocols`, or `None` if it offers none the fake speaks.
pub fn accept_head(key: &str, protocols: &str) -> Option<String> {
    let offered: Vec<&str> = protocols.split(',').map(str::trim).collect();
    let chosen = PROTOCOLS.iter().find(|p| offered.contains(p))?;
    let accept =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sha1(format!("{key}{GUID}").as_bytes()));
    Some(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {chosen}\r\n\r\n"
    ))
}

/// One unmasked binary frame (servers never mask) carrying `channel` then `data`.
fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
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

/// Plays a command that prints `stdout` and exits 0, then closes.
pub fn play_exec(stream: &mut TcpStream, stdout: &str) -> io::Result<()> {
    let mut out = vec![STDOUT];
    out.extend_from_slice(stdout.as_bytes());
    stream.write_all(&frame(0x2, &out))?;
    let mut status = vec![STATUS];
    status.extend_from_slice(br#"{"metadata":{},"status":"Success"}"#);
    stream.write_all(&frame(0x2, &status))?;
    // Close, status 1000 (normal).
    stream.write_all(&frame(0x8, &1000u16.to_be_bytes()))?;
    stream.flush()
}

/// SHA-1 (FIPS 180-4), only for the handshake's accept value: no crate in
/// the workspace provides it, and the handshake is all it is used for.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_value_matches_the_rfc_example() {
        let head = accept_head("dGhlIHNhbXBsZSBub25jZQ==", "v4.channel.k8s.io, v5.channel.k8s.io").unwrap_or_default();
        assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), "{head}");
        assert!(head.contains("Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n"), "{head}");
        assert_eq!(accept_head("k", "channel.k8s.io"), None);
    }
}
