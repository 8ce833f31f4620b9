//! The attempt record, run for real: pod-init as PID 1 of the sandbox,
//! started setuid root as the researcher's uid, with the scratch squashed
//! as on the cluster, started again and again over the same scratch as
//! run:ai restarts a preempted job.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use common::env::EnvVars;
use nb_tests::researcher::{self, UID};
use nb_tests::sandbox::{Error, LAB_GID, NOBODY, Output, RunSpec, SCRATCH_MOUNT, Sandbox};
use nix::sys::signal::Signal;

type Result = std::result::Result<(), Error>;

const JOB: &str = "train-1";
const FIRST: &str = "20261207-080000-aaaaaa";
const SECOND: &str = "20261207-090000-bbbbbb";

/// What the job prints of its attempt: `attempt=N previous=X` (`none`
/// when unset).
const REPORT: &str = "echo \"attempt=${NB_ATTEMPT-none} previous=${NB_PREVIOUS_EXIT-none}\"";

/// A start of submission `submission` of the job, as the cluster makes it.
fn start(submission: &str, script: &str) -> RunSpec {
    RunSpec::pod_init(["/bin/sh", "-c", script])
        .as_user(UID, LAB_GID)
        .envs(researcher::account_vars(SCRATCH_MOUNT, UID, LAB_GID))
        .env(EnvVars::NB_JOB_NAME, JOB)
        .env(EnvVars::NB_SUBMISSION, submission)
        .env("NODE_NAME", "node-7")
}

fn reported(out: &Output) -> &str {
    out.stdout.lines().find(|l| l.starts_with("attempt=")).unwrap_or_else(|| panic!("no report:\n{out:?}"))
}

/// Nothing on scratch belongs to root or to nobody (what NFS makes of a
/// squashed root), and the record is the researcher's, owner-only: both
/// directories 0700, each entry a link of hers.
fn assert_scratch_is_the_users(sb: &Sandbox) -> Result {
    let listing = sb.scratch_listing()?;
    let owner = |line: &str| line.split(':').next().and_then(|uid| uid.parse::<u32>().ok());
    let bad: Vec<&String> = listing.iter().filter(|l| matches!(owner(l), Some(0) | Some(NOBODY))).collect();
    assert!(bad.is_empty(), "owned by root or nobody: {bad:?}");
    let state = format!("homes/{}/.nb-attempts", researcher::USER);
    let entry = |path: &str| listing.iter().find(|l| l.ends_with(&format!(" {path}"))).cloned();
    assert_eq!(entry(&state), Some(format!("{UID}:{LAB_GID} 700 {state}")), "{listing:#?}");
    let record = format!("{state}/{JOB}");
    assert_eq!(entry(&record), Some(format!("{UID}:{LAB_GID} 700 {record}")), "{listing:#?}");
    let entries: Vec<&String> = listing.iter().filter(|l| l.contains(&format!(" {record}/"))).collect();
    assert!(!entries.is_empty(), "{listing:#?}");
    for line in entries {
        assert!(line.starts_with(&format!("{UID}:{LAB_GID} 777 ")), "not a link of hers: {line}");
    }
    Ok(())
}

