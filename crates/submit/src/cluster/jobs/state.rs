//! A job's state in words, from the newest pod of each of its roles.
//!
//! The phase decides whether the job is finished: a pod that waits on an
//! image or a Secret key is stuck, not failed, and `submit clean` must
//! never take it for finished. Why it waits or ended is in its status, as
//! [`pods::stage`] reads it.

use serde_json::Value;

use super::time::{span, unix_seconds};
use crate::cluster::pods::{self, Failure, Stage};

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not placed on a node; the scheduler's short reason.
    Pending {
        reason: Option<String>,
    },
    /// On a node, the image being pulled and the container created.
    Pulling,
    /// Not finished, but it will not go on by itself: the image cannot be
    /// pulled, a Secret key is missing, the command keeps crashing.
    Stuck {
        reason: String,
        exit_code: Option<i64>,
    },
    /// Running since this Unix time (when the status says).
    Running {
        since: Option<i64>,
    },
    Succeeded,
    Failed {
        exit_code: Option<i64>,
        reason: String,
    },
    /// Stopped by the scheduler for a job of higher priority.
    Preempted {
        reason: String,
    },
    /// Stopped by the kubelet or the eviction API (node pressure, drain).
    Evicted {
        reason: String,
    },
}

impl State {
    /// One word for scripts (the `state` of `submit list -o json`).
    pub fn word(&self) -> &'static str {
        match self {
            State::Pending { .. } => "pending",
            State::Pulling => "pulling",
            State::Stuck { .. } => "stuck",
            State::Running { .. } => "running",
            State::Succeeded => "succeeded",
            State::Failed { .. } => "failed",
            State::Preempted { .. } => "preempted",
            State::Evicted { .. } => "evicted",
        }
    }

    /// Why, when there is more to say than the word.
    pub fn reason(&self) -> Option<&str> {
        match self {
            State::Pending { reason } => reason.as_deref(),
            State::Stuck { reason, .. }
            | State::Failed { reason, .. }
            | State::Preempted { reason }
            | State::Evicted { reason } => Some(reason).filter(|r| !r.is_empty()).map(String::as_str),
            State::Pulling | State::Running { .. } | State::Succeeded => None,
        }
    }

    pub fn exit_code(&self) -> Option<i64> {
        match self {
            State::Stuck { exit_code, .. } | State::Failed { exit_code, .. } => *exit_code,
            _ => None,
        }
    }

    /// The job ended and will not start again by itself.
    pub fn finished(&self) -> bool {
        matches!(self, State::Succeeded | State::Failed { .. } | State::Preempted { .. } | State::Evicted { .. })
    }

    /// The state for a researcher, one line, at Unix time `now`.
    pub fn words(&self, now: i64) -> String {
        match self {
            State::Pending { reason: Some(r) } => format!("pending: {r}"),
            State::Pending { reason: None } => "pending".to_owned(),
            State::Pulling => "pulling the image".to_owned(),
            State::Stuck { reason, exit_code: Some(code) } => format!("stuck: {reason}, exit code {code}"),
            State::Stuck { reason, exit_code: None } => format!("stuck: {reason}"),
            State::Running { since: Some(t) } => format!("running for {}", span(now - t)),
            State::Running { since: None } => "running".to_owned(),
            State::Succeeded => "succeeded".to_owned(),
            State::Failed { exit_code: Some(code), reason } if !reason.is_empty() => {
                format!("failed: exit code {code}, {reason}")
            }
            State::Failed { exit_code: Some(code), .. } => format!("failed: exit code {code}"),
            State::Failed { exit_code: None, reason } if !reason.is_empty() => format!("failed: {reason}"),
            State::Failed { .. } => "failed".to_owned(),
            State::Preempted { reason } => format!("preempted ({reason})"),
            State::Evicted { reason } => format!("evicted ({reason})"),
        }
    }

    /// How far from done: the job's state is its least advanced pod's,
    /// except that one ended pod ends the job.
    fn rank(&self) -> u8 {
        match self {
            State::Failed { .. } | State::Preempted { .. } | State::Evicted { .. } => 0,
            State::Stuck { .. } => 1,
            State::Pending { .. } => 2,
            State::Pulling => 3,
            State::Running { .. } => 4,
            State::Succeeded => 5,
        }
    }
}

