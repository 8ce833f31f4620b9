//! Which request gets which [`Reply`]: discovery, the namespaced resources
//! `submit` reads (PersistentVolumeClaims, pods, Events, logs, `exec`,
//! `portforward`, Secrets), the Secret PATCH, the refusals a test asks for (401, 403), and the runai double's
//! reports of a submission and of a delete.

use std::sync::{Arc, mpsc};

use serde_json::{Value, json};

use super::cluster::Selector;
use super::discovery::{self, DISCOVERY_TYPE};
use super::port_forward::{self, Target, Transport};
use super::reply::Reply;
use super::{
    DELETED_PATH, DELETION_GRACE, PatchBehaviour, Request, SUBMITTED_PATH, Shared, TICK, lock, timeline, websocket,
};

pub(super) fn respond(request: &Request, shared: &Arc<Shared>) -> Reply {
    let path = request.path();
    if path != SUBMITTED_PATH && path != DELETED_PATH {
        let refusal = lock(&shared.cluster).refusal(namespaced(path).map(|(ns, _)| ns));
        if let Some((code, reason, message)) = refusal {
            return status_reply(code, reason, &message);
        }
    }
    if let Some((namespace, rest)) = namespaced(path) {
        let watch = request.param("watch").is_some_and(|w| w == "true" || w == "1");
        let since = request.param("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
        match (request.method.as_str(), rest.as_slice()) {
            ("GET", ["persistentvolumeclaims"]) => return json_reply(200, lock(&shared.cluster).pvc_list(namespace)),
            ("GET", ["pods"]) => {
                let field = request.param("fieldSelector");
                let name = field.and_then(|f| f.strip_prefix("metadata.name=").map(str::to_owned));
                return pods(shared, namespace, name, watch, since);
            }
            ("GET", ["events"]) => {
                let selector = Selector::parse(&request.param("fieldSelector").unwrap_or_default());
                return events(shared, namespace, &selector, watch, since);
            }
            ("GET", ["pods", pod]) => {
                let cluster = lock(&shared.cluster);
                return match cluster.pods.get(&(namespace.to_owned(), (*pod).to_owned())) {
                    Some(p) => json_reply(200, p.object.clone()),
                    None => status_reply(404, "NotFound", &format!("pods \"{pod}\" not found")),
                };
            }
            ("GET", ["pods", pod, "log"]) => {
                return log(shared, namespace, pod, request.param("follow").is_some_and(|f| f == "true"));
            }
            ("GET" | "POST", ["pods", pod, "exec"]) => return exec(request, shared, namespace, pod),
            ("GET" | "POST", ["pods", pod, "portforward"]) => return forward(request, shared, namespace, pod),
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
        ("GET", "/version") => json_reply(200, discovery::version()),
        ("GET", "/api") => Reply::Full(200, DISCOVERY_TYPE, discovery::core_group().to_string().into_bytes()),
        ("GET", "/apis") => Reply::Full(200, DISCOVERY_TYPE, discovery::other_groups().to_string().into_bytes()),
        ("GET", "/openapi/v3") => json_reply(200, discovery::openapi_index()),
        ("GET", "/openapi/v3/api/v1") => json_reply(200, discovery::openapi_core()),
        ("POST", SUBMITTED_PATH) => submitted(request, shared),
        ("POST", DELETED_PATH) => deleted(request, shared),
        ("PATCH", p) if p.starts_with("/api/v1/namespaces/") && p.contains("/secrets/") => {
            patch_secret(request, shared)
        }
        _ => status_reply(404, "NotFound", &format!("the server could not find the requested resource ({path})")),
    }
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

/// `/api/v1/namespaces/NS/REST...` split into NS and the rest's segments.
fn namespaced(path: &str) -> Option<(&str, Vec<&str>)> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let mut parts = rest.split('/');
    let namespace = parts.next()?;
    Some((namespace, parts.collect()))
}

/// The server-side apply of the Secret, answered as the test chose.
fn patch_secret(request: &Request, shared: &Shared) -> Reply {
    match lock(&shared.behaviour).clone() {
        PatchBehaviour::Accept => {
            let mut object: Value = serde_json::from_slice(&request.body).unwrap_or_else(|_| json!({}));
            // kubectl refuses a reply without them ("Object 'Kind' is missing").
            object["apiVersion"] = "v1".into();
            object["kind"] = "Secret".into();
            object["metadata"]["uid"] = "00000000-0000-0000-0000-000000000001".into();
            object["metadata"]["resourceVersion"] = "1".into();
            if let Some((namespace, ["secrets", name])) =
                namespaced(request.path()).as_ref().map(|(n, r)| (*n, r.as_slice()))
            {
                let key = (namespace.to_owned(), (*name).to_owned());
                lock(&shared.cluster).secrets.insert(key, object.clone());
            }
            json_reply(200, object)
        }
        PatchBehaviour::Reject { code, reason, message } => status_reply(code, &reason, &message),
        PatchBehaviour::Stall => Reply::Stall,
    }
}

/// A list of pods, or a watch from `since` (a list's resourceVersion).
fn pods(shared: &Shared, namespace: &str, name: Option<String>, watch: bool, since: u64) -> Reply {
    let mut cluster = lock(&shared.cluster);
    if !watch {
        let list = cluster.pod_list(namespace, name.as_deref());
        if name.is_none() {
            for pod in cluster.take_vanishing(namespace) {
                cluster.delete_pod(namespace, &pod);
            }
        }
        return json_reply(200, list);
    }
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
fn events(shared: &Shared, namespace: &str, selector: &Selector, watch: bool, since: u64) -> Reply {
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

/// A pod's log, refused as kubelet refuses it for a container that never ran.
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

/// An `exec` in a running pod: the WebSocket upgrade, if kubectl offers a
/// subprotocol the fake speaks.
fn exec(request: &Request, shared: &Shared, namespace: &str, pod: &str) -> Reply {
    let running = lock(&shared.cluster)
        .pods
        .get(&(namespace.to_owned(), pod.to_owned()))
        .is_some_and(|p| p.object["status"]["phase"] == "Running");
    if !running {
        return status_reply(400, "BadRequest", &format!("pod {pod} is not running"));
    }
    let key = request.header("Sec-WebSocket-Key").unwrap_or_default();
    let offered = request.header("Sec-WebSocket-Protocol").unwrap_or_default();
    match websocket::choose_protocol(offered) {
        Some(protocol) => Reply::Exec {
            accept: websocket::accept_value(key),
            protocol,
            pod: pod.to_owned(),
            stdin: request.param("stdin").is_some_and(|s| s == "true"),
        },
        None => status_reply(400, "BadRequest", "the fake API server speaks only v4/v5.channel.k8s.io WebSockets"),
    }
}

/// A port-forward to a running pod: the WebSocket upgrade with the
/// tunnelled SPDY subprotocol, or the plain SPDY upgrade.
fn forward(request: &Request, shared: &Shared, namespace: &str, pod: &str) -> Reply {
    let cluster = lock(&shared.cluster);
    let Some(p) = cluster.pods.get(&(namespace.to_owned(), pod.to_owned())) else {
        return status_reply(404, "NotFound", &format!("pods \"{pod}\" not found"));
    };
    if p.object["status"]["phase"] != "Running" {
        return status_reply(400, "BadRequest", &format!("pod {pod} is not running"));
    }
    let target = Target {
        namespace: namespace.to_owned(),
        pod: pod.to_owned(),
        uid: p.uid.clone(),
        drops: cluster.forward_drops,
    };
    let upgrade = request.header("Upgrade").unwrap_or_default().to_ascii_lowercase();
    let offers = |header: &str, protocol: &str| {
        request.header(header).unwrap_or_default().split(',').any(|p| p.trim() == protocol)
    };
    if upgrade == "websocket" && offers("Sec-WebSocket-Protocol", port_forward::TUNNELLED) {
        let accept = websocket::accept_value(request.header("Sec-WebSocket-Key").unwrap_or_default());
        return Reply::Forward { transport: Transport::WebSocket, accept: Some(accept), target };
    }
    if upgrade == "spdy/3.1" && offers("X-Stream-Protocol-Version", port_forward::PROTOCOL) {
        return Reply::Forward { transport: Transport::Spdy, accept: None, target };
    }
    status_reply(400, "BadRequest", "the fake API server forwards ports only over SPDY/3.1, tunnelled or not")
}

/// The runai double's report: starts the timeline armed for the job.
fn submitted(request: &Request, shared: &Arc<Shared>) -> Reply {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let job = body["name"].as_str().unwrap_or_default().to_owned();
    let image = body["image"].as_str().unwrap_or_default().to_owned();
    let Some((namespace, armed)) = lock(&shared.cluster).armed.remove(&job) else {
        return json_reply(200, json!({"started": false}));
    };
    let shared = Arc::clone(shared);
    std::thread::spawn(move || timeline::play(&shared, &namespace, &job, &image, &armed));
    json_reply(200, json!({"started": true}))
}

/// The runai double's report of a delete: the job's pods are marked
/// terminating at once and removed after [`DELETION_GRACE`] (unless the
/// test keeps them), as a cluster does.
fn deleted(request: &Request, shared: &Arc<Shared>) -> Reply {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let job = body["name"].as_str().unwrap_or_default().to_owned();
    let pods = lock(&shared.cluster).start_deleting(&job);
    let shared = Arc::clone(shared);
    let names: Vec<&str> = pods.iter().map(|(_, name)| name.as_str()).collect();
    let reply = json_reply(200, json!({"deleted": names}));
    std::thread::spawn(move || {
        let until = std::time::Instant::now() + DELETION_GRACE;
        while std::time::Instant::now() < until && !shared.stopped() {
            std::thread::sleep(TICK);
        }
        lock(&shared.cluster).finish_deleting(&job, &pods);
    });
    reply
}
