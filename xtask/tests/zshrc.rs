//! The `.zshrc` the image stages for pod-init, run by a real zsh: it parses,
//! it sets `umask 007`, and it starts without oh-my-zsh present (a copy
//! that failed must not break every shell).

#![allow(clippy::disallowed_methods, reason = "the staged .zshrc is checked by a real zsh")]

use std::path::Path;
use std::process::Command;

fn zshrc() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker/zshrc").display().to_string()
}

fn zsh(script: &str) -> (bool, String, String) {
    let out = Command::new("zsh")
        .args(["-f", "-c", script])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent-home")
        .env("ZSH", "/nonexistent-oh-my-zsh")
        .output();
    match out {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (false, String::new(), format!("cannot run zsh ({e}): apt-get install zsh")),
    }
}

#[test]
fn parses() {
    let (ok, _, stderr) = zsh(&format!("zsh -n {}", zshrc()));
    assert!(ok, "{stderr}");
}

#[test]
fn sets_umask_007_and_survives_a_missing_oh_my_zsh() {
    let (ok, stdout, stderr) = zsh(&format!("umask 022; source {}; umask", zshrc()));
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "007");
    assert_eq!(stderr, "");
}

#[test]
fn loads_oh_my_zsh_from_where_pod_init_points_zsh() {
    let dir = std::env::temp_dir().join(format!("zshrc-test-{}", std::process::id()));
    let created = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(dir.join("oh-my-zsh.sh"), "echo \"loaded $ZSH theme=$ZSH_THEME plugins=$plugins\"\n")
    });
    assert!(created.is_ok(), "{created:?}");
    let (ok, stdout, stderr) = zsh(&format!("ZSH={}; source {}", dir.display(), zshrc()));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), format!("loaded {} theme=robbyrussell plugins=git", dir.display()));
}
