//! A request as the fake API server recorded it, for tests to assert on.

use std::io;
use std::time::SystemTime;

/// One request as it reached the server.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, e.g. `/api/v1/namespaces/ns/secrets/s?fieldManager=submit`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request was complete, to order it against other events.
    pub received_at: SystemTime,
}

impl Request {
    /// Reads `request`'s head and body. An upgrade (`exec`) has no body:
    /// what follows its head is the WebSocket's, read after the upgrade.
    pub(super) fn read(request: &mut tiny_http::Request) -> io::Result<Self> {
        let headers: Vec<(String, String)> = request
            .headers()
            .iter()
            .map(|h| (h.field.as_str().as_str().to_owned(), h.value.as_str().to_owned()))
            .collect();
        let mut recorded = Request {
            method: request.method().as_str().to_owned(),
            target: request.url().to_owned(),
            headers,
            body: Vec::new(),
            received_at: SystemTime::now(),
        };
        if !recorded.is_upgrade() {
            request.as_reader().read_to_end(&mut recorded.body)?;
            recorded.received_at = SystemTime::now();
        }
        Ok(recorded)
    }

    fn is_upgrade(&self) -> bool {
        self.header("Connection").is_some_and(|c| c.to_ascii_lowercase().contains("upgrade"))
    }

    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target.as_str(), |(p, _)| p)
    }

    /// The query parameters in order, as sent (percent-encoded).
    pub fn query(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.target.split_once('?') else { return Vec::new() };
        q.split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (kv.to_owned(), String::new()),
            })
            .collect()
    }

    /// The first query parameter `name`, percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query().into_iter().find(|(k, _)| k == name).map(|(_, v)| percent_decode(&v))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// `%3D` and friends in a query value.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()),
        ) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
