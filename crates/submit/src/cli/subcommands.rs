//! The subcommands beside a submission and their arguments: clap types,
//! turned into typed plans by `commands`.

use std::path::PathBuf;

use clap::ValueEnum;
use clap::builder::PossibleValuesParser;

use crate::commands::port_forward::{self, ports::PortPair};
use crate::runai::probe::Preference;

/// The subcommands beside a submission. A bare `submit
/// [flags]` is still the submission: clap only sees a subcommand when its
/// name comes first.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The namespace's jobs, one line each (a sweep: one line), newest first
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// A job's log (the master's, or a worker's); of a deleted job, the copy kept
    Logs(LogsArgs),
    /// zsh (or CMD) in the job's pod, waiting for it to run
    Shell(ShellArgs),
    /// Forward local ports to the job's pod, again whenever it drops, until Ctrl-C
    PortForward(PortForwardArgs),
    /// Delete jobs or a sweep's jobs through run:ai (never asks), their logs kept first
    Delete(DeleteArgs),
    /// Delete succeeded jobs (--failed: failed ones too), listed and their logs kept first
    Clean(CleanArgs),
    /// Check everything a submission depends on, each with its fix; changes nothing
    Doctor(crate::commands::doctor::Args),
    /// Write the .env template to fill in (never over an existing file)
    Init(crate::commands::init::Args),
}

/// What every subcommand after a submission reads.
#[derive(Debug, clap::Args)]
pub struct Daily {
    /// The configuration file: its namespace, project and RUNAI_CLI
    #[arg(long, value_name = "PATH", default_value = ".env")]
    pub env_file: PathBuf,

    /// Longest wait for kubectl before giving up (same syntax as --time)
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub kubectl_timeout: String,
}

/// `submit list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub daily: Daily,

    /// `json`: an array of objects, one per job (name, kind, nodes, state,
    /// reason, exit_code, gpus, node, pods, created, restarts, sweep,
    /// sweep_index, sweep_size, sweep_point) for scripts
    #[arg(short = 'o', long, value_name = "FORMAT", value_enum, default_value_t = ListFormat::Table)]
    pub output: ListFormat,

    /// Redraw the list on every change, until Ctrl-C
    #[arg(short = 'w', long)]
    pub watch: bool,

    /// One line per job of a sweep, instead of one line for the sweep
    #[arg(long)]
    pub expand: bool,
}

/// How `submit list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// One line per job, 80 columns
    Table,
    /// A JSON array, one object per job (a sweep's jobs too)
    Json,
}

/// `submit logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The job
    pub job: String,

    /// Follow the log until the container ends (waiting for it to start)
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// Only the last N lines
    #[arg(long, value_name = "N")]
    pub tail: Option<u32>,

    /// For a distributed job: worker I's log instead of the master's
    #[arg(long, value_name = "I")]
    pub worker: Option<u32>,

    #[command(flatten)]
    pub daily: Daily,
}

/// `submit shell`.
#[derive(Debug, clap::Args)]
pub struct ShellArgs {
    /// The job
    pub job: String,

    /// For a distributed job: worker I's pod instead of the master's
    #[arg(long, value_name = "I")]
    pub worker: Option<u32>,

    /// The command to run instead of zsh, after `--`
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,

    #[command(flatten)]
    pub daily: Daily,
}

/// `submit port-forward`.
#[derive(Debug, clap::Args)]
pub struct PortForwardArgs {
    /// The job
    pub job: String,

    /// A port: LOCAL (the same port in the pod) or LOCAL:REMOTE, each 1-65535
    #[arg(required = true, value_name = "LOCAL[:REMOTE]", value_parser = port_forward::ports::parse)]
    pub ports: Vec<PortPair>,

    #[command(flatten)]
    pub daily: Daily,
}

/// `submit delete`.
#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// The jobs, or sweeps for all their jobs; every name must be one of the namespace, or nothing is deleted
    #[arg(required = true, value_name = "NAME")]
    pub jobs: Vec<String>,

    #[arg(long, help = NO_SAVE_HELP)]
    pub no_save: bool,

    #[command(flatten)]
    pub naming: Naming,

    #[command(flatten)]
    pub runai: RunaiChoice,

    #[command(flatten)]
    pub daily: Daily,
}

/// `submit clean`.
#[derive(Debug, clap::Args)]
pub struct CleanArgs {
    /// Delete the failed (and preempted, evicted) jobs too
    #[arg(long)]
    pub failed: bool,

    /// Only list what would be deleted
    #[arg(long, visible_alias = "dry")]
    pub dry_run: bool,

    #[arg(long, help = NO_SAVE_HELP)]
    pub no_save: bool,

    /// Only these jobs, or sweeps' jobs (still only the finished ones)
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,

    #[command(flatten)]
    pub naming: Naming,

    #[command(flatten)]
    pub runai: RunaiChoice,

    #[command(flatten)]
    pub daily: Daily,
}

/// `--no-save` of every command that deletes a job.
pub const NO_SAVE_HELP: &str = "Delete without first keeping the job's log (every pod's) and its pods' status in \
$XDG_STATE_HOME/submit/jobs/JOB/TIME/ (else ~/.local/state/submit/...), where `submit logs JOB` finds it once the \
job is gone";

/// What a NAME that is both a job's and a sweep's stands for: without
/// either flag such a name is refused.
#[derive(Debug, clap::Args)]
pub struct Naming {
    /// Take each NAME as a job's, never a sweep's
    #[arg(long, conflicts_with = "sweep")]
    pub job: bool,

    /// Take each NAME as a sweep's, for all its jobs
    #[arg(long)]
    pub sweep: bool,
}

/// Which run:ai CLI commands to use for a delete.
#[derive(Debug, clap::Args)]
pub struct RunaiChoice {
    /// v1, v2 or auto (ask the installed runai); overrides RUNAI_CLI [default: auto]
    #[arg(long, value_name = "DIALECT", value_parser = PossibleValuesParser::new(Preference::VALUES))]
    pub runai_cli: Option<String>,
}
