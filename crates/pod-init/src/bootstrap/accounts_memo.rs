//! What the accounts step found in /etc, kept for the next start of the
//! same container: a restart in place (`docker restart` keeps the writable
//! layer) that finds the four account files exactly as the last start left
//! them takes the user's and the seed's ids from here instead of reading
//! and parsing the files again.
//!
//! "Exactly" is what `stat` tells of each file: inode, size, modification
//! and change times to the nanosecond (the change time cannot be set back
//! by anyone), the way git's index trusts a file it hashed. The memo also
//! names the configuration it was made for (user, group, ids, shell,
//! seed), so a pod with other variables never uses it. It is root's, 0600,
//! in root's /run (checked, as the run-once marker is); anything else at
//! its path, or a memo that does not read back whole, is ignored and made
//! again. Nothing else but speed depends on it: a miss runs the step.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::bootstrap::mirror::EtcFiles;
use crate::config::PodConfig;
use crate::identity::Identity;

/// The memo's path under the edited root.
pub const PATH: &str = "run/pod-init.accounts";

/// First line of a memo: a changed format is never misread.
const HEADER: &str = "pod-init accounts memo 1";

/// What the step needs from /etc on a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub user: Identity,
    pub seed: Option<Identity>,
}

/// The configuration a memo was made for, as one line.
fn key(cfg: &PodConfig, shell: &str) -> String {
    format!("key {} {} {} {} {} {}", cfg.user, cfg.uid, cfg.group, cfg.gid, shell, cfg.seed_user)
}

/// One file as `stat` sees it, or `missing`.
fn file_line(name: &str, path: &Path) -> io::Result<String> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(format!(
            "file {name} {} {} {}.{} {}.{}",
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec()
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(format!("file {name} missing")),
        Err(e) => Err(e),
    }
}

fn files_lines(files: &EtcFiles) -> io::Result<Vec<String>> {
    [("passwd", &files.passwd), ("group", &files.group), ("shadow", &files.shadow), ("gshadow", &files.gshadow)]
        .into_iter()
        .map(|(name, path)| file_line(name, path))
        .collect()
}

fn identity_line(what: &str, id: Option<&Identity>) -> String {
    match id {
        None => format!("{what} none"),
        Some(id) => {
            let groups: Vec<String> = id.groups.iter().map(u32::to_string).collect();
            format!("{what} {} {} {}", id.uid, id.gid, groups.join(","))
        }
    }
}

fn parse_identity(line: &str, what: &str) -> Option<Option<Identity>> {
    let rest = line.strip_prefix(what)?.strip_prefix(' ')?;
    if rest == "none" {
        return Some(None);
    }
    let mut fields = rest.split(' ');
    let uid = fields.next()?.parse().ok()?;
    let gid = fields.next()?.parse().ok()?;
    let groups = match fields.next()? {
        "" => Vec::new(),
        list => list.split(',').map(str::parse).collect::<Result<_, _>>().ok()?,
    };
    fields.next().is_none().then_some(Some(Identity { uid, gid, groups }))
}

/// The memo's text for `found`, made for `cfg` and `shell`, with the files
/// as they are now.
fn render(cfg: &PodConfig, shell: &str, files: &EtcFiles, found: &Found) -> io::Result<String> {
    let mut lines = vec![HEADER.to_owned(), key(cfg, shell)];
    lines.extend(files_lines(files)?);
    lines.push(identity_line("user", Some(&found.user)));
    lines.push(identity_line("seed", found.seed.as_ref()));
    Ok(lines.join("\n") + "\n")
}

/// Opens the memo if it is root's (`owner`), a regular file, 0600.
fn open_trusted(path: &Path, owner: u32) -> Option<File> {
    let file = OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(path).ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.uid() == owner && meta.mode() & 0o7777 == 0o600).then_some(file)
}

/// What the last start found, if the memo at `root` was made for this
/// configuration and every file is as it was then.
pub fn recall(root: &Path, owner: u32, cfg: &PodConfig, shell: &str, files: &EtcFiles) -> Option<Found> {
    let mut text = String::new();
    // A memo is a few hundred bytes; more is not one.
    open_trusted(&root.join(PATH), owner)?.take(64 * 1024).read_to_string(&mut text).ok()?;
    let mut lines = text.strip_suffix('\n')?.split('\n');
    if lines.next()? != HEADER || lines.next()? != key(cfg, shell) {
        return None;
    }
    for now in files_lines(files).ok()? {
        if lines.next()? != now {
            return None;
        }
    }
    let user = parse_identity(lines.next()?, "user")??;
    let seed = parse_identity(lines.next()?, "seed")?;
    let consistent = (user.uid, user.gid) == (cfg.uid, cfg.gid);
    (consistent && lines.next().is_none()).then_some(Found { user, seed })
}

