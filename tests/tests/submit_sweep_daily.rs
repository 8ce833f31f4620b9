//! Sweeps in the subcommands after a submission (`list`, `delete`, `clean`),
//! and a job that goes away between the listing and its delete: the real
//! kubectl against the fake API server, whose pods carry the `NB_SWEEP_*`
//! variables `submit --sweep` sets, and the runai doubles of both dialects,
//! which delete a job's pods from the fake server and fail, as runai does,
//! for a job that has none.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::io::Read as _;
use std::time::Duration;

use nb_tests::daily::{NAMESPACE, ended, pod, room, running, with_env};
use nb_tests::fake_apiserver::FakeApiServer;
use nb_tests::submit_harness::{Run, SubmitEnv};
use serde_json::{Value, json};

const V1: &str = env!("CARGO_BIN_EXE_runai");
const V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");

fn unschedulable() -> Value {
    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
        "reason": "Unschedulable", "message": "0/12 nodes are available: 12 Insufficient nvidia.com/gpu."}]})
}

/// The pod of point `index` of the sweep `sweep` of `size` points, its job
/// named `<sweep>-<index>` as `submit --sweep` names them.
fn point(sweep: &str, size: u32, index: u32, labels: Value, created_ago: u64, status: Value) -> Value {
    let job = format!("{sweep}-{index}");
    let (size, index) = (size.to_string(), index.to_string());
    let seed = format!("lr=1e-3 seed={index}");
    with_env(
        pod(&format!("{job}-0-0"), labels, created_ago, Some("train"), status),
        &[("NB_SWEEP", sweep), ("NB_SWEEP_SIZE", &size), ("NB_SWEEP_INDEX", &index), ("NB_SWEEP_POINT", &seed)],
    )
}

/// A sweep `lr` of 6 points whose last job is gone; a sweep `seed` beside a
/// job `seed`; jobs `grid-0` and `grid-1` named like a sweep's but
/// submitted one by one (no `NB_SWEEP`); a job `solo`.
fn fill(server: &FakeApiServer) {
    let put = |object: Value| server.put_pod_object(NAMESPACE, object, &["a log line"]);
    put(point("lr", 6, 0, json!({"release": "lr-0"}), 600, running(500)));
    put(point("lr", 6, 1, json!({"workloadName": "lr-1"}), 600, running(500)));
    put(point("lr", 6, 2, json!({}), 600, unschedulable()));
    put(point("lr", 6, 3, json!({"release": "lr-3"}), 600, ended(2, "Error")));
    put(point("lr", 6, 4, json!({}), 600, ended(0, "Completed")));
    put(point("seed", 2, 0, json!({}), 3600, ended(0, "Completed")));
    put(point("seed", 2, 1, json!({}), 3600, ended(0, "Completed")));
    put(pod("seed-0-0", json!({}), 7200, Some("interactive"), running(7000)));
    put(pod("grid-0-0-0", json!({}), 9000, None, ended(0, "Completed")));
    put(pod("grid-1-0-0", json!({}), 9000, None, ended(0, "Completed")));
    put(pod("solo-0-0", json!({"release": "solo"}), 10_000, Some("train"), ended(0, "Completed")));
}

fn setup(runai: &str) -> (SubmitEnv, FakeApiServer) {
    room(runai, fill)
}

/// The jobs runai was asked to delete, in order (v1 `delete job NAME -p P`,
/// v2 `workload delete -y -p P NAME`), each call naming the project.
fn deleted(env: &SubmitEnv) -> Vec<String> {
    let mut names = Vec::new();
    for argv in env.runai_argvs() {
        let text = argv.join(" ");
        assert!(text.contains("-p mlo-ada"), "a delete without the project: {text}");
        let mut words = argv.iter().filter(|w| !["delete", "job", "workload", "-y"].contains(&w.as_str()));
        while let Some(word) = words.next() {
            match word.as_str() {
                "-p" => drop(words.next()),
                name => names.push(name.to_owned()),
            }
        }
    }
    names
}

