//! The attempt record: which start of its submission this is, and how the
//! previous one ended, for jobs that resume after preemption.
//!
//! A job with a name and a submission (`NB_JOB_NAME`, `NB_SUBMISSION`)
//! gets a small record per job under the user's scratch home (store.rs),
//! one entry per start (record.rs). The user-state step (acting as the
//! user) opens the job's record directory, lists it once, adds this start's
//! entry, and keeps the directory's descriptor and the entries that matter
//! ([`write_start`], [`begin`]); the command then gets `NB_ATTEMPT` and,
//! from the second start on, `NB_PREVIOUS_EXIT`. When the command ends,
//! PID 1, acting as the user again, renames the entry to say how (exit
//! code or signal, and the duration) through the same descriptor. A start
//! that leaves no end (pod-init SIGKILLed at the end of the grace period, a
//! lost node) makes the next one say `unknown`. Without both variables
//! nothing is recorded and nothing is guessed.
//!
//! Pods of a distributed job share the name and the submission; each keeps
//! its own record, told apart by its replica (`<job>-master-0`,
//! `<job>-worker-1`), so a worker's start does not count as the master's.

mod record;
mod store;

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use common::env::EnvVars;
use common::pod_env::JobRun;

use crate::dirwalk::Walker;
use crate::fsid;
use crate::identity::Identity;
use record::{Ending, Entry, Plan, Start};

/// A start that was recorded; [`Started::end`] writes how it ended.
#[derive(Debug, Clone)]
pub struct Started {
    user: Identity,
    /// The job's record directory, as the user-state step opened it.
    dir: Arc<OwnedFd>,
    entry: Entry,
    at: Instant,
}

/// How the command ended, as the supervisor saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandEnd {
    Exited(i32),
    Signaled(i32),
}

/// The record's directory name: the job's, plus the replica of a
/// distributed job when the host name says it (`<job>-master-0` gives
/// `<job>@master-0`).
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

/// The host name, from `uname(2)`: one system call, where reading
/// /proc/sys/kernel/hostname takes five.
fn hostname() -> String {
    // SAFETY: an all-zero utsname is a valid value for the kernel to fill.
    let mut names: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname writes into a live, writable utsname.
    if unsafe { libc::uname(&mut names) } != 0 {
        return String::new();
    }
    // SAFETY: the kernel NUL-terminates nodename within its array.
    unsafe { std::ffi::CStr::from_ptr(names.nodename.as_ptr()) }.to_string_lossy().into_owned()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// How many times a start tries the next number when another pod of the
/// same replica took its entry's name first.
const TRIES: u64 = 3;

/// Acting as the user (the user-state step's walk): opens the record of
/// `job` under `scratch_home`, lists it once, removes the oldest entries
/// beyond the limit and adds this start. Returns the directory and, for
/// [`begin`], this start's entry name, then the previous one's after a `/`
/// (which no name holds); `None` (logged) when the record could not be kept.
pub fn write_start(
    walker: &mut Walker,
    scratch_home: &Path,
    job: &JobRun,
    node: Option<&str>,
) -> Option<(OwnedFd, String)> {
    let host = hostname();
    let file = file_name(&job.name, &host);
    let kept = store::open(walker, scratch_home, &file).and_then(|(dir, made)| {
        // A directory made now is empty: nothing to list.
        let found = if made { Vec::new() } else { store::entries(&dir)? };
        Ok((dir, found))
    });
    let (dir, found) = kept.map_err(|e| tracing::warn!("attempts: {file}: {e}; NB_ATTEMPT not set")).ok()?;
    let mut plan = Plan::new(found, &job.submission);
    for old in &plan.prune {
        if let Err(e) = store::remove(&dir, old) {
            tracing::warn!("attempts: {file}: cannot remove the old entry {}: {e}", old.name());
        }
    }
    let details = record::details(unix_now(), &host, node);
    if let Err(e) = add_first_free(&dir, &mut plan.entry, &details) {
        tracing::warn!("attempts: {file}: adding {}: {e}; NB_ATTEMPT not set", plan.entry.name());
        return None;
    }
    let mut handed = plan.entry.name();
    if let Some(previous) = &plan.previous {
        handed = format!("{handed}/{}", previous.name());
    }
    Some((dir, handed))
}

/// Adds `entry`, moving it to the next numbers while another pod of the
/// same replica took its name first, at most [`TRIES`] times.
fn add_first_free(dir: &OwnedFd, entry: &mut Entry, details: &str) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        match store::add(dir, entry, details) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && tries < TRIES => {
                tries += 1;
                entry.seq = entry.seq.saturating_add(1);
            }
            added => return added,
        }
    }
}

