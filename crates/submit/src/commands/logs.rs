//! `submit logs JOB [-f] [--tail N] [--worker I]`: the log of the job's
//! pod (the master's for a distributed job, or worker I's), finished jobs
//! included. A pod that has not started says why, in the words of
//! `--wait`; with `-f` it is waited for.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

use super::Place;
use crate::app::{Outcome, say};
use crate::cluster::invocation::RunError;
use crate::cluster::jobs::{self, Job, State};
use crate::cluster::kubectl;
use crate::cluster::pods::{self, Role};
use crate::follow::interrupt;

/// How often `-f` looks again at a pod that has not started.
const RECHECK: Duration = Duration::from_secs(2);

/// Whose log, and how much.
#[derive(Debug)]
pub struct Plan {
    pub place: Place,
    pub job: String,
    pub follow: bool,
    pub tail: Option<u32>,
    pub worker: Option<u32>,
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    let mut said = String::new();
    let pod = loop {
        let list = plan.place.pods()?;
        let job = jobs::find(&list, &plan.job).ok_or_else(|| plan.place.unknown(&plan.job))?;
        let pod = pod_of(&job, plan.worker)?;
        let object = pod_object(&list, &pod);
        if has_log(&job, object) {
            break pod;
        }
        let words = object.map_or_else(|| "its pod is not there yet".to_owned(), |p| pods::stage(p).words());
        if !plan.follow {
            bail!("the job {}'s pod {pod} has not started: {words} (with -f, submit waits for it)", plan.job);
        }
        if words != said {
            say(&format!("waiting for {pod} to start: {words}"));
            said = words;
        }
        interrupt::catch().map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))?;
        let until = std::time::Instant::now() + RECHECK;
        while std::time::Instant::now() < until {
            if interrupt::interrupted() {
                return Ok(Outcome::External(130));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let inv = kubectl::logs(&plan.place.namespace, &pod, plan.follow, plan.tail);
    let status = inv.run_attached().map_err(|e| match e {
        RunError::NotFound { .. } => anyhow!("{e}: install kubectl"),
        e => anyhow!(e),
    })?;
    match status.code() {
        Some(0) => Ok(Outcome::Success),
        code => Ok(Outcome::External(code.and_then(|c| u8::try_from(c).ok()).filter(|c| *c != 0).unwrap_or(1))),
    }
}

/// The pod whose log is asked for: worker `worker`'s, else the job's main one.
fn pod_of(job: &Job, worker: Option<u32>) -> Result<String> {
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

/// Whether the pod's container has run, so that kubectl has a log to show.
fn has_log(job: &Job, pod: Option<&Value>) -> bool {
    let Some(pod) = pod else { return false };
    let ran = pod["status"]["containerStatuses"].as_array().is_some_and(|cs| {
        cs.iter().any(|c| c["state"].get("running").is_some() || c["state"].get("terminated").is_some())
            || cs.iter().any(|c| c["lastState"].get("terminated").is_some())
    });
    ran || matches!(job.state, State::Succeeded | State::Failed { .. })
}
