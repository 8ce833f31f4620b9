//! Sweeps through the real binary: dry runs in both dialects, every refusal
//! before anything runs, and real sweeps with the real kubectl against the
//! fake API server and the runai doubles (one Secret write, one pre-flight,
//! one submission per point, a refused point, a taken name).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use nb_tests::fake_apiserver::{FakeApiServer, PodState, Timeline};
use nb_tests::runai_grammar::{self, Cli, Parsed};
use nb_tests::submit_harness::{Run, SubmitEnv};

const V1: &str = env!("CARGO_BIN_EXE_runai");
const V2_219: &str = env!("CARGO_BIN_EXE_runai-v2-219");
const V2_22X: &str = env!("CARGO_BIN_EXE_runai-v2-22x");
const NAMESPACE: &str = "runai-mlo-ada";

const ENV: &str = "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE=runai-mlo-ada\nRUNAI_IMAGE=reg.example/img:1\n\
RUNAI_SECRET_NAME=ada-env\nSCRATCH_PVC=mlo-scratch\nHF_TOKEN=hf_secret_value\n";

/// The 2x3 grid every test starts from: `lr-0` .. `lr-5`.
const GRID: [&str; 7] = [
    "-n",
    "lr",
    "--sweep",
    "lr=1e-3,1e-4",
    "--sweep",
    "seed=0,1,2",
    "--command=python train.py --lr {lr} --seed {seed}",
];

/// The points of [`GRID`], in order (the last key fastest).
const POINTS: [(&str, &str); 6] =
    [("1e-3", "0"), ("1e-3", "1"), ("1e-3", "2"), ("1e-4", "0"), ("1e-4", "1"), ("1e-4", "2")];

/// The three doubles: each dialect with the flag its pod variables go in.
const DIALECTS: [(&str, Cli, &str); 3] = [
    (V1, Cli::V1, "environment"),
    (V2_219, Cli::V2Era219, "environment"),
    (V2_22X, Cli::V2Era22x, "environment-variable"),
];

/// A room with [`ENV`]; for the 2.19-era CLI, which has no `--env-secret`,
/// without the secret key (with it every job is refused, see
/// `a_2_19_era_cli_refuses_a_sweep_that_needs_the_secret_before_anything_runs`).
fn room(double: &str) -> SubmitEnv {
    let env = SubmitEnv::new(Path::new(double));
    match double {
        V2_219 => env.write_env(&ENV.replace("HF_TOKEN=hf_secret_value\n", "")),
        _ => env.write_env(ENV),
    };
    env
}

/// A room and a server whose namespace has the scratch claim, kubectl counted.
fn cluster(double: &str) -> (SubmitEnv, FakeApiServer) {
    let server = FakeApiServer::start().unwrap();
    server.add_pvc(NAMESPACE, "mlo-scratch");
    let mut env = room(double);
    env.use_apiserver(&server, NAMESPACE);
    env.count_kubectl_calls();
    (env, server)
}

fn parse(cli: Cli, line: &str) -> Parsed {
    let words = shlex::split(line).unwrap_or_else(|| panic!("not shell words: {line}"));
    assert_eq!(words[0], "runai", "{line}");
    runai_grammar::parse(cli, &words[1..]).unwrap_or_else(|e| panic!("{cli:?} grammar: {e}\n{line}"))
}

/// The script the pod would run, decoded from the line's `zsh -c` snippet.
fn script(parsed: &Parsed) -> String {
    let snippet = parsed.container_command.last().expect("a container command");
    let payload = submit::pod_command::snippet_payload(snippet).expect("submit's snippet");
    use base64::Engine as _;
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(payload).unwrap()).unwrap()
}

fn variable<'a>(parsed: &'a Parsed, flag: &str, name: &str) -> Option<&'a str> {
    parsed.values(flag).into_iter().find_map(|v| v.strip_prefix(name)?.strip_prefix('='))
}

