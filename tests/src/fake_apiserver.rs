//! A fake Kubernetes API server on 127.0.0.1, just enough for the real
//! kubectl (1.32, through the Google Cloud SDK dispatcher) to run what
//! `submit` runs: `kubectl apply --server-side -f -` on a Secret, `get` of
//! PersistentVolumeClaims and pods (list and watch), `logs` (followed) and
//! `exec`; and a record of every request it got.
//!
//! What kubectl needs is in shared/reference/kubectl-apply-wire.md: the
//! aggregated discovery documents at `/api` and `/apis` with their exact
//! content type, `/openapi/v3` with a Secret PATCH that declares the
//! `fieldValidation` parameter (so kubectl validates on the server side and
//! never asks for the protobuf `/openapi/v2`), a `PATCH` reply that carries
//! `apiVersion` and `kind`, and `/version` with minor 32 so the dispatcher
//! picks kubectl 1.32. Watches and followed logs are chunked responses that
//! stay open; `exec` is a WebSocket (see `websocket`). std::net only, one
//! thread per connection, Nagle off (kubectl's keep-alive requests otherwise
//! wait ~40 ms each).
//!
//! Pods come from scripted [`Timeline`]s: a test arms one for a job name, and
//! the runai double starts it when it "submits" that job, by a `POST` to
//! [`SUBMITTED_PATH`] (see `timeline_hook`).

mod cluster;
mod websocket;

pub use cluster::{NODE, PodState, Timeline};

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use cluster::{Change, Cluster, Selector};
use serde_json::{Value, json};

/// Where the runai double reports a submission: `{"name": job, "image": ref}`.
pub const SUBMITTED_PATH: &str = "/fake/submitted";

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
    cluster: Mutex<Cluster>,
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
            cluster: Mutex::new(Cluster::default()),
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

    /// Adds a bound PersistentVolumeClaim.
    pub fn add_pvc(&self, namespace: &str, name: &str) {
        lock(&self.shared.cluster).pvcs.push((namespace.to_owned(), name.to_owned()));
    }

    /// Adds (or changes) a pod, as if a job were already there.
    pub fn set_pod(&self, namespace: &str, name: &str, image: &str, state: &PodState) {
        lock(&self.shared.cluster).set_pod(namespace, name, image, state);
    }

    /// From now on, answer 403 Forbidden to any request for Events, as a
    /// cluster whose RBAC does not let the user list them.
    pub fn forbid_events(&self) {
        lock(&self.shared.cluster).forbid_events = true;
    }

    /// From now on, answer 401 to every request, as a server that takes no
    /// login (kubectl sends no token over plain http, so an expired one
    /// cannot be played otherwise).
    pub fn refuse_login(&self) {
        lock(&self.shared.cluster).refuse_login = true;
    }

    /// From now on, answer 403 to every request in `namespace`.
    pub fn forbid_namespace(&self, namespace: &str) {
        lock(&self.shared.cluster).forbidden_namespaces.push(namespace.to_owned());
    }

    /// The Secret `name` in `namespace` as last applied, if any.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<Value> {
        lock(&self.shared.cluster).secrets.get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    /// The requests for Events so far.
    pub fn event_requests(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path().ends_with("/events")).collect()
    }

    /// Plays `timeline` on the pods of `job` in `namespace` once the runai
    /// double reports that it submitted `job`.
    pub fn arm_timeline(&self, namespace: &str, job: &str, timeline: Timeline) {
        lock(&self.shared.cluster).armed.insert(job.to_owned(), (namespace.to_owned(), timeline));
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// The PATCH requests so far.
    pub fn patches(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.method == "PATCH").collect()
    }

    /// The requests for an `exec` subresource so far.
    pub fn execs(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path().ends_with("/exec")).collect()
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

/// How often open streams look for news and for the server stopping.
const TICK: Duration = Duration::from_millis(20);

