//! `--wait` and `--attach` with the real kubectl against the fake API
//! server, whose pods follow a scripted timeline from the moment the runai
//! double reports the submission: what the researcher reads at each change,
//! how the wait ends (running, a reason, a timeout, Ctrl-C), the log of a
//! training job followed to its exit code, and the exec of zsh in an
//! interactive job's pod.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::path::Path;
use std::time::{Duration, Instant};

use nb_tests::fake_apiserver::{FakeApiServer, PodState, Timeline};
use nb_tests::submit_harness::{SubmitEnv, processes_with_env};

const RUNAI_DOUBLE: &str = env!("CARGO_BIN_EXE_runai");
const RUNAI_V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");
const NAMESPACE: &str = "runai-mlo-ada";
const NO_GPU: &str = "0/12 nodes are available: 12 Insufficient nvidia.com/gpu.";

const ENV: &str = "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE=runai-mlo-ada\nRUNAI_IMAGE=reg.example/img:1\n\
RUNAI_SECRET_NAME=ada-env\nSCRATCH_PVC=mlo-scratch\nHF_TOKEN=hf_secret_value\n";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn setup() -> (SubmitEnv, FakeApiServer) {
    setup_with(RUNAI_DOUBLE)
}

/// As [`setup`], with `double` as runai.
fn setup_with(double: &str) -> (SubmitEnv, FakeApiServer) {
    let server = FakeApiServer::start().unwrap();
    server.add_pvc(NAMESPACE, "mlo-scratch");
    let mut env = SubmitEnv::new(Path::new(double));
    env.use_apiserver(&server, NAMESPACE);
    env.count_kubectl_calls();
    env.write_env(ENV);
    (env, server)
}

/// The `submit: ` lines of stderr from the first line of the wait on.
fn wait_lines(stderr: &str) -> Vec<&str> {
    let from = stderr.find("submit: waiting for the pods").unwrap_or_else(|| panic!("no wait in:\n{stderr}"));
    stderr[from..].lines().collect()
}

/// No kubectl of this room is left running (the dispatcher's child included).
fn assert_no_kubectl_left(env: &SubmitEnv) {
    std::thread::sleep(ms(200));
    let config = env.home.join(".kube/config");
    let leftovers = processes_with_env(&format!("KUBECONFIG={}", config.display()));
    assert!(leftovers.is_empty(), "kubectl left running: {leftovers:?}");
}

fn assert_job_left_alone(server: &FakeApiServer) {
    let changes: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.method != "GET" && r.method != "PATCH")
        .map(|r| format!("{} {}", r.method, r.target))
        .collect();
    assert!(changes.is_empty(), "the job was touched: {changes:?}");
}

/// `lines` without the steps whose line depends on which of the two
/// watches (pods, Events) kubectl delivers first, each checked to be
/// said at most once.
fn without_racing_steps<'a>(lines: &[&'a str], pod: &str) -> Vec<&'a str> {
    let racing = [format!("submit: {pod}: scheduled on gpu-node-7"), format!("submit: {pod}: starting the container")];
    for step in &racing {
        assert!(lines.iter().filter(|l| **l == step.as_str()).count() <= 1, "{step} said twice: {lines:#?}");
    }
    lines.iter().copied().filter(|l| !racing.iter().any(|r| l == r)).collect()
}

#[test]
fn wait_shows_the_schedulers_reason_then_ends_at_running() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-w1",
        Timeline::new()
            .then(ms(100), "0-0", PodState::Unschedulable { message: NO_GPU.into() })
            .then(ms(2500), "0-0", PodState::Pulling)
            .then(ms(1500), "0-0", PodState::Creating)
            .then(ms(1500), "0-0", PodState::Running),
    );
    let run = env.run(&["-n", "job-w1", "--wait"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        without_racing_steps(&wait_lines(&run.stderr), "job-w1-0-0"),
        [
            "submit: waiting for the pods of job-w1 (job-w1-0-0)",
            &format!("submit: job-w1-0-0: Pending, waiting for a node: {NO_GPU}"),
            "submit: job-w1-0-0: pulling the image reg.example/img:1",
            "submit: job-w1-0-0: creating the container",
            "submit: job-w1-0-0: Running on gpu-node-7",
            "submit: the job job-w1 is running",
        ]
    );
    // The check, the apply, one watch of the pods and one of their Events
    // for the whole wait.
    assert_eq!(env.kubectl_calls(), 4);
    assert_eq!(env.runai_calls().len(), 1);
    let event_watch =
        server.event_requests().into_iter().find(|r| r.query().contains(&("watch".into(), "true".into())));
    let selector = event_watch.map(|r| r.query()).unwrap_or_default();
    assert!(selector.contains(&("fieldSelector".into(), "involvedObject.kind%3DPod".into())), "{selector:?}");
    assert_job_left_alone(&server);
    assert_no_kubectl_left(&env);
}

