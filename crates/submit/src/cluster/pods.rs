//! A job's pods as kubectl shows them, read into what a researcher wants to
//! know: where the pod is on its way to running, and if it cannot get
//! there, why.
//!
//! run:ai does not document how it names pods; lab guides address them as
//! `<job>-0-0` (interactive and training jobs) and `<job>-master-0`,
//! `<job>-worker-<i>` (distributed PyTorch). Those names are read here and
//! nowhere else ([`split_name`]); the listing of jobs reads the labels
//! first, which differ between run:ai versions (`jobs`).

use serde_json::Value;

/// The names of the pods a job of `workers` workers gets.
pub fn expected_pods(job: &str, workers: u32) -> Vec<String> {
    if workers == 0 {
        return vec![format!("{job}-0-0")];
    }
    std::iter::once(format!("{job}-master-0")).chain((0..workers).map(|i| format!("{job}-worker-{i}"))).collect()
}

/// A pod's place in its job, as its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// `<job>-<n>-<n>`: the one pod of an interactive or training job.
    Main,
    /// `<job>-master-<n>`.
    Master,
    /// `<job>-worker-<i>`.
    Worker(u32),
}

/// The job and role a pod's name says: `<job>-<n>-<n>`, `<job>-master-<n>`
/// or `<job>-worker-<n>`, read from the end, so that `j-1-0-0` is a pod of
/// `j-1`. `None` for any other name.
pub fn split_name(pod: &str) -> Option<(&str, Role)> {
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (rest, last) = pod.rsplit_once('-')?;
    let (job, before) = rest.rsplit_once('-')?;
    if job.is_empty() || !number(last) {
        return None;
    }
    let role = match before {
        "master" => Role::Master,
        "worker" => Role::Worker(last.parse().ok()?),
        n if number(n) => Role::Main,
        _ => return None,
    };
    Some((job, role))
}

/// Whether `pod` is named as a pod of `job` ([`split_name`]). A longer job
/// name that starts with `job` does not match (`job-1-0-0` is a pod of
/// `job-1`, not of `job`).
pub fn belongs_to(job: &str, pod: &str) -> bool {
    split_name(pod).is_some_and(|(j, _)| j == job)
}

/// Why a pod cannot start (or has stopped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `ErrImagePull`, `ImagePullBackOff`, `InvalidImageName`, ...
    Image { image: String, reason: String, message: String },
    /// `CreateContainerConfigError` and its kin: most often a Secret key
    /// the job reads that the Secret does not have.
    Config { reason: String, message: String },
    /// `CrashLoopBackOff`: the command keeps failing.
    CrashLoop { exit_code: Option<i64> },
    /// The container ended with a non-zero code.
    Exited { exit_code: i64, reason: String },
    /// Failed for another reason (evicted, deleted, ...).
    Other { reason: String, message: String },
}

/// Where a pod is on its way to running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Not placed on a node yet; the scheduler's message if it gave one.
    Waiting {
        message: Option<String>,
    },
    /// On a node: the image is pulled and the container created, which
    /// the status does not tell apart (the pod's Events do: `events`).
    Starting {
        node: String,
        image: String,
    },
    Running {
        node: String,
    },
    /// The container ended with 0.
    Succeeded,
    Failed(Failure),
}

impl Stage {
    /// The stage in a researcher's words, one line.
    pub fn words(&self) -> String {
        match self {
            Stage::Waiting { message: Some(m) } => format!("Pending, waiting for a node: {}", one_line(m)),
            Stage::Waiting { message: None } => "Pending, waiting to be scheduled".to_owned(),
            Stage::Starting { node, image } => {
                format!("scheduled on {node}: pulling the image {image} and creating the container")
            }
            Stage::Running { node } => format!("Running on {node}"),
            Stage::Succeeded => "finished (exit code 0)".to_owned(),
            Stage::Failed(f) => f.words(),
        }
    }
}

