//! The kubectl commands `submit` runs: a server-side apply of the Secret
//! manifest, read from stdin; and around a submission, reads of the job's
//! namespace (the pre-flight check, the watches of its pods and of their
//! Events, the pods' logs), the `exec` of a shell and a port-forward.
//!
//! Server-side apply, because client-side apply copies the whole object,
//! secret data included, into the `last-applied-configuration` annotation,
//! where `kubectl get -o yaml` shows it, and cannot remove a key from a
//! Secret it did not create. `--force-conflicts` takes over fields another
//! manager (an older client-side apply) owns, so that removing a key from the
//! `.env` removes it from the Secret.
//!
//! `--request-timeout` makes kubectl give up on a silent cluster by itself,
//! so that it never outlives `submit` (after a Ctrl-C, say); `submit` also
//! kills it a little later as a backstop ([`kill_after`]).

use std::time::Duration;

use crate::cluster::invocation::{Invocation, Sensitive};
use crate::job::duration::Seconds;
use crate::job::secret::Manifest;

/// The program name, looked up on PATH.
pub const KUBECTL: &str = "kubectl";

/// Our name in the Secret's `managedFields`.
pub const FIELD_MANAGER: &str = "submit";

/// How much longer than kubectl's own request timeout we wait before
/// killing it: its requests are bounded, its start-up and the dispatcher's
/// version probe are not.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// When `submit` kills a kubectl run with `--request-timeout=request_timeout`.
pub fn kill_after(request_timeout: Seconds) -> Duration {
    request_timeout.as_duration() + KILL_GRACE
}

/// kubectl's own bound on each request to the API server.
fn request_timeout_flag(request_timeout: Seconds) -> String {
    format!("--request-timeout={request_timeout}s")
}

