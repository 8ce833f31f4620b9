//! The git identity from the pod's Secret (GIT_USER_NAME, GIT_USER_EMAIL)
//! in the user's global git config, unless the user set one: a name
//! already there is the user's choice.
//!
//! The config file was just read once (and checked as the user's own) by
//! the user step; what it plainly says is believed, so a start that finds
//! the identity there runs no git at all. Only what that reading cannot
//! tell (an include, a key on a section's line, a continued line) is asked
//! of git, and git itself always writes its file format.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::env::EnvVars;

use crate::config::PodConfig;
use crate::dirwalk::Dir;
use crate::identity::{self, Identity};
use crate::{private, sys};

/// One `git config --global` call, as a value: what it runs is printable
/// and testable, and git itself writes its file format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitConfig<'a> {
    pub file: &'a Path,
    pub home: &'a Path,
    pub key: &'a str,
    /// `None`: read the key; `Some`: set it.
    pub value: Option<&'a str>,
}

impl GitConfig<'_> {
    /// The command: the image's git, with GIT_CONFIG_GLOBAL pointing at the
    /// file on scratch and nothing else from the pod's environment that
    /// could redirect it.
    #[allow(clippy::disallowed_methods, reason = "builds the command as a value, which the tests check")]
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env(EnvVars::HOME, self.home)
            .env(EnvVars::GIT_CONFIG_GLOBAL, self.file)
            .args(["config", "--global"]);
        match self.value {
            // As git reads it when it commits: includes followed.
            None => cmd.args(["--includes", "--get", self.key]),
            Some(v) => cmd.args([self.key, v]),
        };
        cmd.stdin(Stdio::null());
        cmd
    }
}

/// Whether the config text `config` sets `key` (`section.name`) to
/// something, as far as a plain reading tells; `None` when it cannot tell.
fn sets(config: &[u8], key: &str) -> Option<bool> {
    let (section, name) = key.split_once('.')?;
    let text = std::str::from_utf8(config).ok()?;
    let mut inside = false;
    let mut found = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.ends_with('\\') {
            return None;
        }
        if let Some(header) = line.strip_prefix('[') {
            let (header, rest) = header.split_once(']')?;
            let header = header.trim().to_ascii_lowercase();
            if header.starts_with("include") || !(rest.trim().is_empty() || rest.trim().starts_with(['#', ';'])) {
                return None;
            }
            inside = header == section;
            continue;
        }
        let (k, v) = line.split_once('=').unwrap_or((line, ""));
        if inside && k.trim().eq_ignore_ascii_case(name) {
            found = !v.trim().is_empty();
        }
    }
    Some(found)
}

/// Sets each identity key the Secret gives that `config` (the content of
/// the file, `name` in `dir`) does not set yet. git writes a copy in the
/// ephemeral home, and the result replaces the file in one rename: on NFS
/// scratch, git's own locking, checks and rewrites would each be a round
/// trip, twice.
/// `home`: the ephemeral home, where git works.
pub fn ensure(
    cfg: &PodConfig,
    home: &Path,
    dir: &Dir,
    name: &OsStr,
    config: &[u8],
    user: &Identity,
) -> io::Result<Vec<String>> {
    let mut missing = Vec::new();
    for (key, value) in [("user.name", &cfg.git_user_name), ("user.email", &cfg.git_user_email)] {
        let Some(value) = value else { continue };
        let set_already = match sets(config, key) {
            Some(known) => known,
            None => {
                let get = GitConfig { file: &cfg.git_config_global, home, key, value: None };
                let current = as_user(&mut get.command(), user).stderr(Stdio::null()).output()?;
                current.status.success() && !current.stdout.trim_ascii().is_empty()
            }
        };
        if !set_already {
            missing.push((key, value.as_str()));
        }
    }
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let copy = home.join(format!(".gitconfig.identity-{}", sys::random_suffix()));
    let written = set_in_copy(&copy, home, config, &missing, user);
    let _gone_or_never_made = fs::remove_file(&copy);
    let tmp = format!(".{}.tmp-{}", name.to_string_lossy().trim_start_matches('.'), sys::random_suffix());
    let tmp = OsStr::new(&tmp);
    dir.create_file(tmp, private::FILE_MODE)?.write_all(&written?)?;
    dir.rename(tmp, name)?;
    Ok(missing.iter().map(|(key, _)| format!("set {key}")).collect())
}