/// The lines of the table `submit` ends a real sweep with, header first.
fn table(run: &Run) -> Vec<Vec<String>> {
    run.stdout
        .lines()
        .map(|l| l.split("  ").map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect())
        .collect()
}

#[test]
fn a_2x3_dry_run_prints_six_lines_each_with_its_name_point_and_command_in_every_dialect() {
    for (double, cli, env_flag) in DIALECTS {
        let env = room(double);
        let extra = ["-e", "RUN_NAME=lr{lr}-s{seed}", "-e", "JSON={{\"seed\": {seed}}}", "-e", "PLAIN=as typed"];
        let extra = [&extra[..], &["--exp-folder", "${{HOME}}/runs/{lr}"]].concat();
        let run = env.run(&[&["--dry-run"], &GRID[..], &extra].concat());
        assert_eq!(run.code, Some(0), "{run}");
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert_eq!(lines.len(), 6, "{cli:?}: {run}");
        for (i, (line, (lr, seed))) in lines.iter().zip(POINTS).enumerate() {
            let parsed = parse(cli, line);
            let name = format!("lr-{i}");
            assert_eq!(parsed.name.as_deref(), Some(name.as_str()), "{cli:?}: {line}");
            let want = format!("cd ${{HOME}}/runs/{lr} && python train.py --lr {lr} --seed {seed}");
            assert_eq!(script(&parsed), want, "{cli:?}");
            let index = i.to_string();
            let point = format!("lr={lr} seed={seed}");
            let run_name = format!("lr{lr}-s{seed}");
            for (var, want) in [
                ("NB_JOB_NAME", name.as_str()),
                ("NB_SWEEP", "lr"),
                ("NB_SWEEP_SIZE", "6"),
                ("NB_SWEEP_INDEX", index.as_str()),
                ("NB_SWEEP_POINT", point.as_str()),
                ("RUN_NAME", run_name.as_str()),
                ("JSON", &format!("{{\"seed\": {seed}}}")),
                ("PLAIN", "as typed"),
            ] {
                assert_eq!(variable(&parsed, env_flag, var), Some(want), "{cli:?} {var}: {line}");
            }
        }
        assert!(
            run.stderr.contains(
                "submit: dry run: the pod of lr-5 would run: cd ${HOME}/runs/1e-4 && python train.py --lr 1e-4 --seed 2\n"
            ),
            "{run}"
        );
        assert!(env.runai_calls().is_empty(), "a dry run submits nothing: {:?}", env.runai_argvs());
    }
}

#[test]
fn names_are_padded_to_the_width_of_the_grid() {
    let env = room(V1);
    let run = env.run(&["--dry-run", "-n", "s", "--sweep", "seed=0,1,2,3,4,5,6,7,8,9,10", "-c", "train {seed}"]);
    assert_eq!(run.code, Some(0), "{run}");
    let names: Vec<String> = run.stdout.lines().map(|l| parse(Cli::V1, l).name.unwrap()).collect();
    assert_eq!((names[0].as_str(), names[7].as_str(), names[10].as_str()), ("s-00", "s-07", "s-10"));
    let eighth = parse(Cli::V1, run.stdout.lines().nth(7).unwrap());
    assert_eq!(variable(&eighth, "environment", "NB_SWEEP_INDEX"), Some("07"));
}

#[test]
fn a_sweep_file_value_keeps_its_comma_and_space() {
    let env = room(V2_22X);
    let file = env.project.join("points.txt");
    std::fs::write(&file, "# optimiser settings\nopt='adam, beta=0.9' lr=1\n\nopt=sgd lr=2  # plain\n").unwrap();
    let run = env.run(&["--dry-run", "-n", "opt", "--sweep-file", "points.txt", "-c", "train --opt '{opt}' --lr {lr}"]);
    assert_eq!(run.code, Some(0), "{run}");
    let lines: Vec<Parsed> = run.stdout.lines().map(|l| parse(Cli::V2Era22x, l)).collect();
    assert_eq!(lines.len(), 2, "{run}");
    assert_eq!(script(&lines[0]), "train --opt 'adam, beta=0.9' --lr 1");
    assert_eq!(script(&lines[1]), "train --opt 'sgd' --lr 2");
    assert_eq!(
        variable(&lines[0], "environment-variable", "NB_SWEEP_POINT"),
        Some("'opt=adam, beta=0.9' lr=1"),
        "the point is shell words, as in the file"
    );
}

