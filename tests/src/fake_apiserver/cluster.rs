//! What the fake API server knows about the cluster: PersistentVolumeClaims,
//! pods with their logs, the Events kubelet and the scheduler would record
//! about them, numbered histories of both for watches, and scripted pod
//! timelines that start when the runai double reports a submission.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;
use std::time::Duration;

use serde_json::{Value, json};

/// What a pod looks like at one point of its life, in the fields kubectl
/// shows (and `submit --wait` reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// Not scheduled: `PodScheduled=False`, reason `Unschedulable`, with the
    /// scheduler's message.
    Unschedulable {
        message: String,
    },
    /// Scheduled; the image is being pulled (the pod says
    /// `ContainerCreating`; only the `Pulling` Event tells).
    Pulling,
    /// Scheduled; the image is there and the container is being created
    /// (`ContainerCreating`, with a `Pulled` Event).
    Creating,
    /// Scheduled; the container waits for `reason` (`ErrImagePull`,
    /// `ImagePullBackOff`, `CreateContainerConfigError`, ...).
    Waiting {
        reason: String,
        message: String,
    },
    /// Restarted too often: `CrashLoopBackOff`, the last run ended with `exit_code`.
    CrashLoop {
        exit_code: i32,
    },
    Running,
    /// The container ended; the pod is `Succeeded` or `Failed`.
    Terminated {
        exit_code: i32,
    },
}

/// One step of a timeline, taken `after` the previous one.
#[derive(Debug, Clone)]
pub struct Step {
    pub after: Duration,
    /// The pod's name without the job name: `0-0`, `master-0`, `worker-1`.
    pub pod: String,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub enum Change {
    State(PodState),
    /// A line the container writes to its log.
    Log(String),
    /// An Event about the pod beyond those its state changes record.
    Event {
        kind: String,
        reason: String,
        message: String,
    },
}

/// A scripted life of a job's pods.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub steps: Vec<Step>,
}

impl Timeline {
    pub fn new() -> Self {
        Timeline::default()
    }

    /// Then, `after` the previous step, `pod` (`0-0`, `master-0`, ...) is in `state`.
    pub fn then(mut self, after: Duration, pod: &str, state: PodState) -> Self {
        self.steps.push(Step { after, pod: pod.to_owned(), change: Change::State(state) });
        self
    }

    /// Then an Event of `kind` (`Normal`, `Warning`) is recorded about `pod`.
    pub fn event(mut self, after: Duration, pod: &str, kind: &str, reason: &str, message: &str) -> Self {
        let change = Change::Event { kind: kind.to_owned(), reason: reason.to_owned(), message: message.to_owned() };
        self.steps.push(Step { after, pod: pod.to_owned(), change });
        self
    }

    /// Then `pod` writes `line` to its log.
    pub fn log(mut self, after: Duration, pod: &str, line: &str) -> Self {
        self.steps.push(Step { after, pod: pod.to_owned(), change: Change::Log(line.to_owned()) });
        self
    }
}

/// The node every scheduled pod lands on.
pub const NODE: &str = "gpu-node-7";

#[derive(Debug)]
pub(super) struct Pod {
    pub object: Value,
    pub state: PodState,
    /// Kept for the pod's life, as Events name it.
    pub uid: String,
    pub log: Vec<String>,
    /// The container has ended: a followed log ends here.
    pub log_done: bool,
}