/// The jobs whose pods the fake API server still has.
fn left(server: &FakeApiServer) -> Vec<String> {
    let pods = server.pod_names(NAMESPACE);
    pods.iter().map(|p| p.strip_suffix("-0-0").unwrap_or(p).to_owned()).collect()
}

fn first_words(run: &Run) -> Vec<&str> {
    run.stdout.lines().skip(1).map(|l| l.split(' ').next().unwrap()).collect()
}

#[test]
fn list_shows_a_sweep_as_one_line_and_expand_one_line_per_job() {
    let (env, server) = setup(V1);
    let run = env.run(&["list"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(env.kubectl_calls(), 1, "{run}");
    assert_eq!(first_words(&run), ["lr", "seed", "seed", "grid-0", "grid-1", "solo"], "{run}");
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "{line:?} is wider than 80\n{run}");
    }
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[1], "lr     sweep       5    gpu-node-7 10m   6: 2 run, 1 pend, 1 fail, 1 ok, 1 gone", "{run}");
    // The sweep, then the job of the same name.
    assert!(lines[2].starts_with("seed   sweep ") && lines[2].ends_with(" 2: 2 succeeded"), "{run}");
    assert!(lines[3].starts_with("seed   interactive ") && lines[3].contains("running for"), "{run}");

    // A sweep alone has the room for its words in full.
    for gone in ["seed-0-0", "grid-0-0-0", "grid-1-0-0", "solo-0-0", "lr-4-0-0"] {
        server.delete_pod(NAMESPACE, gone);
    }
    let run = env.run(&["list"]);
    assert!(run.stdout.contains(" 6: 2 running, 1 pending, 1 failed, 2 gone\n"), "{run}");

    let run = env.run(&["list", "--expand"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(first_words(&run), ["lr-0", "lr-1", "lr-2", "lr-3", "seed-0", "seed-1"], "{run}");
    assert!(run.stdout.lines().nth(4).unwrap().ends_with(" failed: exit code 2, Error"), "{run}");
}

#[test]
fn list_json_is_one_object_per_job_with_its_sweep() {
    let (env, _server) = setup(V2_22X);
    for args in [&["list", "-o", "json"][..], &["list", "-o", "json", "--expand"]] {
        let run = env.run(args);
        assert_eq!(run.code, Some(0), "{run}");
        let jobs: Vec<Value> = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}\n{run}"));
        let names: Vec<&str> = jobs.iter().map(|j| j["name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 11, "never grouped: {names:?}");
        let lr2 = jobs.iter().find(|j| j["name"] == "lr-2").unwrap();
        assert_eq!(
            [&lr2["sweep"], &lr2["sweep_index"], &lr2["sweep_size"], &lr2["sweep_point"], &lr2["state"]],
            [&json!("lr"), &json!(2), &json!(6), &json!("lr=1e-3 seed=2"), &json!("pending")],
            "{run}"
        );
        for plain in ["seed", "grid-0", "solo"] {
            let job = jobs.iter().find(|j| j["name"] == plain).unwrap();
            assert_eq!([&job["sweep"], &job["sweep_index"]], [&Value::Null, &Value::Null], "{plain}: {job}");
        }
    }
}

#[test]
fn list_watch_redraws_a_sweeps_counts() {
    let (env, server) = setup(V1);
    let mut child = env.command(&["list", "--watch"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 8192];
    let mut read_until = |wanted: &str, seen: &mut Vec<u8>| {
        while !String::from_utf8_lossy(seen).contains(wanted) {
            let n = stdout.read(&mut buf).unwrap();
            assert!(n > 0, "submit ended early:\n{}", String::from_utf8_lossy(seen));
            seen.extend_from_slice(&buf[..n]);
        }
    };
    read_until(" 6: 2 run, 1 pend,", &mut seen);
    server.put_pod_object(NAMESPACE, point("lr", 6, 2, json!({}), 600, running(1)), &[]);
    read_until(" 6: 3 run, 1 fail,", &mut seen);
    std::thread::sleep(Duration::from_millis(200));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    stdout.read_to_end(&mut seen).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130), "{}", String::from_utf8_lossy(&seen));
    assert_eq!(env.kubectl_calls(), 1, "one watch, no polling");
}

#[test]
fn delete_of_a_sweep_deletes_each_of_its_jobs_and_says_them_in_each_dialect() {
    for (double, verb) in [(V1, "delete job"), (V2_22X, "workload delete -y")] {
        let (env, server) = setup(double);
        let run = env.run(&["delete", "lr", "lr-3"]);
        assert_eq!(run.code, Some(0), "{run}");
        assert_eq!(deleted(&env), ["lr-0", "lr-1", "lr-2", "lr-3", "lr-4"], "{run}");
        assert!(env.runai_argvs().iter().all(|a| a.join(" ").starts_with(verb)), "{:?}", env.runai_argvs());
        assert!(
            run.stderr.contains("submit: deleting the sweep lr: its 5 job(s) lr-0, lr-1, lr-2, lr-3, lr-4\n"),
            "{run}"
        );
        assert!(run.stderr.contains("submit: deleted the job lr-2 (pod lr-2-0-0)\n"), "{run}");
        assert_eq!(left(&server), ["grid-0", "grid-1", "seed", "seed-0", "seed-1", "solo"], "{run}");
        // The listing, and the log of each of the four pods that ran (lr-2's
        // never did), kept before the deletes.
        assert_eq!(env.kubectl_calls(), 5, "{run}");
    }
}

#[test]
fn a_name_of_a_job_and_of_a_sweep_is_refused_until_said_which() {
    let (env, server) = setup(V2_22X);
    let run = env.run(&["delete", "seed"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: seed is both a job and a sweep of 2 job(s) (seed-0, seed-1): say which, with --job or --sweep; \
             nothing was deleted\n"
        ),
        "{run}"
    );
    assert!(env.runai_calls().is_empty(), "{:?}", env.runai_argvs());
    let run = env.run(&["delete", "--sweep", "seed"]);
    assert_eq!((run.code, deleted(&env)), (Some(0), vec!["seed-0".to_owned(), "seed-1".to_owned()]), "{run}");
    // The sweep is gone: the name is the job's alone now.
    server.wait_for_deletions();
    let run = env.run(&["delete", "seed"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(deleted(&env).last().map(String::as_str), Some("seed"), "{run}");
    assert!(!left(&server).iter().any(|j| j.starts_with("seed")), "{:?}", left(&server));
    let run = env.run(&["delete", "--job", "lr"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.ends_with("\nsubmit: lr is a sweep, not a job (--job); nothing was deleted\n"), "{run}");
}

#[test]
fn an_unknown_sweep_deletes_and_cleans_nothing_and_look_alikes_are_not_a_sweep() {
    let (env, _server) = setup(V1);
    let run = env.run(&["delete", "grid"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: no job or sweep named grid in namespace runai-mlo-ada (grid-0, grid-1 are named like its \
             points, but no pod says it belongs to a sweep grid: name the jobs themselves); nothing was deleted\n"
        ),
        "{run}"
    );
    let run = env.run(&["delete", "lr", "nope", "none"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr
            .ends_with("submit: no jobs or sweeps named nope, none in namespace runai-mlo-ada; nothing was deleted\n"),
        "{run}"
    );
    let run = env.run(&["clean", "nope"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("no job or sweep named nope in namespace runai-mlo-ada"), "{run}");
    assert!(env.runai_calls().is_empty(), "{:?}", env.runai_argvs());
}

#[test]
fn clean_of_a_sweep_takes_only_its_finished_jobs() {
    for (double, failed) in [(V1, false), (V2_22X, true)] {
        let (env, server) = setup(double);
        let mut args = vec!["clean", "lr"];
        if failed {
            args.push("--failed");
        }
        let run = env.run(&args);
        assert_eq!(run.code, Some(0), "{run}");
        let (expected, what, kept) = match failed {
            false => (vec!["lr-4"], "succeeded", "lr-0 (running), lr-1 (running), lr-2 (pending), lr-3 (failed)"),
            true => (vec!["lr-3", "lr-4"], "succeeded or failed", "lr-0 (running), lr-1 (running), lr-2 (pending)"),
        };
        assert_eq!(deleted(&env), expected, "{run}");
        let n = kept.matches(" (").count();
        assert!(
            run.stderr.contains(&format!("submit: keeping {n} job(s) of lr that are not {what}: {kept}\n")),
            "{run}"
        );
        let count = expected.len();
        assert!(
            run.stderr.contains(&format!("deleting {count} {what} job(s) of lr in namespace runai-mlo-ada:")),
            "{run}"
        );
        let listed: Vec<&str> = first_words(&run);
        assert_eq!(listed, expected, "the listing of what is deleted: one line per job\n{run}");
        for untouched in ["lr-0", "lr-1", "lr-2", "solo", "seed-0"] {
            assert!(left(&server).iter().any(|j| j == untouched), "{untouched} was deleted\n{run}");
        }
    }
    // Everything of the sweep still on its way: nothing to clean.
    let (env, server) = setup(V1);
    for done in ["lr-3-0-0", "lr-4-0-0"] {
        server.delete_pod(NAMESPACE, done);
    }
    let run = env.run(&["clean", "lr", "--failed"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stderr
            .ends_with("submit: nothing to clean: no succeeded or failed jobs of lr in namespace runai-mlo-ada\n"),
        "{run}"
    );
    assert!(env.runai_calls().is_empty(), "{:?}", env.runai_argvs());
}

#[test]
fn a_job_that_vanishes_between_list_and_delete_is_said_and_nothing_else_is_deleted() {
    for (double, said) in [(V1, "Error: job solo not found"), (V2_22X, "Error: workload lr-1 not found")] {
        let (env, server) = setup(double);
        // Gone right after submit's listing: deleted from another terminal.
        let vanishing = if double == V1 { "solo-0-0" } else { "lr-1-0-0" };
        server.vanish_after_listing(NAMESPACE, &[vanishing]);
        let run = env.run(&["delete", "grid-0", "solo", "lr"]);
        assert_eq!(run.code, Some(1), "{run}");
        let gone = vanishing.strip_suffix("-0-0").unwrap();
        assert_eq!(
            deleted(&env),
            ["grid-0", "solo", "lr-0", "lr-1", "lr-2", "lr-3", "lr-4"],
            "every delete is tried\n{run}"
        );
        assert!(
            run.stderr.contains(&format!("submit: runai could not delete the job {gone} (exit status 1):\n{said}")),
            "{run}"
        );
        assert!(
            run.stderr.contains(&format!(
                "submit: the job {gone} is gone: it was listed, but no pod of it is left in namespace runai-mlo-ada \
                 (deleted elsewhere since); there was nothing for runai to delete\n"
            )),
            "{run}"
        );
        assert!(run.stderr.ends_with(&format!("submit: could not delete {gone}: gone before runai ran\n")), "{run}");
        assert_eq!(left(&server), ["grid-1", "seed", "seed-0", "seed-1"], "{run}");
        // The listing, the log of each of the six listed pods that ran (the
        // gone one's answered NotFound), and one more listing to tell a gone
        // job from a failing runai.
        assert_eq!(env.kubectl_calls(), 8, "{run}");
        assert!(run.stderr.contains(&format!("submit: kept the log and status of {gone} in ")), "{run}");
    }
}
