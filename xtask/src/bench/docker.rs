//! The image in the tests' Docker engine: what pod-init adds to a
//! `docker run` of the image, on a fresh scratch and on a kept one.
//!
//! Each run is the wall clock of a whole `docker run --rm` (create, start,
//! PID 1, exit, removal), set next to the same run with
//! `--entrypoint /bin/true` right after it; the overhead is the median of
//! those paired differences. Scratch is the backing directory bound
//! directly, without the tests' Python root-squash mount, for the same
//! reason as in the sandbox runs.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nb_tests::docker::{self, PodSpec, SCRATCH, SquashedScratch};
use nb_tests::sandbox::LAB_GID;

use super::researcher::{self, UID};
use super::stats::paired;

/// Which scratch the pod starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scratch {
    /// A researcher's first pod: nothing on scratch yet.
    Fresh,
    /// A later pod: scratch as an earlier pod left it.
    Kept,
}

/// Medians of one kind of `docker run`, with pod-init and with `/bin/true`.
#[derive(Debug, Clone)]
pub struct RunTimes {
    pub pod_init: Duration,
    pub baseline: Duration,
    pub overhead_ms: f64,
}

/// What setting up the engine and the image cost in this bench.
#[derive(Debug, Clone)]
pub struct Setup {
    pub engine: Duration,
    pub import: Duration,
    pub build: Duration,
}

fn err(e: nb_tests::sandbox::Error) -> anyhow::Error {
    anyhow!("{e}")
}

/// Starts the engine and builds the image (as the tests do).
pub fn setup() -> Result<Setup> {
    let daemon = docker::daemon().map_err(err)?;
    let built = docker::image().map_err(err)?;
    Ok(Setup { engine: daemon.started_in, import: built.import, build: built.build })
}

fn pod(scratch: &SquashedScratch, pod_init: bool) -> PodSpec {
    let spec = PodSpec::new(["/bin/true"])
        .user(UID, LAB_GID)
        .volume(scratch.unsquashed_volume())
        .envs(researcher::env(SCRATCH, None));
    if pod_init { spec } else { spec.entrypoint("/bin/true") }
}

fn timed(spec: &PodSpec) -> Result<Duration> {
    let start = Instant::now();
    let out = spec.run().map_err(err)?;
    let elapsed = start.elapsed();
    if out.status != 0 {
        bail!("docker run exited {}:\n{}{}", out.status, out.stdout, out.stderr);
    }
    Ok(elapsed)
}

fn new_scratch() -> Result<SquashedScratch> {
    SquashedScratch::new().map_err(err)
}

/// Times `runs` pairs, pod-init first, then `/bin/true`.
pub fn measure(scratch: Scratch, runs: u32) -> Result<RunTimes> {
    let kept = match scratch {
        Scratch::Fresh => None,
        Scratch::Kept => {
            let kept = new_scratch()?;
            timed(&pod(&kept, true))?;
            Some(kept)
        }
    };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let fresh;
        let scratch = match &kept {
            Some(kept) => kept,
            None => {
                fresh = new_scratch()?;
                &fresh
            }
        };
        with.push(timed(&pod(scratch, true))?);
        without.push(timed(&pod(scratch, false))?);
    }
    let (pod_init, baseline, overhead_ms) = paired(&with, &without).context("no runs")?;
    Ok(RunTimes { pod_init, baseline, overhead_ms })
}
