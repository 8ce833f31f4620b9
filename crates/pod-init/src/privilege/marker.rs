//! The run-once marker of the setuid start: a file only root can create,
//! created exclusively, so that exactly one start per container claims it.

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Why the marker could not be claimed.
#[derive(Debug)]
pub enum Claim {
    /// It is already there: someone claimed it first.
    Exists,
    /// Its directory could be written by someone other than its owner, or
    /// is not owned as expected: a marker there proves nothing.
    UntrustedDirectory { dir: String, uid: u32, mode: u32 },
    /// The file system refused.
    Io(io::Error),
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Claim::Exists => f.write_str("it already exists"),
            Claim::UntrustedDirectory { dir, uid, mode } => {
                write!(f, "{dir} is owned by uid {uid} with mode {mode:o}; it must be root's and writable by root only")
            }
            Claim::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Creates `path` exclusively, owned by `owner` (uid, gid), mode 0444.
/// `owner` is `(0, 0)` in pod-init; tests pass their own ids.
pub fn claim(path: &Path, owner: (u32, u32)) -> Result<(), Claim> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    // symlink_metadata: a directory that is a symlink is not root's /run.
    let meta = std::fs::symlink_metadata(dir).map_err(Claim::Io)?;
    let mode = meta.mode() & 0o7777;
    if !meta.is_dir() || meta.uid() != owner.0 || mode & 0o022 != 0 {
        return Err(Claim::UntrustedDirectory { dir: dir.display().to_string(), uid: meta.uid(), mode });
    }
    // O_CREAT|O_EXCL fails on anything already at the path, a dangling
    // symlink included (open(2)), so the claim cannot be redirected.
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| if e.kind() == io::ErrorKind::AlreadyExists { Claim::Exists } else { Claim::Io(e) })?;
    // In a setuid start the new file's group is the user's gid (the
    // effective gid); make it root's like the rest of /run.
    std::os::unix::fs::fchown(&file, Some(owner.0), Some(owner.1)).map_err(Claim::Io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own_ids() -> (u32, u32) {
        (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())
    }

    fn private_dir() -> tempfile::TempDir {
        // tempdir creates 0700 directories: writable by their owner only.
        tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
    }

    #[test]
    fn the_first_claim_wins_and_the_second_finds_it() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        assert!(claim(&marker, own_ids()).is_ok());
        assert!(matches!(claim(&marker, own_ids()), Err(Claim::Exists)));
        let meta = std::fs::metadata(&marker).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (own_ids().0, own_ids().1, 0o444));
    }

    #[test]
    fn a_planted_symlink_counts_as_claimed_and_is_not_followed() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, &marker).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(claim(&marker, own_ids()), Err(Claim::Exists)));
        assert!(!target.exists(), "the claim followed the symlink");
    }

    #[test]
    fn a_directory_others_can_write_is_not_trusted() {
        let dir = private_dir();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = claim(&open.join("pod-init.started"), own_ids());
        assert!(matches!(err, Err(Claim::UntrustedDirectory { mode: 0o1777, .. })), "{err:?}");
        let message = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.ends_with("with mode 1777; it must be root's and writable by root only"), "{message}");
    }

    #[test]
    fn a_directory_of_someone_else_is_not_trusted() {
        let dir = private_dir();
        let (uid, gid) = own_ids();
        let err = claim(&dir.path().join("pod-init.started"), (uid.wrapping_add(1), gid));
        assert!(matches!(err, Err(Claim::UntrustedDirectory { .. })), "{err:?}");
    }
}
