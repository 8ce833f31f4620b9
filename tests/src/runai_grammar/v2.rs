//! v2: `runai workspace submit NAME`, `runai training submit NAME`,
//! `runai training pytorch submit NAME` (alias `runai pytorch submit`), as
//! the 2.19-era pages and the 2.2x reference give them, and the management
//! commands `describe`, `logs`, `exec` per workload type and
//! `workload delete -y`.
//!
//! The deprecated v1-style aliases (`runai submit`, `runai logs`, ...) are
//! left out on purpose: a v1 line sent to a v2 CLI fails the test.

use super::Kind as K;
use super::{
    Cli, Command, Flag, GrammarError, NameRule, Parsed, SubmitGrammar, Verb, Workload, checked, err, flag, image,
    is_dns1123_subdomain, is_env_name, is_secret_key, key_value, non_negative, parse_exec, parse_submit, pull_policy,
    quantity,
};

/// Flags of every v2 submit command, in both eras.
const COMMON: &[Flag] = &[
    flag("project", Some('p'), K::String),
    checked("image", Some('i'), K::String, image),
    checked("image-pull-policy", None, K::String, pull_policy),
    checked("gpu-devices-request", Some('g'), K::Int, non_negative),
    checked("gpu-portion-request", None, K::Float, portion),
    flag("gpu-request-type", None, K::String),
    flag("gpu-memory-request", None, K::String),
    checked("cpu-core-request", None, K::Float, non_negative),
    flag("cpu-core-limit", None, K::Float),
    checked("cpu-memory-request", None, K::String, quantity),
    flag("cpu-memory-limit", None, K::String),
    checked("run-as-uid", None, K::Int, non_negative),
    checked("run-as-gid", None, K::Int, non_negative),
    checked("existing-pvc", None, K::StringArray, existing_pvc),
    flag("new-pvc", None, K::StringArray),
    flag("secret-volume", None, K::StringArray),
    flag("allow-privilege-escalation", None, K::Bool),
    checked("backoff-limit", None, K::Int, non_negative),
    checked("port", None, K::StringArray, port),
    flag("host-ipc", None, K::Bool),
    flag("host-network", None, K::Bool),
    flag("large-shm", None, K::Bool),
    checked("node-pools", None, K::StringArray, node_pool),
    flag("node-type", None, K::String),
    flag("working-dir", None, K::String),
    flag("command", Some('c'), K::Bool),
    flag("attach", None, K::Bool),
    flag("tty", Some('t'), K::Bool),
    flag("stdin", None, K::Bool),
    checked("label", None, K::StringArray, key_value),
    checked("annotation", None, K::StringArray, key_value),
    checked("extended-resource", None, K::StringArray, key_value),
    flag("template", None, K::String),
    flag("wait-for-submit", None, K::String),
    flag("pod-running-timeout", None, K::String),
    checked("termination-grace-period", None, K::String, go_duration),
];

/// Plain variables in the 2.19 era.
const ENV_2_19: &[Flag] = &[checked("environment", Some('e'), K::StringArray, plain_variable)];

/// Variables in 2.2x: plain ones under a new name, Secret references, and
/// `--environment` for an environment asset.
const ENV_2_2X: &[Flag] = &[
    checked("environment-variable", Some('e'), K::StringArray, plain_variable),
    checked("env-secret", None, K::StringArray, env_secret),
    checked("environment", None, K::String, asset_name),
];

const WORKSPACE_ONLY: &[Flag] = &[flag("preemptible", None, K::Bool)];

const TRAINING_2_2X: &[Flag] =
    &[checked("preemptibility", None, K::String, preemptibility), flag("restart-policy", None, K::String)];

const PYTORCH_ONLY: &[Flag] = &[
    checked("workers", None, K::Int, positive),
    checked("master-gpu-devices-request", None, K::Int, non_negative),
    checked("master-extended-resource", None, K::StringArray, key_value),
    flag("master-no-pvcs", None, K::Bool),
    flag("no-master", None, K::Bool),
];

const PYTORCH_2_2X: &[Flag] = &[
    flag("master-command", None, K::String),
    flag("master-args", None, K::String),
    checked("master-environment-variable", None, K::StringArray, plain_variable),
];

