//! `cargo xtask test`: the whole test suite, run the way CI runs it.
//!
//! The integration tests run the shipped binaries, not debug builds, and
//! pod-init's run as PID 1 in a Debian root filesystem. So this task (a)
//! builds the binaries through `dist` (the same code path as the release),
//! (b) prepares the sandbox root filesystem with the sandbox's own script,
//! which needs root, and (c) runs `cargo test --workspace --all-targets`
//! with `NB_SUBMIT_BIN` and `NB_POD_INIT_BIN` pointing at the dist binaries
//! and `NB_XTASK_BIN` at this xtask, which the image tests build the image
//! with (`--no-fail-fast`, and any extra arguments passed on).
//! Each command is printed before it runs.

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

/// `cargo test` over every package and target, with the dist binaries.
/// `--no-fail-fast`: one run shows every failing test binary, not the
/// first.
pub fn cargo_test_cmd(dist: &Dist, extra: &[String]) -> Cmd {
    Cmd::cargo()
        .args(["test", "--workspace", "--all-targets", "--no-fail-fast"])
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
    runner.run(&cargo_test_cmd(&dist, extra))
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
}
