//! Scratch paths walked from `/` with directory descriptors.
//!
//! Scratch is shared: every lab member can write in the homes root, so one
//! of them can put a symlink where a researcher's directory goes, or swap
//! one in between two calls that use the same path. A path is resolved
//! again by every call that names it, through whatever stands there then.
//! So a [`Walker`] opens each component relative to its parent's descriptor
//! with `O_NOFOLLOW | O_DIRECTORY`: a symlink anywhere on the way stops that
//! path ([`WalkError::Symlink`]), and what is below is created, read and
//! changed relative to descriptors that nothing can redirect afterwards.
//!
//! It also spares the NFS server: a component is looked up once, and the
//! attributes that lookup brought back are the ones read (`statx` with
//! `AT_STATX_DONT_SYNC`), where a path would be looked up again from the
//! root by every call, and each `stat` would ask for the attributes again.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// What kind of file an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
    Other,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Dir => "directory",
            Kind::File => "file",
            Kind::Symlink => "symbolic link",
            Kind::Other => "special file",
        })
    }
}

/// The attributes of an entry, as its lookup returned them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    pub kind: Kind,
    /// Permission bits, with setuid, setgid and sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    /// For a directory: 2 plus the number of its subdirectories.
    pub nlink: u32,
    /// Last modification, in seconds since the epoch.
    pub mtime: i64,
    /// Size in bytes.
    pub size: u64,
}

/// An open directory on a walked path.
#[derive(Debug)]
pub struct Dir {
    /// `O_PATH`: enough to work relative to it, and on FUSE or NFS no
    /// request beyond the lookup (no open and release of the directory).
    fd: OwnedFd,
    path: PathBuf,
    pub attrs: Attrs,
    /// Made by this walk: it holds nothing yet, so what is created in it is
    /// not looked up first.
    made: bool,
}

/// Why a path was not walked.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("{} is a symbolic link; nothing below it is touched", .0.display())]
    Symlink(PathBuf),
    #[error("{} is not a directory; nothing below it is touched", .0.display())]
    NotADirectory(PathBuf),
    /// Below a directory refused earlier (its warning was given then).
    #[error("{} is below {}, refused above", .path.display(), .refused.display())]
    Below { path: PathBuf, refused: PathBuf },
    #[error("cannot create {}: {error}", path.display())]
    Create { path: PathBuf, error: io::Error },
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },
}

impl WalkError {
    /// The errno that says it best, for a message that cannot allocate.
    pub fn errno(&self) -> i32 {
        match self {
            WalkError::Symlink(_) => libc::ELOOP,
            WalkError::NotADirectory(_) => libc::ENOTDIR,
            WalkError::Below { .. } => libc::EACCES,
            WalkError::Create { error, .. } | WalkError::Io { error, .. } => error.raw_os_error().unwrap_or(libc::EIO),
        }
    }
}

fn cstring(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// `openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW)`: the one call that
/// steps into a directory; refuses a symlink (ENOTDIR, as for a file).
fn open_dir_at(dir: BorrowedFd, name: &OsStr) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    nix::fcntl::openat(dir, name, flags, Mode::empty())
}

/// The names in the directory `dir` (an `O_PATH` descriptor will do: "."
/// is opened for reading), without `.` and `..`.
pub fn names_in(dir: BorrowedFd) -> io::Result<Vec<OsString>> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::openat(dir, ".", flags, Mode::empty())?;
    let mut names = Vec::new();
    for entry in nix::dir::Dir::from_fd(fd)?.into_iter() {
        let name = OsStr::from_bytes(entry?.file_name().to_bytes()).to_owned();
        if name != "." && name != ".." {
            names.push(name);
        }
    }
    Ok(names)
}

