//! The attempt record: which start of its submission this is, and how the
//! previous one ended, for jobs that resume after preemption.
//!
//! A job with a name and a submission (`NB_JOB_NAME`, `NB_SUBMISSION`)
//! gets a small record per job under the user's scratch home
//! (store.rs), one entry per start (record.rs). The user-state step's
//! child (the user's ids) opens its directory, reads the record once, adds
//! this start's entry, replaces it once, and hands PID 1 the directory's
//! descriptor and the new record ([`write_start`], [`begin`]); the command
//! then gets `NB_ATTEMPT` and, from the second start on,
//! `NB_PREVIOUS_EXIT`. When the command ends, a child with the user's ids
//! writes its end (exit code or signal, and the duration) through the same
//! descriptor. A start that leaves no end
//! (pod-init SIGKILLed at the end of the grace period, a lost node) makes
//! the next one say `unknown`. Without both variables nothing is recorded
//! and nothing is guessed.
//!
//! Pods of a distributed job share the name and the submission; each keeps
//! its own record, told apart by its replica (`<job>-master-0`,
//! `<job>-worker-1`), so a worker's start does not count as the master's.

mod record;
mod store;

pub use store::open_state_dir;

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::env::EnvVars;
use common::pod_env::JobRun;

use crate::identity::Identity;
use crate::sys;
use record::{Ending, Record};

/// A start that was recorded; [`Started::end`] writes how it ended.
#[derive(Debug, Clone)]
pub struct Started {
    user: Identity,
    /// The state directory, as the user-state step opened it.
    state: Arc<OwnedFd>,
    file: String,
    /// The record as written at start, this start's entry last.
    record: Record,
    at: Instant,
}

/// How the command ended, as the supervisor saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandEnd {
    Exited(i32),
    Signaled(i32),
}

