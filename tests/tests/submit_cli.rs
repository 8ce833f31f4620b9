//! The real `submit` binary on its own: `--dry-run` output compared in
//! full, and every bad input we know of with its exit code and message.
//! Nothing here talks to a cluster; the `runai` double is first on PATH and
//! must never be called.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use nb_tests::runai_grammar::{self, Cli};
use nb_tests::submit_harness::{DEMO_JOB_ARGS, SubmitEnv, V1_CHOICE, fixed_submission};

const RUNAI_DOUBLE: &str = env!("CARGO_BIN_EXE_runai");

const DEMO: &str = include_str!("../../examples/demo.env");

fn room() -> SubmitEnv {
    let env = SubmitEnv::new(std::path::Path::new(RUNAI_DOUBLE));
    env.write_env(DEMO);
    env
}

const DRY_RUN_STDOUT: &str = "runai submit --name demo-job --project mlo-ada \
--image ic-registry.epfl.ch/mlo/mlo-base:uv1 --gpu 1 --run-as-uid 123456 --run-as-gid 83070 \
--pvc mlo-scratch:/mloscratch --image-pull-policy Always --cpu 4 --memory 32G --node-pools h100 \
--environment HOME=/home/ada --environment NB_USER=ada --environment NB_UID=123456 \
--environment NB_GROUP=MLO-unit --environment NB_GID=83070 --environment WORKING_DIR=/mloscratch/homes/ada \
--environment SCRATCH_HOME=/mloscratch/homes/ada --environment SCRATCH_HOME_ROOT=/mloscratch/homes \
--environment EPFML_LDAP=ada --environment HF_HOME=/mloscratch/hf_cache --environment UV_PYTHON_VERSION=3.11 \
--environment TZ=Europe/Zurich --environment GIT_CONFIG_GLOBAL=/mloscratch/homes/ada/.gitconfig \
--environment UV_CACHE_DIR=/mloscratch/homes/ada/.cache/uv \
--environment UV_PYTHON_INSTALL_DIR=/mloscratch/homes/ada/.uv \
--environment NB_JOB_NAME=demo-job --environment NB_SUBMISSION=<submission> \
--environment NB_JOB_KIND=interactive \
--environment GIT_USER_EMAIL=SECRET:runai-mlo-ada-env,GIT_USER_EMAIL \
--environment GIT_USER_NAME=SECRET:runai-mlo-ada-env,GIT_USER_NAME \
--environment HF_TOKEN=SECRET:runai-mlo-ada-env,HF_TOKEN \
--environment SSH_PRIVATE_KEY_B64=SECRET:runai-mlo-ada-env,SSH_PRIVATE_KEY_B64 \
--environment SSH_PUBLIC_KEY=SECRET:runai-mlo-ada-env,SSH_PUBLIC_KEY \
--environment WANDB_API_KEY=SECRET:runai-mlo-ada-env,WANDB_API_KEY \
--allow-privilege-escalation --interactive --preemptible \
-- /bin/zsh -c '_submit_script=\"$(printf %s Y2Qgfi9wcm9qICYmIHNvdXJjZSAudmVudi9iaW4vYWN0aXZhdGUgJiYgcHl0aG9uIHRyYWluLnB5IC0tbHIgJzFlLTMn \
| base64 -d)\"; printf '\"'\"'%s\\n'\"'\"' \"$_submit_script\"; source ~/.zshrc; eval \"$_submit_script\"'
";

const DRY_RUN_STDERR: &str = "submit: dry run: would sync Secret runai-mlo-ada-env in namespace runai-mlo-ada \
with keys: GIT_USER_EMAIL, GIT_USER_NAME, HF_TOKEN, K8S_NAMESPACE, LDAP_GID, LDAP_GROUPNAME, LDAP_UID, \
LDAP_USERNAME, RUNAI_IMAGE, RUNAI_PROJECT, RUNAI_SECRET_NAME, SCRATCH_MOUNT_PATH, SCRATCH_PVC, \
SSH_PRIVATE_KEY_B64, SSH_PUBLIC_KEY, WANDB_API_KEY
submit: dry run: by running: kubectl apply --server-side --force-conflicts --field-manager=submit --request-timeout=60s -f - (the manifest on stdin, not shown)
submit: dry run: the pod would run: cd ~/proj && source .venv/bin/activate && python train.py --lr '1e-3'
";

