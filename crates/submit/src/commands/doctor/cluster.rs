//! The checks that ask the cluster, in three kubectl processes: the
//! kubeconfig (`kubectl config view --minify`, local), one `get` of the
//! namespace's claims and pods (server, login, namespace, scratch PVC,
//! jobs), one `get` of the Secret.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;

use super::Check;
use super::local::Setup;
use crate::app::Context;
use crate::cluster::invocation::Invocation;
use crate::cluster::jobs as cluster_jobs;
use crate::cluster::kubectl;
use crate::cluster::kubectl_error::{Aim, Kind, KubectlError};
use crate::job::duration::Seconds;

pub const KUBECONFIG: &str = "kubeconfig";
pub const SERVER: &str = "server";
pub const LOGIN: &str = "login";
pub const NAMESPACE: &str = "namespace";
pub const PVC: &str = "scratch PVC";
pub const SECRET: &str = "Secret";
pub const JOBS: &str = "jobs";

/// What kubectl printed, or how it failed.
enum Answer {
    Json(Value),
    Failed(KubectlError),
    /// kubectl did not finish, or printed no JSON.
    Broken(String),
}

fn ask(inv: &Invocation, timeout: Seconds) -> Answer {
    match inv.run_for_output(kubectl::kill_after(timeout)) {
        Err(e) => Answer::Broken(e.to_string()),
        Ok(done) if !done.status.success() => Answer::Failed(KubectlError::classify(&done.stderr)),
        Ok(done) => match serde_json::from_slice(&done.stdout) {
            Ok(value) => Answer::Json(value),
            Err(e) => Answer::Broken(format!("`{inv}` printed no JSON: {e}")),
        },
    }
}

/// The kubeconfig's current context, as `config view --minify` shows it.
struct Kubeconfig {
    context: String,
    server: String,
}

pub fn checks(setup: &Setup, ctx: &Context, kubectl_found: bool, timeout: Seconds) -> Vec<Check> {
    let later = [SERVER, LOGIN, NAMESPACE, PVC, SECRET, JOBS];
    let skip_all = |first: Check, why: &str| {
        std::iter::once(first).chain(later.iter().map(|name| Check::skip(name, why))).collect::<Vec<_>>()
    };
    if !kubectl_found {
        return skip_all(Check::skip(KUBECONFIG, "kubectl is not on PATH"), "kubectl is not on PATH");
    }
    let config = match ask(&kubectl::config_view(), timeout) {
        Answer::Json(v) => Kubeconfig {
            context: v["current-context"].as_str().unwrap_or_default().to_owned(),
            server: v["clusters"][0]["cluster"]["server"].as_str().unwrap_or_default().to_owned(),
        },
        Answer::Failed(e) => {
            let file = match &ctx.kubeconfig {
                Some(k) => format!("KUBECONFIG={}", k.to_string_lossy()),
                None => "~/.kube/config".to_owned(),
            };
            let first = Check::fail(
                KUBECONFIG,
                format!("no usable kubeconfig ({file}); kubectl said: {}", e.said),
                "put your cluster's kubeconfig at ~/.kube/config (or point KUBECONFIG at it), then run `runai login`",
            );
            return skip_all(first, "there is no kubeconfig");
        }
        Answer::Broken(why) => return skip_all(Check::fail(KUBECONFIG, why, "reinstall kubectl"), "kubectl failed"),
    };
    let mut out = vec![Check::ok(KUBECONFIG, format!("current context {}, server {}", config.context, config.server))];
    let Some(target) = &setup.target else {
        out.push(Check::ok(SERVER, format!("{} (not contacted)", config.server)));
        out.extend(later[1..].iter().map(|name| Check::skip(name, "the .env names no valid namespace")));
        return out;
    };
    let ns = target.namespace.as_str();
    let aim = Aim { namespace: Some(ns), context: Some(&config.context) };
    let list = match ask(&kubectl::claims_and_pods(ns, timeout), timeout) {
        Answer::Json(list) => list,
        Answer::Failed(e) => {
            out.extend(refused(&e, aim, &config));
            let why = match e.kind {
                Kind::Unreachable { .. } => "the server cannot be reached",
                Kind::Unauthorized => "the login was refused",
                _ => "the namespace cannot be read",
            };
            let done: Vec<&str> = out.iter().map(|c| c.name).collect();
            out.extend(later.iter().filter(|n| !done.contains(n)).map(|name| Check::skip(name, why)));
            return out;
        }
        Answer::Broken(why) => {
            out.push(Check::fail(SERVER, why, "raise --kubectl-timeout, or check your VPN"));
            out.extend(later[1..].iter().map(|name| Check::skip(name, "the server did not answer")));
            return out;
        }
    };
    let items: Vec<Value> = list["items"].as_array().cloned().unwrap_or_default();
    let claims: BTreeMap<String, String> = items
        .iter()
        .filter(|i| i["kind"] == "PersistentVolumeClaim")
        .map(|i| (name(i), i["status"]["phase"].as_str().unwrap_or("unknown").to_owned()))
        .collect();
    let pods: Vec<&Value> = items.iter().filter(|i| i["kind"] == "Pod").collect();
    out.push(Check::ok(SERVER, format!("{} answered", config.server)));
    out.push(Check::ok(LOGIN, format!("accepted (context {})", config.context)));
    out.push(match claims.is_empty() && pods.is_empty() {
        true => Check::warn(
            NAMESPACE,
            format!("{ns}: readable, but holds no claims and no pods; it may not exist"),
            "check K8S_NAMESPACE (or RUNAI_PROJECT) in the .env: it is usually runai-<project>",
        ),
        false => Check::ok(NAMESPACE, format!("{ns}: {} claims, {} pods", claims.len(), pods.len())),
    });
    out.push(scratch_claim(setup, ns, &claims));
    out.push(secret(setup, ns, aim, timeout));
    out.push(jobs(&pods));
    out
}

