//! `submit port-forward` with the real kubectl against the fake API
//! server, which serves kubectl's port-forward protocol (SPDY/3.1 in a
//! WebSocket, kubectl 1.31+'s default, or plain SPDY) and answers on the
//! fake pod's ports with a tiny HTTP server naming the pod: real bytes go
//! from a local port to the pod and back.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nb_tests::daily::{ENV, NAMESPACE};
use nb_tests::fake_apiserver::{FakeApiServer, PodState};
use nb_tests::submit_harness::{REAL_KUBECTL, SubmitEnv, processes_with_env};
use serde_json::{Value, json};

const V1: &str = env!("CARGO_BIN_EXE_runai");

/// A pod of the job as run:ai names and labels it (`labels`), created at
/// `created`, in `phase`.
fn pod(name: &str, labels: Value, created: &str, phase: &str) -> Value {
    let state =
        if phase == "Running" { json!({"running": {}}) } else { json!({"waiting": {"reason": "ContainerCreating"}}) };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "uid": format!("uid-{name}"), "creationTimestamp": created},
        "spec": {"containers": [{"name": "main", "image": "reg.example/img:1",
                 "env": [{"name": "NB_JOB_KIND", "value": "interactive"}]}], "nodeName": "gpu-node-7"},
        "status": {"phase": phase, "containerStatuses": [{"name": "main", "restartCount": 0, "state": state}]}
    })
}

fn setup() -> (SubmitEnv, FakeApiServer) {
    let server = FakeApiServer::start().unwrap();
    let mut env = SubmitEnv::new(std::path::Path::new(V1));
    env.use_apiserver(&server, NAMESPACE);
    env.write_env(ENV);
    (env, server)
}

/// A running `submit port-forward` and what it has said so far.
struct Forwarding {
    child: Child,
    stdout: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::mpsc::Receiver<String>,
    said: String,
}

impl Forwarding {
    fn start(env: &SubmitEnv, args: &[&str]) -> Self {
        let mut child = env.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let lines = |pipe: Box<dyn std::io::Read + Send>| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in std::io::BufRead::lines(std::io::BufReader::new(pipe)).map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        Forwarding { child, stdout, stderr, said: String::new() }
    }

    /// The next line on stdout.
    fn stdout_line(&mut self) -> String {
        self.stdout
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("no line on stdout ({e}):\n{}", self.said()))
    }

    /// stderr up to the first line that has `text`, which it returns.
    fn await_stderr(&mut self, text: &str) -> String {
        loop {
            match self.stderr.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    self.said.push_str(&line);
                    self.said.push('\n');
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(e) => panic!("no {text:?} on stderr ({e}):\n{}", self.said),
            }
        }
    }

    fn said(&mut self) -> String {
        while let Ok(line) = self.stderr.try_recv() {
            self.said.push_str(&line);
            self.said.push('\n');
        }
        self.said.clone()
    }

    /// SIGINT to submit alone (kubectl is in a group of its own): its exit code.
    fn interrupt(mut self) -> (Option<i32>, String) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(200));
        (status.code(), self.said())
    }
}

/// The processes, kubectl above all, that run with this test's kubeconfig.
fn left_running(env: &SubmitEnv) -> Vec<String> {
    processes_with_env(&format!("KUBECONFIG={}", env.home.join(".kube/config").display()))
}

/// A local port nobody listens on (the kernel's pick, let go at once).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` through the forward on `port`, tried again until kubectl
/// listens (or `within` passes): the whole answer.
fn try_get(port: u16, path: &str, within: Duration) -> Result<String, String> {
    let until = Instant::now() + within;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut conn) => {
                conn.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
                let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
                conn.write_all(request.as_bytes()).map_err(|e| format!("sending to {port}: {e}"))?;
                let mut answer = String::new();
                conn.read_to_string(&mut answer).map_err(|e| format!("reading from {port}: {e}"))?;
                return Ok(answer);
            }
            Err(e) if Instant::now() > until => return Err(format!("nothing listens on {port}: {e}")),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

