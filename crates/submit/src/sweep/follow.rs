//! `--wait` with a sweep: follow each submitted job in turn until its pods
//! run, one wait (`follow::wait`) after the other under one deadline, and
//! say for each whether it runs or why it cannot start. The jobs were all
//! submitted first, so the later waits mostly find pods already running.

use std::io::IsTerminal as _;
use std::time::Instant;

use anyhow::Result;

use crate::cluster::pods;
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
    for spec in specs {
        if crate::follow::interrupt::interrupted() {
            ended.push(Followed::Skipped("Ctrl-C"));
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        if left == 0 {
            ended.push(Followed::Skipped("--wait-timeout passed"));
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
            End::CannotStart(why) => {
                eprintln!(
                    "submit: {why}\nsubmit: the job is still there; delete it with: {}",
                    runai::delete_command(&spec.name, request.dialect)
                );
                Followed::CannotStart(why)
            }
            End::TimedOut(states) => Followed::TimedOut(states),
            End::Interrupted => Followed::Skipped("Ctrl-C"),
        });
    }
    Ok(ended)
}
