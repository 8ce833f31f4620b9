//! Replacing a file in /etc the way shadow-utils does, so that `useradd`,
//! `passwd` or a second pod-init running at the same moment never see or
//! make a half-written /etc/passwd.
//!
//! The protocol (shadow-utils `commonio.c`, glibc `lckpwdf`):
//! 1. a write lock (`fcntl F_SETLK`) on `/etc/.pwd.lock`, waited for up to
//!    15 s; musl's `lckpwdf` is a no-op, so we take it ourselves;
//! 2. for each file, `<file>.lock`, made by writing our pid to `<file>.<pid>`
//!    and hard-linking it: `link` is atomic, and a lock whose pid is dead is
//!    stale and taken over;
//! 3. the new content goes to `<file>.cioXXXXXX` with the original owner and
//!    mode, is fsynced, the old content is kept as `<file>-`, then `rename`
//!    replaces the file and the directory is fsynced.
//!
//! Content that did not change is not written at all, so a restart leaves
//! /etc byte-identical (and does not even need the file to be writable).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::failpoint;
use crate::sys;

/// How long to wait for a lock held by a live process: glibc's `lckpwdf`.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(15);

const RETRY: Duration = Duration::from_millis(50);

/// What went wrong with an /etc file.
#[derive(Debug, thiserror::Error)]
pub enum EtcError {
    #[error("{path}: cannot {action}: {source}")]
    Io { path: PathBuf, action: &'static str, source: io::Error },
    #[error("{path}: locked by running process {pid} for over {timeout:?}")]
    Locked { path: PathBuf, pid: i32, timeout: Duration },
    #[error("{path}: cannot be replaced ({reason}); not changing any account file")]
    NotReplaceable { path: PathBuf, reason: &'static str },
}

fn io_err<'a>(path: &'a Path, action: &'static str) -> impl FnOnce(io::Error) -> EtcError + 'a {
    move |source| EtcError::Io { path: path.to_owned(), action, source }
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The locks of one edit: `/etc/.pwd.lock` and each file's `.lock`, released
/// (in reverse order) on drop.
#[derive(Debug)]
pub struct EtcLock {
    /// Holds the fcntl lock; closing it releases the lock.
    _pwd_lock: File,
    file_locks: Vec<PathBuf>,
}

impl Drop for EtcLock {
    fn drop(&mut self) {
        for lock in self.file_locks.iter().rev() {
            let _ = fs::remove_file(lock);
        }
    }
}

impl EtcLock {
    /// Takes the global lock in `etc`, then the lock of each of `files`.
    pub fn acquire(etc: &Path, files: &[PathBuf], timeout: Duration) -> Result<Self, EtcError> {
        let pwd_lock_path = etc.join(".pwd.lock");
        let pwd_lock = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&pwd_lock_path)
            .map_err(io_err(&pwd_lock_path, "open"))?;
        let deadline = Instant::now() + timeout;
        // F_SETLK in a loop rather than F_SETLKW with alarm(): PID 1 keeps
        // its signal handling for the supervisor.
        while !sys::try_write_lock(&pwd_lock).map_err(io_err(&pwd_lock_path, "lock"))? {
            if Instant::now() >= deadline {
                return Err(EtcError::Locked { path: pwd_lock_path, pid: -1, timeout });
            }
            std::thread::sleep(RETRY);
        }
        failpoint::hit("pwd-locked");
        let mut lock = EtcLock { _pwd_lock: pwd_lock, file_locks: Vec::new() };
        for file in files {
            let lock_path = lock_file(file, deadline, timeout)?;
            lock.file_locks.push(lock_path);
            failpoint::hit(&format!("{}:locked", file_name(file)));
            remove_stale_temps(file);
        }
        Ok(lock)
    }
}

fn file_name(path: &Path) -> std::borrow::Cow<'_, str> {
    path.file_name().unwrap_or(path.as_os_str()).to_string_lossy()
}

/// Removes `<file>.cioXXXXXX` and `<file>-.cioXXXXXX` left by a writer that
/// died: they are only ever valid while their writer holds the lock, which
/// is now ours.
fn remove_stale_temps(file: &Path) {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) else { return };
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let Some(entry_name) = entry_name.to_str() else { continue };
        let stale = [format!("{name}.cio"), format!("{name}-.cio")]
            .iter()
            .any(|prefix| entry_name.strip_prefix(prefix.as_str()).is_some_and(|rest| rest.len() == 6));
        if stale && fs::remove_file(entry.path()).is_ok() {
            tracing::warn!("{}: removed a temp file left by a crashed writer", entry.path().display());
        }
    }
}

