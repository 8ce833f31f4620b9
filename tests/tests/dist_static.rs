//! The shipped binaries are static: they start, as PID 1, in a root
//! filesystem that holds a static busybox and nothing else — no libc, no
//! dynamic loader. A binary that needed either would fail there before its
//! first instruction, as it would in an image with a different libc.
//!
//! Needs root (the busybox root is a container of the sandbox harness) and
//! the binaries from `cargo xtask dist`; without either it fails saying how
//! to get them.

use std::fs;
use std::path::Path;

use nb_tests::binaries;
use nb_tests::sandbox::{BusyboxRoot, Error};

type Result = std::result::Result<(), Error>;

/// Every file under `dir` whose name marks a C library or a dynamic loader.
fn libc_files(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("libc.")
            || name.starts_with("libc-")
            || name.starts_with("ld-")
            || name.starts_with("ld.so")
        {
            found.push(path.display().to_string());
        }
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(libc_files(&path));
        }
    }
    found
}

/// The premise: the root has no libc and no loader, so a dynamically
/// linked program (the host's own `/bin/true`) cannot start in it.
#[test]
fn the_busybox_root_has_no_libc_and_refuses_a_dynamic_binary() -> Result {
    let root = BusyboxRoot::new()?;
    assert_eq!(libc_files(root.path()), Vec::<String>::new());
    let out = root.run(Path::new("/bin/true"), &[])?;
    assert_ne!(out.status, 0, "a dynamic /bin/true started without a loader:\n{}", out.stderr);
    Ok(())
}

/// pod-init as PID 1, with none of the NB_* variables: it skips the
/// bootstrap and runs the command, a busybox shell, whose exit status it
/// passes on.
#[test]
fn pod_init_runs_a_busybox_command_as_pid_1() -> Result {
    let root = BusyboxRoot::new()?;
    let script = "echo pid1=$(readlink /proc/1/exe); echo me=$$ parent=$PPID; exit 7";
    let out = root.run(&binaries::pod_init(), &["/bin/sh", "-c", script])?;
    out.assert_status(7);
    let lines: Vec<&str> = out.stdout.lines().collect();
    // PID 1 is the binary under test (the harness installs it under a
    // name containing `under-test`), and the command is its child.
    assert!(lines.first().is_some_and(|l| l.starts_with("pid1=/") && l.contains("under-test")), "{}", out.stdout);
    let me = lines.get(1).copied().unwrap_or_default();
    assert!(me.ends_with(" parent=1") && !me.starts_with("me=1 "), "{}", out.stdout);
    // It said why it did not bootstrap: the variables are missing.
    out.assert_logged("NB_USER");
    Ok(())
}

#[test]
fn submit_prints_its_help_as_pid_1() -> Result {
    let root = BusyboxRoot::new()?;
    let out = root.run(&binaries::submit(), &["--help"])?;
    out.assert_success();
    assert!(out.stdout.contains("Usage: "), "{}", out.stdout);
    assert!(out.stdout.contains("--dry-run"), "{}", out.stdout);
    Ok(())
}
