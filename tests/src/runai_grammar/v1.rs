//! v1: `runai submit`, `runai submit-dist pytorch` (the flags the v1 docs
//! give for the 2.10+ CLI: every flag `submit` uses, and common neighbours)
//! and the follow-up commands `describe job`, `logs`, `exec`, `delete job`.
//! There is no `workspace` command.

use super::Kind as K;
use super::{
    Command, Flag, GrammarError, NameRule, Parsed, SubmitGrammar, checked, err, flag, image, is_dns1123_subdomain,
    is_env_name, is_secret_key, key_value, non_negative, parse_exec, parse_submit, pull_policy,
};

/// Flags of both submit commands.
const COMMON: &[Flag] = &[
    flag("name", None, K::String),
    flag("project", Some('p'), K::String),
    checked("image", Some('i'), K::String, image),
    checked("image-pull-policy", None, K::String, pull_policy),
    checked("gpu", Some('g'), K::Float, non_negative),
    flag("gpu-memory", None, K::String),
    checked("cpu", None, K::Float, non_negative),
    flag("cpu-limit", None, K::Float),
    flag("memory", None, K::String),
    flag("memory-limit", None, K::String),
    checked("run-as-uid", None, K::Int, non_negative),
    checked("run-as-gid", None, K::Int, non_negative),
    flag("run-as-user", None, K::Bool),
    checked("pvc", None, K::StringArray, pvc),
    flag("allow-privilege-escalation", None, K::Bool),
    checked("backoff-limit", None, K::Int, non_negative),
    checked("port", None, K::StringArray, port),
    flag("service-type", Some('s'), K::String),
    flag("host-ipc", None, K::Bool),
    flag("host-network", None, K::Bool),
    flag("large-shm", None, K::Bool),
    checked("node-pools", None, K::String, node_pools),
    flag("node-type", None, K::String),
    checked("environment", Some('e'), K::StringArray, environment),
    flag("working-dir", None, K::String),
    flag("command", None, K::Bool),
    flag("attach", None, K::Bool),
    flag("tty", Some('t'), K::Bool),
    flag("stdin", None, K::Bool),
    checked("label", None, K::StringArray, key_value),
    checked("annotation", Some('a'), K::StringArray, key_value),
    checked("extended-resource", None, K::StringArray, key_value),
];

/// Flags of `runai submit` only.
const SUBMIT_ONLY: &[Flag] = &[
    flag("interactive", None, K::Bool),
    flag("preemptible", None, K::Bool),
    flag("completions", None, K::Int),
    flag("parallelism", None, K::Int),
];

/// Flags of `runai submit-dist pytorch` only.
const DIST_ONLY: &[Flag] = &[
    checked("workers", None, K::Int, non_negative),
    flag("no-master", None, K::Bool),
    flag("clean-pod-policy", None, K::String),
];

/// The flags of `submit` (`dist: false`) or `submit-dist pytorch`.
pub fn submit_flags(dist: bool) -> Vec<Flag> {
    [COMMON, if dist { DIST_ONLY } else { SUBMIT_ONLY }].concat()
}

pub fn parse(words: &[&str]) -> Result<Parsed, GrammarError> {
    let submit = |command: Command, usage: &str, dist: bool, rest: &[&str]| {
        let flags = submit_flags(dist);
        parse_submit(&SubmitGrammar { command, usage, flags: &flags, name_rule: NameRule::FlagOrPositional }, rest)
    };
    match words {
        ["submit", rest @ ..] => submit(Command::Submit, "runai submit", false, rest),
        ["submit-dist", "pytorch", rest @ ..] => {
            submit(Command::SubmitDistPytorch, "runai submit-dist pytorch", true, rest)
        }
        ["submit-dist", other, ..] => err(format!("unknown framework {other:?} for submit-dist")),
        ["describe", "job", name] => Ok(Parsed::simple(Command::DescribeJob((*name).to_owned()))),
        ["logs", name] => Ok(Parsed::simple(Command::Logs((*name).to_owned()))),
        ["exec", name, rest @ ..] => {
            let container_command = parse_exec(rest, &["-i", "-t", "-it", "-ti", "--interactive", "--tty"])?;
            Ok(Parsed { container_command, ..Parsed::simple(Command::Exec((*name).to_owned())) })
        }
        ["delete", "job", rest @ ..] => {
            let words = super::delete_words(rest, false)?;
            match words.names.as_slice() {
                [name] => {
                    let command = Command::DeleteJob((*name).to_owned());
                    Ok(words.parsed(command))
                }
                _ => err("delete job takes one job name"),
            }
        }
        ["list"] | ["list", "jobs"] => Ok(Parsed::simple(Command::List)),
        ["version"] => Ok(Parsed::simple(Command::Version)),
        [] => err("a command is required"),
        [other, ..] => err(format!("unknown command {other:?} for \"runai\"")),
    }
}

