//! The command line, as clap derive structs and nothing else.
//!
//! Every flag of the Python wrapper (`csub.py`) keeps its name and meaning so
//! that a researcher can switch without relearning; conventional spellings
//! (`--dry-run`, `--backoff-limit`) are aliases. Values are parsed here only
//! as far as their type goes; the rules that need the `.env` too live in
//! `job.rs`. As with argparse, a long option may be shortened to any prefix
//! that names only one option (`--gpu 2`, `--mem 16G`), and an option given
//! again replaces its earlier value (`-g 1 ... -g 2` is two GPUs), so that a
//! script or alias that sets a default can be overridden after it.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::PossibleValuesParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory as _, Parser, ValueEnum};
use clap_complete::Shell;

use crate::runai::probe::Preference;

mod plan;
mod subcommands;

pub use plan::bare_request;

/// Submit a run:ai job described by a `.env` file, after syncing the file's
/// secret keys into a Kubernetes Secret.
#[derive(Debug, Parser)]
#[command(
    name = "submit",
    version,
    about,
    max_term_width = 100,
    infer_long_args = true,
    args_override_self = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A subcommand instead of a submission; none submits
    #[command(subcommand)]
    pub action: Option<Command>,

    /// Job name; default `<user>-<YYYYmmdd-HHMMSS>` (local time)
    #[arg(short = 'n', long)]
    pub name: Option<String>,

    /// Run the container as this uid instead of LDAP_UID
    #[arg(long, value_name = "UID")]
    pub uid: Option<String>,

    /// Run the container as this gid instead of LDAP_GID
    #[arg(long, value_name = "GID")]
    pub gid: Option<String>,

    /// Shell command to run in the pod; default: sleep for --time
    #[arg(short = 'c', long)]
    pub command: Option<String>,

    /// Directory to `cd` into before the command (shell text, so ~ and $VARS work)
    #[arg(long, value_name = "DIR")]
    pub exp_folder: Option<String>,

    /// Virtual environment to activate before the command (its bin/activate is sourced)
    #[arg(long, value_name = "DIR")]
    pub venv: Option<String>,

    /// How long the default command sleeps: 12h, 30m, 1d, 90s, 2d6h30m [default: 12h]
    #[arg(short = 't', long, value_name = "DURATION")]
    pub time: Option<String>,

    /// Number of GPUs (fractions such as 0.5 allowed)
    #[arg(short = 'g', long, value_name = "N", default_value = "0")]
    pub gpus: String,

    /// Number of CPUs; default: the platform's
    #[arg(long, value_name = "N")]
    pub cpus: Option<String>,

    /// CPU memory as a Kubernetes quantity (e.g. 32G, 512Mi); default: the platform's
    #[arg(long, value_name = "QUANTITY")]
    pub memory: Option<String>,

    /// Image; overrides RUNAI_IMAGE
    #[arg(short = 'i', long)]
    pub image: Option<String>,

    /// Container port to expose
    #[arg(short = 'p', long)]
    pub port: Option<u16>,

    /// Submit a training job instead of an interactive one
    #[arg(long)]
    pub train: bool,

    /// Nodes in addition to the master; more than 0 submits a distributed
    /// PyTorch training job (`runai submit-dist pytorch`; v2: `runai training pytorch submit`)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub workers: u32,

    /// Print the runai command instead of running anything
    #[arg(long, visible_alias = "dry-run")]
    pub dry: bool,

    /// The configuration file
    #[arg(long, value_name = "PATH", default_value = ".env")]
    pub env_file: PathBuf,

    /// Sync the Secret, then stop without submitting
    #[arg(long, conflicts_with = "skip_secret_sync")]
    pub sync_secret_only: bool,

    /// Submit without syncing the Secret first
    #[arg(long)]
    pub skip_secret_sync: bool,

    /// Secret name; overrides RUNAI_SECRET_NAME
    #[arg(long, value_name = "NAME")]
    pub secret_name: Option<String>,

    /// Scratch PVC name; overrides SCRATCH_PVC
    #[arg(long, value_name = "CLAIM")]
    pub pvc: Option<String>,

    /// Retries before a training job is marked failed
    #[arg(long, visible_alias = "backoff-limit", value_name = "N", default_value_t = 0)]
    pub backofflimit: u32,

    /// GPU node pool(s), in order of preference: several values after the
    /// flag, repeated flags or commas; none means any pool
    #[arg(long, value_name = "TYPE", value_delimiter = ',', num_args = 0..)]
    pub node_type: Vec<NodeType>,

    /// Share the host's IPC namespace
    #[arg(long)]
    pub host_ipc: bool,

    /// Request a large /dev/shm
    #[arg(long)]
    pub large_shm: bool,

    /// Submit without first checking that the scratch PVC exists and that no
    /// job of that name has pods
    #[arg(long)]
    pub no_preflight: bool,

    /// If a finished (succeeded or failed) job of the -n name is there, keep its log and status (as
    /// `submit delete` does), delete it, wait until its pods are gone, then submit; a pending or running one
    /// is still refused. With --dry-run: says what it would delete and prints the commands
    #[arg(long, requires = "name", conflicts_with_all = ["no_preflight", "sync_secret_only"])]
    pub replace: bool,

    /// With --replace: delete the finished job without keeping its log and status first
    #[arg(long, requires = "replace")]
    pub no_save: bool,

    /// After submitting, follow the job's pods until they run, saying why they
    /// wait or cannot start (exit 1 if they cannot, 124 after --wait-timeout,
    /// 130 after Ctrl-C; the job keeps running in both)
    #[arg(long, conflicts_with = "sync_secret_only")]
    pub wait: bool,

    /// Longest --wait, and longest wait for the pods of a job --replace deletes to go (same syntax as --time)
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    pub wait_timeout: String,

    /// --wait, then open a zsh in an interactive job, or follow a training
    /// job's log to its end and exit with the job's exit code
    #[arg(long, conflicts_with = "sync_secret_only")]
    pub attach: bool,

    /// Signal the job gets in place of SIGTERM when the pod is stopped
    /// (preemption, runai delete): USR1, USR2, INT, HUP, QUIT, ALRM or TERM
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,

    /// How long a stopped job may take to end before it is killed (same
    /// syntax as --time); run:ai v2 only [default: the cluster's, 30s]
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,

    /// Extra variable for the pod (repeatable); secrets go in the .env, listed in EXTRA_SECRET_KEYS
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// Submit a job per point: KEY=V1,V2,... (repeatable; the grid is the product, the last key
    /// fastest); {KEY} in --command, --exp-folder and -e values is the point's value ({{ and }} are
    /// braces); the jobs are <name>-<index>, so --name is needed
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub sweep: Vec<String>,

    /// A sweep over the points of FILE: one line of KEY=VALUE words (shell quoting, # comments) per job
    #[arg(long, value_name = "FILE")]
    pub sweep_file: Option<PathBuf>,

    /// The most runai submissions of a sweep at a time
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub parallel: u32,

    /// The most points a sweep may have (a typo must not submit a thousand jobs)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_jobs: u32,

    /// run:ai CLI commands to use: v1 (runai submit), v2 (runai workspace/training submit) or auto (ask the
    /// installed runai); overrides RUNAI_CLI [default: auto]
    #[arg(long, value_name = "DIALECT", value_parser = PossibleValuesParser::new(Preference::VALUES))]
    pub runai_cli: Option<String>,

    /// Longest wait for kubectl before giving up (same syntax as --time)
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub kubectl_timeout: String,

    /// Print a completion script for SHELL and exit
    #[arg(long, value_name = "SHELL", exclusive = true)]
    pub completions: Option<Shell>,
}