fn get(port: u16, path: &str, within: Duration) -> String {
    try_get(port, path, within).unwrap_or_else(|e| panic!("{e}"))
}

/// The bare kubectl's port-forward to `pod`, with `env` added.
#[allow(clippy::disallowed_methods, reason = "the fake is checked against the real kubectl alone")]
fn kubectl_forward(
    server: &FakeApiServer,
    dir: &std::path::Path,
    pod: &str,
    ports: &str,
    env: &[(&str, &str)],
) -> Child {
    let config = dir.join("config");
    std::fs::write(&config, server.kubeconfig(NAMESPACE)).unwrap();
    Command::new(REAL_KUBECTL)
        .args(["port-forward", pod, "--namespace", NAMESPACE, ports])
        .env("KUBECONFIG", &config)
        .env("KUBECACHEDIR", dir.join("cache"))
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn the_fake_forwards_ports_to_the_real_kubectl_over_both_transports() {
    let server = FakeApiServer::start().unwrap();
    server.set_pod(NAMESPACE, "nb-0-0", "img", &PodState::Running);
    for (env, upgrade) in [(None, "websocket"), (Some(("KUBECTL_PORT_FORWARD_WEBSOCKETS", "false")), "SPDY/3.1")] {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut kubectl = kubectl_forward(&server, dir.path(), "nb-0-0", &format!("{port}:8888"), &Vec::from_iter(env));
        let answer = match try_get(port, "/tree?token=x", Duration::from_secs(20)) {
            Ok(answer) => answer,
            Err(e) => {
                kubectl.kill().unwrap();
                let out = kubectl.wait_with_output().unwrap();
                panic!("{e}\n{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
            }
        };
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nfake pod nb-0-0, port 8888: GET /tree?token=x HTTP/1.1\n"), "{answer}");
        // A second connection through the same forward.
        assert!(get(port, "/again", Duration::from_secs(5)).ends_with("GET /again HTTP/1.1\n"));
        let forwards = server.port_forwards();
        let last = forwards.last().unwrap();
        assert_eq!(last.path(), format!("/api/v1/namespaces/{NAMESPACE}/pods/nb-0-0/portforward"));
        assert!(last.header("Upgrade").is_some_and(|u| u.eq_ignore_ascii_case(upgrade)), "{last:?}");
        // The pod goes: kubectl loses its connection and exits.
        server.drop_port_forwards();
        let started = Instant::now();
        while kubectl.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(20), "kubectl outlived its dropped forward");
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = kubectl.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("lost connection to pod"), "{stderr}");
    }
}

#[test]
fn a_forward_carries_bytes_to_the_jobs_pod_prints_its_url_and_ends_on_ctrl_c() {
    let (env, server) = setup();
    server.put_pod_object(NAMESPACE, pod("nb-0-0", json!({"release": "nb"}), "2026-01-01T10:00:00Z", "Running"), &[]);
    let (local, other) = (free_port(), free_port());
    let (first, second) = (format!("{local}:8888"), other.to_string());
    let mut forward = Forwarding::start(&env, &["port-forward", "nb", &first, &second]);
    assert_eq!(forward.stdout_line(), format!("http://localhost:{local}"));
    assert_eq!(forward.stdout_line(), format!("http://localhost:{other}"));
    let running = forward.await_stderr("submit: running: ");
    assert_eq!(
        running,
        format!("submit: running: kubectl port-forward nb-0-0 --namespace {NAMESPACE} {first} {other}:{other}")
    );
    let line = forward.await_stderr("forwarding ");
    assert_eq!(
        line,
        format!(
            "submit: forwarding localhost:{local} -> nb-0-0:8888, localhost:{other} -> nb-0-0:{other} (Ctrl-C to stop)"
        )
    );
    let answer = get(local, "/lab?token=abc", Duration::from_secs(10));
    assert!(answer.ends_with("\r\n\r\nfake pod nb-0-0, port 8888: GET /lab?token=abc HTTP/1.1\n"), "{answer}");
    assert!(
        get(other, "/", Duration::from_secs(10)).ends_with(&format!("fake pod nb-0-0, port {other}: GET / HTTP/1.1\n"))
    );
    assert!(!left_running(&env).is_empty(), "kubectl is not found running, so the check below proves nothing");
    let (code, said) = forward.interrupt();
    assert_eq!(code, Some(130), "{said}");
    assert_eq!(left_running(&env), Vec::<String>::new(), "{said}");
    assert!(TcpStream::connect(("127.0.0.1", local)).is_err(), "something still listens on {local}");
    assert_eq!(server.port_forwards().len(), 1);
}

