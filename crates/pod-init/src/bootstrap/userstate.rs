//! Step 5 (as the user): shell state on scratch, links from the ephemeral
//! home, git identity, uv directories and `~/.ssh`.
//!
//! All of it runs in a forked child that switched to the user's groups, gid
//! and uid: both the home and SCRATCH_HOME belong to the user, who could
//! plant a symlink there between two pod starts, so root never writes in
//! them. As the user, a planted link can only lead the user to their own
//! files. Each sub-step logs what it changed; a failure is logged and the
//! others still run.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::env::EnvVars;
use common::image;

use crate::bootstrap::ssh::{self, SshMaterial};
use crate::config::PodConfig;
use crate::identity::Identity;
use crate::sys::{self, ChildError};

/// The directories of editors' remote servers and settings, kept on scratch
/// so extensions survive the pod.
pub const EDITOR_DIRS: [&str; 4] = [".vscode", ".vscode-server", ".cursor", ".cursor-server"];

/// Runs every sub-step as `user`, each even after another failed; the
/// child logs each one. `old_home`: the home of the account renamed to the
/// user, which root could not move (its files are the user's: same uid).
pub fn prepare(cfg: &PodConfig, user: &Identity, ssh: &SshMaterial, old_home: Option<&Path>) -> Result<(), ChildError> {
    sys::run_as(user, "user state", || {
        let mut ok = true;
        let mut step = |name: &str, r: io::Result<Vec<String>>| match r {
            Ok(done) if done.is_empty() => tracing::info!("{name}: nothing to change"),
            Ok(done) => tracing::info!("{name}: {}", done.join("; ")),
            Err(e) => {
                ok = false;
                tracing::warn!("{name}: {e}");
            }
        };
        if let Some(old) = old_home {
            // First, so that the links below replace what it brings.
            step("home", copy_home(old, &cfg.home()));
        }
        step("shell", shell_state(cfg, Path::new(image::STAGE_DIR)));
        step("history", touch(&cfg.histfile(), 0o600).map(|d| d.into_iter().collect()));
        step("git config", touch(&cfg.git_config_global, 0o660).map(|d| d.into_iter().collect()));
        step("home links", home_links(cfg));
        step("git identity", git_identity(cfg));
        step("uv", uv_dirs(cfg));
        step("ssh", ssh::recreate(&cfg.home(), ssh));
        ok
    })
}

/// `ZDOTDIR` (`SCRATCH_HOME/.shell`) with oh-my-zsh and `.zshrc` from the
/// image's stage directory (`/docker`), copied once: afterwards they are the
/// user's to change.
fn shell_state(cfg: &PodConfig, stage: &Path) -> io::Result<Vec<String>> {
    let staged =
        |constant: &str| stage.join(Path::new(constant).strip_prefix(image::STAGE_DIR).unwrap_or(Path::new(constant)));
    let mut done = Vec::new();
    let zdotdir = cfg.zdotdir();
    done.extend(ensure_dir(&zdotdir)?);
    let zshrc = zdotdir.join(".zshrc");
    if fs::symlink_metadata(&zshrc).is_err() {
        let from = staged(image::STAGED_ZSHRC);
        match fs::read(&from) {
            Ok(bytes) => {
                write_via_temp(&zshrc, &bytes)?;
                done.push(format!("copied {} to {}", from.display(), zshrc.display()));
            }
            Err(e) => done.push(format!("{} not in the image ({e}); no .zshrc", from.display())),
        }
    }
    let omz = cfg.oh_my_zsh();
    remove_stale_partials(&zdotdir);
    if fs::symlink_metadata(&omz).is_err() {
        let from = staged(image::STAGED_OH_MY_ZSH);
        if from.is_dir() {
            // Copied under a temporary name and renamed: a copy cut short by
            // a crash is redone next time instead of being kept half done.
            // Random, not the pid: every pod-init is PID 1, and two pods of
            // the same user may start at once on the same scratch.
            let partial = zdotdir.join(format!("{PARTIAL_PREFIX}{}", sys::random_suffix()));
            copy_tree(&from, &partial)?;
            match fs::rename(&partial, &omz) {
                Ok(()) => done.push(format!("copied {} to {}", from.display(), omz.display())),
                // Another pod finished first: its copy is as good as ours.
                Err(_) if omz.is_dir() => fs::remove_dir_all(&partial)?,
                Err(e) => return Err(e),
            }
        } else {
            done.push(format!("{} not in the image; no oh-my-zsh", from.display()));
        }
    }
    Ok(done)
}

