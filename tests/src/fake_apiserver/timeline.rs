//! Scripted lives of a job's pods: a test arms a [`Timeline`] for a job
//! name, and the fake plays it once the runai double reports that job
//! submitted, step by step on the cluster.

use std::time::Duration;

use super::{Shared, TICK, lock};

/// What a pod looks like at one point of its life, in the fields kubectl
/// shows (and `submit --wait` reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// Not scheduled: `PodScheduled=False`, reason `Unschedulable`, with the
    /// scheduler's message.
    Unschedulable {
        message: String,
    },
    /// Scheduled; the image is being pulled (the pod says
    /// `ContainerCreating`; only the `Pulling` Event tells).
    Pulling,
    /// Scheduled; the image is there and the container is being created
    /// (`ContainerCreating`, with a `Pulled` Event).
    Creating,
    /// Scheduled; the container waits for `reason` (`ErrImagePull`,
    /// `ImagePullBackOff`, `CreateContainerConfigError`, ...).
    Waiting {
        reason: String,
        message: String,
    },
    /// Restarted too often: `CrashLoopBackOff`, the last run ended with `exit_code`.
    CrashLoop {
        exit_code: i32,
    },
    Running,
    /// The container ended; the pod is `Succeeded` or `Failed`.
    Terminated {
        exit_code: i32,
    },
}

/// One step of a timeline, taken `after` the previous one.
#[derive(Debug, Clone)]
pub struct Step {
    pub after: Duration,
    /// The pod's name without the job name: `0-0`, `master-0`, `worker-1`.
    pub pod: String,
    pub change: Change,
}

#[derive(Debug, Clone)]
pub enum Change {
    State(PodState),
    /// A line the container writes to its log.
    Log(String),
    /// An Event about the pod beyond those its state changes record.
    Event {
        kind: String,
        reason: String,
        message: String,
    },
}

/// A scripted life of a job's pods.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub steps: Vec<Step>,
}

impl Timeline {
    pub fn new() -> Self {
        Timeline::default()
    }

    /// Then, `after` the previous step, `pod` (`0-0`, `master-0`, ...) is in `state`.
    pub fn then(mut self, after: Duration, pod: &str, state: PodState) -> Self {
        self.steps.push(Step { after, pod: pod.to_owned(), change: Change::State(state) });
        self
    }

    /// Then an Event of `kind` (`Normal`, `Warning`) is recorded about `pod`.
    pub fn event(mut self, after: Duration, pod: &str, kind: &str, reason: &str, message: &str) -> Self {
        let change = Change::Event { kind: kind.to_owned(), reason: reason.to_owned(), message: message.to_owned() };
        self.steps.push(Step { after, pod: pod.to_owned(), change });
        self
    }

    /// Then `pod` writes `line` to its log.
    pub fn log(mut self, after: Duration, pod: &str, line: &str) -> Self {
        self.steps.push(Step { after, pod: pod.to_owned(), change: Change::Log(line.to_owned()) });
        self
    }
}

/// Takes the timeline's steps in order, each after its delay, unless the
/// server stops first.
pub(super) fn play(shared: &Shared, namespace: &str, job: &str, image: &str, timeline: &Timeline) {
    for step in &timeline.steps {
        let mut left = step.after;
        while !left.is_zero() {
            if shared.stopped() {
                return;
            }
            let nap = left.min(TICK);
            std::thread::sleep(nap);
            left -= nap;
        }
        let pod = format!("{job}-{}", step.pod);
        let mut cluster = lock(&shared.cluster);
        match &step.change {
            Change::State(state) => cluster.set_pod(namespace, &pod, image, state),
            Change::Log(line) => cluster.append_log(namespace, &pod, line),
            Change::Event { kind, reason, message } => cluster.record_event(namespace, &pod, kind, reason, message),
        }
    }
}
