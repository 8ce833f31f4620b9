//! `submit logs JOB [-f] [--tail N] [--worker I]`: the log of the job's
//! pod (the master's for a distributed job, or worker I's), finished jobs
//! included. A pod that has not started says why, in the words of
//! `--wait`; with `-f` it is waited for.

use anyhow::{Result, anyhow};
use serde_json::Value;

use super::Place;
use super::pod_wait::{self, Readiness, Waited};
use crate::app::Outcome;
use crate::cluster::invocation::RunError;
use crate::cluster::jobs::{Job, State};
use crate::cluster::kubectl;

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
    let wait = plan.follow.then_some("start");
    let pod = match pod_wait::until_ready(&plan.place, &plan.job, plan.worker, wait, readiness)? {
        Waited::Pod(pod) => pod,
        Waited::Interrupted => return Ok(Outcome::External(130)),
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

/// Ready once the pod's container has run, so that kubectl has a log to show.
fn readiness(job: &Job, pod: Option<&Value>) -> Readiness {
    let ran = pod.is_some_and(|pod| {
        pod["status"]["containerStatuses"].as_array().is_some_and(|cs| {
            cs.iter().any(|c| {
                c["state"].get("running").is_some()
                    || c["state"].get("terminated").is_some()
                    || c["lastState"].get("terminated").is_some()
            })
        })
    });
    match ran || (pod.is_some() && matches!(job.state, State::Succeeded | State::Failed { .. })) {
        true => Readiness::Ready,
        false => Readiness::NotYet(pod_wait::stage_words(pod)),
    }
}
