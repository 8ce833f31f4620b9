//! The namespace's jobs, from one `kubectl get pods -o json`: pods grouped
//! by job, the newest pod of each role read, the state, kind, GPUs and node
//! of each job said the way `submit list` shows them.
//!
//! A pod's job is the `release` label the v1 chart puts on it, else the
//! `workloadName` label of v2, else what its name says ([`pods::split_name`]):
//! jobs that `csub.py` submitted are found too. When a role has several pods
//! (a pod recreated after preemption next to the old failed one), the newest
//! by `creationTimestamp` is the job's; the older ones count as restarts.

pub mod state;
pub mod sweep;
pub mod time;

use std::collections::BTreeMap;

use common::env::EnvVars;
use common::job_kind::JobKind;
use serde_json::{Value, json};

use crate::cluster::pods::{self, Role};
pub use state::State;
pub use sweep::Membership;

/// One job of the namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub name: String,
    /// What `submit` wrote into the pod; for other jobs, distributed when
    /// its pods are named so, otherwise not known.
    pub kind: Option<JobKind>,
    pub state: State,
    /// GPUs the current pods request (fractions as run:ai annotates them).
    pub gpus: f64,
    /// The node of the pod to read (the master's, or the only pod's).
    pub node: Option<String>,
    /// The current pod of each role, the one to read first.
    pub pods: Vec<String>,
    /// The earliest `creationTimestamp` of the current pods, as written and
    /// as Unix seconds.
    pub created: String,
    pub created_unix: i64,
    /// Container restarts of the current pods plus the pods they replaced.
    pub restarts: u64,
    /// The sweep the job is a point of, as its pod's `NB_SWEEP_*` say.
    pub sweep: Option<Membership>,
}

impl Job {
    /// The pod whose log and shell are the job's: the master's, or the
    /// only one's, else the first.
    pub fn main_pod(&self) -> &str {
        self.pods.first().map_or("", String::as_str)
    }

    /// The job as one object of `submit list -o json`.
    pub fn to_json(&self) -> Value {
        let (kind, nodes) = match self.kind {
            Some(JobKind::Interactive) => (Some("interactive"), 1),
            Some(JobKind::Train) => (Some("train"), 1),
            Some(JobKind::Distributed { nodes }) => (Some("distributed"), nodes),
            None => (None, u32::try_from(self.pods.len()).unwrap_or(u32::MAX)),
        };
        json!({
            "name": self.name, "kind": kind, "nodes": nodes, "state": self.state.word(),
            "reason": self.state.reason(), "exit_code": self.state.exit_code(), "gpus": self.gpus,
            "node": self.node, "pods": self.pods, "created": self.created, "restarts": self.restarts,
            "sweep": self.sweep.as_ref().map(|s| &s.sweep), "sweep_index": self.sweep.as_ref().and_then(|s| s.index),
            "sweep_size": self.sweep.as_ref().and_then(|s| s.size),
            "sweep_point": self.sweep.as_ref().and_then(|s| s.point.as_deref()),
        })
    }
}

/// The job and role of a pod: labels first, then its name.
fn job_and_role(pod: &Value) -> Option<(String, Role)> {
    let name = pod["metadata"]["name"].as_str()?;
    let labels = &pod["metadata"]["labels"];
    let by_name = pods::split_name(name);
    let label = ["release", "workloadName"].iter().find_map(|key| labels[key].as_str().filter(|v| !v.is_empty()));
    match (label, by_name) {
        (Some(job), Some((_, role))) => Some((job.to_owned(), role)),
        (Some(job), None) => Some((job.to_owned(), Role::Main)),
        (None, Some((job, role))) => Some((job.to_owned(), role)),
        (None, None) => None,
    }
}

fn created(pod: &Value) -> (i64, &str) {
    let text = pod["metadata"]["creationTimestamp"].as_str().unwrap_or_default();
    (time::unix_seconds(text).unwrap_or(0), text)
}

