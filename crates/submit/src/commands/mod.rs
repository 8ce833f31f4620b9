//! The subcommands beside a submission: for a job after it (`submit list`,
//! `logs`, `shell`, `port-forward`, `delete`, `clean`) and for the first day (`doctor`,
//! `init`), one file or folder each. Each reads the same `.env` as a
//! submission for the namespace, the project and the run:ai dialect, turns
//! its arguments into a typed plan here, and runs the plan.

pub mod clean;
pub mod delete;
pub mod doctor;
mod gone;
pub mod init;
pub mod list;
pub mod logs;
pub mod names;
mod pod_wait;
pub mod port_forward;
pub mod replace;
pub mod saved;
pub mod shell;

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use serde_json::Value;

use crate::app::{Context, Outcome};
use crate::cli::{Command, Daily, Naming, RunaiChoice};
use crate::cluster::invocation::{RunError, describe_status, find_on_path};
use crate::cluster::kubectl;
use crate::cluster::kubectl_error::{Aim, Kind, KubectlError};
use crate::job::config::EnvFile;
use crate::job::duration::{self, Seconds};
use crate::job::{self as job_rules, github_key};
use crate::runai::{Dialect, RUNAI, probe};

/// Runs `command`.
pub fn run(command: Command, ctx: &Context) -> Result<Outcome> {
    match command {
        Command::List(args) => {
            let place = Place::read(&args.daily, ctx)?;
            let colour = !ctx.no_color && std::io::IsTerminal::is_terminal(&std::io::stdout());
            list::run(&list::Plan { place, format: args.output, watch: args.watch, expand: args.expand, colour })
        }
        Command::Logs(args) => {
            let place = Place::read(&args.daily, ctx)?;
            let kept = saved::Store::locate(ctx).ok();
            logs::run(&logs::Plan {
                place,
                job: args.job,
                follow: args.follow,
                tail: args.tail,
                worker: args.worker,
                kept,
            })
        }
        Command::Shell(args) => {
            let place = Place::read(&args.daily, ctx)?;
            shell::run(&shell::Plan { place, job: args.job, worker: args.worker, command: args.command })
        }
        Command::PortForward(args) => {
            port_forward::ports::check_distinct(&args.ports).map_err(|e| anyhow!("port-forward: {e}"))?;
            let place = Place::read(&args.daily, ctx)?;
            port_forward::run(&port_forward::Plan { place, job: args.job, ports: args.ports })
        }
        Command::Delete(args) => {
            let place = Place::read(&args.daily, ctx)?;
            let dialect = dialect(&args.runai, &place, ctx)?;
            let save = keeping(args.no_save, ctx)?;
            delete::run(&delete::Plan { place, dialect, jobs: args.jobs, save, take: take(&args.naming) })
        }
        Command::Clean(args) => {
            let place = Place::read(&args.daily, ctx)?;
            let dialect = if args.dry_run { None } else { Some(dialect(&args.runai, &place, ctx)?) };
            let save = keeping(args.no_save, ctx)?;
            let take = take(&args.naming);
            clean::run(&clean::Plan { place, dialect, failed: args.failed, names: args.names, take, save })
        }
        Command::Doctor(args) => doctor::run(&args, ctx),
        Command::Init(args) => init::run(&args, ctx),
    }
}

/// Where a delete keeps the jobs' logs: none with `--no-save`.
fn keeping(no_save: bool, ctx: &Context) -> Result<Option<saved::Store>> {
    match no_save {
        true => Ok(None),
        false => saved::Store::locate(ctx).map(Some).map_err(|e| {
            anyhow!("{e}: nowhere to keep the jobs' logs; nothing was deleted (--no-save deletes without)")
        }),
    }
}

/// What the names given to `delete` or `clean` stand for.
fn take(naming: &Naming) -> names::Take {
    match (naming.job, naming.sweep) {
        (true, _) => names::Take::Job,
        (false, true) => names::Take::Sweep,
        (false, false) => names::Take::Either,
    }
}

