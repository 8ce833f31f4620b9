//! The run-once marker of the setuid start: a file only root can create, in
//! root's /run, naming the PID namespace whose PID 1 claimed it, so that
//! exactly one start per PID namespace claims it.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::sys;

/// The PID namespace this process is PID 1 of, as exactly as a process can
/// name it: the nsfs device and inode of `/proc/self/ns/pid` (unique while
/// the namespace lives, but the kernel reuses the numbers of dead ones),
/// the start time of its PID 1 (in clock ticks since boot; PID 1 lives as
/// long as the namespace), and the boot id (both counters restart at boot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace(String);

impl Namespace {
    /// The namespace of the calling process, which must be its PID 1.
    pub fn current() -> io::Result<Self> {
        let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id")?;
        // metadata follows the magic link to the namespace's nsfs inode.
        let ns = fs::metadata("/proc/self/ns/pid")?;
        let stat = fs::read_to_string("/proc/self/stat")?;
        let started = sys::stat_field(&stat, 22)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no start time in /proc/self/stat"))?;
        Ok(Self::new(boot.trim(), ns.dev(), ns.ino(), started))
    }

    fn new(boot: &str, dev: u64, ino: u64, started: &str) -> Self {
        Namespace(format!("boot {boot} pid-namespace {dev}:{ino} pid1-started {started}\n"))
    }
}

/// How the marker was claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// There was none: the first start of this container.
    First,
    /// It named another PID namespace: a new start of a container whose
    /// writable layer was kept (`docker restart`).
    Again,
}

/// Why the marker could not be claimed.
#[derive(Debug)]
pub enum Claim {
    /// It is already there, claimed in this PID namespace (or it is not a
    /// marker pod-init wrote: anything else at its path counts as claimed).
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

/// Claims `path` for the namespace `here`: creates it exclusively, or
/// replaces one that names another namespace. Owned by `owner` (uid, gid),
/// mode 0444. `owner` is `(0, 0)` in pod-init; tests pass their own ids.
pub fn claim(path: &Path, owner: (u32, u32), here: &Namespace) -> Result<Claimed, Claim> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    // symlink_metadata: a directory that is a symlink is not root's /run.
    let meta = fs::symlink_metadata(dir).map_err(Claim::Io)?;
    let mode = meta.mode() & 0o7777;
    if !meta.is_dir() || meta.uid() != owner.0 || mode & 0o022 != 0 {
        return Err(Claim::UntrustedDirectory { dir: dir.display().to_string(), uid: meta.uid(), mode });
    }
    match create(path, owner, here) {
        Err(Claim::Io(e)) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => return other.map(|()| Claimed::First),
    }
    if claimed_in(path, owner.0).map_err(Claim::Io)?.is_none_or(|there| there.as_bytes() == here.0.as_bytes()) {
        return Err(Claim::Exists);
    }
    // Written aside, then renamed over the old one: the marker is never
    // missing or half-written, so no second claim can slip in meanwhile.
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = dir.join(format!(".{name}.{}", sys::random_suffix()));
    create(&temp, owner, here)?;
    fs::rename(&temp, path).map_err(|e| {
        let _ = fs::remove_file(&temp);
        Claim::Io(e)
    })?;
    Ok(Claimed::Again)
}

/// Creates `path` exclusively with the record of `here`.
fn create(path: &Path, owner: (u32, u32), here: &Namespace) -> Result<(), Claim> {
    // O_CREAT|O_EXCL fails on anything already at the path, a dangling
    // symlink included (open(2)), so the claim cannot be redirected.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(Claim::Io)?;
    file.write_all(here.0.as_bytes()).map_err(Claim::Io)?;
    // In a setuid start the new file's group is the user's gid (the
    // effective gid); make it root's like the rest of /run.
    std::os::unix::fs::fchown(&file, Some(owner.0), Some(owner.1)).map_err(Claim::Io)
}

/// The namespace record of the marker at `path`, or `None` if what is there
/// is not a marker pod-init wrote (a symlink, not a regular file, not
/// `owner`'s, writable): only root can put anything in /run, so whatever
/// it is, it is not replaced.
fn claimed_in(path: &Path, owner: u32) -> io::Result<Option<String>> {
    let file = match OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path) {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() || meta.uid() != owner || meta.mode() & 0o222 != 0 {
        return Ok(None);
    }
    let mut record = String::new();
    // A record is one short line; more is not one of ours.
    File::take(file, 4096).read_to_string(&mut record)?;
    Ok(Some(record))
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

    fn here() -> Namespace {
        Namespace::new("b0", 4, 4026531836, "1")
    }

    #[test]
    fn the_first_claim_wins_and_the_second_finds_it() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        assert!(matches!(claim(&marker, own_ids(), &here()), Ok(Claimed::First)));
        assert!(matches!(claim(&marker, own_ids(), &here()), Err(Claim::Exists)));
        let meta = fs::metadata(&marker).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (own_ids().0, own_ids().1, 0o444));
    }

    #[test]
    fn a_new_pid_namespace_claims_again_and_then_holds_the_claim() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        assert!(matches!(claim(&marker, own_ids(), &here()), Ok(Claimed::First)));
        // The restarted container's PID 1: same inode number (reused), later start.
        let restarted = Namespace::new("b0", 4, 4026531836, "5000");
        assert!(matches!(claim(&marker, own_ids(), &restarted), Ok(Claimed::Again)));
        assert!(matches!(claim(&marker, own_ids(), &restarted), Err(Claim::Exists)));
        assert_eq!(fs::read_to_string(&marker).ok(), Some(restarted.0));
        let meta = fs::metadata(&marker).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (own_ids().0, own_ids().1, 0o444));
        let names: Vec<_> = fs::read_dir(dir.path()).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["pod-init.started"], "a temp file was left behind");
    }

    #[test]
    fn an_empty_marker_of_an_earlier_pod_init_is_claimed_again() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        fs::write(&marker, "").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&marker, std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(claim(&marker, own_ids(), &here()), Ok(Claimed::Again)));
    }

    #[test]
    fn this_process_names_its_namespace_the_same_way_twice() {
        let first = Namespace::current().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Namespace::current().ok(), Some(first.clone()));
        assert!(first.0.starts_with("boot ") && first.0.contains(" pid-namespace "), "{first:?}");
    }

    #[test]
    fn a_planted_symlink_counts_as_claimed_and_is_not_followed() {
        let dir = private_dir();
        let marker = dir.path().join("pod-init.started");
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, &marker).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(claim(&marker, own_ids(), &here()), Err(Claim::Exists)));
        assert!(!target.exists(), "the claim followed the symlink");
    }

    #[test]
    fn a_directory_others_can_write_is_not_trusted() {
        let dir = private_dir();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o1777))
            .unwrap_or_else(|e| panic!("{e}"));
        let err = claim(&open.join("pod-init.started"), own_ids(), &here());
        assert!(matches!(err, Err(Claim::UntrustedDirectory { mode: 0o1777, .. })), "{err:?}");
        let message = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.ends_with("with mode 1777; it must be root's and writable by root only"), "{message}");
    }

    #[test]
    fn a_directory_of_someone_else_is_not_trusted() {
        let dir = private_dir();
        let (uid, gid) = own_ids();
        let err = claim(&dir.path().join("pod-init.started"), (uid.wrapping_add(1), gid), &here());
        assert!(matches!(err, Err(Claim::UntrustedDirectory { .. })), "{err:?}");
    }
}