#[test]
fn where_events_are_forbidden_the_wait_goes_on_from_the_pods_status() {
    let (env, server) = setup();
    server.forbid_events();
    server.arm_timeline(
        NAMESPACE,
        "job-we",
        Timeline::new()
            .then(ms(100), "0-0", PodState::Unschedulable { message: NO_GPU.into() })
            .then(ms(4000), "0-0", PodState::Pulling)
            .then(ms(300), "0-0", PodState::Creating)
            .then(ms(300), "0-0", PodState::Running),
    );
    let run = env.run(&["-n", "job-we", "--wait"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        wait_lines(&run.stderr),
        [
            "submit: waiting for the pods of job-we (job-we-0-0)",
            &format!("submit: job-we-0-0: Pending, waiting for a node: {NO_GPU}"),
            "submit: job-we-0-0: scheduled on gpu-node-7: pulling the image reg.example/img:1 and creating the container",
            "submit: job-we-0-0: Running on gpu-node-7",
            "submit: the job job-we is running",
        ]
    );
    assert!(!server.event_requests().is_empty(), "Events were never asked for");
    assert_eq!(env.kubectl_calls(), 4);
    assert_job_left_alone(&server);
    assert_no_kubectl_left(&env);
}

#[test]
fn wait_follows_every_pod_of_a_distributed_job() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-wd",
        Timeline::new()
            .then(ms(100), "master-0", PodState::Creating)
            .then(ms(100), "worker-0", PodState::Creating)
            .then(ms(300), "master-0", PodState::Running)
            .then(ms(300), "worker-0", PodState::Running),
    );
    let run = env.run(&["-n", "job-wd", "--workers", "1", "-c", "torchrun train.py", "--wait"]);
    assert_eq!(run.code, Some(0), "{run}");
    let lines = wait_lines(&run.stderr);
    assert_eq!(lines[0], "submit: waiting for the pods of job-wd (job-wd-master-0, job-wd-worker-0)");
    assert_eq!(lines.last(), Some(&"submit: the job job-wd is running"));
    let running_at = |pod: &str| lines.iter().position(|l| *l == format!("submit: {pod}: Running on gpu-node-7"));
    assert!(running_at("job-wd-master-0").is_some() && running_at("job-wd-worker-0").is_some(), "{run}");
}

#[test]
fn an_image_that_cannot_be_pulled_ends_the_wait_with_the_image_and_message() {
    let (env, server) = setup();
    let pull_error =
        "rpc error: code = NotFound desc = failed to pull and unpack image \"reg.example/nope:1\": not found";
    server.arm_timeline(
        NAMESPACE,
        "job-w2",
        Timeline::new().then(ms(100), "0-0", PodState::Creating).then(
            ms(300),
            "0-0",
            PodState::Waiting { reason: "ErrImagePull".into(), message: pull_error.into() },
        ),
    );
    let run = env.run(&["-n", "job-w2", "-i", "reg.example/nope:1", "--wait"]);
    assert_eq!(run.code, Some(1), "{run}");
    let expected = format!(
        "submit: job-w2-0-0 cannot start: cannot pull the image reg.example/nope:1 (ErrImagePull): {pull_error}\n\
         the job is still there; delete it with: runai delete job job-w2\n"
    );
    assert!(run.stderr.ends_with(&expected), "{run}");
    assert_job_left_alone(&server);
}