/// The state of a job whose current pods are `pods`.
pub fn of_job<'a>(pods: impl IntoIterator<Item = &'a Value>) -> Option<State> {
    pods.into_iter().map(of_pod).min_by_key(State::rank)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// The state of one Pod object.
pub fn of_pod(pod: &Value) -> State {
    let status = &pod["status"];
    if let Some(stopped) = disruption(status) {
        return stopped;
    }
    let phase = status["phase"].as_str().unwrap_or_default();
    match (phase, pods::stage(pod)) {
        ("Succeeded", _) | (_, Stage::Succeeded) => State::Succeeded,
        ("Failed", Stage::Failed(Failure::Exited { exit_code, reason })) => {
            State::Failed { exit_code: Some(exit_code), reason }
        }
        ("Failed", Stage::Failed(failure)) => {
            State::Failed { exit_code: pods::exit_code(pod), reason: short_failure(&failure) }
        }
        ("Failed", _) => State::Failed { exit_code: pods::exit_code(pod), reason: text(&status["reason"]) },
        (_, Stage::Failed(Failure::CrashLoop { exit_code })) => {
            State::Stuck { reason: "CrashLoopBackOff".to_owned(), exit_code }
        }
        (_, Stage::Failed(Failure::Exited { exit_code, reason })) => {
            State::Failed { exit_code: Some(exit_code), reason }
        }
        (_, Stage::Failed(failure)) => State::Stuck { reason: short_failure(&failure), exit_code: None },
        (_, Stage::Waiting { message }) => State::Pending { reason: message.as_deref().map(scheduler_reason) },
        (_, Stage::Starting { .. }) => State::Pulling,
        (_, Stage::Running { .. }) => State::Running { since: started_at(status) },
    }
}

/// Preemption and eviction, as the `DisruptionTarget` condition (Kubernetes
/// 1.26+) or the pod's `reason` says.
fn disruption(status: &Value) -> Option<State> {
    let conditions = status["conditions"].as_array().map(Vec::as_slice).unwrap_or_default();
    let target = conditions.iter().find(|c| c["type"] == "DisruptionTarget" && c["status"] == "True");
    let reason = target.map_or_else(|| text(&status["reason"]), |c| text(&c["reason"]));
    let ended = matches!(status["phase"].as_str(), Some("Failed" | "Succeeded")) || target.is_some();
    match reason.as_str() {
        "PreemptionByScheduler" | "Preempted" | "Preempting" if ended => Some(State::Preempted { reason }),
        "Evicted" | "EvictionByEvictionAPI" | "TerminationByKubelet" | "DeletionByTaintManager" if ended => {
            Some(State::Evicted { reason })
        }
        _ => None,
    }
}

/// The reason word of a failure (`ErrImagePull`, `CreateContainerConfigError`).
fn short_failure(failure: &Failure) -> String {
    match failure {
        Failure::Image { reason, .. } | Failure::Config { reason, .. } | Failure::Other { reason, .. } => {
            reason.clone()
        }
        Failure::CrashLoop { .. } => "CrashLoopBackOff".to_owned(),
        Failure::Exited { reason, .. } => reason.clone(),
    }
}

/// The scheduler's message without its node count: `0/12 nodes are
/// available: 12 Insufficient nvidia.com/gpu.` is `12 Insufficient
/// nvidia.com/gpu`.
fn scheduler_reason(message: &str) -> String {
    let short = message.split_once("available: ").map_or(message, |(_, rest)| rest);
    short.split_whitespace().collect::<Vec<_>>().join(" ").trim_end_matches('.').to_owned()
}

/// When the first running container started.
fn started_at(status: &Value) -> Option<i64> {
    let containers = status["containerStatuses"].as_array()?;
    containers.iter().find_map(|c| c["state"]["running"]["startedAt"].as_str().and_then(unix_seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(phase: &str, node: bool, extra_status: Value) -> Value {
        let mut status = json!({"phase": phase});
        for (k, v) in extra_status.as_object().into_iter().flatten() {
            status[k] = v.clone();
        }
        let mut spec = json!({"containers": [{"name": "main", "image": "img"}]});
        if node {
            spec["nodeName"] = "n1".into();
        }
        json!({"spec": spec, "status": status})
    }

    const NOW: i64 = 1_767_268_800 + 7980;

    #[test]
    fn every_phase_in_words() {
        let unschedulable = pod(
            "Pending",
            false,
            json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                   "message": "0/12 nodes are available: 12 Insufficient nvidia.com/gpu."}]}),
        );
        let pulling = pod(
            "Pending",
            true,
            json!({"containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}),
        );
        let running = pod(
            "Running",
            true,
            json!({"containerStatuses": [{"state": {"running": {"startedAt": "2026-01-01T12:00:00Z"}}}]}),
        );
        let succeeded =
            pod("Succeeded", true, json!({"containerStatuses": [{"state": {"terminated": {"exitCode": 0}}}]}));
        let failed = pod(
            "Failed",
            true,
            json!({"containerStatuses": [{"state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}),
        );
        let pull_error = pod(
            "Pending",
            true,
            json!({"containerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff", "message": "x"}}}]}),
        );
        let crash = pod(
            "Running",
            true,
            json!({"containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}},
                   "lastState": {"terminated": {"exitCode": 2}}}]}),
        );
        let preempted = pod(
            "Failed",
            true,
            json!({"conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}]}),
        );
        let evicted = pod("Failed", true, json!({"reason": "Evicted", "message": "The node was low on memory."}));
        let cases = [
            (&unschedulable, "pending: 12 Insufficient nvidia.com/gpu"),
            (&pulling, "pulling the image"),
            (&running, "running for 2h13m"),
            (&succeeded, "succeeded"),
            (&failed, "failed: exit code 137, OOMKilled"),
            (&pull_error, "stuck: ImagePullBackOff"),
            (&crash, "stuck: CrashLoopBackOff, exit code 2"),
            (&preempted, "preempted (PreemptionByScheduler)"),
            (&evicted, "evicted (Evicted)"),
        ];
        for (pod, words) in cases {
            assert_eq!(of_pod(pod).words(NOW), words, "{pod}");
        }
        let finished: Vec<bool> = cases.iter().map(|(p, _)| of_pod(p).finished()).collect();
        assert_eq!(finished, [false, false, false, true, true, false, false, true, true]);
    }

    #[test]
    fn one_ended_pod_ends_the_job_otherwise_the_least_advanced_pod_speaks() {
        let running = pod("Running", true, json!({"containerStatuses": [{"state": {"running": {}}}]}));
        let pending = pod("Pending", false, json!({}));
        let done = pod("Succeeded", true, json!({}));
        let failed = pod("Failed", true, json!({"containerStatuses": [{"state": {"terminated": {"exitCode": 1}}}]}));
        assert_eq!(of_job([&running, &pending]), Some(State::Pending { reason: None }));
        assert_eq!(of_job([&done, &running]), Some(State::Running { since: None }));
        assert_eq!(of_job([&done, &done]), Some(State::Succeeded));
        assert_eq!(of_job([&running, &failed]).map(|s| s.word()), Some("failed"));
        assert_eq!(of_job([]), None);
    }
}