/// `<file>.lock`, the per-file lock of shadow-utils.
pub fn lock_path(file: &Path) -> PathBuf {
    with_suffix(file, ".lock")
}

/// Creates `<file>.lock` by linking a file holding our pid, as commonio does.
fn lock_file(file: &Path, deadline: Instant, timeout: Duration) -> Result<PathBuf, EtcError> {
    let me = std::process::id();
    let lock = lock_path(file);
    let tmp = with_suffix(file, &format!(".{me}"));
    // A leftover from an earlier PID 1 with our pid (a restarted container).
    let _ = fs::remove_file(&tmp);
    let mut f =
        OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io_err(&tmp, "create"))?;
    let written = f.write_all(me.to_string().as_bytes()).and_then(|()| f.sync_all());
    drop(f);
    let result = written.map_err(io_err(&tmp, "write")).and_then(|()| link_lock(&tmp, &lock, deadline, timeout));
    let _ = fs::remove_file(&tmp);
    result.map(|()| lock)
}

fn link_lock(tmp: &Path, lock: &Path, deadline: Instant, timeout: Duration) -> Result<(), EtcError> {
    loop {
        match fs::hard_link(tmp, lock) {
            // commonio checks the link count: on some network file systems
            // link() can report failure or success wrongly.
            Ok(()) => match fs::metadata(tmp) {
                Ok(m) if m.nlink() == 2 => return Ok(()),
                Ok(_) => {
                    return Err(EtcError::Io {
                        path: lock.to_owned(),
                        action: "lock",
                        source: io::Error::other("link count is not 2 after link"),
                    });
                }
                Err(e) => return Err(io_err(tmp, "stat")(e)),
            },
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let holder = fs::read_to_string(lock).ok().and_then(|s| s.trim().parse::<i32>().ok());
                match holder {
                    Some(pid) if pid > 0 && pid as u32 != std::process::id() && sys::process_alive(pid) => {
                        if Instant::now() >= deadline {
                            return Err(EtcError::Locked { path: lock.to_owned(), pid, timeout });
                        }
                        std::thread::sleep(RETRY);
                    }
                    _ => {
                        // Dead holder, our own pid (a previous PID 1 of this
                        // container) or no pid at all: nobody can be holding it.
                        tracing::warn!(
                            "{}: taking over stale lock (holder {})",
                            lock.display(),
                            holder.map_or("unknown".to_owned(), |p| p.to_string())
                        );
                        fs::remove_file(lock)
                            .or_else(|e| if e.kind() == io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
                            .map_err(io_err(lock, "remove stale lock"))?;
                    }
                }
            }
            Err(e) => return Err(io_err(lock, "create")(e)),
        }
    }
}

/// Who owns a replaced file and with what mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// The owner and mode of the file being replaced (as shadow-utils:
    /// mode & 0664), or root 0600 if it does not exist yet.
    KeepOriginal,
    /// Exactly these (for the sudoers drop-in: root:root 0440).
    Fixed { uid: u32, gid: u32, mode: u32 },
}

