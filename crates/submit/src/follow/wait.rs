//! `--wait`: after the submission, follow the job's pods until they all run,
//! saying each change once, or stop with the reason they cannot.
//!
//! One `kubectl get pods --watch -o json` streams every change of the
//! namespace's pods as it happens: one kubectl process for the whole wait,
//! where polling would start one per look (each costs a kubectl start; see
//! docs/benchmarks.md). A second one watches the pods' Events, which tell
//! the steps the pod's status shows as one (pulling the image, creating the
//! container) and keep a failed pull's words (see `events`). The pods'
//! status decides; without Events (a cluster that does not let the user list
//! them) the wait goes on from the status alone. `submit` picks the job's
//! pods by name. Both watches run in their own process groups, so Ctrl-C
//! stops the waiting, not the job, and the deadline (`--wait-timeout`)
//! kills them.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::Value;

use crate::cluster::events::{self, News, Step};
use crate::cluster::invocation::describe_status;
use crate::cluster::pods::{self, Failure, Stage};
use crate::cluster::{child_output, kubectl};
use crate::follow::interrupt;
use crate::follow::progress::Progress;
use crate::follow::watch::{Item, Source, Watch};
use crate::job::duration::Seconds;

/// How often the loop looks at the clock and for Ctrl-C between events.
const TICK: Duration = Duration::from_millis(200);

/// The log lines shown with a failure whose log explains it.
const LOG_LINES: u32 = 20;

/// How long a pod in `ImagePullBackOff`, whose status no longer says why
/// the pull failed, may wait for the `Failed` Event that does.
const PULL_WORDS_GRACE: Duration = Duration::from_secs(1);

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

/// What the wait knows of the job's pods.
#[derive(Debug, Default)]
struct Seen {
    /// The latest object of each pod, by name.
    pods: BTreeMap<String, Value>,
    /// The latest step each pod's Events told, with the pod's uid.
    steps: BTreeMap<String, (String, Step)>,
    /// The words of each pod's latest failed pull, with the pod's uid.
    pull_failures: BTreeMap<String, (String, String)>,
    /// Events are being watched (the watch has not ended).
    events: bool,
}

impl Seen {
    fn learn(&mut self, event: events::PodEvent) {
        match event.news {
            News::Step(step) => {
                self.steps.insert(event.pod, (event.uid, step));
            }
            News::PullFailed(words) => {
                self.pull_failures.insert(event.pod, (event.uid, words));
            }
        }
    }

    /// What an Event says about the current pod `name`: an earlier pod of
    /// that name has another uid.
    fn about<'a, T>(&self, name: &str, of: &'a BTreeMap<String, (String, T)>) -> Option<&'a T> {
        let uid = self.pods.get(name)?["metadata"]["uid"].as_str().unwrap_or_default();
        of.get(name).filter(|(u, _)| u.is_empty() || uid.is_empty() || u == uid).map(|(_, t)| t)
    }

    /// The pod's stage, its failed pull in the registry's words if an
    /// Event kept them.
    fn stage(&self, name: &str) -> Option<Stage> {
        let mut stage = pods::stage(self.pods.get(name)?);
        if let Stage::Failed(Failure::Image { message, .. }) = &mut stage
            && let Some(words) = self.about(name, &self.pull_failures)
            && !message.contains(words.as_str())
        {
            *message = words.clone();
        }
        Some(stage)
    }

    /// Whether the pod's failed pull may still get its words from an Event.
    fn pull_words_pending(&self, name: &str, stage: &Stage) -> bool {
        let backing_off = matches!(stage, Stage::Failed(Failure::Image { reason, .. }) if reason == "ImagePullBackOff");
        backing_off && self.events && self.about(name, &self.pull_failures).is_none()
    }

    /// The stage in words, refined by the Events between scheduled and
    /// running.
    fn words(&self, name: &str, stage: &Stage) -> String {
        match stage {
            Stage::Starting { node, .. } if self.events => match self.about(name, &self.steps) {
                Some(step) => step.words(node),
                None => Step::Scheduled.words(node),
            },
            _ => stage.words(),
        }
    }
}