fn apply_args(request_timeout: Seconds) -> Vec<String> {
    let field_manager = format!("--field-manager={FIELD_MANAGER}");
    let timeout = request_timeout_flag(request_timeout);
    ["apply", "--server-side", "--force-conflicts", &field_manager, &timeout, "-f", "-"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

/// `kubectl apply --server-side ... -f -` with `manifest` on stdin.
pub fn apply_secret(manifest: Manifest, request_timeout: Seconds) -> Invocation {
    let mut inv = Invocation::new(KUBECTL, apply_args(request_timeout));
    inv.stdin = Some(Sensitive(manifest.into_bytes()));
    inv
}

/// The same command line without the manifest, for `--dry-run`.
pub fn apply_secret_line(request_timeout: Seconds) -> String {
    Invocation::new(KUBECTL, apply_args(request_timeout)).to_string()
}

fn words(words: &[&str]) -> Vec<String> {
    words.iter().map(|s| (*s).to_owned()).collect()
}

/// One `kubectl get` of every PersistentVolumeClaim and pod in `namespace`,
/// as one JSON `List`: the whole pre-flight check in one process.
pub fn claims_and_pods(namespace: &str, request_timeout: Seconds) -> Invocation {
    let timeout = request_timeout_flag(request_timeout);
    Invocation::new(
        KUBECTL,
        words(&["get", "persistentvolumeclaims,pods", "--namespace", namespace, "--output", "json", &timeout]),
    )
}

/// Every pod of `namespace` as one JSON `PodList`: all `submit list` reads.
pub fn get_pods(namespace: &str, request_timeout: Seconds) -> Invocation {
    let timeout = request_timeout_flag(request_timeout);
    Invocation::new(KUBECTL, words(&["get", "pods", "--namespace", namespace, "--output", "json", &timeout]))
}

/// `kubectl get pods --watch --output-watch-events`: every pod once, then
/// each change, as `{"type": ADDED|MODIFIED|DELETED, "object": pod}`, so
/// that a deleted pod is seen too. No request timeout: it lasts until it
/// is stopped.
pub fn watch_pod_changes(namespace: &str) -> Invocation {
    Invocation::new(
        KUBECTL,
        words(&["get", "pods", "--namespace", namespace, "--watch", "--output-watch-events", "--output", "json"]),
    )
}

/// `kubectl logs POD`, followed with `follow`, the last `tail` lines only
/// with `tail`.
pub fn logs(namespace: &str, pod: &str, follow: bool, tail: Option<u32>) -> Invocation {
    let mut args = words(&["logs", pod, "--namespace", namespace]);
    args.extend(follow.then(|| "--follow".to_owned()));
    args.extend(tail.map(|n| format!("--tail={n}")));
    Invocation::new(KUBECTL, args)
}

/// `kubectl get pods --watch` in `namespace`: every pod once, then each
/// change, as a stream of JSON objects. Pods are matched by name in
/// `submit` (their labels differ between run:ai versions); the stream ends
/// after `request_timeout`.
pub fn watch_pods(namespace: &str, request_timeout: Seconds) -> Invocation {
    let timeout = request_timeout_flag(request_timeout);
    Invocation::new(KUBECTL, words(&["get", "pods", "--namespace", namespace, "--watch", "--output", "json", &timeout]))
}

/// `kubectl get events --watch` in `namespace`, of pods only: what kubelet
/// and the scheduler record, as a stream of JSON objects. A second process
/// beside [`watch_pods`], as one kubectl watches one resource type. Events
/// select on one `involvedObject.name` at most, and a job may have several
/// pods: `submit` picks its pods' Events by name.
pub fn watch_pod_events(namespace: &str, request_timeout: Seconds) -> Invocation {
    let timeout = request_timeout_flag(request_timeout);
    Invocation::new(
        KUBECTL,
        words(&[
            "get",
            "events",
            "--namespace",
            namespace,
            "--watch",
            "--output",
            "json",
            "--field-selector",
            "involvedObject.kind=Pod",
            &timeout,
        ]),
    )
}

/// `kubectl logs --follow`: the pod's log until its container ends.
pub fn follow_log(namespace: &str, pod: &str) -> Invocation {
    Invocation::new(KUBECTL, words(&["logs", "--follow", pod, "--namespace", namespace]))
}

/// The last `lines` lines of the pod's log (of its previous run if `previous`).
pub fn log_tail(namespace: &str, pod: &str, lines: u32, previous: bool, request_timeout: Seconds) -> Invocation {
    let tail = format!("--tail={lines}");
    let timeout = request_timeout_flag(request_timeout);
    let mut args = words(&["logs", pod, "--namespace", namespace, &tail, &timeout]);
    if previous {
        args.push("--previous".to_owned());
    }
    Invocation::new(KUBECTL, args)
}

/// Every container's log of `pod`, each line after `[pod/POD/CONTAINER]`
/// when `prefixed` (a pod of several containers): one kubectl process for
/// the whole pod, for the copy kept before a delete.
pub fn all_logs(namespace: &str, pod: &str, prefixed: bool, request_timeout: Seconds) -> Invocation {
    let timeout = request_timeout_flag(request_timeout);
    let mut args = words(&["logs", pod, "--namespace", namespace, "--all-containers"]);
    args.extend(prefixed.then(|| "--prefix".to_owned()));
    args.push(timeout);
    Invocation::new(KUBECTL, args)
}

/// The log of `container`'s previous run in `pod` (before its restart).
pub fn previous_log(namespace: &str, pod: &str, container: &str, request_timeout: Seconds) -> Invocation {
    let timeout = request_timeout_flag(request_timeout);
    Invocation::new(
        KUBECTL,
        words(&["logs", pod, "--namespace", namespace, "--container", container, "--previous", &timeout]),
    )
}

/// `kubectl wait --for=delete` of `pods`: one watch that ends once every
/// one of them is gone (at once for those already gone), or fails after
/// `timeout`.
pub fn wait_deleted(namespace: &str, pods: &[String], timeout: Seconds) -> Invocation {
    let mut args = words(&["wait", "--for=delete", "--namespace", namespace, &format!("--timeout={timeout}s")]);
    args.extend(pods.iter().map(|p| format!("pod/{p}")));
    Invocation::new(KUBECTL, args)
}

/// One pod as JSON.
pub fn get_pod(namespace: &str, pod: &str, request_timeout: Seconds) -> Invocation {
    let timeout = request_timeout_flag(request_timeout);
    Invocation::new(KUBECTL, words(&["get", "pod", pod, "--namespace", namespace, "--output", "json", &timeout]))
}

/// kubectl's own version, without asking the server.
pub fn client_version() -> Invocation {
    Invocation::new(KUBECTL, words(&["version", "--client", "--output", "json"]))
}

/// The current context of the kubeconfig, its cluster and user, as JSON;
/// read locally, no request to the server.
pub fn config_view() -> Invocation {
    Invocation::new(KUBECTL, words(&["config", "view", "--minify", "--output", "json"]))
}

/// One Secret as JSON, its values included: for comparing them, never for
/// showing them.
pub fn get_secret(namespace: &str, name: &str, request_timeout: Seconds) -> Invocation {
    let timeout = request_timeout_flag(request_timeout);
    Invocation::new(KUBECTL, words(&["get", "secret", name, "--namespace", namespace, "--output", "json", &timeout]))
}

/// `kubectl exec -it POD -- zsh`: the user's shell in the pod.
pub fn exec_shell(namespace: &str, pod: &str) -> Invocation {
    exec_in(namespace, pod, &[])
}

/// `kubectl exec -it POD -- CMD...`, zsh when `command` is empty.
pub fn exec_in(namespace: &str, pod: &str, command: &[String]) -> Invocation {
    let mut args = words(&["exec", "-it", pod, "--namespace", namespace, "--"]);
    match command {
        [] => args.push("zsh".to_owned()),
        command => args.extend(command.iter().cloned()),
    }
    Invocation::new(KUBECTL, args)
}

/// `kubectl port-forward POD LOCAL:REMOTE...`: listens on localhost until
/// its connection to the pod breaks.
pub fn port_forward(namespace: &str, pod: &str, pairs: &[String]) -> Invocation {
    let mut args = words(&["port-forward", pod, "--namespace", namespace]);
    args.extend(pairs.iter().cloned());
    Invocation::new(KUBECTL, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_apply_from_stdin() {
        let manifest = Manifest::build("s", "ns", [("A", "secret-value")]).unwrap();
        let inv = apply_secret(manifest, Seconds(60));
        assert_eq!(
            inv.to_string(),
            "kubectl apply --server-side --force-conflicts --field-manager=submit --request-timeout=60s -f -"
        );
        assert_eq!(apply_secret_line(Seconds(60)), inv.to_string());
        let stdin = &inv.stdin.as_ref().unwrap().0;
        let json: serde_json::Value = serde_json::from_slice(stdin).unwrap();
        assert_eq!(json["metadata"]["name"], "s");
        assert!(json["metadata"].get("annotations").is_none());
    }

    #[test]
    fn reads_around_a_submission() {
        let t = Seconds(60);
        assert_eq!(
            claims_and_pods("ns", t).to_string(),
            "kubectl get persistentvolumeclaims,pods --namespace ns --output json --request-timeout=60s"
        );
        assert_eq!(
            watch_pods("ns", Seconds(900)).to_string(),
            "kubectl get pods --namespace ns --watch --output json --request-timeout=900s"
        );
        assert_eq!(
            watch_pod_events("ns", Seconds(900)).to_string(),
            "kubectl get events --namespace ns --watch --output json --field-selector involvedObject.kind=Pod \
             --request-timeout=900s"
        );
        assert_eq!(follow_log("ns", "j-0-0").to_string(), "kubectl logs --follow j-0-0 --namespace ns");
        assert_eq!(
            log_tail("ns", "j-0-0", 20, true, t).to_string(),
            "kubectl logs j-0-0 --namespace ns --tail=20 --request-timeout=60s --previous"
        );
        assert_eq!(
            get_pod("ns", "j-0-0", t).to_string(),
            "kubectl get pod j-0-0 --namespace ns --output json --request-timeout=60s"
        );
        assert_eq!(exec_shell("ns", "j-0-0").to_string(), "kubectl exec -it j-0-0 --namespace ns -- zsh");
        assert_eq!(
            get_pods("ns", t).to_string(),
            "kubectl get pods --namespace ns --output json --request-timeout=60s"
        );
        assert_eq!(
            watch_pod_changes("ns").to_string(),
            "kubectl get pods --namespace ns --watch --output-watch-events --output json"
        );
        assert_eq!(logs("ns", "p", true, Some(5)).to_string(), "kubectl logs p --namespace ns --follow --tail=5");
        assert_eq!(logs("ns", "p", false, None).to_string(), "kubectl logs p --namespace ns");
        let command = ["python".to_owned(), "-V".to_owned()];
        assert_eq!(exec_in("ns", "p", &command).to_string(), "kubectl exec -it p --namespace ns -- python -V");
        assert_eq!(
            get_secret("ns", "s", t).to_string(),
            "kubectl get secret s --namespace ns --output json --request-timeout=60s"
        );
        assert_eq!(config_view().to_string(), "kubectl config view --minify --output json");
        assert_eq!(
            all_logs("ns", "p", true, t).to_string(),
            "kubectl logs p --namespace ns --all-containers --prefix --request-timeout=60s"
        );
        assert_eq!(
            previous_log("ns", "p", "main", t).to_string(),
            "kubectl logs p --namespace ns --container main --previous --request-timeout=60s"
        );
        assert_eq!(
            wait_deleted("ns", &["a".into(), "b".into()], Seconds(900)).to_string(),
            "kubectl wait --for=delete --namespace ns --timeout=900s pod/a pod/b"
        );
        let pairs = ["8888:8888".to_owned(), "16006:6006".to_owned()];
        assert_eq!(
            port_forward("ns", "j-0-0", &pairs).to_string(),
            "kubectl port-forward j-0-0 --namespace ns 8888:8888 16006:6006"
        );
    }
}