/// The flags of one submit command of `cli`.
pub fn submit_flags(cli: Cli, command: &Command) -> Vec<Flag> {
    let new = cli == Cli::V2Era22x;
    let mut flags = [COMMON, if new { ENV_2_2X } else { ENV_2_19 }].concat();
    match command {
        Command::WorkspaceSubmit => flags.extend_from_slice(WORKSPACE_ONLY),
        Command::TrainingSubmit if new => flags.extend_from_slice(TRAINING_2_2X),
        Command::PytorchSubmit => {
            flags.extend_from_slice(PYTORCH_ONLY);
            if new {
                flags.extend_from_slice(TRAINING_2_2X);
                flags.extend_from_slice(PYTORCH_2_2X);
            }
        }
        _ => {}
    }
    flags
}

pub fn parse(cli: Cli, words: &[&str]) -> Result<Parsed, GrammarError> {
    let submit = |command: Command, usage: &str, rest: &[&str]| {
        let flags = submit_flags(cli, &command);
        parse_submit(&SubmitGrammar { command, usage, flags: &flags, name_rule: NameRule::Positional }, rest)
    };
    let (workload, rest) = match words {
        ["workspace", rest @ ..] => (Workload::Workspace, rest),
        ["training", "pytorch", rest @ ..] | ["pytorch", rest @ ..] => (Workload::Pytorch, rest),
        ["training", rest @ ..] => (Workload::Training, rest),
        ["workload", "delete", rest @ ..] => return workload_delete(rest),
        ["version"] => return Ok(Parsed::simple(Command::Version)),
        [] => return err("a command is required"),
        [other, ..] => return err(format!("unknown command {other:?} for \"runai\"")),
    };
    let manage = |verb: Verb, name: &str| Command::Manage { workload, verb, name: name.to_owned() };
    match (workload, rest) {
        (Workload::Workspace, ["submit", rest @ ..]) => {
            submit(Command::WorkspaceSubmit, "runai workspace submit", rest)
        }
        (Workload::Training, ["submit", rest @ ..]) => submit(Command::TrainingSubmit, "runai training submit", rest),
        (Workload::Pytorch, ["submit", rest @ ..]) => {
            submit(Command::PytorchSubmit, "runai training pytorch submit", rest)
        }
        (_, ["describe", name]) => Ok(Parsed::simple(manage(Verb::Describe, name))),
        (_, ["logs", name]) => Ok(Parsed::simple(manage(Verb::Logs, name))),
        (_, ["exec", name, rest @ ..]) => {
            let container_command = parse_exec(rest, &["--stdin", "--tty", "-i", "-t", "-it", "-ti"])?;
            Ok(Parsed { container_command, ..Parsed::simple(manage(Verb::Exec, name)) })
        }
        (_, [other, ..]) => err(format!("unknown command {other:?}")),
        (_, []) => err("a subcommand is required"),
    }
}

/// `workload delete -y [-p P] NAME`: without `-y` the CLI asks, and fails
/// when not on a terminal.
fn workload_delete(rest: &[&str]) -> Result<Parsed, GrammarError> {
    let words = super::delete_words(rest, true)?;
    match (words.yes, words.names.as_slice()) {
        (false, _) => err("confirmation needed and stdin is not a terminal: pass -y"),
        (true, [name]) => {
            let command = Command::WorkloadDelete((*name).to_owned());
            Ok(words.parsed(command))
        }
        (true, _) => err("workload delete takes one workload name"),
    }
}

fn portion(value: &str) -> Result<(), &'static str> {
    match value.parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(()),
        _ => Err("must be a portion of one GPU, above 0 and at most 1"),
    }
}

/// A Go duration (`30s`, `1m30s`, `1.5h`): numbers, each with a unit.
fn go_duration(value: &str) -> Result<(), &'static str> {
    const BAD: &str = "must be a duration such as 30s, 5m or 1h30m";
    let mut rest = value;
    if rest.is_empty() {
        return Err(BAD);
    }
    while !rest.is_empty() {
        let number = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let unit = rest[number..].bytes().take_while(u8::is_ascii_alphabetic).count();
        let ok_unit = matches!(&rest[number..number + unit], "ns" | "us" | "ms" | "s" | "m" | "h");
        if number == 0 || !ok_unit || rest[..number].parse::<f64>().is_err() {
            return Err(BAD);
        }
        rest = &rest[number + unit..];
    }
    Ok(())
}

fn positive(value: &str) -> Result<(), &'static str> {
    if value.parse::<i64>().is_ok_and(|n| n > 0) { Ok(()) } else { Err("must be at least 1") }
}