/// What to answer.
enum Reply {
    Full(u16, &'static str, Vec<u8>),
    /// Hold the connection open without answering.
    Stall,
    /// A watch (of pods or Events) in a namespace: the changes since a
    /// version, then each new one.
    Watch {
        backlog: Vec<Value>,
        events: mpsc::Receiver<Value>,
    },
    /// A pod's log, followed to the container's end if `follow`.
    Log {
        namespace: String,
        pod: String,
        follow: bool,
    },
    /// An `exec` WebSocket upgrade.
    Exec {
        head: String,
        pod: String,
    },
}

fn serve_connection(stream: TcpStream, shared: &Arc<Shared>) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader)? else { return Ok(()) };
        // The runai double's report is not kubectl's: it stays out of the record.
        if request.path() != SUBMITTED_PATH {
            lock(&shared.requests).push(request.clone());
        }
        match respond(&request, shared) {
            Reply::Full(status, content_type, body) => {
                let head = format!(
                    "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                    reason_phrase(status),
                    body.len()
                );
                writer.write_all(head.as_bytes())?;
                writer.write_all(&body)?;
                writer.flush()?;
            }
            Reply::Stall => {
                while !shared.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(TICK);
                }
                return Ok(());
            }
            Reply::Watch { backlog, events } => {
                start_chunked(&mut writer, "application/json")?;
                for event in backlog {
                    write_chunk(&mut writer, format!("{event}\n").as_bytes())?;
                }
                while !shared.stop.load(Ordering::SeqCst) {
                    match events.recv_timeout(TICK) {
                        Ok(event) => write_chunk(&mut writer, format!("{event}\n").as_bytes())?,
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
                return Ok(());
            }
            Reply::Log { namespace, pod, follow } => {
                start_chunked(&mut writer, "text/plain")?;
                let mut sent = 0;
                loop {
                    let (lines, done) = {
                        let cluster = lock(&shared.cluster);
                        let Some(p) = cluster.pods.get(&(namespace.clone(), pod.clone())) else { break };
                        (p.log[sent..].to_vec(), p.log_done)
                    };
                    sent += lines.len();
                    for line in lines {
                        write_chunk(&mut writer, format!("{line}\n").as_bytes())?;
                    }
                    if done || !follow || shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(TICK);
                }
                writer.write_all(b"0\r\n\r\n")?;
                writer.flush()?;
            }
            Reply::Exec { head, pod } => {
                writer.write_all(head.as_bytes())?;
                // kubectl sets up its streams after the upgrade, and drops
                // frames that come before ("Unknown stream id"). Its first
                // frame (stdin's end: tests give it no input) says it is
                // ready; without stdin there is none, hence the bound.
                reader.get_ref().set_read_timeout(Some(Duration::from_secs(2)))?;
                let _ = reader.fill_buf();
                websocket::play_exec(&mut writer, &format!("(fake API server: a shell in {pod})\n"))?;
                // Give kubectl time to read the close before the socket goes.
                std::thread::sleep(Duration::from_millis(100));
                return Ok(());
            }
        }
    }
}

fn start_chunked(writer: &mut TcpStream, content_type: &str) -> io::Result<()> {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n");
    writer.write_all(head.as_bytes())?;
    writer.flush()
}

fn write_chunk(writer: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    writer.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    writer.write_all(data)?;
    writer.write_all(b"\r\n")?;
    writer.flush()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
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

fn json_reply(status: u16, value: Value) -> Reply {
    Reply::Full(status, "application/json", value.to_string().into_bytes())
}

fn status_reply(code: u16, reason: &str, message: &str) -> Reply {
    json_reply(
        code,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        }),
    )
}

/// One resource of the core group in aggregated discovery.
fn core_resource(resource: &str, singular: &str, kind: &str, short: &[&str], verbs: &[&str]) -> Value {
    json!({
        "resource": resource, "scope": "Namespaced", "singularResource": singular, "shortNames": short,
        "verbs": verbs, "responseKind": {"group": "", "version": "v1", "kind": kind}
    })
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

/// `/api/v1/namespaces/NS/REST...` split into NS and the rest's segments.
fn namespaced(path: &str) -> Option<(&str, Vec<&str>)> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let mut parts = rest.split('/');
    let namespace = parts.next()?;
    Some((namespace, parts.collect()))
}

