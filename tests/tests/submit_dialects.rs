//! Which run:ai dialect `submit` speaks, through the real binary: with each
//! runai double first on PATH (v1, a 2.19-era v2, a 2.2x v2), without runai,
//! and with the choice forced by `--runai-cli` or `RUNAI_CLI`. Every dry-run
//! line is split by a shell parser and checked against the grammar of the
//! CLI it was written for.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use nb_tests::runai_grammar::{self, Cli, Command, Parsed};
use nb_tests::submit_harness::{DEMO_JOB_ARGS, Run, SubmitEnv, fixed_submission};

const V1: &str = env!("CARGO_BIN_EXE_runai");
const V2_219: &str = env!("CARGO_BIN_EXE_runai-v2-219");
const V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");

const DEMO: &str = include_str!("../../examples/demo.env");

fn room(double: &str) -> SubmitEnv {
    let env = SubmitEnv::new(Path::new(double));
    env.write_env(DEMO);
    env
}

/// The dry-run line of `run`, parsed by the grammar of `cli`.
fn parsed(cli: Cli, run: &Run) -> Parsed {
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    let words = shlex::split(run.stdout.trim_end()).unwrap_or_else(|| panic!("not shell words: {run}"));
    assert_eq!(words[0], "runai", "{run}");
    runai_grammar::parse(cli, &words[1..]).unwrap_or_else(|e| panic!("{cli:?} grammar: {e}\n{run}"))
}

#[test]
fn a_2_2x_cli_gets_the_v2_command_line() {
    let env = room(V2_22X);
    let run = env.run(&[&DEMO_JOB_ARGS[..], &["-c", "python train.py"]].concat());
    assert_eq!(
        fixed_submission(&run.stdout),
        "runai workspace submit demo-job --project mlo-ada --image ic-registry.epfl.ch/mlo/mlo-base:uv1 \
         --gpu-devices-request 1 --run-as-uid 123456 --run-as-gid 83070 \
         --existing-pvc claimname=mlo-scratch,path=/mloscratch --image-pull-policy Always --cpu-core-request 4 \
         --cpu-memory-request 32G --node-pools h100 --environment-variable HOME=/home/ada \
         --environment-variable NB_USER=ada --environment-variable NB_UID=123456 \
         --environment-variable NB_GROUP=MLO-unit --environment-variable NB_GID=83070 \
         --environment-variable WORKING_DIR=/mloscratch/homes/ada \
         --environment-variable SCRATCH_HOME=/mloscratch/homes/ada \
         --environment-variable SCRATCH_HOME_ROOT=/mloscratch/homes --environment-variable EPFML_LDAP=ada \
         --environment-variable HF_HOME=/mloscratch/hf_cache --environment-variable UV_PYTHON_VERSION=3.11 \
         --environment-variable TZ=Europe/Zurich \
         --environment-variable GIT_CONFIG_GLOBAL=/mloscratch/homes/ada/.gitconfig \
         --environment-variable UV_CACHE_DIR=/mloscratch/homes/ada/.cache/uv \
         --environment-variable UV_PYTHON_INSTALL_DIR=/mloscratch/homes/ada/.uv \
         --environment-variable NB_JOB_NAME=demo-job --environment-variable NB_SUBMISSION=<submission> \
         --environment-variable NB_JOB_KIND=interactive \
         --env-secret GIT_USER_EMAIL=runai-mlo-ada-env,key=GIT_USER_EMAIL \
         --env-secret GIT_USER_NAME=runai-mlo-ada-env,key=GIT_USER_NAME \
         --env-secret HF_TOKEN=runai-mlo-ada-env,key=HF_TOKEN \
         --env-secret SSH_PRIVATE_KEY_B64=runai-mlo-ada-env,key=SSH_PRIVATE_KEY_B64 \
         --env-secret SSH_PUBLIC_KEY=runai-mlo-ada-env,key=SSH_PUBLIC_KEY \
         --env-secret WANDB_API_KEY=runai-mlo-ada-env,key=WANDB_API_KEY \
         --allow-privilege-escalation --preemptible \
         -- /bin/zsh -c '_submit_script=\"$(printf %s cHl0aG9uIHRyYWluLnB5 | base64 -d)\"; \
         printf '\"'\"'%s\\n'\"'\"' \"$_submit_script\"; source ~/.zshrc; eval \"$_submit_script\"'\n",
        "{run}"
    );
    assert!(
        run.stderr.starts_with(
            "submit: run:ai CLI v2 (2.2x flags): RUNAI_CLI is not set (auto); `runai workspace submit --help` \
             succeeded; it lists --env-secret and sets variables with --environment-variable\n"
        ),
        "{run}"
    );
    parsed(Cli::V2Era22x, &run);
    assert!(env.runai_calls().is_empty(), "a dry run submitted");
    assert_eq!(env.runai_probes(), 1);
}

