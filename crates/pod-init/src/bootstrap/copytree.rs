//! `cp -a` without ownership (the user cannot chown anyway) from the
//! image into a directory descriptor: directories, files with their mode,
//! symlinks as symlinks. The source is root's (the image's stage
//! directory, a home in /home); the destination is written only relative
//! to descriptors, so nothing on the way can redirect it.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::dirwalk::Dir;
use crate::sys;

/// Copies the entries of `from` into `to`; names `to` already has are
/// kept as they are (a directory among them is not descended into).
/// Modes are the source's limited to `mask`, exactly: when the umask would
/// take a bit of them, they are set again (never on scratch when `mask`
/// keeps within what the umask leaves).
pub fn copy_entries(from: &Path, to: &Dir, mask: u32) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, name) = (entry.path(), entry.file_name());
        let kind = entry.file_type()?;
        let mode = entry.metadata()?.permissions().mode() & mask;
        let kept = |r: io::Result<()>| match r {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            other => other.map(|()| true),
        };
        if kind.is_symlink() {
            kept(to.symlink(&fs::read_link(&src)?, &name))?;
        } else if kind.is_dir() && kept(to.mkdir(&name, mode | 0o700))? {
            let (dir, _) = to.child(&name, None).map_err(io::Error::other)?;
            if (mode | 0o700) & sys::UMASK != 0 {
                dir.chmod(mode | 0o700)?;
            }
            copy_entries(&src, &dir, mask)?;
        } else if kind.is_file() {
            copy_file(&src, to, &name, mode)?;
        }
    }
    Ok(())
}

/// A new file `name` in `to` with `src`'s bytes; a name already there is kept.
fn copy_file(src: &Path, to: &Dir, name: &OsStr, mode: u32) -> io::Result<()> {
    let mut file = match to.create_file(name, mode) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    };
    file.write_all(&fs::read(src)?)?;
    if mode & sys::UMASK != 0 {
        sys::fchmod(&file, mode)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dirwalk::{Create, Walker};
    use std::os::unix::fs::symlink;

    #[test]
    fn copies_modes_and_links_and_keeps_what_is_there() {
        let (from, to) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        fs::create_dir(from.path().join(".config")).unwrap();
        fs::write(from.path().join(".config/app"), "setting").unwrap();
        fs::write(from.path().join("run"), "#!/bin/sh").unwrap();
        fs::set_permissions(from.path().join("run"), fs::Permissions::from_mode(0o775)).unwrap();
        fs::write(from.path().join(".profile"), "old").unwrap();
        fs::write(to.path().join(".profile"), "kept").unwrap();
        symlink(".profile", from.path().join(".link")).unwrap();
        let mut walker = Walker::new();
        let (dir, _) = walker.dir(to.path(), None::<Create>).unwrap();
        copy_entries(from.path(), dir, 0o755).unwrap();
        assert_eq!(fs::read_to_string(to.path().join(".config/app")).unwrap(), "setting");
        assert_eq!(fs::read_to_string(to.path().join(".profile")).unwrap(), "kept");
        assert_eq!(fs::read_link(to.path().join(".link")).unwrap(), Path::new(".profile"));
        let mode = fs::metadata(to.path().join("run")).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode & 0o022, 0, "group or others may write: {mode:o}");
    }
}