/// Whether a file needs writing: `Some(old content)` if it differs from
/// `new`, `None` if it is already `new`.
pub fn needs_write(path: &Path, new: &[u8]) -> Result<Option<Option<Vec<u8>>>, EtcError> {
    match fs::read(path) {
        Ok(old) if old == new => Ok(None),
        Ok(old) => Ok(Some(Some(old))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Some(None)),
        Err(e) => Err(io_err(path, "read")(e)),
    }
}

/// Fails before anything is written if `path` cannot be replaced by rename:
/// a bind-mounted file (podman `--userns=keep-id`, a ConfigMap) or a
/// read-only file system.
pub fn check_replaceable(path: &Path) -> Result<(), EtcError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    if sys::read_only_fs(dir).map_err(io_err(dir, "statvfs"))? {
        return Err(EtcError::NotReplaceable { path: path.to_owned(), reason: "read-only file system" });
    }
    // Not st_dev: on overlayfs a file may report its layer's device while
    // the directory reports the overlay's. mountinfo lists bind mounts.
    match fs::symlink_metadata(path) {
        Ok(_) if sys::is_mount_point(path) => {
            Err(EtcError::NotReplaceable { path: path.to_owned(), reason: "it is a mount point (bind-mounted?)" })
        }
        Ok(m) if m.file_type().is_symlink() => {
            Err(EtcError::NotReplaceable { path: path.to_owned(), reason: "it is a symbolic link" })
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path, "stat")(e)),
    }
}

/// Replaces `path` with `new` (temp file, fsync, `-` backup, rename, fsync of
/// the directory). The caller holds the lock and checked the content differs.
pub fn replace(
    path: &Path,
    old: Option<&[u8]>,
    new: &[u8],
    ownership: Ownership,
    backup: bool,
) -> Result<(), EtcError> {
    let (uid, gid, mode) = match ownership {
        Ownership::Fixed { uid, gid, mode } => (uid, gid, mode),
        Ownership::KeepOriginal => match fs::metadata(path) {
            Ok(m) => (m.uid(), m.gid(), m.mode() & 0o664),
            Err(_) => (0, 0, 0o600),
        },
    };
    if let (true, Some(old)) = (backup, old) {
        let backup_path = with_suffix(path, "-");
        if fs::read(&backup_path).ok().as_deref() != Some(old) {
            write_new(&backup_path, old, uid, gid, mode)?;
        }
    }
    write_new(path, new, uid, gid, mode)
}

