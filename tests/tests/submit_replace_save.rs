//! Nothing lost on delete, and `submit --replace`, with the real kubectl
//! against the fake API server and the runai doubles of both dialects
//! (which enforce the delete grammars and make the fake remove the deleted
//! job's pods after a grace period): `delete` and `clean` keep each job's
//! log and status in the XDG state directory first, owner-only, and say
//! where; `--no-save` keeps nothing; a copy that cannot be made deletes
//! nothing; `logs` of a deleted job reads the kept copy; `--replace`
//! keeps, deletes and waits out a finished job before it submits, refuses
//! a running one, and with `--dry-run` only says so.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nb_tests::daily::{ENV, NAMESPACE};
use nb_tests::fake_apiserver::FakeApiServer;
use nb_tests::submit_harness::{Run, SubmitEnv};
use serde_json::{Value, json};

const V1: &str = env!("CARGO_BIN_EXE_runai");
const V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");

/// A pod of run:ai's shape in `phase`, its one container `main` having
/// restarted `restarts` times.
fn pod(name: &str, labels: Value, phase: &str, exit_code: Option<i32>, restarts: u64) -> Value {
    let state = match exit_code {
        Some(code) => {
            json!({"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }}})
        }
        None => json!({"running": {"startedAt": "2026-01-01T12:00:05Z"}}),
    };
    let last = match restarts {
        0 => json!({}),
        _ => json!({"terminated": {"exitCode": 137, "reason": "Error"}}),
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "uid": format!("uid-{name}"),
                     "creationTimestamp": "2026-01-01T12:00:00Z"},
        "spec": {"nodeName": "gpu-node-7", "restartPolicy": "Never",
                 "containers": [{"name": "main", "image": "reg.example/img:1"}]},
        "status": {"phase": phase, "containerStatuses": [{"name": "main", "restartCount": restarts,
                   "state": state, "lastState": last}]}
    })
}

/// A succeeded v1-labelled job, a failed job that restarted once, a
/// succeeded csub.py job whose pod was recreated, and a running job.
fn fill(server: &FakeApiServer) {
    let put = |object: Value, log: &[&str]| server.put_pod_object(NAMESPACE, object, log);
    put(pod("train-ok-0-0", json!({"release": "train-ok"}), "Succeeded", Some(0), 0), &["epoch 1", "epoch 2", "done"]);
    put(pod("retried-0-0", json!({}), "Failed", Some(3), 1), &["try again", "boom"]);
    put(pod("csub-old-0-0", json!({}), "Failed", Some(1), 0), &["first try"]);
    put(pod("csub-old-1-0", json!({}), "Succeeded", Some(0), 0), &["second try"]);
    put(pod("busy-0-0", json!({"workloadName": "busy"}), "Running", None, 0), &["working"]);
    server.add_pvc(NAMESPACE, "mlo-scratch");
}

