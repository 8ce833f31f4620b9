//! pod-init's own arguments, run for real: `--help` and `--version` (and
//! `-h`, `-V`) as a plain process and as the container's PID 1 with every
//! variable of a bootstrap set, where they must answer and touch nothing;
//! and a job whose own arguments are `--help`, which must reach the job.
//!
//! Needs root (the sandbox; the plain runs drop to nobody).

// Helpers outside #[test] functions fail the test by panicking, like asserts.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
#![allow(clippy::disallowed_methods, reason = "runs the real pod-init as a plain process")]

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::env::{OPTIONAL_POD_VARS, POD_INIT_SETTINGS, REQUIRED_POD_VARS};
use common::image::POD_INIT_MARKER;
use nb_tests::researcher::{self, HOME, UID, USER};
use nb_tests::sandbox::{Error, LAB_GID, NOBODY, Output, RunSpec, SCRATCH_MOUNT, Sandbox};

type Result = std::result::Result<(), Error>;

const VERSION: &str = concat!("pod-init ", env!("CARGO_PKG_VERSION"), "\n");

/// A pod's whole bootstrap environment, as submit sets it for Ada.
fn ada(command: &[&str]) -> RunSpec {
    RunSpec::pod_init(command.iter().copied())
        .as_user(UID, LAB_GID)
        .envs(researcher::account_vars(SCRATCH_MOUNT, UID, LAB_GID))
        .env("HF_HOME", format!("{SCRATCH_MOUNT}/hf_cache"))
}

/// The usage text: how pod-init is called, and every variable it reads.
fn assert_usage(out: &Output) {
    out.assert_success();
    assert!(out.stdout.starts_with(VERSION.trim_end()), "{}", out.stdout);
    assert!(out.stdout.contains("\nUsage: pod-init [--] COMMAND [ARG...]\n"), "{}", out.stdout);
    for name in REQUIRED_POD_VARS.iter().chain(&OPTIONAL_POD_VARS).chain(&POD_INIT_SETTINGS) {
        assert!(out.stdout.split_whitespace().any(|w| w == *name), "{name} not in the usage:\n{}", out.stdout);
    }
    assert_eq!(out.stderr, "", "pod-init logged while answering");
}

/// pod-init on the host, as nobody, with nothing but `PATH` and a
/// bootstrap's variables.
fn plain(arg: &str) -> Output {
    let mut cmd = Command::new(nb_tests::binaries::pod_init());
    cmd.arg(arg).env_clear().env("PATH", "/usr/bin:/bin").envs(researcher::account_vars("/nonexistent", UID, LAB_GID));
    // As nobody: an unrecognised flag would then only fail to run a
    // program, not bootstrap this machine.
    cmd.uid(NOBODY).gid(NOBODY).current_dir("/");
    let out = cmd.output().expect("run pod-init");
    Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn help_and_version_answer_as_a_plain_process() -> Result {
    nb_tests::sandbox::require_root()?;
    let help = plain("--help");
    assert_usage(&help);
    assert_eq!(plain("-h").stdout, help.stdout, "-h is --help");
    for flag in ["--version", "-V"] {
        let out = plain(flag);
        out.assert_success();
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), (VERSION, ""), "{flag}");
    }
    Ok(())
}

#[test]
fn help_and_version_as_pid_1_touch_nothing() -> Result {
    let sb = Sandbox::new()?;
    let scratch_before = sb.scratch_listing()?;
    let passwd_before = sb.read_etc("passwd")?;
    for flag in ["--help", "-h", "--version", "-V"] {
        let out = sb.run(&ada(&[flag]))?;
        if flag.contains('h') {
            assert_usage(&out);
        } else {
            out.assert_success();
            assert_eq!((out.stdout.as_str(), out.stderr.as_str()), (VERSION, ""), "{flag}");
        }
    }
    // No bootstrap: no marker, no account, nothing on scratch.
    assert_eq!(sb.host_path(POD_INIT_MARKER), None, "{POD_INIT_MARKER} was claimed");
    assert_eq!(sb.read_etc("passwd")?, passwd_before);
    assert!(!sb.read_etc("passwd")?.contains(&format!("{USER}:")), "the bootstrap ran");
    assert_eq!(sb.scratch_listing()?, scratch_before, "scratch changed");
    assert_eq!(sb.host_path(HOME), None, "{HOME} was created");
    Ok(())
}

#[test]
fn a_jobs_own_help_flag_reaches_the_job_after_the_bootstrap() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let out = sb.run(&ada(&["/bin/sh", "-c", "id -un; echo \"$@\"", "sh", "--help", "-V"]))?;
    out.assert_success();
    assert_eq!(out.stdout, format!("{USER}\n--help -V\n"), "{}", out.stderr);
    assert!(sb.host_path(POD_INIT_MARKER).is_some(), "no bootstrap ran");
    Ok(())
}

#[test]
fn double_dash_ends_pod_inits_arguments() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let dir = tempfile::tempdir().expect("temp dir");
    let program = dir.path().join("help");
    std::fs::write(&program, "#!/bin/sh\necho \"a program named $0 ran as $(id -un) with: $*\"\n").expect("write");
    let spec = ada(&["--", "--help", "--version"]).install(&program, "/usr/local/bin/--help", 0o755);
    let out = sb.run(&spec)?;
    out.assert_success();
    assert_eq!(out.stdout, format!("a program named /usr/local/bin/--help ran as {USER} with: --version\n"));
    Ok(())
}