/// The jobs of a `PodList` (or a `List` of pods), newest first, then by name.
pub fn from_pod_list(list: &Value) -> Vec<Job> {
    let items = list["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut by_job: BTreeMap<String, BTreeMap<Role, Vec<&Value>>> = BTreeMap::new();
    for pod in items.iter().filter(|p| p["kind"].as_str().is_none_or(|k| k == "Pod")) {
        if let Some((job, role)) = job_and_role(pod) {
            by_job.entry(job).or_default().entry(role).or_default().push(pod);
        }
    }
    let mut jobs: Vec<Job> = by_job.into_iter().filter_map(|(name, roles)| job(name, roles)).collect();
    jobs.sort_by(|a, b| b.created_unix.cmp(&a.created_unix).then_with(|| a.name.cmp(&b.name)));
    jobs
}

/// The job named `name` in `list`, if it has pods.
pub fn find(list: &Value, name: &str) -> Option<Job> {
    from_pod_list(list).into_iter().find(|j| j.name == name)
}

/// Every pod of the job `name` in `list`, the replaced ones too, in the
/// list's order: what is kept of a job before it is deleted.
pub fn pods_of<'a>(list: &'a Value, name: &str) -> Vec<&'a Value> {
    let items = list["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    items.iter().filter(|p| p["kind"].as_str().is_none_or(|k| k == "Pod")).filter(|p| is_pod_of(p, name)).collect()
}

/// Whether `pod` is one of the job `name`'s, by its labels, else its name.
pub fn is_pod_of(pod: &Value, name: &str) -> bool {
    job_and_role(pod).is_some_and(|(job, _)| job == name)
}

fn job(name: String, roles: BTreeMap<Role, Vec<&Value>>) -> Option<Job> {
    let mut replaced = 0u64;
    let mut current: Vec<&Value> = Vec::new();
    for (_, mut pods) in roles {
        pods.sort_by_key(|p| created(p).0);
        replaced += pods.len() as u64 - 1;
        current.extend(pods.last());
    }
    let main = *current.first()?;
    let state = state::of_job(current.iter().copied())?;
    let earliest = current.iter().map(|p| created(p)).min_by_key(|(t, _)| *t).unwrap_or((0, ""));
    let restarts: u64 = current
        .iter()
        .flat_map(|p| p["status"]["containerStatuses"].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["restartCount"].as_u64())
        .sum();
    let distributed = current.len() > 1 || !matches!(job_and_role(main), Some((_, Role::Main)));
    let kind = kind_from_env(main).or_else(|| {
        distributed.then(|| JobKind::Distributed { nodes: u32::try_from(current.len()).unwrap_or(u32::MAX) })
    });
    Some(Job {
        name,
        kind,
        state,
        gpus: current.iter().map(|p| gpus(p)).sum(),
        node: main["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()).map(str::to_owned),
        pods: current.iter().filter_map(|p| p["metadata"]["name"].as_str()).map(str::to_owned).collect(),
        created: earliest.1.to_owned(),
        created_unix: earliest.0,
        restarts: restarts + replaced,
        sweep: Membership::of_pod(main),
    })
}

/// The value of the variable `name` in the pod's first container, as
/// `submit` put it there.
fn env_value<'a>(pod: &'a Value, name: &str) -> Option<&'a str> {
    let env = pod["spec"]["containers"][0]["env"].as_array()?;
    env.iter().find(|e| e["name"] == name)?["value"].as_str()
}

/// `NB_JOB_KIND` from the pod's first container.
fn kind_from_env(pod: &Value) -> Option<JobKind> {
    JobKind::parse(env_value(pod, EnvVars::NB_JOB_KIND)?)
}

