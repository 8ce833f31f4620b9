//! `kubectl port-forward` against the fake: kubectl 1.31+ opens
//! `…/pods/P/portforward` as a WebSocket with the subprotocol
//! `SPDY/3.1+portforward.k8s.io` and runs SPDY/3.1 through its binary
//! messages; when the WebSocket upgrade is refused (or with
//! `KUBECTL_PORT_FORWARD_WEBSOCKETS=false`, and in older kubectl) it POSTs a
//! plain `Upgrade: SPDY/3.1` instead. Both are served here, the SPDY session
//! being the same.
//!
//! For each local connection kubectl opens two streams with the same
//! `requestid` and `port` headers: `streamtype: error` (what the server
//! says went wrong; the fake never does) and `streamtype: data` (the bytes).
//! The fake answers each SYN_STREAM with a SYN_REPLY, connects the data
//! stream to the pod's port (`pod_port`), echoes PINGs (kubectl's
//! keep-alive), and ends the whole connection, as a real server's breaks,
//! when the pod is deleted or replaced, when a test drops the forwards, or
//! when the server stops: kubectl then exits with `lost connection to pod`.

mod header_block;
mod pod_port;
mod socket;
mod spdy;

use std::collections::BTreeMap;
use std::io::{self, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};

use header_block::{Deflater, Inflater};
use pod_port::Connection;

use super::{Shared, TICK, lock, websocket};

/// The WebSocket subprotocol of SPDY tunnelled for port-forward.
pub(super) const TUNNELLED: &str = "SPDY/3.1+portforward.k8s.io";

/// The port-forward protocol, in `X-Stream-Protocol-Version` for plain SPDY.
pub(super) const PROTOCOL: &str = "portforward.k8s.io";

/// How the SPDY session reaches the fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    /// In the binary messages of a WebSocket.
    WebSocket,
    /// On the upgraded connection itself.
    Spdy,
}

/// Which forward this is: its pod, as it was when kubectl connected.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    /// The count of drops a test asked for when the forward began.
    pub drops: u64,
}

impl Target {
    /// Whether the forward must end: its pod is gone or is another one
    /// now, or a test dropped the forwards since.
    fn ended(&self, shared: &Shared) -> bool {
        let cluster = lock(&shared.cluster);
        let pod = cluster.pods.get(&(self.namespace.clone(), self.pod.clone()));
        pod.is_none_or(|p| p.uid != self.uid) || cluster.forward_drops != self.drops || shared.stopped()
    }
}

