//! A sweep against the loop it replaces: one `submit --sweep` of 20 points
//! and 20 `submit` runs one after the other (what a bash loop around the
//! wrapper does), both against a runai double that takes 200 ms per
//! submission (a real CLI's round trips to the cluster), paired run by run
//! in one room and one fake API server, kubectl's discovery cache warm.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nb_tests::fake_apiserver::FakeApiServer;
use nb_tests::submit_harness::SubmitEnv;

use super::stats::{median, ms};
use super::submit::demo_env;
use super::table::Row;

/// The grid's size.
const POINTS: usize = 20;
/// What the runai double takes per submission.
const SUBMIT_MS: u64 = 200;
/// Pairs measured: each is some 10 s of wall time.
const PAIRS: u32 = 5;

/// How the rows are measured, for the method list.
pub const METHOD: &str = "sweep: the runai double sleeps 200 ms per submission (`RUNAI_DOUBLE_SUBMIT_MS`); each pair \
    is one `submit --sweep seed=0,...,19` of examples/demo.env and then 20 `submit -n NAME` runs one after the other, \
    each syncing the Secret and checking its name as a loop around the wrapper would; one room and one fake API server \
    for all, so kubectl's discovery cache is warm";

/// The rows: the sweep's wall time against the sequential series', and
/// the kubectl processes of each.
pub fn rows(runai_double: &Path) -> Result<Vec<Row>> {
    eprintln!("bench: a {POINTS}-point sweep against {POINTS} sequential submissions, {PAIRS} pairs");
    let swept = measure(runai_double, PAIRS)?;
    Ok(vec![
        Row::with_target(
            format!(
                "`submit --sweep` of {POINTS} points (--parallel 4) vs {POINTS} `submit` runs one after the other ({}), \
                 runai taking {SUBMIT_MS} ms per submission, paired, median of {}",
                ms(swept.sequential),
                swept.pairs
            ),
            ms(swept.sweep),
            "at most a third",
            swept.sweep.as_secs_f64() * 3.0 <= swept.sequential.as_secs_f64(),
        ),
        Row::info(
            format!("kubectl processes: one sweep of {POINTS} points / {POINTS} sequential submissions"),
            format!("{} / {}", swept.sweep_kubectl, swept.sequential_kubectl),
        ),
    ])
}

/// The namespace and claim of `examples/demo.env`.
const NAMESPACE: &str = "runai-mlo-ada";
const PVC: &str = "mlo-scratch";

/// The medians of the pairs, and the processes each side started.
#[derive(Debug, Clone, Copy)]
struct Sweep {
    pub pairs: u32,
    /// `submit --sweep` of [`POINTS`] points, default `--parallel` (4).
    pub sweep: Duration,
    /// [`POINTS`] `submit` runs one after the other.
    pub sequential: Duration,
    /// kubectl processes of one sweep, and of the sequential twenty.
    pub sweep_kubectl: usize,
    pub sequential_kubectl: usize,
}

/// `pairs` pairs of one sweep and one sequential series, in turn.
fn measure(runai_double: &Path, pairs: u32) -> Result<Sweep> {
    let server = FakeApiServer::start().map_err(|e| anyhow!("cannot start the fake API server: {e}"))?;
    server.add_pvc(NAMESPACE, PVC);
    let mut env = SubmitEnv::new(runai_double);
    env.use_apiserver(&server, NAMESPACE);
    env.count_kubectl_calls();
    env.set_env("RUNAI_DOUBLE_SUBMIT_MS", &SUBMIT_MS.to_string());
    let demo = demo_env().display().to_string();
    let seeds = (0..POINTS).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let axis = format!("seed={seeds}");
    let (mut sweeps, mut sequentials) = (Vec::new(), Vec::new());
    let (mut sweep_kubectl, mut sequential_kubectl) = (0, 0);
    for pair in 0..pairs {
        let name = format!("bench-sweep-{pair}");
        let args = ["--env-file", demo.as_str(), "-n", name.as_str(), "--sweep", axis.as_str(), "-c", "train {seed}"];
        let before = env.kubectl_calls();
        let start = Instant::now();
        let run = env.run(&args);
        sweeps.push(start.elapsed());
        if run.code != Some(0) || run.stdout.lines().count() != POINTS + 1 {
            bail!("a {POINTS}-point sweep failed:\n{run}");
        }
        sweep_kubectl = env.kubectl_calls() - before;
        let before = env.kubectl_calls();
        let start = Instant::now();
        for i in 0..POINTS {
            let job = format!("bench-seq-{pair}-{i}");
            let command = format!("train {i}");
            let run = env.run(&["--env-file", demo.as_str(), "-n", job.as_str(), "-c", command.as_str()]);
            if run.code != Some(0) {
                bail!("a submission of the sequential series failed:\n{run}");
            }
        }
        sequentials.push(start.elapsed());
        sequential_kubectl = env.kubectl_calls() - before;
    }
    Ok(Sweep {
        pairs,
        sweep: median(&sweeps).context("no runs")?,
        sequential: median(&sequentials).context("no runs")?,
        sweep_kubectl,
        sequential_kubectl,
    })
}
