//! `cargo xtask test`: the whole test suite, run the way CI runs it.
//!
//! The integration tests run the shipped binaries, not debug builds, and
//! pod-init's run as PID 1 in a Debian root filesystem. So this task (a)
//! builds the binaries through `dist` (the same code path as the release),
//! (b) prepares the sandbox root filesystem with the sandbox's own script,
//! which needs root, and (c) runs `cargo test --workspace --all-targets`
//! with `NB_SUBMIT_BIN` and `NB_POD_INIT_BIN` pointing at the dist binaries
//! and `NB_XTASK_BIN` at this xtask, which the image tests build the image
//! with (`--no-fail-fast`, and any extra arguments passed on), then (d)
//! runs the unit test binaries again as `nobody` (see `unprivileged`),
//! unless the extra arguments choose packages or targets.
//! Each command is printed before it runs.

mod unprivileged;

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::cmd::{Cmd, Mode, Runner};
use crate::dist::{self, Dist};
use crate::host;
use crate::project;

/// Where the sandbox's Debian root filesystem is built (and cached).
pub fn sandbox_rootfs() -> PathBuf {
    project::target_dir().join("sandbox").join("rootfs")
}

/// The sandbox script that builds [`sandbox_rootfs`].
pub fn mkrootfs_cmd() -> Cmd {
    Cmd::new("bash").path_arg(&project::root().join("tests/sandbox/mkrootfs.sh")).path_arg(&sandbox_rootfs())
}

/// cargo test options that choose packages, and those that choose targets:
/// given among the extra arguments, they replace `--workspace` or
/// `--all-targets` (cargo adds a `--test` to `--all-targets`, so
/// `-- --test docker_image` would still run every test binary).
const PACKAGE_SELECTION: [&str; 3] = ["-p", "--package", "--workspace"];
const TARGET_SELECTION: [&str; 11] = [
    "--lib",
    "--bin",
    "--bins",
    "--test",
    "--tests",
    "--example",
    "--examples",
    "--bench",
    "--benches",
    "--doc",
    "--all-targets",
];

/// Whether `extra` has one of `options` before its `--` (the words after it
/// are the test binary's).
fn has_option(extra: &[String], options: &[&str]) -> bool {
    let cargo_args = extra.iter().take_while(|a| *a != "--");
    cargo_args.map(|a| a.split_once('=').map_or(a.as_str(), |(name, _)| name)).any(|a| options.contains(&a))
}

/// `cargo test` over every package and target (unless the extra arguments
/// choose), with the dist binaries. `--no-fail-fast`: one run shows every
/// failing test binary, not the first.
pub fn cargo_test_cmd(dist: &Dist, extra: &[String]) -> Cmd {
    let mut cmd = Cmd::cargo().arg("test");
    if !has_option(extra, &PACKAGE_SELECTION) {
        cmd = cmd.arg("--workspace");
    }
    if !has_option(extra, &TARGET_SELECTION) {
        cmd = cmd.arg("--all-targets");
    }
    cmd.arg("--no-fail-fast")
        .args(extra.iter().cloned())
        .env("NB_SUBMIT_BIN", dist.submit.display().to_string())
        .env("NB_POD_INIT_BIN", dist.pod_init.display().to_string())
        .env("NB_XTASK_BIN", xtask_bin())
        .dir(project::root())
}

/// This xtask, for the image tests (they build the image with `xtask image`).
fn xtask_bin() -> String {
    std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "xtask".to_owned())
}

pub fn run(extra: &[String]) -> Result<()> {
    if !host::is_root() {
        bail!(
            "the tests must run as root: they run pod-init as PID 1 in namespaces, chroot and a FUSE mount (sudo -E cargo xtask test)"
        );
    }
    let runner = Runner::new(Mode::Run);
    let dist = dist::run(&runner)?;
    runner.run(&mkrootfs_cmd())?;
    let as_root = runner.run(&cargo_test_cmd(&dist, extra));
    if has_option(extra, &PACKAGE_SELECTION) || has_option(extra, &TARGET_SELECTION) {
        runner.announce("not run again as nobody: the extra arguments choose the tests");
        return as_root;
    }
    // Also after a failure as root: one run shows both.
    let as_nobody = unprivileged::run(&runner, test_binary_args(extra));
    as_root.and(as_nobody)
}

/// The words after `--`, which are the test binaries' own.
fn test_binary_args(extra: &[String]) -> &[String] {
    extra.iter().position(|a| a == "--").map_or(&[], |dash| &extra[dash + 1..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_test_gets_the_dist_binaries_and_extra_arguments() {
        let dist = Dist { submit: PathBuf::from("/t/dist/submit"), pod_init: PathBuf::from("/t/dist/pod-init") };
        let line = cargo_test_cmd(&dist, &["--".to_owned(), "--nocapture".to_owned()]).to_string();
        assert!(line.contains("NB_SUBMIT_BIN=/t/dist/submit NB_POD_INIT_BIN=/t/dist/pod-init NB_XTASK_BIN="), "{line}");
        assert!(line.ends_with(" test --workspace --all-targets --no-fail-fast -- --nocapture"), "{line}");
    }

    #[test]
    fn extra_arguments_that_choose_packages_or_targets_replace_the_defaults() {
        let dist = Dist { submit: PathBuf::from("/s"), pod_init: PathBuf::from("/p") };
        let line = |extra: &[&str]| {
            let extra: Vec<String> = extra.iter().map(|a| (*a).to_owned()).collect();
            cargo_test_cmd(&dist, &extra).to_string()
        };
        assert!(line(&["--test", "docker_image"]).ends_with(" test --workspace --no-fail-fast --test docker_image"));
        assert!(line(&["--package=submit"]).ends_with(" test --all-targets --no-fail-fast --package=submit"));
        assert!(line(&["-p", "submit", "--lib"]).ends_with(" test --no-fail-fast -p submit --lib"));
        // After `--` the words are the test binary's, not cargo's.
        assert!(line(&["--", "--test"]).ends_with(" test --workspace --all-targets --no-fail-fast -- --test"));
    }

    #[test]
    fn the_run_as_nobody_gets_the_words_after_the_dash_dash() {
        let extra: Vec<String> = ["--release", "--", "--exact", "a"].iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(test_binary_args(&extra), ["--exact", "a"]);
        assert!(test_binary_args(&extra[..1]).is_empty());
    }
}
