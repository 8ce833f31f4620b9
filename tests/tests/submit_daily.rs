//! The subcommands after a submission (`list`, `logs`, `delete`, `clean`)
//! with the real kubectl against the fake API server, holding pods in every
//! phase (v1-labelled, v2-labelled, and named only, as csub.py's), and the
//! runai doubles of both dialects enforcing the documented delete grammars.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use nb_tests::daily::{ENV, NAMESPACE, ended, pod, room, running, waiting};
use nb_tests::fake_apiserver::FakeApiServer;
use nb_tests::submit_harness::{Run, SubmitEnv};
use serde_json::{Value, json};

const V1: &str = env!("CARGO_BIN_EXE_runai");
const V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");
const NO_GPU: &str = "0/12 nodes are available: 12 Insufficient nvidia.com/gpu.";

/// Every state a job can be in, one job each, plus a distributed job and
/// a csub.py job whose pod was recreated.
fn fill(server: &FakeApiServer) {
    let put = |object: Value, log: &[&str]| server.put_pod_object(NAMESPACE, object, log);
    put(
        pod("train-ok-0-0", json!({"release": "train-ok"}), 5 * 3600, Some("train"), ended(0, "Completed")),
        &["epoch 1", "epoch 2", "done"],
    );
    put(
        pod("nb-running-0-0", json!({"release": "nb-running"}), 8400, Some("interactive"), running(7980)),
        &["jupyter up"],
    );
    put(
        pod(
            "pending-job-0-0",
            json!({}),
            60,
            Some("train"),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable", "message": NO_GPU}]}),
        ),
        &[],
    );
    put(pod("pulling-job-0-0", json!({}), 120, Some("interactive"), waiting("ContainerCreating")), &[]);
    put(pod("stuck-job-0-0", json!({}), 180, Some("interactive"), waiting("ImagePullBackOff")), &[]);
    put(pod("failed-job-0-0", json!({}), 3 * 3600, Some("train"), ended(3, "Error")), &["Traceback", "boom"]);
    let mut preempted = ended(137, "Error");
    preempted["conditions"] =
        json!([{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}]);
    put(pod("v2-preempted-7f9c2", json!({"workloadName": "v2-preempted"}), 4 * 3600, Some("train"), preempted), &[]);
    let mut evicted = ended(137, "Error");
    evicted["reason"] = "Evicted".into();
    put(pod("evicted-job-0-0", json!({}), 6 * 3600, Some("train"), evicted), &[]);
    for (role, log) in [("master-0", "master says hi"), ("worker-0", "worker 0 here"), ("worker-1", "worker 1 here")] {
        put(pod(&format!("dist-{role}"), json!({}), 7200, Some("distributed:3"), running(7000)), &[log]);
    }
    put(pod("csub-old-0-0", json!({}), 9 * 3600, None, ended(1, "Error")), &[]);
    put(pod("csub-old-1-0", json!({}), 8 * 3600, None, ended(0, "Completed")), &["csub done"]);
}

fn setup(runai: &str) -> (SubmitEnv, FakeApiServer) {
    room(runai, fill)
}

fn runai_deletes(env: &SubmitEnv) -> Vec<String> {
    env.runai_argvs().into_iter().map(|a| a.join(" ")).collect()
}

fn line_of<'a>(run: &'a Run, job: &str) -> &'a str {
    run.stdout.lines().find(|l| l.starts_with(&format!("{job} "))).unwrap_or_else(|| panic!("no {job} line\n{run}"))
}

#[test]
fn list_shows_each_job_once_newest_first_in_80_columns_from_one_request() {
    let (env, _server) = setup(V1);
    let run = env.run(&["list"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(env.kubectl_calls(), 1, "{run}");
    let names: Vec<&str> = run.stdout.lines().skip(1).map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "pending-job",
            "pulling-job",
            "stuck-job",
            "dist",
            "nb-running",
            "failed-job",
            "v2-preempted",
            "train-ok",
            "evicted-job",
            "csub-old"
        ],
        "{run}"
    );
    assert!(run.stdout.starts_with("NAME "), "{run}");
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "{line:?} is wider than 80\n{run}");
    }
    assert!(!run.stdout.contains('\x1b'), "colour on a pipe\n{run}");
    let ends = |job: &str, tail: &str| {
        let line = line_of(&run, job);
        assert!(line.ends_with(tail), "{job}: {line:?} does not end in {tail:?}");
    };
    // Too long for the line: cut, with an ellipsis.
    ends("pending-job", " pending: 12 Insufficient nvidia.…");
    ends("pulling-job", "pulling the image");
    ends("stuck-job", "stuck: ImagePullBackOff");
    ends("failed-job", "failed: exit code 3, Error");
    ends("v2-preempted", "preempted (PreemptionByScheduler)");
    ends("evicted-job", "evicted (Evicted)");
    ends("train-ok", "succeeded");
    ends("csub-old", "succeeded, 1 restart");
    let running = line_of(&run, "nb-running");
    assert!(running.contains(" interactive ") && running.contains(" gpu-node-7 "), "{running}");
    assert!(running.ends_with("running for 2h13m") || running.ends_with("running for 2h14m"), "{running}");
    assert!(line_of(&run, "dist").contains(" dist x3 "), "{run}");
    assert!(line_of(&run, "csub-old").contains(" - "), "{run}");
    // The alias.
    let again = env.run(&["ls"]);
    assert_eq!(again.stdout.lines().count(), run.stdout.lines().count(), "{again}");
}

