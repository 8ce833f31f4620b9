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

use nb_tests::fake_apiserver::{FakeApiServer, PodState};
use nb_tests::submit_harness::REAL_KUBECTL;

const NAMESPACE: &str = "runai-mlo-ada";

/// A local port nobody listens on (the kernel's pick, let go at once).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET path` through the forward on `port`, retried until kubectl listens
/// (or `within` passes): the whole answer.
fn get(port: u16, path: &str, within: Duration) -> String {
    let until = Instant::now() + within;
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(mut conn) => {
                conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes()).unwrap();
                let mut answer = String::new();
                conn.read_to_string(&mut answer).unwrap();
                return answer;
            }
            Err(e) if Instant::now() > until => panic!("nothing listens on {port}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
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
        let answer = std::panic::catch_unwind(|| get(port, "/tree?token=x", Duration::from_secs(20)));
        let Ok(answer) = answer else {
            kubectl.kill().unwrap();
            let out = kubectl.wait_with_output().unwrap();
            panic!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
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
