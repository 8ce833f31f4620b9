//! Real submissions: the real `submit`, the real kubectl against the fake
//! API server on 127.0.0.1, and the `runai` double. What is asserted is what
//! reached the server (one server-side apply PATCH, exact), what reached
//! runai (after the PATCH, once, valid), what the user saw, and that no file
//! under HOME or TMPDIR holds a secret value afterwards.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use nb_tests::fake_apiserver::{FakeApiServer, PatchBehaviour, Request};
use nb_tests::runai_grammar::{self, Cli};
use nb_tests::submit_harness::{SubmitEnv, V1_CHOICE, processes_with_env};

const RUNAI_DOUBLE: &str = env!("CARGO_BIN_EXE_runai");
const RUNAI_V2_219: &str = env!("CARGO_BIN_EXE_runai-v2-219");
const RUNAI_V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");
const NAMESPACE: &str = "runai-mlo-ada";
const SECRET: &str = "runai-mlo-ada-env";

/// Secret values that must reach the cluster exactly and nowhere else.
const WANDB: &str = "wandb-7f3c9a1e5b2d4c6e8a0f1b3d5e7c9a2b";
const HF: &str = "hf_SECRETtokenVALUE_with#hash";
const EMAIL: &str = "ada@example.org";

fn env_text() -> String {
    format!(
        "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
         RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE={NAMESPACE}\nRUNAI_IMAGE=ic-registry.epfl.ch/mlo/mlo-base:uv1\n\
         RUNAI_SECRET_NAME={SECRET}\nSCRATCH_PVC=mlo-scratch\n\
         WANDB_API_KEY={WANDB}\nHF_TOKEN='{HF}'\nGIT_USER_NAME='Ada Lovelace'\nGIT_USER_EMAIL={EMAIL}\n\
         SSH_PRIVATE_KEY_B64=\nSSH_PUBLIC_KEY=\n"
    )
}

/// A room wired to a fresh fake API server that has the scratch claim, with
/// kubectl calls counted.
fn setup() -> (SubmitEnv, FakeApiServer) {
    setup_with(RUNAI_DOUBLE)
}

/// As [`setup`], with `double` as runai.
fn setup_with(double: &str) -> (SubmitEnv, FakeApiServer) {
    let server = FakeApiServer::start().unwrap_or_else(|e| panic!("fake API server: {e}"));
    server.add_pvc(NAMESPACE, "mlo-scratch");
    let mut env = SubmitEnv::new(Path::new(double));
    env.use_apiserver(&server, NAMESPACE);
    env.count_kubectl_calls();
    env.write_env(&env_text());
    (env, server)
}

fn decoded_data(patch: &Request) -> Vec<(String, String)> {
    let body: serde_json::Value = serde_json::from_slice(&patch.body).unwrap_or_else(|e| panic!("PATCH body: {e}"));
    let data = body["data"].as_object().unwrap_or_else(|| panic!("no data in {body}"));
    data.iter()
        .map(|(k, v)| {
            let bytes = BASE64.decode(v.as_str().unwrap_or_default()).unwrap_or_else(|e| panic!("{k}: {e}"));
            (k.clone(), String::from_utf8(bytes).unwrap_or_else(|e| panic!("{k}: {e}")))
        })
        .collect()
}

fn assert_no_secret_on_disk(env: &SubmitEnv, extra: &[&str]) {
    let mut values = vec![WANDB, HF];
    values.extend_from_slice(extra);
    let found = env.files_holding(&values);
    assert!(found.is_empty(), "secret values found on disk in {found:?}");
}

