//! Property tests through the real binary: for generated flags and `.env`
//! values, `submit --dry-run` either refuses with a `submit: ` message and
//! exit 1, or prints one line that a shell splits into an argv the grammar
//! of the runai on PATH accepts (the v1 double, then the 2.2x v2 double) and
//! whose pod payload decodes to exactly what was asked.
//! Never a crash, never exit 2, never a quoting that changes the command.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use nb_tests::runai_grammar::{self, Cli, Command};
use nb_tests::submit_harness::SubmitEnv;
use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

const RUNAI_V1: &str = env!("CARGO_BIN_EXE_runai");
const RUNAI_V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");

/// Free text a user may type: any printable character, plus newlines and tabs.
fn text() -> impl Strategy<Value = String> {
    "(\\PC|\n|\t){0,40}"
}

#[derive(Debug, Clone)]
struct Input {
    name: Option<String>,
    command: Option<String>,
    exp_folder: Option<String>,
    venv: Option<String>,
    time: Option<String>,
    gpus: Option<String>,
    cpus: Option<String>,
    memory: Option<String>,
    port: Option<u16>,
    workers: Option<u32>,
    train: bool,
    host_ipc: bool,
    large_shm: bool,
    node_types: Vec<&'static str>,
    user: String,
    uid: String,
    extra_keys: Vec<String>,
    working_dir: Option<String>,
    extra_env: Vec<(String, String)>,
}

fn input() -> impl Strategy<Value = Input> {
    let flags = (
        proptest::option::of(prop_oneof![6 => "[a-z][a-z0-9-]{0,20}[a-z0-9]", 1 => text()]),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(prop_oneof![6 => "[1-9][0-9]{0,2}[dhms]", 1 => "[0-9dhms]{1,6}"]),
        proptest::option::of(prop_oneof![6 => "[0-9]{1,2}(\\.[0-9]{1,2})?", 1 => "[0-9a-z.-]{1,4}"]),
        proptest::option::of(prop_oneof![6 => "[1-9][0-9]?(\\.[0-9])?", 1 => "[0-9a-z.-]{1,4}"]),
        proptest::option::of(prop_oneof![6 => "[0-9]{1,3}(Mi|Gi|G|M|k)?", 1 => "[0-9A-Za-z.]{1,5}"]),
        proptest::option::of(prop_oneof![9 => 1u16.., 1 => Just(0u16)]),
    );
    let more = (
        proptest::option::of(0u32..5),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        proptest::sample::subsequence(vec!["v100", "h100", "h200", "default", "a100-40g"], 0..3),
        "[A-Za-z_][A-Za-z0-9_.-]{0,12}",
        prop_oneof![9 => "[1-9][0-9]{0,6}", 1 => "[0-9a-z-]{1,6}"],
        proptest::collection::vec("[A-Z_][A-Z0-9_]{0,8}", 0..3),
        proptest::option::of(prop_oneof![6 => "/[a-z/ ]{0,20}", 1 => text()]),
    );
    let extra_env = proptest::collection::vec(("[A-Z_][A-Z0-9_]{0,8}", "[ -~]{0,12}"), 0..3);
    (flags, more, extra_env).prop_map(
        |(
            (name, command, exp_folder, venv, time, gpus, cpus, memory, port),
            (workers, train, host_ipc, large_shm, node_types, user, uid, extra_keys, working_dir),
            extra_env,
        )| Input {
            name,
            command,
            exp_folder,
            venv,
            time,
            gpus,
            cpus,
            memory,
            port,
            workers,
            train,
            host_ipc,
            large_shm,
            node_types,
            user,
            uid,
            extra_keys,
            working_dir,
            extra_env,
        },
    )
}

fn env_text(input: &Input) -> String {
    let mut text = format!(
        "LDAP_USERNAME='{}'\nLDAP_UID={}\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\nRUNAI_PROJECT=mlo-p\n\
         RUNAI_IMAGE=reg.example/img:1\nRUNAI_SECRET_NAME=p-env\nSCRATCH_PVC=scratch\nHF_TOKEN=hf_x\n\
         SSH_PRIVATE_KEY_B64=eA==\n",
        input.user, input.uid
    );
    if !input.extra_keys.is_empty() {
        text.push_str(&format!("EXTRA_SECRET_KEYS={}\n", input.extra_keys.join(",")));
        for key in &input.extra_keys {
            text.push_str(&format!("{key}=v\n"));
        }
    }
    if let Some(dir) = &input.working_dir {
        text.push_str(&format!("WORKING_DIR='{}'\n", dir.replace('\'', "")));
    }
    text
}

fn argv(input: &Input) -> Vec<String> {
    let mut a = vec!["--dry-run".to_owned()];
    let mut opt = |flag: &str, v: &Option<String>| {
        if let Some(v) = v {
            a.push(format!("--{flag}={v}"));
        }
    };
    opt("name", &input.name);
    opt("command", &input.command);
    opt("exp-folder", &input.exp_folder);
    opt("venv", &input.venv);
    opt("time", &input.time);
    opt("gpus", &input.gpus);
    opt("cpus", &input.cpus);
    opt("memory", &input.memory);
    opt("port", &input.port.map(|p| p.to_string()));
    opt("workers", &input.workers.map(|w| w.to_string()));
    for (on, flag) in [(input.train, "--train"), (input.host_ipc, "--host-ipc"), (input.large_shm, "--large-shm")] {
        if on {
            a.push(flag.to_owned());
        }
    }
    for t in &input.node_types {
        a.push(format!("--node-type={t}"));
    }
    for (k, v) in &input.extra_env {
        a.push(format!("--env={k}={v}"));
    }
    a
}

