//! `submit` on a laptop: how long a `--dry-run` takes on the example
//! configuration (probing the runai on PATH for its dialect, as it does by
//! default, or told the dialect), and how many processes a real submission
//! starts.
//!
//! Both run the shipped binary in the tests' clean room (`SubmitEnv`: a
//! temp HOME, a cleared environment, the doubles first on PATH). The real
//! submission talks to the tests' fake Kubernetes API server through the
//! real kubectl, behind a shim that counts its calls, and to the runai
//! double, which logs each call; so the counts are processes started, not
//! guesses from reading the code.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nb_tests::fake_apiserver::FakeApiServer;
use nb_tests::submit_harness::SubmitEnv;

use super::stats::{median, ms, paired};
use super::table::Row;
use crate::cmd::{Cmd, Runner};
use crate::project;

/// The shipped example configuration (README's first command).
pub fn demo_env() -> PathBuf {
    project::root().join("examples/demo.env")
}

/// The namespace in `examples/demo.env`.
const DEMO_NAMESPACE: &str = "runai-mlo-ada";
/// The scratch claim in `examples/demo.env`, which the pre-flight check looks for.
const DEMO_PVC: &str = "mlo-scratch";

/// The runai test doubles used here (binaries of nb-tests).
#[derive(Debug)]
pub struct Doubles {
    pub v1: PathBuf,
    pub v2: PathBuf,
}

/// Builds the v1 and the 2.2x v2 runai doubles and returns their paths.
pub fn build_runai_doubles(runner: &Runner) -> Result<Doubles> {
    let (v1, v2) = ("runai", "runai-v2-22x");
    let build = Cmd::cargo().args(["build", "--quiet", "-p", "nb-tests", "--bin", v1, "--bin", v2]);
    runner.run(&build.dir(project::root()))?;
    let debug = project::target_dir().join("debug");
    Ok(Doubles { v1: debug.join(v1), v2: debug.join(v2) })
}

/// What a series of dry runs cost and started.
#[derive(Debug, Clone, Copy)]
pub struct DryRuns {
    pub median: Duration,
    pub kubectl: usize,
    /// runai processes besides the dialect probe (none expected).
    pub runai: usize,
    pub probes: usize,
}

/// `submit --env-file examples/demo.env --dry-run` (plus `extra` arguments)
/// `runs` times with `runai_double` on PATH.
pub fn dry_run(runai_double: &Path, runs: u32, extra: &[&str]) -> Result<DryRuns> {
    let env = SubmitEnv::new(runai_double);
    env.count_kubectl_calls();
    let demo = demo_env().display().to_string();
    let mut args = vec!["--env-file", demo.as_str(), "--dry-run"];
    args.extend_from_slice(extra);
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let output = env.command(&args).output().context("cannot run submit")?;
        times.push(start.elapsed());
        if !output.status.success() {
            bail!(
                "submit --dry-run on {demo} failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
    }
    let median = median(&times).context("no runs")?;
    Ok(DryRuns { median, kubectl: env.kubectl_calls(), runai: env.runai_calls().len(), probes: env.runai_probes() })
}

/// A fake API server whose namespace has the demo's scratch claim, and a
/// room pointed at it with kubectl calls counted.
fn demo_room(runai_double: &Path) -> Result<(FakeApiServer, SubmitEnv)> {
    let server = FakeApiServer::start().map_err(|e| anyhow!("cannot start the fake API server: {e}"))?;
    server.add_pvc(DEMO_NAMESPACE, DEMO_PVC);
    let mut env = SubmitEnv::new(runai_double);
    env.use_apiserver(&server, DEMO_NAMESPACE);
    env.count_kubectl_calls();
    Ok((server, env))
}

/// What one real submission started, and its median wall time.
#[derive(Debug, Clone, Copy)]
pub struct Submission {
    pub kubectl: usize,
    /// runai submissions; the dialect probe is counted apart.
    pub runai: usize,
    pub probes: usize,
    pub wall: Duration,
}

/// `runs` real submissions of the demo configuration with `extra` flags,
/// one room and server for all (so kubectl's discovery cache is warm after
/// the first, as on a laptop); the process counts are per submission.
pub fn real(runai_double: &Path, runs: u32, extra: &[&str]) -> Result<Submission> {
    let (_server, env) = demo_room(runai_double)?;
    let demo = demo_env().display().to_string();
    let mut args = vec!["--env-file", demo.as_str()];
    args.extend_from_slice(extra);
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let run = env.run(&args);
        times.push(start.elapsed());
        if run.code != Some(0) {
            bail!("a real submission of {demo} ({}) failed:\n{run}", args.join(" "));
        }
    }
    let runs = usize::try_from(runs.max(1)).unwrap_or(1);
    let wall = median(&times).context("no runs")?;
    Ok(Submission {
        kubectl: env.kubectl_calls() / runs,
        runai: env.runai_calls().len() / runs,
        probes: env.runai_probes() / runs,
        wall,
    })
}

