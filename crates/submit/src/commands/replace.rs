//! `submit --replace -n NAME ...`: the finished jobs the pre-flight found
//! under the name are kept (log and status, as `submit delete` keeps them),
//! deleted through the run:ai CLI, and waited for until their pods are
//! gone; then the submission goes on. A job of the name that is still
//! pending or running never gets here: the pre-flight refuses it.
//!
//! The step takes a list of jobs, so that a submission of several jobs
//! (a sweep) replaces all of its taken names at once.

use std::io::Read as _;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::Value;

use super::Place;
use super::delete::delete_all;
use super::saved::{self, Store};
use crate::app::{Context, say};
use crate::clock::unix_now;
use crate::cluster::child_output;
use crate::cluster::invocation::{Invocation, describe_status, stop_group};
use crate::cluster::jobs::{self, Job};
use crate::cluster::kubectl;
use crate::cluster::preflight::{self, Taken};
use crate::follow::interrupt;
use crate::job::duration::Seconds;
use crate::runai::{self, Dialect};

/// How often the wait looks at kubectl and at Ctrl-C.
const POLL: Duration = Duration::from_millis(50);

/// A submission's `--replace`, once the pre-flight has found what it
/// replaces.
#[derive(Debug)]
pub struct Replacing {
    taken: Taken,
    place: Place,
    store: Option<Store>,
    dialect: Dialect,
    wait: Seconds,
}

impl Replacing {
    /// The pre-flight of `check` for `--replace` of the jobs `names` (one,
    /// or a sweep's) ([`preflight::check_replacing`]), and where the replaced
    /// jobs' logs are kept (unless `keep` is false).
    pub fn check(
        check: &preflight::Plan<'_>,
        names: &[String],
        place: Place,
        keep: bool,
        ctx: &Context,
        wait: Seconds,
    ) -> Result<Self> {
        let taken = preflight::check_replacing(check, names, place.kubectl_timeout)?;
        let store = match keep {
            false => None,
            true => Some(Store::locate(ctx).map_err(|e| {
                anyhow!(
                    "{e}: nowhere to keep the log of the job --replace deletes; nothing was submitted (--no-save \
                     deletes without)"
                )
            })?),
        };
        Ok(Replacing { taken, place, store, dialect: check.dialect, wait })
    }

    fn plan(&self) -> Plan<'_> {
        Plan { place: &self.place, dialect: self.dialect, save: self.store.as_ref(), wait: self.wait }
    }

    /// [`run`] on what the pre-flight found.
    pub fn run(&self) -> Result<Waited> {
        run(&self.plan(), &self.taken.list, &self.taken.jobs)
    }

    /// [`dry_run`] on what the pre-flight found: its commands, one a line.
    pub fn dry_run(&self) -> String {
        dry_run(&self.plan(), &self.taken.list, &self.taken.jobs)
            .iter()
            .map(|c| format!("{}\n", c.shell_line()))
            .collect()
    }
}

/// How to replace.
#[derive(Debug)]
pub struct Plan<'a> {
    pub place: &'a Place,
    pub dialect: Dialect,
    /// Where the jobs' logs are kept first; none with `--no-save`.
    pub save: Option<&'a Store>,
    /// The longest wait for the deleted jobs' pods to go.
    pub wait: Seconds,
}

/// Keeps, deletes and waits out `taken`, the finished jobs found in
/// `list` (the pre-flight's listing). Nothing is deleted if a log cannot
/// be kept; an error says what happened and that nothing was submitted.
pub fn run(plan: &Plan<'_>, list: &Value, taken: &[Job]) -> Result<Waited> {
    if taken.is_empty() {
        return Ok(Waited::Gone);
    }
    for job in taken {
        say(&format!("--replace: replacing the job {} ({}; {})", job.name, job.state.words(unix_now()), pods(job)));
    }
    let refs: Vec<&Job> = taken.iter().collect();
    let nothing = |e: anyhow::Error| anyhow!("{e:#}; nothing was submitted");
    saved::keep_before_delete(plan.save, plan.place, list, &refs, "submit --replace").map_err(nothing)?;
    delete_all(plan.place, plan.dialect, &refs).map_err(nothing)?;
    wait_gone(plan, list, taken)
}

/// `--replace --dry-run`: says what would be kept and deleted, and returns
/// the commands that would run before the submission.
pub fn dry_run(plan: &Plan<'_>, list: &Value, taken: &[Job]) -> Vec<Invocation> {
    let mut commands = Vec::new();
    for job in taken {
        let kept = match plan.save {
            Some(store) => format!("keep its log and status in {}/, ", store.job_folder(&job.name).display()),
            None => String::new(),
        };
        say(&format!(
            "dry run: --replace would {kept}delete the job {} ({}; {}) and wait until its pods are gone, then submit",
            job.name,
            job.state.words(unix_now()),
            pods(job)
        ));
        commands.push(runai::delete_in_project(&job.name, &plan.place.project, plan.dialect));
    }
    if !taken.is_empty() {
        commands.push(kubectl::wait_deleted(&plan.place.namespace, &all_pods(list, taken), plan.wait));
    }
    commands
}

fn pods(job: &Job) -> String {
    match job.pods.as_slice() {
        [one] => format!("pod {one}"),
        pods => format!("pods {}", pods.join(", ")),
    }
}

/// Every pod of `taken`, the replaced ones too: all must go.
fn all_pods(list: &Value, taken: &[Job]) -> Vec<String> {
    taken
        .iter()
        .flat_map(|job| jobs::pods_of(list, &job.name))
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// How the wait for the deleted jobs' pods ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// Every pod is gone: the submission goes on.
    Gone,
    /// Ctrl-C: the jobs are deleted, nothing is submitted.
    Interrupted,
}

/// One `kubectl wait --for=delete` of every pod of `taken`, bounded by
/// `plan.wait`. kubectl runs in its own process group: a Ctrl-C is
/// caught here, and ends it too.
fn wait_gone(plan: &Plan<'_>, list: &Value, taken: &[Job]) -> Result<Waited> {
    let pods = all_pods(list, taken);
    let names: Vec<&str> = taken.iter().map(|j| j.name.as_str()).collect();
    let names = names.join(", ");
    let inv = kubectl::wait_deleted(&plan.place.namespace, &pods, plan.wait);
    say(&format!("waiting for the pods of {names} to be gone: {inv}"));
    let late = |why: String| {
        anyhow!(
            "the pods of {names} were not gone after {}s ({why}); the job was deleted, nothing was submitted: \
             submit again once `submit list` no longer shows it (--wait-timeout waits longer)",
            plan.wait
        )
    };
    interrupt::catch().map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))?;
    let mut child = inv.spawn_piped()?;
    let until = Instant::now() + kubectl::kill_after(plan.wait);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if interrupt::interrupted() {
            stop_group(&mut child);
            say(&format!("interrupted: {names} deleted, nothing was submitted"));
            return Ok(Waited::Interrupted);
        }
        if Instant::now() > until {
            stop_group(&mut child);
            return Err(late(format!("kubectl wait did not end by itself within {}s", plan.wait)));
        }
        std::thread::sleep(POLL);
    };
    if !status.success() {
        let mut stderr = Vec::new();
        // kubectl has ended: its stderr is complete, and a short message.
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_end(&mut stderr);
        }
        // Its last line is its verdict; client-go's watch logs come before.
        let said = child_output::kubectl_said(&stderr);
        let said = said.lines().last().unwrap_or_default();
        return Err(late(format!("kubectl wait: {}: {said}", describe_status(status))));
    }
    say(&format!("the pods of {names} are gone"));
    Ok(Waited::Gone)
}