impl Failure {
    pub fn words(&self) -> String {
        match self {
            Failure::Image { image, reason, message } => {
                format!("cannot pull the image {image} ({reason}): {}", one_line(message))
            }
            Failure::Config { reason, message } => match missing_secret_key(message) {
                Some((key, secret)) => format!(
                    "cannot create the container ({reason}): the Secret {secret} has no key {key}, which the job \
                     reads; set {key} in your .env and submit again (each submission syncs the Secret)"
                ),
                None => format!("cannot create the container ({reason}): {}", one_line(message)),
            },
            Failure::CrashLoop { exit_code: Some(code) } => {
                format!("the command keeps failing (CrashLoopBackOff, last exit code {code})")
            }
            Failure::CrashLoop { exit_code: None } => "the command keeps failing (CrashLoopBackOff)".to_owned(),
            Failure::Exited { exit_code, reason } => format!("the command ended with exit code {exit_code} ({reason})"),
            Failure::Other { reason, message } if message.is_empty() => format!("failed ({reason})"),
            Failure::Other { reason, message } => format!("failed ({reason}): {}", one_line(message)),
        }
    }

    /// Whether the pod's log explains the failure (the command ran).
    pub fn has_log(&self) -> bool {
        matches!(self, Failure::CrashLoop { .. } | Failure::Exited { .. })
    }
}

/// The key and Secret of kubelet's "couldn't find key K in Secret NS/NAME".
pub fn missing_secret_key(message: &str) -> Option<(&str, &str)> {
    let rest = &message[message.find("couldn't find key ")? + "couldn't find key ".len()..];
    let (key, rest) = rest.split_once(" in Secret ")?;
    let secret = rest.split_whitespace().next()?;
    Some((key, secret.rsplit('/').next().unwrap_or(secret)))
}

/// Kubernetes messages may span lines; a progress line may not.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const IMAGE_REASONS: [&str; 5] =
    ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable"];
const CONFIG_REASONS: [&str; 3] = ["CreateContainerConfigError", "CreateContainerError", "RunContainerError"];

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// Whether a container of the pod has run (is running, or ended now or
/// before a restart): then kubelet has a log of it.
pub fn has_run(pod: &Value) -> bool {
    pod["status"]["containerStatuses"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| {
            c["state"].get("running").is_some()
                || c["state"].get("terminated").is_some()
                || c["lastState"].get("terminated").is_some()
        })
    })
}

/// Reads a Pod object (as `kubectl get -o json` prints it).
pub fn stage(pod: &Value) -> Stage {
    let status = &pod["status"];
    let node = text(&pod["spec"]["nodeName"]);
    let image = text(&pod["spec"]["containers"][0]["image"]);
    // The first container that is not fine decides: the pods run:ai makes
    // have one.
    let containers = status["containerStatuses"].as_array().cloned().unwrap_or_default();
    for c in &containers {
        let state = &c["state"];
        if let Some(w) = state.get("waiting") {
            let reason = text(&w["reason"]);
            let message = text(&w["message"]);
            let image = c["image"].as_str().map_or_else(|| image.clone(), str::to_owned);
            if IMAGE_REASONS.contains(&reason.as_str()) {
                return Stage::Failed(Failure::Image { image, reason, message });
            }
            if CONFIG_REASONS.contains(&reason.as_str()) {
                return Stage::Failed(Failure::Config { reason, message });
            }
            if reason == "CrashLoopBackOff" {
                return Stage::Failed(Failure::CrashLoop {
                    exit_code: c["lastState"]["terminated"]["exitCode"].as_i64(),
                });
            }
        }
        if let Some(t) = state.get("terminated") {
            let exit_code = t["exitCode"].as_i64().unwrap_or(-1);
            if exit_code != 0 {
                return Stage::Failed(Failure::Exited { exit_code, reason: text(&t["reason"]) });
            }
        }
    }
    match status["phase"].as_str().unwrap_or_default() {
        "Running" if containers.iter().all(|c| c["state"].get("running").is_some()) => Stage::Running { node },
        "Succeeded" => Stage::Succeeded,
        "Failed" => {
            Stage::Failed(Failure::Other { reason: text(&status["reason"]), message: text(&status["message"]) })
        }
        _ if node.is_empty() => {
            let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
            let message = conditions
                .iter()
                .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
                .and_then(|c| c["message"].as_str())
                .map(str::to_owned);
            Stage::Waiting { message }
        }
        _ => Stage::Starting { node, image },
    }
}