/// One job shape, and what each dialect must say for it.
struct Case {
    what: &'static str,
    args: &'static [&'static str],
    v1: fn(&Parsed),
    v2: fn(&Parsed),
}

fn has(p: &Parsed, flag: &str, value: &str) -> bool {
    p.values(flag).contains(&value)
}

const CASES: &[Case] = &[
    Case {
        what: "interactive",
        args: &[],
        v1: |p| assert!(p.command == Command::Submit && p.is_set("interactive"), "{p:?}"),
        v2: |p| assert_eq!(p.command, Command::WorkspaceSubmit, "{p:?}"),
    },
    Case {
        what: "training",
        args: &["--train", "--backoff-limit", "2"],
        v1: |p| assert!(p.command == Command::Submit && !p.is_set("interactive") && has(p, "backoff-limit", "2")),
        v2: |p| assert!(p.command == Command::TrainingSubmit && has(p, "backoff-limit", "2"), "{p:?}"),
    },
    Case {
        what: "fractional GPUs",
        args: &["-g", "0.5"],
        v1: |p| assert!(has(p, "gpu", "0.5"), "{p:?}"),
        v2: |p| assert!(has(p, "gpu-portion-request", "0.5") && p.value("gpu-devices-request").is_none(), "{p:?}"),
    },
    Case {
        what: "distributed",
        args: &["--workers", "2", "-g", "4"],
        v1: |p| assert!(p.command == Command::SubmitDistPytorch && has(p, "workers", "2") && has(p, "gpu", "4")),
        v2: |p| {
            assert_eq!(p.command, Command::PytorchSubmit);
            assert!(has(p, "workers", "2") && has(p, "gpu-devices-request", "4"), "{p:?}");
            assert!(has(p, "master-gpu-devices-request", "4"), "{p:?}");
            assert!(has(p, "master-extended-resource", "rdma/rdma=1"), "{p:?}");
            assert!(has(p, "annotation", "k8s.v1.cni.cncf.io/networks=kube-system/roce"), "{p:?}");
        },
    },
    Case {
        what: "several pools",
        args: &["--node-type", "h100,h200"],
        v1: |p| assert!(p.values("node-pools") == ["h100,h200"] && p.is_set("preemptible"), "{p:?}"),
        v2: |p| assert!(p.values("node-pools") == ["h100", "h200"] && p.is_set("preemptible"), "{p:?}"),
    },
    Case {
        what: "-e",
        args: &["-e", "POD_INIT_SIGNAL_GROUP=1", "--env", "WANDB_PROJECT=x y"],
        v1: |p| assert!(has(p, "environment", "POD_INIT_SIGNAL_GROUP=1") && has(p, "environment", "WANDB_PROJECT=x y")),
        v2: |p| {
            assert!(has(p, "environment-variable", "POD_INIT_SIGNAL_GROUP=1"), "{p:?}");
            assert!(has(p, "environment-variable", "WANDB_PROJECT=x y"), "{p:?}");
        },
    },
];

#[test]
fn dry_runs_in_both_dialects_for_every_job_shape() {
    for case in CASES {
        for (double, cli) in [(V1, Cli::V1), (V2_22X, Cli::V2Era22x)] {
            let env = room(double);
            let mut args = vec!["--dry-run", "-n", "shape-1"];
            args.extend_from_slice(case.args);
            let run = env.run(&args);
            let p = parsed(cli, &run);
            assert_eq!(p.name.as_deref(), Some("shape-1"), "{}: {run}", case.what);
            match cli {
                Cli::V1 => (case.v1)(&p),
                _ => (case.v2)(&p),
            }
            assert_eq!(env.runai_probes(), 1, "{}", case.what);
            assert!(env.runai_calls().is_empty(), "{}: a dry run submitted", case.what);
        }
    }
}

