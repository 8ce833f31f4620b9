//! The check before a submission: the scratch PVC exists in the namespace,
//! and no pod of a job with the same name is there. A job submitted with a
//! wrong claim name waits forever and, on RCP, can be neither seen nor
//! deleted with runai; a taken name makes runai refuse late or mix two jobs.
//!
//! One `kubectl get` of claims and pods answers both, so that a submission
//! starts at most two kubectl processes (this one and the apply).

use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};

use crate::clock::unix_now;
use crate::cluster::invocation::{Invocation, RunError, describe_status};
use crate::cluster::jobs::{self, Job};
use crate::cluster::kubectl_error::{Aim, KubectlError};
use crate::cluster::{kubectl, pods};
use crate::job::duration::Seconds;
use crate::runai::{self, Dialect};

/// What the check needs to know about the job.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    pub job: &'a str,
    pub namespace: &'a str,
    pub pvc: &'a str,
    /// The runai dialect in use, for the delete command a refusal suggests.
    pub dialect: Dialect,
}

/// What the namespace holds, as far as the check goes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Namespace {
    pub claims: Vec<String>,
    /// Pods by name, as kubectl printed them.
    pub pods: Vec<(String, Value)>,
}

impl Namespace {
    /// Reads the `List` that `kubectl get persistentvolumeclaims,pods -o json` prints.
    pub fn parse(json: &[u8]) -> Result<Self, String> {
        let list: Value = serde_json::from_slice(json).map_err(|e| format!("kubectl printed no JSON list: {e}"))?;
        let items = list["items"].as_array().ok_or("kubectl printed no list of items")?;
        let mut ns = Namespace::default();
        for item in items {
            let name = item["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            match item["kind"].as_str() {
                Some("PersistentVolumeClaim") => ns.claims.push(name),
                Some("Pod") => ns.pods.push((name, item.clone())),
                _ => {}
            }
        }
        ns.claims.sort();
        Ok(ns)
    }
}

/// Refuses the submission if the namespace's content rules it out; the
/// message names what is wrong and what to do.
pub fn judge(plan: &Plan<'_>, ns: &Namespace) -> Result<()> {
    judge_claim(plan, ns)?;
    judge_name(plan, ns)
}

/// No pod may be the job's, by its labels or its name.
fn judge_name(plan: &Plan<'_>, ns: &Namespace) -> Result<()> {
    let taken: Vec<String> =
        pods_of(plan.job, ns).map(|(name, pod)| format!("{name} ({})", pods::stage(pod).words())).collect();
    if !taken.is_empty() {
        bail!(
            "a job named {} already exists in namespace {}: {}; pick another name with -n, or delete it first: {}; \
             nothing was submitted",
            plan.job,
            plan.namespace,
            taken.join(", "),
            runai::delete_command(plan.job, plan.dialect)
        );
    }
    Ok(())
}

/// The pods that take the name `job`: the job's by their labels, as
/// `submit list` finds them, and any pod named as the job's.
fn pods_of<'a>(job: &'a str, ns: &'a Namespace) -> impl Iterator<Item = &'a (String, Value)> {
    ns.pods.iter().filter(move |(name, pod)| pods::belongs_to(job, name) || jobs::is_pod_of(pod, job))
}

/// The names of `jobs` that have pods in the namespace, each with its pods
/// and their states: `lr-3 (lr-3-0-0 Running on n1)`.
pub fn taken(jobs: &[String], ns: &Namespace) -> Vec<(String, String)> {
    jobs.iter()
        .filter_map(|job| {
            let pods: Vec<String> =
                pods_of(job, ns).map(|(name, pod)| format!("{name} {}", pods::stage(pod).words())).collect();
            (!pods.is_empty()).then(|| (job.clone(), pods.join(", ")))
        })
        .collect()
}