fn respond(request: &Request, shared: &Arc<Shared>) -> Reply {
    let path = request.path();
    let query = request.query();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| percent_decode(v));
    if path != SUBMITTED_PATH {
        let refusal = lock(&shared.cluster).refusal(namespaced(path).map(|(ns, _)| ns));
        if let Some((code, reason, message)) = refusal {
            return status_reply(code, reason, &message);
        }
    }
    if let Some((namespace, rest)) = namespaced(path) {
        match (request.method.as_str(), rest.as_slice()) {
            ("GET", ["persistentvolumeclaims"]) => return json_reply(200, lock(&shared.cluster).pvc_list(namespace)),
            ("GET", ["pods"]) => {
                let name = param("fieldSelector").and_then(|f| f.strip_prefix("metadata.name=").map(str::to_owned));
                return pods(
                    shared,
                    namespace,
                    name,
                    param("watch").is_some_and(|w| w == "true" || w == "1"),
                    param("resourceVersion"),
                );
            }
            ("GET", ["events"]) => {
                return events(
                    shared,
                    namespace,
                    &Selector::parse(&param("fieldSelector").unwrap_or_default()),
                    param("watch").is_some_and(|w| w == "true" || w == "1"),
                    param("resourceVersion"),
                );
            }
            ("GET", ["pods", pod]) => {
                let cluster = lock(&shared.cluster);
                return match cluster.pods.get(&(namespace.to_owned(), (*pod).to_owned())) {
                    Some(p) => json_reply(200, p.object.clone()),
                    None => status_reply(404, "NotFound", &format!("pods \"{pod}\" not found")),
                };
            }
            ("GET", ["pods", pod, "log"]) => {
                return log(shared, namespace, pod, param("follow").is_some_and(|f| f == "true"));
            }
            ("GET" | "POST", ["pods", pod, "exec"]) => return exec(request, shared, namespace, pod),
            ("GET", ["secrets", name]) => {
                let cluster = lock(&shared.cluster);
                return match cluster.secrets.get(&(namespace.to_owned(), (*name).to_owned())) {
                    Some(secret) => json_reply(200, secret.clone()),
                    None => status_reply(404, "NotFound", &format!("secrets \"{name}\" not found")),
                };
            }
            _ => {}
        }
    }
    match (request.method.as_str(), path) {
        ("GET", "/version") => json_reply(
            200,
            json!({"major": "1", "minor": "32", "gitVersion": "v1.32.4", "platform": "linux/amd64"}),
        ),
        ("GET", "/api") => Reply::Full(
            200,
            DISCOVERY_TYPE,
            json!({
                "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                "items": [{"metadata": {"name": ""}, "versions": [{"version": "v1", "resources": [
                    core_resource("secrets", "secret", "Secret", &[], &["get", "list", "create", "patch", "update", "delete"]),
                    core_resource("pods", "pod", "Pod", &["po"], &["get", "list", "watch"]),
                    core_resource("events", "event", "Event", &["ev"], &["get", "list", "watch"]),
                    core_resource("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", &["pvc"], &["get", "list"]),
                ]}]}]
            })
            .to_string()
            .into_bytes(),
        ),
        ("GET", "/apis") => Reply::Full(
            200,
            DISCOVERY_TYPE,
            json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "items": []})
                .to_string()
                .into_bytes(),
        ),
        ("GET", "/openapi/v3") => {
            json_reply(200, json!({"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=fake"}}}))
        }
        ("GET", "/openapi/v3/api/v1") => json_reply(
            200,
            json!({
                "openapi": "3.0.0", "info": {"title": "fake", "version": "v1.32.4"},
                "paths": {"/api/v1/namespaces/{namespace}/secrets/{name}": {"patch": {
                    "x-kubernetes-group-version-kind": {"group": "", "version": "v1", "kind": "Secret"},
                    "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
                    "responses": {}
                }}},
                "components": {"schemas": {}}
            }),
        ),
        ("POST", SUBMITTED_PATH) => submitted(request, shared),
        ("PATCH", p) if p.starts_with("/api/v1/namespaces/") && p.contains("/secrets/") => {
            match lock(&shared.behaviour).clone() {
                PatchBehaviour::Accept => {
                    let mut object: Value = serde_json::from_slice(&request.body).unwrap_or_else(|_| json!({}));
                    object["apiVersion"] = "v1".into();
                    object["kind"] = "Secret".into();
                    object["metadata"]["uid"] = "00000000-0000-0000-0000-000000000001".into();
                    object["metadata"]["resourceVersion"] = "1".into();
                    if let Some((namespace, rest)) = namespaced(p) {
                        if let ["secrets", name] = rest.as_slice() {
                            let key = (namespace.to_owned(), (*name).to_owned());
                            lock(&shared.cluster).secrets.insert(key, object.clone());
                        }
                    }
                    json_reply(200, object)
                }
                PatchBehaviour::Reject { code, reason, message } => status_reply(code, &reason, &message),
                PatchBehaviour::Stall => Reply::Stall,
            }
        }
        _ => status_reply(404, "NotFound", &format!("the server could not find the requested resource ({path})")),
    }
}

/// A list of pods, or a watch from `since` (a list's resourceVersion).
fn pods(shared: &Shared, namespace: &str, name: Option<String>, watch: bool, since: Option<String>) -> Reply {
    let mut cluster = lock(&shared.cluster);
    if !watch {
        return json_reply(200, cluster.pod_list(namespace, name.as_deref()));
    }
    let since: u64 = since.and_then(|v| v.parse().ok()).unwrap_or(0);
    let backlog = cluster
        .history
        .iter()
        .filter(|(version, ns, event)| {
            *version > since
                && ns == namespace
                && name.as_deref().is_none_or(|n| event["object"]["metadata"]["name"] == n)
        })
        .map(|(_, _, event)| event.clone())
        .collect();
    let (tx, events) = mpsc::channel();
    cluster.watchers.push((namespace.to_owned(), name, tx));
    Reply::Watch { backlog, events }
}

