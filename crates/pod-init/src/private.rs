//! What the user step lays out on scratch is the user's alone: directories
//! 0700 and files 0600, created so and set so again when an earlier start
//! (or the user) left them group-writable. The lab shares the scratch
//! home, and zsh, git, editors and uv run what these hold.
//!
//! An entry someone else owns is refused, not used: a lab member who got
//! there first (the scratch home is the lab's to add to) would otherwise
//! choose what the researcher's shell runs.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use nix::fcntl::OFlag;

use crate::dirwalk::{self, Attrs, Create, Dir, Kind, Walker};
use crate::sys;

/// Mode of the directories laid out for the user.
pub const DIR_MODE: u32 = 0o700;

/// Mode of the files laid out for the user.
pub const FILE_MODE: u32 = 0o600;

/// Whose the laid-out files are: the file-system uid, which the user-state
/// step acts with (and which is the effective uid outside it).
fn me() -> u32 {
    crate::fsid::current_uid()
}

/// Refuses what is not the user's own `kind`.
fn check(path: &Path, attrs: &Attrs, kind: Kind) -> io::Result<()> {
    if attrs.kind != kind {
        return Err(io::Error::other(format!("{} is a {}, not a {kind}; left alone", path.display(), attrs.kind)));
    }
    if attrs.uid != me() {
        return Err(io::Error::other(format!(
            "{} belongs to uid {}, not to you; left alone (nothing of it is used)",
            path.display(),
            attrs.uid
        )));
    }
    Ok(())
}

/// `path` as a directory of the user's, 0700 (missing parents too);
/// says what it did. Returns it for work inside, and whether it was made.
pub fn dir<'w>(walker: &'w mut Walker, path: &Path, done: &mut Vec<String>) -> io::Result<(&'w Dir, bool)> {
    let create = Create { last: DIR_MODE, parents: DIR_MODE };
    let (dir, created) = walker.dir(path, Some(create)).map_err(io::Error::other)?;
    if created {
        done.push(format!("created {} ({DIR_MODE:04o})", path.display()));
        return Ok((dir, true));
    }
    check(path, &dir.attrs, Kind::Dir)?;
    if dir.attrs.mode & 0o077 != 0 {
        dir.chmod(DIR_MODE)?;
        done.push(format!("{} mode {:04o} -> {DIR_MODE:04o}", path.display(), dir.attrs.mode));
    }
    Ok((dir, false))
}

/// [`dir`] for a directory nothing is done in: one lookup when it is
/// right, and when missing it is made and not looked at again (under the
/// user step's umask it has exactly the mode asked for).
pub fn leaf_dir(walker: &mut Walker, path: &Path, done: &mut Vec<String>) -> io::Result<()> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return dir(walker, path, done).map(|_| ());
    };
    let create = Create { last: DIR_MODE, parents: DIR_MODE };
    let (above, created) = walker.dir(parent, Some(create)).map_err(io::Error::other)?;
    if created {
        done.push(format!("created {} ({DIR_MODE:04o})", parent.display()));
    }
    // In a directory just made, nothing is there to look up.
    let found = if above.made() { None } else { above.stat(name)? };
    match found {
        None => match above.mkdir(name, DIR_MODE) {
            Ok(()) => {
                done.push(format!("created {} ({DIR_MODE:04o})", path.display()));
                return Ok(());
            }
            // Another pod of the user's made it first: checked below.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        },
        Some(a) if a.kind == Kind::Dir && a.uid == me() && a.mode & 0o077 == 0 => return Ok(()),
        // Not right: refused or fixed, as any directory.
        Some(_) => {}
    }
    dir(walker, path, done).map(|_| ())
}

