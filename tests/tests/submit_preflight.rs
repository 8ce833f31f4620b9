//! The check before a submission, with the real kubectl against the fake
//! API server: a wrong scratch claim or a job name that already has pods
//! stops `submit` before the Secret is synced and before runai runs; a
//! free name with its claim goes through with two kubectl processes.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use nb_tests::daily::{pod, running};
use nb_tests::fake_apiserver::{FakeApiServer, PodState};
use nb_tests::submit_harness::{SubmitEnv, V1_CHOICE};
use serde_json::json;

const RUNAI_DOUBLE: &str = env!("CARGO_BIN_EXE_runai");
const NAMESPACE: &str = "runai-mlo-ada";

const ENV: &str = "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE=runai-mlo-ada\nRUNAI_IMAGE=reg.example/img:1\n\
RUNAI_SECRET_NAME=ada-env\nSCRATCH_PVC=mlo-scratch\nHF_TOKEN=hf_secret_value\n";

/// A room and a server whose namespace has two claims, the scratch one among them.
fn setup() -> (SubmitEnv, FakeApiServer) {
    let server = FakeApiServer::start().unwrap();
    server.add_pvc(NAMESPACE, "mlo-scratch");
    server.add_pvc(NAMESPACE, "home-ada");
    let mut env = SubmitEnv::new(Path::new(RUNAI_DOUBLE));
    env.use_apiserver(&server, NAMESPACE);
    env.count_kubectl_calls();
    env.write_env(ENV);
    (env, server)
}

fn assert_nothing_submitted(env: &SubmitEnv, server: &FakeApiServer) {
    assert!(server.patches().is_empty(), "the Secret was applied: {:#?}", server.patches());
    assert!(env.runai_calls().is_empty(), "runai ran: {:?}", env.runai_argvs());
    assert_eq!(env.kubectl_calls(), 1, "only the check's kubectl should have run");
}