/// The cluster's state. Changes to pods are numbered (the resourceVersion)
/// and kept, so that a watch started from a list's resourceVersion misses
/// nothing that happened in between.
#[derive(Debug, Default)]
pub(super) struct Cluster {
    /// (namespace, name)
    pub pvcs: Vec<(String, String)>,
    /// By (namespace, name).
    pub pods: BTreeMap<(String, String), Pod>,
    pub version: u64,
    /// Every pod change: (resourceVersion, namespace, watch event).
    pub history: Vec<(u64, String, Value)>,
    /// Open watches: their namespace, name filter and channel.
    pub watchers: Vec<(String, Option<String>, Sender<Value>)>,
    /// Every Event: (resourceVersion, namespace, watch event).
    pub events: Vec<(u64, String, Value)>,
    /// Open watches of Events: their namespace, field selector and channel.
    pub event_watchers: Vec<(String, Selector, Sender<Value>)>,
    /// Answer 403 to any request for Events, as a cluster whose RBAC does
    /// not let the user list them.
    pub forbid_events: bool,
    /// Timelines waiting for the submission of their job, by job name.
    pub armed: BTreeMap<String, (String, Timeline)>,
    /// Secrets as applied, by (namespace, name).
    pub secrets: BTreeMap<(String, String), Value>,
    /// Answer 401 to every request, as a server that takes no login.
    pub refuse_login: bool,
    /// Namespaces where every request is answered 403.
    pub forbidden_namespaces: Vec<String>,
}

impl Cluster {
    pub fn pvc_list(&self, namespace: &str) -> Value {
        let items: Vec<Value> = self
            .pvcs
            .iter()
            .filter(|(ns, _)| ns == namespace)
            .map(|(ns, name)| {
                json!({
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"},
                    "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "1Ti"}}},
                    "status": {"phase": "Bound"}
                })
            })
            .collect();
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaimList", "metadata": {"resourceVersion": "1"}, "items": items})
    }

    /// What a request in `namespace` is refused with, if the cluster
    /// refuses it whatever it asks: 401 when no login is taken, 403 in a
    /// forbidden namespace. (code, reason, message)
    pub fn refusal(&self, namespace: Option<&str>) -> Option<(u16, &'static str, String)> {
        if self.refuse_login {
            return Some((401, "Unauthorized", "Unauthorized".to_owned()));
        }
        let namespace = namespace.filter(|ns| self.forbidden_namespaces.iter().any(|f| f == ns))?;
        Some((
            403,
            "Forbidden",
            format!("User \"ada\" cannot list resources in API group \"\" in the namespace \"{namespace}\""),
        ))
    }

    pub fn pod_list(&self, namespace: &str, name: Option<&str>) -> Value {
        let items: Vec<Value> = self
            .pods
            .iter()
            .filter(|((ns, n), _)| ns == namespace && name.is_none_or(|want| want == n))
            .map(|(_, pod)| pod.object.clone())
            .collect();
        json!({
            "apiVersion": "v1", "kind": "PodList",
            "metadata": {"resourceVersion": self.version.to_string()}, "items": items
        })
    }

    /// Sets `name`'s state (creating the pod if new), records the change and
    /// the Events it brings, and tells the watches.
    pub fn set_pod(&mut self, namespace: &str, name: &str, image: &str, state: &PodState) {
        self.version += 1;
        let key = (namespace.to_owned(), name.to_owned());
        let kind = if self.pods.contains_key(&key) { "MODIFIED" } else { "ADDED" };
        let uid = format!("00000000-0000-0000-0000-{:012}", self.version);
        let pod = self.pods.entry(key).or_insert_with(|| Pod {
            object: Value::Null,
            state: PodState::Unschedulable { message: String::new() },
            uid,
            log: Vec::new(),
            log_done: false,
        });
        let before = std::mem::replace(&mut pod.state, state.clone());
        let uid = pod.uid.clone();
        let object = pod_object(namespace, name, image, state, self.version, &uid);
        pod.object = object.clone();
        pod.log_done = matches!(state, PodState::Terminated { .. } | PodState::CrashLoop { .. });
        let event = json!({"type": kind, "object": object});
        self.history.push((self.version, namespace.to_owned(), event.clone()));
        self.watchers.retain(|(ns, filter, tx)| {
            if ns != namespace || filter.as_deref().is_some_and(|f| f != name) {
                return true;
            }
            tx.send(event.clone()).is_ok()
        });
        let new_pod = kind == "ADDED";
        for (kind, reason, message) in transition_events(&before, new_pod, state, namespace, name, image) {
            self.record_event(namespace, name, &kind, &reason, &message);
        }
    }

