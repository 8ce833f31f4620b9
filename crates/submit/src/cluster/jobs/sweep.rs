//! Sweeps: the jobs whose pods say, in `NB_SWEEP`, that they are points of
//! one `submit --sweep`. A sweep is recognised from these variables only,
//! never from names: `lr-0` and `lr-1` submitted one by one are two jobs.

use common::env::EnvVars;
use serde_json::Value;

use super::{Job, State, env_value};

/// What a job's pod says about the sweep it is a point of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The sweep's name (`NB_SWEEP`).
    pub sweep: String,
    /// How many points the sweep has (`NB_SWEEP_SIZE`).
    pub size: Option<u32>,
    /// This job's point (`NB_SWEEP_INDEX`, written zero-padded).
    pub index: Option<u32>,
    /// The point as `KEY=VALUE` words (`NB_SWEEP_POINT`).
    pub point: Option<String>,
}

impl Membership {
    /// The membership a pod's first container declares, if it names a sweep.
    pub fn of_pod(pod: &Value) -> Option<Self> {
        let sweep = env_value(pod, EnvVars::NB_SWEEP).filter(|s| !s.is_empty())?;
        let number = |name: &str| env_value(pod, name).and_then(|v| v.trim().parse::<u32>().ok());
        Some(Membership {
            sweep: sweep.to_owned(),
            size: number(EnvVars::NB_SWEEP_SIZE),
            index: number(EnvVars::NB_SWEEP_INDEX),
            point: env_value(pod, EnvVars::NB_SWEEP_POINT).map(str::to_owned),
        })
    }
}

/// The order a sweep's counts are said in: what is under way first.
const COUNTED: [&str; 8] = ["running", "pulling", "pending", "stuck", "failed", "preempted", "evicted", "succeeded"];

/// A sweep's jobs, as the namespace has them now.
#[derive(Debug)]
pub struct Sweep<'a> {
    pub name: &'a str,
    /// By index, then name.
    pub jobs: Vec<&'a Job>,
}

impl<'a> Sweep<'a> {
    /// The number of points: the largest size its pods say, and at least
    /// as many as it has jobs.
    pub fn size(&self) -> u32 {
        let said = self.jobs.iter().filter_map(|j| j.sweep.as_ref()?.size).max().unwrap_or(0);
        said.max(u32::try_from(self.jobs.len()).unwrap_or(u32::MAX))
    }

    /// Points without a job (deleted, or never submitted).
    pub fn gone(&self) -> u32 {
        self.size() - u32::try_from(self.jobs.len()).unwrap_or(u32::MAX).min(self.size())
    }

    /// How many of its jobs are in each state that any is in, in
    /// [`COUNTED`]'s order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        COUNTED
            .iter()
            .map(|word| (*word, self.jobs.iter().filter(|j| j.state.word() == *word).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// When its first job was created (Unix seconds).
    pub fn created_unix(&self) -> i64 {
        self.jobs.iter().map(|j| j.created_unix).min().unwrap_or(0)
    }

    /// The state that most needs a look: a stopped job before one on its
    /// way, before a running one, before a finished one.
    pub fn most_pressing(&self) -> Option<&'a State> {
        self.jobs.iter().map(|j| &j.state).min_by_key(|s| urgency(s))
    }
}

/// How soon a job in `state` needs a look, for [`Sweep::most_pressing`].
fn urgency(state: &State) -> u8 {
    match state {
        State::Stuck { .. } | State::Failed { .. } | State::Preempted { .. } | State::Evicted { .. } => 0,
        State::Pending { .. } | State::Pulling => 1,
        State::Running { .. } => 2,
        State::Succeeded => 3,
    }
}

/// One line of `submit list`: a job, or a sweep's jobs together.
#[derive(Debug)]
pub enum Entry<'a> {
    Job(&'a Job),
    Sweep(Sweep<'a>),
}

impl Entry<'_> {
    fn created_unix(&self) -> i64 {
        match self {
            Entry::Job(job) => job.created_unix,
            Entry::Sweep(sweep) => sweep.created_unix(),
        }
    }

    fn name(&self) -> &str {
        match self {
            Entry::Job(job) => &job.name,
            Entry::Sweep(sweep) => sweep.name,
        }
    }
}

/// `jobs` with each sweep's jobs as one entry, newest first (a sweep by
/// its first job), then by name.
pub fn entries(jobs: &[Job]) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry<'_>> = Vec::new();
    for job in jobs {
        let Some(member) = &job.sweep else {
            out.push(Entry::Job(job));
            continue;
        };
        let known = out.iter_mut().find_map(|e| match e {
            Entry::Sweep(s) if s.name == member.sweep => Some(s),
            _ => None,
        });
        match known {
            Some(sweep) => sweep.jobs.push(job),
            None => out.push(Entry::Sweep(Sweep { name: &member.sweep, jobs: vec![job] })),
        }
    }
    for entry in &mut out {
        if let Entry::Sweep(sweep) = entry {
            sweep.jobs.sort_by(|a, b| index(a).cmp(&index(b)).then_with(|| a.name.cmp(&b.name)));
        }
    }
    out.sort_by(|a, b| b.created_unix().cmp(&a.created_unix()).then_with(|| a.name().cmp(b.name())));
    out
}

