//! `submit list --watch` on a real terminal (util-linux `script` gives it
//! a pseudo-terminal): it redraws in place, and a Ctrl-C typed at the
//! terminal (the line discipline's SIGINT to the foreground group) ends it
//! with 130, leaving the terminal's settings as they were and no kubectl
//! behind.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nb_tests::daily::{NAMESPACE, ended, pod, room, running};
use nb_tests::fake_apiserver::FakeApiServer;
use nb_tests::submit_harness::{SubmitEnv, processes_with_env};
use serde_json::json;

const V1: &str = env!("CARGO_BIN_EXE_runai");
/// Clear the screen and go home: a redraw in place.
const REDRAW: &str = "\x1b[H\x1b[2J";

fn fill(server: &FakeApiServer) {
    let put = |name: &str, created_ago, status| {
        server.put_pod_object(NAMESPACE, pod(name, json!({}), created_ago, Some("train"), status), &[]);
    };
    put("train-ok-0-0", 5 * 3600, ended(0, "Completed"));
    put("nb-running-0-0", 600, running(600));
}

/// The kubectl processes that run with this test's kubeconfig.
fn kubectl_left(env: &SubmitEnv) -> Vec<String> {
    let mine = format!("KUBECONFIG={}", env.home.join(".kube/config").display());
    let program =
        |p: &String| p.split_once(": ").and_then(|(_, cmdline)| cmdline.split('\0').next().map(str::to_owned));
    processes_with_env(&mine).into_iter().filter(|p| program(p).is_some_and(|a| a.ends_with("kubectl"))).collect()
}

/// Reads `from` into `into` until it ends.
fn collect(mut from: impl std::io::Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
}

fn wait_for(seen: &Mutex<Vec<u8>>, what: &str, done: impl Fn(&str) -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
        if done(&text) {
            return;
        }
        assert!(Instant::now() < until, "no {what} within 30 s:\n{text:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[allow(clippy::disallowed_methods, reason = "script gives submit a terminal")]
fn list_watch_on_a_terminal_redraws_in_place_and_ctrl_c_leaves_the_terminal_as_it_was() {
    let (env, server) = room(V1, fill);
    let submit = nb_tests::binaries::submit().display().to_string();
    // bash waits for a child that handles SIGINT and exits, then goes on.
    let session = env.project.join("session.sh");
    std::fs::write(&session, format!("stty -g\n{submit} list --watch\necho \"exit $?\"\nstty -g\n")).unwrap();
    let cmd = env.command(&["list", "--watch"]);
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &format!("bash {}", session.display()), "/dev/null"]).env_clear().current_dir(&env.project);
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script.env(k, v);
        }
    }
    let mut child = script
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    collect(child.stdout.take().unwrap(), Arc::clone(&seen));
    wait_for(&seen, "first listing", |t| t.contains("nb-running") && t.contains("train-ok"));
    server.put_pod_object(NAMESPACE, pod("nb-running-0-0", json!({}), 600, Some("train"), ended(1, "Error")), &[]);
    wait_for(&seen, "redraw", |t| t.rsplit(REDRAW).next().is_some_and(|last| last.contains("failed: exit code 1")));
    assert!(!kubectl_left(&env).is_empty(), "the watch runs no kubectl");

    // Ctrl-C typed at the terminal.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\x03").unwrap();
    stdin.flush().unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > until {
            child.kill().unwrap();
            panic!("Ctrl-C did not end the watch:\n{:?}", String::from_utf8_lossy(&seen.lock().unwrap()));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(stdin);
    std::thread::sleep(Duration::from_millis(200));
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(stderr.is_empty(), "{status}: {stderr}\n{text:?}");

    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let settings_before = lines.first().copied().unwrap_or_default();
    let exit = lines.iter().rev().find(|l| l.contains("exit ")).copied().unwrap_or_default();
    assert!(exit.ends_with("exit 130"), "{exit:?}\n{text:?}");
    let settings_after = lines.last().copied().unwrap_or_default();
    assert!(settings_before.contains(':') && settings_before.len() > 20, "{settings_before:?}\n{text:?}");
    assert_eq!(settings_after, settings_before, "the terminal's settings changed\n{text:?}");
    assert!(text.matches(REDRAW).count() >= 1, "no redraw in place\n{text:?}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(kubectl_left(&env), Vec::<String>::new(), "kubectl outlived the watch");
}
