//! The room of the day-to-day tests (`submit list`, `delete`, `clean`, ...):
//! a namespace and its `.env`, and pods as run:ai makes them, written out
//! whole for the fake API server's `put_pod_object` in the shape `submit`
//! reads (labels, the first container's environment, creation time, status).

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::fake_apiserver::FakeApiServer;
use crate::submit_harness::SubmitEnv;

/// The namespace of the room.
pub const NAMESPACE: &str = "runai-mlo-ada";
/// Its `.env`: that namespace, the project `mlo-ada`.
pub const ENV: &str = "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE=runai-mlo-ada\nRUNAI_IMAGE=reg.example/img:1\n\
RUNAI_SECRET_NAME=ada-env\nSCRATCH_PVC=mlo-scratch\n";

/// A fake API server with the pods `fill` puts there, and a submit room
/// with the runai double `runai` talking to it, kubectl counted.
///
/// # Panics
/// When the server cannot start.
#[allow(clippy::expect_used, reason = "a test room that cannot start fails the test")]
pub fn room(runai: &str, fill: impl Fn(&FakeApiServer)) -> (SubmitEnv, FakeApiServer) {
    let server = FakeApiServer::start().expect("the fake API server starts");
    fill(&server);
    let mut env = SubmitEnv::new(Path::new(runai));
    env.use_apiserver(&server, NAMESPACE);
    env.count_kubectl_calls();
    env.write_env(ENV);
    (env, server)
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An RFC 3339 UTC time `ago` seconds back.
pub fn ago(seconds: u64) -> String {
    let t = now().saturating_sub(seconds);
    let (days, rest) = (t / 86_400, t % 86_400);
    // Civil date from days (Howard Hinnant's civil_from_days).
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// A pod as run:ai makes it: one container `main`, `kind` in its
/// environment when submit made it, `labels`, created `created_ago` s ago.
pub fn pod(name: &str, labels: Value, created_ago: u64, kind: Option<&str>, status: Value) -> Value {
    let mut container = json!({"name": "main", "image": "reg.example/img:1",
        "resources": {"limits": {"nvidia.com/gpu": "1"}}});
    if let Some(kind) = kind {
        container["env"] = json!([{"name": "NB_USER", "value": "ada"}, {"name": "NB_JOB_KIND", "value": kind}]);
    }
    let mut spec = json!({"containers": [container], "restartPolicy": "Never", "schedulerName": "runai-scheduler"});
    if status["phase"] != "Pending" || status.get("containerStatuses").is_some() {
        spec["nodeName"] = "gpu-node-7".into();
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "uid": format!("uid-{name}"), "creationTimestamp": ago(created_ago)},
        "spec": spec, "status": status
    })
}

pub fn running(started_ago: u64) -> Value {
    json!({"phase": "Running", "containerStatuses": [{"name": "main", "ready": true, "restartCount": 0,
        "state": {"running": {"startedAt": ago(started_ago)}}}]})
}

pub fn ended(exit_code: i32, reason: &str) -> Value {
    json!({"phase": if exit_code == 0 { "Succeeded" } else { "Failed" }, "containerStatuses": [{"name": "main",
        "restartCount": 0, "state": {"terminated": {"exitCode": exit_code, "reason": reason}}}]})
}

pub fn waiting(reason: &str) -> Value {
    json!({"phase": "Pending", "containerStatuses": [{"name": "main", "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": "Back-off pulling image \"reg.example/img:1\""}}}]})
}

/// `pod` with `vars` added to its first container's environment.
pub fn with_env(mut pod: Value, vars: &[(&str, &str)]) -> Value {
    let env = &mut pod["spec"]["containers"][0]["env"];
    if !env.is_array() {
        *env = json!([]);
    }
    if let Some(list) = env.as_array_mut() {
        list.extend(vars.iter().map(|(name, value)| json!({"name": name, "value": value})));
    }
    pod
}