/// Follows the pods of `plan` until they arrive, fail, the deadline passes
/// or the user presses Ctrl-C.
pub fn follow<W: Write>(plan: &Plan<'_>, progress: &mut Progress<W>) -> Result<End> {
    let start = Instant::now();
    let deadline = start + plan.timeout.as_duration();
    // The watches end by themselves a little after the deadline, should
    // `submit` be killed before it can stop them.
    let request_timeout = Seconds(plan.timeout.0 + 5);
    let (tx, items) = mpsc::channel();
    let pod_watch = Watch::start(&kubectl::watch_pods(plan.namespace, request_timeout), Source::Pods, tx.clone())
        .map_err(|e| anyhow!("{e}; the job was submitted, follow it with runai"))?;
    // Without Events the wait goes on from the pods' status.
    let mut event_watch =
        Watch::start(&kubectl::watch_pod_events(plan.namespace, request_timeout), Source::Events, tx).ok();
    let mut seen = Seen { events: event_watch.is_some(), ..Seen::default() };
    let mut said: BTreeMap<String, String> = BTreeMap::new();
    let mut pull_words_until: BTreeMap<String, Instant> = BTreeMap::new();
    progress.change(&format!("waiting for the pods of {} ({})", plan.job, plan.pods.join(", ")), start.elapsed());
    let end = 'wait: loop {
        if interrupt::interrupted() {
            break End::Interrupted;
        }
        let now = Instant::now();
        if now >= deadline {
            break End::TimedOut(last_states(plan, &seen));
        }
        match items.recv_timeout(TICK.min(deadline - now)) {
            Ok(Item::Object(Source::Pods, pod)) => {
                let name = pod["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                if plan.pods.contains(&name) {
                    seen.pods.insert(name, pod);
                }
            }
            Ok(Item::Object(Source::Events, event)) => {
                if let Some(event) = events::read(&event).filter(|e| plan.pods.contains(&e.pod)) {
                    seen.learn(event);
                }
            }
            Ok(Item::Ended(Source::Events)) => {
                seen.events = false;
                if let Some(watch) = event_watch.take() {
                    let _ = watch.stop(Duration::from_secs(2));
                }
            }
            Ok(Item::Ended(Source::Pods)) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                progress.finish();
                if let Some(watch) = event_watch.take() {
                    let _ = watch.stop(Duration::ZERO);
                }
                // Its stdout closed: it is ending, or has ended.
                let (status, stderr) = pod_watch.stop(Duration::from_secs(2));
                let how = status.map_or_else(|| "it was stopped".to_owned(), describe_status);
                let said = child_output::for_terminal(&stderr);
                return Err(anyhow!(
                    "kubectl stopped watching the pods of {} ({how}); the job was submitted and is left as it is:\n{said}",
                    plan.job
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => progress.tick(start.elapsed()),
        }
        let mut stages = Vec::new();
        for name in &plan.pods {
            let Some(stage) = seen.stage(name) else {
                stages.push(None);
                continue;
            };
            if seen.pull_words_pending(name, &stage)
                && now < *pull_words_until.entry(name.clone()).or_insert(now + PULL_WORDS_GRACE)
            {
                stages.push(None);
                continue;
            }
            let words = seen.words(name, &stage);
            if said.get(name) != Some(&words) {
                progress.change(&format!("{name}: {words}"), start.elapsed());
                said.insert(name.clone(), words);
            }
            if let Stage::Failed(failure) = &stage {
                let early_end = matches!(failure, Failure::Exited { .. });
                if !(early_end && plan.ended_is_arrived) {
                    break 'wait End::CannotStart(cannot_start(plan, name, failure));
                }
            }
            stages.push(Some(stage));
        }
        if stages.iter().all(|s| s.as_ref().is_some_and(|s| arrived(plan, s))) {
            let ended = stages.iter().flatten().all(|s| !matches!(s, Stage::Running { .. }));
            break End::Arrived { ended };
        }
    };
    progress.finish();
    if let Some(watch) = event_watch {
        let _ = watch.stop(Duration::ZERO);
    }
    let _ = pod_watch.stop(Duration::ZERO);
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
fn last_states(plan: &Plan<'_>, seen: &Seen) -> String {
    let states: Vec<String> = plan
        .pods
        .iter()
        .map(|p| match seen.stage(p) {
            Some(stage) => format!("{p}: {}", seen.words(p, &stage)),
            None => format!("{p}: not created yet"),
        })
        .collect();
    let mut text = states.join("; ");
    if seen.pods.is_empty() {
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
        match tail.run_for_output(kubectl::kill_after(plan.kubectl_timeout)) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn starting(uid: &str) -> Value {
        json!({
            "metadata": {"name": "j-0-0", "uid": uid},
            "spec": {"nodeName": "n1", "containers": [{"image": "reg/img:1"}]},
            "status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}
        })
    }

    fn event(uid: &str, news: News) -> events::PodEvent {
        events::PodEvent { pod: "j-0-0".into(), uid: uid.into(), news }
    }

    #[test]
    fn events_refine_the_starting_stage_of_the_pod_they_are_about() {
        let mut seen = Seen { events: true, ..Seen::default() };
        seen.pods.insert("j-0-0".into(), starting("u2"));
        let words = |seen: &Seen| seen.words("j-0-0", &seen.stage("j-0-0").unwrap());
        assert_eq!(words(&seen), "scheduled on n1");
        // An earlier pod of the same name left this Event.
        seen.learn(event("u1", News::Step(Step::Pulled)));
        assert_eq!(words(&seen), "scheduled on n1");
        seen.learn(event("u2", News::Step(Step::Pulling { image: "reg/img:1".into() })));
        assert_eq!(words(&seen), "pulling the image reg/img:1");
        seen.events = false;
        assert_eq!(words(&seen), "scheduled on n1: pulling the image reg/img:1 and creating the container");
    }

    #[test]
    fn a_backing_off_pull_takes_the_registrys_words_from_its_event() {
        let mut seen = Seen { events: true, ..Seen::default() };
        let mut pod = starting("u2");
        pod["status"]["containerStatuses"][0]["state"]["waiting"] =
            json!({"reason": "ImagePullBackOff", "message": "Back-off pulling image \"reg/img:1\""});
        seen.pods.insert("j-0-0".into(), pod);
        let stage = seen.stage("j-0-0").unwrap();
        assert!(seen.pull_words_pending("j-0-0", &stage));
        seen.learn(event("u2", News::PullFailed("unauthorized".into())));
        let stage = seen.stage("j-0-0").unwrap();
        assert!(!seen.pull_words_pending("j-0-0", &stage));
        assert_eq!(seen.words("j-0-0", &stage), "cannot pull the image reg/img:1 (ImagePullBackOff): unauthorized");
    }
}