#[test]
fn dry_run_prints_the_whole_command_and_only_key_names() {
    let env = room();
    let args =
        [&DEMO_JOB_ARGS[..], &["--exp-folder", "~/proj", "--venv", ".venv", "-c", "python train.py --lr '1e-3'"]];
    let run = env.run(&args.concat());
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(fixed_submission(&run.stdout), DRY_RUN_STDOUT, "{run}");
    assert_eq!(run.stderr, format!("{V1_CHOICE}{DRY_RUN_STDERR}"), "{run}");
    for secret in ["demo-wandb-key-not-real", "hf_demo_not_a_real_token", "ZGVtbyBrZXksIG5vdCBhIHJlYWwgb25lCg=="] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret), "{secret} shown");
    }
    assert!(env.runai_calls().is_empty(), "dry run called runai");
    assert_eq!(env.runai_probes(), 1, "the dialect is probed once");
}

#[test]
fn dry_run_line_is_one_pasteable_command_the_runai_grammar_accepts() {
    let env = room();
    let run = env.run(&["--dry", "-n", "demo-job", "--workers", "2", "-c", "torchrun x.py \"$RANK\""]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    let words = shlex::split(run.stdout.trim_end()).unwrap_or_else(|| panic!("not shell words: {run}"));
    assert_eq!(words[0], "runai");
    let parsed = runai_grammar::parse(Cli::V1, &words[1..]).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(parsed.command, runai_grammar::Command::SubmitDistPytorch);
    assert_eq!(parsed.value("workers"), Some("2"));
    assert_eq!(parsed.value("backoff-limit"), Some("0"));
    assert!(!parsed.is_set("interactive"));
    assert!(
        run.stderr.starts_with(&format!(
            "submit: --workers makes this a distributed training job (--train is implied)\n{V1_CHOICE}"
        )),
        "{run}"
    );
}

#[test]
fn default_job_name_is_user_and_local_time() {
    let env = room();
    let run = env.run(&["--dry-run"]);
    assert_eq!(run.code, Some(0), "{run}");
    let words = shlex::split(run.stdout.trim_end()).unwrap_or_default();
    let name = &words[words.iter().position(|w| w == "--name").unwrap_or_else(|| panic!("{run}")) + 1];
    let (user, stamp) = name.split_at(4);
    assert_eq!(user, "ada-", "{name}");
    assert_eq!(stamp.len(), 15, "{name}");
    assert!(stamp.bytes().enumerate().all(|(i, b)| if i == 8 { b == b'-' } else { b.is_ascii_digit() }), "{name}");
    assert!(words.windows(2).any(|w| w[0] == "-c" && w[1].contains("printf %s c2xlZXAgNDMyMDA=")), "sleep 43200");
}

#[test]
fn sync_only_dry_run_prints_the_kubectl_line() {
    let env = room();
    let run = env.run(&["--dry-run", "--sync-secret-only"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        run.stdout,
        "kubectl apply --server-side --force-conflicts --field-manager=submit --request-timeout=60s -f -\n"
    );
}

#[test]
fn completions_are_generated() {
    let env = room();
    for shell in ["bash", "zsh", "fish"] {
        let run = env.run(&["--completions", shell]);
        assert_eq!(run.code, Some(0), "{run}");
        assert!(run.stdout.contains("skip-secret-sync"), "{shell}: {run}");
    }
}

/// Every bad input we know of: exit code 1, one `submit: ` line naming
/// the problem, runai never called.
#[test]
fn bad_input_is_refused_with_a_clear_message() {
    let demo_with = |from: &str, to: &str| DEMO.replace(from, to);
    let long_name = "a".repeat(64);
    let cases: Vec<(&str, Option<String>, Vec<&str>, String)> = vec![
        (
            "missing .env",
            None,
            vec!["--env-file", "nope.env"],
            "submit: cannot read the configuration nope.env: No such file or directory (os error 2); \
             run `submit init` to write the template there and fill it in, or pass --env-file\n"
                .into(),
        ),
        (
            "missing required key",
            Some(demo_with("LDAP_USERNAME=ada\n", "")),
            vec![],
            "submit: .env: LDAP_USERNAME is not set; add it (`submit init` writes a template with every key)\n".into(),
        ),
        (
            "placeholder left",
            Some(demo_with("LDAP_UID=123456", "LDAP_UID=00000")),
            vec![],
            "submit: .env:6: fill in LDAP_UID: it still holds the template placeholder \"00000\"\n".into(),
        ),
        (
            "placeholder inside a value",
            Some(demo_with("RUNAI_SECRET_NAME=runai-mlo-ada-env", "RUNAI_SECRET_NAME=<your-gaspar>-env")),
            vec![],
            "submit: .env:13: fill in RUNAI_SECRET_NAME: it still holds the template placeholder \"<your-gaspar>\"\n"
                .into(),
        ),
        (
            "non-numeric uid in the file",
            Some(demo_with("LDAP_UID=123456", "LDAP_UID=12x")),
            vec![],
            "submit: .env:6: LDAP_UID=\"12x\": must be a whole number\n".into(),
        ),
        ("non-numeric --uid", None, vec!["--uid", "ada"], "submit: --uid=\"ada\": must be a whole number\n".into()),
        ("root --gid", None, vec!["--gid", "0"], "submit: --gid=\"0\": must not be 0 (root)\n".into()),
        (
            "invalid job name",
            None,
            vec!["--name", "My_Job"],
            "submit: --name=\"My_Job\": must not contain 'M'; a job name is lower-case letters, digits and '-', \
             starts with a letter, and has at most 63 characters, such as my-job\n"
                .into(),
        ),
        (
            "job name too long",
            None,
            vec!["--name", &long_name],
            format!(
                "submit: --name=\"{}\": must be at most 63 characters; a job name is lower-case letters, digits and \
                 '-', starts with a letter, and has at most 63 characters, such as {}\n",
                "a".repeat(64),
                "a".repeat(63)
            ),
        ),
        (
            "invalid duration",
            None,
            vec!["--time", "12hours"],
            "submit: --time=\"12hours\" is not a duration: use a number with d, h, m or s, such as 12h, 30m or 2d6h30m\n"
                .into(),
        ),
        (
            "unreadable GitHub key",
            Some(demo_with("SSH_PRIVATE_KEY_B64=ZGVtbyBrZXksIG5vdCBhIHJlYWwgb25lCg==", "SSH_PRIVATE_KEY_B64=")
                + "GITHUB_SSH_KEY_PATH=~/keys\n"),
            vec![],
            String::new(), // depends on HOME; checked below
        ),
        (
            "line that does not parse",
            Some(format!("{DEMO}GIT_USER_NAME2 Ada Lovelace\n")),
            vec![],
            "submit: .env:25: cannot parse this line; write KEY=value, or start a comment with #\n".into(),
        ),
        (
            "unclosed quote",
            Some(format!("{DEMO}OPENAI_API_KEY='sk-1\n")),
            vec![],
            "submit: .env:25: the quoted value of OPENAI_API_KEY is never closed; end it with '\n".into(),
        ),
    ];
    for (what, env_text, args, message) in cases {
        let env = room();
        if let Some(text) = &env_text {
            env.write_env(text);
        }
        std::fs::create_dir_all(env.home.join("keys")).unwrap_or_else(|e| panic!("{e}"));
        let mut argv = vec!["--dry-run"];
        argv.extend(args);
        let run = env.run(&argv);
        assert_eq!(run.code, Some(1), "{what}: {run}");
        assert!(run.stdout.is_empty(), "{what}: {run}");
        if what == "unreadable GitHub key" {
            let expected = format!(
                "submit: cannot read the GitHub SSH key {}/keys (GITHUB_SSH_KEY_PATH): Is a directory (os error 21)\n",
                env.home.display()
            );
            assert_eq!(run.stderr, expected, "{what}: {run}");
        } else {
            assert_eq!(run.stderr, message, "{what}: {run}");
        }
        assert!(env.runai_calls().is_empty(), "{what}: runai was called");
    }
}

#[test]
fn usage_errors_exit_1_and_help_exits_0() {
    let env = room();
    let run = env.run(&["--frobnicate"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("unexpected argument '--frobnicate'"), "{run}");
    let run = env.run(&["--node-type", "k80", "--dry-run"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(run.stderr.contains("invalid value 'k80'"), "{run}");
    let run = env.run(&["--help"]);
    assert_eq!(run.code, Some(0), "{run}");
    for flag in ["--exp-folder", "--backofflimit", "--dry", "--node-type", "--kubectl-timeout"] {
        assert!(run.stdout.contains(flag), "{flag} missing from --help");
    }
}

/// A `.env` written for the Python wrapper, filled in and with the
/// template's trailing `# TODO` comments still on its lines, works as it is
/// and gives the pod what the wrapper gives it: GITHUB_TOKEN from the
/// Secret, UV_PYTHON_VERSION under that name, and a WORKING_DIR below the
/// home that leaves the persistent home (history, git config, uv) in the
/// home.
#[test]
fn a_file_written_for_the_wrapper_works_unchanged() {
    const WRAPPER_ENV: &str = "\
# my settings for the old csub.py
LDAP_USERNAME=ada # TODO: your Gaspar name
LDAP_UID=123456 # TODO: id -u
LDAP_GROUPNAME=MLO-unit
LDAP_GID=83070
RUNAI_PROJECT=mlo-ada # TODO
K8S_NAMESPACE=runai-mlo-ada # TODO
RUNAI_IMAGE=ic-registry.epfl.ch/mlo/mlo-base:uv1
RUNAI_SECRET_NAME=runai-mlo-ada-env # TODO
SCRATCH_PVC=mlo-scratch
SCRATCH_MOUNT_PATH=/mloscratch
SCRATCH_HOME_ROOT=/mloscratch/homes
WORKING_DIR=/mloscratch/homes/ada/thesis # TODO
HF_HOME=/mloscratch/hf_cache
UV_PYTHON_VERSION=3.11
TZ=Europe/Zurich
WANDB_API_KEY= # TODO: optional
HF_TOKEN=hf_not_real # TODO: optional
SSH_PRIVATE_KEY_B64=c2VlZAo=
SSH_PUBLIC_KEY='ssh-ed25519 AAAAnotreal ada'
SSH_KNOWN_HOSTS=
GIT_USER_NAME= # TODO: optional
GIT_USER_EMAIL= # TODO: optional
GITHUB_TOKEN=ghp_not_real # TODO: optional
EXTRA_SECRET_KEYS=
";
    let env = room();
    env.write_env(WRAPPER_ENV);
    let run = env.run(&["--dry", "-n", "thesis-1"]);
    assert_eq!(run.code, Some(0), "{run}");
    let words = shlex::split(run.stdout.trim_end()).unwrap_or_else(|| panic!("not shell words: {run}"));
    let parsed = runai_grammar::parse(Cli::V1, &words[1..]).unwrap_or_else(|e| panic!("{e}\n{run}"));
    let environment = parsed.values("environment");
    for expected in [
        "WORKING_DIR=/mloscratch/homes/ada/thesis",
        "SCRATCH_HOME=/mloscratch/homes/ada",
        "GIT_CONFIG_GLOBAL=/mloscratch/homes/ada/.gitconfig",
        "UV_CACHE_DIR=/mloscratch/homes/ada/.cache/uv",
        "UV_PYTHON_INSTALL_DIR=/mloscratch/homes/ada/.uv",
        "UV_PYTHON_VERSION=3.11",
        "GITHUB_TOKEN=SECRET:runai-mlo-ada-env,GITHUB_TOKEN",
        "HF_TOKEN=SECRET:runai-mlo-ada-env,HF_TOKEN",
    ] {
        assert!(environment.contains(&expected), "{expected} missing: {environment:?}");
    }
    // A key left empty behind its comment is empty, not the comment.
    assert!(
        !environment.iter().any(|e| e.starts_with("WANDB_API_KEY=") || e.starts_with("GIT_USER_NAME=")),
        "{environment:?}"
    );
    assert!(!environment.iter().any(|e| e.starts_with("UV_PYTHON=")), "{environment:?}");
    assert_eq!(parsed.value("project"), Some("mlo-ada"));

    // A half-filled template is reported in one go: each placeholder by
    // name and line, then each key still missing.
    env.write_env("# copy me\nLDAP_USERNAME=<you> # TODO: your Gaspar name\nLDAP_UID=00000 # TODO\n");
    let run = env.run(&["--dry"]);
    assert_eq!(run.code, Some(1), "{run}");
    let missing =
        |key: &str| format!("  .env: {key} is not set; add it (`submit init` writes a template with every key)\n");
    assert_eq!(
        run.stderr,
        format!(
            "submit: .env: 8 problems to fix:\n\
             \x20 .env:2: fill in LDAP_USERNAME: it still holds the template placeholder \"<you>\"\n\
             \x20 .env:3: fill in LDAP_UID: it still holds the template placeholder \"00000\"\n\
             {}{}{}{}{}\
             \x20 .env: set K8S_NAMESPACE or RUNAI_PROJECT (`submit init` writes a template with both)\n",
            missing("LDAP_GROUPNAME"),
            missing("LDAP_GID"),
            missing("RUNAI_IMAGE"),
            missing("RUNAI_SECRET_NAME"),
            missing("SCRATCH_PVC"),
        )
    );
}

/// As in the wrapper, an empty value means the flag's default (the
/// wrapper's `--node-type` default was the empty string), so a script that
/// passes an unset variable still works.
#[test]
fn empty_values_mean_the_defaults() {
    let env = room();
    let run = env.run(&["--dry", "-n", "", "-t", "", "-c", "", "--exp-folder", "", "-i", "", "--node-type", ""]);
    assert_eq!(run.code, Some(0), "{run}");
    let words = shlex::split(run.stdout.trim_end()).unwrap_or_else(|| panic!("not shell words: {run}"));
    let parsed = runai_grammar::parse(Cli::V1, &words[1..]).unwrap_or_else(|e| panic!("{e}\n{run}"));
    assert_eq!(parsed.value("node-pools"), None, "{run}");
    assert!(!parsed.is_set("preemptible"), "{run}");
    assert!(parsed.is_set("interactive"), "{run}");
    assert!(parsed.value("name").is_some_and(|n| n.starts_with("ada-")), "{run}");
    assert_eq!(parsed.value("image"), Some("ic-registry.epfl.ch/mlo/mlo-base:uv1"));
    assert!(run.stderr.ends_with("submit: dry run: the pod would run: sleep 43200\n"), "{run}");
}

/// The flags as people type them from argparse habit, each with what runai
/// gets: several pools after one `--node-type` (or repeated, or with
/// commas) as one comma-joined `--node-pools`, a bare `--node-type` as any
/// pool, and unambiguous prefixes of long options.
#[test]
fn argparse_habits_reach_runai_as_the_wrapper_sent_them() {
    type Check = fn(&runai_grammar::Parsed) -> bool;
    let cases: [(&[&str], &str, Check); 13] = [
        (&["--node-type", "h100", "h200"], "two values after one flag", |p| {
            p.value("node-pools") == Some("h100,h200") && p.is_set("preemptible")
        }),
        (&["--node-type", "h100", "--node-type", "v100"], "repeated flag", |p| {
            p.value("node-pools") == Some("h100,v100")
        }),
        (&["--node-type", "a100-40g,v100"], "commas", |p| {
            p.value("node-pools") == Some("a100-40g,v100") && !p.is_set("preemptible")
        }),
        (&["--node-type"], "bare flag: any pool", |p| p.value("node-pools").is_none() && p.is_set("interactive")),
        (&["--node-type", "h200", "--train"], "training on h200 is not preemptible", |p| {
            p.value("node-pools") == Some("h200") && !p.is_set("preemptible") && !p.is_set("interactive")
        }),
        (&["--gpu", "2"], "--gpu for --gpus", |p| p.value("gpu") == Some("2")),
        (&["--cpu", "4"], "--cpu for --cpus", |p| p.value("cpu") == Some("4")),
        (&["--mem", "16G"], "--mem for --memory", |p| p.value("memory") == Some("16G")),
        (&["--mem=16G", "--large"], "--mem=, --large for --large-shm", |p| {
            p.value("memory") == Some("16G") && p.is_set("large-shm")
        }),
        (&["--host"], "--host for --host-ipc", |p| p.is_set("host-ipc")),
        (&["--work", "1"], "--work for --workers", |p| {
            p.command == runai_grammar::Command::SubmitDistPytorch && p.value("workers") == Some("1")
        }),
        (&["--back", "3", "--tr"], "--back for --backofflimit, --tr for --train", |p| {
            p.value("backoff-limit") == Some("3")
        }),
        (&["-g", "1", "--dry", "--gpus", "2"], "an option given again: the last value", |p| {
            p.value("gpu") == Some("2")
        }),
    ];
    for (args, what, check) in cases {
        let env = room();
        let mut argv = vec!["--dry", "-n", "habit"];
        argv.extend_from_slice(args);
        let run = env.run(&argv);
        assert_eq!(run.code, Some(0), "{what}: {run}");
        let words = shlex::split(run.stdout.trim_end()).unwrap_or_else(|| panic!("{what}: not shell words: {run}"));
        let parsed = runai_grammar::parse(Cli::V1, &words[1..]).unwrap_or_else(|e| panic!("{what}: {e}\n{run}"));
        assert!(check(&parsed), "{what}: {}", run.stdout);
    }

    // --exp reaches the pod's script as --exp-folder.
    let run = room().run(&["--dry", "--exp", "~/thesis"]);
    assert!(run.stderr.ends_with("submit: dry run: the pod would run: cd ~/thesis && sleep 43200\n"), "{run}");
}

/// A prefix that starts several options is refused, naming all of them,
/// before anything runs.
#[test]
fn an_ambiguous_prefix_is_refused_naming_the_candidates() {
    let cases: [(&[&str], &str); 3] = [
        (
            &["--s", "x"],
            "error: ambiguous option '--s' could match --sync-secret-only, --skip-secret-sync, --secret-name, \
             --stop-signal, --sweep, --sweep-file\n",
        ),
        (&["--n", "job"], "error: ambiguous option '--n' could match --name, --node-type, --no-preflight, --no-save\n"),
        (&["--dry", "--h"], "error: ambiguous option '--h' could match --host-ipc, --help\n"),
    ];
    for (args, first_line) in cases {
        let env = room();
        let run = env.run(args);
        assert_eq!(run.code, Some(1), "{args:?}: {run}");
        assert!(run.stderr.starts_with(first_line), "{args:?}: {run}");
        assert!(run.stdout.is_empty() && env.runai_calls().is_empty(), "{args:?}: {run}");
    }
}

/// The command of the pod, as `submit` hands it to runai, run by the real
/// zsh with a stub `~/.zshrc`: the log starts with the script, then
/// `~/.zshrc` is sourced, then the script runs in that shell (in the
/// experiment folder, with the venv activated) and its exit code is the
/// shell's.
#[test]
#[allow(clippy::disallowed_methods, reason = "the pod command is run by the real zsh")]
fn the_pod_command_shows_the_script_then_runs_it_after_the_zshrc() {
    let env = room();
    let pod_home = env.root().join("pod-home");
    let exp = pod_home.join("exp dir");
    std::fs::create_dir_all(exp.join(".venv/bin")).unwrap();
    std::fs::write(pod_home.join(".zshrc"), "echo zshrc sourced\nexport FROM_ZSHRC=yes\n").unwrap();
    std::fs::write(exp.join(".venv/bin/activate"), "export FROM_VENV=yes\n").unwrap();
    let command = r#"printf '%s|' "$FROM_ZSHRC" "$FROM_VENV" "${PWD##*/}" 'it'"'"'s' "a  b" '$HOME'; echo; exit 3"#;
    let run = env.run(&["--dry", "--exp-folder", "~/'exp dir'", "--venv", ".venv", "-c", command]);
    assert_eq!(run.code, Some(0), "{run}");
    let words = shlex::split(run.stdout.trim_end()).unwrap_or_else(|| panic!("not shell words: {run}"));
    let argv = &words[words.iter().position(|w| w == "--").unwrap_or_else(|| panic!("no --: {run}")) + 1..];
    assert_eq!(argv.len(), 3, "{argv:?}");
    let zsh = std::path::Path::new(&argv[0]);
    assert!(zsh.is_file(), "{} not found: install zsh (.ci/install-deps does)", zsh.display());
    let out = std::process::Command::new(zsh)
        .args(&argv[1..])
        .env_clear()
        .env("HOME", &pod_home)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(&pod_home)
        .output()
        .unwrap();
    let script = format!("cd ~/'exp dir' && source .venv/bin/activate && {command}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{script}\nzshrc sourced\nyes|yes|exp dir|it's|a  b|$HOME|\n")
    );
    assert_eq!(out.status.code(), Some(3));
}

/// A value split by a space, or a negative count, is refused naming the
/// flag and the form it takes, not only clap's "unexpected argument".
#[test]
fn split_values_name_the_flag_and_the_joined_form() {
    let env = room();
    for (args, message) in [
        (&["--dry", "-t", "5", "hours"][..], "-t 5 hours: a value cannot be split by a space; write -t 5h"),
        (
            &["--dry", "--memory", "32", "GB"][..],
            "--memory 32 GB: a value cannot be split by a space; write --memory 32G",
        ),
        (&["--dry", "--workers", "-1"][..], "--workers -1: must not be negative"),
    ] {
        let run = env.run(args);
        assert_eq!(run.code, Some(1), "{run}");
        assert!(run.stderr.starts_with(&format!("error: {message}\n")), "{args:?}: {run}");
        assert!(env.runai_calls().is_empty());
    }
}
