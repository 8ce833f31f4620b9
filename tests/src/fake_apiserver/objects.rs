//! The objects kubectl gets, as a real cluster writes them: a Pod in a
//! [`PodState`], and the Events the scheduler and kubelet record about it.

use serde_json::{Value, json};

use super::cluster::NODE;
use super::timeline::PodState;

/// The Pod object kubectl gets for `state`: one container named `main`, as
/// run:ai creates.
pub(super) fn pod_object(namespace: &str, name: &str, image: &str, state: &PodState, version: u64, uid: &str) -> Value {
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

/// The Events the scheduler and kubelet record when a pod goes from
/// `before` to `after`: (type, reason, message).
pub(super) fn transition_events(
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
pub(super) fn event_object(
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