#[test]
fn starts_count_up_with_the_previous_exit_and_a_new_submission_starts_at_one() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let first = sb.run(&start(FIRST, &format!("{REPORT}; exit 3")))?;
    first.assert_status(3);
    assert_eq!(reported(&first), "attempt=1 previous=none");
    first.assert_logged(&format!("attempt 1 of submission {FIRST} of job {JOB}"));
    let second = sb.run(&start(FIRST, REPORT))?;
    second.assert_success();
    assert_eq!(reported(&second), "attempt=2 previous=3");
    second.assert_logged(&format!("attempt 2 of submission {FIRST} of job {JOB}; the previous start ended with: 3"));
    let resubmitted = sb.run(&start(SECOND, REPORT))?;
    assert_eq!(reported(&resubmitted), "attempt=1 previous=none");
    // One link per start: its name says the submission, attempt and end,
    // its target when and where it started.
    let dir = sb.scratch_path(format!("homes/{}/.nb-attempts/{JOB}", researcher::USER));
    let mut entries: Vec<(String, String)> = std::fs::read_dir(&dir)?
        .map(|e| {
            let path = e.map(|e| e.path())?;
            let target = std::fs::read_link(&path)?.to_string_lossy().into_owned();
            Ok((path.file_name().unwrap_or_default().to_string_lossy().into_owned(), target))
        })
        .collect::<std::io::Result<_>>()?;
    entries.sort();
    let names: Vec<String> =
        entries.iter().map(|(name, _)| name.rsplit_once('.').map_or(name.clone(), |(n, _)| n.to_owned())).collect();
    assert_eq!(
        names,
        [format!("000001.1.{FIRST}.exit-3"), format!("000002.2.{FIRST}.exit-0"), format!("000003.1.{SECOND}.exit-0")],
        "{entries:#?}"
    );
    for (name, target) in &entries {
        let (started, rest) = target.split_once(' ').unwrap_or_default();
        assert!(started.strip_prefix("started=").is_some_and(|t| t.parse::<u64>().is_ok()), "{name} -> {target}");
        assert_eq!(rest, "host=ctr node=node-7", "{name} -> {target}");
        let ms = name.rsplit_once('.').map(|(_, ms)| ms).unwrap_or_default();
        assert!(ms.parse::<u64>().is_ok(), "no duration in {name}");
    }
    assert_scratch_is_the_users(&sb)
}

#[test]
fn a_start_killed_with_sigkill_is_followed_by_one_that_says_unknown() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let ready = sb.scratch_path(format!("{}/ready", researcher::working_dir("")));
    let mut running = sb.spawn(&start(FIRST, "touch ready; sleep 60"))?;
    running.wait_for_path(&ready, Duration::from_secs(30))?;
    // The kubelet at the end of the grace period: PID 1 dies with the rest.
    running.signal(Signal::SIGKILL)?;
    running.wait()?;
    let next = sb.run(&start(FIRST, REPORT))?;
    next.assert_success();
    assert_eq!(reported(&next), "attempt=2 previous=unknown");
    assert_scratch_is_the_users(&sb)
}

#[test]
fn sigterm_reaches_the_job_as_its_stop_signal_and_the_next_start_reports_the_jobs_own_exit() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let ready = sb.scratch_path(format!("{}/ready", researcher::working_dir("")));
    let script = "trap 'echo USR1 > got; exit 7' USR1; trap 'echo TERM > got; exit 8' TERM; \
                  touch ready; while :; do sleep 0.1; done";
    let mut running = sb.spawn(&start(FIRST, script).env(EnvVars::NB_STOP_SIGNAL, "USR1"))?;
    running.wait_for_path(&ready, Duration::from_secs(30))?;
    running.signal(Signal::SIGTERM)?;
    let out = running.wait()?;
    out.assert_status(7);
    out.assert_logged("asked to stop: forwarding SIGUSR1 to the command's process group");
    let got = sb.scratch_path(format!("{}/got", researcher::working_dir("")));
    assert_eq!(std::fs::read_to_string(got).unwrap_or_default(), "USR1\n", "{}", out.stderr);
    let next = sb.run(&start(FIRST, REPORT))?;
    assert_eq!(reported(&next), "attempt=2 previous=7");
    assert_scratch_is_the_users(&sb)
}

#[test]
fn without_a_job_name_and_submission_nothing_is_recorded_or_guessed() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let spec = RunSpec::pod_init(["/bin/sh", "-c", REPORT])
        .as_user(UID, LAB_GID)
        .envs(researcher::account_vars(SCRATCH_MOUNT, UID, LAB_GID))
        .env(EnvVars::NB_JOB_NAME, JOB)
        .env(EnvVars::NB_ATTEMPT, "5");
    let out = sb.run(&spec)?;
    out.assert_success();
    assert_eq!(reported(&out), "attempt=5 previous=none", "no submission: the pod's own value stays");
    assert!(!sb.scratch_path(format!("homes/{}/.nb-attempts", researcher::USER)).exists());
    Ok(())
}