/// `statx(dir, name, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC)`, or of `dir`
/// itself for an empty name. DONT_SYNC: the attributes the lookup (or the
/// open) just brought back, not a second request for them.
fn statx_at(dir: BorrowedFd, name: &OsStr) -> io::Result<Attrs> {
    let name = cstring(name)?;
    let empty = if name.as_bytes().is_empty() { libc::AT_EMPTY_PATH } else { 0 };
    let flags = libc::AT_SYMLINK_NOFOLLOW | libc::AT_STATX_DONT_SYNC | empty;
    let mask = libc::STATX_TYPE
        | libc::STATX_MODE
        | libc::STATX_UID
        | libc::STATX_NLINK
        | libc::STATX_MTIME
        | libc::STATX_SIZE;
    // SAFETY: an all-zero statx is a valid value for the kernel to fill.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: a live descriptor, a NUL-terminated name and a buffer of the
    // size the kernel writes. The raw syscall: not every libc wraps it.
    let rc = unsafe { libc::syscall(libc::SYS_statx, dir.as_raw_fd(), name.as_ptr(), flags, mask, &mut st) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let kind = match u32::from(st.stx_mode) & libc::S_IFMT {
        libc::S_IFDIR => Kind::Dir,
        libc::S_IFREG => Kind::File,
        libc::S_IFLNK => Kind::Symlink,
        _ => Kind::Other,
    };
    let (mode, mtime) = (u32::from(st.stx_mode) & 0o7777, st.stx_mtime.tv_sec);
    Ok(Attrs { kind, mode, uid: st.stx_uid, nlink: st.stx_nlink, mtime, size: st.stx_size })
}

/// The attributes of an open file, as its open brought them back.
pub fn attrs_of(file: &File) -> io::Result<Attrs> {
    statx_at(file.as_fd(), OsStr::new(""))
}

impl Dir {
    /// `/`, where every walk starts.
    fn root() -> io::Result<Dir> {
        let fd = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
        let attrs = statx_at(fd.as_fd(), OsStr::new(""))?;
        Ok(Dir { fd, path: PathBuf::from("/"), attrs, made: false })
    }

    /// The descriptor, for work the walk does not do itself (kept for the
    /// record's end and the command's working directory).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The subdirectory `name`, created with `mode` (less the umask) first
    /// when missing and `create` is set. Returns it and whether it was made.
    pub fn child(&self, name: &OsStr, create: Option<u32>) -> Result<(Dir, bool), WalkError> {
        let path = self.path.join(name);
        let io = |error: io::Error| WalkError::Io { path: path.clone(), error };
        // Opened first: on a restart it is there, and one lookup is all it
        // takes. In a directory this walk made, it is not: made first.
        let (mut tried, mut created) = (false, false);
        let mut absent = self.made && create.is_some();
        let fd = loop {
            let opened =
                if std::mem::take(&mut absent) { Err(Errno::ENOENT) } else { open_dir_at(self.fd.as_fd(), name) };
            match (opened, create) {
                (Ok(fd), _) => break fd,
                (Err(Errno::ENOENT), Some(mode)) if !tried => {
                    tried = true;
                    // mkdirat: only a new entry, never through a link; EEXIST
                    // is another pod that made it first.
                    match nix::sys::stat::mkdirat(self.fd.as_fd(), name, Mode::from_bits_truncate(mode as _)) {
                        Ok(()) => created = true,
                        Err(Errno::EEXIST) => {}
                        Err(e) => return Err(WalkError::Create { path, error: e.into() }),
                    }
                }
                (Err(Errno::ENOTDIR), _) => {
                    let kind = statx_at(self.fd.as_fd(), name).map(|a| a.kind);
                    return Err(match kind {
                        Ok(Kind::Symlink) => WalkError::Symlink(path),
                        _ => WalkError::NotADirectory(path),
                    });
                }
                (Err(e), _) => return Err(io(e.into())),
            }
        };
        let attrs = statx_at(fd.as_fd(), OsStr::new("")).map_err(io)?;
        Ok((Dir { fd, path, attrs, made: created }, created))
    }

    /// Whether this walk made this directory (it holds nothing of before).
    pub fn made(&self) -> bool {
        self.made
    }

    /// The attributes of the entry `name` (not followed), `None` if absent.
    pub fn stat(&self, name: &OsStr) -> io::Result<Option<Attrs>> {
        match statx_at(self.fd.as_fd(), name) {
            Ok(a) => Ok(Some(a)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets this directory's mode exactly: `fchmod` on a descriptor of it
    /// (an `O_PATH` one cannot be chmodded, so "." is opened for it).
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(self.fd.as_fd(), ".", flags, Mode::empty())?;
        crate::sys::fchmod(&File::from(fd), mode)
    }

    /// Opens the file `name` with `flags` (and `mode` when it creates it),
    /// never through a symlink (`O_NOFOLLOW`: ELOOP).
    pub fn open_file(&self, name: &OsStr, flags: OFlag, mode: u32) -> io::Result<File> {
        let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(self.fd.as_fd(), name, flags, Mode::from_bits_truncate(mode as _))?;
        Ok(File::from(fd))
    }

    /// A new file `name` with `mode` (less the umask); EEXIST if the name is taken.
    pub fn create_file(&self, name: &OsStr, mode: u32) -> io::Result<File> {
        self.open_file(name, OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL, mode)
    }

    /// A new directory `name` with `mode` (less the umask); EEXIST if taken.
    pub fn mkdir(&self, name: &OsStr, mode: u32) -> io::Result<()> {
        Ok(nix::sys::stat::mkdirat(self.fd.as_fd(), name, Mode::from_bits_truncate(mode as _))?)
    }

    /// A new symlink `name` to `target`; EEXIST if the name is taken.
    pub fn symlink(&self, target: &Path, name: &OsStr) -> io::Result<()> {
        Ok(nix::unistd::symlinkat(target, self.fd.as_fd(), name)?)
    }

    /// `renameat` within this directory: moves the entry, follows no link.
    pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
        Ok(nix::fcntl::renameat(self.fd.as_fd(), from, self.fd.as_fd(), to)?)
    }

    /// The names in this directory (read through a descriptor of it).
    pub fn names(&self) -> io::Result<Vec<OsString>> {
        names_in(self.fd.as_fd())
    }

    /// Removes the entry `name` and, if it is a directory, all it holds,
    /// relative to descriptors (`unlinkat`): a symlink inside is removed,
    /// never followed.
    pub fn remove_tree(&self, name: &OsStr) -> io::Result<()> {
        match nix::unistd::unlinkat(self.fd.as_fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
            // Linux says EISDIR for a directory (POSIX allows EPERM).
            Err(Errno::EISDIR | Errno::EPERM) => {}
            other => return Ok(other?),
        }
        let (dir, _) = self.child(name, None).map_err(|e| io::Error::other(e.to_string()))?;
        for entry in dir.names()? {
            dir.remove_tree(&entry)?;
        }
        Ok(nix::unistd::unlinkat(self.fd.as_fd(), name, nix::unistd::UnlinkatFlags::RemoveDir)?)
    }
}

/// Walks absolute paths from `/`, keeping every directory it opened so a
/// later path with the same beginning starts where the last one got to,
/// and remembering the directories it refused.
#[derive(Debug, Default)]
pub struct Walker {
    open: Vec<Dir>,
    refused: Vec<PathBuf>,
}

/// The modes a walk creates missing directories with.
#[derive(Debug, Clone, Copy)]
pub struct Create {
    /// The directory the path names.
    pub last: u32,
    /// Its missing parents.
    pub parents: u32,
}

impl Walker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts later walks below `path` at `fd`, a directory another walk
    /// (the seed's) opened there without following a link: no lookup of
    /// `path` again. Its attributes are the ones that walk brought back.
    pub fn adopt(&mut self, path: &Path, fd: OwnedFd) -> io::Result<()> {
        let attrs = statx_at(fd.as_fd(), OsStr::new(""))?;
        if attrs.kind != Kind::Dir || !path.is_absolute() {
            return Err(io::Error::other(format!("{}: not a walked directory", path.display())));
        }
        self.open.push(Dir { fd, path: path.to_owned(), attrs, made: false });
        Ok(())
    }

    /// A descriptor of its own of the directory `path`, walked (not made)
    /// as [`Walker::dir`] does, for another process to work from; or the
    /// errno of why not.
    pub fn handle(&mut self, path: &Path) -> Result<OwnedFd, i32> {
        match self.dir(path, None) {
            Ok((dir, _)) => dir.fd.try_clone().map_err(|e| e.raw_os_error().unwrap_or(libc::EIO)),
            Err(e) => Err(e.errno()),
        }
    }

    /// Refuses `path` and everything below it from now on (the caller
    /// says why, once).
    pub fn refuse(&mut self, path: &Path) {
        self.refused.push(path.to_owned());
    }

    /// Opens the directory `path` (absolute), each component not a symlink,
    /// creating the missing ones if `create` says how. Returns it and
    /// whether its last component was created. A refusal is remembered:
    /// paths below it are refused without another lookup.
    pub fn dir(&mut self, path: &Path, create: Option<Create>) -> Result<(&Dir, bool), WalkError> {
        if let Some(refused) = self.refused.iter().find(|r| path.starts_with(r)) {
            return Err(WalkError::Below { path: path.to_owned(), refused: refused.clone() });
        }
        let names: Vec<&OsStr> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect();
        // The deepest directory already open on the way.
        let start = self.open.iter().rposition(|d| path.starts_with(&d.path));
        let (mut at, mut depth) = match start {
            Some(i) => (i, self.open[i].path.components().count() - 1),
            None => {
                let root = Dir::root().map_err(|error| WalkError::Io { path: PathBuf::from("/"), error })?;
                self.open.push(root);
                (self.open.len() - 1, 0)
            }
        };
        let mut created = false;
        while depth < names.len() {
            let last = depth + 1 == names.len();
            let mode = create.map(|c| if last { c.last } else { c.parents });
            match self.open[at].child(names[depth], mode) {
                Ok((dir, made)) => {
                    created = made;
                    self.open.push(dir);
                    at = self.open.len() - 1;
                    depth += 1;
                }
                Err(e) => {
                    if let WalkError::Symlink(p) | WalkError::NotADirectory(p) = &e {
                        self.refused.push(p.clone());
                    }
                    return Err(e);
                }
            }
        }
        Ok((&self.open[at], created))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn walks_creates_and_reuses_what_it_opened() {
        let root = tempfile::tempdir().unwrap();
        let mut walker = Walker::new();
        let a = root.path().join("a/b");
        let (dir, created) = walker.dir(&a, Some(Create { last: 0o700, parents: 0o750 })).unwrap();
        assert!(created);
        assert_eq!(dir.path, a);
        assert_eq!(fs::metadata(&a).unwrap().permissions().mode() & 0o7777, 0o700);
        let (_, created) = walker.dir(&a, None).unwrap();
        assert!(!created);
        let opened = walker.open.len();
        walker.dir(&root.path().join("a/b/c"), Some(Create { last: 0o700, parents: 0o700 })).unwrap();
        assert_eq!(walker.open.len(), opened + 1, "started from a/b, opened only c");
    }

    #[test]
    fn an_adopted_directory_is_where_walks_below_it_start_and_a_made_one_is_not_looked_into() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        fs::create_dir(&home).unwrap();
        let fd = nix::fcntl::open(&home, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        let mut walker = Walker::new();
        walker.adopt(&home, fd).unwrap();
        let create = Some(Create { last: 0o700, parents: 0o700 });
        let (dir, created) = walker.dir(&home.join("a/b"), create).unwrap();
        assert!(created && dir.made());
        assert_eq!(walker.open.len(), 3, "home adopted, a and b opened; not / again");
        let file = nix::fcntl::open(&root.path().join("f"), OFlag::O_CREAT | OFlag::O_WRONLY, Mode::S_IRWXU).unwrap();
        assert!(walker.adopt(&root.path().join("f"), file).is_err(), "only a directory is adopted");
    }

    #[test]
    fn a_symlink_on_the_way_stops_the_path_and_everything_below_it() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("private");
        fs::create_dir_all(target.join("secrets")).unwrap();
        symlink(&target, root.path().join("home")).unwrap();
        let mut walker = Walker::new();
        let create = Some(Create { last: 0o770, parents: 0o770 });
        let err = walker.dir(&root.path().join("home/secrets/new"), create).unwrap_err();
        assert!(matches!(&err, WalkError::Symlink(p) if *p == root.path().join("home")), "{err}");
        assert!(!target.join("secrets/new").exists());
        let again = walker.dir(&root.path().join("home/other"), create).unwrap_err();
        assert!(matches!(again, WalkError::Below { .. }), "{again}");
        fs::write(root.path().join("file"), "").unwrap();
        let file = walker.dir(&root.path().join("file/x"), create).unwrap_err();
        assert!(matches!(file, WalkError::NotADirectory(_)), "{file}");
    }

    #[test]
    fn files_are_not_opened_through_links_and_trees_are_removed_without_following() {
        let root = tempfile::tempdir().unwrap();
        let outside = root.path().join("outside");
        fs::create_dir(&outside).unwrap();
        fs::write(outside.join("keep"), "x").unwrap();
        let mut walker = Walker::new();
        let (dir, _) = walker.dir(&root.path().join("d"), Some(Create { last: 0o700, parents: 0o700 })).unwrap();
        dir.symlink(&outside.join("keep"), OsStr::new("link")).unwrap();
        let err = dir.open_file(OsStr::new("link"), OFlag::O_RDONLY, 0).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
        assert_eq!(dir.stat(OsStr::new("link")).unwrap().map(|a| a.kind), Some(Kind::Symlink));
        dir.mkdir(OsStr::new("tree"), 0o700).unwrap();
        let (tree, _) = dir.child(OsStr::new("tree"), None).unwrap();
        tree.symlink(&outside, OsStr::new("out")).unwrap();
        tree.create_file(OsStr::new("f"), 0o600).unwrap();
        dir.remove_tree(OsStr::new("tree")).unwrap();
        assert_eq!(dir.stat(OsStr::new("tree")).unwrap(), None);
        assert!(outside.join("keep").exists(), "followed a link while removing");
    }
}