/// A room whose state directory is `$XDG_STATE_HOME` (else the default
/// under HOME), against a filled fake cluster.
fn setup(runai: &str, xdg: bool) -> (SubmitEnv, FakeApiServer, PathBuf) {
    let server = FakeApiServer::start().unwrap();
    fill(&server);
    let mut env = SubmitEnv::new(Path::new(runai));
    env.use_apiserver(&server, NAMESPACE);
    env.count_kubectl_calls();
    env.write_env(ENV);
    let state = match xdg {
        true => {
            let state = env.root().join("xdg-state");
            env.set_env("XDG_STATE_HOME", &state.display().to_string());
            state.join("submit")
        }
        false => env.home.join(".local/state/submit"),
    };
    (env, server, state)
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

/// The folders kept for `job`, oldest first.
fn copies(state: &Path, job: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> =
        fs::read_dir(state.join("jobs").join(job)).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    found.sort();
    found
}

/// The one copy of `job`, checked owner-only from the state directory down.
fn the_copy(state: &Path, job: &str, run: &Run) -> PathBuf {
    let found = copies(state, job);
    assert_eq!(found.len(), 1, "copies of {job}: {found:?}\n{run}");
    let dir = found[0].clone();
    let stamp = dir.file_name().unwrap().to_str().unwrap();
    assert!(stamp.len() == 16 && stamp.starts_with("20") && stamp.ends_with('Z'), "{stamp}");
    for folder in [state.to_owned(), state.join("jobs"), state.join("jobs").join(job), dir.clone()] {
        assert_eq!(mode(&folder), 0o700, "{}", folder.display());
    }
    for file in fs::read_dir(&dir).unwrap().flatten() {
        assert_eq!(mode(&file.path()), 0o600, "{}", file.path().display());
    }
    assert!(run.stderr.contains(&format!("submit: kept the log and status of {job} in {}\n", dir.display())), "{run}");
    dir
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names_in(pods_json: &Path) -> Vec<String> {
    let list: Value = serde_json::from_str(&read(pods_json)).unwrap();
    list["items"].as_array().unwrap().iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_owned()).collect()
}

fn runai_lines(env: &SubmitEnv) -> Vec<String> {
    env.runai_argvs().into_iter().map(|a| a.join(" ")).collect()
}

/// When the runai double ran each call, as Unix time.
fn runai_times(env: &SubmitEnv) -> Vec<SystemTime> {
    env.runai_calls()
        .iter()
        .map(|c| UNIX_EPOCH + Duration::from_nanos(c["unix_nanos"].as_str().unwrap().parse().unwrap()))
        .collect()
}

/// Until the fake has removed every pod of each deleted job.
fn wait_until_gone(server: &FakeApiServer) {
    let until = Instant::now() + Duration::from_secs(10);
    while server.deleted_jobs().iter().any(|(_, gone)| gone.is_none()) {
        assert!(Instant::now() < until, "pods still there: {:?}", server.deleted_jobs());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn delete_keeps_every_pods_log_and_status_first_and_says_where() {
    for (double, xdg, deletes) in [
        (
            V1,
            true,
            ["delete job train-ok -p mlo-ada", "delete job retried -p mlo-ada", "delete job csub-old -p mlo-ada"],
        ),
        (
            V2_22X,
            false,
            [
                "workload delete -y -p mlo-ada train-ok",
                "workload delete -y -p mlo-ada retried",
                "workload delete -y -p mlo-ada csub-old",
            ],
        ),
    ] {
        let (env, server, state) = setup(double, xdg);
        let run = env.run(&["delete", "train-ok", "retried", "csub-old"]);
        assert_eq!(run.code, Some(0), "{run}");
        assert_eq!(runai_lines(&env), deletes, "{run}");

        let dir = the_copy(&state, "train-ok", &run);
        assert_eq!(read(&dir.join("train-ok-0-0.log")), "epoch 1\nepoch 2\ndone\n");
        assert_eq!(names_in(&dir.join("pods.json")), ["train-ok-0-0"]);
        let status = read(&dir.join("status.txt"));
        let stamp = dir.file_name().unwrap().to_str().unwrap();
        assert!(
            status.starts_with(&format!(
                "job train-ok in namespace runai-mlo-ada (project mlo-ada)\ndeleted at {stamp} by submit delete\n\
                 state: succeeded\n"
            )),
            "{status}"
        );
        let pod = "\npod train-ok-0-0 (created 2026-01-01T12:00:00Z, gpu-node-7): finished (exit code 0)\n  \
                   container main: ended with exit code 0 (Completed)\n  log: train-ok-0-0.log\n";
        assert!(status.contains(pod), "{status}");

        // A restarted container: its previous run too.
        let dir = the_copy(&state, "retried", &run);
        let files: Vec<String> =
            fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
        let mut files = files;
        files.sort();
        assert_eq!(files, ["pods.json", "retried-0-0.log", "retried-0-0.main.previous.log", "status.txt"]);
        assert_eq!(read(&dir.join("retried-0-0.log")), "try again\nboom\n");
        assert!(read(&dir.join("status.txt")).contains("1 restart(s), the previous run ended with 137"));

        // The pod that was replaced is kept too.
        let dir = the_copy(&state, "csub-old", &run);
        assert_eq!(names_in(&dir.join("pods.json")), ["csub-old-0-0", "csub-old-1-0"]);
        assert_eq!(read(&dir.join("csub-old-0-0.log")), "first try\n");
        assert_eq!(read(&dir.join("csub-old-1-0.log")), "second try\n");

        // One listing, one logs process per pod, one for the previous run.
        assert_eq!(env.kubectl_calls(), 1 + 4 + 1, "{run}");
        let logs = server.requests().into_iter().filter(|r| r.path().ends_with("/log")).collect::<Vec<_>>();
        let previous: Vec<_> =
            logs.iter().filter(|r| r.query().contains(&("previous".into(), "true".into()))).collect();
        assert_eq!(previous.len(), 1, "{logs:#?}");
        // Every copy is made before the first delete.
        let first_delete = runai_times(&env)[0];
        assert!(logs.iter().all(|r| r.received_at < first_delete), "a log was read after a delete\n{run}");
        let kept = run.stderr.rfind("submit: kept the log").unwrap();
        assert!(kept < run.stderr.find("submit: running: runai").unwrap(), "{run}");
        assert!(run.stderr.contains("submit: deleted the job train-ok (pod train-ok-0-0)\n"), "{run}");
    }
}

#[test]
fn delete_with_no_save_keeps_nothing() {
    let (env, _server, state) = setup(V1, true);
    let run = env.run(&["delete", "train-ok", "--no-save"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(runai_lines(&env), ["delete job train-ok -p mlo-ada"], "{run}");
    assert!(!state.exists(), "{} was made\n{run}", state.display());
    assert!(!run.stderr.contains("kept"), "{run}");
    assert_eq!(env.kubectl_calls(), 1, "{run}");
}

#[test]
fn logs_of_a_deleted_job_read_the_kept_copy_and_say_so() {
    for double in [V1, V2_22X] {
        let (env, server, state) = setup(double, true);
        let run = env.run(&["delete", "train-ok"]);
        assert_eq!(run.code, Some(0), "{run}");
        let dir = the_copy(&state, "train-ok", &run);
        wait_until_gone(&server);
        let said = format!(
            "submit: the job train-ok is no longer in namespace runai-mlo-ada: this is its log as kept when it was \
             deleted, from {}\n",
            dir.display()
        );
        let run = env.run(&["logs", "train-ok"]);
        assert_eq!(
            (run.code, run.stdout.as_str(), run.stderr.as_str()),
            (Some(0), "epoch 1\nepoch 2\ndone\n", said.as_str()),
            "{run}"
        );
        let run = env.run(&["logs", "train-ok", "--tail", "1"]);
        assert_eq!((run.code, run.stdout.as_str()), (Some(0), "done\n"), "{run}");
        // A name never kept is still unknown.
        let run = env.run(&["logs", "nope"]);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (Some(1), "submit: no job named nope in namespace runai-mlo-ada (`submit list` shows its jobs)\n"),
            "{run}"
        );
    }
}

#[test]
fn a_copy_that_cannot_be_made_deletes_nothing() {
    for double in [V1, V2_22X] {
        // The state folder is a file; then a symlink to somewhere else.
        let (env, _server, state) = setup(double, true);
        fs::create_dir_all(state.parent().unwrap()).unwrap();
        fs::write(&state, "not a folder").unwrap();
        let run = env.run(&["delete", "train-ok"]);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(
            run.stderr.ends_with(&format!(
                "submit: cannot keep the log and status of the job train-ok before deleting it: cannot make the \
                 folder {0}: {0} is not a directory; nothing was deleted (--no-save deletes without keeping them)\n",
                state.display()
            )),
            "{run}"
        );
        assert!(runai_lines(&env).is_empty(), "{:?}", runai_lines(&env));

        fs::remove_file(&state).unwrap();
        let elsewhere = env.root().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &state).unwrap();
        let run = env.run(&["clean"]);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(run.stderr.contains("is not a directory; nothing was deleted"), "{run}");
        assert!(runai_lines(&env).is_empty(), "{:?}", runai_lines(&env));
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0, "a symlink was followed");
    }
}

#[test]
fn clean_keeps_each_job_before_deleting_it() {
    for (double, verb) in [(V1, "delete job"), (V2_22X, "workload delete -y -p mlo-ada")] {
        let (env, _server, state) = setup(double, false);
        let run = env.run(&["clean", "--failed"]);
        assert_eq!(run.code, Some(0), "{run}");
        let deleted = runai_lines(&env);
        assert_eq!(deleted.len(), 3, "{deleted:?}");
        assert!(deleted.iter().all(|d| d.starts_with(verb)), "{deleted:?}");
        for job in ["train-ok", "retried", "csub-old"] {
            let dir = the_copy(&state, job, &run);
            assert!(read(&dir.join("status.txt")).contains(" by submit clean\n"), "{job}");
        }
        assert!(copies(&state, "busy").is_empty(), "a running job was kept, so touched");
        assert!(!deleted.iter().any(|d| d.contains("busy")), "{deleted:?}");
    }
}

/// `submit --replace -n NAME` of a training job, the Secret synced.
fn replace_args(name: &str) -> Vec<String> {
    ["--replace", "-n", name, "--train", "-c", "python train.py"].iter().map(|s| (*s).to_owned()).collect()
}

fn run_with(env: &SubmitEnv, args: &[String], more: &[&str]) -> Run {
    let all: Vec<&str> = args.iter().map(String::as_str).chain(more.iter().copied()).collect();
    env.run(&all)
}

#[test]
fn replace_of_a_finished_job_keeps_deletes_and_waits_before_it_submits() {
    for (double, delete, submit) in [
        (V1, "delete job train-ok -p mlo-ada", "submit --name train-ok "),
        (V2_22X, "workload delete -y -p mlo-ada train-ok", "training submit train-ok "),
    ] {
        let (env, server, state) = setup(double, true);
        let run = run_with(&env, &replace_args("train-ok"), &[]);
        assert_eq!(run.code, Some(0), "{run}");
        let calls = runai_lines(&env);
        assert_eq!(calls.len(), 2, "{calls:?}");
        assert_eq!(calls[0], delete, "{run}");
        assert!(calls[1].starts_with(submit), "{calls:?}");
        // The submission came after the last pod of the old job went.
        let gone = server.deleted_jobs();
        assert_eq!(gone.len(), 1, "{gone:?}");
        let (job, when) = &gone[0];
        assert_eq!(job, "train-ok");
        assert!(when.unwrap() < runai_times(&env)[1], "submitted before the old pods were gone\n{run}");
        let dir = the_copy(&state, "train-ok", &run);
        assert_eq!(read(&dir.join("train-ok-0-0.log")), "epoch 1\nepoch 2\ndone\n");
        assert!(read(&dir.join("status.txt")).contains(" by submit --replace\n"));
        let lines: Vec<&str> = run.stderr.lines().collect();
        let at = |prefix: &str| {
            lines.iter().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?}\n{run}"))
        };
        let order = [
            at("submit: synced the Secret ada-env"),
            at("submit: --replace: replacing the job train-ok (succeeded; pod train-ok-0-0)"),
            at("submit: kept the log and status of train-ok in "),
            at("submit: deleted the job train-ok (pod train-ok-0-0)"),
            at(&format!(
                "submit: waiting for the pods of train-ok to be gone: kubectl wait --for=delete --namespace \
                 {NAMESPACE} --timeout=900s pod/train-ok-0-0"
            )),
            at("submit: the pods of train-ok are gone"),
            at(&format!("submit: running: runai {submit}")),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{run}");
        // The check, the apply, one log, the wait.
        assert_eq!(env.kubectl_calls(), 4, "{run}");
    }
}

#[test]
fn replace_of_a_running_job_is_refused_naming_submit_delete() {
    for double in [V1, V2_22X] {
        let (env, server, state) = setup(double, true);
        let run = run_with(&env, &replace_args("busy"), &[]);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(
            run.stderr.ends_with(
                " in namespace runai-mlo-ada (pods busy-0-0): --replace replaces only a finished job; stop it first \
                 with `submit delete busy`, or pick another name with -n; nothing was submitted\n"
            ),
            "{run}"
        );
        assert!(run.stderr.contains("a job named busy is still running"), "{run}");
        assert!(runai_lines(&env).is_empty(), "{:?}", runai_lines(&env));
        assert!(server.patches().is_empty(), "the Secret was synced");
        assert!(server.deleted_jobs().is_empty());
        assert!(!state.exists(), "{run}");
        assert_eq!(env.kubectl_calls(), 1, "{run}");
    }
}

#[test]
fn replace_dry_run_says_what_it_would_delete_and_prints_the_commands() {
    for (double, delete, submit) in [
        (V1, "runai delete job train-ok -p mlo-ada", "runai submit --name train-ok "),
        (V2_22X, "runai workload delete -y -p mlo-ada train-ok", "runai training submit train-ok "),
    ] {
        let (env, server, state) = setup(double, true);
        let run = run_with(&env, &replace_args("train-ok"), &["--dry-run"]);
        assert_eq!(run.code, Some(0), "{run}");
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{run}");
        assert_eq!(lines[0], delete, "{run}");
        assert_eq!(
            lines[1],
            format!("kubectl wait --for=delete --namespace {NAMESPACE} --timeout=900s pod/train-ok-0-0")
        );
        assert!(lines[2].starts_with(submit), "{run}");
        assert!(
            run.stderr.contains(&format!(
                "submit: dry run: --replace would keep its log and status in {}/, delete the job train-ok \
                 (succeeded; pod train-ok-0-0) and wait until its pods are gone, then submit\n",
                state.join("jobs/train-ok").display()
            )),
            "{run}"
        );
        assert!(runai_lines(&env).is_empty(), "{:?}", runai_lines(&env));
        assert!(server.deleted_jobs().is_empty() && server.patches().is_empty());
        assert!(!state.exists(), "{run}");
        // A free name: only the submission.
        let run = run_with(&env, &replace_args("fresh"), &["--dry-run"]);
        assert_eq!((run.code, run.stdout.lines().count()), (Some(0), 1), "{run}");
    }
}

#[test]
fn replace_gives_up_when_the_old_pods_do_not_go() {
    let (env, server, _state) = setup(V1, true);
    server.keep_pods_of_deleted_jobs();
    let run = run_with(&env, &replace_args("train-ok"), &["--wait-timeout", "2s"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains(
            "submit: the pods of train-ok were not gone after 2s (kubectl wait: exit status 1: error: timed out \
             waiting for the condition on pods/train-ok-0-0); the job was deleted, nothing was submitted: submit \
             again once `submit list` no longer shows it (--wait-timeout waits longer)\n"
        ),
        "{run}"
    );
    assert_eq!(runai_lines(&env), ["delete job train-ok -p mlo-ada"], "{run}");
}

#[test]
fn ctrl_c_during_the_wait_submits_nothing_and_leaves_no_kubectl() {
    let (env, server, _state) = setup(V1, true);
    server.keep_pods_of_deleted_jobs();
    let args = replace_args("train-ok");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = env.command(&args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn();
    let child = child.unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    while server.deleted_jobs().is_empty() {
        assert!(Instant::now() < until, "no delete");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.ends_with("submit: interrupted: train-ok deleted, nothing was submitted\n"), "{stderr}");
    assert_eq!(runai_lines(&env), ["delete job train-ok -p mlo-ada"], "{stderr}");
    let kubeconfig = format!("KUBECONFIG={}", env.home.join(".kube/config").display());
    assert!(nb_tests::submit_harness::processes_with_env(&kubeconfig).is_empty(), "a kubectl was left running");
}

#[test]
fn clean_and_replace_with_no_save_keep_nothing() {
    let (env, _server, state) = setup(V1, true);
    let run = env.run(&["clean", "--no-save"]);
    assert_eq!(run.code, Some(0), "{run}");
    let mut deleted = runai_lines(&env);
    deleted.sort();
    assert_eq!(deleted, ["delete job csub-old -p mlo-ada", "delete job train-ok -p mlo-ada"], "{run}");
    assert!(!state.exists(), "{} was made\n{run}", state.display());
    assert!(!run.stderr.contains("kept"), "{run}");
    assert_eq!(env.kubectl_calls(), 1, "{run}");

    let (env, _server, state) = setup(V2_22X, true);
    let run = run_with(&env, &replace_args("train-ok"), &["--no-save"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(runai_lines(&env)[0], "workload delete -y -p mlo-ada train-ok", "{run}");
    assert!(!state.exists(), "{} was made\n{run}", state.display());
    assert!(!run.stderr.contains("kept"), "{run}");
    // The check, the apply, the wait: no log read.
    assert_eq!(env.kubectl_calls(), 3, "{run}");
}
