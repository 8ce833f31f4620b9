//! Step 5 (as the user): shell state on scratch, links from the ephemeral
//! home, git identity, uv directories and `~/.ssh`.
//!
//! All of it is done acting as the user ([`fsid`]: the user's groups, fs
//! gid and fs uid): both the home and SCRATCH_HOME belong to the user (or
//! to the seed, for the lab), who could plant a symlink there between two
//! pod starts, so root never writes in them. Every scratch path is walked from
//! `/` with directory descriptors ([`Walker`]): a symlink on the way, which
//! a lab member can plant in the homes root, stops that path and
//! everything below it, so the user never writes into another account's
//! directory. What is laid out is the user's alone ([`private`]). Each
//! sub-step logs what it changed; a failure is logged and the others
//! still run. The walk's descriptors of the attempt record's directory and
//! of WORKING_DIR are kept for the record's end and the command's working
//! directory: the shared path is not looked up again.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::image;

use super::{copytree, gitidentity, scratch, shell};
use crate::bootstrap::ssh::{self, SshMaterial};
use crate::config::PodConfig;
use crate::dirwalk::{Create, Walker};
use crate::fsid::{self, NotDone};
use crate::identity::Identity;
use crate::{attempts, private};

/// The directories of editors' remote servers and settings, kept on scratch
/// so extensions survive the pod.
pub const EDITOR_DIRS: [&str; 4] = [".vscode", ".vscode-server", ".cursor", ".cursor-server"];

/// What the walk opened, as the user, for the record's end and the command.
#[derive(Debug)]
pub struct Opened {
    /// The job's attempt record directory (a job with a name and a submission).
    pub attempts: Option<OwnedFd>,
    /// WORKING_DIR, or the errno of why not (0: not walked).
    pub working_dir: Result<OwnedFd, i32>,
    /// This start's entry name in the attempt record, then the previous
    /// one's after a `/` ([`attempts::write_start`]).
    pub record: Option<String>,
}

impl Default for Opened {
    fn default() -> Self {
        Opened { attempts: None, working_dir: Err(0), record: None }
    }
}

/// Runs every sub-step as `user`, each even after another failed, and logs
/// each one. `seed_uid`: the seed's, which may own the scratch
/// home. `old_home`: the home of the account renamed to the user, which
/// root could not move (its files are the user's: same uid). `walked`:
/// the directories the seed's walk opened, where this walk starts. `node`:
/// the pod's NODE_NAME, for the attempt record. Returns the outcome and
/// what the walk opened.
pub fn prepare(
    cfg: &PodConfig,
    user: &Identity,
    seed_uid: Option<u32>,
    ssh: &SshMaterial,
    old_home: Option<&Path>,
    walked: Vec<(PathBuf, OwnedFd)>,
    node: Option<&str>,
) -> (Result<(), NotDone>, Opened) {
    fsid::act_as_logged(user, || {
        let mut ok = true;
        let mut walker = Walker::new();
        for (path, fd) in walked {
            if let Err(e) = walker.adopt(&path, fd) {
                tracing::debug!("user state: {e}; walked again");
            }
        }
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
            step("home", copy_home(&mut walker, old, &cfg.home()));
        }
        // Said only when it changed or failed: the steps below say the rest.
        match scratch_home(&mut walker, cfg, user.uid, seed_uid) {
            Ok(done) if done.is_empty() => {}
            other => step("user state", other),
        }
        step("shell", shell::prepare(&mut walker, cfg, Path::new(image::STAGE_DIR)));
        step("history", private::file_at(&mut walker, &cfg.histfile(), false).map(|(done, _)| done));
        // Read only for the identity, once: git runs only if it is not there.
        let identity = cfg.git_user_name.is_some() || cfg.git_user_email.is_some();
        let git_config = match private::file_at(&mut walker, &cfg.git_config_global, identity) {
            Ok((done, content)) => {
                step("git config", Ok(done));
                Some(content)
            }
            Err(e) => {
                step("git config", Err(e));
                None
            }
        };
        step("home links", home_links(&mut walker, cfg));
        // Not into a file refused above: git would write through a link.
        if let Some(content) = git_config.filter(|_| identity) {
            step("git identity", git_identity(&mut walker, cfg, &content, user));
        }
        step("uv", uv_dirs(&mut walker, cfg));
        step("ssh", ssh::recreate(&cfg.home(), ssh));
        (ok, keep_open(&mut walker, cfg, node))
    })
}

