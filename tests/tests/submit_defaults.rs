//! The defaults a submission takes silently when the `.env` leaves
//! something out are said once on stderr, with the value taken.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use nb_tests::submit_harness::{Run, SubmitEnv};

const RUNAI_DOUBLE: &str = env!("CARGO_BIN_EXE_runai");

const ENV: &str = "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE=runai-mlo-ada\nRUNAI_IMAGE=reg.example/img:1\n\
RUNAI_SECRET_NAME=ada-env\nSCRATCH_PVC=mlo-scratch\nHF_TOKEN=hf_secret_value\n\
SSH_PRIVATE_KEY_B64=ZGVtbyBrZXkK\nSSH_PUBLIC_KEY=ssh-ed25519 AAAA ada\n";

fn dry_run(env_text: &str, extra: &[&str]) -> Run {
    let env = SubmitEnv::new(Path::new(RUNAI_DOUBLE));
    env.write_env(env_text);
    let args: Vec<&str> = ["--dry-run", "-n", "job"].into_iter().chain(extra.iter().copied()).collect();
    let run = env.run(&args);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(!run.stderr.contains("hf_secret_value"), "{run}");
    run
}

fn said_once(run: &Run, line: &str) {
    assert_eq!(run.stderr.matches(&format!("submit: {line}\n")).count(), 1, "{line:?} not said once:\n{run}");
}

#[test]
fn a_complete_env_takes_no_default_and_says_none() {
    let run = dry_run(ENV, &[]);
    assert!(!run.stderr.contains(" sets no ") && !run.stderr.contains("did you mean"), "{run}");
    assert!(!run.stderr.contains("no GitHub SSH key"), "{run}");
}

#[test]
fn no_project_means_the_namespace_and_it_is_said() {
    let run = dry_run(&ENV.replace("RUNAI_PROJECT=mlo-ada\n", ""), &[]);
    said_once(&run, ".env sets no RUNAI_PROJECT: the run:ai project is the namespace, runai-mlo-ada");
}

#[test]
fn no_namespace_means_the_project_and_it_is_said() {
    let run = dry_run(&ENV.replace("K8S_NAMESPACE=runai-mlo-ada\n", "K8S_NAMESPACE=\n"), &[]);
    said_once(
        &run,
        ".env sets no K8S_NAMESPACE: the namespace is the project, mlo-ada (on run:ai it is usually runai-mlo-ada)",
    );
}

#[test]
fn no_github_key_anywhere_is_said() {
    let run = dry_run(&ENV.replace("SSH_PRIVATE_KEY_B64=ZGVtbyBrZXkK\n", ""), &[]);
    said_once(&run, "no GitHub SSH key (none in .env, no ~/.ssh/github): the pod gets no GitHub key");
}

#[test]
fn wait_and_attach_with_dry_run_are_said_to_be_ignored() {
    let run = dry_run(ENV, &["--wait", "--attach"]);
    said_once(&run, "--wait is ignored with --dry-run: nothing is submitted to wait for");
    said_once(&run, "--attach is ignored with --dry-run: nothing is submitted to wait for");
}

#[test]
fn a_key_one_edit_from_a_secret_key_is_named_with_the_known_one() {
    let run = dry_run(&format!("{ENV}WANDB_APIKEY=wandb_secret_value\n"), &[]);
    said_once(
        &run,
        ".env: WANDB_APIKEY is synced into the Secret but not handed to the pod; did you mean WANDB_API_KEY?",
    );
    assert!(!run.stderr.contains("wandb_secret_value"), "{run}");
}
