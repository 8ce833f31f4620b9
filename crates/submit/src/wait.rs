//! `--wait`: after the submission, follow the job's pods until they all run,
//! saying each change once, or stop with the reason they cannot.
//!
//! One `kubectl get pods --watch -o json` streams every change of the
//! namespace's pods as it happens: one kubectl process for the whole wait,
//! where polling would start one per look (each costs a kubectl start; see
//! docs/benchmarks.md). `submit` picks the job's pods by name. The watch runs in its own process group, so
//! Ctrl-C stops the waiting, not the job, and the deadline
//! (`--wait-timeout`) kills it.

use std::collections::BTreeMap;
use std::io::{BufReader, Read as _, Write};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::Value;

use crate::duration::Seconds;
use crate::invocation::{RunError, describe_status, stop_group};
use crate::pods::{self, Failure, Stage};
use crate::progress::Progress;
use crate::{child_output, interrupt, kubectl};

/// How often the loop looks at the clock and for Ctrl-C between events.
const TICK: Duration = Duration::from_millis(200);

/// The log lines shown with a failure whose log explains it.
const LOG_LINES: u32 = 20;

/// What to wait for.
#[derive(Debug)]
pub struct Plan<'a> {
    pub job: &'a str,
    pub namespace: &'a str,
    /// The pods' names ([`pods::expected_pods`]).
    pub pods: Vec<String>,
    pub timeout: Seconds,
    /// For the short kubectl calls (the log lines of a failure).
    pub kubectl_timeout: Seconds,
    /// A container that already ended counts as arrived (a training job
    /// whose log is followed next), instead of as an early exit.
    pub ended_is_arrived: bool,
}

/// How the wait ended.
#[derive(Debug)]
pub enum End {
    /// Every pod runs (or, with `ended_is_arrived`, has run); `ended` when
    /// every container has already ended (a short training job).
    Arrived { ended: bool },
    /// A pod cannot start; the message says why, with its log when it ran.
    CannotStart(String),
    /// The deadline passed; the last state of each pod.
    TimedOut(String),
    /// Ctrl-C.
    Interrupted,
}

/// The watch: kubectl's stdout parsed into pods on a channel.
struct Watch {
    child: Child,
    pods: mpsc::Receiver<Value>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Watch {
    fn start(namespace: &str, timeout: Seconds) -> Result<Self, RunError> {
        let mut child = kubectl::watch_pods(namespace, timeout).spawn_piped()?;
        let (tx, pods) = mpsc::channel();
        let stdout = child.stdout.take();
        // The stream is one JSON object per change, pretty-printed and
        // concatenated; it ends when kubectl does.
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            for pod in serde_json::Deserializer::from_reader(BufReader::new(stdout)).into_iter::<Value>() {
                let Ok(pod) = pod else { return };
                if tx.send(pod).is_err() {
                    return;
                }
            }
        });
        let stderr_pipe = child.stderr.take();
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = stderr_pipe {
                // What kubectl managed to say is all there is to show.
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        });
        Ok(Watch { child, pods, stderr })
    }

    /// Stops kubectl, after `grace` for it to end by itself, and returns
    /// how it ended (if it did) and what it said on stderr.
    fn stop(mut self, grace: Duration) -> (Option<std::process::ExitStatus>, Vec<u8>) {
        let give_up = Instant::now() + grace;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(10)),
                _ => break None,
            }
        };
        if status.is_none() {
            stop_group(&mut self.child);
        }
        (status, self.stderr.join().unwrap_or_default())
    }
}