/// A list of Events, or a watch from `since`; 403 if the cluster forbids them.
fn events(shared: &Shared, namespace: &str, selector: &Selector, watch: bool, since: Option<String>) -> Reply {
    let mut cluster = lock(&shared.cluster);
    if cluster.forbid_events {
        let verb = if watch { "watch" } else { "list" };
        let message = format!(
            "events is forbidden: User \"ada\" cannot {verb} resource \"events\" in API group \"\" in the namespace \"{namespace}\""
        );
        return status_reply(403, "Forbidden", &message);
    }
    if !watch {
        return json_reply(200, cluster.event_list(namespace, selector));
    }
    let since: u64 = since.and_then(|v| v.parse().ok()).unwrap_or(0);
    let backlog = cluster
        .events
        .iter()
        .filter(|(version, ns, event)| *version > since && ns == namespace && selector.matches(&event["object"]))
        .map(|(_, _, event)| event.clone())
        .collect();
    let (tx, events) = mpsc::channel();
    cluster.event_watchers.push((namespace.to_owned(), selector.clone(), tx));
    Reply::Watch { backlog, events }
}

fn log(shared: &Shared, namespace: &str, pod: &str, follow: bool) -> Reply {
    let cluster = lock(&shared.cluster);
    let Some(p) = cluster.pods.get(&(namespace.to_owned(), pod.to_owned())) else {
        return status_reply(404, "NotFound", &format!("pods \"{pod}\" not found"));
    };
    let status = &p.object["status"]["containerStatuses"][0];
    let waiting = status["state"]["waiting"]["reason"].as_str();
    let ran_before = status["lastState"].get("terminated").is_some();
    if let (Some(reason), false) = (waiting, ran_before) {
        let message = format!("container \"main\" in pod \"{pod}\" is waiting to start: {reason}");
        return status_reply(400, "BadRequest", &message);
    }
    if status.is_null() {
        return status_reply(400, "BadRequest", &format!("container \"main\" in pod \"{pod}\" is not yet scheduled"));
    }
    Reply::Log { namespace: namespace.to_owned(), pod: pod.to_owned(), follow }
}

fn exec(request: &Request, shared: &Shared, namespace: &str, pod: &str) -> Reply {
    let running = lock(&shared.cluster)
        .pods
        .get(&(namespace.to_owned(), pod.to_owned()))
        .is_some_and(|p| p.object["status"]["phase"] == "Running");
    if !running {
        return status_reply(400, "BadRequest", &format!("pod {pod} is not running"));
    }
    let key = request.header("Sec-WebSocket-Key").unwrap_or_default();
    let protocols = request.header("Sec-WebSocket-Protocol").unwrap_or_default();
    match websocket::accept_head(key, protocols) {
        Some(head) => Reply::Exec { head, pod: pod.to_owned() },
        None => status_reply(400, "BadRequest", "the fake API server speaks only v4/v5.channel.k8s.io WebSockets"),
    }
}

/// The runai double's report: starts the timeline armed for the job.
fn submitted(request: &Request, shared: &Arc<Shared>) -> Reply {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let job = body["name"].as_str().unwrap_or_default().to_owned();
    let image = body["image"].as_str().unwrap_or_default().to_owned();
    let Some((namespace, timeline)) = lock(&shared.cluster).armed.remove(&job) else {
        return json_reply(200, json!({"started": false}));
    };
    let shared = Arc::clone(shared);
    std::thread::spawn(move || play(&shared, &namespace, &job, &image, &timeline));
    json_reply(200, json!({"started": true}))
}

/// Takes the timeline's steps in order, each after its delay, unless the
/// server stops first.
fn play(shared: &Shared, namespace: &str, job: &str, image: &str, timeline: &Timeline) {
    for step in &timeline.steps {
        let mut left = step.after;
        while !left.is_zero() {
            if shared.stop.load(Ordering::SeqCst) {
                return;
            }
            let nap = left.min(TICK);
            std::thread::sleep(nap);
            left -= nap;
        }
        let pod = format!("{job}-{}", step.pod);
        let mut cluster = lock(&shared.cluster);
        match &step.change {
            Change::State(state) => cluster.set_pod(namespace, &pod, image, state),
            Change::Log(line) => cluster.append_log(namespace, &pod, line),
            Change::Event { kind, reason, message } => cluster.record_event(namespace, &pod, kind, reason, message),
        }
    }
}