/// Refuses a sweep (`plan.job` is its name) if its claim is missing or any
/// of its `jobs` is taken, listing every taken one.
pub fn judge_sweep(plan: &Plan<'_>, jobs: &[String], ns: &Namespace) -> Result<()> {
    judge_claim(plan, ns)?;
    let taken = taken(jobs, ns);
    if !taken.is_empty() {
        let names: Vec<&str> = taken.iter().map(|(job, _)| job.as_str()).collect();
        let listed: Vec<String> = taken.iter().map(|(job, pods)| format!("{job} ({pods})")).collect();
        bail!(
            "{} of the {} jobs of the sweep {} already exist in namespace {}: {}; nothing was submitted; pick \
             another --name, or delete them first: submit delete {}",
            taken.len(),
            jobs.len(),
            plan.job,
            plan.namespace,
            listed.join(", "),
            names.join(" ")
        );
    }
    Ok(())
}

/// Refuses a job whose scratch claim is not in the namespace.
fn judge_claim(plan: &Plan<'_>, ns: &Namespace) -> Result<()> {
    if !ns.claims.iter().any(|c| c == plan.pvc) {
        let there = match ns.claims.is_empty() {
            true => "there are none".to_owned(),
            false => format!("the claims there are: {}", ns.claims.join(", ")),
        };
        bail!(
            "the scratch PVC {} does not exist in namespace {} ({there}); fix SCRATCH_PVC in your .env or pass \
             --pvc; nothing was submitted",
            plan.pvc,
            plan.namespace
        );
    }
    Ok(())
}

/// The kubectl command the check runs.
pub fn command(plan: &Plan<'_>, timeout: Seconds) -> Invocation {
    kubectl::claims_and_pods(plan.namespace, timeout)
}

/// The jobs of the name that `--replace` deletes before submitting, with
/// the listing they were found in (for their pods and logs).
#[derive(Debug)]
pub struct Taken {
    pub list: Value,
    /// Empty when the name is free.
    pub jobs: Vec<Job>,
}

/// For `--replace`: the jobs of `names` (the job's name, or a sweep's
/// jobs' names) that are there, if every one has finished (succeeded,
/// failed, preempted, evicted); one still pending or running is refused,
/// naming `submit delete`.
pub fn judge_replacing(plan: &Plan<'_>, names: &[String], ns: &Namespace) -> Result<Taken> {
    judge_claim(plan, ns)?;
    let items: Vec<&Value> = ns.pods.iter().map(|(_, pod)| pod).collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let mut jobs: Vec<Job> = Vec::new();
    for name in names {
        match jobs::find(&list, name) {
            Some(job) => jobs.push(job),
            // A pod named as the job's that its labels put in another job.
            None => judge_name(&Plan { job: name, ..*plan }, ns)?,
        }
    }
    if let Some(busy) = jobs.iter().find(|j| !j.state.finished()) {
        bail!(
            "a job named {} is still {} in namespace {} (pods {}): --replace replaces only a finished job; stop \
             it first with `submit delete {}`, or pick another name with -n; nothing was submitted",
            busy.name,
            busy.state.words(unix_now()),
            plan.namespace,
            busy.pods.join(", "),
            busy.name
        );
    }
    Ok(Taken { list, jobs })
}

/// [`check`] for `--replace`: the same request, then [`judge_replacing`].
pub fn check_replacing(plan: &Plan<'_>, names: &[String], timeout: Seconds) -> Result<Taken> {
    judge_replacing(plan, names, &fetch(plan, timeout)?)
}

/// Runs the check: one kubectl process, then [`judge`].
pub fn check(plan: &Plan<'_>, timeout: Seconds) -> Result<()> {
    judge(plan, &fetch(plan, timeout)?)
}