#[test]
fn a_dropped_forward_starts_again_and_finds_the_pod_that_replaced_its_own() {
    // run:ai v2 names pods freely and labels them with workloadName.
    let (env, server) = setup();
    let labels = json!({"workloadName": "nb2"});
    server.put_pod_object(NAMESPACE, pod("nb2-7f9c2", labels.clone(), "2026-01-01T10:00:00Z", "Running"), &[]);
    let local = free_port();
    let mut forward = Forwarding::start(&env, &["port-forward", "nb2", &format!("{local}:8888")]);
    assert_eq!(forward.stdout_line(), format!("http://localhost:{local}"));
    forward.await_stderr("forwarding ");
    assert!(get(local, "/", Duration::from_secs(10)).ends_with("fake pod nb2-7f9c2, port 8888: GET / HTTP/1.1\n"));

    // The connection breaks: the same pod again.
    server.drop_port_forwards();
    let dropped = forward.await_stderr("dropped");
    assert_eq!(
        dropped,
        "submit: the forward to nb2-7f9c2 dropped (kubectl: error: lost connection to pod); starting it again in 1s"
    );
    let again = forward.await_stderr("forwarding again");
    assert_eq!(again, format!("submit: forwarding again: localhost:{local} -> nb2-7f9c2:8888"));
    assert!(get(local, "/1", Duration::from_secs(10)).ends_with("fake pod nb2-7f9c2, port 8888: GET /1 HTTP/1.1\n"));

    // Preempted: the pod goes, and a new one, named anew, comes up later.
    server.delete_pod(NAMESPACE, "nb2-7f9c2");
    server.put_pod_object(NAMESPACE, pod("nb2-d41e8", labels.clone(), "2026-01-01T11:00:00Z", "Pending"), &[]);
    let dropped = forward.await_stderr("dropped");
    assert!(dropped.starts_with("submit: the forward to nb2-7f9c2 dropped (kubectl: "), "{dropped}");
    forward.await_stderr("waiting for nb2-d41e8 to run: ");
    server.put_pod_object(NAMESPACE, pod("nb2-d41e8", labels, "2026-01-01T11:00:00Z", "Running"), &[]);
    let again = forward.await_stderr("forwarding again");
    assert_eq!(again, format!("submit: forwarding again: localhost:{local} -> nb2-d41e8:8888"));
    assert!(get(local, "/2", Duration::from_secs(10)).ends_with("fake pod nb2-d41e8, port 8888: GET /2 HTTP/1.1\n"));
    let (code, said) = forward.interrupt();
    assert_eq!(code, Some(130), "{said}");
    assert_eq!(left_running(&env), Vec::<String>::new(), "{said}");
    let pods: Vec<String> =
        server.port_forwards().iter().map(|r| r.path().rsplit('/').nth(1).unwrap().to_owned()).collect();
    assert_eq!(pods, ["nb2-7f9c2", "nb2-7f9c2", "nb2-d41e8"], "{said}");
}

