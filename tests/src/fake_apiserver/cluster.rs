//! What the fake API server knows about the cluster: PersistentVolumeClaims,
//! pods with their logs, the Events kubelet and the scheduler would record
//! about them, and numbered histories of both for watches.

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;

use serde_json::{Value, json};

use super::objects::{event_object, pod_object, transition_events};
use super::timeline::{PodState, Timeline};

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
    /// Jobs deleted through the runai double, with when their last pod went.
    pub deleted_jobs: Vec<(String, Option<std::time::SystemTime>)>,
    /// A deleted job's pods stay, terminating.
    pub keep_deleted_pods: bool,
    /// Pods (namespace, name) to remove once their namespace's pods have
    /// been listed.
    pub vanish_after_list: Vec<(String, String)>,
    /// How many times a test dropped the open port-forwards.
    pub forward_drops: u64,
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
        self.publish(namespace, name, kind, object);
        let new_pod = kind == "ADDED";
        for (kind, reason, message) in transition_events(&before, new_pod, state, namespace, name, image) {
            self.record_event(namespace, name, &kind, &reason, &message);
        }
    }

    /// Records a pod change and tells the watches.
    fn publish(&mut self, namespace: &str, name: &str, kind: &str, object: Value) {
        let event = json!({"type": kind, "object": object});
        self.history.push((self.version, namespace.to_owned(), event.clone()));
        self.watchers.retain(|(ns, filter, tx)| {
            if ns != namespace || filter.as_deref().is_some_and(|f| f != name) {
                return true;
            }
            tx.send(event.clone()).is_ok()
        });
    }

    /// Adds or replaces a pod given as a whole object (labels, environment,
    /// creation time, restarts: whatever the test writes), with its log; a
    /// `Succeeded` or `Failed` pod's log is complete. Its resourceVersion is
    /// set here.
    pub fn put_pod_object(&mut self, namespace: &str, mut object: Value, log: &[&str]) {
        self.version += 1;
        let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        object["metadata"]["namespace"] = namespace.into();
        object["metadata"]["resourceVersion"] = self.version.to_string().into();
        let key = (namespace.to_owned(), name.clone());
        let kind = if self.pods.contains_key(&key) { "MODIFIED" } else { "ADDED" };
        let done = matches!(object["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
        let uid = format!("00000000-0000-0000-0000-{:012}", self.version);
        self.pods.insert(
            key,
            Pod {
                object: object.clone(),
                state: PodState::Running,
                uid,
                log: log.iter().map(|l| (*l).to_owned()).collect(),
                log_done: done,
            },
        );
        self.publish(namespace, &name, kind, object);
    }

    /// Removes a pod, as its job's deletion does, and tells the watches.
    pub fn delete_pod(&mut self, namespace: &str, name: &str) {
        let Some(pod) = self.pods.remove(&(namespace.to_owned(), name.to_owned())) else { return };
        self.version += 1;
        self.publish(namespace, name, "DELETED", pod.object);
    }

    /// The pods of `job` (in any namespace), marked terminating, as run:ai's
    /// delete starts; returned for [`Cluster::finish_deleting`]. A pod is the
    /// job's by its `release` or `workloadName` label, or, with neither, by
    /// its name (`<job>-<i>-<j>`, `<job>-master-<i>`, `<job>-worker-<i>`).
    pub fn start_deleting(&mut self, job: &str) -> Vec<(String, String)> {
        let doomed: Vec<(String, String)> =
            self.pods.iter().filter(|(_, pod)| job_of(&pod.object) == Some(job)).map(|(key, _)| key.clone()).collect();
        for (namespace, name) in &doomed {
            self.version += 1;
            let Some(pod) = self.pods.get_mut(&(namespace.clone(), name.clone())) else { continue };
            pod.object["metadata"]["deletionTimestamp"] = "2026-01-01T13:00:00Z".into();
            pod.object["metadata"]["resourceVersion"] = self.version.to_string().into();
            let object = pod.object.clone();
            self.publish(namespace, name, "MODIFIED", object);
        }
        self.deleted_jobs.push((job.to_owned(), None));
        doomed
    }

    /// Removes the pods [`Cluster::start_deleting`] marked, unless the test
    /// keeps them.
    pub fn finish_deleting(&mut self, job: &str, pods: &[(String, String)]) {
        if self.keep_deleted_pods {
            return;
        }
        for (namespace, name) in pods {
            self.delete_pod(namespace, name);
        }
        if let Some(entry) = self.deleted_jobs.iter_mut().rev().find(|(j, _)| j == job) {
            entry.1 = Some(std::time::SystemTime::now());
        }
    }

    /// The pods to remove now that `namespace`'s pods were listed.
    pub fn take_vanishing(&mut self, namespace: &str) -> Vec<String> {
        let (now, later) = std::mem::take(&mut self.vanish_after_list).into_iter().partition(|(ns, _)| ns == namespace);
        self.vanish_after_list = later;
        now.into_iter().map(|(_, name): (String, String)| name).collect()
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

/// The job a pod belongs to: its label, else what its name says.
fn job_of(pod: &Value) -> Option<&str> {
    let labels = &pod["metadata"]["labels"];
    if let Some(job) = ["release", "workloadName"].iter().find_map(|k| labels[k].as_str()) {
        return Some(job);
    }
    let name = pod["metadata"]["name"].as_str()?;
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (rest, last) = name.rsplit_once('-')?;
    let (job, role) = rest.rsplit_once('-')?;
    (number(last) && (number(role) || role == "master" || role == "worker")).then_some(job)
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