    /// Records an Event about the pod `name` (which must exist) and tells
    /// the watches of Events.
    pub fn record_event(&mut self, namespace: &str, name: &str, kind: &str, reason: &str, message: &str) {
        let Some(pod) = self.pods.get(&(namespace.to_owned(), name.to_owned())) else { return };
        self.version += 1;
        let object = event_object(namespace, name, &pod.uid, kind, reason, message, self.version);
        let event = json!({"type": "ADDED", "object": object});
        self.events.push((self.version, namespace.to_owned(), event.clone()));
        self.event_watchers.retain(|(ns, selector, tx)| {
            if ns != namespace || !selector.matches(&event["object"]) {
                return true;
            }
            tx.send(event.clone()).is_ok()
        });
    }

    pub fn event_list(&self, namespace: &str, selector: &Selector) -> Value {
        let items: Vec<Value> = self
            .events
            .iter()
            .filter(|(_, ns, e)| ns == namespace && selector.matches(&e["object"]))
            .map(|(_, _, e)| e["object"].clone())
            .collect();
        json!({
            "apiVersion": "v1", "kind": "EventList",
            "metadata": {"resourceVersion": self.version.to_string()}, "items": items
        })
    }

    pub fn append_log(&mut self, namespace: &str, name: &str, line: &str) {
        if let Some(pod) = self.pods.get_mut(&(namespace.to_owned(), name.to_owned())) {
            pod.log.push(line.to_owned());
        }
    }
}

/// The Pod object kubectl gets for `state`: one container named `main`, as
/// run:ai creates.
fn pod_object(namespace: &str, name: &str, image: &str, state: &PodState, version: u64, uid: &str) -> Value {
    let scheduled = !matches!(state, PodState::Unschedulable { .. });
    let mut status = json!({"phase": "Pending", "qosClass": "Burstable"});
    status["conditions"] = match state {
        PodState::Unschedulable { message } => json!([{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastTransitionTime": "2026-01-01T12:00:00Z"
        }]),
        _ => json!([{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-01-01T12:00:00Z"}]),
    };
    let waiting = |reason: &str, message: Option<&str>| {
        let mut w = json!({"reason": reason});
        if let Some(m) = message {
            w["message"] = m.into();
        }
        json!({"waiting": w})
    };
    let terminated = |code: i32| {
        json!({"terminated": {
            "exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
            "startedAt": "2026-01-01T12:00:05Z", "finishedAt": "2026-01-01T12:00:09Z"
        }})
    };
    let container_state = match state {
        PodState::Unschedulable { .. } => None,
        PodState::Pulling | PodState::Creating => Some((waiting("ContainerCreating", None), json!({}), false)),
        PodState::Waiting { reason, message } => Some((waiting(reason, Some(message)), json!({}), false)),
        PodState::CrashLoop { exit_code } => Some((
            waiting("CrashLoopBackOff", Some("back-off 40s restarting failed container=main")),
            terminated(*exit_code),
            false,
        )),
        PodState::Running => {
            status["phase"] = "Running".into();
            Some((json!({"running": {"startedAt": "2026-01-01T12:00:05Z"}}), json!({}), true))
        }
        PodState::Terminated { exit_code } => {
            status["phase"] = if *exit_code == 0 { "Succeeded" } else { "Failed" }.into();
            Some((terminated(*exit_code), json!({}), false))
        }
    };
    if let Some((state, last, ready)) = container_state {
        status["containerStatuses"] = json!([{
            "name": "main", "image": image, "imageID": "", "ready": ready, "restartCount": 0,
            "started": ready, "state": state, "lastState": last
        }]);
    }
    if scheduled {
        status["hostIP"] = "10.0.0.7".into();
    }
    let mut spec = json!({
        "containers": [{"name": "main", "image": image}],
        "restartPolicy": "Never", "schedulerName": "runai-scheduler"
    });
    if scheduled {
        spec["nodeName"] = NODE.into();
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": namespace, "resourceVersion": version.to_string(),
            "uid": uid,
            "creationTimestamp": "2026-01-01T12:00:00Z"
        },
        "spec": spec, "status": status
    })
}

/// A field selector (`a.b=v,c=w`, as kubectl sends it): every field named
/// must have that value.
#[derive(Debug, Clone, Default)]
pub(super) struct Selector(Vec<(String, String)>);

impl Selector {
    pub fn parse(text: &str) -> Self {
        let pairs = text
            .split(',')
            .filter_map(|term| term.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_start_matches('=').to_owned()))
            .collect();
        Selector(pairs)
    }

    pub fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, want)| {
            let field = path.split('.').fold(object, |v, key| &v[key]);
            field.as_str() == Some(want.as_str())
        })
    }
}

