//! The names given to `delete` and `clean`: a job's, or a sweep's for all
//! its jobs. A sweep is what its pods' `NB_SWEEP` says, never a guess from
//! names. A name that is both a job's and a sweep's is refused unless
//! `--job` or `--sweep` says which, since either guess could delete what
//! was meant to stay.

use anyhow::{Result, anyhow};

use crate::cluster::jobs::{Job, sweep};

/// What the names stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// A job's or a sweep's, refused when it is both.
    Either,
    Job,
    Sweep,
}

/// What one name stands for.
#[derive(Debug)]
pub struct Named<'a> {
    pub name: String,
    /// The one job, or the sweep's jobs by index.
    pub jobs: Vec<&'a Job>,
    pub sweep: bool,
}

impl Named<'_> {
    /// What a sweep's name is about to take, for the line said first.
    pub fn said(&self) -> Option<String> {
        let names: Vec<&str> = self.jobs.iter().map(|j| j.name.as_str()).collect();
        self.sweep.then(|| format!("the sweep {}: its {} job(s) {}", self.name, names.len(), names.join(", ")))
    }
}

/// Every job that `named` stands for, each once, in the order named.
pub fn jobs<'a>(named: &[Named<'a>]) -> Vec<&'a Job> {
    let mut out: Vec<&Job> = Vec::new();
    for job in named.iter().flat_map(|n| n.jobs.iter().copied()) {
        if !out.iter().any(|j| j.name == job.name) {
            out.push(job);
        }
    }
    out
}

/// What each of `names` stands for among the jobs `all` of `namespace`, in
/// the order given; an error naming every name that stands for nothing, or
/// for a job and a sweep at once.
pub fn resolve<'a>(all: &'a [Job], names: &[String], take: Take, namespace: &str) -> Result<Vec<Named<'a>>> {
    let mut found: Vec<Named<'a>> = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            continue;
        }
        let job = all.iter().find(|j| j.name == *name);
        let sweep = sweep::jobs_of(all, name);
        let as_job = |job: &'a Job| Named { name: name.clone(), jobs: vec![job], sweep: false };
        let as_sweep = |jobs: Vec<&'a Job>| Named { name: name.clone(), jobs, sweep: true };
        match (take, job, sweep.is_empty()) {
            (Take::Either | Take::Job, Some(job), true) | (Take::Job, Some(job), false) => found.push(as_job(job)),
            (Take::Either | Take::Sweep, None, false) | (Take::Sweep, Some(_), false) => found.push(as_sweep(sweep)),
            (Take::Either, Some(_), false) => problems.push(format!(
                "{name} is both a job and a sweep of {} job(s) ({}): say which, with --job or --sweep",
                sweep.len(),
                sweep.iter().map(|j| j.name.as_str()).collect::<Vec<_>>().join(", ")
            )),
            (Take::Sweep, Some(_), true) => problems.push(format!("{name} is a job, not a sweep (--sweep)")),
            (Take::Job, None, false) => problems.push(format!("{name} is a sweep, not a job (--job)")),
            (_, None, true) => unknown.push(name),
        }
    }
    match unknown.as_slice() {
        [] => {}
        [one] => problems.push(format!("no job or sweep named {one} in namespace {namespace}{}", hint(all, one))),
        many => problems.push(format!("no jobs or sweeps named {} in namespace {namespace}", many.join(", "))),
    }
    match problems.is_empty() {
        true => Ok(found),
        false => Err(anyhow!("{}; nothing was deleted", problems.join("\n"))),
    }
}

/// For an unknown name: the jobs named like a sweep's of that name, which
/// are not one, or where to look.
fn hint(all: &[Job], name: &str) -> String {
    let alike: Vec<&str> = all
        .iter()
        .filter(|j| j.sweep.is_none())
        .filter(|j| j.name.strip_prefix(name).and_then(|r| r.strip_prefix('-')).is_some_and(is_index))
        .map(|j| j.name.as_str())
        .collect();
    match alike.as_slice() {
        [] => " (`submit list` shows them)".to_owned(),
        jobs => format!(
            " ({} {} named like its points, but no pod says it belongs to a sweep {name}: name the jobs themselves)",
            jobs.join(", "),
            if jobs.len() == 1 { "is" } else { "are" }
        ),
    }
}

fn is_index(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::jobs::{Membership, State};

    fn job(name: &str, sweep: Option<&str>) -> Job {
        Job {
            name: name.to_owned(),
            kind: None,
            state: State::Succeeded,
            gpus: 0.0,
            node: None,
            pods: vec![format!("{name}-0-0")],
            created: String::new(),
            created_unix: 0,
            restarts: 0,
            sweep: sweep.map(|s| Membership { sweep: s.into(), size: Some(2), index: None, point: None }),
        }
    }

    fn names(named: &[Named<'_>]) -> Vec<String> {
        jobs(named).iter().map(|j| j.name.clone()).collect()
    }

    #[test]
    fn a_sweeps_name_takes_its_jobs_and_a_jobs_name_the_job() {
        let all = [job("lr-0", Some("lr")), job("lr-1", Some("lr")), job("solo", None)];
        let given = ["lr".to_owned(), "solo".to_owned(), "lr-1".to_owned(), "lr".to_owned()];
        let named = resolve(&all, &given, Take::Either, "ns").unwrap();
        assert_eq!(names(&named), ["lr-0", "lr-1", "solo"]);
        assert_eq!(named[0].said().as_deref(), Some("the sweep lr: its 2 job(s) lr-0, lr-1"));
        assert_eq!(named[1].said(), None);
    }

    #[test]
    fn a_name_of_a_job_and_a_sweep_needs_saying_which() {
        let all = [job("lr-0", Some("lr")), job("lr-1", Some("lr")), job("lr", None)];
        let given = ["lr".to_owned()];
        let refused = resolve(&all, &given, Take::Either, "ns").unwrap_err().to_string();
        assert_eq!(
            refused,
            "lr is both a job and a sweep of 2 job(s) (lr-0, lr-1): say which, with --job or --sweep; nothing was deleted"
        );
        assert_eq!(names(&resolve(&all, &given, Take::Job, "ns").unwrap()), ["lr"]);
        assert_eq!(names(&resolve(&all, &given, Take::Sweep, "ns").unwrap()), ["lr-0", "lr-1"]);
        let wrong = resolve(&all, &["lr-0".to_owned()], Take::Sweep, "ns").unwrap_err().to_string();
        assert_eq!(wrong, "lr-0 is a job, not a sweep (--sweep); nothing was deleted");
    }

    #[test]
    fn unknown_names_are_all_said_and_look_alikes_are_not_taken_for_a_sweep() {
        let all = [job("grid-0", None), job("grid-1", None), job("gridlock", None)];
        let one = resolve(&all, &["grid".to_owned()], Take::Either, "ns").unwrap_err().to_string();
        assert_eq!(
            one,
            "no job or sweep named grid in namespace ns (grid-0, grid-1 are named like its points, but no pod says \
             it belongs to a sweep grid: name the jobs themselves); nothing was deleted"
        );
        let many = resolve(&all, &["a".to_owned(), "b".to_owned()], Take::Either, "ns").unwrap_err().to_string();
        assert_eq!(many, "no jobs or sweeps named a, b in namespace ns; nothing was deleted");
    }
}