#[test]
fn a_misspelt_scratch_claim_is_refused_with_the_claims_that_exist() {
    let (env, server) = setup();
    let run = env.run(&["-n", "job-1", "--pvc", "mlo-scracth"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr.strip_prefix(V1_CHOICE).unwrap_or(&run.stderr),
        "submit: the scratch PVC mlo-scracth does not exist in namespace runai-mlo-ada (the claims there are: \
         home-ada, mlo-scratch); fix SCRATCH_PVC in your .env or pass --pvc; nothing was submitted\n"
    );
    assert!(run.stdout.is_empty(), "{run}");
    assert_nothing_submitted(&env, &server);
    let lists: Vec<String> = server.requests().iter().map(|r| r.path().to_owned()).collect();
    assert!(lists.contains(&format!("/api/v1/namespaces/{NAMESPACE}/persistentvolumeclaims")), "{lists:?}");
}

#[test]
fn a_taken_job_name_is_refused_with_its_state_and_the_delete_command() {
    let (env, server) = setup();
    server.set_pod(NAMESPACE, "job-2-0-0", "reg.example/img:1", &PodState::Running);
    // Another job whose name merely starts with ours does not count.
    server.set_pod(NAMESPACE, "job-2-1-0-0", "reg.example/img:1", &PodState::Running);
    let run = env.run(&["-n", "job-2"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr.strip_prefix(V1_CHOICE).unwrap_or(&run.stderr),
        "submit: a job named job-2 already exists in namespace runai-mlo-ada: job-2-0-0 (Running on gpu-node-7); \
         pick another name with -n, or delete it first: runai delete job job-2; nothing was submitted\n"
    );
    assert_nothing_submitted(&env, &server);
}

/// The pre-flight finds a job as `submit list` does: by its pods' labels
/// too, not by their names alone.
#[test]
fn a_job_known_by_its_pods_labels_is_refused_as_list_shows_it() {
    let (env, server) = setup();
    let labelled = |name: &str, labels| pod(name, labels, 600, Some("train"), running(500));
    server.put_pod_object(NAMESPACE, labelled("v2job-7f9c2", json!({"workloadName": "v2job"})), &[]);
    server.put_pod_object(NAMESPACE, labelled("v1job-x1", json!({"release": "v1job"})), &[]);
    for job in ["v2job", "v1job"] {
        assert!(env.run(&["list"]).stdout.lines().any(|l| l.starts_with(&format!("{job} "))), "{job} not listed");
        let before = env.kubectl_calls();
        let run = env.run(&["-n", job]);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(
            run.stderr.contains(&format!("submit: a job named {job} already exists in namespace {NAMESPACE}: {job}-")),
            "{run}"
        );
        assert!(run.stderr.ends_with("nothing was submitted\n"), "{run}");
        assert_eq!(env.kubectl_calls(), before + 1, "{run}");
    }
    assert!(server.patches().is_empty(), "the Secret was applied: {:#?}", server.patches());
    assert!(env.runai_calls().is_empty(), "runai ran: {:?}", env.runai_argvs());
}

#[test]
fn a_free_name_with_its_claim_is_checked_once_then_submitted() {
    let (env, server) = setup();
    server.set_pod(NAMESPACE, "job-3-1-0-0", "reg.example/img:1", &PodState::Running);
    let run = env.run(&["-n", "job-3"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(env.kubectl_calls(), 2, "one check, one apply");
    assert_eq!(env.runai_calls().len(), 1);
    let requests = server.requests();
    let listed = requests.iter().position(|r| r.path().ends_with("/pods")).unwrap();
    let patched = requests.iter().position(|r| r.method == "PATCH").unwrap();
    assert!(listed < patched, "the check ran after the apply");
}

#[test]
fn no_preflight_submits_without_looking() {
    let (env, server) = setup();
    let run = env.run(&["-n", "job-4", "--pvc", "mlo-scracth", "--no-preflight"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(env.kubectl_calls(), 1, "only the apply");
    assert!(!server.requests().iter().any(|r| r.path().ends_with("/persistentvolumeclaims")));
    assert_eq!(env.runai_calls().len(), 1);
}

#[test]
fn a_dry_run_checks_nothing_in_the_cluster() {
    let (env, server) = setup();
    let run = env.run(&["-n", "job-5", "--pvc", "mlo-scracth", "--dry-run"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(env.kubectl_calls(), 0);
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
}

#[test]
fn a_failing_check_stops_the_submission_with_kubectls_words() {
    let (env, server) = setup();
    env.install_script(
        "kubectl",
        "#!/bin/sh\necho 'error: You must be logged in to the server (Unauthorized)' >&2\nexit 1\n",
    );
    let run = env.run(&["-n", "job-6"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr.strip_prefix(V1_CHOICE).unwrap_or(&run.stderr),
        "submit: kubectl could not list the claims and pods of namespace runai-mlo-ada (exit status 1): the cluster \
         refused the login: run `runai login`; nothing was submitted (--no-preflight skips this check):\n\
         error: You must be logged in to the server (Unauthorized)\n"
    );
    assert!(server.requests().is_empty());
    assert!(env.runai_calls().is_empty());
}

#[test]
fn an_unreachable_server_is_named_without_kubectls_retry_lines() {
    let (env, server) = setup();
    let address = server.url().trim_start_matches("http://").to_owned();
    drop(server);
    let run = env.run(&["-n", "job-7"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr.strip_prefix(V1_CHOICE).unwrap_or(&run.stderr),
        format!(
            "submit: kubectl could not list the claims and pods of namespace runai-mlo-ada (exit status 1): cannot \
             reach the cluster's API server at {address}: check your VPN or network, and that KUBECONFIG points at \
             the right cluster; nothing was submitted (--no-preflight skips this check):\n\
             The connection to the server {address} was refused - did you specify the right host or port?\n"
        )
    );
    assert!(env.runai_calls().is_empty());
}
