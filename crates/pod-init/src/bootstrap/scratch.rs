//! Step 4 (as the seed user): the researcher's directories on scratch.
//!
//! Scratch is NFS with root squashed: root is `nobody` there and cannot
//! create anything in the seed-owned 0770 homes root. The account that owns
//! that root (SCRATCH_SEED_USER) can, so PID 1 acts as it ([`fsid`]: its
//! groups, fs gid and fs uid) and creates SCRATCH_HOME, WORKING_DIR and
//! HF_HOME with umask 007: group-shared and closed to others. SCRATCH_HOME gets the
//! sticky bit too (1770): the lab may add files there, but only their owner
//! renames or deletes an entry, so nobody moves the researcher's shell
//! state away to plant another. Every path is walked from `/` with
//! directory descriptors ([`Walker`]): a symlink on the way (a lab member
//! can put one in the homes root) stops that path. A failure does not stop
//! the bootstrap, as in the bash entrypoint: the job may not need scratch.
//! The directories the walk ended on are kept for the user-state step,
//! which starts its own walk there.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use crate::dirwalk::{Create, Walker};
use crate::fsid::{self, NotDone};
use crate::identity::Identity;

/// Mode of the shared directories.
pub const MODE: u32 = 0o770;

/// Mode of the scratch home: shared, but entries only their owner moves.
pub const HOME_MODE: u32 = 0o1770;

/// One directory the seed prepares, with its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted<'a> {
    pub dir: &'a Path,
    pub mode: u32,
}

/// Creates `dir` (and its missing parents, 0770) unless it is there, and
/// sets `mode` on it if the seed owns it and it differs. Logs.
fn ensure_dir(walker: &mut Walker, wanted: &Wanted, uid: u32) -> bool {
    let (dir, mode) = (wanted.dir, wanted.mode);
    let (found, created) = match walker.dir(dir, Some(Create { last: mode, parents: MODE })) {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("scratch: {e}");
            return false;
        }
    };
    // Created with the mode, under the umask 007 that keeps every bit of it:
    // nothing to check again.
    if created {
        tracing::info!("scratch: created {} ({mode:04o})", dir.display());
        return true;
    }
    let before = found.attrs.mode;
    // Another member's directory (a shared HF_HOME): not ours to chmod.
    if before == mode || found.attrs.uid != uid {
        tracing::info!("scratch: {} already there", dir.display());
        return true;
    }
    match found.chmod(mode) {
        Ok(()) => tracing::info!("scratch: {} mode {before:04o} -> {mode:04o}", dir.display()),
        Err(e) => {
            tracing::warn!("scratch: cannot chmod {} to {mode:04o}: {e}", dir.display());
            return false;
        }
    }
    true
}

/// Creates `dirs` as `seed`, trying every directory even after a failure,
/// and logs each one. Returns the outcome and the directories it opened.
pub fn prepare(seed: &Identity, dirs: &[Wanted]) -> (Result<(), NotDone>, Vec<(PathBuf, OwnedFd)>) {
    let uid = seed.uid;
    fsid::act_as_logged(seed, || {
        let mut walker = Walker::new();
        // Every directory is tried, even after a failure.
        let results: Vec<bool> = dirs.iter().map(|d| ensure_dir(&mut walker, d, uid)).collect();
        // Walked already: each is the last directory opened, no lookup.
        let opened = dirs.iter().filter_map(|d| Some((d.dir.to_owned(), walker.handle(d.dir).ok()?))).collect();
        (results.into_iter().all(|ok| ok), opened)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn creates_with_the_mode_fixes_ours_and_refuses_a_symlink_on_the_way() {
        let root = tempfile::tempdir().unwrap();
        let me = crate::sys::getuid();
        let home = root.path().join("homes/ada");
        let project = home.join("project");
        let mut walker = Walker::new();
        assert!(ensure_dir(&mut walker, &Wanted { dir: &home, mode: HOME_MODE }, me));
        assert!(ensure_dir(&mut walker, &Wanted { dir: &project, mode: MODE }, me));
        assert_eq!((mode(&home) & 0o1700, mode(&project) & 0o700), (0o1700, 0o700));
        fs::set_permissions(&home, fs::Permissions::from_mode(0o770)).unwrap();
        assert!(ensure_dir(&mut Walker::new(), &Wanted { dir: &home, mode: HOME_MODE }, me));
        assert_eq!(mode(&home), HOME_MODE, "an older home of ours gets the sticky bit");

        let private = root.path().join("homes/admin-private");
        fs::create_dir_all(private.join("secrets")).unwrap();
        fs::set_permissions(private.join("secrets"), fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("admin-private", root.path().join("homes/bob")).unwrap();
        let below = root.path().join("homes/bob/secrets");
        let mut walker = Walker::new();
        assert!(!ensure_dir(&mut walker, &Wanted { dir: &root.path().join("homes/bob"), mode: HOME_MODE }, me));
        assert!(!ensure_dir(&mut walker, &Wanted { dir: &below, mode: MODE }, me));
        assert!(!ensure_dir(&mut Walker::new(), &Wanted { dir: &below, mode: MODE }, me));
        assert_eq!(mode(&private.join("secrets")), 0o700, "chmodded through the link");
    }
}