/// The file `name` of `dir` (at `path`) as the user's, 0600: created empty
/// when missing, its mode set when it differs. With `read`, its content is
/// returned (read once, through the descriptor it was checked on).
pub fn file(dir: &Dir, name: &OsStr, path: &Path, read: bool) -> io::Result<(Option<String>, Vec<u8>)> {
    let existing = if read {
        match dir.open_file(name, OFlag::O_RDONLY, 0) {
            Ok(f) => Some((dirwalk::attrs_of(&f)?, Some(f))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(io::Error::other(format!("{} is a symbolic link, not a file; left alone", path.display())));
            }
            Err(e) => return Err(e),
        }
    } else {
        dir.stat(name)?.map(|a| (a, None))
    };
    let Some((attrs, opened)) = existing else {
        dir.create_file(name, FILE_MODE)?;
        return Ok((Some(format!("created {} ({FILE_MODE:04o})", path.display())), Vec::new()));
    };
    settle(dir, name, path, &attrs, opened)
}

/// [`file`] for an existing entry whose attributes are known (`opened`:
/// the descriptor they came from, whose content is then returned).
pub fn settle(
    dir: &Dir,
    name: &OsStr,
    path: &Path,
    attrs: &Attrs,
    opened: Option<File>,
) -> io::Result<(Option<String>, Vec<u8>)> {
    check(path, attrs, Kind::File)?;
    let mut content = Vec::new();
    if let Some(f) = &opened {
        // The size the open brought back, no more: a read past it would
        // ask the server for the size again.
        f.take(attrs.size).read_to_end(&mut content)?;
    }
    if attrs.mode == FILE_MODE {
        return Ok((None, content));
    }
    let file = match opened {
        Some(f) => f,
        None => dir.open_file(name, OFlag::O_RDONLY, 0)?,
    };
    sys::fchmod(&file, FILE_MODE)?;
    Ok((Some(format!("{} mode {:04o} -> {FILE_MODE:04o}", path.display(), attrs.mode)), content))
}

/// [`file`] for a path: its directory walked (and made the user's when
/// missing) first.
pub fn file_at(walker: &mut Walker, path: &Path, read: bool) -> io::Result<(Vec<String>, Vec<u8>)> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other(format!("{}: not a file path", path.display())));
    };
    let mut done = Vec::new();
    let create = Create { last: DIR_MODE, parents: DIR_MODE };
    let (dir, created) = walker.dir(parent, Some(create)).map_err(io::Error::other)?;
    if created {
        done.push(format!("created {} ({DIR_MODE:04o})", parent.display()));
    }
    let (change, content) = file(dir, name, path, read)?;
    done.extend(change);
    Ok((done, content))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn mode(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn files_and_dirs_are_made_and_set_owner_only_and_links_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("sub/hist");
        let mut walker = Walker::new();
        let (done, _) = file_at(&mut walker, &f, false).unwrap();
        assert_eq!(done.len(), 2, "{done:?}");
        assert_eq!((mode(&f), mode(&root.path().join("sub"))), (FILE_MODE, DIR_MODE));
        assert_eq!(file_at(&mut walker, &f, false).unwrap().0, Vec::<String>::new());
        fs::set_permissions(&f, fs::Permissions::from_mode(0o660)).unwrap();
        fs::write(&f, "ls\n").unwrap();
        let (done, content) = file_at(&mut Walker::new(), &f, true).unwrap();
        assert_eq!((done.len(), content, mode(&f)), (1, b"ls\n".to_vec(), FILE_MODE));

        let sub = root.path().join("sub");
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o770)).unwrap();
        let mut done = Vec::new();
        dir(&mut Walker::new(), &sub, &mut done).unwrap();
        assert_eq!((done.len(), mode(&sub)), (1, DIR_MODE));

        let l = root.path().join("link");
        symlink(&f, &l).unwrap();
        assert!(
            file_at(&mut Walker::new(), &l, false).unwrap_err().to_string().contains("is a symbolic link, not a file")
        );
        assert!(
            file_at(&mut Walker::new(), &l, true).unwrap_err().to_string().contains("is a symbolic link, not a file")
        );
    }
}