/// Writes `content` to a fresh temp file beside `path` and renames it over.
fn write_new(path: &Path, content: &[u8], uid: u32, gid: u32, mode: u32) -> Result<(), EtcError> {
    let tmp = with_suffix(path, &format!(".cio{}", sys::random_suffix()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)
            .map_err(io_err(&tmp, "create"))?;
        f.write_all(content).map_err(io_err(&tmp, "write"))?;
        failpoint::hit(&format!("{}:temp-written", file_name(path)));
        sys::fchown(&f, uid, gid).map_err(io_err(&tmp, "chown"))?;
        sys::fchmod(&f, mode).map_err(io_err(&tmp, "chmod"))?;
        f.sync_all().map_err(io_err(&tmp, "fsync"))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| match e.raw_os_error() {
            Some(libc::EBUSY) | Some(libc::EXDEV) => {
                EtcError::NotReplaceable { path: path.to_owned(), reason: "it is a mount point (bind-mounted?)" }
            }
            Some(libc::EROFS) => EtcError::NotReplaceable { path: path.to_owned(), reason: "read-only file system" },
            _ => io_err(path, "rename onto")(e),
        })?;
        failpoint::hit(&format!("{}:renamed", file_name(path)));
        let dir = path.parent().unwrap_or(Path::new("/"));
        File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir, "fsync"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn etc() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn replace_keeps_mode_backs_up_and_leaves_no_temp() {
        let dir = etc();
        let passwd = dir.path().join("passwd");
        fs::write(&passwd, "old\n").unwrap();
        fs::set_permissions(&passwd, fs::Permissions::from_mode(0o640)).unwrap();
        let lock = EtcLock::acquire(dir.path(), std::slice::from_ref(&passwd), LOCK_TIMEOUT).unwrap();
        assert!(dir.path().join("passwd.lock").exists());
        let old = needs_write(&passwd, b"new\n").unwrap().unwrap();
        replace(&passwd, old.as_deref(), b"new\n", Ownership::KeepOriginal, true).unwrap();
        drop(lock);
        assert_eq!(fs::read(&passwd).unwrap(), b"new\n");
        assert_eq!(fs::read(dir.path().join("passwd-")).unwrap(), b"old\n");
        assert_eq!(fs::metadata(&passwd).unwrap().mode() & 0o7777, 0o640);
        let mut names: Vec<_> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, [".pwd.lock", "passwd", "passwd-"], "lock released, no temp left");
        assert_eq!(needs_write(&passwd, b"new\n").unwrap(), None, "same content: nothing to write");
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "a dead pid comes from a real child that exited")]
    fn stale_lock_of_dead_process_is_taken_over() {
        let dir = etc();
        let passwd = dir.path().join("passwd");
        fs::write(&passwd, "x\n").unwrap();
        // A child that exited: its pid is dead (and not reused this fast).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(dir.path().join("passwd.lock"), dead.to_string()).unwrap();
        let lock = EtcLock::acquire(dir.path(), std::slice::from_ref(&passwd), Duration::from_secs(2)).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("passwd.lock")).unwrap(), std::process::id().to_string());
        drop(lock);
        assert!(!dir.path().join("passwd.lock").exists());
    }

    #[test]
    fn lock_holding_our_own_pid_is_a_previous_pid_1_and_taken_over() {
        // A restarted container's pod-init is PID 1 again, like the one that
        // died holding the lock: kill(1, 0) succeeds, yet nobody holds it.
        let dir = etc();
        let passwd = dir.path().join("passwd");
        fs::write(dir.path().join("passwd.lock"), std::process::id().to_string()).unwrap();
        drop(EtcLock::acquire(dir.path(), std::slice::from_ref(&passwd), Duration::from_secs(2)).unwrap());
        assert!(!dir.path().join("passwd.lock").exists());
        // A lock without a readable pid is taken over too (link() makes the
        // lock whole, so no live writer leaves one).
        fs::write(dir.path().join("passwd.lock"), "not a pid").unwrap();
        drop(EtcLock::acquire(dir.path(), std::slice::from_ref(&passwd), Duration::from_secs(2)).unwrap());
        assert!(!dir.path().join("passwd.lock").exists());
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "a live pid comes from a real child")]
    fn lock_of_live_process_times_out_naming_it() {
        let dir = etc();
        let passwd = dir.path().join("passwd");
        let mut child = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        fs::write(dir.path().join("passwd.lock"), child.id().to_string()).unwrap();
        let err = EtcLock::acquire(dir.path(), &[passwd], Duration::from_millis(200)).unwrap_err();
        child.kill().unwrap();
        child.wait().unwrap();
        let msg = err.to_string();
        assert!(msg.contains("passwd.lock: locked by running process"), "{msg}");
        assert!(dir.path().join("passwd.lock").exists(), "a live holder's lock is left alone");
    }

    #[test]
    fn symlinked_file_is_refused_before_writing() {
        let dir = etc();
        let passwd = dir.path().join("passwd");
        std::os::unix::fs::symlink("/etc/passwd", &passwd).unwrap();
        let err = check_replaceable(&passwd).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
    }

    #[test]
    fn fixed_ownership_sets_mode() {
        let dir = etc();
        let f = dir.path().join("nb-user");
        replace(&f, None, b"x\n", Ownership::Fixed { uid: sys::getuid(), gid: sys::getgid(), mode: 0o440 }, false)
            .unwrap();
        assert_eq!(fs::metadata(&f).unwrap().mode() & 0o7777, 0o440);
    }
}
