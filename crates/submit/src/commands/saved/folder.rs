//! Owner-only folders and files for the kept copies: logs can hold traces
//! of secrets. Each folder of the state directory is created 0700 (or, if
//! there, must be a directory of ours, not a symlink, and is made 0700);
//! each file is created new, 0600, never through a symlink nor over an
//! existing file.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// `dir` made (or found) as a folder of ours that only we can open. Its
/// parents outside the state directory are created as needed, 0700.
pub fn ours(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        // The parents (`~/.local/state`) are the user's own business; a
        // missing one is created owner-only.
        DirBuilder::new().recursive(true).mode(DIR_MODE).create(parent)?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    // lstat: a symlink planted in its place is refused, not followed.
    let meta = fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::other(format!("{} is not a directory", dir.display())));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(io::Error::other(format!("{} belongs to another user (uid {})", dir.display(), meta.uid())));
    }
    if meta.mode() & 0o777 != DIR_MODE {
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE))?;
    }
    Ok(())
}

/// A new folder `base` in `parent` (a folder of ours), or `base-1`,
/// `base-2`, ... if that one exists: two deletions in one second keep two
/// copies.
pub fn fresh(parent: &Path, base: &str) -> io::Result<PathBuf> {
    for n in 0u32..100 {
        let path = match n {
            0 => parent.join(base),
            n => parent.join(format!("{base}-{n}")),
        };
        match DirBuilder::new().mode(DIR_MODE).create(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!("{} already holds 100 copies named {base}", parent.display())))
}

/// A new file, 0600, that did not exist and is not a symlink.
pub fn new_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// `text` written into the new file `path`.
pub fn write_new(path: &Path, text: &[u8]) -> io::Result<()> {
    io::Write::write_all(&mut new_file(path)?, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_owner_only_and_new() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/submit");
        ours(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ours(&dir).unwrap();
        assert_eq!((mode(&dir), mode(&tmp.path().join("state"))), (0o700, 0o700));
        let (a, b) = (fresh(&dir, "t").unwrap(), fresh(&dir, "t").unwrap());
        assert_eq!((a.file_name().unwrap(), b.file_name().unwrap()), ("t".as_ref(), "t-1".as_ref()));
        write_new(&a.join("f"), b"x").unwrap();
        assert_eq!(mode(&a.join("f")), 0o600);
        assert_eq!(write_new(&a.join("f"), b"y").unwrap_err().kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn a_symlink_is_refused_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, tmp.path().join("submit")).unwrap();
        let err = ours(&tmp.path().join("submit")).unwrap_err();
        assert!(err.to_string().ends_with("is not a directory"), "{err}");
        std::os::unix::fs::symlink(&elsewhere, tmp.path().join("link")).unwrap();
        assert!(new_file(&tmp.path().join("link")).is_err());
        assert_eq!(fs::read_dir(&elsewhere).unwrap().count(), 0);
    }
}
