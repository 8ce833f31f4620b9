//! Thin typed wrappers around the system calls the bootstrap makes, each
//! with the reason it is made (the youki / tini style): the rest of the code
//! reads as steps and does not repeat `unsafe` and errno handling.
//!
//! Id changes live in `identity.rs`, the async-signal-safe path of the
//! final exec in `launch.rs`, acting as another user in `fsid.rs`; the
//! helpers here may allocate.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::errno::Errno;

/// Tries once to take a whole-file write lock (`F_SETLK`, not blocking).
pub fn try_write_lock(file: &File) -> io::Result<bool> {
    // SAFETY: an all-zero flock is a valid value; the fields are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as _;
    fl.l_whence = libc::SEEK_SET as _;
    // SAFETY: fcntl on an fd we own with a pointer to a live flock.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl) };
    match rc {
        0 => Ok(true),
        _ => match Errno::last() {
            Errno::EACCES | Errno::EAGAIN => Ok(false),
            e => Err(e.into()),
        },
    }
}

/// Whether a process exists: `kill(pid, 0)` checks without signalling.
/// EPERM means it exists but belongs to someone else.
pub fn process_alive(pid: i32) -> bool {
    !matches!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None), Err(Errno::ESRCH))
}

/// Whether the file system holding `dir` is mounted read-only.
pub fn read_only_fs(dir: &Path) -> io::Result<bool> {
    let st = nix::sys::statvfs::statvfs(dir)?;
    Ok(st.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// Whether `path` is itself a mount point, as /proc/self/mountinfo lists
/// them (a bind-mounted file keeps the device of its source, so `st_dev`
/// cannot tell). `path` must be absolute as this process sees it.
pub fn is_mount_point(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let wanted = path.to_string_lossy();
    info.lines().filter_map(|l| l.split(' ').nth(4)).any(|mp| unescape_mountinfo(mp) == wanted)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // Three octal digits worth at most 0o377: a larger value (which the
        // kernel never writes) would overflow a byte, so it stays literal.
        let octal = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        let value = octal.map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0')));
        if let Some(byte) = value.and_then(|v| u8::try_from(v).ok()) {
            out.push(byte);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Field `n` (counted from 1, as in proc(5)) of a `/proc/<pid>/stat` line.
/// Fields are counted after the `)` that closes the command name, which may
/// itself contain spaces and parentheses.
pub fn stat_field(stat: &str, n: usize) -> Option<&str> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(n.checked_sub(3)?)
}

/// Fills `buf` from the kernel's CSPRNG (`getrandom(2)`, no file needed, so
/// it works before /dev exists).
pub fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the pointer and length describe the writable `rest`.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        } else {
            filled += n as usize;
        }
    }
    Ok(())
}

/// Six random characters for a temp file name (`mkstemp`'s `XXXXXX`).
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    if random_bytes(&mut bytes).is_err() {
        // The name only needs to be unlikely to exist; O_EXCL catches a clash.
        let pid = std::process::id().to_le_bytes();
        bytes[..4].copy_from_slice(&pid);
    }
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// `fchown` on an open file: no path, so no symlink race.
pub fn fchown(file: &File, uid: u32, gid: u32) -> io::Result<()> {
    std::os::unix::fs::fchown(file, Some(uid), Some(gid))
}

/// `fchmod` on an open file: the mode is exactly `mode`, not masked by umask.
pub fn fchmod(file: &File, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// The real uid (tests use it for files they own).
#[cfg(test)]
pub fn getuid() -> u32 {
    nix::unistd::Uid::current().as_raw()
}

/// The real gid.
#[cfg(test)]
pub fn getgid() -> u32 {
    nix::unistd::Gid::current().as_raw()
}

/// The umask of everything pod-init does or runs as another user (its
/// work as the seed or the user, and the command): files left on scratch
/// stay writable by the lab group and closed to others.
pub const UMASK: u32 = 0o007;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo("/a\\040b\\011c"), "/a b\tc");
        assert_eq!(unescape_mountinfo("/plain\\"), "/plain\\");
        assert_eq!(unescape_mountinfo("/back\\134slash\\777"), "/back\\slash\\777", "over a byte: kept as written");
    }

    #[test]
    fn proc_and_root_are_mount_points_files_are_not() {
        assert!(is_mount_point(Path::new("/proc")));
        assert!(!is_mount_point(Path::new("/etc/hostname-not-a-mount-point")));
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "a dead pid comes from a real child that exited")]
    fn dead_pid_is_not_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(!process_alive(pid));
        assert!(process_alive(std::process::id() as i32));
    }

    #[test]
    fn random_suffix_is_six_alphanumerics() {
        let s = random_suffix();
        assert_eq!(s.len(), 6);
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(s, random_suffix());
    }
}
