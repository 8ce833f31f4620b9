//! `--wait` with a sweep: follow each submitted job in turn until its pods
//! run, one wait (`follow::wait`) after the other under one deadline, and
//! say for each whether it runs or why it cannot start. The jobs were all
//! submitted first, so the later waits mostly find pods already running.
//! A job that stays pending uses up the deadline; the jobs after it are
//! then said from one listing of the namespace's pods, so that the table
//! still tells which run and which cannot start.

use std::io::IsTerminal as _;
use std::time::Instant;

use anyhow::Result;
use serde_json::Value;

use crate::cluster::kubectl;
use crate::cluster::pods::{self, Stage};
use crate::follow::progress::{self, Progress};
use crate::follow::wait::{self, End};
use crate::job::duration::Seconds;
use crate::job::spec::JobSpec;
use crate::runai::{self, Dialect};

/// What `--wait` asked for.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    /// `--wait-timeout`, for the whole sweep.
    pub timeout: Seconds,
    pub kubectl_timeout: Seconds,
    /// For the delete command a job that cannot start is shown with.
    pub dialect: Dialect,
}

/// How the wait for one job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followed {
    Running,
    Ended,
    CannotStart(String),
    TimedOut(String),
    /// Not followed: Ctrl-C, or the deadline, came first.
    Skipped(&'static str),
}

impl Followed {
    /// The table's words.
    pub fn words(&self) -> String {
        match self {
            Followed::Running => "running".to_owned(),
            Followed::Ended => "ended".to_owned(),
            // The wait's words name the pod: `lr-3-0-0 cannot start: ...`.
            Followed::CannotStart(why) => why.lines().next().unwrap_or_default().to_owned(),
            Followed::TimedOut(states) => format!("still waiting (--wait-timeout): {states}"),
            Followed::Skipped(why) => format!("submitted, not followed ({why})"),
        }
    }
}

/// Follows the jobs of `specs` in `namespace`, in order.
pub fn follow_all(specs: &[&JobSpec], namespace: &str, request: Request) -> Result<Vec<Followed>> {
    let deadline = Instant::now() + request.timeout.as_duration();
    let stderr = std::io::stderr();
    let width = progress::terminal_width(libc::STDERR_FILENO).unwrap_or(80);
    let mut ended = Vec::new();
    let mut unfollowed = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if crate::follow::interrupt::interrupted() {
            ended.push(Followed::Skipped("Ctrl-C"));
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        if left == 0 {
            ended.push(Followed::Skipped("--wait-timeout passed"));
            unfollowed.push(i);
            continue;
        }
        let plan = wait::Plan {
            job: &spec.name,
            namespace,
            pods: pods::expected_pods(&spec.name, spec.workers),
            timeout: Seconds(left),
            kubectl_timeout: request.kubectl_timeout,
            ended_is_arrived: false,
        };
        let mut shown = Progress::new(stderr.lock(), stderr.is_terminal(), width);
        let end = wait::follow(&plan, &mut shown)?;
        drop(shown);
        ended.push(match end {
            End::Arrived { ended: true } => Followed::Ended,
            End::Arrived { ended: false } => Followed::Running,
            End::CannotStart(why) => say_cannot_start(spec, why, request.dialect),
            End::TimedOut(states) => Followed::TimedOut(states),
            End::Interrupted => Followed::Skipped("Ctrl-C"),
        });
    }
    if !unfollowed.is_empty()
        && !crate::follow::interrupt::interrupted()
        && let Some(items) = pods_now(namespace, request.kubectl_timeout)
    {
        for i in unfollowed {
            ended[i] = match as_listed(&specs[i].name, specs[i].workers, &items) {
                Followed::CannotStart(why) => say_cannot_start(specs[i], why, request.dialect),
                followed => followed,
            };
        }
    }
    Ok(ended)
}

fn say_cannot_start(spec: &JobSpec, why: String, dialect: Dialect) -> Followed {
    eprintln!(
        "submit: {why}\nsubmit: the job is still there; delete it with: {}",
        runai::delete_command(&spec.name, dialect)
    );
    Followed::CannotStart(why)
}

/// The namespace's pods, from one `kubectl get pods`; none if it fails (the
/// jobs are then said as not followed).
fn pods_now(namespace: &str, timeout: Seconds) -> Option<Vec<Value>> {
    let done = kubectl::get_pods(namespace, timeout).run_for_output(kubectl::kill_after(timeout)).ok()?;
    let list: Value = serde_json::from_slice(&done.stdout).ok().filter(|_| done.status.success())?;
    list["items"].as_array().cloned()
}

/// How the job `job` of `workers` is, from the listed pods `items`: as its
/// wait would have ended, or still on its way at the deadline.
fn as_listed(job: &str, workers: u32, items: &[Value]) -> Followed {
    let mut on_the_way = Vec::new();
    let mut running = false;
    for name in pods::expected_pods(job, workers) {
        let Some(pod) = items.iter().find(|p| p["metadata"]["name"] == name.as_str()) else {
            on_the_way.push(format!("{name}: not created yet"));
            continue;
        };
        match pods::stage(pod) {
            Stage::Failed(failure) => {
                return Followed::CannotStart(format!("{name} cannot start: {}", failure.words()));
            }
            Stage::Running { .. } => running = true,
            Stage::Succeeded => {}
            stage => on_the_way.push(format!("{name}: {}", stage.words())),
        }
    }
    match (on_the_way.is_empty(), running) {
        (false, _) => Followed::TimedOut(on_the_way.join("; ")),
        (true, true) => Followed::Running,
        (true, false) => Followed::Ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str, state: Value) -> Value {
        json!({"metadata": {"name": name}, "spec": {"nodeName": "n1", "containers": [{"image": "i"}]},
               "status": {"phase": phase, "containerStatuses": [{"state": state}]}})
    }

    #[test]
    fn a_listed_job_is_said_as_its_wait_would_have_ended() {
        let running = pod("a-0-0", "Running", json!({"running": {}}));
        let refused = pod("b-0-0", "Pending", json!({"waiting": {"reason": "ErrImagePull", "message": "denied"}}));
        let done = pod("c-0-0", "Succeeded", json!({"terminated": {"exitCode": 0}}));
        let items = [running, refused, done];
        assert_eq!(as_listed("a", 0, &items), Followed::Running);
        assert_eq!(
            as_listed("b", 0, &items),
            Followed::CannotStart("b-0-0 cannot start: cannot pull the image i (ErrImagePull): denied".into())
        );
        assert_eq!(as_listed("c", 0, &items), Followed::Ended);
        assert_eq!(as_listed("d", 0, &items), Followed::TimedOut("d-0-0: not created yet".into()));
    }
}