/// What `--wait` costs on a job whose pod runs a scripted time after the
/// submission, against the price of one look at the pods, which polling
/// would pay again at every look.
#[derive(Debug, Clone, Copy)]
pub struct Wait {
    /// When the scripted pod runs, counted from the submission.
    pub scripted: Duration,
    /// `submit --wait`, submission included (median).
    pub wall: Duration,
    /// kubectl processes of one `submit --wait`.
    pub kubectl: usize,
    /// One `kubectl get pods -o json` of the namespace (median).
    pub look: Duration,
}

/// `runs` submissions with `--wait` of jobs that are unschedulable for a
/// moment, then start and run; and `runs` single looks at the pods.
pub fn wait(runai_double: &Path, runs: u32) -> Result<Wait> {
    use nb_tests::fake_apiserver::{PodState, Timeline};
    let (server, env) = demo_room(runai_double)?;
    let demo = demo_env().display().to_string();
    let step = Duration::from_millis(250);
    let mut times = Vec::new();
    for i in 0..runs {
        let job = format!("bench-wait-{i}");
        let message = "0/12 nodes are available: 12 Insufficient nvidia.com/gpu.".to_owned();
        let timeline = Timeline::new()
            .then(step, "0-0", PodState::Unschedulable { message })
            .then(step, "0-0", PodState::Creating)
            .then(step, "0-0", PodState::Running);
        server.arm_timeline(DEMO_NAMESPACE, &job, timeline);
        let start = Instant::now();
        let run = env.run(&["--env-file", demo.as_str(), "-n", job.as_str(), "--wait"]);
        times.push(start.elapsed());
        if run.code != Some(0) {
            bail!("submit --wait of {demo} failed:\n{run}");
        }
    }
    let kubectl = env.kubectl_calls() / usize::try_from(runs.max(1)).unwrap_or(1);
    let wall = median(&times).context("no runs")?;
    let look_cmd = get_pods(&env);
    let mut looks = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        look_cmd.read()?;
        looks.push(start.elapsed());
    }
    let look = median(&looks).context("no runs")?;
    Ok(Wait { scripted: step * 3, wall, kubectl, look })
}

/// The bare `kubectl get pods -o json` of the demo namespace, with the
/// room's kubeconfig and discovery cache.
fn get_pods(env: &SubmitEnv) -> Cmd {
    let config = env.home.join(".kube/config").display().to_string();
    let cache = env.tmp.join("kube-cache").display().to_string();
    Cmd::new(nb_tests::submit_harness::REAL_KUBECTL)
        .args(["get", "pods", "--namespace", DEMO_NAMESPACE, "--output", "json"])
        .env("KUBECONFIG", config)
        .env("KUBECACHEDIR", cache)
}

/// `submit list` against a namespace of many pods, paired run by run with
/// the bare `kubectl get pods -o json` it runs.
#[derive(Debug, Clone, Copy)]
pub struct Listing {
    pub pods: usize,
    /// `submit list` (median).
    pub list: Duration,
    /// `kubectl get pods -o json` of the same namespace (median).
    pub bare: Duration,
    /// The median over the pairs of (`submit list` minus the bare kubectl
    /// right after it), in ms: what submit adds, with the machine's load
    /// drifting between pairs left out.
    pub overhead_ms: f64,
    /// kubectl processes of one `submit list`.
    pub kubectl: usize,
}

/// How the pods of a listing bench make jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One running single-pod job each: one line each.
    Jobs,
    /// The points of one sweep (`NB_SWEEP_*` in each pod): one line.
    Sweep,
}

