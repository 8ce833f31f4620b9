//! `submit doctor`: every prerequisite of a submission, checked in the
//! order a submission meets them, one line each with a mark, the fact found
//! and, when something is wrong, the fix. It changes nothing, on the
//! cluster or on disk, and never prints a secret value: the Secret is
//! compared with the `.env` here, and only key names are shown.
//!
//! A check that cannot run because an earlier one failed is marked `skip`
//! with the reason. The cluster checks cost three kubectl processes: the
//! kubeconfig, one `get` of the namespace's claims and pods, one `get` of
//! the Secret.

mod cluster;
mod local;
mod report;

use std::path::PathBuf;

use anyhow::{Result, anyhow};

pub use report::{Check, Mark};

use crate::app::{Context, Outcome};
use crate::job::duration;

/// `submit doctor`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The configuration file to check
    #[arg(long, value_name = "PATH", default_value = ".env")]
    pub env_file: PathBuf,

    /// Print the checks as JSON, for scripts
    #[arg(long)]
    pub json: bool,

    /// Longest wait for kubectl (same syntax as submit's --time)
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub kubectl_timeout: String,
}

pub fn run(args: &Args, ctx: &Context) -> Result<Outcome> {
    let timeout = duration::parse(&args.kubectl_timeout)
        .map_err(|e| anyhow!("--kubectl-timeout={:?} {e}", args.kubectl_timeout))?;
    let env_path = super::env_path(&args.env_file, ctx);

    let mut checks = Vec::new();
    let kubectl = local::kubectl(ctx, timeout);
    let kubectl_found = kubectl.mark != Mark::Fail;
    checks.push(kubectl);
    let setup = local::Setup::load(&env_path, ctx);
    checks.push(local::runai(ctx, &setup));
    checks.push(setup.check.clone());
    checks.extend(cluster::checks(&setup, ctx, kubectl_found, timeout));
    checks.push(local::github_key(&setup, ctx));
    // The jobs line comes from the cluster's answer but reads best last.
    if let Some(i) = checks.iter().position(|c| c.name == cluster::JOBS) {
        let jobs = checks.remove(i);
        checks.push(jobs);
    }

    let text = if args.json { report::json(&env_path, &checks) } else { report::text(&env_path, &checks) };
    crate::app::print(&text)?;
    let failed = checks.iter().any(|c| c.mark == Mark::Fail);
    Ok(if failed { Outcome::External(1) } else { Outcome::Success })
}