/// The name of an oh-my-zsh copy in progress, before its random suffix.
const PARTIAL_PREFIX: &str = ".oh-my-zsh.partial-";

/// A copy in progress for this long was cut short (a copy takes seconds).
const STALE_PARTIAL: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes copies cut short by a crash of an earlier start.
fn remove_stale_partials(zdotdir: &Path) {
    let Ok(entries) = fs::read_dir(zdotdir) else { return };
    for entry in entries.flatten() {
        // The name first: only a partial copy is worth an lstat (on NFS
        // scratch, a round trip each).
        let is_partial = entry.file_name().to_str().is_some_and(|n| n.starts_with(PARTIAL_PREFIX));
        let old = || {
            entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t.elapsed().is_ok_and(|age| age > STALE_PARTIAL))
        };
        if is_partial && old() && fs::remove_dir_all(entry.path()).is_ok() {
            tracing::info!("shell: removed {}, a copy cut short by an earlier start", entry.path().display());
        }
    }
}

fn write_via_temp(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", sys::random_suffix()));
    fs::write(&tmp, bytes)?;
    fs::rename(&tmp, path)
}

/// `usermod -d -m` across file systems: what `old` holds is copied into
/// `home`, except names `home` already has. `old` is left in place (it is
/// in root's /home, which the user cannot change).
fn copy_home(old: &Path, home: &Path) -> io::Result<Vec<String>> {
    copy_entries(old, home)?;
    Ok(vec![format!("copied {} into {} (a rename across file systems is not possible)", old.display(), home.display())])
}

/// `cp -a` without ownership (the user cannot chown anyway): directories,
/// files with their mode, symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o770).create(to)?;
    copy_entries(from, to)
}

/// The entries of `from` copied into the existing `to`; names `to` already
/// has are kept as they are.
fn copy_entries(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if fs::symlink_metadata(&dst).is_ok() {
            continue;
        }
        if kind.is_symlink() {
            symlink(fs::read_link(&src)?, &dst)?;
        } else if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Creates `path` if missing (never through a symlink) and sets `mode`.
fn touch(path: &Path, mode: u32) -> io::Result<Option<String>> {
    let found = fs::symlink_metadata(path).ok();
    // A restart: our own regular file with the mode already exact (so we
    // can open it to append). Nothing to create or change, and on NFS
    // scratch the open, fstat and close would each be a round trip.
    if found.as_ref().is_some_and(|m| {
        m.file_type().is_file() && m.uid() == nix::unistd::geteuid().as_raw() && m.mode() & 0o7777 == mode
    }) {
        return Ok(None);
    }
    if let Some(parent) = path.parent() {
        DirBuilder::new().recursive(true).mode(0o770).create(parent)?;
    }
    let existed = found.is_some();
    let f = OpenOptions::new().append(true).create(true).mode(mode).custom_flags(libc::O_NOFOLLOW).open(path)?;
    let before = f.metadata()?.permissions().mode() & 0o7777;
    if before != mode {
        f.set_permissions(fs::Permissions::from_mode(mode))?;
    }
    Ok(match (existed, before != mode) {
        (false, _) => Some(format!("created {} ({mode:04o})", path.display())),
        (true, true) => Some(format!("{} mode {before:04o} -> {mode:04o}", path.display())),
        (true, false) => None,
    })
}

/// The links from the ephemeral home into scratch.
pub fn links(cfg: &PodConfig) -> Vec<(PathBuf, PathBuf)> {
    let home = cfg.home();
    let mut v = vec![
        (home.join(".zshrc"), cfg.zdotdir().join(".zshrc")),
        (home.join(".oh-my-zsh"), cfg.oh_my_zsh()),
        (home.join(".zsh_history"), cfg.histfile()),
    ];
    v.extend(EDITOR_DIRS.iter().map(|d| (home.join(d), cfg.scratch_home.join(d))));
    v
}

fn home_links(cfg: &PodConfig) -> io::Result<Vec<String>> {
    let mut done = Vec::new();
    for d in EDITOR_DIRS {
        done.extend(ensure_dir(&cfg.scratch_home.join(d))?);
    }
    for (link, target) in links(cfg) {
        if let Some(line) = ensure_link(&link, &target)? {
            done.push(line);
        }
    }
    Ok(done)
}

/// `link` is a symlink to `target`. What is in the way is removed if it is a
/// file, a symlink or an empty directory (a stale `~/.zshrc` from the image
/// included); a directory with content is kept and reported.
fn ensure_link(link: &Path, target: &Path) -> io::Result<Option<String>> {
    match fs::symlink_metadata(link) {
        Ok(m) if m.file_type().is_symlink() => {
            if fs::read_link(link)? == target {
                return Ok(None);
            }
            fs::remove_file(link)?;
        }
        Ok(m) if m.is_dir() => {
            if fs::remove_dir(link).is_err() {
                return Ok(Some(format!(
                    "kept {}: a directory with content, not linked to {}",
                    link.display(),
                    target.display()
                )));
            }
        }
        Ok(_) => fs::remove_file(link)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    symlink(target, link)?;
    Ok(Some(format!("{} -> {}", link.display(), target.display())))
}

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
            None => cmd.args(["--get", self.key]),
            Some(v) => cmd.args([self.key, v]),
        };
        cmd.stdin(Stdio::null());
        cmd
    }
}