/// What the namespace of `plan` holds: one kubectl process.
pub fn fetch(plan: &Plan<'_>, timeout: Seconds) -> Result<Namespace> {
    let done = command(plan, timeout).run_for_output(kubectl::kill_after(timeout)).map_err(|e| match e {
        RunError::TimedOut { .. } => anyhow!(
            "{e}: the cluster did not answer the check before submitting; check your connection and kubeconfig, \
             or raise --kubectl-timeout; nothing was submitted"
        ),
        e => anyhow!(e),
    })?;
    if !done.status.success() {
        let failure = KubectlError::classify(&done.stderr);
        bail!(
            "kubectl could not list the claims and pods of namespace {} ({}){}; nothing was submitted \
             (--no-preflight skips this check):\n{}",
            plan.namespace,
            describe_status(done.status),
            failure.headline(Aim { namespace: Some(plan.namespace), context: None }),
            failure.said
        );
    }
    Namespace::parse(&done.stdout).map_err(|e| {
        anyhow!("cannot read what kubectl printed for namespace {}: {e}; nothing was submitted", plan.namespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAN: Plan<'static> = Plan { job: "j", namespace: "runai-ada", pvc: "mlo-scratch", dialect: Dialect::V1 };

    fn list(items: Value) -> Vec<u8> {
        json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string().into_bytes()
    }

    fn claim(name: &str) -> Value {
        json!({"kind": "PersistentVolumeClaim", "metadata": {"name": name}})
    }

    #[test]
    fn a_missing_claim_is_named_with_the_ones_there() {
        let ns = Namespace::parse(&list(json!([claim("scratch-b"), claim("home-a")]))).unwrap();
        let err = judge(&PLAN, &ns).unwrap_err().to_string();
        assert_eq!(
            err,
            "the scratch PVC mlo-scratch does not exist in namespace runai-ada (the claims there are: home-a, \
             scratch-b); fix SCRATCH_PVC in your .env or pass --pvc; nothing was submitted"
        );
        let err = judge(&PLAN, &Namespace::parse(&list(json!([]))).unwrap()).unwrap_err().to_string();
        assert!(err.contains("(there are none)"), "{err}");
    }

    #[test]
    fn a_taken_name_is_refused_with_its_state_and_the_delete_command() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "j-0-0"}, "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}});
        let other = json!({"kind": "Pod", "metadata": {"name": "j-1-0-0"}});
        let ns = Namespace::parse(&list(json!([claim("mlo-scratch"), pod, other]))).unwrap();
        let err = judge(&PLAN, &ns).unwrap_err().to_string();
        assert_eq!(
            err,
            "a job named j already exists in namespace runai-ada: j-0-0 (Running on n1); pick another name with -n, \
             or delete it first: runai delete job j; nothing was submitted"
        );
        let v2 = Plan { dialect: Dialect::V2(crate::runai::V2Flags::ERA_2_2X), ..PLAN };
        let err = judge(&v2, &ns).unwrap_err().to_string();
        assert!(err.contains("delete it first: runai workload delete -y j;"), "{err}");
    }

    #[test]
    fn a_sweep_with_taken_names_lists_every_one() {
        let pod = |name: &str| {
            json!({"kind": "Pod", "metadata": {"name": name}, "spec": {"nodeName": "n1"},
                "status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}})
        };
        let ns =
            Namespace::parse(&list(json!([claim("mlo-scratch"), pod("j-1-0-0"), pod("j-3-0-0"), pod("j-30-0-0")])))
                .unwrap();
        let jobs: Vec<String> = (0..4).map(|i| format!("j-{i}")).collect();
        let err = judge_sweep(&PLAN, &jobs, &ns).unwrap_err().to_string();
        assert_eq!(
            err,
            "2 of the 4 jobs of the sweep j already exist in namespace runai-ada: j-1 (j-1-0-0 Running on n1), j-3 \
             (j-3-0-0 Running on n1); nothing was submitted; pick another --name, or delete them first: submit \
             delete j-1 j-3"
        );
        judge_sweep(&PLAN, &jobs[..1], &ns).unwrap();
        let err = judge_sweep(&Plan { pvc: "other", ..PLAN }, &jobs[..1], &ns).unwrap_err().to_string();
        assert!(err.starts_with("the scratch PVC other does not exist"), "{err}");
    }

    #[test]
    fn a_free_name_with_its_claim_passes() {
        let other = json!({"kind": "Pod", "metadata": {"name": "j-1-0-0"}});
        let ns = Namespace::parse(&list(json!([claim("mlo-scratch"), other]))).unwrap();
        judge(&PLAN, &ns).unwrap();
    }

    #[test]
    fn a_replace_takes_a_finished_job_and_refuses_a_running_one() {
        let pod = |phase: &str, state: Value| {
            json!({"kind": "Pod", "metadata": {"name": "j-0-0", "creationTimestamp": "2026-01-01T10:00:00Z"},
                "spec": {"nodeName": "n1"}, "status": {"phase": phase, "containerStatuses": [{"state": state}]}})
        };
        let done = pod("Succeeded", json!({"terminated": {"exitCode": 0}}));
        let ns = Namespace::parse(&list(json!([claim("mlo-scratch"), done]))).unwrap();
        let taken = judge_replacing(&PLAN, &one(), &ns).unwrap();
        assert_eq!(taken.jobs.iter().map(|j| j.pods.clone()).collect::<Vec<_>>(), [["j-0-0"]]);
        let free = Namespace::parse(&list(json!([claim("mlo-scratch")]))).unwrap();
        assert!(judge_replacing(&PLAN, &one(), &free).unwrap().jobs.is_empty());
        let running = pod("Running", json!({"running": {}}));
        let ns = Namespace::parse(&list(json!([claim("mlo-scratch"), running]))).unwrap();
        let err = judge_replacing(&PLAN, &one(), &ns).unwrap_err().to_string();
        assert_eq!(
            err,
            "a job named j is still running in namespace runai-ada (pods j-0-0): --replace replaces only a finished \
             job; stop it first with `submit delete j`, or pick another name with -n; nothing was submitted"
        );
        assert!(judge_replacing(&PLAN, &one(), &free_of_claims()).is_err());
    }

    fn one() -> Vec<String> {
        vec![PLAN.job.to_owned()]
    }

    #[test]
    fn a_sweeps_replace_takes_its_finished_jobs_and_refuses_if_one_runs() {
        let pod = |name: &str, phase: &str, state: Value| {
            json!({"kind": "Pod", "metadata": {"name": name, "creationTimestamp": "2026-01-01T10:00:00Z"},
                "spec": {"nodeName": "n1"}, "status": {"phase": phase, "containerStatuses": [{"state": state}]}})
        };
        let names = vec!["s-0".to_owned(), "s-1".to_owned(), "s-2".to_owned()];
        let plan = Plan { job: "s", ..PLAN };
        let done = |name| pod(name, "Succeeded", json!({"terminated": {"exitCode": 0}}));
        let failed = pod("s-1-0-0", "Failed", json!({"terminated": {"exitCode": 1}}));
        let ns = Namespace::parse(&list(json!([claim("mlo-scratch"), done("s-0-0-0"), failed]))).unwrap();
        let taken = judge_replacing(&plan, &names, &ns).unwrap();
        assert_eq!(taken.jobs.iter().map(|j| j.name.as_str()).collect::<Vec<_>>(), ["s-0", "s-1"]);
        let running = pod("s-2-0-0", "Running", json!({"running": {}}));
        let ns = Namespace::parse(&list(json!([claim("mlo-scratch"), done("s-0-0-0"), running]))).unwrap();
        let err = judge_replacing(&plan, &names, &ns).unwrap_err().to_string();
        assert!(err.starts_with("a job named s-2 is still running in namespace runai-ada (pods s-2-0-0)"), "{err}");
    }

    fn free_of_claims() -> Namespace {
        Namespace::parse(&list(json!([]))).unwrap()
    }

    #[test]
    fn output_that_is_not_a_list_is_an_error() {
        assert!(Namespace::parse(b"No resources found").is_err());
        assert!(Namespace::parse(b"{}").is_err());
    }
}