#[test]
fn list_json_is_an_array_of_the_documented_objects() {
    let (env, _server) = setup(V1);
    let run = env.run(&["list", "-o", "json"]);
    assert_eq!(run.code, Some(0), "{run}");
    let jobs: Vec<Value> = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(jobs.len(), 10, "{run}");
    for job in &jobs {
        let keys: Vec<&str> = job.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "created",
                "exit_code",
                "gpus",
                "kind",
                "name",
                "node",
                "nodes",
                "pods",
                "reason",
                "restarts",
                "state",
                "sweep",
                "sweep_index",
                "sweep_point",
                "sweep_size"
            ]
        );
    }
    let by_name = |name: &str| jobs.iter().find(|j| j["name"] == name).unwrap();
    let dist = by_name("dist");
    assert_eq!((&dist["kind"], &dist["nodes"], &dist["gpus"]), (&json!("distributed"), &json!(3), &json!(3.0)));
    assert_eq!(dist["pods"], json!(["dist-master-0", "dist-worker-0", "dist-worker-1"]));
    let failed = by_name("failed-job");
    assert_eq!(
        (&failed["state"], &failed["exit_code"], &failed["reason"]),
        (&json!("failed"), &json!(3), &json!("Error"))
    );
    assert_eq!(by_name("v2-preempted")["state"], "preempted");
    assert_eq!(by_name("csub-old")["kind"], Value::Null);
    assert_eq!(by_name("csub-old")["pods"], json!(["csub-old-1-0"]));
    assert_eq!(by_name("pending-job")["node"], Value::Null);
}

/// `submit list` with a terminal as its stdout (util-linux `script`).
#[allow(clippy::disallowed_methods, reason = "script gives submit a terminal")]
fn list_on_a_tty(env: &SubmitEnv) -> String {
    let submit = nb_tests::binaries::submit().display().to_string();
    let cmd = env.command(&["list"]);
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &format!("{submit} list"), "/dev/null"]).env_clear().current_dir(&env.project);
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script.env(k, v);
        }
    }
    let out = script.output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn list_colours_states_on_a_terminal_unless_no_color() {
    let (mut env, _server) = setup(V1);
    let coloured = list_on_a_tty(&env);
    assert!(coloured.contains("\x1b[32mrunning for"), "{coloured:?}");
    assert!(coloured.contains("\x1b[31mfailed: exit code 3"), "{coloured:?}");
    env.set_env("NO_COLOR", "1");
    let plain = list_on_a_tty(&env);
    assert!(plain.contains("running for") && !plain.contains("\x1b["), "{plain:?}");
}

#[test]
fn list_of_an_empty_namespace_and_of_an_unreachable_cluster() {
    let server = FakeApiServer::start().unwrap();
    let mut env = SubmitEnv::new(Path::new(V1));
    env.use_apiserver(&server, NAMESPACE);
    env.write_env(ENV);
    let run = env.run(&["list"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), "no jobs in namespace runai-mlo-ada\n"), "{run}");
    let run = env.run(&["list", "-o", "json"]);
    assert_eq!(run.stdout, "[]\n", "{run}");
    drop(server);
    let run = env.run(&["list", "--kubectl-timeout", "5s"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.starts_with("submit: kubectl could not list the pods of namespace runai-mlo-ada (exit status 1):\n"),
        "{run}"
    );
    assert!(run.stderr.contains("was refused"), "{run}");
}