fn index(job: &Job) -> Option<u32> {
    job.sweep.as_ref().and_then(|s| s.index)
}

/// The jobs of the sweep `name`, by index.
pub fn jobs_of<'a>(jobs: &'a [Job], name: &str) -> Vec<&'a Job> {
    let mut found: Vec<&Job> = jobs.iter().filter(|j| j.sweep.as_ref().is_some_and(|s| s.sweep == name)).collect();
    found.sort_by(|a, b| index(a).cmp(&index(b)).then_with(|| a.name.cmp(&b.name)));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(name: &str, sweep: Option<(&str, u32, u32)>, state: State, created_unix: i64) -> Job {
        Job {
            name: name.to_owned(),
            kind: None,
            state,
            gpus: 1.0,
            node: None,
            pods: vec![format!("{name}-0-0")],
            created: String::new(),
            created_unix,
            restarts: 0,
            sweep: sweep.map(|(s, size, index)| Membership {
                sweep: s.to_owned(),
                size: Some(size),
                index: Some(index),
                point: None,
            }),
        }
    }

    #[test]
    fn membership_is_read_from_the_first_containers_environment_only() {
        let pod = |env: Value| json!({"spec": {"containers": [{"name": "main", "env": env}]}});
        let member = pod(json!([{"name": "NB_SWEEP", "value": "lr"}, {"name": "NB_SWEEP_SIZE", "value": "12"},
            {"name": "NB_SWEEP_INDEX", "value": "07"}, {"name": "NB_SWEEP_POINT", "value": "lr=1e-3 seed=0"}]));
        assert_eq!(
            Membership::of_pod(&member),
            Some(Membership {
                sweep: "lr".into(),
                size: Some(12),
                index: Some(7),
                point: Some("lr=1e-3 seed=0".into())
            })
        );
        for not_one in [pod(json!([{"name": "NB_SWEEP", "value": ""}])), pod(json!([])), json!({"metadata": {}})] {
            assert_eq!(Membership::of_pod(&not_one), None, "{not_one}");
        }
    }

    #[test]
    fn a_sweeps_jobs_make_one_entry_and_same_named_jobs_without_the_variables_do_not() {
        let running = State::Running { since: None };
        let jobs = [
            job("solo", None, State::Succeeded, 300),
            job("lr-1", Some(("lr", 4, 1)), State::Failed { exit_code: Some(1), reason: String::new() }, 200),
            job("lr-0", Some(("lr", 4, 0)), running.clone(), 201),
            job("lr-2", Some(("lr", 4, 2)), running, 202),
            job("lr", None, State::Pending { reason: None }, 100),
            job("fake-0", None, State::Succeeded, 50),
        ];
        let entries = entries(&jobs);
        let names: Vec<&str> = entries.iter().map(Entry::name).collect();
        assert_eq!(names, ["solo", "lr", "lr", "fake-0"]);
        let Entry::Sweep(sweep) = &entries[1] else { panic!("{entries:?}") };
        let order: Vec<&str> = sweep.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(order, ["lr-0", "lr-1", "lr-2"]);
        assert_eq!((sweep.size(), sweep.gone(), sweep.created_unix()), (4, 1, 200));
        assert_eq!(sweep.counts(), [("running", 2), ("failed", 1)]);
        assert_eq!(sweep.most_pressing().map(State::word), Some("failed"));
        assert!(matches!(entries[2], Entry::Job(j) if j.name == "lr"));
        let of_lr: Vec<&str> = jobs_of(&jobs, "lr").iter().map(|j| j.name.as_str()).collect();
        assert_eq!(of_lr, ["lr-0", "lr-1", "lr-2"]);
        assert!(jobs_of(&jobs, "fake").is_empty());
    }
}
