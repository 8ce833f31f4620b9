//! `cargo xtask wheels`: `submit` as Python wheels, so that `pip install`,
//! `pipx install` and `uv tool install` put it on a laptop with no Rust
//! toolchain, the way ruff and uv ship.
//!
//! maturin packs the binary (`bindings = bin`, crates/submit/pyproject.toml:
//! the package name and URLs there, the version, description and licence
//! from Cargo) for four platforms: Linux x86_64 and aarch64 as static musl
//! binaries, tagged for glibc (manylinux) and musl (musllinux) systems alike,
//! and macOS x86_64 and arm64, cross-linked with zig. The Linux x86_64 build
//! is the one `dist` makes (same target, profile and flags: cargo reuses it);
//! each other target is built once and then kept in the target directory.
//!
//! Each wheel is checked before it lands in `<target>/wheels/`: its platform
//! tag, and the binary inside it (see [`contents`]).

mod contents;
mod tools;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

pub use contents::Binary;

use crate::cmd::{Cmd, Runner};
use crate::dist::human_size;
use crate::project::{self, MUSL_TARGET};
use crate::{elf, macho};

/// maturin's `--compatibility` for the Linux wheels. The binary is static,
/// so it needs neither glibc nor musl: one wheel carries both tags, the
/// oldest ones pip still matches (as ruff's and uv's wheels do).
const LINUX_COMPATIBILITY: [&str; 2] = ["manylinux2014", "musllinux_1_1"];

/// One platform a wheel is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub target: &'static str,
    /// What the wheel's `submit` must be.
    pub binary: Binary,
    /// The oldest macOS the binary starts on (`MACOSX_DEPLOYMENT_TARGET`,
    /// which maturin writes into the tag); `None` on Linux.
    pub macos: Option<&'static str>,
    /// Link with zig: the host's C toolchain links only its own target.
    pub zig: bool,
    /// The wheel's platform tag, as maturin names it.
    pub tag: &'static str,
}

/// The platforms, Linux x86_64 first: it is the one the tests install.
pub const PLATFORMS: [Platform; 4] = [
    Platform {
        target: MUSL_TARGET,
        binary: Binary::StaticElf(elf::Machine::X86_64),
        macos: None,
        // The host links its own target, as `dist` does; elsewhere zig does.
        zig: !cfg!(all(target_os = "linux", target_arch = "x86_64")),
        tag: "manylinux2014_x86_64.manylinux_2_17_x86_64.musllinux_1_1_x86_64",
    },
    Platform {
        target: "aarch64-unknown-linux-musl",
        binary: Binary::StaticElf(elf::Machine::Aarch64),
        macos: None,
        zig: true,
        tag: "manylinux2014_aarch64.manylinux_2_17_aarch64.musllinux_1_1_aarch64",
    },
    Platform {
        target: "x86_64-apple-darwin",
        binary: Binary::MachO(macho::Cpu::X86_64),
        macos: Some("10.12"),
        zig: true,
        tag: "macosx_10_12_x86_64",
    },
    Platform {
        target: "aarch64-apple-darwin",
        binary: Binary::MachO(macho::Cpu::Arm64),
        macos: Some("11.0"),
        zig: true,
        tag: "macosx_11_0_arm64",
    },
];

/// Where the checked wheels go.
pub fn wheels_dir() -> PathBuf {
    project::target_dir().join("wheels")
}

/// Where maturin writes one platform's wheel before it is checked.
fn staging_dir(platform: &Platform) -> PathBuf {
    project::target_dir().join("wheel-build").join(platform.target)
}

/// The maturin command that builds one platform's wheel into `out`.
pub fn maturin_cmd(venv: &tools::Venv, platform: &Platform, out: &Path) -> Cmd {
    let mut cmd = venv
        .maturin()
        .args(["build", "--release", "--locked", "--manifest-path"])
        .path_arg(&project::root().join("crates/submit/Cargo.toml"))
        .args(["--target", platform.target]);
    if platform.zig {
        cmd = cmd.arg("--zig");
    }
    if platform.macos.is_none() {
        cmd = cmd.arg("--compatibility").args(LINUX_COMPATIBILITY);
    }
    cmd = cmd
        .arg("--out")
        .path_arg(out)
        .env("PATH", venv.path_env())
        .env("ZIG_GLOBAL_CACHE_DIR", tools::zig_cache_dir().display().to_string());
    if let Some(version) = platform.macos {
        cmd = cmd.env("MACOSX_DEPLOYMENT_TARGET", version);
    }
    cmd.dir(project::root())
}

