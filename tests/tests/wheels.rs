//! The Python wheels of `submit`, as a researcher gets them: `cargo xtask
//! wheels` builds the four, the Linux x86_64 one is installed with pip into a
//! fresh venv, and the installed `submit` runs the README's dry run. The
//! other three cannot run here; `xtask wheels` reads each one's binary (CPU,
//! static ELF or signed Mach-O) and says what it found, which is checked.
//!
//! Needs python3 with venv (Debian: python3-venv) and, on the first run,
//! PyPI (maturin, zig) and rustup's servers (the three extra targets); later
//! runs reuse the venv and the target directory.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods, reason = "the test runs xtask, pip and the installed submit")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use nb_tests::binaries;
use nb_tests::submit_harness::fixed_submission;

/// The wheel tag and the binary `xtask wheels` must report, per platform.
const PLATFORMS: [(&str, &str); 4] = [
    ("manylinux2014_x86_64.manylinux_2_17_x86_64.musllinux_1_1_x86_64", "ELF x86_64 executable, static"),
    ("manylinux2014_aarch64.manylinux_2_17_aarch64.musllinux_1_1_aarch64", "ELF aarch64 executable, static"),
    ("macosx_10_12_x86_64", "Mach-O x86_64 executable"),
    ("macosx_11_0_arm64", "Mach-O arm64 executable, signed"),
];

/// The package name pip knows the wheels by.
const PACKAGE: &str = "runai-submit";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `cargo xtask wheels`, once per test process; its stderr (the report).
fn build() -> &'static str {
    static BUILT: OnceLock<Result<String, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let xtask = nb_tests::docker::xtask().map_err(|e| e.to_string())?;
        let out = Command::new(&xtask).arg("wheels").stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
        let stderr = text(&out.stderr);
        if !out.status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!("`{} wheels` failed ({}):\n{}", xtask.display(), out.status, tail.join("\n")));
        }
        Ok(stderr)
    });
    built.as_deref().unwrap_or_else(|e| panic!("{e}"))
}

fn wheels_dir() -> PathBuf {
    binaries::target_dir().join("wheels")
}

/// The built wheel whose name ends with `-py3-none-<tag>.whl`.
fn wheel(tag: &str) -> PathBuf {
    let suffix = format!("-py3-none-{tag}.whl");
    let found: Vec<PathBuf> = std::fs::read_dir(wheels_dir())
        .unwrap_or_else(|e| panic!("{}: {e}", wheels_dir().display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(&suffix))
        .collect();
    assert_eq!(found.len(), 1, "wheels ending in {suffix} in {}: {found:?}", wheels_dir().display());
    found.into_iter().next().unwrap()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{}{}", out.status, text(&out.stdout), text(&out.stderr));
    out
}

/// `submit --env-file examples/demo.env --dry-run` from the workspace root,
/// in an environment holding only a HOME and a PATH without runai.
fn readme_dry_run(submit: &Path, home: &Path) -> Output {
    Command::new(submit)
        .args(["--env-file", "examples/demo.env", "--dry-run"])
        .current_dir(binaries::workspace_root())
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", submit.display()))
}

#[test]
fn xtask_wheels_writes_four_wheels_each_with_a_binary_for_its_platform() {
    let report = build();
    let names: Vec<PathBuf> = std::fs::read_dir(wheels_dir()).unwrap().map(|entry| entry.unwrap().path()).collect();
    assert_eq!(names.len(), PLATFORMS.len(), "{names:?}");
    for (tag, binary) in PLATFORMS {
        let wheel = wheel(tag);
        let line = report
            .lines()
            .find(|line| line.starts_with(&format!("wheels: {}  ", wheel.display())))
            .unwrap_or_else(|| panic!("no report line for {}:\n{report}", wheel.display()));
        assert!(line.contains(&format!("  {binary}")), "{line}");
    }
}

#[test]
fn the_linux_x86_64_wheel_installs_with_pip_and_runs_the_readme_dry_run() {
    build();
    let wheel = wheel(PLATFORMS[0].0);
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    // --no-index: the wheel itself, no download; pip refuses a wheel whose
    // tag this glibc Linux does not match.
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--no-index", "--no-deps", "--disable-pip-version-check"])
        .arg(&wheel));
    let submit = venv.join("bin/submit");

    let version = run(Command::new(&submit).arg("--version"));
    assert_eq!(text(&version.stdout), format!("submit {}\n", env!("CARGO_PKG_VERSION")));

    let show = text(&run(Command::new(venv.join("bin/pip")).args(["show", "--files", PACKAGE])).stdout);
    for field in [
        format!("Name: {PACKAGE}"),
        format!("Version: {}", env!("CARGO_PKG_VERSION")),
        "Summary: Submit run:ai jobs from a .env, with the secrets synced into a Kubernetes Secret".to_owned(),
        "License: MIT OR Apache-2.0".to_owned(),
        "../../../bin/submit".to_owned(),
    ] {
        assert!(show.lines().any(|line| line.trim() == field), "`pip show` lacks {field:?}:\n{show}");
    }

    // The installed binary prints what the tested one prints.
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let installed = readme_dry_run(&submit, &home);
    let tested = readme_dry_run(&binaries::submit(), &home);
    assert_eq!(installed.status.code(), Some(0), "{}", text(&installed.stderr));
    assert!(text(&installed.stdout).starts_with("runai submit --name "), "{}", text(&installed.stdout));
    // Each run is a new submission: its id is the one part that differs.
    assert_eq!(fixed_submission(&text(&installed.stdout)), fixed_submission(&text(&tested.stdout)));
    assert_eq!(text(&installed.stderr), text(&tested.stderr));
}