#[test]
fn list_watch_redraws_on_a_change_until_ctrl_c() {
    let (env, server) = setup(V1);
    let mut child = env.command(&["list", "--watch"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    let mut read_until = |done: &dyn Fn(&str) -> bool, seen: &mut Vec<u8>| {
        while !done(&String::from_utf8_lossy(seen)) {
            let n = stdout.read(&mut buf).unwrap();
            assert!(n > 0, "submit ended early:\n{}", String::from_utf8_lossy(seen));
            seen.extend_from_slice(&buf[..n]);
        }
    };
    read_until(&|text| text.contains("csub-old"), &mut seen);
    server.put_pod_object(NAMESPACE, pod("pending-job-0-0", json!({}), 60, Some("train"), running(1)), &[]);
    let started = |text: &str| text.lines().any(|l| l.starts_with("pending-job ") && l.contains("running for"));
    read_until(&started, &mut seen);
    server.delete_pod(NAMESPACE, "train-ok-0-0");
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(130), "{text}");
    let last = text.rsplit("NAME ").next().unwrap();
    assert!(!last.contains("train-ok"), "a deleted job is still listed:\n{text}");
    assert!(text.matches("NAME ").count() >= 3, "a draw per change:\n{text}");
    assert_eq!(env.kubectl_calls(), 1, "one watch, no polling");
}

#[test]
fn logs_of_a_finished_job_a_worker_and_a_tail() {
    let (env, server) = setup(V1);
    let run = env.run(&["logs", "train-ok"]);
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), "epoch 1\nepoch 2\ndone\n"), "{run}");
    let run = env.run(&["logs", "dist"]);
    assert_eq!(run.stdout, "master says hi\n", "{run}");
    let run = env.run(&["logs", "dist", "--worker", "1"]);
    assert_eq!(run.stdout, "worker 1 here\n", "{run}");
    let run = env.run(&["logs", "csub-old", "--tail", "5"]);
    assert_eq!(run.stdout, "csub done\n", "the newest pod's log\n{run}");
    let tailed = server.requests().into_iter().filter(|r| r.path().ends_with("/csub-old-1-0/log")).collect::<Vec<_>>();
    assert!(tailed.iter().any(|r| r.query().contains(&("tailLines".into(), "5".into()))), "{tailed:?}");
}

#[test]
fn logs_of_a_job_that_has_no_log_say_why() {
    let (env, _server) = setup(V1);
    let cases: [(&[&str], &str); 4] = [
        (
            &["logs", "pending-job"],
            "submit: the job pending-job's pod pending-job-0-0 has not started: Pending, waiting for a node: \
             0/12 nodes are available: 12 Insufficient nvidia.com/gpu. (with -f, submit waits for it)\n",
        ),
        (&["logs", "nope"], "submit: no job named nope in namespace runai-mlo-ada (`submit list` shows its jobs)\n"),
        (&["logs", "dist", "--worker", "5"], "submit: the job dist has no worker 5 (its workers: 0, 1)\n"),
        (
            &["logs", "train-ok", "--worker", "0"],
            "submit: the job train-ok has no workers (--worker is for a distributed job)\n",
        ),
    ];
    for (args, stderr) in cases {
        let run = env.run(args);
        assert_eq!((run.code, run.stderr.as_str()), (Some(1), stderr), "{args:?}\n{run}");
    }
}