/// The checks a failed `get` of the namespace settles: the one that failed,
/// and those before it that its answer shows to be fine.
fn refused(e: &KubectlError, aim: Aim<'_>, config: &Kubeconfig) -> Vec<Check> {
    let words = e.words(aim);
    let said = format!("kubectl said: {}", e.said.replace('\n', " / "));
    let server_ok = || Check::ok(SERVER, format!("{} answered", config.server));
    match e.kind {
        Kind::Unreachable { .. } => {
            let address = match &e.kind {
                Kind::Unreachable { address: Some(a) } => a.clone(),
                _ => config.server.clone(),
            };
            vec![Check::fail(
                SERVER,
                format!("cannot reach {address} ({said})"),
                "check your VPN or network, and that KUBECONFIG points at the right cluster",
            )]
        }
        Kind::Unauthorized => {
            vec![server_ok(), Check::fail(LOGIN, format!("refused by {} ({said})", config.server), "run `runai login`")]
        }
        Kind::Forbidden => vec![
            server_ok(),
            Check::ok(LOGIN, format!("accepted (context {})", config.context)),
            Check::fail(NAMESPACE, format!("{words} ({said})"), "check K8S_NAMESPACE in the .env"),
        ],
        Kind::NotFound | Kind::Other => {
            vec![server_ok(), Check::fail(NAMESPACE, format!("{words} ({said})"), "see kubectl's words")]
        }
    }
}

fn name(item: &Value) -> String {
    item["metadata"]["name"].as_str().unwrap_or_default().to_owned()
}

fn scratch_claim(setup: &Setup, ns: &str, claims: &BTreeMap<String, String>) -> Check {
    let Some(pvc) = setup.pvc() else { return Check::skip(PVC, "the .env names no valid SCRATCH_PVC") };
    let at = setup
        .file
        .as_ref()
        .and_then(|env| env.line_of(crate::job::keys::SCRATCH_PVC).map(|l| format!("{}:{l}", env.path().display())))
        .unwrap_or_else(|| "the .env".to_owned());
    match claims.get(pvc).map(String::as_str) {
        Some("Bound") => Check::ok(PVC, format!("{pvc} in {ns}, Bound")),
        Some(phase) => Check::fail(
            PVC,
            format!("{pvc} in {ns} is {phase}, not Bound: a job using it would wait"),
            "ask your cluster's admins about the claim",
        ),
        None => {
            let there = match claims.is_empty() {
                true => "there are none".to_owned(),
                false => format!("the claims there: {}", claims.keys().cloned().collect::<Vec<_>>().join(", ")),
            };
            Check::fail(PVC, format!("{pvc} does not exist in {ns} ({there})"), format!("fix SCRATCH_PVC at {at}"))
        }
    }
}

