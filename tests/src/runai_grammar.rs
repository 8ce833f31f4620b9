//! The documented grammar of the run:ai v1 CLI (`runai submit`,
//! `runai submit-dist pytorch` and the follow-up commands), as a checker.
//!
//! The `runai` test double enforces it, and property tests feed it every
//! command line `submit` can build. It follows spf13/pflag, which the real
//! CLI is built on: a bool flag takes no separate value (`--flag` or
//! `--flag=true|false`; in `--flag true` the `true` is a stray argument), a
//! value flag takes `--flag=v`, `--flag v`, `-f v` or `-fv`. It is stricter
//! than pflag in one place: a value flag followed by another `--flag` is
//! reported as missing its value rather than eating the flag.

use std::fmt;

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

/// Which subcommands accept a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Both,
    SubmitOnly,
    DistOnly,
}

/// One flag of `submit` / `submit-dist pytorch`.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub kind: Kind,
    pub scope: Scope,
}

const fn flag(long: &'static str, short: Option<char>, kind: Kind, scope: Scope) -> Flag {
    Flag { long, short, kind, scope }
}

/// The flags the v1 CLI documents for the two submit commands (a subset:
/// every flag the wrapper uses, and common neighbours).
pub const SUBMIT_FLAGS: &[Flag] = &[
    flag("name", None, Kind::String, Scope::Both),
    flag("project", Some('p'), Kind::String, Scope::Both),
    flag("image", Some('i'), Kind::String, Scope::Both),
    flag("image-pull-policy", None, Kind::String, Scope::Both),
    flag("gpu", Some('g'), Kind::Float, Scope::Both),
    flag("gpu-memory", None, Kind::String, Scope::Both),
    flag("cpu", None, Kind::Float, Scope::Both),
    flag("cpu-limit", None, Kind::Float, Scope::Both),
    flag("memory", None, Kind::String, Scope::Both),
    flag("memory-limit", None, Kind::String, Scope::Both),
    flag("run-as-uid", None, Kind::Int, Scope::Both),
    flag("run-as-gid", None, Kind::Int, Scope::Both),
    flag("run-as-user", None, Kind::Bool, Scope::Both),
    flag("pvc", None, Kind::StringArray, Scope::Both),
    flag("allow-privilege-escalation", None, Kind::Bool, Scope::Both),
    flag("backoff-limit", None, Kind::Int, Scope::Both),
    flag("port", None, Kind::StringArray, Scope::Both),
    flag("service-type", Some('s'), Kind::String, Scope::Both),
    flag("host-ipc", None, Kind::Bool, Scope::Both),
    flag("host-network", None, Kind::Bool, Scope::Both),
    flag("large-shm", None, Kind::Bool, Scope::Both),
    flag("node-pools", None, Kind::String, Scope::Both),
    flag("node-type", None, Kind::String, Scope::Both),
    flag("environment", Some('e'), Kind::StringArray, Scope::Both),
    flag("working-dir", None, Kind::String, Scope::Both),
    flag("command", None, Kind::Bool, Scope::Both),
    flag("attach", None, Kind::Bool, Scope::Both),
    flag("tty", Some('t'), Kind::Bool, Scope::Both),
    flag("stdin", None, Kind::Bool, Scope::Both),
    flag("label", None, Kind::StringArray, Scope::Both),
    flag("annotation", Some('a'), Kind::StringArray, Scope::Both),
    flag("extended-resource", None, Kind::StringArray, Scope::Both),
    flag("interactive", None, Kind::Bool, Scope::SubmitOnly),
    flag("preemptible", None, Kind::Bool, Scope::SubmitOnly),
    flag("completions", None, Kind::Int, Scope::SubmitOnly),
    flag("parallelism", None, Kind::Int, Scope::SubmitOnly),
    flag("workers", None, Kind::Int, Scope::DistOnly),
    flag("no-master", None, Kind::Bool, Scope::DistOnly),
    flag("clean-pod-policy", None, Kind::String, Scope::DistOnly),
];

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
}

/// A command line the grammar accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub command: Command,
    /// `(long name, value)` in order; bools carry `"true"`/`"false"`.
    pub flags: Vec<(String, String)>,
    /// Everything after `--`.
    pub container_command: Vec<String>,
}