/// Records this start (for a job with a name and a submission) in its
/// record directory, and opens WORKING_DIR on the walk.
fn keep_open(walker: &mut Walker, cfg: &PodConfig, node: Option<&str>) -> Opened {
    let started = cfg.job.as_ref().and_then(|job| attempts::write_start(walker, &cfg.scratch_home, job, node));
    // Made by the seed: only walked here, never created.
    let working_dir = walker.handle(&cfg.working_dir);
    let (attempts, record) = started.unzip();
    Opened { attempts, working_dir, record }
}

/// SCRATCH_HOME walked, or made by the user when the seed could not (the
/// lab's mode, 1770, then too). It must be the seed's, root's or the
/// user's: in a lab member's directory, its owner could rename what is laid
/// out there whatever the sticky bit says. Refused, nothing below it is
/// touched.
fn scratch_home(walker: &mut Walker, cfg: &PodConfig, uid: u32, seed_uid: Option<u32>) -> io::Result<Vec<String>> {
    let path = &cfg.scratch_home;
    let create = Create { last: scratch::HOME_MODE, parents: scratch::MODE };
    let (dir, created) = walker.dir(path, Some(create)).map_err(io::Error::other)?;
    let owner = dir.attrs.uid;
    if owner != uid && owner != 0 && Some(owner) != seed_uid {
        walker.refuse(path);
        return Err(io::Error::other(format!(
            "{} belongs to uid {owner}, neither you nor the seed; nothing below it is touched",
            path.display()
        )));
    }
    Ok(if created { vec![format!("created {} ({:04o})", path.display(), scratch::HOME_MODE)] } else { vec![] })
}

/// `usermod -d -m` across file systems: what `old` holds is copied into
/// `home`, except names `home` already has. `old` is left in place (it is
/// in root's /home, which the user cannot change).
fn copy_home(walker: &mut Walker, old: &Path, home: &Path) -> io::Result<Vec<String>> {
    let (dir, _) = walker.dir(home, None).map_err(io::Error::other)?;
    copytree::copy_entries(old, dir, 0o777)?;
    Ok(vec![format!("copied {} into {} (a rename across file systems is not possible)", old.display(), home.display())])
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

fn home_links(walker: &mut Walker, cfg: &PodConfig) -> io::Result<Vec<String>> {
    let mut done = Vec::new();
    for d in EDITOR_DIRS {
        private::leaf_dir(walker, &cfg.scratch_home.join(d), &mut done)?;
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

/// The identity into the config file, in the directory walked for it above.
fn git_identity(walker: &mut Walker, cfg: &PodConfig, content: &[u8], user: &Identity) -> io::Result<Vec<String>> {
    let file = &cfg.git_config_global;
    let (Some(parent), Some(name)) = (file.parent(), file.file_name()) else { return Ok(Vec::new()) };
    let (dir, _) = walker.dir(parent, None).map_err(io::Error::other)?;
    gitidentity::ensure(cfg, &cfg.home(), dir, name, content, user)
}

fn uv_dirs(walker: &mut Walker, cfg: &PodConfig) -> io::Result<Vec<String>> {
    let mut done = Vec::new();
    for dir in [&cfg.uv_cache_dir, &cfg.uv_python_install_dir] {
        private::leaf_dir(walker, dir, &mut done)?;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
