//! `submit logs JOB [-f] [--tail N] [--worker I]`: the log of the job's
//! pod (the master's for a distributed job, or worker I's), finished jobs
//! included. A pod that has not started says why, in the words of
//! `--wait`; with `-f` it is waited for. A job the cluster no longer has
//! is read from the copy `delete`, `clean` or `--replace` kept (`saved`).

use anyhow::{Result, anyhow};
use serde_json::Value;

use super::pod_wait::{self, Readiness, Waited};
use super::saved::{self, Store};
use super::{Place, UnknownJob};
use crate::app::Outcome;
use crate::cluster::invocation::RunError;
use crate::cluster::jobs::{Job, State};
use crate::cluster::{kubectl, pods};

/// Whose log, and how much.
#[derive(Debug)]
pub struct Plan {
    pub place: Place,
    pub job: String,
    pub follow: bool,
    pub tail: Option<u32>,
    pub worker: Option<u32>,
    /// Where the logs of deleted jobs are kept, if anywhere.
    pub kept: Option<Store>,
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    let wait = plan.follow.then_some("start");
    let pod = match pod_wait::until_ready(&plan.place, &plan.job, plan.worker, wait, readiness) {
        Ok(Waited::Pod(pod)) => pod,
        Ok(Waited::Interrupted) => return Ok(Outcome::External(130)),
        Err(e) if e.is::<UnknownJob>() => return kept_log(plan).unwrap_or(Err(e)),
        Err(e) => return Err(e),
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

/// The log kept when the job was deleted, if one was.
fn kept_log(plan: &Plan) -> Option<Result<Outcome>> {
    let store = plan.kept.as_ref()?;
    let ask = saved::Ask { job: &plan.job, namespace: &plan.place.namespace, worker: plan.worker, tail: plan.tail };
    saved::show_kept_log(store, &ask).transpose()
}

/// Ready once the pod's container has run, so that kubectl has a log to show.
fn readiness(job: &Job, pod: Option<&Value>) -> Readiness {
    let ran = pod.is_some_and(pods::has_run);
    match ran || (pod.is_some() && matches!(job.state, State::Succeeded | State::Failed { .. })) {
        true => Readiness::Ready,
        false => Readiness::NotYet(pod_wait::stage_words(pod)),
    }
}