impl Parsed {
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

/// Checks `args` (without the program name).
pub fn parse(args: &[String]) -> Result<Parsed, GrammarError> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["submit", rest @ ..] => parse_submit(Command::Submit, rest),
        ["submit-dist", "pytorch", rest @ ..] => parse_submit(Command::SubmitDistPytorch, rest),
        ["submit-dist", other, ..] => err(format!("unknown framework {other:?} for submit-dist")),
        ["describe", "job", name] => Ok(simple(Command::DescribeJob((*name).to_owned()))),
        ["logs", name] => Ok(simple(Command::Logs((*name).to_owned()))),
        ["exec", name, rest @ ..] => parse_exec(name, rest),
        ["delete", "job", name] => Ok(simple(Command::DeleteJob((*name).to_owned()))),
        ["list"] | ["list", "jobs"] => Ok(simple(Command::List)),
        ["version"] => Ok(simple(Command::Version)),
        [] => err("a command is required"),
        [other, ..] => err(format!("unknown command {other:?} for \"runai\"")),
    }
}

fn simple(command: Command) -> Parsed {
    Parsed { command, flags: Vec::new(), container_command: Vec::new() }
}

fn parse_exec(name: &str, rest: &[&str]) -> Result<Parsed, GrammarError> {
    let Some(dash) = rest.iter().position(|w| *w == "--") else {
        return err("exec needs a command after --");
    };
    for w in &rest[..dash] {
        if !matches!(*w, "-i" | "-t" | "-it" | "-ti" | "--interactive" | "--tty") {
            return err(format!("unknown flag: {w}"));
        }
    }
    if rest.len() == dash + 1 {
        return err("exec needs a command after --");
    }
    Ok(Parsed {
        command: Command::Exec(name.to_owned()),
        flags: Vec::new(),
        container_command: rest[dash + 1..].iter().map(|s| (*s).to_owned()).collect(),
    })
}

fn lookup(command: &Command, long: Option<&str>, short: Option<char>) -> Result<Flag, GrammarError> {
    let found =
        SUBMIT_FLAGS.iter().find(|f| long.is_some_and(|l| l == f.long) || (short.is_some() && short == f.short));
    let shown = long.map_or_else(|| format!("-{}", short.unwrap_or('?')), |l| format!("--{l}"));
    let Some(flag) = found else { return err(format!("unknown flag: {shown}")) };
    let allowed = match (flag.scope, command) {
        (Scope::Both, _) => true,
        (Scope::SubmitOnly, c) => *c == Command::Submit,
        (Scope::DistOnly, c) => *c == Command::SubmitDistPytorch,
    };
    if !allowed {
        return err(format!("unknown flag: {shown} (not accepted by this command)"));
    }
    Ok(*flag)
}

fn parse_submit(command: Command, rest: &[&str]) -> Result<Parsed, GrammarError> {
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
            (lookup(&command, Some(name), None)?, inline)
        } else if let Some(short) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next().unwrap_or('?');
            let tail = chars.as_str();
            let flag = lookup(&command, None, Some(c))?;
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
    let has_name = flags.iter().any(|(k, _)| k == "name");
    match (has_name, positionals.as_slice()) {
        (true, []) => {}
        (false, [_name]) => {}
        (true, extra) => return err(format!("unexpected arguments {extra:?}")),
        (false, []) => return err("a job name is required (--name or a positional name)"),
        (false, extra) => return err(format!("unexpected arguments {:?}", &extra[1..])),
    }
    if !flags.iter().any(|(k, _)| k == "image") {
        return err("--image is required");
    }
    Ok(Parsed { command, flags, container_command })
}

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

