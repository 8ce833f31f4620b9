//! Answering one request: record it, route it, and write the [`Reply`] the
//! route chose. Whole replies go through tiny_http's `Response`. A watch or
//! a followed log must reach kubectl event by event, and tiny_http's
//! chunked responses are buffered until 8 KiB or the end: so those write
//! their own head on the raw writer, then one `chunked_transfer` chunk per
//! event, flushed at once. `exec` is tiny_http's upgrade, then `websocket`;
//! a port-forward is the upgrade, then `port_forward`.

use std::io::{self, Read as _, Write};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use chunked_transfer::Encoder;
use serde_json::Value;
use tiny_http::{Header, Response};

use super::port_forward::{self, Target, Transport};
use super::{DELETED_PATH, Request, SUBMITTED_PATH, Shared, TICK, lock, routes, websocket};

/// What to answer.
pub(super) enum Reply {
    /// Status, content type, body.
    Full(u16, &'static str, Vec<u8>),
    /// Hold the request without answering, until the server stops.
    Stall,
    /// A watch (of pods or Events) in a namespace: the changes since a
    /// version, then each new one.
    Watch { backlog: Vec<Value>, events: mpsc::Receiver<Value> },
    /// A pod's log, followed to the container's end if `follow`.
    Log { namespace: String, pod: String, follow: bool },
    /// An `exec` WebSocket upgrade: the handshake's accept value and the
    /// chosen subprotocol; whether kubectl streams stdin.
    Exec { accept: String, protocol: &'static str, pod: String, stdin: bool },
    /// A port-forward upgrade: over a WebSocket (with its accept value) or
    /// plain SPDY.
    Forward { transport: Transport, accept: Option<String>, target: Target },
}

/// Records `request` (unless it is the runai double's report) and answers it.
pub(super) fn answer(mut request: tiny_http::Request, shared: &Arc<Shared>) -> io::Result<()> {
    let recorded = Request::read(&mut request)?;
    let peer = request.remote_addr().copied();
    // The runai double's reports are not kubectl's: they stay out of the record.
    if recorded.path() != SUBMITTED_PATH && recorded.path() != DELETED_PATH {
        lock(&shared.requests).push(recorded.clone());
    }
    match routes::respond(&recorded, shared) {
        Reply::Full(status, content_type, body) => {
            let response = Response::from_data(body).with_status_code(status);
            request.respond(response.with_header(header("Content-Type", content_type)?))
        }
        Reply::Stall => {
            while !shared.stopped() {
                std::thread::sleep(TICK);
            }
            Ok(())
        }
        Reply::Watch { backlog, events } => {
            let mut stream = Chunked::start(request, "application/json")?;
            for event in backlog {
                stream.send(format!("{event}\n").as_bytes())?;
            }
            while !shared.stopped() {
                match events.recv_timeout(TICK) {
                    Ok(event) => stream.send(format!("{event}\n").as_bytes())?,
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            Ok(())
        }
        Reply::Log { namespace, pod, follow } => {
            let mut stream = Chunked::start(request, "text/plain")?;
            let mut sent = 0;
            loop {
                let (lines, done) = {
                    let cluster = lock(&shared.cluster);
                    let Some(p) = cluster.pods.get(&(namespace.clone(), pod.clone())) else { break };
                    (p.log[sent..].to_vec(), p.log_done)
                };
                sent += lines.len();
                for line in lines {
                    stream.send(format!("{line}\n").as_bytes())?;
                }
                if done || !follow || shared.stopped() {
                    break;
                }
                std::thread::sleep(TICK);
            }
            Ok(())
        }
        Reply::Exec { accept, protocol, pod, stdin } => {
            let switching = Response::empty(101)
                .with_header(header("Sec-WebSocket-Accept", &accept)?)
                .with_header(header("Sec-WebSocket-Protocol", protocol)?);
            let mut socket = request.upgrade("websocket", switching);
            // kubectl sets up its streams after the upgrade, and drops
            // frames that come before ("Unknown stream id"). With stdin, its
            // first frame (stdin's end: tests give it no input) says it is
            // ready; without, only time does.
            if stdin {
                let _ = socket.read(&mut [0; 64])?;
            } else {
                std::thread::sleep(Duration::from_secs(2));
            }
            websocket::play_exec(&mut socket, &format!("(fake API server: a shell in {pod})\n"))?;
            // Give kubectl time to read the close before the socket goes.
            std::thread::sleep(Duration::from_millis(100));
            Ok(())
        }
        Reply::Forward { transport, accept, target } => {
            let peer = peer.ok_or_else(|| io::Error::other("a port-forward from no address"))?;
            let mut switching = Response::empty(101);
            let protocol = match accept {
                Some(accept) => {
                    switching = switching
                        .with_header(header("Sec-WebSocket-Accept", &accept)?)
                        .with_header(header("Sec-WebSocket-Protocol", port_forward::TUNNELLED)?);
                    "websocket"
                }
                None => {
                    switching = switching.with_header(header("X-Stream-Protocol-Version", port_forward::PROTOCOL)?);
                    "SPDY/3.1"
                }
            };
            let upgraded = request.upgrade(protocol, switching);
            let served = port_forward::serve(peer, transport, &target, shared);
            drop(upgraded);
            served
        }
    }
}

fn header(name: &str, value: &str) -> io::Result<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .map_err(|()| io::Error::other(format!("not an HTTP header: {name}: {value}")))
}

/// A `200 OK` whose body is sent chunk by chunk, each as soon as it is
/// written; dropped, it writes the last (empty) chunk.
struct Chunked {
    body: Encoder<Flushed>,
}

impl Chunked {
    fn start(request: tiny_http::Request, content_type: &str) -> io::Result<Self> {
        let mut raw = Flushed(request.into_writer());
        let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n");
        raw.write_all(head.as_bytes())?;
        Ok(Chunked { body: Encoder::with_flush_after_write(raw) })
    }

    fn send(&mut self, data: &[u8]) -> io::Result<()> {
        self.body.write_all(data)
    }
}

/// tiny_http's raw writer, flushed after every write: the encoder hands
/// each chunk on, and its last one is written as it is dropped, when no
/// one could flush after it.
struct Flushed(Box<dyn Write + Send>);

impl Write for Flushed {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.0.write(data)?;
        self.0.flush()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
