//! `cargo xtask dist`: the static release binaries that ship.
//!
//! `submit` goes on laptops and `pod-init` into the image, so both are built
//! for musl and must be static; this task builds them with the workspace's
//! size-minded release profile, refuses a binary that names a dynamic
//! loader, and copies them to `<target>/dist/`. The tests and the image use
//! those copies, so what is tested is what ships.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::{Cmd, Runner};
use crate::elf;
use crate::project::{self, MUSL_TARGET};

/// The binaries `dist` builds, by package and binary name (they coincide).
pub const BINARIES: [&str; 2] = ["submit", "pod-init"];

/// pod-init's size budget (every pod pulls the binary), checked by reading
/// the size `dist` prints and the benchmark table, not by a failing build.
pub const POD_INIT_BUDGET: u64 = 1 << 20;

/// The built and checked binaries, in `<target>/dist/`.
#[derive(Debug, Clone)]
pub struct Dist {
    pub submit: PathBuf,
    pub pod_init: PathBuf,
}

impl Dist {
    /// Where `dist` puts its binaries (whether or not they exist yet).
    pub fn location() -> Self {
        let dir = dist_dir();
        Dist { submit: dir.join("submit"), pod_init: dir.join("pod-init") }
    }

    pub fn paths(&self) -> [(&'static str, &Path); 2] {
        [("submit", &self.submit), ("pod-init", &self.pod_init)]
    }
}

pub fn dist_dir() -> PathBuf {
    project::target_dir().join("dist")
}

/// The cargo command that builds both binaries.
pub fn build_cmd() -> Cmd {
    let mut cmd = Cmd::cargo().args(["build", "--release", "--target", MUSL_TARGET]);
    for package in BINARIES {
        cmd = cmd.args(["-p", package]);
    }
    cmd.dir(project::root())
}

/// Fails, saying how to fix it, when the toolchain has no musl standard
/// library. Installs nothing: adding a target is the user's call.
fn ensure_musl_target() -> Result<()> {
    check_sysroot(&sysroot()?)
}

/// The toolchain's sysroot, where the standard library of each installed
/// target lives.
pub fn sysroot() -> Result<PathBuf> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let sysroot = Cmd::new(rustc).args(["--print", "sysroot"]).read()?;
    Ok(PathBuf::from(sysroot.trim()))
}

/// A target's standard library lives in `<sysroot>/lib/rustlib/<target>/lib`.
pub fn std_lib_dir(sysroot: &Path, target: &str) -> PathBuf {
    sysroot.join("lib/rustlib").join(target).join("lib")
}

fn check_sysroot(sysroot: &Path) -> Result<()> {
    let lib = std_lib_dir(sysroot, MUSL_TARGET);
    if !lib.is_dir() {
        bail!(
            "the Rust target {MUSL_TARGET} is not installed (no {}): run `rustup target add {MUSL_TARGET}`",
            lib.display()
        );
    }
    Ok(())
}

/// Builds, checks and copies the binaries; prints one line per binary.
/// In dry-run mode only prints what it would do.
pub fn run(runner: &Runner) -> Result<Dist> {
    let dist = Dist::location();
    if runner.is_dry() {
        runner.run(&build_cmd())?;
        runner.announce(&format!(
            "copy {} and {} from {} to {} and check they are static",
            BINARIES[0],
            BINARIES[1],
            project::musl_release_dir().display(),
            dist_dir().display()
        ));
        return Ok(dist);
    }

    ensure_musl_target()?;
    runner.run(&build_cmd())?;
    fs::create_dir_all(dist_dir()).with_context(|| format!("cannot create {}", dist_dir().display()))?;
    for (name, dest) in dist.paths() {
        let built = project::musl_release_dir().join(name);
        let linkage = check_static(&built)?;
        // Copy to a temporary name and rename, so a test running meanwhile
        // never executes a half-written binary (ETXTBSY or a torn file).
        let partial = dest.with_extension("partial");
        fs::copy(&built, &partial)
            .with_context(|| format!("cannot copy {} to {}", built.display(), partial.display()))?;
        fs::rename(&partial, dest)
            .with_context(|| format!("cannot rename {} to {}", partial.display(), dest.display()))?;
        let size = fs::metadata(dest).with_context(|| format!("cannot stat {}", dest.display()))?.len();
        let budget =
            if name == "pod-init" { format!(" (budget {})", human_size(POD_INIT_BUDGET)) } else { String::new() };
        eprintln!("dist: {:<48} {:>9}{budget}  {linkage}", dest.display(), human_size(size));
    }
    Ok(dist)
}

/// Reads a binary and fails unless it is static.
pub fn check_static(path: &Path) -> Result<elf::Linkage> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let linkage = elf::linkage(&bytes).with_context(|| format!("{}", path.display()))?;
    if !linkage.is_static() {
        bail!(
            "{} is {linkage}: it would not start in an image without that loader; build it for {MUSL_TARGET}",
            path.display()
        );
    }
    Ok(linkage)
}

/// Bytes as KiB or MiB with one decimal, as people compare binary sizes.
pub fn human_size(bytes: u64) -> String {
    // Sizes here are far below 2^52, so the f64 is exact.
    let value = bytes as f64;
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", value / f64::from(1u32 << 20))
    } else {
        format!("{:.1} KiB", value / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_command_targets_musl_for_both_packages() {
        let line = build_cmd().to_string();
        assert!(line.ends_with(" build --release --target x86_64-unknown-linux-musl -p submit -p pod-init"), "{line}");
    }

    #[test]
    fn a_missing_musl_target_says_how_to_add_it() {
        let err = check_sysroot(Path::new("/nonexistent/sysroot")).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "the Rust target x86_64-unknown-linux-musl is not installed \
             (no /nonexistent/sysroot/lib/rustlib/x86_64-unknown-linux-musl/lib): \
             run `rustup target add x86_64-unknown-linux-musl`"
        );
        // This machine has it (.ci/install-deps adds it).
        assert!(ensure_musl_target().is_ok(), "{:?}", ensure_musl_target());
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(512 * 1024), "512.0 KiB");
        assert_eq!(human_size(1 << 20), "1.0 MiB");
        assert_eq!(human_size(1_572_864), "1.5 MiB");
    }

    #[test]
    fn a_dynamic_binary_is_refused_with_the_reason() {
        let err = check_static(Path::new("/bin/true")).unwrap_err();
        let message = format!("{err:#}");
        assert!(message.starts_with("/bin/true is dynamic (interpreter /lib"), "{message}");
        assert!(message.ends_with("build it for x86_64-unknown-linux-musl"), "{message}");
    }
}