/// The exit code of a pod's ended container, if it ended.
pub fn exit_code(pod: &Value) -> Option<i64> {
    let containers = pod["status"]["containerStatuses"].as_array()?;
    containers.iter().find_map(|c| c["state"]["terminated"]["exitCode"].as_i64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_names_follow_the_job_kind() {
        assert_eq!(expected_pods("j", 0), ["j-0-0"]);
        assert_eq!(expected_pods("j", 2), ["j-master-0", "j-worker-0", "j-worker-1"]);
    }

    #[test]
    fn only_pods_of_that_exact_job_belong_to_it() {
        for pod in ["j-0-0", "j-1-0", "j-master-0", "j-worker-12"] {
            assert!(belongs_to("j", pod), "{pod}");
        }
        for pod in ["j-1-0-0", "j-0", "jj-0-0", "j-master-x", "j-", "j-worker-", "k-0-0", "j-launcher-0"] {
            assert!(!belongs_to("j", pod), "{pod}");
        }
    }

    #[test]
    fn a_pods_name_says_its_job_and_role() {
        assert_eq!(split_name("j-0-0"), Some(("j", Role::Main)));
        assert_eq!(split_name("j-1-0-0"), Some(("j-1", Role::Main)));
        assert_eq!(split_name("a-b-master-0"), Some(("a-b", Role::Master)));
        assert_eq!(split_name("a-worker-12"), Some(("a", Role::Worker(12))));
        for other in ["j", "j-0", "-0-0", "j-x-0", "j-master-", "j-launcher-0", "j-worker-99999999999"] {
            assert_eq!(split_name(other), None, "{other}");
        }
    }

    fn pod(phase: &str, node: Option<&str>, conditions: Value, containers: Value) -> Value {
        let mut spec = json!({"containers": [{"name": "main", "image": "reg/img:1"}]});
        if let Some(n) = node {
            spec["nodeName"] = n.into();
        }
        json!({"spec": spec, "status": {"phase": phase, "conditions": conditions, "containerStatuses": containers}})
    }

    #[test]
    fn an_unschedulable_pod_carries_the_schedulers_message() {
        let msg = "0/12 nodes are available: 12 Insufficient nvidia.com/gpu.";
        let p = pod(
            "Pending",
            None,
            json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg}]),
            Value::Null,
        );
        assert_eq!(stage(&p).words(), format!("Pending, waiting for a node: {msg}"));
    }

    #[test]
    fn a_scheduled_pod_is_starting_then_running() {
        let creating =
            pod("Pending", Some("n1"), json!([]), json!([{"state": {"waiting": {"reason": "ContainerCreating"}}}]));
        assert_eq!(stage(&creating), Stage::Starting { node: "n1".into(), image: "reg/img:1".into() });
        let running = pod("Running", Some("n1"), json!([]), json!([{"state": {"running": {}}}]));
        assert_eq!(stage(&running).words(), "Running on n1");
    }

    #[test]
    fn failures_say_why() {
        let pull = pod(
            "Pending",
            Some("n1"),
            json!([]),
            json!([{"image": "reg/nope:1", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image \"reg/nope:1\""}}}]),
        );
        assert_eq!(
            stage(&pull).words(),
            "cannot pull the image reg/nope:1 (ImagePullBackOff): Back-off pulling image \"reg/nope:1\""
        );
        let config = pod(
            "Pending",
            Some("n1"),
            json!([]),
            json!([{"state": {"waiting": {"reason": "CreateContainerConfigError", "message": "couldn't find key HF_TOKEN in Secret runai-ada/ada-env"}}}]),
        );
        assert!(
            stage(&config).words().contains("the Secret ada-env has no key HF_TOKEN"),
            "{}",
            stage(&config).words()
        );
        let crash = pod(
            "Running",
            Some("n1"),
            json!([]),
            json!([{"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 2}}}]),
        );
        assert_eq!(stage(&crash), Stage::Failed(Failure::CrashLoop { exit_code: Some(2) }));
        let exited = pod(
            "Failed",
            Some("n1"),
            json!([]),
            json!([{"state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]),
        );
        assert_eq!(stage(&exited).words(), "the command ended with exit code 3 (Error)");
        assert_eq!(exit_code(&exited), Some(3));
        let done = pod("Succeeded", Some("n1"), json!([]), json!([{"state": {"terminated": {"exitCode": 0}}}]));
        assert_eq!(stage(&done), Stage::Succeeded);
    }

    #[test]
    fn missing_secret_keys_are_named() {
        assert_eq!(missing_secret_key("couldn't find key WANDB_API_KEY in Secret ns/s"), Some(("WANDB_API_KEY", "s")));
        assert_eq!(missing_secret_key("secret \"s\" not found"), None);
    }

    #[test]
    fn odd_objects_do_not_panic() {
        for v in [json!(null), json!({}), json!({"status": {"containerStatuses": [1, "x"]}}), json!([])] {
            let _ = stage(&v).words();
        }
    }
}