fn check_value(flag: &Flag, value: &str) -> Result<(), GrammarError> {
    let bad = |why: &str| err(format!("invalid argument {value:?} for \"--{}\" flag: {why}", flag.long));
    match flag.kind {
        Kind::Int if value.parse::<i64>().is_err() => return bad("not an integer"),
        Kind::Float if value.parse::<f64>().map_or(true, |f| !f.is_finite()) => return bad("not a number"),
        _ => {}
    }
    match flag.long {
        "name" if !is_dns1035_label(value) => bad(
            "Job names must consist of lower case alphanumeric characters or '-' and start with an alphabetic character",
        ),
        "image" if value.is_empty() || value.contains(char::is_whitespace) => bad("not an image reference"),
        "image-pull-policy" if !matches!(value, "Always" | "IfNotPresent" | "Never") => {
            bad("must be Always, IfNotPresent or Never")
        }
        "run-as-uid" | "run-as-gid" | "backoff-limit" | "workers" if value.starts_with('-') => {
            bad("must not be negative")
        }
        "gpu" | "cpu" if value.starts_with('-') => bad("must not be negative"),
        "pvc" => {
            let parts: Vec<&str> = value.split(':').collect();
            let path = match parts.as_slice() {
                [claim, path] | [claim, path, "ro"] if !claim.is_empty() => path,
                [_, size, path] | [_, size, path, "ro"] if !size.is_empty() => path,
                _ => return bad("expected CLAIM:PATH[:ro] or [STORAGECLASS]:SIZE:PATH[:ro]"),
            };
            if path.starts_with('/') { Ok(()) } else { bad("the mount path must be absolute") }
        }
        "environment" => {
            let Some((key, val)) = value.split_once('=') else { return bad("expected KEY=VALUE") };
            if !is_env_name(key) {
                return bad("the variable name is not valid");
            }
            match val.strip_prefix("SECRET:") {
                None => Ok(()),
                Some(reference) => match reference.split_once(',') {
                    Some((name, secret_key))
                        if is_dns1123_subdomain(name)
                            && !secret_key.is_empty()
                            && !secret_key.contains(',')
                            && secret_key.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) =>
                    {
                        Ok(())
                    }
                    _ => bad("expected KEY=SECRET:<secret-name>,<secret-key>"),
                },
            }
        }
        "annotation" | "label" | "extended-resource" => match value.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok(()),
            _ => bad("expected KEY=VALUE"),
        },
        "port" => {
            let ok = value.split(':').all(|p| p.parse::<u16>().is_ok_and(|n| n > 0)) && value.split(':').count() <= 2;
            if ok { Ok(()) } else { bad("expected PORT or EXTERNAL:INTERNAL") }
        }
        "node-pools" if value.trim().is_empty() => bad("must name at least one node pool"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Parsed, GrammarError> {
        parse(&line.split(' ').map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn accepts_the_wrapper_shape() {
        let parsed = p("submit --name a1 -p proj --image img:1 --gpu 0.5 --run-as-uid 5 --pvc c:/mnt \
                        --allow-privilege-escalation --interactive -e A=1 -e B=SECRET:s-1,B -- /bin/zsh -c x")
        .unwrap();
        assert_eq!(parsed.command, Command::Submit);
        assert!(parsed.is_set("interactive"));
        assert_eq!(parsed.values("environment"), ["A=1", "B=SECRET:s-1,B"]);
        assert_eq!(parsed.container_command, ["/bin/zsh", "-c", "x"]);
        assert!(p("submit --name a --image i --host-ipc=false").is_ok());
        assert!(p("submit --image=i -pproj a").is_ok());
    }

    #[test]
    fn rejects_the_documented_pitfalls() {
        let cases = [
            ("submit --name a --image i --bogus", "unknown flag: --bogus"),
            ("submit --name a --image i --allow-privilege-escalation true", "unexpected arguments [\"true\"]"),
            ("submit --name a --image i --allow-privilege-escalation=yes", "not a bool"),
            ("submit --name a --image i --gpu", "flag needs an argument: --gpu"),
            ("submit --name a --gpu --image i", "flag needs an argument: --gpu"),
            ("submit --name a --image i --gpu two", "not a number"),
            ("submit --name a --image i --run-as-uid 1.5", "not an integer"),
            ("submit --name a --image i -e NOVALUE", "expected KEY=VALUE"),
            ("submit --name a --image i -e 1A=x", "the variable name is not valid"),
            ("submit --name a --image i -e A=SECRET:s", "expected KEY=SECRET"),
            ("submit --name a --image i -e A=SECRET:S_1,k", "expected KEY=SECRET"),
            ("submit --name Bad --image i", "Job names must consist"),
            ("submit-dist pytorch --name a --image i --interactive", "unknown flag: --interactive"),
            ("submit-dist pytorch --name a --image i --preemptible", "unknown flag: --preemptible"),
            ("submit --name a --image i --workers 2", "unknown flag: --workers"),
            ("submit --name a --image i --name b", "more than once"),
            ("submit --name a", "--image is required"),
            ("submit --name a --image i --pvc claim", "expected CLAIM:PATH"),
            ("launch", "unknown command"),
        ];
        for (line, message) in cases {
            let e = p(line).unwrap_err();
            assert!(e.0.contains(message), "{line}: {e}");
        }
    }

    #[test]
    fn follow_up_commands_parse() {
        assert_eq!(p("describe job j").unwrap().command, Command::DescribeJob("j".into()));
        assert_eq!(p("logs j").unwrap().command, Command::Logs("j".into()));
        assert_eq!(p("exec j -it -- zsh").unwrap().container_command, ["zsh"]);
        assert_eq!(p("delete job j").unwrap().command, Command::DeleteJob("j".into()));
        assert!(p("exec j -it").is_err());
    }
}