fn git_identity(cfg: &PodConfig) -> io::Result<Vec<String>> {
    let mut done = Vec::new();
    let home = cfg.home();
    for (key, value) in [("user.name", &cfg.git_user_name), ("user.email", &cfg.git_user_email)] {
        let Some(value) = value else { continue };
        let get = GitConfig { file: &cfg.git_config_global, home: &home, key, value: None };
        let current = get.command().stderr(Stdio::null()).output()?;
        if current.status.success() && !current.stdout.trim_ascii().is_empty() {
            continue;
        }
        let set = GitConfig { value: Some(value), ..get };
        let out = set.command().output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "git config --global {key}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        done.push(format!("set {key}"));
    }
    Ok(done)
}

fn uv_dirs(cfg: &PodConfig) -> io::Result<Vec<String>> {
    let mut done = Vec::new();
    for dir in [&cfg.uv_cache_dir, &cfg.uv_python_install_dir] {
        done.extend(ensure_dir(dir)?);
    }
    Ok(done)
}

/// Creates `dir` and its missing parents (0770, less the umask) unless it
/// is a directory already; says so if it did.
fn ensure_dir(dir: &Path) -> io::Result<Option<String>> {
    if dir.is_dir() {
        return Ok(None);
    }
    DirBuilder::new().recursive(true).mode(0o770).create(dir)?;
    Ok(Some(format!("created {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_old_home_is_copied_without_overwriting() {
        let (old, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::create_dir(old.path().join(".config")).unwrap();
        fs::write(old.path().join(".config/app"), "setting").unwrap();
        fs::write(old.path().join(".profile"), "old").unwrap();
        fs::write(home.path().join(".profile"), "kept").unwrap();
        symlink(".profile", old.path().join(".link")).unwrap();
        copy_home(old.path(), home.path()).unwrap();
        assert_eq!(fs::read_to_string(home.path().join(".config/app")).unwrap(), "setting");
        assert_eq!(fs::read_to_string(home.path().join(".profile")).unwrap(), "kept");
        assert_eq!(fs::read_link(home.path().join(".link")).unwrap(), Path::new(".profile"));
        assert!(old.path().join(".profile").exists(), "the old home is left in place");
    }

    #[test]
    fn links_replace_files_and_empty_dirs_keep_full_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("t");
        let link = dir.path().join("l");
        fs::write(&link, "stale zshrc").unwrap();
        assert!(ensure_link(&link, &target).unwrap().is_some());
        assert_eq!(fs::read_link(&link).unwrap(), target);
        assert_eq!(ensure_link(&link, &target).unwrap(), None, "second run: nothing");
        fs::remove_file(&link).unwrap();
        fs::create_dir(&link).unwrap();
        fs::write(link.join("x"), "").unwrap();
        assert!(ensure_link(&link, &target).unwrap().unwrap().starts_with("kept"));
        assert!(link.join("x").exists());
    }

    #[test]
    fn shell_files_are_copied_once_and_a_stale_partial_copy_is_removed() {
        let stage = tempfile::tempdir().unwrap();
        fs::write(stage.path().join(".zshrc"), "umask 007\n").unwrap();
        fs::create_dir_all(stage.path().join("oh-my-zsh/lib")).unwrap();
        fs::write(stage.path().join("oh-my-zsh/lib/git.zsh"), "# git\n").unwrap();
        symlink("lib/git.zsh", stage.path().join("oh-my-zsh/link")).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let home = scratch.path().to_str().unwrap();
        let cfg = crate::config::for_tests(&[("SCRATCH_HOME", home)]);
        fs::create_dir(cfg.zdotdir()).unwrap();
        let stale = cfg.zdotdir().join(format!("{PARTIAL_PREFIX}abcdef"));
        fs::create_dir(&stale).unwrap();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::open(&stale).unwrap().set_modified(hour_ago).unwrap();

        let done = shell_state(&cfg, stage.path()).unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
        assert!(!stale.exists(), "stale partial copy kept");
        assert_eq!(fs::read_to_string(cfg.oh_my_zsh().join("lib/git.zsh")).unwrap(), "# git\n");
        assert_eq!(fs::read_link(cfg.oh_my_zsh().join("link")).unwrap(), Path::new("lib/git.zsh"));
        assert_eq!(fs::read_to_string(cfg.zdotdir().join(".zshrc")).unwrap(), "umask 007\n");
        let names: Vec<_> = fs::read_dir(cfg.zdotdir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "only .zshrc and oh-my-zsh: {names:?}");

        // The user's edits survive the next start; nothing is copied again.
        fs::write(cfg.zdotdir().join(".zshrc"), "mine\n").unwrap();
        assert_eq!(shell_state(&cfg, stage.path()).unwrap(), Vec::<String>::new());
        assert_eq!(fs::read_to_string(cfg.zdotdir().join(".zshrc")).unwrap(), "mine\n");
    }

    #[test]
    fn touch_creates_with_mode_and_refuses_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("sub/hist");
        assert!(touch(&f, 0o600).unwrap().is_some());
        assert_eq!(fs::metadata(&f).unwrap().permissions().mode() & 0o7777, 0o600);
        assert_eq!(touch(&f, 0o600).unwrap(), None);
        let l = dir.path().join("link");
        symlink(&f, &l).unwrap();
        assert_eq!(touch(&l, 0o600).unwrap_err().raw_os_error(), Some(libc::ELOOP));
    }

    #[test]
    fn git_identity_is_written_by_real_git_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gitconfig");
        let file_str = file.to_str().unwrap();
        let cfg = crate::config::for_tests(&[
            ("GIT_CONFIG_GLOBAL", file_str),
            ("GIT_USER_NAME", "Ada L"),
            ("GIT_USER_EMAIL", "ada@epfl.ch"),
        ]);
        let read = |key| {
            let out = GitConfig { file: &file, home: dir.path(), key, value: None }
                .command()
                .output()
                .expect("git not found: apt-get install git");
            String::from_utf8(out.stdout).unwrap()
        };
        assert_eq!(git_identity(&cfg).unwrap(), ["set user.name", "set user.email"]);
        assert_eq!((read("user.name"), read("user.email")), ("Ada L\n".to_owned(), "ada@epfl.ch\n".to_owned()));
        assert_eq!(git_identity(&cfg).unwrap(), Vec::<String>::new());
        let renamed = crate::config::for_tests(&[("GIT_CONFIG_GLOBAL", file_str), ("GIT_USER_NAME", "Someone Else")]);
        assert_eq!(git_identity(&renamed).unwrap(), Vec::<String>::new(), "a name already set is the user's choice");
        assert_eq!(read("user.name"), "Ada L\n");
    }
}