/// Each refusal: exit 1, the message as the last line, nothing run.
#[test]
fn bad_sweeps_are_refused_naming_the_reason_before_anything_runs() {
    let (env, server) = cluster(V1);
    std::fs::write(env.project.join("bad.txt"), "lr=1\nlr=2 seed=3\n").unwrap();
    let hundred_and_one = (0..101).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let many = format!("seed={hundred_and_one}");
    let long = "a".repeat(61);
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["-n", "lr", "--sweep", "lr=1,2", "-c", "train {lrr}"],
            "--command: {lrr} is not swept: the sweep's keys are lr".into(),
        ),
        (
            vec!["-n", "lr", "--sweep", "lr=1,2", "-c", "train", "--exp-folder", "runs/{seed}"],
            "--exp-folder: {seed} is not swept: the sweep's keys are lr".into(),
        ),
        (
            vec!["-n", "lr", "--sweep", "lr=1,2", "-c", "x", "-e", "TAG={tag}"],
            "-e TAG: {tag} is not swept: the sweep's keys are lr".into(),
        ),
        (
            vec!["-n", "lr", "--sweep", "lr=1,2", "--sweep", "seed=0,1", "-c", "train {lr}"],
            "the swept key seed is used in none of --command, --exp-folder and -e values (as {seed}): its points \
             would be the same job"
                .into(),
        ),
        (
            vec!["-n", "lr", "--sweep", "lr=1,2", "-c", "awk '{print $1}' {lr}"],
            "--command: {print $1} is not a sweep key; write {{ and }} for literal braces".into(),
        ),
        (
            vec!["--sweep", "lr=1,2", "-c", "x {lr}"],
            "a sweep needs --name: its jobs are <name>-<index>, the same names on a rerun".into(),
        ),
        (
            vec!["-n", "lr", "--sweep", "lr=1", "--sweep-file", "bad.txt", "-c", "x {lr}"],
            "--sweep and --sweep-file cannot be used together: put the whole grid in the file".into(),
        ),
        (
            vec!["-n", "lr", "--sweep-file", "bad.txt", "-c", "x {lr}"],
            "bad.txt:2: seed not on the first point; every point names the same keys".into(),
        ),
        (
            vec!["-n", "lr", "--sweep", &many, "-c", "x {seed}"],
            "the sweep has 101 points, more than 100 (--max-jobs); nothing was submitted; pass --max-jobs 101 if \
             that many jobs are meant"
                .into(),
        ),
        (
            vec!["-n", &long, "--sweep", "seed=0,1,2,3,4,5,6,7,8,9,10", "-c", "x {seed}"],
            format!(
                "--name={long:?}: the sweep's jobs would be named like {long}-10, longer than 63 characters; use a \
                 name of at most 60"
            ),
        ),
        (
            vec!["-n", "lr", "--sweep", "lr=1,2", "-c", "x {lr}", "--attach"],
            "--attach is refused with a sweep: it takes you into one job; use --wait to follow them all, then \
             `submit shell JOB` or `submit logs JOB` for one"
                .into(),
        ),
        (
            vec!["-n", "lr", "--sweep", "lr=1,2", "-c", "x {lr}", "-e", "NB_SWEEP=other"],
            "-e NB_SWEEP: submit sets NB_SWEEP itself; it cannot be given with -e".into(),
        ),
    ];
    for (args, message) in cases {
        let run = env.run(&args);
        assert_eq!(run.code, Some(1), "{args:?}: {run}");
        let last = run.stderr.lines().last().unwrap_or_default();
        assert!(last == format!("submit: {message}") || last.ends_with(&format!(": {message}")), "{args:?}: {run}");
        assert!(run.stdout.is_empty(), "{args:?}: {run}");
    }
    assert_eq!(env.kubectl_calls(), 0, "nothing reached the cluster");
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
    assert!(env.runai_calls().is_empty(), "runai ran: {:?}", env.runai_argvs());
    let run = env.run(&["-n", "lr", "--sweep", &many, "-c", "x {seed}", "--max-jobs", "101", "--dry-run"]);
    assert_eq!((run.code, run.stdout.lines().count()), (Some(0), 101), "--max-jobs lets it through: {run}");
}

