//! The documented grammars of the run:ai CLI, as checkers: v1 (`runai
//! submit`, `runai submit-dist pytorch`) and v2 (`runai workspace submit`,
//! `runai training submit`, `runai training pytorch submit`) in its 2.19-era
//! and 2.2x flag sets, with the follow-up commands of each.
//!
//! The `runai` test doubles enforce them, and property tests feed them every
//! command line `submit` can build. Parsing follows spf13/pflag, which the
//! real CLI is built on: a bool flag takes no separate value (`--flag` or
//! `--flag=true|false`; in `--flag true` the `true` is a stray argument), a
//! value flag takes `--flag=v`, `--flag v`, `-f v` or `-fv`. It is stricter
//! than pflag in one place: a value flag followed by another `--flag` is
//! reported as missing its value rather than eating the flag.

mod parsing;
mod v1;
mod v2;
mod values;

use std::fmt;

// The dialects build their grammars from these.
use parsing::{NameRule, SubmitGrammar, parse_exec, parse_submit};
use values::{image, is_dns1123_subdomain, is_env_name, is_secret_key, key_value, non_negative, pull_policy, quantity};

/// Which CLI a double plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cli {
    /// The v1 CLI of cluster 2.18 (RCP today): no `workspace` command.
    V1,
    /// A v2 CLI of the 2.19/2.20 era: plain variables with `-e/--environment`,
    /// no `--env-secret`.
    V2Era219,
    /// A 2.2x v2 CLI: `-e/--environment-variable`, `--env-secret`, training
    /// `--preemptibility`.
    V2Era22x,
}

impl Cli {
    pub fn label(self) -> &'static str {
        match self {
            Cli::V1 => "v1",
            Cli::V2Era219 => "v2-2.19",
            Cli::V2Era22x => "v2-2.2x",
        }
    }
}

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    String,
    Int,
    Float,
    /// Repeatable.
    StringArray,
}

impl Kind {
    /// The type word cobra prints in `--help`.
    fn help_word(self) -> &'static str {
        match self {
            Kind::Bool => "",
            Kind::String => " string",
            Kind::Int => " int",
            Kind::Float => " float",
            Kind::StringArray => " stringArray",
        }
    }
}

/// A check of one value beyond its kind; the error says why it is refused.
pub type Check = fn(&str) -> Result<(), &'static str>;

/// One flag of a submit command.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: Kind,
    pub check: Option<Check>,
}

const fn flag(long: &'static str, short: Option<char>, kind: Kind) -> Flag {
    Flag { long, short, kind, check: None }
}

const fn checked(long: &'static str, short: Option<char>, kind: Kind, check: Check) -> Flag {
    Flag { long, short, kind, check: Some(check) }
}

/// The kind of workload a v2 management command addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Workspace,
    Training,
    Pytorch,
}

/// What a v2 management command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Describe,
    Logs,
    Exec,
}

/// The subcommand of a parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Submit,
    SubmitDistPytorch,
    DescribeJob(String),
    Logs(String),
    Exec(String),
    DeleteJob(String),
    List,
    Version,
    WorkspaceSubmit,
    TrainingSubmit,
    PytorchSubmit,
    Manage {
        workload: Workload,
        verb: Verb,
        name: String,
    },
    WorkloadDelete(String),
    /// `--help` of a submit command: its flag list.
    Help(String),
}

impl Command {
    /// Whether this command submits a job.
    pub fn submits(&self) -> bool {
        matches!(
            self,
            Command::Submit
                | Command::SubmitDistPytorch
                | Command::WorkspaceSubmit
                | Command::TrainingSubmit
                | Command::PytorchSubmit
        )
    }
}

/// A command line the grammar accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub command: Command,
    /// The job name of a submission (`--name` or the positional name).
    pub name: Option<String>,
    /// `(long name, value)` in order; bools carry `"true"`/`"false"`.
    pub flags: Vec<(String, String)>,
    /// Everything after `--`.
    pub container_command: Vec<String>,
}

impl Parsed {
    fn simple(command: Command) -> Self {
        Parsed { command, name: None, flags: Vec::new(), container_command: Vec::new() }
    }

    /// All values of a flag, in order.
    pub fn values(&self, long: &str) -> Vec<&str> {
        self.flags.iter().filter(|(k, _)| k == long).map(|(_, v)| v.as_str()).collect()
    }

    /// The single value of a flag.
    pub fn value(&self, long: &str) -> Option<&str> {
        self.values(long).last().copied()
    }

    /// Whether a bool flag is set to true.
    pub fn is_set(&self, long: &str) -> bool {
        self.value(long) == Some("true")
    }
}

/// A rejected command line, worded like the real CLI's errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrammarError(pub String);

impl fmt::Display for GrammarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GrammarError {}

fn err<T>(message: impl Into<String>) -> Result<T, GrammarError> {
    Err(GrammarError(message.into()))
}

/// The words of a delete: `-p/--project P` (also `--project=P`), `-y/--yes`
/// where the command has it, and the names.
struct DeleteWords<'a> {
    yes: bool,
    project: Option<String>,
    names: Vec<&'a str>,
}

impl DeleteWords<'_> {
    fn parsed(self, command: Command) -> Parsed {
        let flags = self.project.map(|p| ("project".to_owned(), p)).into_iter().collect();
        Parsed { flags, ..Parsed::simple(command) }
    }
}

fn delete_words<'a>(rest: &[&'a str], has_yes: bool) -> Result<DeleteWords<'a>, GrammarError> {
    let mut words = DeleteWords { yes: false, project: None, names: Vec::new() };
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            "-y" | "--yes" if has_yes => words.yes = true,
            "-p" | "--project" => {
                i += 1;
                match rest.get(i) {
                    Some(p) if !p.starts_with('-') => words.project = Some((*p).to_owned()),
                    _ => return err(format!("flag needs an argument: {}", rest[i - 1])),
                }
            }
            w if w.starts_with("--project=") => words.project = Some(w["--project=".len()..].to_owned()),
            w if w.starts_with('-') => return err(format!("unknown flag: {w}")),
            name => words.names.push(name),
        }
        i += 1;
    }
    Ok(words)
}

/// Checks `args` (without the program name) against the grammar of `cli`.
pub fn parse(cli: Cli, args: &[String]) -> Result<Parsed, GrammarError> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match cli {
        Cli::V1 => v1::parse(&words),
        Cli::V2Era219 | Cli::V2Era22x => v2::parse(cli, &words),
    }
}
