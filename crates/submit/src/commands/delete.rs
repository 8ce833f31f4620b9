//! `submit delete NAME...`: each job (a sweep's name: each of its jobs)
//! deleted through the run:ai CLI in the detected dialect, always naming
//! the project and never asking. Every name is checked against one listing
//! first: with an unknown name, nothing is deleted.

use anyhow::{Result, anyhow};

use super::names::{self, Take};
use super::saved::{self, Store};
use super::{Place, gone};
use crate::app::{Outcome, say};
use crate::cluster::child_output;
use crate::cluster::invocation::describe_status;
use crate::cluster::jobs::{self, Job};
use crate::cluster::kubectl::kill_after;
use crate::runai::{self, Dialect};

/// What to delete, and how.
#[derive(Debug)]
pub struct Plan {
    pub place: Place,
    pub dialect: Dialect,
    /// Jobs' names, or sweeps' for all their jobs.
    pub jobs: Vec<String>,
    /// Where each job's log is kept before it is deleted; none with `--no-save`.
    pub save: Option<Store>,
    pub take: Take,
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    let list = plan.place.pods()?;
    let all = jobs::from_pod_list(&list);
    let named = names::resolve(&all, &plan.jobs, plan.take, &plan.place.namespace)?;
    for said in named.iter().filter_map(names::Named::said) {
        say(&format!("deleting {said}"));
    }
    let chosen = names::jobs(&named);
    saved::keep_before_delete(plan.save.as_ref(), &plan.place, &list, &chosen, "submit delete")?;
    delete_all(&plan.place, plan.dialect, &chosen)
}

/// Deletes `jobs` one by one, saying each; a failed delete does not stop
/// the others, and makes the exit code 1.
pub fn delete_all(place: &Place, dialect: Dialect, jobs: &[&Job]) -> Result<Outcome> {
    let mut failed = Vec::new();
    for job in jobs {
        match delete_one(place, dialect, job) {
            Ok(()) => say(&format!("deleted the job {} ({})", job.name, pods_said(job))),
            Err(e) => {
                say(&format!("{e:#}"));
                failed.push(job.name.as_str());
            }
        }
    }
    match failed.as_slice() {
        [] => Ok(Outcome::Success),
        names => Err(gone::not_deleted(place, names)),
    }
}

fn pods_said(job: &Job) -> String {
    match job.pods.as_slice() {
        [one] => format!("pod {one}"),
        pods => format!("pods {}", pods.join(", ")),
    }
}

/// One run:ai delete; its own words when it fails.
fn delete_one(place: &Place, dialect: Dialect, job: &Job) -> Result<()> {
    let inv = runai::delete_in_project(&job.name, &place.project, dialect);
    say(&format!("running: {inv}"));
    let done = inv.run_for_output(kill_after(place.kubectl_timeout))?;
    if done.status.success() {
        return Ok(());
    }
    let said = child_output::for_terminal(if done.stderr.is_empty() { &done.stdout } else { &done.stderr });
    let said = if said.is_empty() { "(runai printed no message)".to_owned() } else { said };
    Err(anyhow!("runai could not delete the job {} ({}):\n{said}", job.name, describe_status(done.status)))
}

#[cfg(test)]
mod tests {
    use crate::runai::{self, Dialect, V2Flags};

    #[test]
    fn a_delete_names_the_project_and_never_asks() {
        assert_eq!(runai::delete_in_project("j", "p", Dialect::V1).to_string(), "runai delete job j -p p");
        assert_eq!(
            runai::delete_in_project("j", "p", Dialect::V2(V2Flags::ERA_2_19)).to_string(),
            "runai workload delete -y -p p j"
        );
    }
}
