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

mod v1;
mod v2;

use std::fmt;

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

/// How a submit command takes the job name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameRule {
    /// `--name N` or one positional name (v1).
    FlagOrPositional,
    /// One positional name (v2: there is no `--name`).
    Positional,
}

/// A submit command's grammar: its words, its flags and how it is named.
struct SubmitGrammar<'a> {
    command: Command,
    usage: &'a str,
    flags: &'a [Flag],
    name_rule: NameRule,
}

/// Whether `--help` or `-h` comes before any `--`.
fn asks_help(rest: &[&str]) -> bool {
    rest.iter().take_while(|w| **w != "--").any(|w| matches!(*w, "--help" | "-h"))
}

/// The flag list, as cobra prints it.
fn help_text(usage: &str, flags: &[Flag]) -> String {
    let mut text = format!("Usage:\n  {usage} [flags]\n\nFlags:\n");
    for f in flags {
        let short = f.short.map_or_else(|| "    ".to_owned(), |c| format!("-{c}, "));
        text.push_str(&format!("  {short}--{}{}\n", f.long, f.kind.help_word()));
    }
    text.push_str("  -h, --help   help for submit\n");
    text
}

fn lookup(flags: &[Flag], long: Option<&str>, short: Option<char>) -> Result<Flag, GrammarError> {
    let found = flags.iter().find(|f| long.is_some_and(|l| l == f.long) || (short.is_some() && short == f.short));
    let shown = long.map_or_else(|| format!("-{}", short.unwrap_or('?')), |l| format!("--{l}"));
    found.copied().ok_or_else(|| GrammarError(format!("unknown flag: {shown}")))
}

fn parse_submit(grammar: &SubmitGrammar<'_>, rest: &[&str]) -> Result<Parsed, GrammarError> {
    if asks_help(rest) {
        return Ok(Parsed::simple(Command::Help(help_text(grammar.usage, grammar.flags))));
    }
    let mut flags: Vec<(String, String)> = Vec::new();
    let mut positionals: Vec<String> = Vec::new();
    let mut container_command = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let word = rest[i];
        i += 1;
        if word == "--" {
            container_command = rest[i..].iter().map(|s| (*s).to_owned()).collect();
            break;
        }
        let (flag, inline) = if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            (lookup(grammar.flags, Some(name), None)?, inline)
        } else if let Some(short) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next().unwrap_or('?');
            let tail = chars.as_str();
            let flag = lookup(grammar.flags, None, Some(c))?;
            let inline = match tail {
                "" => None,
                t if flag.kind == Kind::Bool => return err(format!("unknown shorthand flag: {t:?} in -{short}")),
                t => Some(t.strip_prefix('=').unwrap_or(t).to_owned()),
            };
            (flag, inline)
        } else {
            positionals.push(word.to_owned());
            continue;
        };
        let value = match (flag.kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (Kind::Bool, Some(v)) => match v.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => "true".to_owned(),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => "false".to_owned(),
                _ => return err(format!("invalid argument {v:?} for \"--{}\" flag: not a bool", flag.long)),
            },
            (_, Some(v)) => v,
            (_, None) => match rest.get(i) {
                Some(next) if !next.starts_with("--") => {
                    i += 1;
                    (*next).to_owned()
                }
                _ => return err(format!("flag needs an argument: --{}", flag.long)),
            },
        };
        check_value(&flag, &value)?;
        if flag.kind != Kind::StringArray && flags.iter().any(|(k, _)| k == flag.long) {
            return err(format!("flag --{} given more than once", flag.long));
        }
        flags.push((flag.long.to_owned(), value));
    }
    let name_flag = flags.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone());
    let name = match (grammar.name_rule, name_flag, positionals.as_slice()) {
        (NameRule::FlagOrPositional, Some(name), []) => name,
        (_, None, [name]) => name.clone(),
        (NameRule::FlagOrPositional, Some(_), extra) => return err(format!("unexpected arguments {extra:?}")),
        (NameRule::FlagOrPositional, None, []) => return err("a job name is required (--name or a positional name)"),
        (NameRule::Positional, _, []) => return err("a workload name is required: submit <name>"),
        (_, _, extra) => return err(format!("unexpected arguments {:?}", &extra[1..])),
    };
    if !is_dns1035_label(&name) {
        return err(format!(
            "invalid workload name {name:?}: names must consist of lower case alphanumeric characters or '-' and \
             start with an alphabetic character"
        ));
    }
    if !flags.iter().any(|(k, _)| k == "image") {
        return err("--image is required");
    }
    Ok(Parsed { command: grammar.command.clone(), name: Some(name), flags, container_command })
}

fn check_value(flag: &Flag, value: &str) -> Result<(), GrammarError> {
    let bad = |why: &str| err(format!("invalid argument {value:?} for \"--{}\" flag: {why}", flag.long));
    match flag.kind {
        Kind::Int if value.parse::<i64>().is_err() => return bad("not an integer"),
        Kind::Float if value.parse::<f64>().map_or(true, |f| !f.is_finite()) => return bad("not a number"),
        _ => {}
    }
    match flag.check {
        Some(check) => check(value).or_else(bad),
        None => Ok(()),
    }
}

/// The arguments of `exec NAME [tty flags] -- CMD`, with the tty flags a
/// CLI accepts.
fn parse_exec(rest: &[&str], tty_flags: &[&str]) -> Result<Vec<String>, GrammarError> {
    let Some(dash) = rest.iter().position(|w| *w == "--") else {
        return err("exec needs a command after --");
    };
    for w in &rest[..dash] {
        if !tty_flags.contains(w) {
            return err(format!("unknown flag: {w}"));
        }
    }
    if rest.len() == dash + 1 {
        return err("exec needs a command after --");
    }
    Ok(rest[dash + 1..].iter().map(|s| (*s).to_owned()).collect())
}

// Value checks shared by the dialects.

fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_dns1123_subdomain(s: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    s.len() <= 253
        && edge(s.chars().next())
        && edge(s.chars().last())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

fn is_dns1035_label(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_secret_key(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

fn image(value: &str) -> Result<(), &'static str> {
    if value.is_empty() || value.contains(char::is_whitespace) { Err("not an image reference") } else { Ok(()) }
}

fn pull_policy(value: &str) -> Result<(), &'static str> {
    match value {
        "Always" | "IfNotPresent" | "Never" => Ok(()),
        _ => Err("must be Always, IfNotPresent or Never"),
    }
}

fn non_negative(value: &str) -> Result<(), &'static str> {
    if value.starts_with('-') { Err("must not be negative") } else { Ok(()) }
}

fn key_value(value: &str) -> Result<(), &'static str> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok(()),
        _ => Err("expected KEY=VALUE"),
    }
}

/// A Kubernetes quantity: a number with an optional suffix.
fn quantity(value: &str) -> Result<(), &'static str> {
    let digits = value.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, suffix) = value.split_at(digits);
    let suffix_ok =
        matches!(suffix, "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "K" | "M" | "G" | "T" | "P" | "E")
            || (suffix.len() > 1 && suffix.starts_with(['e', 'E']) && suffix[1..].bytes().all(|b| b.is_ascii_digit()));
    let ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1 && suffix_ok;
    if ok { Ok(()) } else { Err("not a Kubernetes quantity") }
}
