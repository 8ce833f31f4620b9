//! pod-init in the sandbox of its tests: what the bootstrap costs at the
//! start of a pod, and what PID 1 weighs while the job runs.
//!
//! Every timing is the wall clock of a whole container run (namespaces,
//! overlay, chroot, PID 1, exit), so each pod-init figure is set next to the
//! same container running `/bin/true` directly; the difference is pod-init's
//! own cost. Scratch is bind-mounted for these runs: the tests' root-squash
//! FUSE passthrough is a Python process whose latency would swamp the
//! milliseconds measured here (the tests use it for correctness, where
//! speed does not matter).

use std::fs;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nb_tests::sandbox::{self, LAB_GID, RunSpec, SCRATCH_MOUNT, SEED_USER, Sandbox};

use super::researcher::{self, UID};
use super::stats::paired;
use common::env::EnvVars;

/// How long a container may take before the bench gives up.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The pod environment `submit` would set, for the sandbox's layout, and
/// the image's seed user.
fn pod_env() -> Vec<(&'static str, String)> {
    let mut env = researcher::env(SCRATCH_MOUNT, Some(format!("{SCRATCH_MOUNT}/hf_cache")));
    env.push((EnvVars::SCRATCH_SEED_USER, SEED_USER.to_owned()));
    env
}

/// pod-init, setuid root, started with the researcher's ids as the pod's
/// `runAsUser`/`runAsGroup` start it, running `command`.
pub fn pod_init_spec(command: &[&str]) -> RunSpec {
    RunSpec::pod_init(command.iter().copied()).envs(pod_env()).as_user(UID, LAB_GID).bind_scratch().timeout(TIMEOUT)
}

/// pod-init as in [`pod_init_spec`] but without the pod's variables.
fn passthrough_spec() -> RunSpec {
    RunSpec::pod_init(["/bin/true"]).as_user(UID, LAB_GID).bind_scratch().timeout(TIMEOUT)
}

/// The same container, pod-init installed but not run: `/bin/true` is PID 1.
fn baseline_spec() -> RunSpec {
    RunSpec::new(["/bin/true"])
        .pod_init_mode(common::image::POD_INIT_MODE)
        .as_user(UID, LAB_GID)
        .bind_scratch()
        .timeout(TIMEOUT)
}

/// One container run's times: the whole run, and PID 1's life.
struct Timed {
    wall: Duration,
    life: Duration,
    stderr: String,
}

/// Runs one container through the tests' harness and returns its wall time,
/// PID 1's life and its stderr (pod-init's log); a non-zero exit is an
/// error that shows both streams. The harness waits on a pidfd, so the time
/// is not quantized.
fn timed_run(sb: &Sandbox, spec: &RunSpec) -> Result<Timed> {
    let start = Instant::now();
    let out = sb.run(spec).map_err(|e| anyhow!("{e}"))?;
    let wall = start.elapsed();
    if out.status != 0 {
        bail!("the container {:?} exited {}:\n{}{}", spec.argv, out.status, out.stdout, out.stderr);
    }
    let life = sb.pid1_life().map_err(|e| anyhow!("{e}"))?;
    Ok(Timed { wall, life, stderr: out.stderr })
}

fn new_sandbox() -> Result<Sandbox> {
    Sandbox::new().map_err(|e| anyhow!("{e}"))
}

/// Which start of a pod is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A researcher's very first pod: fresh /etc, empty scratch. Every run
    /// gets a new sandbox.
    First,
    /// Any later job of the same researcher: a fresh container (the image's
    /// /etc) over the scratch that earlier pods filled.
    NewPod,
    /// The container restarted in place: its /etc, its run-once marker and
    /// scratch kept, so the bootstrap (which a new PID namespace may claim
    /// again) finds everything done.
    Restart,
    /// pod-init without its variables: no bootstrap, only the exec, the
    /// fork of the command and the supervision, i.e. what PID 1 itself costs.
    Passthrough,
}

/// Medians of one clock's times, with and without pod-init.
#[derive(Debug, Clone)]
pub struct Paired {
    pub pod_init: Duration,
    pub baseline: Duration,
    /// The median of the per-pair differences (each pod-init run minus the
    /// baseline run right after it), in ms: steadier than the difference of
    /// the medians when the machine's speed drifts during the bench.
    pub overhead_ms: f64,
}

impl Paired {
    fn of(with: &[Duration], without: &[Duration]) -> Result<Paired> {
        let (pod_init, baseline, overhead_ms) = paired(with, without).context("no runs")?;
        Ok(Paired { pod_init, baseline, overhead_ms })
    }
}

/// One kind of start, with and without pod-init, on two clocks, and the
/// logs pod-init wrote in each run.
#[derive(Debug, Clone)]
pub struct StartTimes {
    /// The whole container run, as xtask times it (harness included).
    pub wall: Paired,
    /// PID 1's life, exec to reaped, as the harness times it
    /// ([`Sandbox::pid1_life`]): the same container without the harness's
    /// own setup and teardown, which are alike for both sides and only add
    /// noise (a few ms per run, against a difference of one or two).
    pub life: Paired,
    pub logs: Vec<String>,
}