/// This start of `job`, as [`write_start`] recorded it in the record
/// directory `dir` (`handed`: the names it returned; `None` when it could
/// not, and said why). Sets `NB_ATTEMPT` / `NB_PREVIOUS_EXIT` in
/// `env` (the command's); any inherited value of the two is dropped first:
/// they are pod-init's to say. `None` when nothing was recorded; the
/// command then runs without them.
pub fn begin(
    handed: Option<&str>,
    dir: Option<OwnedFd>,
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
    let (dir, handed) = (dir?, handed?);
    let (this, previous) = match handed.split_once('/') {
        Some((this, previous)) => (Entry::parse(this)?, Some(Entry::parse(previous)?)),
        None => (Entry::parse(handed)?, None),
    };
    let start = Start::after(previous.as_ref());
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
    Some(Started { user: user.clone(), dir: Arc::new(dir), entry: this, at: Instant::now() })
}

impl Started {
    /// Renames this start's entry to say how the command ended.
    pub fn end(self, end: CommandEnd) {
        let ending = match end {
            CommandEnd::Exited(code) => Ending::Exited(u8::try_from(code).unwrap_or(u8::MAX)),
            CommandEnd::Signaled(signo) => Ending::Signaled(crate::supervise::signal_name(signo)),
        };
        let ms = u64::try_from(self.at.elapsed().as_millis()).unwrap_or(u64::MAX);
        let ended = self.entry.ended(ending, ms);
        let (dir, entry) = (&self.dir, &self.entry);
        match fsid::act_as(&self.user, || store::rename(dir, entry, &ended)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!("attempts: recording the end as {}: {e}; the next start will say unknown", ended.name())
            }
            Err(e) => {
                tracing::warn!(
                    "attempts: the end of this start was not recorded ({e}); the next start will say unknown"
                )
            }
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
        if !crate::testing::root_or_skip("the end is recorded acting as another user") {
            return;
        }
        let home = tempfile::tempdir().unwrap();
        let me = Identity { uid: crate::sys::getuid(), gid: crate::sys::getgid(), groups: vec![] };
        let job = |submission: &str| JobRun { name: "train".into(), submission: submission.into() };
        let start = |submission: &str| {
            let mut env = vec![CString::new("NB_ATTEMPT=99").unwrap(), CString::new("KEEP=1").unwrap()];
            let (dir, handed) = write_start(&mut Walker::new(), home.path(), &job(submission), Some("node-1")).unzip();
            let started = begin(handed.as_deref(), dir, &job(submission), &me, &mut env);
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
    fn names_that_are_not_entries_are_left_alone_and_the_oldest_entries_go() {
        let home = tempfile::tempdir().unwrap();
        let job = JobRun { name: "train".into(), submission: "s-1".into() };
        let dir = home.path().join(store::DIR).join(file_name("train", &hostname()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        for seq in 1..=record::MAX_ENTRIES as u64 {
            std::os::unix::fs::symlink("x", dir.join(format!("{seq:06}.{seq}.s-1.exit-0.1"))).unwrap();
        }
        let (_, handed) = write_start(&mut Walker::new(), home.path(), &job, None).unwrap();
        assert_eq!(handed, "000101.101.s-1/000100.100.s-1.exit-0.1");
        let mut names: Vec<String> =
            std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names.len(), record::MAX_ENTRIES + 1, "{names:?}");
        assert_eq!((names[0].as_str(), names[names.len() - 1].as_str()), ("000002.2.s-1.exit-0.1", "notes.txt"));
    }

    #[test]
    fn a_name_another_pod_took_first_moves_the_entry_on_a_few_times_only() {
        let home = tempfile::tempdir().unwrap();
        let (dir, _) = store::open(&mut Walker::new(), home.path(), "train").unwrap();
        let path = home.path().join(store::DIR).join("train");
        let taken = |seq: u64| std::os::unix::fs::symlink("x", path.join(format!("{seq:06}.1.s-1"))).unwrap();
        let mut entry = Entry { seq: 1, attempt: 1, submission: "s-1".into(), end: None };
        taken(1);
        taken(2);
        add_first_free(&dir, &mut entry, "mine").unwrap();
        assert_eq!(entry.seq, 3);
        assert_eq!(std::fs::read_link(path.join("000003.1.s-1")).unwrap(), std::path::Path::new("mine"));
        for seq in 4..=4 + TRIES {
            taken(seq);
        }
        entry.seq = 4;
        let err = add_first_free(&dir, &mut entry, "mine").unwrap_err();
        assert_eq!((err.raw_os_error(), entry.seq), (Some(libc::EEXIST), 4 + TRIES));
    }

    #[test]
    fn the_host_name_is_the_kernels() {
        let proc = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(hostname(), proc.trim());
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