/// The steps before the command, and the command if one was given. An
/// empty value counts as not given, as in the wrapper.
fn expected_script(input: &Input) -> (Vec<String>, Option<String>) {
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    let mut steps = Vec::new();
    if let Some(d) = given(&input.exp_folder) {
        steps.push(format!("cd {d}"));
    }
    if let Some(v) = given(&input.venv) {
        steps.push(format!("source {v}/bin/activate"));
    }
    (steps, given(&input.command))
}

fn decode_payload(snippet: &str) -> String {
    submit::pod_command::decode_snippet(snippet).unwrap_or_else(|| panic!("unexpected pod snippet {snippet:?}"))
}

/// One case: the binary refuses clearly, or its line is valid and exact.
fn check(cli: Cli, input: &Input, accepted: &Cell<usize>, refused: &Cell<usize>) -> Result<(), TestCaseError> {
    let input = input.clone();
    let env = SubmitEnv::new(Path::new(if cli == Cli::V1 { RUNAI_V1 } else { RUNAI_V2_22X }));
    env.write_env(&env_text(&input));
    let args = argv(&input);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = env.run(&args);
    match run.code {
        Some(0) => {
            accepted.set(accepted.get() + 1);
            prop_assert_eq!(run.stdout.lines().count(), 1, "{}", run);
            let words =
                shlex::split(run.stdout.trim_end_matches('\n')).unwrap_or_else(|| panic!("not shell words: {run}"));
            prop_assert_eq!(&words[0], "runai");
            let parsed =
                runai_grammar::parse(cli, &words[1..]).unwrap_or_else(|e| panic!("grammar rejects: {e}\n{run}"));
            let distributed = input.workers.unwrap_or(0) > 0;
            let expected = match (cli, distributed, input.train) {
                (Cli::V1, true, _) => Command::SubmitDistPytorch,
                (Cli::V1, false, _) => Command::Submit,
                (_, true, _) => Command::PytorchSubmit,
                (_, false, true) => Command::TrainingSubmit,
                (_, false, false) => Command::WorkspaceSubmit,
            };
            prop_assert_eq!(&parsed.command, &expected);
            if cli == Cli::V1 {
                prop_assert_eq!(parsed.is_set("interactive"), !input.train && !distributed);
            }
            let plain = parsed.values(if cli == Cli::V1 { "environment" } else { "environment-variable" });
            for (k, v) in &input.extra_env {
                let entry = format!("{k}={v}");
                prop_assert!(plain.contains(&entry.as_str()), "-e {} missing: {:?}", entry, plain);
            }
            let cc = &parsed.container_command;
            prop_assert_eq!(cc.len(), 3, "{:?}", cc);
            let script = decode_payload(&cc[2]);
            let (mut steps, command) = expected_script(&input);
            match command {
                Some(command) => {
                    steps.push(command);
                    prop_assert_eq!(script, steps.join(" && "));
                }
                None => {
                    // The default command sleeps for --time, in seconds.
                    steps.push("sleep ".to_owned());
                    let prefix = steps.join(" && ");
                    let secs = script.strip_prefix(&prefix).unwrap_or_else(|| panic!("{script:?}"));
                    prop_assert!(secs.parse::<u64>().is_ok_and(|n| n > 0), "{}", script);
                }
            }
        }
        Some(1) => {
            refused.set(refused.get() + 1);
            prop_assert!(run.stdout.is_empty(), "{}", run);
            prop_assert!(run.stderr.starts_with("submit: ") || run.stderr.starts_with("error: "), "{}", run);
            prop_assert!(!run.stderr.contains("panicked"), "{}", run);
        }
        _ => prop_assert!(false, "unexpected exit: {}", run),
    }
    prop_assert!(env.runai_calls().is_empty());
    prop_assert!(env.runai_probes() <= 1, "probed {} times", env.runai_probes());
    Ok(())
}

fn dry_run_is_a_valid_line_or_a_clear_refusal(cli: Cli) {
    let (accepted, refused) = (Cell::new(0), Cell::new(0));
    let mut runner = TestRunner::new(ProptestConfig { cases: 200, ..ProptestConfig::default() });
    let result = runner.run(&input(), |input| check(cli, &input, &accepted, &refused));
    if let Err(e) = result {
        panic!("{e}");
    }
    // Both outcomes must come up, or the generators test nothing.
    let (ok, no) = (accepted.get(), refused.get());
    assert!(ok >= 20 && no >= 20, "accepted {ok}, refused {no}");
}

#[test]
fn dry_run_is_a_valid_v1_line_or_a_clear_refusal() {
    dry_run_is_a_valid_line_or_a_clear_refusal(Cli::V1);
}

#[test]
fn dry_run_is_a_valid_v2_line_or_a_clear_refusal() {
    dry_run_is_a_valid_line_or_a_clear_refusal(Cli::V2Era22x);
}
