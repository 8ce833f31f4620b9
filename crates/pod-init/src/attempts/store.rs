//! The attempt record on scratch: `<SCRATCH_HOME>/.nb-attempts/<file>/`, a
//! directory of entries (record.rs), read and changed by the user (PID 1
//! acting as the user, the fsid module: root is squashed on NFS), never by
//! root.
//!
//! Scratch is shared with the lab, and a scratch home is group-writable, so
//! a lab member can rename what is in it. `.nb-attempts` and the job's
//! directory are opened by the user-state step's walk (no symlink followed
//! on the way), must be the user's own and are kept 0700, so that nobody
//! else can place or change anything in them; the job directory's
//! descriptor is all that the start's end uses.
//!
//! Each change is one call that the server makes whole or not at all: a
//! start is a new symbolic link (its content is written with the name), its
//! end a rename of that link. No file is written, so there is no temporary
//! file, no flush and no reader that sees half a record. NFS requests per
//! start that finds its record: the two directories' lookups, the listing
//! (open, read, close), the new link (its lookup and the symlink), and the
//! rename at the end (two lookups and the rename).

use std::io;
use std::os::fd::{AsFd as _, OwnedFd};
use std::path::Path;

use super::record::Entry;
use crate::dirwalk::{self, Walker};
use crate::private;

/// The directory under the scratch home that holds the records.
pub const DIR: &str = ".nb-attempts";

/// Opens the record directory `<scratch_home>/.nb-attempts/<file>` on
/// `walker` (each made 0700 when missing, set 0700 when open to others),
/// refused unless both are the user's own. Returns an `O_PATH` descriptor,
/// enough for the calls below, and whether it was made now (then it is
/// empty).
pub fn open(walker: &mut Walker, scratch_home: &Path, file: &str) -> io::Result<(OwnedFd, bool)> {
    let state = scratch_home.join(DIR);
    private::dir(walker, &state, &mut Vec::new())?;
    let (dir, made) = private::dir(walker, &state.join(file), &mut Vec::new())?;
    Ok((dir.fd().try_clone_to_owned()?, made))
}

/// The entries in `dir`; other names are left out.
pub fn entries(dir: &OwnedFd) -> io::Result<Vec<Entry>> {
    let names = dirwalk::names_in(dir.as_fd())?;
    Ok(names.iter().filter_map(|name| name.to_str().and_then(Entry::parse)).collect())
}

/// Adds `entry`, a link to `details`; EEXIST if its name is taken.
pub fn add(dir: &OwnedFd, entry: &Entry, details: &str) -> io::Result<()> {
    Ok(nix::unistd::symlinkat(details, dir.as_fd(), entry.name().as_str())?)
}

/// Renames `from` to `to` (the same start, once it ended).
pub fn rename(dir: &OwnedFd, from: &Entry, to: &Entry) -> io::Result<()> {
    Ok(nix::fcntl::renameat(dir.as_fd(), from.name().as_str(), dir.as_fd(), to.name().as_str())?)
}

/// Removes `entry` (never a directory, never followed).
pub fn remove(dir: &OwnedFd, entry: &Entry) -> io::Result<()> {
    Ok(nix::unistd::unlinkat(dir.as_fd(), entry.name().as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

    const SUB: &str = "20260101-120000-k3j9x2";

    fn entry(seq: u64) -> Entry {
        Entry { seq, attempt: 1, submission: SUB.to_owned(), end: None }
    }

    #[test]
    fn entries_are_links_in_an_owner_only_directory_and_other_names_are_ignored() {
        let home = tempfile::tempdir().unwrap();
        let (dir, made) = open(&mut Walker::new(), home.path(), "job").unwrap();
        assert!(made);
        add(&dir, &entry(1), "started=1 host=h node=-").unwrap();
        assert_eq!(add(&dir, &entry(1), "again").unwrap_err().raw_os_error(), Some(libc::EEXIST));
        let ended = entry(1).ended(super::super::record::Ending::Exited(0), 5);
        rename(&dir, &entry(1), &ended).unwrap();
        add(&dir, &entry(2), "started=2 host=h node=-").unwrap();
        let path = home.path().join(DIR).join("job");
        std::fs::write(path.join("notes.txt"), "mine").unwrap();
        let mut found = entries(&dir).unwrap();
        found.sort_by_key(|e| e.seq);
        assert_eq!(found, [ended.clone(), entry(2)]);
        assert_eq!(std::fs::read_link(path.join(ended.name())).unwrap(), Path::new("started=1 host=h node=-"));
        remove(&dir, &ended).unwrap();
        assert_eq!(entries(&dir).unwrap(), [entry(2)]);
        for d in [home.path().join(DIR), path] {
            assert_eq!(std::fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700, "{}", d.display());
        }
        let (_, made) = open(&mut Walker::new(), home.path(), "job").unwrap();
        assert!(!made);
    }

    #[test]
    fn symlinks_on_the_way_are_never_followed() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = home.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        // A symlinked state directory, a symlinked home, a symlinked job directory.
        std::os::unix::fs::symlink(&elsewhere, home.path().join(DIR)).unwrap();
        assert!(open(&mut Walker::new(), home.path(), "job").is_err());
        let link = home.path().join("link");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        assert!(open(&mut Walker::new(), &link, "job").is_err());
        let real = home.path().join("real");
        std::fs::create_dir_all(real.join(DIR)).unwrap();
        std::os::unix::fs::symlink(&elsewhere, real.join(DIR).join("job")).unwrap();
        assert!(open(&mut Walker::new(), &real, "job").is_err());
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn a_directory_open_to_others_is_closed_and_a_file_in_its_place_refused() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(DIR);
        std::fs::create_dir_all(dir.join("job")).unwrap();
        for d in [&dir, &dir.join("job")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        open(&mut Walker::new(), home.path(), "job").unwrap();
        for d in [&dir, &dir.join("job")] {
            assert_eq!(std::fs::metadata(d).unwrap().mode() & 0o777, 0o700, "{}", d.display());
        }
        std::fs::write(dir.join("other"), "a file").unwrap();
        assert!(open(&mut Walker::new(), home.path(), "other").is_err());
    }

    #[test]
    fn a_state_directory_of_someone_else_is_refused() {
        if !crate::testing::root_or_skip("to give the directory to another uid") {
            return;
        }
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(DIR);
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::chown(&dir, Some(4242), Some(4242)).unwrap();
        let err = open(&mut Walker::new(), home.path(), "job").unwrap_err().to_string();
        assert!(err.contains("belongs to uid 4242"), "{err}");
    }
}