/// Builds, checks and collects the four wheels; prints one line per wheel
/// with its size, its binary and its build time. In dry-run mode only
/// prints what it would do.
pub fn run(runner: &Runner) -> Result<()> {
    let venv = tools::prepare_venv(runner)?;
    let targets: Vec<&str> = PLATFORMS.iter().map(|p| p.target).collect();
    tools::add_targets(runner, &targets)?;
    let out = wheels_dir();
    if runner.is_dry() {
        for platform in &PLATFORMS {
            runner.run(&maturin_cmd(&venv, platform, &staging_dir(platform)))?;
            runner.announce(&format!(
                "check the wheel's tag is {} and its submit a {}, move it to {}",
                platform.tag,
                platform.binary,
                out.display()
            ));
        }
        return Ok(());
    }

    // Only this run's wheels: an upload of the directory takes all of it.
    fresh_dir(&out)?;
    for platform in PLATFORMS {
        let staging = staging_dir(&platform);
        fresh_dir(&staging)?;
        let started = Instant::now();
        runner.run(&maturin_cmd(&venv, &platform, &staging))?;
        let seconds = started.elapsed().as_secs_f64();
        let built = only_wheel(&staging)?;
        let binary = check_tag(&built, &platform).and_then(|()| contents::check_wheel(&built, platform.binary))?;
        let path = out.join(built.file_name().unwrap_or_default());
        fs::rename(&built, &path).with_context(|| format!("cannot move {} to {}", built.display(), path.display()))?;
        let size = fs::metadata(&path).with_context(|| format!("cannot stat {}", path.display()))?.len();
        eprintln!("wheels: {}  {}  {binary}  (built in {seconds:.1} s)", path.display(), human_size(size));
    }
    Ok(())
}

fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// The one wheel maturin wrote into an emptied directory.
fn only_wheel(dir: &Path) -> Result<PathBuf> {
    let entries = fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut wheels = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
        if path.extension().is_some_and(|ext| ext == "whl") {
            wheels.push(path);
        }
    }
    match <[PathBuf; 1]>::try_from(wheels) {
        Ok([wheel]) => Ok(wheel),
        Err(found) => bail!("maturin left {} wheels in {}, expected one", found.len(), dir.display()),
    }
}

/// The wheel's name ends in `-py3-none-<tag>.whl`: pip picks a wheel by its
/// name, so a wrong tag installs it where it cannot run (or nowhere).
fn check_tag(wheel: &Path, platform: &Platform) -> Result<()> {
    let name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let expected = format!("-py3-none-{}.whl", platform.tag);
    if !name.ends_with(&expected) {
        bail!("{} is not tagged py3-none-{} (for {})", wheel.display(), platform.tag, platform.target);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(platform: &Platform) -> String {
        let venv = tools::Venv { dir: PathBuf::from("/t/venv") };
        maturin_cmd(&venv, platform, Path::new("/t/out")).to_string()
    }

    #[test]
    fn linux_wheels_are_static_musl_with_both_libc_tags() {
        let [x86_64, aarch64, ..] = PLATFORMS;
        let x86_64 = line(&x86_64);
        assert!(
            x86_64.ends_with(
                " build --release --locked --manifest-path /dev/null --target x86_64-unknown-linux-musl \
                 --compatibility manylinux2014 musllinux_1_1 --out /t/out"
                    .replace("/dev/null", &project::root().join("crates/submit/Cargo.toml").display().to_string())
                    .as_str()
            ),
            "{x86_64}"
        );
        // The same build as dist's: no zig, no deployment target.
        assert!(!x86_64.contains("--zig") && !x86_64.contains("MACOSX"), "{x86_64}");
        let aarch64 = line(&aarch64);
        assert!(aarch64.contains(" --target aarch64-unknown-linux-musl --zig --compatibility "), "{aarch64}");
    }

    #[test]
    fn macos_wheels_are_linked_by_zig_for_a_named_oldest_macos() {
        let [.., intel, apple] = PLATFORMS;
        let apple = line(&apple);
        assert!(apple.contains(" MACOSX_DEPLOYMENT_TARGET=11.0 /t/venv/bin/maturin build "), "{apple}");
        assert!(apple.contains(" --target aarch64-apple-darwin --zig --out /t/out"), "{apple}");
        assert!(line(&intel).contains("MACOSX_DEPLOYMENT_TARGET=10.12 "), "{}", line(&intel));
        assert!(line(&intel).contains(" --target x86_64-apple-darwin --zig --out "), "{}", line(&intel));
    }

    #[test]
    fn a_wheel_with_another_tag_is_refused() {
        let [x86_64, .., apple] = PLATFORMS;
        let built = Path::new("/t/out/runai_submit-0.1.0-py3-none-macosx_11_0_arm64.whl");
        assert!(check_tag(built, &apple).is_ok());
        let err = check_tag(built, &x86_64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/t/out/runai_submit-0.1.0-py3-none-macosx_11_0_arm64.whl is not tagged \
             py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.musllinux_1_1_x86_64 (for x86_64-unknown-linux-musl)"
        );
    }

    #[test]
    fn exactly_one_wheel_is_taken_from_the_staging_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            only_wheel(dir.path()).unwrap_err().to_string(),
            format!("maturin left 0 wheels in {}, expected one", dir.path().display())
        );
        fs::write(dir.path().join("a-1-py3-none-any.whl"), "").unwrap();
        fs::write(dir.path().join("notes.txt"), "").unwrap();
        assert_eq!(only_wheel(dir.path()).unwrap(), dir.path().join("a-1-py3-none-any.whl"));
        fs::write(dir.path().join("b-1-py3-none-any.whl"), "").unwrap();
        assert!(only_wheel(dir.path()).is_err());
    }
}