#[test]
fn a_real_sweep_syncs_once_checks_every_name_at_once_and_submits_each_point() {
    for (double, cli, env_flag) in DIALECTS {
        let (env, server) = cluster(double);
        // A job whose name merely starts with a point's name does not count.
        server.set_pod(NAMESPACE, "lr-1-x-0-0", "reg.example/img:1", &PodState::Running);
        let run = env.run(&[&GRID[..], &["--parallel", "3"]].concat());
        assert_eq!(run.code, Some(0), "{cli:?}: {run}");
        assert_eq!(server.patches().len(), 1, "{cli:?}: one Secret write");
        let pod_lists = server.requests().iter().filter(|r| r.method == "GET" && r.path().ends_with("/pods")).count();
        assert_eq!(pod_lists, 1, "{cli:?}: one pre-flight for every name");
        assert_eq!(env.kubectl_calls(), 2, "{cli:?}: the check and the apply");
        let mut names = Vec::new();
        for argv in env.runai_argvs() {
            let parsed = runai_grammar::parse(cli, &argv).unwrap_or_else(|e| panic!("{cli:?} grammar: {e}"));
            let name = parsed.name.clone().unwrap();
            let index = name.strip_prefix("lr-").unwrap();
            assert_eq!(variable(&parsed, env_flag, "NB_SWEEP_INDEX"), Some(index), "{cli:?}: {argv:?}");
            names.push(name);
        }
        names.sort();
        assert_eq!(names, ["lr-0", "lr-1", "lr-2", "lr-3", "lr-4", "lr-5"], "{cli:?}");
        let rows = table(&run);
        assert_eq!(rows[0], ["INDEX", "NAME", "POINT", "RESULT"], "{run}");
        for (i, (lr, seed)) in POINTS.iter().enumerate() {
            assert_eq!(
                rows[i + 1],
                [i.to_string(), format!("lr-{i}"), format!("lr={lr} seed={seed}"), "submitted".into()],
                "{run}"
            );
        }
        assert!(
            run.stderr.ends_with(
                "submit: all 6 jobs of the sweep lr were submitted; see them with `submit list`, one with `submit \
                 logs lr-0`\n"
            ),
            "{run}"
        );
        // The check came before the Secret was written.
        let requests = server.requests();
        let listed = requests.iter().position(|r| r.path().ends_with("/pods")).unwrap();
        let patched = requests.iter().position(|r| r.method == "PATCH").unwrap();
        assert!(listed < patched, "{cli:?}: the check ran after the apply");
    }
}

#[test]
fn a_2_19_era_cli_refuses_a_sweep_that_needs_the_secret_before_anything_runs() {
    let (env, server) = cluster(V2_219);
    env.write_env(ENV);
    let run = env.run(&GRID);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(run.stderr.matches("without --env-secret").count(), 1, "said once, not per point: {run}");
    assert!(
        run.stderr.ends_with(
            "(HF_TOKEN), and submit never puts a secret value on the command line; set RUNAI_CLI=v1 in the .env (or \
             pass --runai-cli v1) if the cluster still takes v1 commands, or update the run:ai CLI; nothing was sent\n"
        ),
        "{run}"
    );
    assert!(!run.stderr.contains("hf_secret_value"), "{run}");
    assert_eq!(env.kubectl_calls(), 0, "nothing reached the cluster: {run}");
    assert!(server.requests().is_empty(), "{:#?}", server.requests());
    assert!(env.runai_calls().is_empty(), "runai ran: {:?}", env.runai_argvs());
}