/// `claimname=NAME,path=PATH[,readonly]`.
fn existing_pvc(value: &str) -> Result<(), &'static str> {
    let mut claim = None;
    let mut path = None;
    for part in value.split(',') {
        match part.split_once('=') {
            Some(("claimname", c)) => claim = Some(c),
            Some(("path", p)) => path = Some(p),
            None if part == "readonly" => {}
            _ => return Err("expected claimname=NAME,path=PATH"),
        }
    }
    match (claim, path) {
        (Some(c), Some(p)) if is_dns1123_subdomain(c) && p.starts_with('/') => Ok(()),
        _ => Err("expected claimname=NAME,path=PATH with an absolute path"),
    }
}

/// `service-type=..,container=PORT,external=PORT`: the container port is
/// required.
fn port(value: &str) -> Result<(), &'static str> {
    let mut container = false;
    for part in value.split(',') {
        match part.split_once('=') {
            Some(("container" | "external", p)) if p.parse::<u16>().is_ok_and(|n| n > 0) => {
                container |= part.starts_with("container=");
            }
            Some(("service-type", t)) if !t.is_empty() => {}
            _ => return Err("expected service-type=TYPE,container=PORT,external=PORT"),
        }
    }
    if container { Ok(()) } else { Err("container=PORT is required") }
}

/// One node pool per flag: a list in one value is not split.
fn node_pool(value: &str) -> Result<(), &'static str> {
    if is_dns1123_subdomain(value) { Ok(()) } else { Err("not a node pool name (repeat --node-pools for several)") }
}

/// `KEY=VALUE`. A v1 `SECRET:` reference here would reach the pod as that
/// literal text, so it is refused.
fn plain_variable(value: &str) -> Result<(), &'static str> {
    match value.split_once('=') {
        Some((key, _)) if !is_env_name(key) => Err("the variable name is not valid"),
        Some((_, val)) if val.starts_with("SECRET:") => Err("v2 takes no SECRET: reference here; use --env-secret"),
        Some(_) => Ok(()),
        None => Err("expected KEY=VALUE"),
    }
}

/// `VAR=SECRET_NAME,key=KEY`.
fn env_secret(value: &str) -> Result<(), &'static str> {
    let parsed = value.split_once('=').and_then(|(var, rest)| {
        let (secret, key) = rest.split_once(",key=")?;
        Some((var, secret, key))
    });
    match parsed {
        Some((var, secret, key)) if is_env_name(var) && is_dns1123_subdomain(secret) && is_secret_key(key) => Ok(()),
        _ => Err("expected VAR=SECRET_NAME,key=SECRET_KEY"),
    }
}

/// `--environment` names an environment asset in 2.2x.
fn asset_name(value: &str) -> Result<(), &'static str> {
    if value.contains('=') { Err("names an environment asset, not a KEY=VALUE variable") } else { Ok(()) }
}