#[test]
fn a_2_19_era_cli_is_refused_when_the_pod_needs_the_secret() {
    let env = room(V2_219);
    let run = env.run(&["--dry-run", "-n", "j1"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: the installed run:ai CLI is v2 without --env-secret, so it has no way to give the pod a \
             variable from the Secret runai-mlo-ada-env (GIT_USER_EMAIL, GIT_USER_NAME, HF_TOKEN, \
             SSH_PRIVATE_KEY_B64, SSH_PUBLIC_KEY, WANDB_API_KEY), and submit never puts a secret value on the \
             command line; set RUNAI_CLI=v1 in the .env (or pass --runai-cli v1) if the cluster still takes v1 \
             commands, or update the run:ai CLI; nothing was sent\n"
        ),
        "{run}"
    );
    assert!(run.stderr.starts_with("submit: run:ai CLI v2 (2.19-era flags): "), "{run}");
    assert!(!run.stderr.contains("hf_demo_not_a_real_token"), "{run}");
}

#[test]
fn a_2_19_era_cli_takes_a_job_without_secrets() {
    let env = room(V2_219);
    let plain: String = DEMO
        .lines()
        .filter(|l| !["WANDB_", "HF_TOKEN", "GIT_USER", "SSH_"].iter().any(|k| l.starts_with(k)))
        .map(|l| format!("{l}\n"))
        .collect();
    env.write_env(&plain);
    let run = env.run(&["--dry-run", "-n", "j1", "-e", "WANDB_MODE=offline"]);
    let p = parsed(Cli::V2Era219, &run);
    assert!(has(&p, "environment", "NB_USER=ada") && has(&p, "environment", "WANDB_MODE=offline"), "{run}");
    assert!(p.values("env-secret").is_empty(), "{run}");
}

#[test]
fn without_runai_a_dry_run_speaks_v1_and_says_why() {
    let mut env = room(V1);
    env.set_path(vec![PathBuf::from("/usr/bin"), PathBuf::from("/bin")]);
    let run = env.run(&["--dry-run", "-n", "j1"]);
    assert_eq!(parsed(Cli::V1, &run).command, Command::Submit);
    assert!(
        run.stderr.starts_with("submit: run:ai CLI v1: RUNAI_CLI is not set (auto); runai is not on PATH\n"),
        "{run}"
    );
    let run = env.run(&["--dry-run", "-n", "j1", "--runai-cli", "v2"]);
    assert_eq!(parsed(Cli::V2Era22x, &run).command, Command::WorkspaceSubmit);
    assert!(
        run.stderr.starts_with(
            "submit: run:ai CLI v2 (2.2x flags): --runai-cli=v2; runai is not on PATH, so the 2.2x flags are assumed\n"
        ),
        "{run}"
    );
    assert!(env.runai_calls().is_empty() && env.runai_probes() == 0);
}

#[test]
fn the_flag_wins_over_the_file_and_v1_is_not_probed() {
    let env = room(V2_22X);
    env.write_env(&format!("{DEMO}RUNAI_CLI=v1\n"));
    let run = env.run(&["--dry-run", "-n", "j1"]);
    assert_eq!(parsed(Cli::V1, &run).command, Command::Submit);
    assert!(run.stderr.starts_with("submit: run:ai CLI v1: .env:25: RUNAI_CLI=v1\n"), "{run}");
    assert_eq!(env.runai_probes(), 0, "v1 was probed");
    let run = env.run(&["--dry-run", "-n", "j1", "--runai-cli", "auto"]);
    assert_eq!(parsed(Cli::V2Era22x, &run).command, Command::WorkspaceSubmit);

    let env = room(V1);
    let run = env.run(&["--dry-run", "-n", "j1", "--runai-cli", "v2"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        "submit: --runai-cli=v2, but the installed runai does not speak v2: `runai workspace submit --help` failed \
         (exit status 1); use v1 or auto\n"
    );
    env.write_env(&format!("{DEMO}RUNAI_CLI=v3\n"));
    let run = env.run(&["--dry-run"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(run.stderr, "submit: .env:25: RUNAI_CLI=\"v3\": must be one of v1, v2, auto\n");
}

#[test]
fn extra_variables_that_would_clash_or_leak_are_refused_by_name() {
    let env = room(V2_22X);
    for (arg, message) in [
        ("NB_UID=0", "submit: -e NB_UID: submit sets NB_UID itself; it cannot be given with -e\n"),
        (
            "HF_TOKEN=hf_typed_on_the_command_line",
            "submit: -e HF_TOKEN: HF_TOKEN is a Secret key: put its value in .env and the pod reads it from the \
             Secret (with -e the value would be shown on the command line)\n",
        ),
        (
            "9LIVES=x",
            "submit: -e: \"9LIVES\" is not a variable name: use letters, digits and '_', not starting with a digit\n",
        ),
        (
            "HISTFILE=/tmp/h",
            "submit: -e HISTFILE: pod-init sets HISTFILE for the job's command itself; it cannot be given with -e\n",
        ),
        ("WANDB_MODE", "submit: -e WANDB_MODE: write WANDB_MODE=VALUE\n"),
        (
            "hf_pasted-alone.token",
            "submit: -e: an argument without '=' (not shown: it may be a value); write KEY=VALUE\n",
        ),
    ] {
        let run = env.run(&["--dry-run", "-e", arg]);
        assert_eq!((run.code, run.stderr.as_str(), run.stdout.as_str()), (Some(1), message, ""), "{arg}");
    }
    assert_eq!(env.runai_probes(), 0, "refused before the probe");
}

/// The value of `NAME=` among the variables `values` of a parsed line.
fn variable<'a>(values: &[&'a str], name: &str) -> Option<&'a str> {
    values.iter().find_map(|v| v.strip_prefix(name)?.strip_prefix('='))
}

