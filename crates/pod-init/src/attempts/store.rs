//! The attempt record on scratch: `<SCRATCH_HOME>/.nb-attempts/<file>`,
//! read and replaced by the user (a forked child of PID 1 with the user's
//! ids: root is squashed on NFS), never by root.
//!
//! Scratch is shared with the lab, and a scratch home is group-writable, so
//! a lab member can rename what is in it. The state directory is opened
//! once, by the user-state step's walk (no symlink followed on the way), it
//! must be the user's own and is kept 0700, so that nobody else can place
//! or change anything in it; its descriptor is all the later children
//! use. The record is written to a temporary file and renamed over the old
//! one, so a reader sees the old record or the new one, never half of one.
//!
//! NFS requests per start, the directory open: the record's lookup, open,
//! one read and close; the new record's create, write, close and rename,
//! and the same again for the end.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::record::MAX_BYTES;
use crate::dirwalk::{self, Kind, Walker};

/// The directory under the scratch home that holds the records.
pub const DIR: &str = ".nb-attempts";

fn cstr(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a name with a NUL byte"))
}

/// `openat(dir, name, flags)`, as an owned descriptor.
fn open_at(dir: &OwnedFd, name: &str, flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let name = cstr(name)?;
    // SAFETY: a valid descriptor and NUL-terminated name; the result is a
    // new descriptor we own, or -1.
    let fd = unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC, mode) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn refused(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, what)
}

/// Opens `<scratch_home>/.nb-attempts` on `walker` (made 0700 when missing,
/// set 0700 when open to others), refused unless it is the user's own.
/// The descriptor is `O_PATH`: enough for the record's calls below.
pub fn open_state_dir(walker: &mut Walker, scratch_home: &Path) -> io::Result<OwnedFd> {
    let (dir, _) = crate::private::dir(walker, &scratch_home.join(DIR), &mut Vec::new())?;
    dir.fd().try_clone_to_owned()
}

/// The record's text, `None` when there is none yet. Anything but a regular
/// file of the caller's, or a file above [`MAX_BYTES`], is an error.
pub fn read(state: &OwnedFd, file: &str) -> io::Result<Option<String>> {
    // O_NONBLOCK: a FIFO put in its place must not hang the start.
    let fd = match open_at(state, file, libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK, 0) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    let opened = File::from(fd);
    // The attributes the open brought back: no request of their own.
    let attrs = dirwalk::attrs_of(&opened)?;
    if attrs.kind != Kind::File {
        return Err(refused(format!("{file}: not a regular file")));
    }
    if attrs.size > MAX_BYTES as u64 {
        return Err(refused(format!("{file}: larger than {MAX_BYTES} bytes")));
    }
    // The size the open said, no more: a read past it would ask the server
    // for the size again.
    let mut bytes = Vec::new();
    opened.take(attrs.size).read_to_end(&mut bytes)?;
    String::from_utf8(bytes).map(Some).map_err(|_| refused(format!("{file}: not UTF-8")))
}

/// Replaces the record with `text`: a new 0600 file, written and closed,
/// renamed over the old one.
///
/// No fsync: on NFS, close itself writes the data to the server and
/// commits it before it returns (close-to-open), and reports what failed
/// (a full quota), so the rename never publishes a record the server does
/// not hold; an fsync would be one more round trip for nothing (and on a
/// local disk, a journal commit of milliseconds per start). On a local
/// ext4, a rename over a file flushes the new one first (`auto_da_alloc`).
pub fn replace(state: &OwnedFd, file: &str, text: &str) -> io::Result<()> {
    let temp = format!(".{file}.{}", crate::sys::random_suffix());
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW;
    let mut out = File::from(open_at(state, &temp, flags, 0o600)?);
    let written = out.write_all(text.as_bytes());
    // Closed by hand, once: on NFS its error is the write's.
    let closed = nix::unistd::close(out).map_err(io::Error::from);
    let written = written.and(closed);
    let (temp_c, file_c) = (cstr(&temp)?, cstr(file)?);
    let renamed = written.and_then(|()| {
        // SAFETY: valid descriptors and NUL-terminated names.
        let rc = unsafe { libc::renameat(state.as_raw_fd(), temp_c.as_ptr(), state.as_raw_fd(), file_c.as_ptr()) };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    });
    if renamed.is_err() {
        // SAFETY: as above; a leftover temp file is harmless, so the
        // result is not checked.
        unsafe { libc::unlinkat(state.as_raw_fd(), temp_c.as_ptr(), 0) };
    }
    renamed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    fn home() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn a_record_is_created_owner_only_and_replaced_whole() {
        let home = home();
        let state = open_state_dir(&mut Walker::new(), home.path()).unwrap();
        assert_eq!(read(&state, "job").unwrap(), None);
        replace(&state, "job", "one\n").unwrap();
        replace(&state, "job", "two\n").unwrap();
        assert_eq!(read(&state, "job").unwrap().as_deref(), Some("two\n"));
        let dir = home.path().join(DIR);
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(dir.join("job")).unwrap().permissions().mode() & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["job"], "a temporary file was left");
    }

    #[test]
    fn symlinks_are_never_followed() {
        let home = home();
        let elsewhere = home.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        // A symlinked state directory, and a symlinked home on the way.
        std::os::unix::fs::symlink(&elsewhere, home.path().join(DIR)).unwrap();
        assert!(open_state_dir(&mut Walker::new(), home.path()).is_err());
        let link = home.path().join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(open_state_dir(&mut Walker::new(), &link).is_err());
        assert!(!elsewhere.join(DIR).exists());
        // A symlinked record.
        let real = home.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let state = open_state_dir(&mut Walker::new(), &real).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", real.join(DIR).join("job")).unwrap();
        assert!(read(&state, "job").is_err());
    }

    #[test]
    fn an_open_state_directory_is_closed_and_big_or_odd_records_refused() {
        let home = home();
        let dir = home.path().join(DIR);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let state = open_state_dir(&mut Walker::new(), home.path()).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        std::fs::write(dir.join("big"), vec![b'x'; MAX_BYTES + 1]).unwrap();
        assert!(read(&state, "big").is_err());
        nix::unistd::mkfifo(&dir.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(read(&state, "fifo").is_err());
    }

    #[test]
    fn a_state_directory_of_someone_else_is_refused() {
        if !crate::testing::root_or_skip("to give the directory to another uid") {
            return;
        }
        let home = home();
        let dir = home.path().join(DIR);
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(4242), Some(4242)).unwrap();
        let err = open_state_dir(&mut Walker::new(), home.path()).unwrap_err().to_string();
        assert!(err.contains("belongs to uid 4242"), "{err}");
    }
}