#[test]
fn logs_follow_waits_for_the_pod_to_start() {
    let (env, server) = setup(V1);
    let child = env
        .command(&["logs", "pending-job", "-f"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    server.put_pod_object(NAMESPACE, pod("pending-job-0-0", json!({}), 60, Some("train"), running(1)), &["step 1"]);
    std::thread::sleep(Duration::from_millis(2500));
    let done = pod("pending-job-0-0", json!({}), 60, Some("train"), ended(0, "Completed"));
    server.put_pod_object(NAMESPACE, done, &["step 1", "step 2"]);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.starts_with("submit: waiting for pending-job-0-0 to start: Pending, waiting for a node"),
        "{stderr}"
    );
    assert!(stdout.starts_with("step 1\n"), "{stdout}");
}

#[test]
fn delete_names_the_project_in_each_dialect_and_never_prompts() {
    for (double, expected) in [
        (V1, ["delete job failed-job -p mlo-ada", "delete job train-ok -p mlo-ada"]),
        (V2_22X, ["workload delete -y -p mlo-ada failed-job", "workload delete -y -p mlo-ada train-ok"]),
    ] {
        let (env, _server) = setup(double);
        let run = env.run(&["delete", "failed-job", "train-ok", "failed-job"]);
        assert_eq!(run.code, Some(0), "{run}");
        assert_eq!(runai_deletes(&env), expected, "{run}");
        assert!(env.runai_calls().iter().all(|c| c["accepted"] == true), "{:?}", env.runai_calls());
        assert!(run.stderr.contains("submit: deleted the job failed-job (pod failed-job-0-0)\n"), "{run}");
        assert!(run.stderr.contains("submit: deleted the job train-ok (pod train-ok-0-0)\n"), "{run}");
        // The listing, then each pod's log kept before the delete.
        assert_eq!(env.kubectl_calls(), 1 + 2, "{run}");
    }
}

#[test]
fn delete_of_an_unknown_job_deletes_nothing() {
    let (env, _server) = setup(V1);
    let run = env.run(&["delete", "train-ok", "nope"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: no job or sweep named nope in namespace runai-mlo-ada (`submit list` shows them); nothing was deleted\n"
        ),
        "{run}"
    );
    assert!(runai_deletes(&env).is_empty(), "{:?}", runai_deletes(&env));
}

#[test]
fn a_failing_runai_is_reported_in_its_own_words() {
    let (mut env, _server) = setup(V2_22X);
    env.set_env("RUNAI_DOUBLE_DELETE_EXIT", "1");
    let run = env.run(&["delete", "train-ok"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains(
            "submit: runai could not delete the job train-ok (exit status 1):\nError: workload train-ok not found"
        ),
        "{run}"
    );
    assert!(run.stderr.ends_with("submit: could not delete train-ok\n"), "{run}");
}

#[test]
fn delete_when_the_cluster_is_unreachable_runs_no_runai() {
    let (env, server) = setup(V1);
    drop(server);
    let run = env.run(&["delete", "train-ok", "--kubectl-timeout", "5s"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("kubectl could not list the pods of namespace runai-mlo-ada"), "{run}");
    assert!(runai_deletes(&env).is_empty(), "{:?}", runai_deletes(&env));
}

#[test]
fn clean_takes_only_finished_jobs_and_a_dry_run_only_lists() {
    let (env, _server) = setup(V1);
    let run = env.run(&["clean", "--dry-run"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stderr.contains("submit: dry run: would delete 2 succeeded job(s) in namespace runai-mlo-ada:"),
        "{run}"
    );
    let listed: Vec<&str> = run.stdout.lines().skip(1).map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(listed, ["train-ok", "csub-old"], "{run}");
    assert!(env.runai_calls().is_empty(), "a dry run ran runai: {:?}", runai_deletes(&env));

    for (double, verb) in [(V1, "delete job"), (V2_22X, "workload delete -y -p mlo-ada")] {
        let (env, _server) = setup(double);
        let run = env.run(&["clean", "--failed"]);
        assert_eq!(run.code, Some(0), "{run}");
        let deleted: Vec<String> = runai_deletes(&env);
        let names = ["failed-job", "v2-preempted", "train-ok", "evicted-job", "csub-old"];
        assert_eq!(deleted.len(), names.len(), "{deleted:?}");
        for (line, name) in deleted.iter().zip(names) {
            assert!(line.starts_with(verb) && line.contains(name), "{line} for {name}");
        }
        for untouched in ["pending-job", "pulling-job", "stuck-job", "dist", "nb-running"] {
            assert!(!deleted.iter().any(|d| d.contains(untouched)), "{untouched} was deleted: {deleted:?}");
        }
    }
}

#[test]
fn a_bare_submit_is_still_a_submission() {
    let (env, _server) = setup(V1);
    let run = env.run(&["--dry-run", "-n", "list"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.starts_with("runai submit --name list "), "{run}");
    assert!(run.stdout.contains("--environment NB_JOB_KIND=interactive "), "{run}");
}

#[test]
fn shell_opens_zsh_or_a_command_in_the_jobs_pod() {
    let (env, server) = setup(V1);
    let run = env.run(&["shell", "nb-running"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains("submit: running: kubectl exec -it nb-running-0-0 --namespace runai-mlo-ada -- zsh"));
    assert!(run.stdout.ends_with("(fake API server: a shell in nb-running-0-0)\n"), "{run}");
    let run = env.run(&["shell", "dist", "--worker", "1", "--", "python", "-V"]);
    assert_eq!(run.code, Some(0), "{run}");
    let execs = server.execs();
    assert_eq!(execs.len(), 2, "{:#?}", server.requests());
    assert_eq!(execs[0].path(), format!("/api/v1/namespaces/{NAMESPACE}/pods/nb-running-0-0/exec"));
    assert_eq!(execs[1].path(), format!("/api/v1/namespaces/{NAMESPACE}/pods/dist-worker-1/exec"));
    let commands: Vec<String> = execs[1].query().into_iter().filter(|(k, _)| k == "command").map(|(_, v)| v).collect();
    assert_eq!(commands, ["python", "-V"]);
}

#[test]
fn shell_waits_for_a_pending_pod_and_refuses_an_ended_job() {
    let (env, server) = setup(V1);
    let run = env.run(&["shell", "train-ok"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr, "submit: the job train-ok's pod train-ok-0-0 has ended (succeeded): there is no shell to open\n",
        "{run}"
    );
    let child = env
        .command(&["shell", "pending-job"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    server.put_pod_object(NAMESPACE, pod("pending-job-0-0", json!({}), 60, Some("train"), running(1)), &[]);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stderr.starts_with("submit: waiting for pending-job-0-0 to run: Pending, waiting for a node"), "{stderr}");
    assert!(stdout.ends_with("(fake API server: a shell in pending-job-0-0)\n"), "{stdout}");
}