/// Follows the pods of `plan` until they arrive, fail, the deadline passes
/// or the user presses Ctrl-C.
pub fn follow<W: Write>(plan: &Plan<'_>, progress: &mut Progress<W>) -> Result<End> {
    let start = Instant::now();
    let deadline = start + plan.timeout.as_duration();
    // The watch ends by itself a little after the deadline, should `submit`
    // be killed before it can stop it.
    let watch = Watch::start(plan.namespace, Seconds(plan.timeout.0 + 5))
        .map_err(|e| anyhow!("{e}; the job was submitted, follow it with runai"))?;
    let mut latest: BTreeMap<String, Value> = BTreeMap::new();
    let mut said: BTreeMap<String, String> = BTreeMap::new();
    progress.change(&format!("waiting for the pods of {} ({})", plan.job, plan.pods.join(", ")), start.elapsed());
    let end = loop {
        if interrupt::interrupted() {
            break End::Interrupted;
        }
        let now = Instant::now();
        if now >= deadline {
            break End::TimedOut(last_states(plan, &latest));
        }
        let pod = match watch.pods.recv_timeout(TICK.min(deadline - now)) {
            Ok(pod) => pod,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                progress.tick(start.elapsed());
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                progress.finish();
                // Its stdout closed: it is ending, or has ended.
                let (status, stderr) = watch.stop(Duration::from_secs(2));
                let how = status.map_or_else(|| "it was stopped".to_owned(), describe_status);
                let said = child_output::for_terminal(&stderr);
                return Err(anyhow!(
                    "kubectl stopped watching the pods of {} ({how}); the job was submitted and is left as it is:\n{said}",
                    plan.job
                ));
            }
        };
        let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        if !plan.pods.contains(&name) {
            continue;
        }
        let stage = pods::stage(&pod);
        latest.insert(name.clone(), pod);
        let words = stage.words();
        if said.get(&name) != Some(&words) {
            progress.change(&format!("{name}: {words}"), start.elapsed());
            said.insert(name.clone(), words);
        }
        if let Stage::Failed(failure) = &stage {
            let early_end = matches!(failure, Failure::Exited { .. });
            if !(early_end && plan.ended_is_arrived) {
                break End::CannotStart(cannot_start(plan, &name, failure));
            }
        }
        let stages: Vec<Option<Stage>> = plan.pods.iter().map(|p| latest.get(p).map(pods::stage)).collect();
        if stages.iter().all(|s| s.as_ref().is_some_and(|s| arrived(plan, s))) {
            let ended = stages.iter().flatten().all(|s| !matches!(s, Stage::Running { .. }));
            break End::Arrived { ended };
        }
    };
    progress.finish();
    let _ = watch.stop(Duration::ZERO);
    Ok(end)
}

fn arrived(plan: &Plan<'_>, stage: &Stage) -> bool {
    match stage {
        Stage::Running { .. } | Stage::Succeeded => true,
        Stage::Failed(Failure::Exited { .. }) => plan.ended_is_arrived,
        _ => false,
    }
}

/// Each expected pod's last state, for the message of a wait that timed out.
fn last_states(plan: &Plan<'_>, latest: &BTreeMap<String, Value>) -> String {
    let states: Vec<String> = plan
        .pods
        .iter()
        .map(|p| match latest.get(p) {
            Some(pod) => format!("{p}: {}", pods::stage(pod).words()),
            None => format!("{p}: not created yet"),
        })
        .collect();
    let mut text = states.join("; ");
    if latest.is_empty() {
        // run:ai does not document its pod names; say which were looked for.
        text.push_str(&format!(
            " (no pod of that name appeared; if run:ai names this job's pods otherwise, list them with: \
             kubectl get pods --namespace {})",
            plan.namespace
        ));
    }
    text
}

/// The message for a pod that cannot start, with the end of its log when
/// the command ran.
fn cannot_start(plan: &Plan<'_>, pod: &str, failure: &Failure) -> String {
    let mut text = format!("{pod} cannot start: {}", failure.words());
    if failure.has_log() {
        let previous = matches!(failure, Failure::CrashLoop { .. });
        let tail = kubectl::log_tail(plan.namespace, pod, LOG_LINES, previous, plan.kubectl_timeout);
        let kill_after = plan.kubectl_timeout.as_duration() + Duration::from_secs(5);
        match tail.run_for_output(kill_after) {
            Ok(done) if done.status.success() && !done.stdout.is_empty() => {
                let lines = child_output::for_terminal(&done.stdout);
                text.push_str(&format!("\nthe last lines of its log:\n{}", indent(&lines)));
            }
            Ok(done) => {
                let said = child_output::for_terminal(&done.stderr);
                text.push_str(&format!("\n(its log could not be read: {said})"));
            }
            Err(e) => text.push_str(&format!("\n(its log could not be read: {e})")),
        }
    }
    text
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}