/// The record's file name: the job's, plus the replica of a distributed
/// job when the host name says it (`<job>-master-0` gives `<job>@master-0`).
fn file_name(job: &str, host: &str) -> String {
    let replica = host.strip_prefix(job).and_then(|rest| rest.strip_prefix('-')).filter(|rest| {
        let (role, index) = rest.rsplit_once('-').unwrap_or(("", ""));
        matches!(role, "master" | "worker") && !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit())
    });
    match replica {
        Some(replica) => format!("{job}@{replica}"),
        None => job.to_owned(),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_default()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// In the user's child (the user-state step, which opened `state`): reads
/// the record of `job` once, adds this start and replaces the record once.
/// Returns the new record's text, for PID 1; `None` (logged) when the
/// record could not be kept.
pub fn write_start(state: &OwnedFd, job: &JobRun, node: Option<&str>) -> Option<String> {
    let host = hostname();
    let file = file_name(&job.name, &host);
    let mut record = match store::read(state, &file) {
        Ok(None) => Record::default(),
        Ok(Some(text)) => Record::parse(&text).unwrap_or_else(|e| {
            tracing::warn!("attempts: {file}: {e}; starting a new record");
            Record::default()
        }),
        Err(e) => {
            tracing::warn!("attempts: {file}: {e}; NB_ATTEMPT not set");
            return None;
        }
    };
    record.start(&job.submission, unix_now(), &host, node);
    let text = record.render();
    if let Err(e) = store::replace(state, &file, &text) {
        tracing::warn!("attempts: writing {file}: {e}; NB_ATTEMPT not set");
        return None;
    }
    Some(text)
}

/// In PID 1: this start of `job`, as [`write_start`] recorded it in the
/// state directory `state` (`record`: the text it handed back; `None` when
/// it could not, and said why). Sets `NB_ATTEMPT` / `NB_PREVIOUS_EXIT` in
/// `env` (the command's); any inherited value of the two is dropped first:
/// they are pod-init's to say. `None` when nothing was recorded; the
/// command then runs without them.
pub fn begin(
    record: Option<&[u8]>,
    state: Option<OwnedFd>,
    job: &JobRun,
    user: &Identity,
    env: &mut Vec<CString>,
) -> Option<Started> {
    env.retain(|kv| {
        let bytes = kv.as_bytes();
        ![EnvVars::NB_ATTEMPT, EnvVars::NB_PREVIOUS_EXIT]
            .iter()
            .any(|name| bytes.strip_prefix(name.as_bytes()).is_some_and(|rest| rest.first() == Some(&b'=')))
    });
    let (state, text) = (state?, std::str::from_utf8(record?).ok()?);
    let mut record = Record::parse(text).ok()?;
    let last = record.entries.pop()?;
    // The child added exactly this entry; asking again gives the same
    // answer from the entries before it.
    let start = record.start(&last.submission, last.started, &last.host, last.node.as_deref());
    match &start.previous {
        None => tracing::info!("attempt {} of submission {} of job {}", start.attempt, job.submission, job.name),
        Some(previous) => tracing::info!(
            "attempt {} of submission {} of job {}; the previous start ended with: {previous}",
            start.attempt,
            job.submission,
            job.name
        ),
    }
    env.extend(CString::new(format!("{}={}", EnvVars::NB_ATTEMPT, start.attempt)));
    if let Some(previous) = &start.previous {
        env.extend(CString::new(format!("{}={previous}", EnvVars::NB_PREVIOUS_EXIT)));
    }
    let file = file_name(&job.name, &last.host);
    Some(Started { user: user.clone(), state: Arc::new(state), file, record, at: Instant::now() })
}

impl Started {
    /// Writes how the command ended into this start's entry.
    pub fn end(mut self, end: CommandEnd) {
        let ending = match end {
            CommandEnd::Exited(code) => Ending::Exited(u8::try_from(code).unwrap_or(u8::MAX)),
            CommandEnd::Signaled(signo) => Ending::Signaled(crate::supervise::signal_name(signo)),
        };
        let ms = u64::try_from(self.at.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.record.finish(ending, ms);
        let text = self.record.render();
        let (state, file) = (&self.state, &self.file);
        let written = sys::run_as(&self.user, "attempts", || match store::replace(state, file, &text) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("attempts: writing the end into {file}: {e}");
                false
            }
        });
        if let Err(e) = written {
            tracing::warn!("attempts: the end of this start was not recorded ({e}); the next start will say unknown");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(env: &[CString], name: &str) -> Option<String> {
        env.iter().find_map(|kv| kv.to_str().ok()?.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
    }

    #[test]
    fn starts_count_up_say_how_the_last_ended_and_a_new_submission_starts_at_one() {
        if !crate::testing::root_or_skip("the record is written by a child that switches ids") {
            return;
        }
        let home = tempfile::tempdir().unwrap();
        let me = Identity { uid: sys::getuid(), gid: sys::getgid(), groups: vec![] };
        let job = |submission: &str| JobRun { name: "train".into(), submission: submission.into() };
        let start = |submission: &str| {
            let mut env = vec![CString::new("NB_ATTEMPT=99").unwrap(), CString::new("KEEP=1").unwrap()];
            let state = open_state_dir(&mut crate::dirwalk::Walker::new(), home.path()).unwrap();
            let text = write_start(&state, &job(submission), Some("node-1"));
            let started = begin(text.as_deref().map(str::as_bytes), Some(state), &job(submission), &me, &mut env);
            (started.unwrap(), env_of(&env, "NB_ATTEMPT"), env_of(&env, "NB_PREVIOUS_EXIT"), env_of(&env, "KEEP"))
        };
        let (first, attempt, previous, keep) = start("s-1");
        assert_eq!((attempt.as_deref(), previous, keep.as_deref()), (Some("1"), None, Some("1")));
        first.end(CommandEnd::Exited(3));
        let (second, attempt, previous, _) = start("s-1");
        assert_eq!((attempt.as_deref(), previous.as_deref()), (Some("2"), Some("3")));
        drop(second); // killed: no end
        let (third, attempt, previous, _) = start("s-1");
        assert_eq!((attempt.as_deref(), previous.as_deref()), (Some("3"), Some("unknown")));
        third.end(CommandEnd::Signaled(libc::SIGUSR1));
        let (_, attempt, previous, _) = start("s-1");
        assert_eq!((attempt.as_deref(), previous.as_deref()), (Some("4"), Some("SIGUSR1")));
        let (_, attempt, previous, _) = start("s-2");
        assert_eq!((attempt.as_deref(), previous), (Some("1"), None));
    }

    #[test]
    fn a_record_that_does_not_parse_counts_as_none() {
        if !crate::testing::root_or_skip("the record is written by a child that switches ids") {
            return;
        }
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(store::DIR)).unwrap();
        std::fs::write(home.path().join(store::DIR).join("train"), "garbage\n\0\t").unwrap();
        let me = Identity { uid: sys::getuid(), gid: sys::getgid(), groups: vec![] };
        let mut env = Vec::new();
        let job = JobRun { name: "train".into(), submission: "s-1".into() };
        let state = open_state_dir(&mut crate::dirwalk::Walker::new(), home.path()).unwrap();
        let text = write_start(&state, &job, None);
        assert!(begin(text.as_deref().map(str::as_bytes), Some(state), &job, &me, &mut env).is_some());
        assert_eq!(env_of(&env, "NB_ATTEMPT").as_deref(), Some("1"));
    }

    #[test]
    fn replicas_of_a_distributed_job_keep_records_of_their_own() {
        assert_eq!(file_name("train-1", "train-1-master-0"), "train-1@master-0");
        assert_eq!(file_name("train-1", "train-1-worker-12"), "train-1@worker-12");
        assert_eq!(file_name("train-1", "train-1-0-0"), "train-1");
        assert_eq!(file_name("train-1", "train-1-worker-"), "train-1");
        assert_eq!(file_name("train-1", "other-master-0"), "train-1");
        assert_eq!(file_name("train-1", ""), "train-1");
    }
}
