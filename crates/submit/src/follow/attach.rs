//! After the submission, with `--wait` or `--attach`: wait for the pods
//! (see `wait`), say how it ended in the words and exit codes below, and for
//! `--attach` take the user into the job: a zsh in an interactive job's pod
//! (`kubectl exec -it`, which replaces `submit`, so the terminal is the
//! user's), or a training job's log followed to the end, `submit` exiting
//! with the job's exit code.
//!
//! Exit codes: 0 when the pods run (or the followed job succeeded), 1 when
//! a pod cannot start, 124 when `--wait-timeout` passed, 130 after Ctrl-C,
//! the job's own code after `--attach` on a training job.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::cluster::invocation::stop_group;
use crate::cluster::{kubectl, pods};
use crate::follow::interrupt;
use crate::follow::outcome::Outcome;
use crate::follow::progress::{self, Progress};
use crate::follow::wait::{self, End};
use crate::job::duration::Seconds;
use crate::job::spec::JobSpec;
use crate::runai::{self, Dialect};

/// Exit code of a wait that reached `--wait-timeout` (as `timeout(1)`).
const TIMED_OUT: u8 = 124;
/// Exit code after Ctrl-C (128 + SIGINT, as a shell reports it).
const INTERRUPTED: u8 = 130;

/// How long to look for the exit code once a followed log has ended.
const EXIT_CODE_PATIENCE: Duration = Duration::from_secs(30);

/// What the user asked for after the submission.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub attach: bool,
    pub timeout: Seconds,
    pub kubectl_timeout: Seconds,
    /// The runai dialect the job was submitted with, for the commands shown.
    pub dialect: Dialect,
}

fn say(message: &str) {
    eprintln!("submit: {message}");
}

fn come_back(spec: &JobSpec, dialect: Dialect) -> String {
    let commands: Vec<String> = runai::follow_up_commands(spec, dialect).iter().map(|c| format!("  {c}")).collect();
    commands.join("\n")
}

/// Waits for the job of `spec` in `namespace`, then attaches if asked.
pub fn run(spec: &JobSpec, namespace: &str, request: Request) -> Result<Outcome> {
    interrupt::catch().map_err(|e| anyhow!("cannot catch Ctrl-C while waiting: {e}"))?;
    let interactive = spec.interactive();
    let plan = wait::Plan {
        job: &spec.name,
        namespace,
        pods: pods::expected_pods(&spec.name, spec.workers),
        timeout: request.timeout,
        kubectl_timeout: request.kubectl_timeout,
        ended_is_arrived: request.attach && !interactive,
    };
    let stderr = std::io::stderr();
    let in_place = stderr.is_terminal();
    let width = progress::terminal_width(libc::STDERR_FILENO).unwrap_or(80);
    let mut shown = Progress::new(stderr.lock(), in_place, width);
    let end = wait::follow(&plan, &mut shown)?;
    drop(shown);
    let ended = match end {
        End::Arrived { ended } => ended,
        End::CannotStart(why) => {
            bail!(
                "{why}\nthe job is still there; delete it with: {}",
                runai::delete_command(&spec.name, request.dialect)
            )
        }
        End::TimedOut(states) => {
            say(&format!(
                "stopped waiting after {}s (--wait-timeout); the job is left as it is: {states}\nfollow it with:\n{}",
                request.timeout,
                come_back(spec, request.dialect)
            ));
            return Ok(Outcome::External(TIMED_OUT));
        }
        End::Interrupted => return Ok(interrupted(spec, request.dialect, "waiting")),
    };
    match ended {
        true => say(&format!("the job {} has already ended", spec.name)),
        false => say(&format!("the job {} is running", spec.name)),
    }
    if !request.attach {
        return Ok(Outcome::Success);
    }
    let pod = &plan.pods[0];
    if interactive {
        let exec = kubectl::exec_shell(namespace, pod);
        say(&format!("opening zsh in {pod}: {exec}"));
        return Err(anyhow!("{}", exec.exec_replacing()));
    }
    follow_log(namespace, pod, spec, request)
}

fn interrupted(spec: &JobSpec, dialect: Dialect, what: &str) -> Outcome {
    let back = come_back(spec, dialect);
    say(&format!("stopped {what} (Ctrl-C); the job keeps running. Come back to it with:\n{back}"));
    Outcome::External(INTERRUPTED)
}

/// Shows the log of `pod` until its container ends, then exits with its code.
fn follow_log(namespace: &str, pod: &str, spec: &JobSpec, request: Request) -> Result<Outcome> {
    let kubectl_timeout = request.kubectl_timeout;
    let logs = kubectl::follow_log(namespace, pod);
    say(&format!("following the log of {pod} (Ctrl-C stops following, not the job): {logs}"));
    let mut child = logs.spawn_shown()?;
    loop {
        if interrupt::interrupted() {
            stop_group(&mut child);
            return Ok(interrupted(spec, request.dialect, "following the log"));
        }
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => bail!("cannot wait for kubectl logs: {e}"),
        }
    }
    let code = exit_code(namespace, pod, kubectl_timeout)?;
    say(&format!("{pod} ended with exit code {code}"));
    Ok(match u8::try_from(code) {
        Ok(0) => Outcome::Success,
        Ok(code) => Outcome::External(code),
        Err(_) => Outcome::External(1),
    })
}

/// The exit code of `pod`'s container, asked until it has one: the log can
/// end a moment before the API server records the end.
fn exit_code(namespace: &str, pod: &str, kubectl_timeout: Seconds) -> Result<i64> {
    let give_up = Instant::now() + EXIT_CODE_PATIENCE;
    let get = kubectl::get_pod(namespace, pod, kubectl_timeout);
    loop {
        let done = get.run_for_output(kubectl::kill_after(kubectl_timeout))?;
        let object: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap_or_default();
        if let Some(code) = pods::exit_code(&object) {
            return Ok(code);
        }
        if Instant::now() >= give_up || interrupt::interrupted() {
            bail!(
                "the log of {pod} ended but the pod has not ended; follow it with: {}",
                kubectl::follow_log(namespace, pod)
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