/// The GPUs a pod asks for: run:ai's `gpu-fraction` annotation, else the
/// `nvidia.com/gpu` limits of its containers.
fn gpus(pod: &Value) -> f64 {
    let annotations = &pod["metadata"]["annotations"];
    if let Some(fraction) = annotations["gpu-fraction"].as_str().and_then(|f| f.parse::<f64>().ok()) {
        return fraction;
    }
    let containers = pod["spec"]["containers"].as_array().map(Vec::as_slice).unwrap_or_default();
    containers
        .iter()
        .filter_map(|c| {
            let limit = &c["resources"]["limits"]["nvidia.com/gpu"];
            limit.as_str().and_then(|v| v.parse::<f64>().ok()).or_else(|| limit.as_f64())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, labels: Value, created: &str, phase: &str, extra: Value) -> Value {
        let mut p = json!({
            "kind": "Pod",
            "metadata": {"name": name, "labels": labels, "creationTimestamp": created},
            "spec": {"nodeName": "n1", "containers": [{"name": "main", "image": "img",
                     "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
            "status": {"phase": phase, "containerStatuses": [{"restartCount": 0, "state":
                if phase == "Running" { json!({"running": {}}) }
                else if phase == "Failed" { json!({"terminated": {"exitCode": 1}}) }
                else { json!({"terminated": {"exitCode": 0}}) }}]},
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            p["spec"]["containers"][0][k] = v.clone();
        }
        p
    }

    fn list(items: Vec<Value>) -> Value {
        json!({"kind": "PodList", "items": items})
    }

    #[test]
    fn pods_group_by_label_then_by_name_newest_job_first() {
        let kind = |k: &str| json!({"env": [{"name": "NB_JOB_KIND", "value": k}]});
        let jobs = from_pod_list(&list(vec![
            pod("old-0-0", json!({}), "2026-01-01T10:00:00Z", "Succeeded", json!({})),
            pod("v1job-0-0", json!({"release": "v1job"}), "2026-01-01T11:00:00Z", "Running", kind("train")),
            pod("v2-pod-xyz", json!({"workloadName": "v2job"}), "2026-01-01T12:00:00Z", "Running", kind("interactive")),
            pod("dist-master-0", json!({}), "2026-01-01T09:00:00Z", "Running", kind("distributed:3")),
            pod("dist-worker-0", json!({}), "2026-01-01T09:00:01Z", "Running", json!({})),
            pod("dist-worker-1", json!({}), "2026-01-01T09:00:01Z", "Running", json!({})),
            pod("csub-master-0", json!({}), "2026-01-01T08:00:00Z", "Running", json!({})),
            pod("csub-worker-0", json!({}), "2026-01-01T08:00:00Z", "Running", json!({})),
            pod("not-a-job-pod", json!({}), "2026-01-01T13:00:00Z", "Running", json!({})),
        ]));
        let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["v2job", "v1job", "old", "dist", "csub"]);
        let kinds: Vec<Option<JobKind>> = jobs.iter().map(|j| j.kind).collect();
        assert_eq!(
            kinds,
            [
                Some(JobKind::Interactive),
                Some(JobKind::Train),
                None,
                Some(JobKind::Distributed { nodes: 3 }),
                Some(JobKind::Distributed { nodes: 2 })
            ]
        );
        let dist = &jobs[3];
        assert_eq!(dist.pods, ["dist-master-0", "dist-worker-0", "dist-worker-1"]);
        assert_eq!((dist.main_pod(), dist.gpus, dist.node.as_deref()), ("dist-master-0", 3.0, Some("n1")));
        assert_eq!(dist.created, "2026-01-01T09:00:00Z");
    }

    #[test]
    fn the_newest_pod_of_a_role_speaks_and_the_older_count_as_restarts() {
        let jobs = from_pod_list(&list(vec![
            pod("j-0-0", json!({}), "2026-01-01T10:00:00Z", "Failed", json!({})),
            pod("j-1-0", json!({}), "2026-01-01T11:00:00Z", "Running", json!({})),
        ]));
        assert_eq!(jobs.len(), 1);
        assert_eq!((jobs[0].main_pod(), jobs[0].state.word(), jobs[0].restarts), ("j-1-0", "running", 1));
        let all = list(vec![
            pod("j-0-0", json!({}), "2026-01-01T10:00:00Z", "Failed", json!({})),
            pod("j-1-0", json!({}), "2026-01-01T11:00:00Z", "Running", json!({})),
            pod("j-1-0-0", json!({}), "2026-01-01T11:00:00Z", "Running", json!({})),
        ]);
        let names: Vec<&str> = pods_of(&all, "j").iter().filter_map(|p| p["metadata"]["name"].as_str()).collect();
        assert_eq!(names, ["j-0-0", "j-1-0"]);
    }

    #[test]
    fn the_json_object_has_every_documented_field() {
        let mut p = pod("j-0-0", json!({}), "2026-01-01T10:00:00Z", "Failed", json!({}));
        p["metadata"]["annotations"] = json!({"gpu-fraction": "0.5"});
        let job = find(&list(vec![p]), "j").unwrap();
        assert_eq!(
            job.to_json(),
            json!({"name": "j", "kind": null, "nodes": 1, "state": "failed", "reason": null, "exit_code": 1,
                   "gpus": 0.5, "node": "n1", "pods": ["j-0-0"], "created": "2026-01-01T10:00:00Z", "restarts": 0,
                   "sweep": null, "sweep_index": null, "sweep_size": null, "sweep_point": null})
        );
        assert_eq!(find(&list(vec![]), "j"), None);
    }

    #[test]
    fn odd_lists_do_not_panic() {
        for v in [json!(null), json!({"items": [1, null, {"metadata": {"name": 3}}]}), json!({"items": "x"})] {
            assert!(from_pod_list(&v).is_empty());
        }
    }
}
