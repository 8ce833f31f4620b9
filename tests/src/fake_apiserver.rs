//! A fake Kubernetes API server on 127.0.0.1, just enough for the real
//! kubectl (1.32, through the Google Cloud SDK dispatcher) to run what
//! `submit` runs: `kubectl apply --server-side -f -` on a Secret, `get` of
//! PersistentVolumeClaims and pods (list and watch), `logs` (followed),
//! `exec` and `port-forward`; and a record of every request it got.
//!
//! What kubectl needs is in shared/reference/kubectl-apply-wire.md; the
//! documents are in `discovery`, the routes in `routes`. Watches and
//! followed logs are chunked responses that stay open; `exec` is a
//! WebSocket (see `websocket`), `port-forward` SPDY in a WebSocket or on its
//! own (see `port_forward`). HTTP/1.1 is tiny_http's, one thread per
//! request (a watch holds its thread), Nagle off (kubectl's keep-alive
//! requests otherwise wait ~40 ms each).
//!
//! Pods come from scripted [`Timeline`]s: a test arms one for a job name, and
//! the runai double starts it when it "submits" that job, by a `POST` to
//! [`SUBMITTED_PATH`] (see `timeline_hook`). When it deletes a job, by a
//! `POST` to [`DELETED_PATH`], the job's pods go.

mod cluster;
mod discovery;
mod objects;
mod port_forward;
mod reply;
mod request;
mod routes;
mod timeline;
mod websocket;

pub use cluster::NODE;
pub use request::Request;
pub use timeline::{PodState, Timeline};

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use cluster::Cluster;
use serde_json::Value;

/// Where the runai double reports a submission: `{"name": job, "image": ref}`.
pub const SUBMITTED_PATH: &str = "/fake/submitted";
/// Where the runai double reports a delete: `{"name": job}`; the answer is
/// `{"deleted": [pod names]}`, empty when the job had no pods.
pub const DELETED_PATH: &str = "/fake/deleted";

/// How long a deleted job's pods stay (terminating) before they are gone.
pub const DELETION_GRACE: Duration = Duration::from_millis(400);

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
    /// The server's own address, to find an upgraded connection's socket.
    addr: SocketAddr,
    requests: Mutex<Vec<Request>>,
    behaviour: Mutex<PatchBehaviour>,
    cluster: Mutex<Cluster>,
    stop: AtomicBool,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How often open streams look for news and for the server stopping.
const TICK: Duration = Duration::from_millis(20);

/// The running server; stopped when dropped.
pub struct FakeApiServer {
    addr: SocketAddr,
    http: Arc<tiny_http::Server>,
    shared: Arc<Shared>,
    dispatcher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer").field("addr", &self.addr).field("shared", &self.shared).finish_non_exhaustive()
    }
}

impl FakeApiServer {
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        // Linux gives an accepted socket the listener's TCP_NODELAY.
        nix::sys::socket::setsockopt(&listener, nix::sys::socket::sockopt::TcpNoDelay, &true)?;
        let addr = listener.local_addr()?;
        let http = Arc::new(tiny_http::Server::from_listener(listener, None).map_err(io::Error::other)?);
        let shared = Arc::new(Shared {
            addr,
            requests: Mutex::new(Vec::new()),
            behaviour: Mutex::new(PatchBehaviour::Accept),
            cluster: Mutex::new(Cluster::default()),
            stop: AtomicBool::new(false),
        });
        let (for_thread, server) = (Arc::clone(&shared), Arc::clone(&http));
        let dispatcher = std::thread::spawn(move || {
            // `recv` fails once `Drop` unblocks it.
            while let Ok(request) = server.recv() {
                if for_thread.stopped() {
                    break;
                }
                let shared = Arc::clone(&for_thread);
                std::thread::spawn(move || {
                    // A broken connection only ends that request.
                    let _ = reply::answer(request, &shared);
                });
            }
        });
        Ok(FakeApiServer { addr, http, shared, dispatcher: Some(dispatcher) })
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

    /// Adds (or replaces) a pod given as a whole object, with its log
    /// (see `Cluster::put_pod_object`).
    pub fn put_pod_object(&self, namespace: &str, object: Value, log: &[&str]) {
        lock(&self.shared.cluster).put_pod_object(namespace, object, log);
    }

    /// From now on, a job deleted through the runai double keeps its pods
    /// (terminating forever), as a node that does not answer.
    pub fn keep_pods_of_deleted_jobs(&self) {
        lock(&self.shared.cluster).keep_deleted_pods = true;
    }

    /// The jobs deleted through the runai double so far, each with the time
    /// its last pod went (`None` while some are still there).
    pub fn deleted_jobs(&self) -> Vec<(String, Option<std::time::SystemTime>)> {
        lock(&self.shared.cluster).deleted_jobs.clone()
    }

    /// Waits until the pods of every job deleted so far are gone (they stay
    /// terminating for [`DELETION_GRACE`]); panics after 10 s.
    pub fn wait_for_deletions(&self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while self.deleted_jobs().iter().any(|(_, gone)| gone.is_none()) {
            assert!(std::time::Instant::now() < deadline, "deleted jobs' pods still there: {:?}", self.deleted_jobs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Removes a pod, as if its job were deleted.
    pub fn delete_pod(&self, namespace: &str, name: &str) {
        lock(&self.shared.cluster).delete_pod(namespace, name);
    }

    /// Removes the pods `pods` of `namespace` right after the next list of
    /// that namespace's pods is answered: a job that goes away between a
    /// listing and what is done with it.
    pub fn vanish_after_listing(&self, namespace: &str, pods: &[&str]) {
        let mut cluster = lock(&self.shared.cluster);
        cluster.vanish_after_list.extend(pods.iter().map(|p| (namespace.to_owned(), (*p).to_owned())));
    }

    /// The names of the pods of `namespace` that no delete has reached: a
    /// pod marked terminating by a job's delete is on its way out.
    pub fn pod_names(&self, namespace: &str) -> Vec<String> {
        let cluster = lock(&self.shared.cluster);
        let staying = |pod: &Value| pod["metadata"].get("deletionTimestamp").is_none();
        let names = cluster.pods.iter().filter(|((ns, _), pod)| ns == namespace && staying(&pod.object));
        names.map(|((_, name), _)| name.clone()).collect()
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

    /// From now on, take requests again after [`FakeApiServer::refuse_login`].
    pub fn accept_login(&self) {
        lock(&self.shared.cluster).refuse_login = false;
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

    /// The requests for a `portforward` subresource so far.
    pub fn port_forwards(&self) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.path().ends_with("/portforward")).collect()
    }

    /// Ends every open port-forward now, as a broken connection does (a
    /// deleted or replaced pod ends its own forwards by itself).
    pub fn drop_port_forwards(&self) {
        lock(&self.shared.cluster).forward_drops += 1;
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
        // Open streams and timelines see the flag within a TICK and end.
        self.shared.stop.store(true, Ordering::SeqCst);
        self.http.unblock();
        if let Some(thread) = self.dispatcher.take() {
            let _ = thread.join();
        }
    }
}