/// `path` with a leading `~/` expanded, as the submission reads `--env-file`.
pub fn env_path(path: &Path, ctx: &Context) -> PathBuf {
    match path.to_str() {
        Some(p) if p.starts_with('~') => github_key::expand_tilde(p, ctx.home.as_deref()),
        _ => path.to_owned(),
    }
}

/// Where the jobs are: the `.env`'s namespace and project, and how long
/// kubectl may take.
#[derive(Debug)]
pub struct Place {
    pub env: EnvFile,
    pub namespace: String,
    pub project: String,
    pub kubectl_timeout: Seconds,
}

impl Place {
    fn read(daily: &Daily, ctx: &Context) -> Result<Self> {
        let kubectl_timeout = duration::parse(&daily.kubectl_timeout)
            .map_err(|e| anyhow!("--kubectl-timeout={:?} {e}", daily.kubectl_timeout))?;
        let env = EnvFile::load(&env_path(&daily.env_file, ctx))?;
        let namespace = job_rules::namespace(&env)?;
        let project = job_rules::project(&env, &namespace)?;
        if find_on_path(kubectl::KUBECTL, ctx.path.as_ref()).is_none() {
            return Err(anyhow!("kubectl not found on PATH: install it (Debian: apt-get install kubernetes-client)"));
        }
        Ok(Place { env, namespace, project, kubectl_timeout })
    }

    /// Every pod of the namespace, as one `PodList`: one kubectl request.
    pub fn pods(&self) -> Result<Value> {
        let inv = kubectl::get_pods(&self.namespace, self.kubectl_timeout);
        let done = inv.run_for_output(kubectl::kill_after(self.kubectl_timeout)).map_err(|e| match e {
            RunError::TimedOut { .. } => anyhow!(
                "{e}: the cluster did not answer; check your connection and kubeconfig, or raise --kubectl-timeout"
            ),
            e => anyhow!(e),
        })?;
        if !done.status.success() {
            // What failed, then what it means (when the classifier can
            // tell), then kubectl's own last lines.
            let error = KubectlError::classify(&done.stderr);
            let aim = Aim { namespace: Some(&self.namespace), context: None };
            let meaning = match error.kind {
                Kind::Other => String::new(),
                _ => format!("{}\n", error.words(aim)),
            };
            return Err(anyhow!(
                "kubectl could not list the pods of namespace {} ({}):\n{meaning}{}",
                self.namespace,
                describe_status(done.status),
                error.said
            ));
        }
        serde_json::from_slice(&done.stdout).map_err(|e| anyhow!("`{inv}` printed no pod list: {e}"))
    }

    /// An unknown job name, saying where to look.
    pub fn unknown(&self, name: &str) -> anyhow::Error {
        UnknownJob { name: name.to_owned(), namespace: self.namespace.clone() }.into()
    }
}

/// No pod of the namespace belongs to the job.
#[derive(Debug, thiserror::Error)]
#[error("no job named {name} in namespace {namespace} (`submit list` shows its jobs)")]
pub struct UnknownJob {
    pub name: String,
    pub namespace: String,
}

/// The run:ai dialect for a delete, said on stderr with the reason.
fn dialect(choice: &RunaiChoice, place: &Place, ctx: &Context) -> Result<Dialect> {
    let (preference, origin) = job_rules::runai_preference_given(choice.runai_cli.as_deref(), &place.env)?;
    let runai_on_path = find_on_path(RUNAI, ctx.path.as_ref()).is_some();
    if !runai_on_path {
        return Err(anyhow!("runai not found on PATH: install the run:ai CLI"));
    }
    let choice = probe::choose(preference, origin.as_deref(), || probe::ask(runai_on_path))?;
    crate::app::say(&format!("run:ai CLI {}: {}", choice.dialect, choice.reason));
    Ok(choice.dialect)
}