#[test]
fn submission_applies_the_secret_server_side_then_runs_runai_once() {
    let (env, server) = setup();
    let run = env.run(&["-n", "job-1", "-g", "1", "-c", "python train.py"]);
    assert_eq!(run.code, Some(0), "{run}");

    // Exactly one PATCH, and it is a server-side apply of our Secret.
    let patches = server.patches();
    assert_eq!(patches.len(), 1, "{:#?}", server.requests());
    let patch = &patches[0];
    assert_eq!(patch.path(), format!("/api/v1/namespaces/{NAMESPACE}/secrets/{SECRET}"));
    let query = patch.query();
    assert!(query.contains(&("fieldManager".into(), "submit".into())), "{query:?}");
    assert!(query.contains(&("force".into(), "true".into())), "{query:?}");
    assert_eq!(patch.header("Content-Type"), Some("application/apply-patch+yaml"));
    assert!(server.requests().iter().all(|r| r.method == "GET" || r.method == "PATCH"), "no POST or PUT");

    let body: serde_json::Value = serde_json::from_slice(&patch.body).unwrap_or_default();
    assert_eq!(body["apiVersion"], "v1");
    assert_eq!(body["kind"], "Secret");
    assert_eq!(body["type"], "Opaque");
    assert_eq!(body["metadata"], serde_json::json!({"name": SECRET, "namespace": NAMESPACE}), "no annotations");
    assert!(!String::from_utf8_lossy(&patch.body).contains("last-applied"));
    let data = decoded_data(patch);
    let expected: Vec<(&str, &str)> = vec![
        ("GIT_USER_EMAIL", EMAIL),
        ("GIT_USER_NAME", "Ada Lovelace"),
        ("HF_TOKEN", HF),
        ("K8S_NAMESPACE", NAMESPACE),
        ("LDAP_GID", "83070"),
        ("LDAP_GROUPNAME", "MLO-unit"),
        ("LDAP_UID", "123456"),
        ("LDAP_USERNAME", "ada"),
        ("RUNAI_IMAGE", "ic-registry.epfl.ch/mlo/mlo-base:uv1"),
        ("RUNAI_PROJECT", "mlo-ada"),
        ("RUNAI_SECRET_NAME", SECRET),
        ("SCRATCH_PVC", "mlo-scratch"),
        ("WANDB_API_KEY", WANDB),
    ];
    let data: Vec<(&str, &str)> = data.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(data, expected);

    // Two kubectl processes (the pre-flight check, the apply), one runai
    // process, runai after the PATCH.
    assert_eq!(env.kubectl_calls(), 2);
    let calls = env.runai_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["accepted"], true, "{calls:?}");
    let runai_at: u128 = calls[0]["unix_nanos"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    let patch_at = patch.received_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    assert!(patch_at < runai_at, "runai ran before the Secret was applied");
    let argv = &env.runai_argvs()[0];
    let parsed = runai_grammar::parse(Cli::V1, argv).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.value("name"), Some("job-1"));
    assert_eq!(parsed.value("gpu"), Some("1"));
    let secret_refs: Vec<&str> = parsed.values("environment").into_iter().filter(|e| e.contains("=SECRET:")).collect();
    assert_eq!(
        secret_refs,
        [
            format!("GIT_USER_EMAIL=SECRET:{SECRET},GIT_USER_EMAIL"),
            format!("GIT_USER_NAME=SECRET:{SECRET},GIT_USER_NAME"),
            format!("HF_TOKEN=SECRET:{SECRET},HF_TOKEN"),
            format!("WANDB_API_KEY=SECRET:{SECRET},WANDB_API_KEY"),
        ]
    );

    // What the user sees: the follow-up commands, and never a value.
    assert_eq!(
        run.stdout,
        "The job 'job-1' has been submitted successfully\n\nJob submitted. Handy commands:\nrunai describe job job-1\nrunai logs job-1\n\
         runai exec job-1 -it -- zsh\nrunai delete job job-1\n"
    );
    assert!(
        run.stderr.contains(&format!("submit: synced the Secret {SECRET} in namespace {NAMESPACE} (13 keys)")),
        "{run}"
    );
    for value in [WANDB, HF] {
        assert!(!run.stdout.contains(value) && !run.stderr.contains(value), "{value} shown: {run}");
    }
    assert_no_secret_on_disk(&env, &[]);
}

