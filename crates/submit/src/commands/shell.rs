//! `submit shell JOB [--worker I] [-- CMD...]`: zsh (or CMD) in the job's
//! pod through `kubectl exec -it`, which takes over the terminal. A job
//! whose pod is not running yet is waited for, as `--attach` does; a job
//! that has ended has no pod to go into.

use anyhow::{Result, anyhow};
use serde_json::Value;

use super::Place;
use super::pod_wait::{self, Readiness, Waited};
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
    let pod = match pod_wait::until_ready(&plan.place, &plan.job, plan.worker, Some("run"), readiness)? {
        Waited::Pod(pod) => pod,
        Waited::Interrupted => return Ok(Outcome::External(130)),
    };
    let exec = kubectl::exec_in(&plan.place.namespace, &pod, &plan.command);
    say(&format!("running: {exec}"));
    Err(anyhow!("{}", exec.exec_replacing()))
}

/// Ready when the pod runs; never once the job has ended.
fn readiness(job: &Job, pod: Option<&Value>) -> Readiness {
    let running = pod.is_some_and(|p| {
        p["status"]["phase"] == "Running"
            && p["status"]["containerStatuses"]
                .as_array()
                .is_some_and(|cs| cs.iter().all(|c| c["state"].get("running").is_some()))
    });
    match (running, job.state.finished()) {
        (true, _) => Readiness::Ready,
        (false, true) => Readiness::Never(format!("has ended ({}): there is no shell to open", job.state.words(0))),
        (false, false) => Readiness::NotYet(pod_wait::stage_words(pod)),
    }
}