/// Writes the memo for the files as they are now: a temp file of its own
/// (root's, 0600, exclusive), renamed over the old one, so a reader never
/// sees half of it. Owned by `owner` (uid, gid).
pub fn keep(
    root: &Path,
    owner: (u32, u32),
    cfg: &PodConfig,
    shell: &str,
    files: &EtcFiles,
    found: &Found,
) -> io::Result<()> {
    let path = root.join(PATH);
    let text = render(cfg, shell, files, found)?;
    let temp: PathBuf = root.join(format!("{PATH}.{}", crate::sys::random_suffix()));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        // A setuid start creates with the user's gid; make it root's.
        std::os::unix::fs::fchown(&file, Some(owner.0), Some(owner.1))?;
        fs::rename(&temp, &path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> (u32, u32) {
        (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())
    }

    fn setup() -> (tempfile::TempDir, EtcFiles, PodConfig, Found) {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("etc")).unwrap();
        fs::create_dir_all(root.path().join("run")).unwrap();
        let files = EtcFiles::new(&root.path().join("etc"));
        for (path, text) in [(&files.passwd, "root:x:0:0::/root:/bin/sh\n"), (&files.group, "root:x:0:\n")] {
            fs::write(path, text).unwrap();
        }
        let cfg = crate::config::for_tests(&[("NB_USER", "ada"), ("NB_UID", "4242"), ("NB_GID", "4343")]);
        let found = Found {
            user: Identity { uid: 4242, gid: 4343, groups: vec![4343, 27, 4] },
            seed: Some(Identity { uid: 177_449, gid: 83_070, groups: vec![83_070] }),
        };
        (root, files, cfg, found)
    }

    #[test]
    fn a_memo_is_recalled_while_the_files_and_the_configuration_are_as_they_were() {
        let (root, files, cfg, found) = setup();
        assert_eq!(recall(root.path(), owner().0, &cfg, "/bin/zsh", &files), None, "no memo yet");
        keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &found).unwrap();
        assert_eq!(recall(root.path(), owner().0, &cfg, "/bin/zsh", &files), Some(found.clone()));
        let no_seed = Found { seed: None, ..found.clone() };
        keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &no_seed).unwrap();
        assert_eq!(recall(root.path(), owner().0, &cfg, "/bin/zsh", &files), Some(no_seed));
        let names: Vec<_> = fs::read_dir(root.path().join("run")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["pod-init.accounts"], "a temp file was left");
    }

    #[test]
    fn any_change_to_a_file_or_the_configuration_is_a_miss() {
        let (root, files, cfg, found) = setup();
        let memo = |cfg: &PodConfig, shell: &str| recall(root.path(), owner().0, cfg, shell, &files);
        keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &found).unwrap();
        assert_eq!(memo(&cfg, "/bin/bash"), None, "another shell");
        let other = crate::config::for_tests(&[("NB_USER", "ada"), ("NB_UID", "4243"), ("NB_GID", "4343")]);
        assert_eq!(memo(&other, "/bin/zsh"), None, "another uid");
        // The same size, rewritten in place: the times changed.
        fs::write(&files.group, "root:x:1:\n").unwrap();
        assert_eq!(memo(&cfg, "/bin/zsh"), None, "group rewritten");
        keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &found).unwrap();
        fs::write(&files.shadow, "root:*:1::::::\n").unwrap();
        assert_eq!(memo(&cfg, "/bin/zsh"), None, "shadow appeared");
    }

    #[test]
    fn a_memo_that_is_not_pod_inits_or_not_whole_is_ignored() {
        let (root, files, cfg, found) = setup();
        let path = root.path().join(PATH);
        keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &found).unwrap();
        let whole = fs::read_to_string(&path).unwrap();
        let recalled = || recall(root.path(), owner().0, &cfg, "/bin/zsh", &files);
        for bad in [
            whole.replace("user 4242 4343", "user 0 0"),
            whole.replace("user 4242 4343", "user 4242 0"),
            whole.replace("\nseed ", "\nseeds "),
            whole.trim_end().to_owned(),
            format!("{whole}more\n"),
            whole.lines().take(5).collect::<Vec<_>>().join("\n") + "\n",
        ] {
            fs::write(&path, &bad).unwrap();
            assert_eq!(recalled(), None, "{bad:?}");
        }
        keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &found).unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        assert_eq!(recalled(), None, "readable by others: not root's own");
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(root.path().join("elsewhere"), &path).unwrap();
        assert_eq!(recalled(), None, "a symlink");
        assert_eq!(recall(root.path(), owner().0.wrapping_add(1), &cfg, "/bin/zsh", &files), None, "someone else's");
        // A link to a memo that is right in every other way.
        fs::remove_file(&path).unwrap();
        keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &found).unwrap();
        let real = root.path().join("run/real");
        fs::rename(&path, &real).unwrap();
        std::os::unix::fs::symlink(&real, &path).unwrap();
        assert_eq!(recalled(), None, "followed a symlink");
    }

    #[test]
    fn a_user_in_many_groups_is_recalled_whole() {
        let (root, files, cfg, found) = setup();
        let many = Found { user: Identity { groups: (4343..4643).collect(), ..found.user.clone() }, ..found };
        keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &many).unwrap();
        assert!(fs::metadata(root.path().join(PATH)).unwrap().len() > 1500);
        assert_eq!(recall(root.path(), owner().0, &cfg, "/bin/zsh", &files), Some(many));
    }

    #[test]
    fn files_that_cannot_be_looked_at_leave_no_memo() {
        let (root, _, cfg, found) = setup();
        let etc_is_a_file = root.path().join("etc-file");
        fs::write(&etc_is_a_file, "").unwrap();
        let files = EtcFiles::new(&etc_is_a_file);
        assert!(keep(root.path(), owner(), &cfg, "/bin/zsh", &files, &found).is_err(), "ENOTDIR taken for missing");
        assert!(!root.path().join(PATH).exists());
    }
}
