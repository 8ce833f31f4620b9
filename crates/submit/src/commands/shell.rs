//! `submit shell JOB [--worker I] [-- CMD...]`: zsh (or CMD) in the job's
//! pod through `kubectl exec -it`, which takes over the terminal. A job
//! whose pod is not running yet is waited for, as `--attach` does; a job
//! that has ended has no pod to go into.

use anyhow::{Result, anyhow};
use serde_json::Value;

use super::Place;
use super::pod_wait::{self, Waited};
use crate::app::{Outcome, say};
use crate::cluster::jobs::Job;
use crate::cluster::kubectl;

/// Where to open what.
#[derive(Debug)]
pub struct Plan {
    pub place: Place,
    pub job: String,
    pub worker: Option<u32>,
    /// Empty: zsh.
    pub command: Vec<String>,
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    let ready = |job: &Job, pod: Option<&Value>| pod_wait::running(job, pod, "there is no shell to open");
    let pod = match pod_wait::until_ready(&plan.place, &plan.job, plan.worker, Some("run"), ready)? {
        Waited::Pod(pod) => pod,
        Waited::Interrupted => return Ok(Outcome::External(130)),
    };
    let exec = kubectl::exec_in(&plan.place.namespace, &pod, &plan.command);
    say(&format!("running: {exec}"));
    Err(anyhow!("{}", exec.exec_replacing()))
}