#[test]
fn github_key_is_loaded_into_the_secret_and_only_its_path_is_shown() {
    let (env, server) = setup();
    let ssh = env.home.join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap_or_else(|e| panic!("{e}"));
    let private = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAfakefakefake\n-----END OPENSSH PRIVATE KEY-----\n";
    let public = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeFakeFake ada@laptop";
    std::fs::write(ssh.join("github"), private).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(ssh.join("github.pub"), format!("{public}\n")).unwrap_or_else(|e| panic!("{e}"));

    let run = env.run(&["-n", "job-2"]);
    assert_eq!(run.code, Some(0), "{run}");
    let data = decoded_data(&server.patches()[0]);
    let get = |k: &str| data.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("SSH_PRIVATE_KEY_B64"), Some(BASE64.encode(private)));
    assert_eq!(get("SSH_PUBLIC_KEY").as_deref(), Some(public));
    let key_path = ssh.join("github");
    assert!(run.stderr.contains(&format!("submit: SSH_PRIVATE_KEY_B64 loaded from {}\n", key_path.display())), "{run}");
    assert!(run.stderr.contains(&format!("submit: SSH_PUBLIC_KEY loaded from {}.pub\n", key_path.display())), "{run}");
    assert!(!run.stderr.contains("b3BlbnNzaC1rZXktdjEAAAAAfakefakefake") && !run.stderr.contains("AAAAC3Nza"), "{run}");
    let argv = env.runai_argvs().remove(0);
    assert!(argv.contains(&format!("SSH_PRIVATE_KEY_B64=SECRET:{SECRET},SSH_PRIVATE_KEY_B64")));
    // The key file itself is the only place the key may be.
    let holding = env.files_holding(&["b3BlbnNzaC1rZXktdjEAAAAAfakefakefake"]);
    assert_eq!(holding, vec![ssh.join("github")]);
}

