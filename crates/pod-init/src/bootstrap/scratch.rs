//! Step 4 (as the seed user): the researcher's directories on scratch.
//!
//! Scratch is NFS with root squashed: root is `nobody` there and cannot
//! create anything in the seed-owned 0770 homes root. The account that owns
//! that root (SCRATCH_SEED_USER) can, so a forked child switches fully to
//! it (groups, gid, uid) and creates SCRATCH_HOME, WORKING_DIR and HF_HOME
//! with umask 007 and mode 0770, group-shared and closed to others. A
//! failure does not stop the bootstrap, as in the bash entrypoint: the job
//! may not need scratch at all.

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::identity::Identity;
use crate::sys::{self, ChildError};

/// Mode of the shared directories.
pub const MODE: u32 = 0o770;

/// `mkdir -p dir` then mode 0770 if we own it and it differs. Logs.
fn ensure_dir(dir: &Path, uid: u32) -> bool {
    // The homes root is group-writable: another member could have put a
    // symlink where this user's directory goes. Never chmod through it.
    let found = fs::symlink_metadata(dir).ok();
    if found.as_ref().is_some_and(|m| m.file_type().is_symlink()) {
        tracing::warn!("scratch: {} is a symbolic link; left alone", dir.display());
        return false;
    }
    // On a restart every directory is there: the lstat above is all it
    // takes (a directory, not a link, so it is what stat would say), no
    // mkdir that can only fail with EEXIST.
    let existing = found.filter(fs::Metadata::is_dir);
    let existed = existing.is_some();
    if !existed {
        if let Err(e) = DirBuilder::new().recursive(true).mode(MODE).create(dir) {
            tracing::warn!("scratch: cannot create {}: {e}", dir.display());
            return false;
        }
    }
    let chmod = match existing.map_or_else(|| fs::metadata(dir), Ok) {
        Ok(m) if m.mode() & 0o7777 == MODE => Ok(false),
        // Another member's directory (a shared HF_HOME): not ours to chmod.
        Ok(m) if m.uid() != uid => Ok(false),
        Ok(_) => fs::set_permissions(dir, fs::Permissions::from_mode(MODE)).map(|()| true),
        Err(e) => Err(e),
    };
    match (existed, chmod) {
        (_, Err(e)) => {
            tracing::warn!("scratch: cannot chmod {} to 0770: {e}", dir.display());
            return false;
        }
        (false, _) => tracing::info!("scratch: created {} (0770)", dir.display()),
        (true, Ok(true)) => tracing::info!("scratch: {} set to 0770", dir.display()),
        (true, Ok(false)) => tracing::info!("scratch: {} already there", dir.display()),
    }
    true
}

/// Creates `dirs` as `seed` in a forked child, trying every directory even
/// after a failure. The child logs each directory.
pub fn prepare(seed: &Identity, dirs: &[PathBuf]) -> Result<(), ChildError> {
    let uid = seed.uid;
    sys::run_as(seed, "scratch", || {
        let results: Vec<bool> = dirs.iter().map(|d| ensure_dir(d, uid)).collect();
        results.into_iter().all(|ok| ok)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_0770_and_refuses_to_chmod_through_a_symlink() {
        let root = tempfile::tempdir().unwrap();
        let me = crate::sys::getuid();
        let dir = root.path().join("homes/ada/project");
        assert!(ensure_dir(&dir, me));
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, MODE);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(ensure_dir(&dir, me), "existing directory of ours: mode fixed");
        assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, MODE);

        let elsewhere = root.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o700)).unwrap();
        let planted = root.path().join("homes/bob");
        std::os::unix::fs::symlink(&elsewhere, &planted).unwrap();
        assert!(!ensure_dir(&planted, me));
        assert_eq!(fs::metadata(&elsewhere).unwrap().mode() & 0o7777, 0o700, "target chmodded");
    }
}
