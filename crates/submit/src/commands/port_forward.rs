//! `submit port-forward JOB LOCAL[:REMOTE]...`: `kubectl port-forward` to
//! the job's pod (the master's for a distributed job), with
//! `http://localhost:LOCAL` printed for each port once kubectl listens.
//! kubectl exits when its connection breaks or the pod goes (a pod
//! recreated after preemption has a new name): then the pod is looked up
//! again and the forward started again, after a wait that grows while
//! forwards keep dropping (`backoff`), one line saying so each time, until
//! Ctrl-C (exit 130, kubectl stopped). A job not running yet is waited
//! for, as `submit shell` does.

pub mod backoff;
mod forward;
pub mod ports;

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use super::Place;
use super::pod_wait::{self, Waited};
use crate::app::{Outcome, print, say};
use crate::cluster::invocation::describe_status;
use crate::cluster::kubectl;
use crate::cluster::kubectl_error::{Aim, Kind, KubectlError};
use crate::follow::interrupt;
use backoff::Backoff;
use forward::Ended;
use ports::PortPair;

/// Which job's pod, and which ports.
#[derive(Debug)]
pub struct Plan {
    pub place: Place,
    pub job: String,
    pub ports: Vec<PortPair>,
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    interrupt::catch().map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))?;
    let mut backoff = Backoff::default();
    let mut forwarded = false;
    loop {
        if forwarded && let Err(e) = plan.place.pods() {
            // The cluster is away for now (a laptop off the network): look again later.
            let wait = backoff.after(Duration::ZERO);
            say(&format!("cannot look the pod up again ({}); trying again in {}s", one_line(&e), wait.as_secs()));
            if interrupt::sleep(wait) {
                return Ok(Outcome::External(130));
            }
            continue;
        }
        let pod = match pod_wait::until_ready(&plan.place, &plan.job, None, Some("run"), |job, pod| {
            pod_wait::running(job, pod, "there is nothing to forward to")
        })? {
            Waited::Pod(pod) => pod,
            Waited::Interrupted => return Ok(Outcome::External(130)),
        };
        let pairs: Vec<String> = plan.ports.iter().map(PortPair::to_string).collect();
        let inv = kubectl::port_forward(&plan.place.namespace, &pod, &pairs);
        if !forwarded {
            say(&format!("running: {inv}"));
        }
        let started = Instant::now();
        let mut printed = Ok(());
        let ended = forward::run(&inv, || {
            let routes: Vec<String> =
                plan.ports.iter().map(|p| format!("localhost:{} -> {pod}:{}", p.local, p.remote)).collect();
            if forwarded {
                say(&format!("forwarding again: {}", routes.join(", ")));
            } else {
                say(&format!("forwarding {} (Ctrl-C to stop)", routes.join(", ")));
                let urls: String = plan.ports.iter().map(|p| format!("http://localhost:{}\n", p.local)).collect();
                printed = print(&urls);
            }
        })?;
        printed?;
        let (ready, status, stderr) = match ended {
            Ended::Interrupted => return Ok(Outcome::External(130)),
            Ended::Exited { ready, status, stderr } => (ready, status, stderr),
        };
        let error = KubectlError::classify(&stderr);
        if !ready && !forwarded {
            // It never listened: a local port in use, a refused request.
            let aim = Aim { namespace: Some(&plan.place.namespace), context: None };
            let meaning = match error.kind {
                Kind::Other => String::new(),
                _ => format!("{}\n", error.words(aim)),
            };
            return Err(anyhow!(
                "kubectl could not forward to the pod {pod} ({}):\n{meaning}{}",
                describe_status(status),
                error.said
            ));
        }
        forwarded = true;
        let wait = backoff.after(started.elapsed());
        let what = if ready { "dropped" } else { "did not start" };
        say(&format!(
            "the forward to {pod} {what} (kubectl: {}); starting it again in {}s",
            error.said.lines().collect::<Vec<_>>().join("; "),
            wait.as_secs()
        ));
        if interrupt::sleep(wait) {
            return Ok(Outcome::External(130));
        }
    }
}

/// An error's lines as one.
fn one_line(error: &anyhow::Error) -> String {
    error.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}