/// Serves one forward on the upgraded connection from `peer` until kubectl
/// ends it or [`Target::ended`] says so. The caller holds tiny_http's
/// handle on the connection meanwhile: dropping it shuts the socket.
pub(super) fn serve(peer: SocketAddr, transport: Transport, target: &Target, shared: &Shared) -> io::Result<()> {
    let socket = socket::find(shared.addr, peer)?;
    socket.set_read_timeout(Some(TICK))?;
    let mut session = Session {
        socket,
        transport,
        pod: target.pod.clone(),
        wire: Vec::new(),
        spdy: Vec::new(),
        inflater: Inflater::new(),
        deflater: Deflater::default(),
        streams: BTreeMap::new(),
        connections: BTreeMap::new(),
    };
    let mut buf = [0u8; 16 * 1024];
    let result = loop {
        if target.ended(shared) {
            break Ok(());
        }
        match session.socket.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => session.wire.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(e) => break Err(e),
        }
        match session.take_in() {
            Ok(true) => {}
            Ok(false) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    // Whatever ended it, the connection goes, as a broken one does.
    let _ = session.socket.shutdown(Shutdown::Both);
    result
}

struct Session {
    socket: TcpStream,
    transport: Transport,
    pod: String,
    /// Bytes read and not yet taken (WebSocket frames, or SPDY).
    wire: Vec<u8>,
    /// SPDY bytes not yet cut into frames.
    spdy: Vec<u8>,
    inflater: Inflater,
    deflater: Deflater,
    /// Each open stream's request id.
    streams: BTreeMap<u32, String>,
    /// By request id.
    connections: BTreeMap<String, Connection>,
}

impl Session {
    /// Handles every whole frame read so far; `false` once kubectl ended
    /// the session.
    fn take_in(&mut self) -> io::Result<bool> {
        match self.transport {
            Transport::Spdy => self.spdy.append(&mut self.wire),
            Transport::WebSocket => {
                while let Some((opcode, payload, n)) = websocket::cut_client_frame(&self.wire) {
                    self.wire.drain(..n);
                    match opcode {
                        websocket::BINARY | websocket::CONTINUATION => self.spdy.extend_from_slice(&payload),
                        websocket::PING => self.socket.write_all(&websocket::frame(websocket::PONG, &payload))?,
                        websocket::CLOSE => {
                            self.socket.write_all(&websocket::frame(websocket::CLOSE, &payload))?;
                            return Ok(false);
                        }
                        _ => {}
                    }
                }
            }
        }
        while let Some((frame, n)) = spdy::cut(&self.spdy) {
            self.spdy.drain(..n);
            if !self.handle(frame)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        match self.transport {
            Transport::Spdy => self.socket.write_all(frame),
            Transport::WebSocket => self.socket.write_all(&websocket::frame(websocket::BINARY, frame)),
        }
    }

    fn handle(&mut self, frame: spdy::Frame) -> io::Result<bool> {
        match frame {
            spdy::Frame::Control { kind: spdy::SYN_STREAM, data, .. } => self.open(&data)?,
            spdy::Frame::Control { kind: spdy::HEADERS, data, .. } => {
                // Read only to keep the zlib stream in step.
                self.inflater.headers(spdy::header_block(spdy::HEADERS, &data)).map_err(io::Error::other)?;
            }
            spdy::Frame::Control { kind: spdy::PING, flags, data } => {
                self.send(&spdy::control(spdy::PING, flags, &data))?
            }
            spdy::Frame::Control { kind: spdy::GOAWAY, .. } => return Ok(false),
            spdy::Frame::Control { kind: spdy::RST_STREAM, data, .. } => {
                if let Some(id) = spdy::stream_of(&data) {
                    self.streams.remove(&id);
                }
            }
            spdy::Frame::Control { .. } => {}
            spdy::Frame::Data { stream, flags, data } => self.take_data(stream, flags, &data)?,
        }
        Ok(true)
    }

    /// A new stream: note it on its connection and accept it.
    fn open(&mut self, data: &[u8]) -> io::Result<()> {
        let id = spdy::stream_of(data).ok_or_else(|| io::Error::other("a SYN_STREAM without a stream id"))?;
        let headers = self.inflater.headers(spdy::header_block(spdy::SYN_STREAM, data)).map_err(io::Error::other)?;
        let header = |name: &str| headers.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());
        let request = header("requestid").to_owned();
        let connection = self.connections.entry(request.clone()).or_insert_with(|| Connection::new(header("port")));
        match header("streamtype") {
            "error" => connection.error_stream = Some(id),
            "data" => connection.data_stream = Some(id),
            _ => {}
        }
        self.streams.insert(id, request);
        let reply = [id.to_be_bytes().to_vec(), self.deflater.block(&[])].concat();
        self.send(&spdy::control(spdy::SYN_REPLY, 0, &reply))
    }

    /// Bytes on a data stream go to the pod's port; its answer comes back,
    /// then both streams of the connection end.
    fn take_data(&mut self, stream: u32, flags: u8, data: &[u8]) -> io::Result<()> {
        let Some(connection) = self.streams.get(&stream).and_then(|r| self.connections.get_mut(r)) else {
            return Ok(());
        };
        if connection.data_stream != Some(stream) || connection.answered() {
            return Ok(());
        }
        let answer = connection.receive(data, &self.pod);
        let closing = answer.is_some() || flags & spdy::FIN != 0;
        let error_stream = connection.error_stream;
        if let Some(answer) = answer {
            self.send(&spdy::data(stream, 0, &answer))?;
        }
        if closing {
            self.send(&spdy::data(stream, spdy::FIN, &[]))?;
            if let Some(error) = error_stream {
                self.send(&spdy::data(error, spdy::FIN, &[]))?;
            }
        }
        Ok(())
    }
}
