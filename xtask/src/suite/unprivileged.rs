//! The unit tests once more, as `nobody`: a user's machine runs `submit`,
//! and a pod runs the command, without root, so a test that passes only as
//! root hides a bug (a path root may write and the user may not, an id
//! assumed to be 0). cargo builds them as root; each test binary then runs
//! under `setpriv` as uid and gid 65534 with no supplementary groups, an
//! empty environment but a throwaway HOME and TMPDIR, and no toolchain.
//!
//! xtask's own unit tests stay root-only: they ask rustc about its targets,
//! and the toolchain is root's. Tests that need root print `skipped NAME:
//! needs root (...)` on stderr, which this run shows as it comes.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

use crate::cmd::{Cmd, Runner};
use crate::project;

/// `nobody` and `nogroup` on Debian.
pub const NOBODY: u32 = 65534;

/// What the tests find on PATH (tools like visudo), without cargo's.
const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// cargo's JSON list of the unit test binaries; after the suite's root run
/// they are built, so this builds nothing.
pub fn list_cmd() -> Cmd {
    Cmd::cargo()
        .args(["test", "--workspace", "--exclude", "xtask", "--lib", "--bins", "--no-run", "--message-format=json"])
        .dir(project::root())
}

/// The test executables among cargo's JSON messages, one per line.
pub fn executables(messages: &str) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for line in messages.lines().filter(|l| l.starts_with('{')) {
        let message: serde_json::Value = serde_json::from_str(line).context("cargo's JSON message")?;
        let is_test = message["reason"] == "compiler-artifact" && message["profile"]["test"] == true;
        if let (true, Some(path)) = (is_test, message["executable"].as_str()) {
            found.push(PathBuf::from(path));
        }
    }
    Ok(found)
}

/// `binary` as nobody, in `home` (also its TMPDIR), with `test_args`.
pub fn as_nobody_cmd(binary: &Path, home: &Path, test_args: &[String]) -> Cmd {
    let id = NOBODY.to_string();
    Cmd::new("env")
        .arg("-i")
        .arg(format!("HOME={}", home.display()))
        .arg(format!("TMPDIR={}", home.display()))
        .arg(format!("PATH={PATH}"))
        .arg("setpriv")
        .args([format!("--reuid={id}"), format!("--regid={id}"), "--clear-groups".to_owned(), "--".to_owned()])
        .path_arg(binary)
        .args(test_args.iter().cloned())
        .dir(home)
}

/// Runs every unit test binary as nobody; an error names those that failed.
pub fn run(runner: &Runner, test_args: &[String]) -> Result<()> {
    runner.announce("unit tests again, as nobody (uid 65534, no groups, a throwaway HOME):");
    let list = list_cmd();
    runner.announce(&format!("$ {list}"));
    let binaries = executables(&list.read()?)?;
    if binaries.is_empty() {
        bail!("`{list}` listed no unit test binary");
    }
    let scratch = Scratch::create()?;
    let mut failed = Vec::new();
    for binary in &binaries {
        let run = copy_for_nobody(runner, binary, &scratch.bin).and_then(|copy| {
            let ran = runner.run(&as_nobody_cmd(&copy, &scratch.home, test_args));
            // One binary's copy at a time: a debug test binary is tens of MB.
            let _ = fs::remove_file(&copy);
            ran
        });
        if let Err(e) = run {
            runner.announce(&format!("failed as nobody: {e:#}"));
            failed.push(binary.display().to_string());
        }
    }
    if !failed.is_empty() {
        bail!("{} of {} unit test binaries failed as nobody: {}", failed.len(), binaries.len(), failed.join(", "));
    }
    runner.announce(&format!("unit tests as nobody: all {} binaries passed", binaries.len()));
    Ok(())
}

/// `binary` in `bin`, readable and executable by all: the build and the
/// clone it sits in are root's, and a directory on the way (`/root`, a
/// umask of 077) may be closed to nobody. A hard link where `bin` is on the
/// same file system (no bytes written: the disk may be nearly full), a copy
/// where it is not. The unit tests read nothing next to their binary (one
/// that runs itself again finds the link).
fn copy_for_nobody(runner: &Runner, binary: &Path, bin: &Path) -> Result<PathBuf> {
    let name = binary.file_name().with_context(|| format!("{}: no file name", binary.display()))?;
    let copy = bin.join(name);
    if fs::hard_link(binary, &copy).is_ok() {
        runner.announce(&format!("link {} to {}", binary.display(), copy.display()));
    } else {
        runner.announce(&format!("copy {} to {}", binary.display(), copy.display()));
        fs::copy(binary, &copy).with_context(|| format!("copy {} to {}", binary.display(), copy.display()))?;
    }
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).with_context(|| copy.display().to_string())?;
    Ok(copy)
}

/// One run's directory (root's): `bin/` for the binaries' copies, and
/// `home/`, nobody's, its HOME, TMPDIR and working directory. Removed
/// afterwards.
struct Scratch {
    root: PathBuf,
    bin: PathBuf,
    home: PathBuf,
}

impl Scratch {
    fn create() -> Result<Self> {
        let root = std::env::temp_dir().join(format!("nb-unit-tests-as-nobody-{}", std::process::id()));
        // A leftover of a killed run with the same pid is ours to replace.
        let _ = fs::remove_dir_all(&root);
        let (bin, home) = (root.join("bin"), root.join("home"));
        for dir in [&root, &bin, &home] {
            fs::create_dir(dir).with_context(|| dir.display().to_string())?;
        }
        for (dir, mode) in [(&root, 0o755), (&bin, 0o755), (&home, 0o700)] {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode)).with_context(|| dir.display().to_string())?;
        }
        std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY))
            .with_context(|| format!("chown nobody {}", home.display()))?;
        Ok(Scratch { root, bin, home })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_binary_runs_as_nobody_with_only_a_throwaway_home_and_tmpdir() {
        let line = as_nobody_cmd(Path::new("/t/deps/submit-1"), Path::new("/tmp/s"), &["--exact".to_owned()]);
        assert_eq!(
            line.to_string(),
            "cd /tmp/s && env -i HOME=/tmp/s TMPDIR=/tmp/s \
             PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin \
             setpriv --reuid=65534 --regid=65534 --clear-groups -- /t/deps/submit-1 --exact"
        );
    }

    #[test]
    fn only_test_executables_are_listed() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","profile":{"test":false},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","profile":{"test":true},"executable":"/t/deps/common-1"}"#,
            "\n",
            r#"{"reason":"compiler-artifact","profile":{"test":false},"executable":"/t/debug/runai"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
            "\n",
        );
        assert_eq!(executables(messages).ok(), Some(vec![PathBuf::from("/t/deps/common-1")]));
    }
}