#[test]
fn kubectl_failure_stops_before_runai_with_kubectls_own_message_redacted() {
    let (env, server) = setup();
    server.set_patch_behaviour(PatchBehaviour::Reject {
        code: 403,
        reason: "Forbidden".into(),
        message: format!("secrets \"{SECRET}\" is forbidden: user ada cannot patch (echo: {WANDB})"),
    });
    let run = env.run(&["-n", "job-3"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.starts_with(&format!(
            "{V1_CHOICE}submit: kubectl could not apply the Secret {SECRET} in namespace {NAMESPACE} (exit status 1): \
             forbidden in namespace {NAMESPACE}: check K8S_NAMESPACE in your .env, or switch to the context of that \
             namespace (kubectl config use-context NAME); nothing was submitted:\n"
        )),
        "{run}"
    );
    assert!(run.stderr.contains(&format!("secrets \"{SECRET}\" is forbidden: user ada cannot patch")), "{run}");
    assert!(run.stderr.contains("(echo: <redacted>)"), "{run}");
    assert!(!run.stderr.contains(WANDB), "{run}");
    assert!(env.runai_calls().is_empty(), "runai ran after a failed sync");
    assert_no_secret_on_disk(&env, &[]);
}

#[test]
fn sync_secret_only_applies_and_does_not_submit() {
    let (env, server) = setup();
    let run = env.run(&["--sync-secret-only"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout, format!("Secret {SECRET} was updated in namespace {NAMESPACE}.\n"));
    assert_eq!(server.patches().len(), 1);
    assert_eq!(env.kubectl_calls(), 1);
    assert!(env.runai_calls().is_empty());
}

#[test]
fn skip_secret_sync_without_preflight_runs_no_kubectl() {
    let (env, server) = setup();
    let run = env.run(&["--skip-secret-sync", "--no-preflight", "-n", "job-4"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
    assert_eq!(env.kubectl_calls(), 0);
    assert_eq!(env.runai_calls().len(), 1);
}

#[test]
fn kubectl_missing_is_reported_before_anything_runs() {
    let (mut env, _server) = setup();
    std::fs::remove_file(env.bin.join("kubectl")).unwrap_or_else(|e| panic!("{e}"));
    let bin = env.bin.clone();
    env.set_path(vec![bin]);
    let run = env.run(&["-n", "job-5"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        "submit: kubectl not found on PATH: install it (Debian: apt-get install kubernetes-client), or pass --skip-secret-sync --no-preflight\n"
    );
    assert!(env.runai_calls().is_empty());
}

#[test]
fn runai_missing_is_reported_before_the_secret_is_touched() {
    let (mut env, server) = setup();
    std::fs::remove_file(env.bin.join("runai")).unwrap_or_else(|e| panic!("{e}"));
    let run = {
        let dirs: Vec<PathBuf> = vec![env.bin.clone(), "/usr/bin".into(), "/bin".into()];
        env.set_path(dirs);
        env.run(&["-n", "job-6"])
    };
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        "submit: runai not found on PATH: install the run:ai CLI, or pass --dry-run to see the command\n"
    );
    assert!(server.patches().is_empty(), "the Secret was changed although runai is missing");
    assert_eq!(env.kubectl_calls(), 0);
}

#[test]
fn runai_failure_passes_its_exit_code_through() {
    let (mut env, server) = setup();
    env.set_env("RUNAI_DOUBLE_EXIT", "3");
    let run = env.run(&["-n", "job-7"]);
    assert_eq!(run.code, Some(3), "{run}");
    assert!(
        run.stderr
            .ends_with("submit: runai failed (exit status 3); the Secret was synced, the job was not submitted\n"),
        "{run}"
    );
    assert_eq!(server.patches().len(), 1);
    assert!(run.stdout.is_empty(), "{run}");
}

#[test]
fn silent_cluster_makes_kubectl_give_up_within_its_request_timeout() {
    let (env, server) = setup();
    server.set_patch_behaviour(PatchBehaviour::Stall);
    let start = Instant::now();
    let run = env.run(&["-n", "job-8", "--kubectl-timeout", "2s"]);
    let took = start.elapsed();
    assert_eq!(run.code, Some(1), "{run}");
    // kubectl's own words, which vary with where its deadline hit.
    let expected = format!(
        "{V1_CHOICE}submit: kubectl could not apply the Secret {SECRET} in namespace {NAMESPACE} (exit status 1): \
         cannot reach the cluster's API server: check your VPN or network, and that KUBECONFIG points at the right \
         cluster; nothing was submitted:\nUnable to connect to the server: "
    );
    assert!(run.stderr.starts_with(&expected), "{run}");
    assert_eq!(run.stderr.lines().count(), 3, "{run}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(env.runai_calls().is_empty());
    // No kubectl of ours is left running (the dispatcher's child included).
    std::thread::sleep(Duration::from_millis(200));
    let config = env.home.join(".kube/config");
    let leftovers = processes_with_env(&format!("KUBECONFIG={}", config.display()));
    assert!(leftovers.is_empty(), "kubectl left running: {leftovers:?}");
}

#[test]
fn hung_kubectl_process_is_killed_after_the_timeout_and_a_grace() {
    let (mut env, server) = setup();
    // A kubectl that never ends and never reads its stdin, with a child.
    env.install_script("kubectl", "#!/bin/sh\nsleep 1000 &\nexec sleep 1000\n");
    let mark = format!("NB_SUBMIT_TEST_MARK={}", env.root().display());
    env.set_env("NB_SUBMIT_TEST_MARK", &env.root().display().to_string());
    let start = Instant::now();
    let run = env.run(&["-n", "job-9", "--kubectl-timeout", "1s", "--no-preflight"]);
    let took = start.elapsed();
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        format!(
            "{V1_CHOICE}submit: kubectl did not finish within 6s and was stopped: the cluster did not answer; \
             check your connection and kubeconfig, or raise --kubectl-timeout\n"
        )
    );
    assert!(took >= Duration::from_secs(6) && took < Duration::from_secs(30), "took {took:?}");
    assert!(server.requests().is_empty());
    assert!(env.runai_calls().is_empty());
    std::thread::sleep(Duration::from_millis(200));
    let leftovers = processes_with_env(&mark);
    assert!(leftovers.is_empty(), "left running: {leftovers:?}");
}

#[test]
fn a_2_2x_cli_gets_a_v2_submission_after_the_secret_and_v2_follow_ups() {
    let (env, server) = setup_with(RUNAI_V2_22X);
    let run = env.run(&["-n", "job-v2", "-g", "0.5", "-e", "WANDB_PROJECT=thesis"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(server.patches().len(), 1, "{:#?}", server.requests());
    assert_eq!(env.runai_probes(), 1);
    let calls = env.runai_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!((&calls[0]["cli"], &calls[0]["accepted"]), (&"v2-2.2x".into(), &true.into()), "{calls:?}");
    let parsed = runai_grammar::parse(Cli::V2Era22x, &env.runai_argvs()[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.command, runai_grammar::Command::WorkspaceSubmit);
    assert_eq!(parsed.name.as_deref(), Some("job-v2"));
    assert_eq!(parsed.value("gpu-portion-request"), Some("0.5"));
    assert!(parsed.values("environment-variable").contains(&"WANDB_PROJECT=thesis"));
    assert_eq!(
        parsed.values("env-secret"),
        [
            format!("GIT_USER_EMAIL={SECRET},key=GIT_USER_EMAIL"),
            format!("GIT_USER_NAME={SECRET},key=GIT_USER_NAME"),
            format!("HF_TOKEN={SECRET},key=HF_TOKEN"),
            format!("WANDB_API_KEY={SECRET},key=WANDB_API_KEY"),
        ]
    );
    let runai_at: u128 = calls[0]["unix_nanos"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    let patch_at = server.patches()[0].received_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    assert!(patch_at < runai_at, "runai ran before the Secret was applied");
    assert_eq!(
        run.stdout,
        "Creating workload job-v2... workload job-v2 submitted\n\nJob submitted. Handy commands:\n\
         runai workspace describe job-v2\nrunai workspace logs job-v2\n\
         runai workspace exec job-v2 --stdin --tty -- zsh\nrunai workload delete -y job-v2\n"
    );
    // Each follow-up is a command the same CLI accepts.
    for line in run.stdout.lines().skip(3) {
        let words = shlex::split(line).unwrap_or_default();
        runai_grammar::parse(Cli::V2Era22x, &words[1..]).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    assert_no_secret_on_disk(&env, &[]);
}

#[test]
fn a_v1_cli_gets_the_v1_submission_and_distributed_jobs_keep_their_shape() {
    let (env, server) = setup_with(RUNAI_DOUBLE);
    let run = env.run(&["-n", "job-d1", "--workers", "1", "-g", "2", "--node-type", "h100,h200"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(server.patches().len(), 1);
    let parsed = runai_grammar::parse(Cli::V1, &env.runai_argvs()[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.command, runai_grammar::Command::SubmitDistPytorch);
    assert_eq!(parsed.value("node-pools"), Some("h100,h200"));
    assert!(
        run.stderr.starts_with(&format!(
            "submit: --workers makes this a distributed training job (--train is implied)\n{V1_CHOICE}"
        )),
        "{run}"
    );

    let (env, _server) = setup_with(RUNAI_V2_22X);
    let run = env.run(&["-n", "job-d2", "--workers", "1", "-g", "2", "--node-type", "h100,h200"]);
    assert_eq!(run.code, Some(0), "{run}");
    let parsed = runai_grammar::parse(Cli::V2Era22x, &env.runai_argvs()[0]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.command, runai_grammar::Command::PytorchSubmit);
    assert_eq!(parsed.values("node-pools"), ["h100", "h200"]);
    assert!(run.stdout.contains("\nrunai training pytorch describe job-d2\n"), "{run}");
}

#[test]
fn a_2_19_era_cli_is_refused_before_anything_is_synced_or_submitted() {
    let (env, server) = setup_with(RUNAI_V2_219);
    let run = env.run(&["-n", "job-old"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("v2 without --env-secret") && run.stderr.contains("RUNAI_CLI=v1"), "{run}");
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
    assert_eq!(env.kubectl_calls(), 0);
    assert!(env.runai_calls().is_empty(), "{:?}", env.runai_calls());
    assert_eq!(env.runai_probes(), 1);
    assert!(run.stdout.is_empty(), "{run}");
}