pub use subcommands::{
    CleanArgs, Command, Daily, DeleteArgs, ListArgs, ListFormat, LogsArgs, Naming, RunaiChoice, ShellArgs,
};

impl Cli {
    /// Parses `args` (the program name first). An ambiguous prefix of a
    /// long option is refused naming every option it could mean, as
    /// argparse does; clap alone would call it unknown.
    pub fn parse_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        Self::try_parse_from(&args).map_err(|err| match ambiguous_prefix(&err) {
            Some((given, candidates)) => Self::command().error(
                ErrorKind::UnknownArgument,
                format!("ambiguous option '{given}' could match {}", candidates.join(", ")),
            ),
            None if err.use_stderr() => {
                let text: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
                match crate::split_value::explain(&Self::command(), &text) {
                    Some(message) => Self::command().error(ErrorKind::ValueValidation, message),
                    None => match stray_word(&err) {
                        Some(word) => Self::command()
                            .error(ErrorKind::UnknownArgument, format!("unexpected argument '{word}' found")),
                        None => err,
                    },
                }
            }
            None => err,
        })
    }

    /// An empty value for a text flag means "not given", as it did in the
    /// wrapper, so that `-t "$TIME"` with `TIME` unset still gets the
    /// default. Values of white space only are left for validation to refuse.
    pub fn without_empty_values(mut self) -> Self {
        for value in [
            &mut self.name,
            &mut self.command,
            &mut self.exp_folder,
            &mut self.venv,
            &mut self.time,
            &mut self.cpus,
            &mut self.memory,
            &mut self.image,
            &mut self.secret_name,
            &mut self.pvc,
            &mut self.stop_signal,
            &mut self.grace,
        ] {
            if value.as_deref() == Some("") {
                *value = None;
            }
        }
        self
    }
}

