//! What the fake API server knows about the cluster: PersistentVolumeClaims,
//! pods with their logs, a numbered history of pod changes for watches, and
//! scripted pod timelines that start when the runai double reports a
//! submission.

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
    /// Scheduled; the container is being created (`ContainerCreating`).
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
    /// Timelines waiting for the submission of their job, by job name.
    pub armed: BTreeMap<String, (String, Timeline)>,
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
    /// tells the watches.
    pub fn set_pod(&mut self, namespace: &str, name: &str, image: &str, state: &PodState) {
        self.version += 1;
        let key = (namespace.to_owned(), name.to_owned());
        let kind = if self.pods.contains_key(&key) { "MODIFIED" } else { "ADDED" };
        let object = pod_object(namespace, name, image, state, self.version);
        let pod = self.pods.entry(key).or_insert_with(|| Pod { object: Value::Null, log: Vec::new(), log_done: false });
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
    }

    pub fn append_log(&mut self, namespace: &str, name: &str, line: &str) {
        if let Some(pod) = self.pods.get_mut(&(namespace.to_owned(), name.to_owned())) {
            pod.log.push(line.to_owned());
        }
    }
}

/// The Pod object kubectl gets for `state`: one container named `main`, as
/// run:ai creates.
fn pod_object(namespace: &str, name: &str, image: &str, state: &PodState, version: u64) -> Value {
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
        PodState::Creating => Some((waiting("ContainerCreating", None), json!({}), false)),
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
            "uid": format!("00000000-0000-0000-0000-{version:012}"),
            "creationTimestamp": "2026-01-01T12:00:00Z"
        },
        "spec": spec, "status": status
    })
}