#[test]
fn every_pod_knows_its_job_a_new_submission_and_the_stop_signal_in_both_dialects() {
    for (double, cli, env_flag) in [(V1, Cli::V1, "environment"), (V2_22X, Cli::V2Era22x, "environment-variable")] {
        let env = room(double);
        for args in [&["--workers", "1", "-g", "1"][..], &[]] {
            let first = env.run(&[&["--dry-run", "-n", "j1", "--stop-signal", "sigusr1"], args].concat());
            let second = env.run(&[&["--dry-run", "-n", "j1"], args].concat());
            let (first, second) = (parsed(cli, &first), parsed(cli, &second));
            let (one, two) = (first.values(env_flag), second.values(env_flag));
            assert_eq!(variable(&one, "NB_JOB_NAME"), Some("j1"), "{cli:?}: {one:?}");
            assert_eq!(variable(&one, "NB_STOP_SIGNAL"), Some("USR1"), "{cli:?}: {one:?}");
            assert_eq!(variable(&two, "NB_STOP_SIGNAL"), None, "{cli:?}: without --stop-signal: {two:?}");
            let ids = (variable(&one, "NB_SUBMISSION"), variable(&two, "NB_SUBMISSION"));
            let (Some(a), Some(b)) = ids else { panic!("{cli:?}: no NB_SUBMISSION: {one:?}") };
            assert_ne!(a, b, "{cli:?}: two submissions, one id");
            assert_eq!(fixed_submission(&format!("NB_SUBMISSION={a}")), "NB_SUBMISSION=<submission>", "{a}");
        }
    }
}

#[test]
fn a_bad_stop_signal_is_refused_before_anything_is_sent() {
    let env = room(V1);
    env.count_kubectl_calls();
    let run = env.run(&["-n", "j1", "--stop-signal", "KILL"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: --stop-signal=\"KILL\": must be one of TERM, INT, HUP, QUIT, USR1, USR2, ALRM (with or without \
             SIG)\n"
        ),
        "{run}"
    );
    assert_eq!((env.kubectl_calls(), env.runai_calls().len()), (0, 0), "{run}");
}

#[test]
fn the_grace_is_a_v2_termination_grace_period_and_refused_by_v1_before_any_sync() {
    let env = room(V2_22X);
    let p = parsed(Cli::V2Era22x, &env.run(&["--dry-run", "-n", "j1", "--train", "--grace", "2m30s"]));
    assert_eq!(p.values("termination-grace-period"), ["150s"]);
    let env = room(V1);
    env.count_kubectl_calls();
    let run = env.run(&["-n", "j1", "--grace", "2m"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: --grace=120s: the run:ai v1 CLI (runai submit) has no flag for the termination grace period, so \
             the pod would get the cluster's default (30 s); drop --grace, or use the v2 CLI (--runai-cli v2); \
             nothing was sent\n"
        ),
        "{run}"
    );
    assert_eq!((env.kubectl_calls(), env.runai_calls().len()), (0, 0), "{run}");
}