/// A word after submission flags that clap took for a subcommand it then
/// refused beside them (`submit --dry foo`): the word, which no subcommand
/// has as its name.
fn stray_word(err: &clap::Error) -> Option<String> {
    if err.kind() != ErrorKind::ArgumentConflict {
        return None;
    }
    let text = err.to_string();
    let word = text.strip_prefix("error: the subcommand '")?.split('\'').next()?.to_owned();
    let known = Cli::command().get_subcommands().any(|c| c.get_name() == word);
    (!known).then_some(word)
}

/// For an unknown `--prefix` that starts two or more long options: the
/// option as given and the options it could mean, in `--help` order.
fn ambiguous_prefix(err: &clap::Error) -> Option<(String, Vec<String>)> {
    if err.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(given)) = err.get(ContextKind::InvalidArg) else { return None };
    let prefix = given.strip_prefix("--")?.split('=').next()?;
    if prefix.is_empty() {
        return None;
    }
    let mut command = Cli::command();
    command.build();
    let candidates: Vec<String> = command
        .get_arguments()
        .filter(|arg| {
            arg.get_long().into_iter().chain(arg.get_all_aliases().into_iter().flatten()).any(|l| l.starts_with(prefix))
        })
        .filter_map(|arg| arg.get_long().map(|l| format!("--{l}")))
        .collect();
    (candidates.len() > 1).then(|| (given.clone(), candidates))
}

/// The GPU node pools of the RCP cluster that the wrapper knew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NodeType {
    /// `--node-type ""`: any pool, the wrapper's default, so that a script
    /// passing an empty variable keeps working.
    #[value(name = "", hide = true)]
    Any,
    V100,
    H100,
    H200,
    Default,
    #[value(name = "a100-40g")]
    A10040g,
}