/// The Events the scheduler and kubelet record when a pod goes from
/// `before` to `after`: (type, reason, message).
fn transition_events(
    before: &PodState,
    new_pod: bool,
    after: &PodState,
    namespace: &str,
    name: &str,
    image: &str,
) -> Vec<(String, String, String)> {
    let event = |kind: &str, reason: &str, message: String| (kind.to_owned(), reason.to_owned(), message);
    let was_scheduled = !new_pod && !matches!(before, PodState::Unschedulable { .. });
    let mut events = Vec::new();
    if let PodState::Unschedulable { message } = after {
        events.push(event("Warning", "FailedScheduling", message.clone()));
        return events;
    }
    if !was_scheduled {
        events.push(event("Normal", "Scheduled", format!("Successfully assigned {namespace}/{name} to {NODE}")));
    }
    match after {
        PodState::Unschedulable { .. } | PodState::Terminated { .. } => {}
        PodState::Pulling => events.push(event("Normal", "Pulling", format!("Pulling image \"{image}\""))),
        PodState::Creating => events.push(match before {
            PodState::Pulling => event(
                "Normal",
                "Pulled",
                format!("Successfully pulled image \"{image}\" in 1.204s (1.204s including waiting)"),
            ),
            _ => event("Normal", "Pulled", format!("Container image \"{image}\" already present on machine")),
        }),
        PodState::Waiting { reason, message } => match reason.as_str() {
            "ErrImagePull" => {
                events.push(event("Warning", "Failed", format!("Failed to pull image \"{image}\": {message}")));
                events.push(event("Warning", "Failed", "Error: ErrImagePull".to_owned()));
            }
            "ImagePullBackOff" => {
                events.push(event("Normal", "BackOff", format!("Back-off pulling image \"{image}\"")));
                events.push(event("Warning", "Failed", "Error: ImagePullBackOff".to_owned()));
            }
            _ => events.push(event("Warning", "Failed", format!("Error: {message}"))),
        },
        PodState::CrashLoop { .. } => events.push(event(
            "Warning",
            "BackOff",
            format!("Back-off restarting failed container main in pod {name}_{namespace}"),
        )),
        PodState::Running => {
            events.push(event("Normal", "Created", "Created container: main".to_owned()));
            events.push(event("Normal", "Started", "Started container main".to_owned()));
        }
    }
    events
}

/// A core/v1 Event about the pod `name`, as `kubectl get events -o json` shows it.
fn event_object(
    namespace: &str,
    name: &str,
    uid: &str,
    kind: &str,
    reason: &str,
    message: &str,
    version: u64,
) -> Value {
    let component = match reason {
        "Scheduled" | "FailedScheduling" => "runai-scheduler",
        _ => "kubelet",
    };
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {
            "name": format!("{name}.{version:016x}"), "namespace": namespace,
            "resourceVersion": version.to_string(), "creationTimestamp": "2026-01-01T12:00:00Z"
        },
        "involvedObject": {
            "apiVersion": "v1", "kind": "Pod", "name": name, "namespace": namespace, "uid": uid,
            "fieldPath": "spec.containers{main}"
        },
        "reason": reason, "message": message, "type": kind, "count": 1,
        "source": {"component": component, "host": NODE},
        "firstTimestamp": "2026-01-01T12:00:00Z", "lastTimestamp": "2026-01-01T12:00:00Z",
        "reportingComponent": component, "reportingInstance": NODE
    })
}
