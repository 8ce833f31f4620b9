//! Step 3 (root): the ephemeral home `/home/<user>`, on the container's
//! root file system, owned by the user.
//!
//! Root creates it because /home belongs to root; from then on it is the
//! user's, so root only ever touches the directory itself through a
//! descriptor opened with O_NOFOLLOW (never `chown -R`, never a path
//! inside). Everything written into it is written by the user (`userstate`).
//!
//! When the account that held NB_UID is renamed (the image's placeholder),
//! its home moves with it, as the bash entrypoint's `usermod -d -m` did:
//! one `rename` of an entry of root's /home, nothing inside is touched, and
//! the files keep their uid, which is the researcher's.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::sys;

/// Mode of a new home: private, as Debian 12's `useradd` (HOME_MODE 0700).
pub const MODE: u32 = 0o700;

/// Creates `home` if missing and gives it to `uid:gid`. Returns what it did.
pub fn ensure(home: &Path, uid: u32, gid: u32) -> io::Result<Vec<String>> {
    let mut done = Vec::new();
    if let Some(parent) = home.parent() {
        fs::create_dir_all(parent)?;
    }
    let is_dir = match fs::symlink_metadata(home) {
        Ok(m) if m.is_dir() => true,
        Ok(m) => {
            // Only root can put something at /home/<user>: it is the image's,
            // and a home must be a directory.
            fs::remove_file(home)?;
            done.push(format!(
                "removed {} (was a {})",
                home.display(),
                if m.file_type().is_symlink() { "symlink" } else { "file" }
            ));
            false
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    if !is_dir {
        DirBuilder::new().mode(MODE).create(home)?;
        done.push(format!("created {}", home.display()));
    }
    let dir: File = OpenOptions::new().read(true).custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW).open(home)?;
    let m = dir.metadata()?;
    if (m.uid(), m.gid()) != (uid, gid) {
        sys::fchown(&dir, uid, gid)?;
        done.push(format!("chowned {} from {}:{} to {uid}:{gid}", home.display(), m.uid(), m.gid()));
    }
    Ok(done)
}

/// Moves `old` (the home of the account renamed to the researcher, in its
/// /etc/passwd before the edit) to `new`, as `usermod -d -m` would. Only a
/// real directory beside `new` (both in /home) moves, and only when `new`
/// does not exist yet: a home the image or a restart already made is kept,
/// and a placeholder whose home is `/nonexistent` or `/root` moves nothing.
pub fn adopt(old: &Path, new: &Path) -> io::Result<Option<String>> {
    if old == new || old.parent() != new.parent() {
        return Ok(None);
    }
    // symlink_metadata: a symlink at the old home is not a directory to move.
    if !fs::symlink_metadata(old).is_ok_and(|m| m.is_dir()) {
        return Ok(None);
    }
    match fs::symlink_metadata(new) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
        Ok(_) => return Ok(None),
    }
    // rename(2) moves the entry within root's /home; it follows no link and
    // touches no file inside.
    fs::rename(old, new)?;
    Ok(Some(format!("moved {} to {} (the renamed user's home)", old.display(), new.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_renamed_users_home_moves_only_beside_and_only_into_nothing() {
        let root = tempfile::tempdir().unwrap();
        let (old, new) = (root.path().join("home/placeholder"), root.path().join("home/ada"));
        fs::create_dir_all(&old).unwrap();
        fs::write(old.join(".profile"), "mine").unwrap();
        assert_eq!(adopt(&root.path().join("root"), &new).unwrap(), None, "not beside /home/ada");
        assert!(adopt(&old, &new).unwrap().is_some());
        assert!(!old.exists());
        assert_eq!(fs::read_to_string(new.join(".profile")).unwrap(), "mine");
        fs::create_dir(&old).unwrap();
        assert_eq!(adopt(&old, &new).unwrap(), None, "an existing home is kept");
        assert!(old.is_dir() && new.join(".profile").exists());
        fs::remove_dir(&old).unwrap();
        std::os::unix::fs::symlink(root.path(), &old).unwrap();
        fs::remove_dir_all(&new).unwrap();
        assert_eq!(adopt(&old, &new).unwrap(), None, "a symlink is not a home to move");
        assert!(!new.exists());
    }

    #[test]
    fn creates_then_leaves_alone() {
        if !crate::testing::root_or_skip("it chowns the home to another user") {
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home/ada");
        let done = ensure(&home, 4242, 4343).unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
        let m = fs::metadata(&home).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (4242, 4343, MODE));
        assert_eq!(ensure(&home, 4242, 4343).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_symlink_in_place_of_home_is_replaced_not_followed() {
        if !crate::testing::root_or_skip("it chowns the home to another user") {
            return;
        }
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::create_dir(root.path().join("home")).unwrap();
        let home = root.path().join("home/ada");
        std::os::unix::fs::symlink(&target, &home).unwrap();
        ensure(&home, 4242, 4343).unwrap();
        assert!(fs::symlink_metadata(&home).unwrap().is_dir());
        assert_eq!(fs::metadata(&target).unwrap().uid(), sys::getuid(), "target not chowned");
    }
}