fn preemptibility(value: &str) -> Result<(), &'static str> {
    match value {
        "preemptible" | "non-preemptible" => Ok(()),
        _ => Err("must be preemptible or non-preemptible"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(cli: Cli, line: &str) -> Result<Parsed, GrammarError> {
        parse(cli, &line.split(' ').collect::<Vec<_>>())
    }

    const BASE: &str = "a1 -p proj --image img:1 --run-as-uid 5 --existing-pvc claimname=c,path=/mnt";

    #[test]
    fn the_grace_period_is_a_go_duration() {
        for good in ["30s", "150s", "1m30s", "1.5h"] {
            assert!(p(Cli::V2Era22x, &format!("training submit {BASE} --termination-grace-period {good}")).is_ok());
        }
        for bad in ["30", "2d", "s", "1m30", "-5s"] {
            let line = format!("workspace submit {BASE} --termination-grace-period {bad}");
            assert!(p(Cli::V2Era219, &line).is_err(), "{bad}");
        }
    }

    #[test]
    fn accepts_the_documented_shapes() {
        let ws = p(
            Cli::V2Era22x,
            &format!("workspace submit {BASE} -g 1 --preemptible -e A=1 --env-secret B=s-1,key=B -- zsh -c x"),
        )
        .unwrap();
        assert_eq!((&ws.command, ws.name.as_deref()), (&Command::WorkspaceSubmit, Some("a1")));
        assert_eq!(ws.values("environment-variable"), ["A=1"]);
        assert_eq!(ws.values("env-secret"), ["B=s-1,key=B"]);
        let pt = p(
            Cli::V2Era219,
            &format!("training pytorch submit {BASE} --workers 2 --node-pools a --node-pools b -e A=1 --master-gpu-devices-request 1"),
        )
        .unwrap();
        assert_eq!(pt.command, Command::PytorchSubmit);
        assert_eq!(pt.values("node-pools"), ["a", "b"]);
        assert!(p(Cli::V2Era22x, &format!("training submit {BASE} --preemptibility non-preemptible")).is_ok());
        assert!(
            p(Cli::V2Era22x, &format!("workspace submit {BASE} --gpu-portion-request 0.5 --port container=8888"))
                .is_ok()
        );
    }

    #[test]
    fn rejects_what_each_era_does_not_have() {
        let cases = [
            (Cli::V2Era219, "workspace submit a1 --image i --env-secret B=s,key=B", "unknown flag: --env-secret"),
            (Cli::V2Era219, "workspace submit a1 --image i --environment-variable A=1", "unknown flag"),
            (Cli::V2Era22x, "workspace submit a1 --image i --environment A=1", "environment asset"),
            (Cli::V2Era22x, "training submit a1 --image i --preemptible", "unknown flag: --preemptible"),
            (Cli::V2Era219, "training submit a1 --image i --preemptibility preemptible", "unknown flag"),
            (Cli::V2Era22x, "workspace submit --name a1 --image i", "unknown flag: --name"),
            (Cli::V2Era22x, "workspace submit a1 --image i --pvc c:/m", "unknown flag: --pvc"),
            (Cli::V2Era22x, "workspace submit a1 --image i --gpu-devices-request 0.5", "not an integer"),
            (Cli::V2Era22x, "workspace submit a1 --image i --gpu-portion-request 1.5", "portion of one GPU"),
            (Cli::V2Era22x, "workspace submit a1 --image i --node-pools a,b", "repeat --node-pools"),
            (Cli::V2Era22x, "workspace submit a1 --image i --port 8080", "service-type=TYPE"),
            (Cli::V2Era22x, "workspace submit a1 --image i -e A=SECRET:s,A", "use --env-secret"),
            (Cli::V2Era22x, "workspace submit a1 --image i --existing-pvc c:/m", "claimname=NAME"),
            (Cli::V2Era22x, "workspace submit a1 --image i --workers 2", "unknown flag: --workers"),
            (Cli::V2Era22x, "workspace submit a1 --image i --allow-privilege-escalation true", "unexpected arguments"),
            (Cli::V2Era22x, "workspace submit --image i", "a workload name is required"),
            (Cli::V2Era22x, "submit --name a1 --image i", "unknown command \"submit\""),
            (Cli::V2Era22x, "submit-dist pytorch --name a1 --image i", "unknown command"),
            (Cli::V2Era22x, "workload delete a1", "pass -y"),
        ];
        for (cli, line, message) in cases {
            let e = p(cli, line).unwrap_err();
            assert!(e.0.contains(message), "{cli:?} {line}: {e}");
        }
    }

    #[test]
    fn help_tells_the_eras_apart() {
        let help = |cli| match p(cli, "workspace submit --help").unwrap().command {
            Command::Help(text) => text,
            other => panic!("{other:?}"),
        };
        let new = help(Cli::V2Era22x);
        assert!(new.contains("  -e, --environment-variable stringArray\n") && new.contains("--env-secret"), "{new}");
        let old = help(Cli::V2Era219);
        assert!(old.contains("  -e, --environment stringArray\n") && !old.contains("--env-secret"), "{old}");
    }

    #[test]
    fn management_commands_parse() {
        let manage = |line: &str| p(Cli::V2Era22x, line).unwrap().command;
        assert_eq!(
            manage("workspace describe j"),
            Command::Manage { workload: Workload::Workspace, verb: Verb::Describe, name: "j".into() }
        );
        assert_eq!(
            manage("training pytorch logs j"),
            Command::Manage { workload: Workload::Pytorch, verb: Verb::Logs, name: "j".into() }
        );
        assert_eq!(p(Cli::V2Era22x, "training exec j --stdin --tty -- zsh").unwrap().container_command, ["zsh"]);
        assert_eq!(manage("workload delete -y j"), Command::WorkloadDelete("j".into()));
        let named = p(Cli::V2Era219, "workload delete -y -p proj j").unwrap();
        assert_eq!((named.value("project"), &named.command), (Some("proj"), &Command::WorkloadDelete("j".into())));
        assert!(p(Cli::V2Era219, "workload delete -y j -p").is_err());
    }
}
