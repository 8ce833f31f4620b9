//! The failure cases of every subcommand after a submission (`list`,
//! `logs`, `shell`, `port-forward`, `delete`, `clean`), each with every runai
//! double (v1, v2 of the 2.19 era, v2 2.2x): an unknown job, a cluster that
//! does not answer, and a runai that fails. Real kubectl against the fake
//! API server; the runai doubles enforce the documented delete grammars.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use nb_tests::daily::{NAMESPACE, ended, pod, room, running};
use nb_tests::fake_apiserver::FakeApiServer;
use nb_tests::submit_harness::SubmitEnv;
use serde_json::json;

const V1: &str = env!("CARGO_BIN_EXE_runai");
const V2_219: &str = env!("CARGO_BIN_EXE_runai-v2-219");
const V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");
const DIALECTS: [&str; 3] = [V1, V2_219, V2_22X];

/// A succeeded job, a failed one and a running one.
fn fill(server: &FakeApiServer) {
    let put = |name: &str, created_ago, status| {
        server.put_pod_object(NAMESPACE, pod(name, json!({}), created_ago, Some("train"), status), &["a line"]);
    };
    put("train-ok-0-0", 5 * 3600, ended(0, "Completed"));
    put("failed-job-0-0", 3 * 3600, ended(3, "Error"));
    put("nb-running-0-0", 600, running(600));
}

fn runai_lines(env: &SubmitEnv) -> Vec<String> {
    env.runai_argvs().into_iter().map(|a| a.join(" ")).collect()
}

#[test]
fn an_unknown_job_is_said_by_every_command_and_nothing_is_deleted() {
    let unknown = format!("submit: no job named nope in namespace {NAMESPACE} (`submit list` shows its jobs)\n");
    let nothing = format!(
        "submit: no job or sweep named nope in namespace {NAMESPACE} (`submit list` shows them); nothing was deleted\n"
    );
    for double in DIALECTS {
        let (env, _server) = room(double, fill);
        for (args, stderr) in [
            (&["logs", "nope"][..], &unknown),
            (&["logs", "nope", "-f"], &unknown),
            (&["shell", "nope"], &unknown),
            (&["port-forward", "nope", "8888"], &unknown),
            (&["delete", "nope"], &nothing),
            (&["delete", "--no-save", "train-ok", "nope"], &nothing),
            (&["clean", "nope"], &nothing),
        ] {
            let run = env.run(args);
            assert_eq!(run.code, Some(1), "{double} {args:?}\n{run}");
            assert!(run.stderr.ends_with(stderr.as_str()), "{double} {args:?}\n{run}");
            assert!(!run.stderr.contains("panicked"), "{run}");
        }
        assert_eq!(runai_lines(&env), Vec::<String>::new(), "{double}: runai deleted");
    }
}

#[test]
fn an_unreachable_cluster_is_said_by_every_command_and_runai_never_runs() {
    for double in DIALECTS {
        let (env, server) = room(double, fill);
        drop(server);
        for args in [
            &["list"][..],
            &["list", "-o", "json"],
            &["list", "--watch"],
            &["logs", "train-ok"],
            &["logs", "train-ok", "-f"],
            &["shell", "nb-running"],
            &["port-forward", "nb-running", "8888"],
            &["delete", "train-ok"],
            &["clean"],
            &["clean", "--failed", "--dry-run"],
        ] {
            let mut args = args.to_vec();
            args.extend(["--kubectl-timeout", "5s"]);
            let run = env.run(&args);
            assert_eq!(run.code, Some(1), "{double} {args:?}\n{run}");
            let said = format!("submit: kubectl could not list the pods of namespace {NAMESPACE} (exit status 1):\n");
            let watch = "submit: kubectl stopped watching the pods (exit status 1):\n";
            assert!(run.stderr.contains(&said) || run.stderr.contains(watch), "{double} {args:?}\n{run}");
            assert!(run.stderr.contains("was refused"), "{double} {args:?}\n{run}");
        }
        assert_eq!(runai_lines(&env), Vec::<String>::new(), "{double}: runai ran without a cluster");
    }
}

#[test]
fn a_failing_runai_is_said_in_its_own_words_by_delete_and_clean_in_each_dialect() {
    let v2 = "workload delete -y -p mlo-ada";
    for (double, verb) in [(V1, "delete job"), (V2_219, v2), (V2_22X, v2)] {
        let (mut env, _server) = room(double, fill);
        env.set_env("RUNAI_DOUBLE_DELETE_EXIT", "1");
        let run = env.run(&["delete", "--no-save", "train-ok"]);
        assert_eq!(run.code, Some(1), "{double}\n{run}");
        assert!(
            run.stderr
                .contains("submit: runai could not delete the job train-ok (exit status 1):\nError: workload train-ok"),
            "{double}\n{run}"
        );
        assert!(run.stderr.ends_with("submit: could not delete train-ok\n"), "{double}\n{run}");
        assert!(!run.stderr.contains("submit: deleted"), "{double}\n{run}");

        // A failed delete does not stop the next; the exit code says it.
        let run = env.run(&["clean", "--no-save", "--failed"]);
        assert_eq!(run.code, Some(1), "{double}\n{run}");
        for job in ["failed-job", "train-ok"] {
            assert!(
                run.stderr.contains(&format!("submit: runai could not delete the job {job} (exit status 1):\n")),
                "{double}\n{run}"
            );
        }
        assert!(run.stderr.ends_with("submit: could not delete failed-job, train-ok\n"), "{double}\n{run}");
        let lines = runai_lines(&env);
        assert_eq!(lines.len(), 3, "{double}: {lines:?}");
        assert!(lines.iter().all(|l| l.starts_with(verb)), "{double}: {lines:?}");
        assert!(!lines.iter().any(|l| l.contains("nb-running")), "{double}: a running job was deleted: {lines:?}");
    }
}
