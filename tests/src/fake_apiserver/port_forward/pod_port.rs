//! What listens on every port of a fake pod: a tiny HTTP server that
//! answers the first request, once its head is whole, with a 200 whose body
//! names the pod, the port and the request line, and then closes. A test
//! sees its own bytes come back, and which pod answered.

/// One connection kubectl forwards: a request id's error and data streams.
#[derive(Debug, Default)]
pub(super) struct Connection {
    pub port: String,
    pub error_stream: Option<u32>,
    pub data_stream: Option<u32>,
    received: Vec<u8>,
    answered: bool,
}

impl Connection {
    pub fn new(port: &str) -> Self {
        Connection { port: port.to_owned(), ..Connection::default() }
    }

    /// Takes bytes from the client: the answer, once the request's head is
    /// whole (and only once).
    pub fn receive(&mut self, bytes: &[u8], pod: &str) -> Option<Vec<u8>> {
        self.received.extend_from_slice(bytes);
        if self.answered || !self.received.windows(4).any(|w| w == b"\r\n\r\n") {
            return None;
        }
        self.answered = true;
        let text = String::from_utf8_lossy(&self.received);
        let request_line = text.lines().next().unwrap_or_default();
        Some(answer(pod, &self.port, request_line))
    }

    pub fn answered(&self) -> bool {
        self.answered
    }
}

/// The fake pod's HTTP answer.
pub fn answer(pod: &str, port: &str, request_line: &str) -> Vec<u8> {
    let body = format!("fake pod {pod}, port {port}: {request_line}\n");
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_answered_once_its_head_is_whole() {
        let mut conn = Connection::new("8888");
        assert_eq!(conn.receive(b"GET /tree HTTP/1.1\r\nHost: x\r\n", "p"), None);
        let answer = String::from_utf8(conn.receive(b"\r\n", "p").unwrap()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nfake pod p, port 8888: GET /tree HTTP/1.1\n"), "{answer}");
        assert_eq!(conn.receive(b"GET / HTTP/1.1\r\n\r\n", "p"), None);
    }
}
