//! `submit clean [--failed] [--dry-run] [NAME...]`: every succeeded job
//! (with `--failed` the failed, preempted and evicted ones too) listed,
//! then deleted; with names, only among those jobs and sweeps' jobs. A job
//! that is pending, pulling, stuck or running is never touched: only a
//! finished one is.

use anyhow::Result;

use super::Place;
use super::delete::delete_all;
use super::list::table;
use super::names::{self, Take};
use super::saved::{self, Store};
use crate::app::{Outcome, print, say};
use crate::clock::unix_now;
use crate::cluster::jobs::{self, Job, State};
use crate::runai::Dialect;

/// What to clean.
#[derive(Debug)]
pub struct Plan {
    pub place: Place,
    /// `None` for a dry run, which only lists.
    pub dialect: Option<Dialect>,
    pub failed: bool,
    /// Where each job's log is kept before it is deleted; none with `--no-save`.
    pub save: Option<Store>,
    /// Only these jobs, or sweeps' jobs; all the namespace's when empty.
    pub names: Vec<String>,
    pub take: Take,
}

/// Whether `clean` takes `job`.
fn cleanable(job: &Job, failed: bool) -> bool {
    match job.state {
        State::Succeeded => true,
        _ => failed && job.state.finished(),
    }
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    let list = plan.place.pods()?;
    let all = jobs::from_pod_list(&list);
    let (scope, of) = match plan.names.as_slice() {
        [] => (all.iter().collect(), String::new()),
        given => {
            let named = names::resolve(&all, given, plan.take, &plan.place.namespace)?;
            (names::jobs(&named), format!(" of {}", given.join(", ")))
        }
    };
    let (chosen, kept): (Vec<&Job>, Vec<&Job>) = scope.into_iter().partition(|j| cleanable(j, plan.failed));
    let chosen: Vec<Job> = chosen.into_iter().cloned().collect();
    let what = if plan.failed { "succeeded or failed" } else { "succeeded" };
    if !of.is_empty() && !kept.is_empty() {
        let left: Vec<String> = kept.iter().map(|j| format!("{} ({})", j.name, j.state.word())).collect();
        say(&format!("keeping {} job(s){of} that are not {what}: {}", kept.len(), left.join(", ")));
    }
    if chosen.is_empty() {
        say(&format!("nothing to clean: no {what} jobs{of} in namespace {}", plan.place.namespace));
        return Ok(Outcome::Success);
    }
    let verb = if plan.dialect.is_some() { "deleting" } else { "dry run: would delete" };
    say(&format!("{verb} {} {what} job(s){of} in namespace {}:", chosen.len(), plan.place.namespace));
    print(&table::render(&chosen, unix_now(), false))?;
    let Some(dialect) = plan.dialect else { return Ok(Outcome::Success) };
    let chosen: Vec<&Job> = chosen.iter().collect();
    saved::keep_before_delete(plan.save.as_ref(), &plan.place, &list, &chosen, "submit clean")?;
    delete_all(&plan.place, dialect, &chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(state: State) -> Job {
        Job {
            name: "j".into(),
            kind: None,
            state,
            gpus: 0.0,
            node: None,
            pods: vec!["j-0-0".into()],
            created: String::new(),
            created_unix: 0,
            restarts: 0,
            sweep: None,
        }
    }

    #[test]
    fn only_finished_jobs_are_cleaned_and_failed_ones_only_when_asked() {
        let states = [
            State::Pending { reason: None },
            State::Pulling,
            State::Stuck { reason: "ImagePullBackOff".into(), exit_code: None },
            State::Running { since: None },
            State::Succeeded,
            State::Failed { exit_code: Some(1), reason: String::new() },
            State::Preempted { reason: "PreemptionByScheduler".into() },
            State::Evicted { reason: "Evicted".into() },
        ];
        let plain: Vec<bool> = states.iter().map(|s| cleanable(&job(s.clone()), false)).collect();
        let failed: Vec<bool> = states.iter().map(|s| cleanable(&job(s.clone()), true)).collect();
        assert_eq!(plain, [false, false, false, false, true, false, false, false]);
        assert_eq!(failed, [false, false, false, false, true, true, true, true]);
    }
}
