//! Waiting for a job's pod to be ready for what a subcommand does with it
//! (a log to read, a shell to open, ports to forward): the job is looked up again at each
//! look, so that a pod recreated meanwhile is the one found, and each new
//! reason it waits is said once, in the words of `--wait`.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use super::Place;
use crate::app::say;
use crate::cluster::jobs::{self, Job};
use crate::cluster::pods::{self, Role};
use crate::follow::interrupt;

/// How often a pod that is not ready is looked at again.
const RECHECK: Duration = Duration::from_secs(2);

/// Whether the pod is ready.
pub enum Readiness {
    Ready,
    /// Not yet, and why.
    NotYet(String),
    /// It never will be, and why.
    Never(String),
}

/// What the wait ended with.
pub enum Waited {
    Pod(String),
    /// Ctrl-C.
    Interrupted,
}

/// The job `name`'s pod (worker `worker`'s, else its main one) once
/// `ready` says so; without `wait`, an error at the first look that finds
/// it not ready, ending in `hint`.
pub fn until_ready(
    place: &Place,
    name: &str,
    worker: Option<u32>,
    wait: Option<&str>,
    ready: impl Fn(&Job, Option<&Value>) -> Readiness,
) -> Result<Waited> {
    let mut said = String::new();
    loop {
        let list = place.pods()?;
        let job = jobs::find(&list, name).ok_or_else(|| place.unknown(name))?;
        let pod = pod_of(&job, worker)?;
        let object = pod_object(&list, &pod);
        let why = match ready(&job, object) {
            Readiness::Ready => return Ok(Waited::Pod(pod)),
            Readiness::Never(why) => bail!("the job {name}'s pod {pod} {why}"),
            Readiness::NotYet(why) => why,
        };
        let Some(doing) = wait else {
            bail!("the job {name}'s pod {pod} has not started: {why} (with -f, submit waits for it)")
        };
        if why != said {
            say(&format!("waiting for {pod} to {doing}: {why}"));
            said = why;
        }
        interrupt::catch().map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))?;
        if interrupt::sleep(RECHECK) {
            return Ok(Waited::Interrupted);
        }
    }
}

/// Ready when the pod runs; never once the job has ended, and then
/// `ended` says what cannot be done.
pub fn running(job: &Job, pod: Option<&Value>, ended: &str) -> Readiness {
    let running = pod.is_some_and(|p| {
        p["status"]["phase"] == "Running"
            && p["status"]["containerStatuses"]
                .as_array()
                .is_some_and(|cs| cs.iter().all(|c| c["state"].get("running").is_some()))
    });
    match (running, job.state.finished()) {
        (true, _) => Readiness::Ready,
        (false, true) => Readiness::Never(format!("has ended ({}): {ended}", job.state.words(0))),
        (false, false) => Readiness::NotYet(stage_words(pod)),
    }
}

/// Why a pod is not there or not running yet, as `--wait` says it.
pub fn stage_words(pod: Option<&Value>) -> String {
    pod.map_or_else(|| "its pod is not there yet".to_owned(), |p| pods::stage(p).words())
}

/// The pod of worker `worker`, else the job's main one.
pub(super) fn pod_of(job: &Job, worker: Option<u32>) -> Result<String> {
    let Some(i) = worker else { return Ok(job.main_pod().to_owned()) };
    let workers: Vec<(u32, &String)> = job
        .pods
        .iter()
        .filter_map(|p| match pods::split_name(p) {
            Some((_, Role::Worker(n))) => Some((n, p)),
            _ => None,
        })
        .collect();
    if workers.is_empty() {
        bail!("the job {} has no workers (--worker is for a distributed job)", job.name);
    }
    match workers.iter().find(|(n, _)| *n == i) {
        Some((_, pod)) => Ok((*pod).clone()),
        None => {
            let known: Vec<String> = workers.iter().map(|(n, _)| n.to_string()).collect();
            bail!("the job {} has no worker {i} (its workers: {})", job.name, known.join(", "))
        }
    }
}

fn pod_object<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["items"].as_array()?.iter().find(|p| p["metadata"]["name"] == name)
}