#[test]
fn a_pull_backing_off_ends_the_wait_with_the_registrys_words_from_the_events() {
    let (env, server) = setup();
    let detail = "rpc error: code = Unknown desc = failed to resolve reference \"reg.example/nope:1\": unauthorized";
    server.arm_timeline(
        NAMESPACE,
        "job-wb",
        Timeline::new()
            .then(ms(100), "0-0", PodState::Pulling)
            .event(
                ms(400),
                "0-0",
                "Warning",
                "Failed",
                &format!("Failed to pull image \"reg.example/nope:1\": {detail}"),
            )
            .then(
                ms(0),
                "0-0",
                PodState::Waiting {
                    reason: "ImagePullBackOff".into(),
                    message: "Back-off pulling image \"reg.example/nope:1\"".into(),
                },
            ),
    );
    let run = env.run(&["-n", "job-wb", "-i", "reg.example/nope:1", "--wait"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("submit: job-wb-0-0: pulling the image reg.example/nope:1\n"), "{run}");
    let expected = format!(
        "submit: job-wb-0-0 cannot start: cannot pull the image reg.example/nope:1 (ImagePullBackOff): {detail}\n\
         the job is still there; delete it with: runai delete job job-wb\n"
    );
    assert!(run.stderr.ends_with(&expected), "{run}");
    assert_job_left_alone(&server);
    assert_no_kubectl_left(&env);
}

#[test]
fn with_a_v2_cli_the_wait_names_the_v2_commands() {
    let (env, server) = setup_with(RUNAI_V2_22X);
    server.arm_timeline(
        NAMESPACE,
        "job-v2w",
        Timeline::new().then(ms(100), "0-0", PodState::Unschedulable { message: NO_GPU.into() }),
    );
    let run = env.run(&["-n", "job-v2w", "--wait", "--wait-timeout", "1s"]);
    assert_eq!(run.code, Some(124), "{run}");
    assert!(
        run.stderr.contains(
            "follow it with:\n  runai workspace describe job-v2w\n  runai workspace logs job-v2w\n  \
             runai workspace exec job-v2w --stdin --tty -- zsh\n  runai workload delete -y job-v2w\n"
        ),
        "{run}"
    );
    assert_job_left_alone(&server);
}

#[test]
fn a_missing_secret_key_is_named() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-w6",
        Timeline::new().then(
            ms(100),
            "0-0",
            PodState::Waiting {
                reason: "CreateContainerConfigError".into(),
                message: "couldn't find key HF_TOKEN in Secret runai-mlo-ada/ada-env".into(),
            },
        ),
    );
    let run = env.run(&["-n", "job-w6", "--wait"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.contains(
            "submit: job-w6-0-0 cannot start: cannot create the container (CreateContainerConfigError): the Secret \
             ada-env has no key HF_TOKEN, which the job reads; set HF_TOKEN in your .env and submit again"
        ),
        "{run}"
    );
}

/// A training script that fails at once with a traceback and exit code 3.
fn crash(after_running: bool) -> Timeline {
    let mut t = Timeline::new().then(ms(100), "0-0", PodState::Creating);
    if after_running {
        t = t.then(ms(200), "0-0", PodState::Running);
    }
    t.log(ms(300), "0-0", "epoch 1: loss 0.93")
        .log(ms(0), "0-0", "Traceback (most recent call last):")
        .log(ms(0), "0-0", "  File \"train.py\", line 3, in <module>")
        .log(ms(300), "0-0", "ZeroDivisionError: division by zero")
        .then(ms(200), "0-0", PodState::Terminated { exit_code: 3 })
}

#[test]
fn an_early_exit_ends_the_wait_with_its_code_and_last_log_lines() {
    let (env, server) = setup();
    server.arm_timeline(NAMESPACE, "job-w7", crash(false));
    let run = env.run(&["-n", "job-w7", "--train", "-c", "python train.py", "--wait"]);
    assert_eq!(run.code, Some(1), "{run}");
    let expected = "submit: job-w7-0-0 cannot start: the command ended with exit code 3 (Error)\n\
                    the last lines of its log:\n    epoch 1: loss 0.93\n    Traceback (most recent call last):\n    \
                    \x20 File \"train.py\", line 3, in <module>\n    ZeroDivisionError: division by zero\n\
                    the job is still there; delete it with: runai delete job job-w7\n";
    assert!(run.stderr.ends_with(expected), "{run}");
}

