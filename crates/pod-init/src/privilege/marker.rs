//! The run-once marker of the setuid start: a file only root can create, in
//! root's /run, which the PID 1 that claimed it keeps locked (`flock`,
//! exclusive) for as long as it lives. While the container runs, its PID 1
//! holds the lock and every other claim fails. When the container stops,
//! every process in it dies and the lock goes with them, so the next start
//! over the same writable layer (`docker restart`) claims it again.
//!
//! A claim writes nothing once the file exists: an open and a lock, where
//! replacing a record by rename would make the file system write the new
//! file out first (ext4 does for a rename over an existing file), on every
//! restart.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// What the marker says to whoever reads it.
const CONTENT: &[u8] = b"claimed by this container's PID 1 (pod-init), which holds a lock on it while it runs\n";

/// How the marker was claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// There was none: the first start of this container.
    First,
    /// It was there, unlocked: a new start of a container whose writable
    /// layer was kept (`docker restart`).
    Again,
}

/// A claim, held until it is dropped (PID 1 keeps it until it exits).
#[derive(Debug)]
pub struct Held(#[allow(dead_code, reason = "held for its lock, never read")] Flock<File>);

/// Why the marker could not be claimed.
#[derive(Debug)]
pub enum Claim {
    /// A live process holds it (this container's PID 1), or it is not a
    /// marker pod-init made: anything else at its path counts as claimed.
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
            Claim::Exists => f.write_str("a running PID 1 holds it"),
            Claim::UntrustedDirectory { dir, uid, mode } => {
                write!(f, "{dir} is owned by uid {uid} with mode {mode:o}; it must be root's and writable by root only")
            }
            Claim::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Claims `path`: creates it exclusively, or opens the one an earlier start
/// left, and takes its lock without waiting. Owned by `owner` (uid, gid),
/// mode 0444. `owner` is `(0, 0)` in pod-init; tests pass their own ids.
pub fn claim(path: &Path, owner: (u32, u32)) -> Result<(Held, Claimed), Claim> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    // symlink_metadata: a directory that is a symlink is not root's /run.
    let meta = fs::symlink_metadata(dir).map_err(Claim::Io)?;
    let mode = meta.mode() & 0o7777;
    if !meta.is_dir() || meta.uid() != owner.0 || mode & 0o022 != 0 {
        return Err(Claim::UntrustedDirectory { dir: dir.display().to_string(), uid: meta.uid(), mode });
    }
    let (file, claimed) = match create(path, owner) {
        Ok(file) => (file, Claimed::First),
        Err(Claim::Io(e)) if e.kind() == io::ErrorKind::AlreadyExists => {
            (left_by_an_earlier_start(path, owner.0)?, Claimed::Again)
        }
        Err(other) => return Err(other),
    };
    // Nonblock: a claim never waits; whoever holds the lock is a live PID 1.
    // flock, not the fcntl lock of sys::try_write_lock: it is taken on a
    // descriptor opened read-only (the marker is 0444).
    let locked = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => locked,
        Err((_, Errno::EWOULDBLOCK)) => return Err(Claim::Exists),
        Err((_, errno)) => return Err(Claim::Io(errno.into())),
    };
    Ok((Held(locked), claimed))
}

/// Creates `path` exclusively, saying what it is.
fn create(path: &Path, owner: (u32, u32)) -> Result<File, Claim> {
    // O_CREAT|O_EXCL fails on anything already at the path, a dangling
    // symlink included (open(2)), so the claim cannot be redirected.
    // O_CLOEXEC: the command never inherits the claim.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(Claim::Io)?;
    file.write_all(CONTENT).map_err(Claim::Io)?;
    // In a setuid start the new file's group is the user's gid (the
    // effective gid); make it root's like the rest of /run.
    std::os::unix::fs::fchown(&file, Some(owner.0), Some(owner.1)).map_err(Claim::Io)?;
    Ok(file)
}

