//! A fake Kubernetes API server on 127.0.0.1, just enough for the real
//! kubectl (1.32, through the Google Cloud SDK dispatcher) to run
//! `kubectl apply --server-side -f -` on a Secret, and a record of every
//! request it got.
//!
//! What kubectl needs is in shared/reference/kubectl-apply-wire.md: the
//! aggregated discovery documents at `/api` and `/apis` with their exact
//! content type, `/openapi/v3` with a Secret PATCH that declares the
//! `fieldValidation` parameter (so kubectl validates on the server side and
//! never asks for the protobuf `/openapi/v2`), a `PATCH` reply that carries
//! `apiVersion` and `kind`, and `/version` with minor 32 so the dispatcher
//! picks kubectl 1.32. std::net only, one thread per connection, Nagle off
//! (kubectl's keep-alive requests otherwise wait ~40 ms each).

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

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
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(self.target.as_str(), |(p, _)| p)
    }

    /// The query parameters in order.
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

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// How the server answers a Secret PATCH.
#[derive(Debug, Clone)]
pub enum PatchBehaviour {
    /// 200 with the applied object, as a real server does.
    Accept,
    /// A `Status` failure with this code, reason and message.
    Reject { code: u16, reason: String, message: String },
    /// Never answer (until the server is dropped).
    Stall,
}

#[derive(Debug)]
struct Shared {
    requests: Mutex<Vec<Request>>,
    behaviour: Mutex<PatchBehaviour>,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The running server; stopped when dropped.
#[derive(Debug)]
pub struct FakeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeApiServer {
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            behaviour: Mutex::new(PatchBehaviour::Accept),
            stop: AtomicBool::new(false),
        });
        let for_thread = Arc::clone(&shared);
        let acceptor = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if for_thread.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&for_thread);
                std::thread::spawn(move || {
                    // A broken connection only ends that connection.
                    let _ = serve_connection(stream, &shared);
                });
            }
        });
        Ok(FakeApiServer { addr, shared, acceptor: Some(acceptor) })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_patch_behaviour(&self, behaviour: PatchBehaviour) {
        *lock(&self.shared.behaviour) = behaviour;
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// The PATCH requests so far.
    pub fn patches(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.method == "PATCH").collect()
    }

    /// A kubeconfig that points kubectl at this server, without auth.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\n\
             contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: {namespace}\n\
             current-context: fake\nusers:\n- name: fake\n  user: {{}}\n",
            self.url()
        )
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.acceptor.take() {
            let _ = thread.join();
        }
    }
}

const DISCOVERY_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

fn serve_connection(stream: TcpStream, shared: &Shared) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader)? else { return Ok(()) };
        lock(&shared.requests).push(request.clone());
        let (status, content_type, body) = respond(&request, shared);
        if status == 0 {
            // Stall: hold the connection open without answering.
            while !shared.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            return Ok(());
        }
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            reason_phrase(status),
            body.len()
        );
        writer.write_all(head.as_bytes())?;
        writer.write_all(&body)?;
        writer.flush()?;
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        _ => "Error",
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers.iter().find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = header("Content-Length").and_then(|l| l.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if header("Transfer-Encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    }
    Ok(Some(Request { method, target, headers, body, received_at: SystemTime::now() }))
}

fn json(status: u16, value: serde_json::Value) -> (u16, &'static str, Vec<u8>) {
    (status, "application/json", value.to_string().into_bytes())
}

fn status_reply(code: u16, reason: &str, message: &str) -> (u16, &'static str, Vec<u8>) {
    json(
        code,
        serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        }),
    )
}

fn respond(request: &Request, shared: &Shared) -> (u16, &'static str, Vec<u8>) {
    let path = request.path();
    match (request.method.as_str(), path) {
        ("GET", "/version") => json(
            200,
            serde_json::json!({"major": "1", "minor": "32", "gitVersion": "v1.32.4", "platform": "linux/amd64"}),
        ),
        ("GET", "/api") => (
            200,
            DISCOVERY_TYPE,
            serde_json::json!({
                "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                "items": [{"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [{
                    "resource": "secrets", "scope": "Namespaced", "singularResource": "secret",
                    "verbs": ["get", "create", "patch", "update", "delete"],
                    "responseKind": {"group": "", "version": "v1", "kind": "Secret"}
                }]}]}]
            })
            .to_string()
            .into_bytes(),
        ),
        ("GET", "/apis") => (
            200,
            DISCOVERY_TYPE,
            serde_json::json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "items": []})
                .to_string()
                .into_bytes(),
        ),
        ("GET", "/openapi/v3") => {
            json(200, serde_json::json!({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=fake"}}}))
        }
        ("GET", "/openapi/v3/api/v1") => json(
            200,
            serde_json::json!({
                "openapi": "3.0.0", "info": {"title": "fake", "version": "v1.32.4"},
                "paths": {"/api/v1/namespaces/{namespace}/secrets/{name}": {"patch": {
                    "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "Secret"},
                    "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                    "responses": {}
                }}},
                "components": {"schemas": {}}
            }),
        ),
        ("PATCH", p) if p.starts_with("/api/v1/namespaces/") && p.contains("/secrets/") => {
            match lock(&shared.behaviour).clone() {
                PatchBehaviour::Accept => {
                    let mut object: serde_json::Value =
                        serde_json::from_slice(&request.body).unwrap_or_else(|_| serde_json::json!({}));
                    object["apiVersion"] = "v1".into();
                    object["kind"] = "Secret".into();
                    object["metadata"]["uid"] = "00000000-0000-0000-0000-000000000001".into();
                    object["metadata"]["resourceVersion"] = "1".into();
                    json(200, object)
                }
                PatchBehaviour::Reject { code, reason, message } => status_reply(code, &reason, &message),
                PatchBehaviour::Stall => (0, "", Vec::new()),
            }
        }
        _ => status_reply(404, "NotFound", &format!("the server could not find the requested resource ({path})")),
    }
}