/// `config` written to `copy`, the keys set in it by git, and read back.
fn set_in_copy(copy: &Path, home: &Path, config: &[u8], keys: &[(&str, &str)], user: &Identity) -> io::Result<Vec<u8>> {
    fs::write(copy, config)?;
    for (key, value) in keys {
        let set = GitConfig { file: copy, home, key, value: Some(value) };
        let out = as_user(&mut set.command(), user).output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "git config --global {key}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    fs::read(copy)
}

/// `cmd` runs as `user` entirely (groups, gids, uids): PID 1 acts as the
/// user only for the file system (fsid), and a program it starts keeps
/// its real ids, root's. Nothing to switch when this process already is
/// the user.
fn as_user<'c>(cmd: &'c mut Command, user: &Identity) -> &'c mut Command {
    use std::os::unix::process::CommandExt;
    let me = (nix::unistd::getuid().as_raw(), nix::unistd::geteuid().as_raw());
    if me == (user.uid, user.uid) {
        return cmd;
    }
    let user = user.clone();
    // SAFETY: the closure runs in the child between fork and exec, where
    // identity::switch makes async-signal-safe calls only and allocates
    // nothing (its identity was cloned before the fork).
    unsafe {
        cmd.pre_exec(move || {
            identity::switch(&identity::Linux, &user)
                .map_err(|e| io::Error::from_raw_os_error(if e.errno == 0 { libc::EPERM } else { e.errno }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    #[allow(clippy::disallowed_methods, reason = "the real id program shows who the child is")]
    fn git_runs_as_the_user_not_as_pid1() {
        if !crate::testing::root_or_skip("switching a child to another user needs root") {
            return;
        }
        let nobody = Identity { uid: 65534, gid: 65534, groups: vec![65534] };
        let out = as_user(Command::new("id").arg("-u").arg("-r"), &nobody).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n");
        let out = as_user(Command::new("id").arg("-G"), &nobody).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "65534\n");
    }

    #[test]
    fn a_plain_reading_tells_what_it_can_and_no_more() {
        let cases: [(&str, Option<bool>); 8] = [
            ("", Some(false)),
            ("[user]\n\tname = Ada L\n", Some(true)),
            ("[User]\n  Name=Ada\n[core]\n\tpager = less\n", Some(true)),
            ("[user]\n\tname =\n", Some(false)),
            ("[core]\n\tname = not in user\n[user \"sub\"]\n\tname = x\n", Some(false)),
            ("[include]\n\tpath = other\n", None),
            ("[user] name = inline\n", None),
            ("[user]\n\tname = a \\\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(sets(text.as_bytes(), "user.name"), want, "{text:?}");
        }
    }

    fn read(file: &Path, home: &Path, key: &str) -> String {
        let out =
            GitConfig { file, home, key, value: None }.command().output().expect("git not found: apt-get install git");
        String::from_utf8(out.stdout).unwrap()
    }

    /// [`ensure`] with the home and the config's directory in `dir`.
    fn ensure_in(dir: &Path, cfg: &PodConfig, config: &[u8]) -> io::Result<Vec<String>> {
        let mut walker = crate::dirwalk::Walker::new();
        let (d, _) = walker.dir(cfg.git_config_global.parent().unwrap(), None).unwrap();
        let me = Identity { uid: sys::getuid(), gid: sys::getgid(), groups: vec![] };
        ensure(cfg, dir, d, cfg.git_config_global.file_name().unwrap(), config, &me)
    }

    #[test]
    fn the_identity_is_written_by_real_git_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gitconfig");
        let file_str = file.to_str().unwrap();
        let cfg = crate::config::for_tests(&[
            ("GIT_CONFIG_GLOBAL", file_str),
            ("GIT_USER_NAME", "Ada L"),
            ("GIT_USER_EMAIL", "ada@epfl.ch"),
        ]);
        assert_eq!(ensure_in(dir.path(), &cfg, b"").unwrap(), ["set user.name", "set user.email"]);
        let (name, email) = (read(&file, dir.path(), "user.name"), read(&file, dir.path(), "user.email"));
        assert_eq!((name.as_str(), email.as_str()), ("Ada L\n", "ada@epfl.ch\n"));
        let written = fs::read(&file).unwrap();
        assert_eq!(
            ensure_in(dir.path(), &cfg, &written).unwrap(),
            Vec::<String>::new(),
            "git's own format, read plainly"
        );
        let renamed = crate::config::for_tests(&[("GIT_CONFIG_GLOBAL", file_str), ("GIT_USER_NAME", "Someone Else")]);
        assert_eq!(
            ensure_in(dir.path(), &renamed, &written).unwrap(),
            Vec::<String>::new(),
            "a name already set is the user's choice"
        );
        // What a plain reading cannot tell is asked of git.
        let included = dir.path().join("included");
        fs::write(&included, format!("[include]\n\tpath = {}\n", file.display())).unwrap();
        let through =
            crate::config::for_tests(&[("GIT_CONFIG_GLOBAL", included.to_str().unwrap()), ("GIT_USER_NAME", "X")]);
        assert_eq!(ensure_in(dir.path(), &through, &fs::read(&included).unwrap()).unwrap(), Vec::<String>::new());
        assert_eq!(read(&file, dir.path(), "user.name"), "Ada L\n");
    }
}