/// `CLAIM:PATH[:ro]` or `[STORAGECLASS]:SIZE:PATH[:ro]`.
fn pvc(value: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = value.split(':').collect();
    let path = match parts.as_slice() {
        [claim, path] | [claim, path, "ro"] if !claim.is_empty() => path,
        [_, size, path] | [_, size, path, "ro"] if !size.is_empty() => path,
        _ => return Err("expected CLAIM:PATH[:ro] or [STORAGECLASS]:SIZE:PATH[:ro]"),
    };
    if path.starts_with('/') { Ok(()) } else { Err("the mount path must be absolute") }
}

/// `PORT` or `EXTERNAL:INTERNAL`.
fn port(value: &str) -> Result<(), &'static str> {
    let ok = value.split(':').all(|p| p.parse::<u16>().is_ok_and(|n| n > 0)) && value.split(':').count() <= 2;
    if ok { Ok(()) } else { Err("expected PORT or EXTERNAL:INTERNAL") }
}

fn node_pools(value: &str) -> Result<(), &'static str> {
    if value.trim().is_empty() { Err("must name at least one node pool") } else { Ok(()) }
}

/// `KEY=VALUE`, or `KEY=SECRET:<secret-name>,<secret-key>`.
fn environment(value: &str) -> Result<(), &'static str> {
    let Some((key, val)) = value.split_once('=') else { return Err("expected KEY=VALUE") };
    if !is_env_name(key) {
        return Err("the variable name is not valid");
    }
    match val.strip_prefix("SECRET:") {
        None => Ok(()),
        Some(reference) => match reference.split_once(',') {
            Some((name, secret_key)) if is_dns1123_subdomain(name) && is_secret_key(secret_key) => Ok(()),
            _ => Err("expected KEY=SECRET:<secret-name>,<secret-key>"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Parsed, GrammarError> {
        parse(&line.split(' ').collect::<Vec<_>>())
    }

    #[test]
    fn accepts_the_wrapper_shape() {
        let parsed = p("submit --name a1 -p proj --image img:1 --gpu 0.5 --run-as-uid 5 --pvc c:/mnt \
                        --allow-privilege-escalation --interactive -e A=1 -e B=SECRET:s-1,B -- /bin/zsh -c x")
        .unwrap();
        assert_eq!(parsed.command, Command::Submit);
        assert_eq!(parsed.name.as_deref(), Some("a1"));
        assert!(parsed.is_set("interactive"));
        assert_eq!(parsed.values("environment"), ["A=1", "B=SECRET:s-1,B"]);
        assert_eq!(parsed.container_command, ["/bin/zsh", "-c", "x"]);
        assert!(p("submit --name a --image i --host-ipc=false").is_ok());
        assert_eq!(p("submit --image=i -pproj a").unwrap().name.as_deref(), Some("a"));
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
            ("submit --name Bad --image i", "names must consist"),
            ("submit-dist pytorch --name a --image i --interactive", "unknown flag: --interactive"),
            ("submit-dist pytorch --name a --image i --preemptible", "unknown flag: --preemptible"),
            ("submit --name a --image i --workers 2", "unknown flag: --workers"),
            ("submit --name a --image i --name b", "more than once"),
            ("submit --name a", "--image is required"),
            ("submit --name a --image i --pvc claim", "expected CLAIM:PATH"),
            ("launch", "unknown command"),
            ("workspace submit a --image i", "unknown command \"workspace\""),
            ("workspace submit --help", "unknown command \"workspace\""),
        ];
        for (line, message) in cases {
            let e = p(line).unwrap_err();
            assert!(e.0.contains(message), "{line}: {e}");
        }
    }

    #[test]
    fn help_lists_the_flags() {
        let Command::Help(text) = p("submit --help").unwrap().command else { panic!("no help") };
        assert!(text.contains("  -e, --environment stringArray\n"), "{text}");
        assert!(text.contains("      --interactive\n"), "{text}");
    }

    #[test]
    fn follow_up_commands_parse() {
        assert_eq!(p("describe job j").unwrap().command, Command::DescribeJob("j".into()));
        assert_eq!(p("logs j").unwrap().command, Command::Logs("j".into()));
        assert_eq!(p("exec j -it -- zsh").unwrap().container_command, ["zsh"]);
        assert_eq!(p("delete job j").unwrap().command, Command::DeleteJob("j".into()));
        let named = p("delete job j -p proj").unwrap();
        assert_eq!((named.value("project"), &named.command), (Some("proj"), &Command::DeleteJob("j".into())));
        assert_eq!(p("delete job --project=proj j").unwrap().value("project"), Some("proj"));
        assert!(p("delete job j -y").is_err());
        assert!(p("delete job a b").is_err());
        assert!(p("exec j -it").is_err());
    }
}