/// The Secret compared with what a submission would sync, key by key and
/// value by value, here: nothing of either is printed but key names.
fn secret(setup: &Setup, ns: &str, aim: Aim<'_>, timeout: Seconds) -> Check {
    let (Some(env), Some(target)) = (&setup.synced, &setup.target) else {
        return Check::skip(SECRET, "the .env cannot be read");
    };
    let name = &target.name;
    let fix = "submit --sync-secret-only";
    let object = match ask(&kubectl::get_secret(ns, name, timeout), timeout) {
        Answer::Json(object) => object,
        Answer::Failed(e) if e.kind == Kind::NotFound => {
            return Check::fail(SECRET, format!("{name} does not exist in {ns}"), fix);
        }
        Answer::Failed(e) => {
            return Check::fail(SECRET, format!("cannot read {name}: {}; kubectl said: {}", e.words(aim), e.said), fix);
        }
        Answer::Broken(why) => return Check::fail(SECRET, why, "raise --kubectl-timeout"),
    };
    let data = object["data"].as_object().cloned().unwrap_or_default();
    let wanted: BTreeMap<&str, &str> = env.non_empty().collect();
    let mut stale: Vec<&str> = wanted
        .iter()
        .filter(|(key, value)| {
            data.get(**key).and_then(Value::as_str).and_then(|b64| BASE64.decode(b64).ok()).as_deref()
                != Some(value.as_bytes())
        })
        .map(|(key, _)| *key)
        .collect();
    stale.sort_unstable();
    let extra: Vec<&str> = data.keys().map(String::as_str).filter(|k| !wanted.contains_key(k)).collect();
    match (stale.is_empty(), extra.is_empty()) {
        (false, _) => Check::fail(SECRET, format!("{name} is out of date: {}", stale.join(", ")), fix),
        (true, false) => Check::warn(
            SECRET,
            format!("{name} is in sync, and also holds keys the .env does not: {}", extra.join(", ")),
            format!("{fix} removes them"),
        ),
        (true, true) => Check::ok(SECRET, format!("{name} is in sync ({} keys)", wanted.len())),
    }
}

/// The namespace's jobs by state, in one line: old jobs hold the quota.
/// Pods are grouped into jobs as `submit list` groups them; a job's state
/// is its main pod's phase.
fn jobs(pods: &[&Value]) -> Check {
    let phase_of = |pod: &str| {
        pods.iter().find(|p| name(p) == pod).and_then(|p| p["status"]["phase"].as_str()).unwrap_or("Unknown")
    };
    let found = cluster_jobs::from_pod_list(&serde_json::json!({ "items": pods }));
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for job in &found {
        *states.entry(phase_of(job.main_pod())).or_default() += 1;
    }
    let counts: Vec<String> = states.iter().map(|(state, n)| format!("{n} {state}")).collect();
    match found.len() {
        0 => Check::ok(JOBS, "none"),
        n => Check::ok(JOBS, format!("{n} ({}; {} pods)", counts.join(", "), pods.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_are_counted_by_job() {
        let job_of = |pod| crate::cluster::pods::split_name(pod).map(|(job, _)| job);
        assert_eq!(job_of("train-1-0-0"), Some("train-1"));
        assert_eq!(job_of("dist-master-0"), Some("dist"));
        assert_eq!(job_of("dist-worker-3"), Some("dist"));
        let (a, b, c) = (
            json!({"metadata": {"name": "a-0-0"}, "status": {"phase": "Running"}}),
            json!({"metadata": {"name": "d-master-0"}, "status": {"phase": "Pending"}}),
            json!({"metadata": {"name": "d-worker-0"}, "status": {"phase": "Pending"}}),
        );
        assert_eq!(jobs(&[&a, &b, &c]).found, "2 (1 Pending, 1 Running; 3 pods)");
    }
}