#[test]
fn help_bad_ports_an_unknown_job_an_ended_job_and_an_unreachable_cluster() {
    let (env, server) = setup();
    server.set_pod(NAMESPACE, "done-0-0", "img", &PodState::Terminated { exit_code: 0 });
    for (port, why) in [
        ("70000", "LOCAL port 70000 is out of range: a port is a number from 1 to 65535"),
        ("8888:0", "REMOTE port 0 is out of range: a port is a number from 1 to 65535"),
        ("jupyter", "LOCAL port \"jupyter\" is not a number: a port is a number from 1 to 65535"),
        (
            ":8888",
            "\":8888\" has no LOCAL port: give it (LOCAL:REMOTE), so that the forward keeps it when it starts again",
        ),
    ] {
        let run = env.run(&["port-forward", "nb", port]);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(
            run.stderr.starts_with(&format!("error: invalid value '{port}' for '<LOCAL[:REMOTE]>...': {why}\n")),
            "{run}"
        );
    }
    let run = env.run(&["port-forward", "--help"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.starts_with("Forward local ports to the job's pod, again whenever it drops"), "{run}");
    assert!(run.stdout.contains("Usage: submit port-forward [OPTIONS] <JOB> <LOCAL[:REMOTE]>..."), "{run}");
    assert!(env.run(&["--completions", "bash"]).stdout.contains("port-forward"));
    let run = env.run(&["port-forward", "nb"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("<LOCAL[:REMOTE]>..."), "{run}");
    let run = env.run(&["port-forward", "nb", "8888", "8888:80"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        "submit: port-forward: the local port 8888 is given twice (8888:8888 and 8888:80): one port forwards to one place\n"
    );
    let run = env.run(&["port-forward", "nope", "8888"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        format!("submit: no job named nope in namespace {NAMESPACE} (`submit list` shows its jobs)\n")
    );
    let run = env.run(&["port-forward", "done", "8888"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        "submit: the job done's pod done-0-0 has ended (succeeded): there is nothing to forward to\n"
    );
    drop(server);
    let run = env.run(&["port-forward", "nb", "8888", "--kubectl-timeout", "5s"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.starts_with(&format!(
            "submit: kubectl could not list the pods of namespace {NAMESPACE} (exit status 1):\n"
        )),
        "{run}"
    );
    assert!(run.stderr.contains("was refused"), "{run}");
    assert_eq!(left_running(&env), Vec::<String>::new());
}

#[test]
fn a_cluster_away_after_a_forward_is_looked_at_again_and_a_port_in_use_is_refused_at_once() {
    let (env, server) = setup();
    server.put_pod_object(NAMESPACE, pod("nb-0-0", json!({"release": "nb"}), "2026-01-01T10:00:00Z", "Running"), &[]);
    let local = free_port();
    let mut forward = Forwarding::start(&env, &["port-forward", "nb", &format!("{local}:8888")]);
    forward.await_stderr("forwarding ");
    server.refuse_login();
    server.drop_port_forwards();
    forward.await_stderr("dropped");
    let away = forward.await_stderr("cannot look the pod up again");
    assert!(
        away.starts_with(&format!(
            "submit: cannot look the pod up again (kubectl could not list the pods of namespace {NAMESPACE}"
        )),
        "{away}"
    );
    assert!(away.ends_with("; trying again in 2s"), "{away}");
    server.accept_login();
    forward.await_stderr("forwarding again");
    assert!(get(local, "/", Duration::from_secs(10)).ends_with("fake pod nb-0-0, port 8888: GET / HTTP/1.1\n"));
    let (code, said) = forward.interrupt();
    assert_eq!(code, Some(130), "{said}");

    // Another program holds the local port (on both loopback addresses).
    let _v4 = TcpListener::bind(("127.0.0.1", local)).unwrap();
    let _v6 = TcpListener::bind(("::1", local));
    let run = env.run(&["port-forward", "nb", &local.to_string()]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("submit: kubectl could not forward to the pod nb-0-0 (exit status 1):\n"), "{run}");
    assert!(run.stderr.contains("unable to listen on any of the requested ports"), "{run}");
    assert_eq!(run.stdout, "", "{run}");
    assert_eq!(left_running(&env), Vec::<String>::new());
}
