//! The wheel build's tools: maturin and zig, from PyPI, in a virtual
//! environment under the target directory, and the Rust standard library of
//! each platform, through rustup.
//!
//! Nothing is installed for the machine: the venv goes with `cargo clean`,
//! and zig keeps its cache beside it. The versions are pinned, so a build
//! next month links with the same zig as today's.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::cmd::{Cmd, Runner};
use crate::dist;
use crate::project;

/// maturin builds the wheels; `bindings = bin` in crates/submit/pyproject.toml.
pub const MATURIN_VERSION: &str = "1.16.0";
/// zig links the targets the host's C toolchain cannot: aarch64 musl and
/// macOS (it carries the macOS system library stubs, so no SDK is needed).
pub const ZIGLANG_VERSION: &str = "0.17.1";

/// The build tools' directory, under the target directory.
pub fn tools_dir() -> PathBuf {
    project::target_dir().join("wheel-tools")
}

/// The venv the tools are installed into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Venv {
    pub dir: PathBuf,
}

impl Venv {
    pub fn location() -> Self {
        Venv { dir: tools_dir().join("venv") }
    }

    pub fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// `python3 -m venv DIR`, with the host's Python.
    pub fn create_cmd(&self) -> Cmd {
        Cmd::new("python3").args(["-m", "venv"]).path_arg(&self.dir)
    }

    /// Installs the pinned tools; a no-op for pip when they are there.
    pub fn install_cmd(&self) -> Cmd {
        Cmd::new(self.bin().join("pip").display().to_string())
            .args(["install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:"])
            .arg(format!("maturin=={MATURIN_VERSION}"))
            .arg(format!("ziglang=={ZIGLANG_VERSION}"))
    }

    pub fn maturin(&self) -> Cmd {
        Cmd::new(self.bin().join("maturin").display().to_string())
    }

    /// `PATH` with the venv first, as activating it would: maturin finds
    /// zig as `python3 -m ziglang`, the venv's python3.
    pub fn path_env(&self) -> String {
        let rest = std::env::var("PATH").unwrap_or_default();
        if rest.is_empty() { self.bin().display().to_string() } else { format!("{}:{rest}", self.bin().display()) }
    }
}

/// zig's cache (the C libraries it builds per target), beside the venv
/// instead of in the home directory.
pub fn zig_cache_dir() -> PathBuf {
    tools_dir().join("zig-cache")
}

/// Creates the venv unless it has a python, then installs the pinned tools.
pub fn prepare_venv(runner: &Runner) -> Result<Venv> {
    let venv = Venv::location();
    if runner.is_dry() || !venv.bin().join("python3").exists() {
        runner.run(&venv.create_cmd())?;
    }
    runner.run(&venv.install_cmd())?;
    Ok(venv)
}

/// The targets among `targets` whose standard library is not installed.
pub fn missing_targets<'a>(sysroot: &Path, targets: &[&'a str]) -> Vec<&'a str> {
    targets.iter().copied().filter(|target| !dist::std_lib_dir(sysroot, target).is_dir()).collect()
}

pub fn rustup_target_add_cmd(targets: &[&str]) -> Cmd {
    Cmd::new("rustup").args(["target", "add"]).args(targets.iter().copied())
}

/// Adds the standard library of the targets that lack one, then checks
/// they all have it (a toolchain without rustup has to get them otherwise).
pub fn add_targets(runner: &Runner, targets: &[&str]) -> Result<()> {
    let sysroot = dist::sysroot()?;
    let missing = missing_targets(&sysroot, targets);
    if missing.is_empty() {
        return Ok(());
    }
    runner.run(&rustup_target_add_cmd(&missing))?;
    if runner.is_dry() {
        return Ok(());
    }
    let still = missing_targets(&sysroot, &missing);
    if !still.is_empty() {
        bail!(
            "the Rust standard library for {} is still missing under {}: install it for this toolchain",
            still.join(", "),
            sysroot.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tools_are_pinned_and_installed_into_the_venv() {
        let venv = Venv { dir: PathBuf::from("/t/wheel-tools/venv") };
        assert_eq!(venv.create_cmd().to_string(), "python3 -m venv /t/wheel-tools/venv");
        assert_eq!(
            venv.install_cmd().to_string(),
            "/t/wheel-tools/venv/bin/pip install --quiet --disable-pip-version-check --only-binary=:all: \
             maturin==1.16.0 ziglang==0.17.1"
        );
        assert!(venv.path_env().starts_with("/t/wheel-tools/venv/bin:"), "{}", venv.path_env());
    }

    #[test]
    fn only_targets_without_a_standard_library_are_added() {
        let sysroot = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let installed = dist::std_lib_dir(sysroot.path(), "x86_64-unknown-linux-musl");
        std::fs::create_dir_all(&installed).unwrap_or_else(|e| panic!("{}: {e}", installed.display()));
        let missing = missing_targets(sysroot.path(), &["x86_64-unknown-linux-musl", "aarch64-apple-darwin"]);
        assert_eq!(missing, ["aarch64-apple-darwin"]);
        assert_eq!(rustup_target_add_cmd(&missing).to_string(), "rustup target add aarch64-apple-darwin");
    }
}