/// Discards the container's writable layer, keeping scratch: the next
/// container starts from the image's /etc.
fn fresh_container_layer(sb: &Sandbox) -> Result<()> {
    sb.fresh_container_layer().map_err(|e| anyhow!("{e}"))
}

/// The scratch requests of each kind of start (first, new pod, restart in
/// place), counted by the tests' root-squash FUSE (its caches off: what an
/// NFS client sends at worst), minus the harness's own (a container with
/// `/bin/true` as PID 1, counted the same way).
pub fn scratch_requests() -> Result<[u64; 3]> {
    let sb = new_sandbox()?;
    let count = |spec: &RunSpec| -> Result<u64> {
        let out = sb.run(&spec.clone().count_scratch_requests()).map_err(|e| anyhow!("{e}"))?;
        if out.status != 0 {
            bail!("the container {:?} exited {}:\n{}{}", spec.argv, out.status, out.stdout, out.stderr);
        }
        Ok(sb.scratch_requests().map_err(|e| anyhow!("{e}"))?.total())
    };
    let squashed = RunSpec::pod_init(["/bin/true"]).envs(pod_env()).as_user(UID, LAB_GID).timeout(TIMEOUT);
    let harness = count(&RunSpec::new(["/bin/true"]).as_user(UID, LAB_GID).timeout(TIMEOUT))?;
    let first = count(&squashed)?;
    fresh_container_layer(&sb)?;
    let new_pod = count(&squashed)?;
    let restart = count(&squashed)?;
    Ok([first, new_pod, restart].map(|n| n.saturating_sub(harness)))
}

/// Times `runs` starts of each kind, alternating pod-init and the baseline
/// so that a drift in the machine's load hits both sides alike.
pub fn measure(start: Start, runs: u32) -> Result<StartTimes> {
    let spec = match start {
        Start::Passthrough => passthrough_spec(),
        _ => pod_init_spec(&["/bin/true"]),
    };
    let shared = match start {
        Start::First => None,
        Start::Passthrough => Some(new_sandbox()?),
        Start::NewPod | Start::Restart => {
            let sb = new_sandbox()?;
            timed_run(&sb, &spec)?;
            Some(sb)
        }
    };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    let (mut lives_with, mut lives_without) = (Vec::new(), Vec::new());
    let mut logs = Vec::new();
    for _ in 0..runs {
        for pod_init in [true, false] {
            let fresh;
            let sb = match &shared {
                Some(sb) => sb,
                None => {
                    fresh = new_sandbox()?;
                    &fresh
                }
            };
            match start {
                Start::NewPod => fresh_container_layer(sb)?,
                Start::First | Start::Restart | Start::Passthrough => {}
            }
            if pod_init {
                let run = timed_run(sb, &spec)?;
                with.push(run.wall);
                lives_with.push(run.life);
                logs.push(run.stderr);
            } else {
                let run = timed_run(sb, &baseline_spec())?;
                without.push(run.wall);
                lives_without.push(run.life);
            }
        }
    }
    Ok(StartTimes { wall: Paired::of(&with, &without)?, life: Paired::of(&lives_with, &lives_without)?, logs })
}

/// A `/proc/<pid>/status` field in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: i32, field: &str) -> Result<u64> {
    let status =
        fs::read_to_string(format!("/proc/{pid}/status")).with_context(|| format!("cannot read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

fn exe_name(pid: u32) -> Option<String> {
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    Some(exe.file_name()?.to_string_lossy().into_owned())
}

/// PID 1's memory while it supervises a sleeping job.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident now (VmRSS), in KiB.
    pub rss_kib: u64,
    /// The peak resident size so far (VmHWM), bootstrap included, in KiB.
    pub peak_kib: u64,
}

/// Starts `sleep` under pod-init (after a first start bootstrapped the
/// sandbox), waits until the job runs, and reads PID 1's memory from the
/// host.
pub fn supervising_memory() -> Result<Memory> {
    let sb = new_sandbox()?;
    let running = sb.spawn(&pod_init_spec(&["sleep", "60"])).map_err(|e| anyhow!("{e}"))?;
    let init = running.init_host_pid().map_err(|e| anyhow!("{e}"))?.as_raw();
    let host_pid = u32::try_from(init).context("bad pid")?;
    let deadline = Instant::now() + TIMEOUT;
    // The bootstrap is over once PID 1's child is the job itself.
    while !sandbox::children(host_pid).into_iter().any(|c| exe_name(c).as_deref() == Some("sleep")) {
        if Instant::now() > deadline {
            bail!("pod-init did not start `sleep` within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let memory = Memory { rss_kib: status_kib(init, "VmRSS")?, peak_kib: status_kib(init, "VmHWM")? };
    // Dropping `running` kills the container.
    drop(running);
    Ok(memory)
}