impl NodeType {
    /// The node pool name as runai knows it; none for [`NodeType::Any`].
    pub fn pool(self) -> Option<&'static str> {
        match self {
            NodeType::Any => None,
            NodeType::V100 => Some("v100"),
            NodeType::H100 => Some("h100"),
            NodeType::H200 => Some("h200"),
            NodeType::Default => Some("default"),
            NodeType::A10040g => Some("a100-40g"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn aliases_parse_like_the_wrapper_names() {
        let cli = Cli::try_parse_from(["submit", "--dry-run", "--backoff-limit", "3"]).unwrap();
        assert!(cli.dry);
        assert_eq!(cli.backofflimit, 3);
    }

    #[test]
    fn node_types_repeat_or_split_on_commas() {
        let cli = Cli::try_parse_from(["submit", "--node-type", "h100,a100-40g", "--node-type", "v100"]).unwrap();
        assert_eq!(cli.node_type, [NodeType::H100, NodeType::A10040g, NodeType::V100]);
        assert!(Cli::try_parse_from(["submit", "--node-type", "k80"]).is_err());
    }

    #[test]
    fn node_types_take_several_values_after_one_flag_or_none() {
        let cli = Cli::parse_args(["submit", "--node-type", "h100", "h200", "--dry"]).unwrap();
        assert_eq!(cli.node_type, [NodeType::H100, NodeType::H200]);
        assert!(cli.dry);
        let cli = Cli::parse_args(["submit", "--node-type"]).unwrap();
        assert_eq!(cli.node_type, []);
        let cli = Cli::parse_args(["submit", "--node-type", "--train"]).unwrap();
        assert_eq!((cli.node_type.as_slice(), cli.train), (&[][..], true));
    }

    #[test]
    fn unambiguous_prefixes_of_long_options_work_as_in_argparse() {
        let cli =
            Cli::parse_args(["submit", "--gpu", "2", "--cpu", "4", "--mem=16G", "--large", "--host", "--exp", "e"])
                .unwrap();
        assert_eq!((cli.gpus.as_str(), cli.cpus.as_deref(), cli.memory.as_deref()), ("2", Some("4"), Some("16G")));
        assert!(cli.large_shm && cli.host_ipc);
        assert_eq!(cli.exp_folder.as_deref(), Some("e"));
        let cli = Cli::parse_args(["submit", "--work", "3", "--dr", "--backoff", "2"]).unwrap();
        assert_eq!((cli.workers, cli.dry, cli.backofflimit), (3, true, 2));
    }

    #[test]
    fn an_option_given_again_replaces_its_value_and_lists_still_add_up() {
        let cli = Cli::parse_args([
            "submit",
            "-g",
            "1",
            "--dry",
            "--gpus",
            "2",
            "--dry-run",
            "--node-type",
            "h100",
            "--node-type",
            "v100",
            "-e",
            "A=1",
            "-e",
            "B=2",
        ])
        .unwrap();
        assert_eq!((cli.gpus.as_str(), cli.dry), ("2", true));
        assert_eq!(cli.node_type, [NodeType::H100, NodeType::V100]);
        assert_eq!(cli.env, ["A=1", "B=2"]);
    }

    #[test]
    fn an_ambiguous_prefix_names_every_option_it_could_mean() {
        let err = Cli::parse_args(["submit", "--s", "x"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownArgument);
        let text = err.to_string();
        assert!(
            text.starts_with(
                "error: ambiguous option '--s' could match --sync-secret-only, --skip-secret-sync, --secret-name, \
                 --stop-signal, --sweep, --sweep-file\n"
            ),
            "{text}"
        );
        let err = Cli::parse_args(["submit", "--n=x"]).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "error: ambiguous option '--n' could match --name, --node-type, --no-preflight, --no-save\n"
            ),
            "{err}"
        );
        let err = Cli::parse_args(["submit", "--dry", "stray"]).unwrap_err();
        assert!(err.to_string().starts_with("error: unexpected argument 'stray' found\n"), "{err}");
        let err = Cli::parse_args(["submit", "--frobnicate"]).unwrap_err();
        assert!(err.to_string().contains("unexpected argument '--frobnicate'"), "{err}");
    }

    #[test]
    fn empty_node_type_means_any_pool_as_in_the_wrapper() {
        let cli = Cli::try_parse_from(["submit", "--node-type", ""]).unwrap();
        assert_eq!(cli.node_type, [NodeType::Any]);
        assert_eq!(NodeType::Any.pool(), None);
        let help = Cli::command().term_width(1000).render_help().to_string();
        assert!(help.contains("[possible values: v100, h100, h200, default, a100-40g]"), "{help}");
    }

    #[test]
    fn empty_text_values_mean_not_given() {
        let cli =
            Cli::try_parse_from(["submit", "-n", "", "-c", "", "-t", "", "--memory", "", "-i", "", "--venv", " "])
                .unwrap()
                .without_empty_values();
        assert_eq!((cli.name, cli.command, cli.time, cli.memory, cli.image), (None, None, None, None, None));
        assert_eq!(cli.venv.as_deref(), Some(" "));
    }

    #[test]
    fn subcommands_come_first_and_a_bare_submit_is_a_submission() {
        let cli = Cli::parse_args(["submit", "ls", "-o", "json"]).unwrap();
        assert!(matches!(cli.action, Some(Command::List(ListArgs { output: ListFormat::Json, .. }))));
        let cli = Cli::parse_args(["submit", "logs", "j", "-f", "--tail", "5", "--worker", "1"]).unwrap();
        let Some(Command::Logs(logs)) = cli.action else { panic!("logs expected") };
        assert_eq!((logs.job.as_str(), logs.follow, logs.tail, logs.worker), ("j", true, Some(5), Some(1)));
        let cli = Cli::parse_args(["submit", "delete", "a", "b", "--runai-cli", "v2"]).unwrap();
        let Some(Command::Delete(delete)) = cli.action else { panic!("delete expected") };
        assert_eq!((delete.jobs, delete.runai.runai_cli.as_deref()), (vec!["a".into(), "b".into()], Some("v2")));
        assert!(Cli::parse_args(["submit", "delete"]).is_err());
        let cli = Cli::parse_args(["submit", "clean", "--failed", "--dry-run"]).unwrap();
        assert!(matches!(cli.action, Some(Command::Clean(CleanArgs { failed: true, dry_run: true, .. }))));
        let cli = Cli::parse_args(["submit", "-n", "list", "--dry"]).unwrap();
        assert_eq!((cli.action.is_none(), cli.name.as_deref()), (true, Some("list")));
        assert!(Cli::parse_args(["submit", "--dry", "list"]).is_err());
    }

    #[test]
    fn an_unknown_runai_dialect_is_refused() {
        assert!(Cli::try_parse_from(["submit", "--runai-cli", "v3"]).is_err());
    }

    #[test]
    fn sync_only_and_skip_sync_conflict() {
        assert!(Cli::try_parse_from(["submit", "--sync-secret-only", "--skip-secret-sync"]).is_err());
    }
}