#[test]
fn a_crash_loop_ends_the_wait_with_the_last_exit_code_and_log_lines() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-w9",
        Timeline::new()
            .then(ms(100), "0-0", PodState::Creating)
            .log(ms(100), "0-0", "zsh: command not found: pyhton")
            .then(ms(200), "0-0", PodState::CrashLoop { exit_code: 127 }),
    );
    let run = env.run(&["-n", "job-w9", "-c", "pyhton train.py", "--wait"]);
    assert_eq!(run.code, Some(1), "{run}");
    let expected = "submit: job-w9-0-0 cannot start: the command keeps failing (CrashLoopBackOff, last exit code 127)\n\
                    the last lines of its log:\n    zsh: command not found: pyhton\n\
                    the job is still there; delete it with: runai delete job job-w9\n";
    assert!(run.stderr.ends_with(expected), "{run}");
    let tail = server.requests().into_iter().find(|r| r.path().ends_with("/pods/job-w9-0-0/log")).unwrap();
    assert!(tail.query().contains(&("previous".into(), "true".into())), "{}", tail.target);
}

#[test]
fn a_training_job_that_ends_well_before_the_wait_sees_it_run_is_reported_ended() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-wz",
        Timeline::new().then(ms(100), "0-0", PodState::Creating).log(ms(100), "0-0", "done").then(
            ms(0),
            "0-0",
            PodState::Terminated { exit_code: 0 },
        ),
    );
    let run = env.run(&["-n", "job-wz", "--train", "-c", "true", "--wait"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stderr.ends_with("submit: job-wz-0-0: finished (exit code 0)\nsubmit: the job job-wz has already ended\n"),
        "{run}"
    );
}

#[test]
fn attach_to_a_training_job_streams_its_log_and_returns_its_exit_code() {
    let (env, server) = setup();
    server.arm_timeline(NAMESPACE, "job-w3", crash(true));
    let run = env.run(&["-n", "job-w3", "--train", "-c", "python train.py", "--attach"]);
    assert_eq!(run.code, Some(3), "{run}");
    assert!(
        run.stdout.ends_with(
            "epoch 1: loss 0.93\nTraceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n\
             ZeroDivisionError: division by zero\n"
        ),
        "{run}"
    );
    assert!(
        run.stderr.contains("submit: following the log of job-w3-0-0 (Ctrl-C stops following, not the job)"),
        "{run}"
    );
    assert!(run.stderr.ends_with("submit: job-w3-0-0 ended with exit code 3\n"), "{run}");
    let followed = server.requests().into_iter().find(|r| r.path().ends_with("/pods/job-w3-0-0/log")).unwrap();
    assert!(followed.query().contains(&("follow".into(), "true".into())), "{}", followed.target);
}

#[test]
fn attach_to_an_interactive_job_execs_zsh_in_its_pod() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-w4",
        Timeline::new().then(ms(100), "0-0", PodState::Creating).then(ms(200), "0-0", PodState::Running),
    );
    let run = env.run(&["-n", "job-w4", "--attach"]);
    assert_eq!(run.code, Some(0), "{run}");
    let execs = server.execs();
    assert_eq!(execs.len(), 1, "{:#?}", server.requests());
    assert_eq!(execs[0].path(), format!("/api/v1/namespaces/{NAMESPACE}/pods/job-w4-0-0/exec"));
    let query = execs[0].query();
    assert!(query.contains(&("command".into(), "zsh".into())), "{query:?}");
    assert!(query.contains(&("stdin".into(), "true".into())), "{query:?}");
    assert_eq!(execs[0].header("Upgrade"), Some("websocket"));
    assert!(run.stderr.contains("submit: opening zsh in job-w4-0-0: kubectl exec -it job-w4-0-0"), "{run}");
    assert!(run.stdout.ends_with("(fake API server: a shell in job-w4-0-0)\n"), "{run}");
}

#[test]
fn wait_timeout_ends_a_wait_that_never_finishes_and_leaves_the_job() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-w5",
        Timeline::new().then(ms(100), "0-0", PodState::Unschedulable { message: NO_GPU.into() }),
    );
    let start = Instant::now();
    let run = env.run(&["-n", "job-w5", "--wait", "--wait-timeout", "2s"]);
    let took = start.elapsed();
    assert_eq!(run.code, Some(124), "{run}");
    assert!(
        run.stderr.contains(&format!(
            "submit: stopped waiting after 2s (--wait-timeout); the job is left as it is: job-w5-0-0: Pending, \
             waiting for a node: {NO_GPU}\nfollow it with:\n  runai describe job job-w5\n"
        )),
        "{run}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_job_left_alone(&server);
    assert_no_kubectl_left(&env);
}

