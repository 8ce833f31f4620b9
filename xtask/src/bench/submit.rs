//! `submit` on a laptop: how long a `--dry-run` takes on the example
//! configuration, and how many processes a real submission starts.
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

use super::stats::median;
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

/// Builds the runai test double (a binary of nb-tests) and returns its path.
pub fn build_runai_double(runner: &Runner) -> Result<PathBuf> {
    runner.run(&Cmd::cargo().args(["build", "--quiet", "-p", "nb-tests", "--bin", "runai"]).dir(project::root()))?;
    Ok(project::target_dir().join("debug").join("runai"))
}

/// The median wall time of `submit --env-file examples/demo.env --dry-run`,
/// and how many kubectl and runai processes those runs started (none).
pub fn dry_run(runai_double: &Path, runs: u32) -> Result<(Duration, usize, usize)> {
    let env = SubmitEnv::new(runai_double);
    env.count_kubectl_calls();
    let demo = demo_env().display().to_string();
    let args = ["--env-file", demo.as_str(), "--dry-run"];
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
    Ok((median, env.kubectl_calls(), env.runai_calls().len()))
}

/// What one real submission started, and its median wall time.
#[derive(Debug, Clone, Copy)]
pub struct Submission {
    pub kubectl: usize,
    pub runai: usize,
    pub wall: Duration,
}

/// `runs` real submissions of the demo configuration with `extra` flags,
/// one room and server for all (so kubectl's discovery cache is warm after
/// the first, as on a laptop); the process counts are per submission.
pub fn real(runai_double: &Path, runs: u32, extra: &[&str]) -> Result<Submission> {
    let server = FakeApiServer::start().map_err(|e| anyhow!("cannot start the fake API server: {e}"))?;
    server.add_pvc(DEMO_NAMESPACE, DEMO_PVC);
    let mut env = SubmitEnv::new(runai_double);
    env.use_apiserver(&server, DEMO_NAMESPACE);
    env.count_kubectl_calls();
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
    Ok(Submission { kubectl: env.kubectl_calls() / runs, runai: env.runai_calls().len() / runs, wall })
}