#[test]
fn one_refused_point_does_not_stop_the_others_and_keeps_runais_words() {
    for (double, _, _) in DIALECTS {
        one_refused_point(double);
    }
}

fn one_refused_point(double: &str) {
    let (mut env, server) = cluster(double);
    env.set_env("RUNAI_DOUBLE_REFUSE", "lr-1:quota exceeded for project mlo-ada (test double)");
    // One at a time, so that the points after the refused one start after it.
    let run = env.run(&[&GRID[..], &["--parallel", "1"]].concat());
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(env.runai_calls().len(), 6, "every point was tried: {:?}", env.runai_argvs());
    assert_eq!(server.patches().len(), 1);
    let rows = table(&run);
    for (i, row) in rows[1..].iter().enumerate() {
        let want = match i {
            1 => "failed: Error: quota exceeded for project mlo-ada (test double)",
            _ => "submitted",
        };
        assert_eq!(row[3], want, "{run}");
    }
    assert!(run.stderr.contains("submit: runai did not submit lr-1 (2 of 6 done):\nError: quota exceeded"), "{run}");
    assert!(run.stderr.ends_with("submit: 1 of 6 jobs were not submitted: lr-1\n"), "{run}");
}

#[test]
fn a_taken_name_stops_the_sweep_before_the_secret_and_lists_every_taken_one() {
    for (double, _, _) in DIALECTS {
        a_taken_name(double);
    }
}

fn a_taken_name(double: &str) {
    let (env, server) = cluster(double);
    server.set_pod(NAMESPACE, "lr-3-0-0", "reg.example/img:1", &PodState::Running);
    server.set_pod(NAMESPACE, "lr-5-0-0", "reg.example/img:1", &PodState::Running);
    let run = env.run(&GRID);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: 2 of the 6 jobs of the sweep lr already exist in namespace runai-mlo-ada: lr-3 (lr-3-0-0 Running \
             on gpu-node-7), lr-5 (lr-5-0-0 Running on gpu-node-7); nothing was submitted; pick another --name, or \
             delete them first: submit delete lr-3 lr-5\n"
        ),
        "{run}"
    );
    assert!(server.patches().is_empty(), "the Secret was applied: {:#?}", server.patches());
    assert!(env.runai_calls().is_empty(), "runai ran: {:?}", env.runai_argvs());
    assert_eq!(env.kubectl_calls(), 1, "only the check");
}

#[test]
fn replace_with_a_sweep_deletes_its_finished_jobs_first_and_refuses_if_one_runs() {
    let (env, server) = cluster(V1);
    server.set_pod(NAMESPACE, "lr-3-0-0", "reg.example/img:1", &PodState::Terminated { exit_code: 0 });
    server.set_pod(NAMESPACE, "lr-5-0-0", "reg.example/img:1", &PodState::Terminated { exit_code: 1 });
    let run = env.run(&[&GRID[..], &["--replace", "--no-save"]].concat());
    assert_eq!(run.code, Some(0), "{run}");
    let verbs: Vec<String> = env.runai_argvs().iter().map(|a| format!("{} {}", a[0], a[2])).collect();
    assert_eq!(verbs[..2], ["delete lr-3", "delete lr-5"], "the finished jobs go before any point is submitted: {run}");
    let mut submitted = verbs[2..].to_vec();
    submitted.sort();
    assert_eq!(submitted, (0..6).map(|i| format!("submit lr-{i}")).collect::<Vec<_>>(), "{run}");
    assert_eq!(server.patches().len(), 1, "one Secret write: {run}");
    assert!(run.stderr.contains("submit: submitting the 6 jobs of the sweep lr, at most 4 at a time "), "{run}");

    let (env, server) = cluster(V1);
    server.set_pod(NAMESPACE, "lr-3-0-0", "reg.example/img:1", &PodState::Terminated { exit_code: 0 });
    server.set_pod(NAMESPACE, "lr-5-0-0", "reg.example/img:1", &PodState::Running);
    let run = env.run(&[&GRID[..], &["--replace"]].concat());
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("submit: a job named lr-5 is still running "), "{run}");
    assert!(run.stderr.contains("`submit delete lr-5`"), "{run}");
    assert!(env.runai_calls().is_empty(), "nothing deleted or submitted: {:?}", env.runai_argvs());
    assert!(server.patches().is_empty(), "the Secret was applied: {:#?}", server.patches());
}