/// The marker an earlier start left at `path`, opened, if it is one pod-init
/// made: a regular file of `owner`'s that nobody can write. Anything else
/// (a symlink, a directory, someone else's) was not made by pod-init; since
/// only root can put anything in /run, it is not replaced but counts as
/// claimed.
fn left_by_an_earlier_start(path: &Path, owner: u32) -> Result<File, Claim> {
    // O_NONBLOCK: a FIFO there must not hang PID 1 in its open.
    let flags = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
    let file = match OpenOptions::new().read(true).custom_flags(flags).open(path) {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(Claim::Exists),
        Err(e) => return Err(Claim::Io(e)),
    };
    let meta = file.metadata().map_err(Claim::Io)?;
    if !meta.is_file() || meta.uid() != owner || meta.mode() & 0o222 != 0 {
        return Err(Claim::Exists);
    }
    Ok(file)
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

    /// An empty marker of mode `mode` in `dir`, as an earlier start or
    /// someone else may have left one.
    fn empty_marker(dir: &tempfile::TempDir, mode: u32) -> std::path::PathBuf {
        let marker = dir.path().join("pod-init.started");
        fs::write(&marker, "").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&marker, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
        marker
    }

    fn claimed(result: Result<(Held, Claimed), Claim>) -> (Held, Claimed) {
        result.unwrap_or_else(|e| panic!("not claimed: {e}"))
    }

    #[test]
    fn the_first_claim_wins_and_a_second_fails_while_it_is_held() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        let (held, how) = claimed(claim(&marker, own_ids()));
        assert_eq!(how, Claimed::First);
        assert!(matches!(claim(&marker, own_ids()), Err(Claim::Exists)));
        let meta = fs::metadata(&marker).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (own_ids().0, own_ids().1, 0o444));
        assert_eq!(fs::read(&marker).ok().as_deref(), Some(CONTENT));
        drop(held);
    }

    #[test]
    fn once_its_holder_is_gone_the_marker_is_claimed_again_unchanged() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        drop(claimed(claim(&marker, own_ids())));
        let before = fs::metadata(&marker).unwrap_or_else(|e| panic!("{e}"));
        // The restarted container's PID 1: the file is there, nobody holds it.
        let (_held, how) = claimed(claim(&marker, own_ids()));
        assert_eq!(how, Claimed::Again);
        assert!(matches!(claim(&marker, own_ids()), Err(Claim::Exists)), "claimed twice while held");
        let after = fs::metadata(&marker).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((after.ino(), after.mtime_nsec(), after.len()), (before.ino(), before.mtime_nsec(), before.len()));
        let names: Vec<_> = fs::read_dir(dir.path()).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["pod-init.started"], "a file other than the marker was left");
    }

    #[test]
    fn a_marker_of_an_earlier_pod_init_without_content_is_claimed_again() {
        let dir = private_dir();
        let marker = empty_marker(&dir, 0o444);
        assert_eq!(claimed(claim(&marker, own_ids())).1, Claimed::Again);
    }

    #[test]
    fn a_file_anyone_could_have_written_counts_as_claimed() {
        let dir = private_dir();
        let marker = empty_marker(&dir, 0o644);
        assert!(matches!(claim(&marker, own_ids()), Err(Claim::Exists)));
    }

    #[test]
    fn a_directory_or_a_fifo_in_its_place_counts_as_claimed() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        fs::create_dir(&marker).unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&marker, std::os::unix::fs::PermissionsExt::from_mode(0o555))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(claim(&marker, own_ids()), Err(Claim::Exists)), "a read-only directory");
        fs::remove_dir(&marker).unwrap_or_else(|e| panic!("{e}"));
        nix::unistd::mkfifo(&marker, nix::sys::stat::Mode::from_bits_truncate(0o444)).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(claim(&marker, own_ids()), Err(Claim::Exists)), "a FIFO, opened without waiting");
    }

    #[test]
    fn a_marker_that_cannot_be_opened_is_an_error_not_a_claim() {
        if !crate::testing::non_root_or_skip("root opens a file of mode 0") {
            return;
        }
        let dir = private_dir();
        let marker = empty_marker(&dir, 0o000);
        assert!(matches!(claim(&marker, own_ids()), Err(Claim::Io(_))));
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
        fs::create_dir(&open).unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
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