/// `runs` pairs of one `submit list` and one bare `kubectl get pods -o
/// json`, in turn, on a namespace of `pods` single-pod jobs laid out so.
pub fn listing(runai_double: &Path, runs: u32, pods: usize, layout: Layout) -> Result<Listing> {
    use nb_tests::daily::{pod, running, with_env};
    use nb_tests::fake_apiserver::PodState;
    let (server, env) = demo_room(runai_double)?;
    let size = pods.to_string();
    for i in 0..pods {
        match layout {
            Layout::Jobs => {
                server.set_pod(DEMO_NAMESPACE, &format!("bench-list-{i}-0-0"), "reg.example/img:1", &PodState::Running);
            }
            Layout::Sweep => {
                let index = i.to_string();
                let object =
                    pod(&format!("bench-sweep-{i}-0-0"), serde_json::json!({}), 600, Some("train"), running(500));
                let point = format!("seed={i}");
                let vars = [
                    ("NB_SWEEP", "bench-sweep"),
                    ("NB_SWEEP_SIZE", &size),
                    ("NB_SWEEP_INDEX", &index),
                    ("NB_SWEEP_POINT", &point),
                ];
                server.put_pod_object(DEMO_NAMESPACE, with_env(object, &vars), &[]);
            }
        }
    }
    let lines = match layout {
        Layout::Jobs => pods + 1,
        Layout::Sweep => 2,
    };
    let demo = demo_env().display().to_string();
    let bare_cmd = get_pods(&env);
    // Once each first, so that kubectl's discovery cache is warm for both.
    bare_cmd.read()?;
    let warm = env.run(&["list", "--env-file", demo.as_str()]);
    if warm.code != Some(0) || warm.stdout.lines().count() != lines {
        bail!("submit list of {pods} pods failed or listed the wrong jobs:\n{warm}");
    }
    let before = env.kubectl_calls();
    let (mut lists, mut bares) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let start = Instant::now();
        let run = env.run(&["list", "--env-file", demo.as_str()]);
        lists.push(start.elapsed());
        if run.code != Some(0) {
            bail!("submit list failed:\n{run}");
        }
        let start = Instant::now();
        bare_cmd.read()?;
        bares.push(start.elapsed());
    }
    let kubectl = (env.kubectl_calls() - before) / usize::try_from(runs.max(1)).unwrap_or(1);
    let (list, bare, overhead_ms) = paired(&lists, &bares).context("no runs")?;
    Ok(Listing { pods, list, bare, overhead_ms, kubectl })
}

/// `submit list` may add at most this share of the `kubectl get pods -o
/// json` it runs (median of paired differences over the bare median).
const LIST_TARGET_SHARE: f64 = 0.2;

/// The rows of `submit list` on 200 pods, as 200 jobs and as one sweep.
pub fn listing_rows(runai_double: &Path, runs: u32) -> Result<Vec<Row>> {
    let jobs = listing(runai_double, runs, 200, Layout::Jobs)?;
    let swept = listing(runai_double, runs, 200, Layout::Sweep)?;
    let close = |l: &Listing| l.overhead_ms <= l.bare.as_secs_f64() * 1000.0 * LIST_TARGET_SHARE;
    Ok(vec![
        Row::info(
            format!(
                "`submit list` on {} pods vs the bare `kubectl get pods -o json` ({}), paired, median of {runs}",
                jobs.pods,
                ms(jobs.bare)
            ),
            ms(jobs.list),
        ),
        Row::with_target(
            "`submit list` on those pods: what it adds to the bare kubectl (median of paired differences)",
            format!("{:+.2} ms", jobs.overhead_ms),
            "<= 20% of the bare",
            close(&jobs),
        ),
        Row::info(
            format!(
                "`submit list` on one sweep of {} pods (one line) vs the bare `kubectl get pods -o json` ({}), paired, median of {runs}",
                swept.pods,
                ms(swept.bare)
            ),
            ms(swept.list),
        ),
        Row::with_target(
            "`submit list` on the sweep: what it adds to the bare kubectl (median of paired differences)",
            format!("{:+.2} ms", swept.overhead_ms),
            "<= 20% of the bare",
            close(&swept),
        ),
        Row::with_target(
            "kubectl processes per `submit list`",
            jobs.kubectl.to_string(),
            "1",
            jobs.kubectl == 1 && swept.kubectl == 1,
        ),
    ])
}