#[test]
fn replace_dry_run_with_a_sweep_prints_the_deletes_the_wait_and_every_point() {
    let (env, server) = cluster(V1);
    server.set_pod(NAMESPACE, "lr-3-0-0", "reg.example/img:1", &PodState::Terminated { exit_code: 0 });
    server.set_pod(NAMESPACE, "lr-5-0-0", "reg.example/img:1", &PodState::Terminated { exit_code: 1 });
    let run = env.run(&[&GRID[..], &["--replace", "--no-save", "--dry-run"]].concat());
    assert_eq!(run.code, Some(0), "{run}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2 + 1 + 6, "two deletes, one wait, six submissions: {run}");
    assert_eq!(lines[..2], ["runai delete job lr-3 -p mlo-ada", "runai delete job lr-5 -p mlo-ada"], "{run}");
    assert!(
        lines[2].starts_with("kubectl wait --for=delete ") && lines[2].ends_with(" pod/lr-3-0-0 pod/lr-5-0-0"),
        "{run}"
    );
    for (i, line) in lines[3..].iter().enumerate() {
        assert_eq!(parse(Cli::V1, line).name, Some(format!("lr-{i}")), "{run}");
    }
    for (job, state) in [("lr-3", "succeeded"), ("lr-5", "failed: exit code 1")] {
        let said = format!("delete the job {job} ({state}");
        assert!(run.stderr.contains(&said), "{run}");
        assert!(run.stderr.contains(&format!("; pod {job}-0-0) and wait until its pods are gone")), "{run}");
    }
    assert!(env.runai_calls().is_empty(), "a dry run deletes and submits nothing: {:?}", env.runai_argvs());
    assert!(server.patches().is_empty(), "{:#?}", server.patches());
}

#[test]
fn wait_follows_every_job_and_ends_with_the_table_of_how_each_is() {
    let (env, server) = cluster(V1);
    let ms = Duration::from_millis;
    for job in ["w-0", "w-2"] {
        server.arm_timeline(
            NAMESPACE,
            job,
            Timeline::new().then(ms(100), "0-0", PodState::Creating).then(ms(200), "0-0", PodState::Running),
        );
    }
    let refused = "couldn't find key HF_TOKEN in Secret runai-mlo-ada/ada-env";
    let waiting = PodState::Waiting { reason: "CreateContainerConfigError".into(), message: refused.into() };
    server.arm_timeline(NAMESPACE, "w-1", Timeline::new().then(ms(100), "0-0", waiting));
    let run = env.run(&["-n", "w", "--sweep", "seed=0,1,2", "-c", "train {seed}", "--wait"]);
    assert_eq!(run.code, Some(1), "a job that cannot start fails the wait: {run}");
    let results: Vec<String> = table(&run)[1..].iter().map(|row| row[3].clone()).collect();
    assert_eq!(results[0], "running", "{run}");
    let why = "w-1-0-0 cannot start: cannot create the container (CreateContainerConfigError): the Secret ada-env has \
               no key HF_TOKEN";
    assert!(results[1].starts_with(why), "{run}");
    assert_eq!(results[2], "running", "{run}");
}

/// A job that stays pending uses up the deadline; the jobs after it are
/// still said as they are (one look at the end), not left unfollowed.
#[test]
fn wait_past_a_pending_job_still_says_how_every_later_job_is() {
    let (env, server) = cluster(V1);
    let ms = Duration::from_millis;
    let full = "0/12 nodes are available: 12 Insufficient nvidia.com/gpu.";
    server.arm_timeline(
        NAMESPACE,
        "w-0",
        Timeline::new().then(ms(100), "0-0", PodState::Unschedulable { message: full.into() }),
    );
    server.arm_timeline(NAMESPACE, "w-1", Timeline::new().then(ms(100), "0-0", PodState::Running));
    let refused = "couldn't find key HF_TOKEN in Secret runai-mlo-ada/ada-env";
    let waiting = PodState::Waiting { reason: "CreateContainerConfigError".into(), message: refused.into() };
    server.arm_timeline(NAMESPACE, "w-2", Timeline::new().then(ms(100), "0-0", waiting));
    let run = env.run(&["-n", "w", "--sweep", "seed=0,1,2", "-c", "train {seed}", "--wait", "--wait-timeout", "2s"]);
    assert_eq!(run.code, Some(1), "a job that cannot start fails the wait: {run}");
    let results: Vec<String> = table(&run)[1..].iter().map(|row| row[3].clone()).collect();
    assert_eq!(results[0], format!("still waiting (--wait-timeout): w-0-0-0: Pending, waiting for a node: {full}"));
    assert_eq!(results[1], "running", "{run}");
    assert!(results[2].starts_with("w-2-0-0 cannot start: cannot create the container"), "{run}");
}

#[test]
fn ctrl_c_stops_starting_submissions_and_says_which_went_through() {
    let (mut env, _server) = cluster(V1);
    env.set_env("RUNAI_DOUBLE_SUBMIT_MS", "400");
    let child = env
        .command(&[&GRID[..], &["--parallel", "1"]].concat())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Ctrl-C once the first submission is under way.
    let give_up = std::time::Instant::now() + Duration::from_secs(30);
    while env.runai_calls().is_empty() {
        assert!(std::time::Instant::now() < give_up, "no submission started");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, Some(130), "{run}");
    assert_eq!(env.runai_calls().len(), 1, "no submission starts after Ctrl-C: {:?}", env.runai_argvs());
    let results: Vec<String> = table(&run)[1..].iter().map(|row| row[3].clone()).collect();
    assert_eq!(results[0], "submitted", "the one under way finishes: {run}");
    assert!(results[1..].iter().all(|r| r == "not submitted (Ctrl-C)"), "{run}");
    assert!(
        run.stderr.ends_with(
            "submit: stopped submitting (Ctrl-C): submitted lr-0; not submitted lr-1, lr-2, lr-3, lr-4, lr-5\n"
        ),
        "{run}"
    );
}

#[test]
fn ctrl_c_while_waiting_ends_the_wait_with_the_table_and_leaves_the_jobs() {
    let (env, server) = cluster(V1);
    let full = "0/12 nodes are available: 12 Insufficient nvidia.com/gpu.";
    for job in ["w-0", "w-1"] {
        let pending = PodState::Unschedulable { message: full.into() };
        server.arm_timeline(NAMESPACE, job, Timeline::new().then(Duration::from_millis(50), "0-0", pending));
    }
    let child = env
        .command(&["-n", "w", "--sweep", "seed=0,1", "-c", "train {seed}", "--wait"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Ctrl-C once both are submitted and the wait has begun.
    let give_up = std::time::Instant::now() + Duration::from_secs(30);
    while env.runai_calls().len() < 2 || env.kubectl_calls() < 3 {
        assert!(std::time::Instant::now() < give_up, "the wait did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let run = Run::from(child.wait_with_output().unwrap());
    assert_eq!(run.code, Some(130), "{run}");
    let results: Vec<String> = table(&run)[1..].iter().map(|row| row[3].clone()).collect();
    assert_eq!(results, ["submitted, not followed (Ctrl-C)"; 2], "{run}");
    assert_eq!(env.runai_calls().len(), 2, "nothing deleted: {:?}", env.runai_argvs());
}