#[test]
fn a_wait_for_pods_that_never_appear_says_which_names_it_looked_for() {
    let (env, _server) = setup();
    let run = env.run(&["-n", "job-wn", "--wait", "--wait-timeout", "1s"]);
    assert_eq!(run.code, Some(124), "{run}");
    assert!(
        run.stderr.contains(
            "the job is left as it is: job-wn-0-0: not created yet (no pod of that name appeared; if run:ai names \
             this job's pods otherwise, list them with: kubectl get pods --namespace runai-mlo-ada)\n"
        ),
        "{run}"
    );
}

#[test]
fn a_watch_kubectl_refuses_ends_the_wait_with_its_words_and_leaves_the_job() {
    let (env, server) = setup();
    // The real kubectl for everything but the watch, which the cluster forbids.
    env.install_script(
        "kubectl",
        &format!(
            "#!/bin/sh\ncase \"$*\" in *--watch*) echo 'Error from server (Forbidden): pods is forbidden: \
             User \"ada\" cannot watch resource \"pods\"' >&2; exit 1;; esac\nexec {} \"$@\"\n",
            nb_tests::submit_harness::REAL_KUBECTL
        ),
    );
    let run = env.run(&["-n", "job-wf", "--wait"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: kubectl stopped watching the pods of job-wf (exit status 1); the job was submitted and is left \
             as it is:\nError from server (Forbidden): pods is forbidden: User \"ada\" cannot watch resource \"pods\"\n"
        ),
        "{run}"
    );
    assert_eq!(env.runai_calls().len(), 1);
    assert_job_left_alone(&server);
}

#[test]
fn on_a_terminal_the_progress_is_one_line_rewritten_in_place() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-wt",
        Timeline::new().then(ms(100), "0-0", PodState::Unschedulable { message: NO_GPU.into() }).then(
            ms(2500),
            "0-0",
            PodState::Running,
        ),
    );
    let size = nix::pty::Winsize { ws_row: 24, ws_col: 60, ws_xpixel: 0, ws_ypixel: 0 };
    let pty = nix::pty::openpty(Some(&size), None).unwrap();
    let mut child =
        env.command(&["-n", "job-wt", "--wait"]).stderr(std::process::Stdio::from(pty.slave)).spawn().unwrap();
    let mut terminal = std::fs::File::from(pty.master);
    let mut seen = Vec::new();
    // The read fails (EIO) once no process holds the terminal any more.
    let _ = terminal.read_to_end(&mut seen);
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(0), "{text}");
    // Cut to the terminal's 60 columns, so that it never wraps.
    assert!(text.contains("\r\x1b[2Ksubmit: [0:00] waiting for the pods of job-wt (job-wt-0-0)\r"), "{text:?}");
    let pending = "] job-wt-0-0: Pending, waiting for a node: 0/…\r\x1b[2Ksubmit: [";
    assert!(text.contains(pending), "{text:?}");
    let running = "] job-wt-0-0: Running on gpu-node-7\r\nsubmit: the job job-wt is running\r\n";
    assert!(text.contains(running), "{text:?}");
    assert!(!text.contains("submit: job-wt-0-0: Pending"), "a plain line on a terminal: {text:?}");
}

#[test]
fn ctrl_c_stops_the_wait_not_the_job_and_says_how_to_come_back() {
    let (env, server) = setup();
    server.arm_timeline(
        NAMESPACE,
        "job-w8",
        Timeline::new().then(ms(100), "0-0", PodState::Unschedulable { message: NO_GPU.into() }),
    );
    let mut child = env
        .command(&["-n", "job-w8", "--wait"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Read until the wait shows the pod pending, then press Ctrl-C.
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("Pending, waiting for a node") {
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "submit ended before waiting:\n{}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    stderr.read_to_end(&mut seen).unwrap();
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(
        text.ends_with(
            "submit: stopped waiting (Ctrl-C); the job keeps running. Come back to it with:\n  runai describe job \
             job-w8\n  runai logs job-w8\n  runai exec job-w8 -it -- zsh\n  runai delete job job-w8\n"
        ),
        "{text}"
    );
    assert_job_left_alone(&server);
    assert_no_kubectl_left(&env);
}
