//! `status.txt`: the deleted job and each of its pods in words, beside the
//! pod objects themselves (`pods.json`) for whoever needs every field.

use std::fmt::Write as _;

use serde_json::Value;

use crate::cluster::jobs::Job;
use crate::cluster::pods;

/// What the summary says besides the pods.
pub struct Header<'a> {
    pub namespace: &'a str,
    pub project: &'a str,
    /// When, as the folder is named.
    pub deleted_at: &'a str,
    /// The command that deleted it: `submit delete`, `submit clean`, ...
    pub by: &'a str,
    pub now: i64,
}

/// The summary of `job`, whose pods are `pods`; `files` says which log
/// file holds which pod's log, `notes` what could not be kept.
pub fn text(header: &Header<'_>, job: &Job, pods: &[&Value], files: &[(String, String)], notes: &[String]) -> String {
    let mut out = String::new();
    // An empty sum of f64 is -0.
    let gpus = if job.gpus == 0.0 { 0.0 } else { job.gpus };
    let kind = job.to_json()["kind"].as_str().map_or_else(|| "-".to_owned(), str::to_owned);
    // Writing into a String cannot fail.
    let _ = writeln!(out, "job {} in namespace {} (project {})", job.name, header.namespace, header.project);
    let _ = writeln!(out, "deleted at {} by {}", header.deleted_at, header.by);
    let _ = writeln!(out, "state: {}", job.state.words(header.now));
    let _ = writeln!(out, "kind: {kind}, GPUs: {gpus}, restarts: {}", job.restarts);
    for pod in pods {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let created = pod["metadata"]["creationTimestamp"].as_str().unwrap_or("?");
        let node = pod["spec"]["nodeName"].as_str().unwrap_or("no node");
        let _ = writeln!(out, "\npod {name} (created {created}, {node}): {}", pods::stage(pod).words());
        for c in pod["status"]["containerStatuses"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  container {}: {}", c["name"].as_str().unwrap_or("?"), container_words(c));
        }
        for (_, file) in files.iter().filter(|(p, _)| p == name) {
            let _ = writeln!(out, "  log: {file}");
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            let _ = writeln!(out, "note: {note}");
        }
    }
    out
}

/// One container status: its state, exit code and reason, restarts.
fn container_words(c: &Value) -> String {
    let state = &c["state"];
    let now = if let Some(t) = state.get("terminated") {
        let reason = t["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default();
        format!("ended with exit code {}{reason}", t["exitCode"].as_i64().unwrap_or(-1))
    } else if state.get("running").is_some() {
        "running".to_owned()
    } else if let Some(w) = state.get("waiting") {
        format!("waiting ({})", w["reason"].as_str().unwrap_or("no reason given"))
    } else {
        "no state".to_owned()
    };
    let restarts = c["restartCount"].as_u64().unwrap_or(0);
    match c["lastState"]["terminated"]["exitCode"].as_i64() {
        Some(code) if restarts > 0 => format!("{now}, {restarts} restart(s), the previous run ended with {code}"),
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::jobs;
    use serde_json::json;

    #[test]
    fn each_pod_and_container_in_words() {
        let pod = json!({"kind": "Pod",
            "metadata": {"name": "j-0-0", "creationTimestamp": "2026-01-01T10:00:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "main"}]},
            "status": {"phase": "Failed", "containerStatuses": [{"name": "main", "restartCount": 1,
                "state": {"terminated": {"exitCode": 3, "reason": "Error"}},
                "lastState": {"terminated": {"exitCode": 137}}}]}});
        let list = json!({"items": [pod]});
        let job = jobs::find(&list, "j").unwrap();
        let header =
            Header { namespace: "ns", project: "p", deleted_at: "20260101T120000Z", by: "submit delete", now: 0 };
        let files = [("j-0-0".to_owned(), "j-0-0.log".to_owned())];
        let text = text(&header, &job, &[&list["items"][0]], &files, &["no previous log".to_owned()]);
        assert_eq!(
            text,
            "job j in namespace ns (project p)\ndeleted at 20260101T120000Z by submit delete\n\
             state: failed: exit code 3, Error\nkind: -, GPUs: 0, restarts: 1\n\n\
             pod j-0-0 (created 2026-01-01T10:00:00Z, n1): the command ended with exit code 3 (Error)\n\
             \x20 container main: ended with exit code 3 (Error), 1 restart(s), the previous run ended with 137\n\
             \x20 log: j-0-0.log\n\nnote: no previous log\n"
        );
    }
}
