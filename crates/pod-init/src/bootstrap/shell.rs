//! ZDOTDIR (`SCRATCH_HOME/.shell`) with oh-my-zsh and `.zshrc` from the
//! image's stage directory (`/docker`), copied once: afterwards they are the
//! user's to change. The directory is the user's alone (0700), so what is
//! inside cannot be reached, changed or replaced by the lab, and `.zshrc`
//! is 0600 besides.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::Path;

use common::image;

use super::copytree;
use crate::config::PodConfig;
use crate::dirwalk::{Dir, Kind, Walker};
use crate::{private, sys};

/// The name of an oh-my-zsh copy in progress, before its random suffix.
pub(crate) const PARTIAL_PREFIX: &str = ".oh-my-zsh.partial-";

/// A copy in progress for this long was cut short (a copy takes seconds).
const STALE_PARTIAL_SECS: i64 = 600;

/// What the copies keep of the staged modes: nothing for others, no write
/// for the group (the directory is closed to both anyway).
const COPY_MASK: u32 = 0o750;

/// Lays out ZDOTDIR in `cfg`'s scratch home from the files staged in `stage`.
pub fn prepare(walker: &mut Walker, cfg: &PodConfig, stage: &Path) -> io::Result<Vec<String>> {
    let staged =
        |constant: &str| stage.join(Path::new(constant).strip_prefix(image::STAGE_DIR).unwrap_or(Path::new(constant)));
    let mut done = Vec::new();
    let zdotdir = cfg.zdotdir();
    let (dir, created) = private::dir(walker, &zdotdir, &mut done)?;
    let existed = !created;
    // A directory just made holds nothing: no lookups for what is in it.
    let zshrc = OsStr::new(".zshrc");
    let found = if existed { dir.stat(zshrc)? } else { None };
    if let Some(attrs) = found {
        // A link there is the user's own doing (the directory is theirs
        // alone): their dotfiles, left as they are.
        if attrs.kind != Kind::Symlink {
            done.extend(private::settle(dir, zshrc, &zdotdir.join(zshrc), &attrs, None)?.0);
        }
    } else {
        let from = staged(image::STAGED_ZSHRC);
        match std::fs::read(&from) {
            Ok(bytes) => {
                write_via_temp(dir, zshrc, &bytes)?;
                done.push(format!("copied {} to {}", from.display(), zdotdir.join(zshrc).display()));
            }
            Err(e) => done.push(format!("{} not in the image ({e}); no .zshrc", from.display())),
        }
    }
    let omz = cfg.oh_my_zsh();
    let omz_name = omz.file_name().unwrap_or(OsStr::new(".oh-my-zsh"));
    let has_omz = existed && dir.stat(omz_name)?.is_some();
    // More subdirectories than oh-my-zsh: perhaps a copy an earlier start
    // left. Only then is the directory listed (a round trip or more on NFS).
    if existed && (!has_omz || dir.attrs.nlink > 3) {
        remove_stale_partials(dir, &zdotdir);
    }
    if !has_omz {
        let from = staged(image::STAGED_OH_MY_ZSH);
        if from.is_dir() {
            copy_omz(dir, &from, omz_name)?;
            done.push(format!("copied {} to {}", from.display(), omz.display()));
        } else {
            done.push(format!("{} not in the image; no oh-my-zsh", from.display()));
        }
    }
    Ok(done)
}

/// Copied under a temporary name and renamed: a copy cut short by a crash
/// is redone next time instead of being kept half done. Random, not the
/// pid: every pod-init is PID 1, and two pods of the same user may start
/// at once on the same scratch.
fn copy_omz(dir: &Dir, from: &Path, omz: &OsStr) -> io::Result<()> {
    let partial = format!("{PARTIAL_PREFIX}{}", sys::random_suffix());
    let partial = OsStr::new(&partial);
    dir.mkdir(partial, private::DIR_MODE)?;
    let (copy, _) = dir.child(partial, None).map_err(io::Error::other)?;
    copytree::copy_entries(from, &copy, COPY_MASK)?;
    match dir.rename(partial, omz) {
        Ok(()) => Ok(()),
        // Another pod finished first: its copy is as good as ours.
        Err(_) if dir.stat(omz)?.is_some() => dir.remove_tree(partial),
        Err(e) => Err(e),
    }
}

fn write_via_temp(dir: &Dir, name: &OsStr, bytes: &[u8]) -> io::Result<()> {
    let tmp = format!(".{}.tmp-{}", name.to_string_lossy().trim_start_matches('.'), sys::random_suffix());
    let tmp = OsStr::new(&tmp);
    dir.create_file(tmp, private::FILE_MODE)?.write_all(bytes)?;
    dir.rename(tmp, name)
}

/// Removes copies cut short by a crash of an earlier start.
fn remove_stale_partials(dir: &Dir, zdotdir: &Path) {
    let Ok(names) = dir.names() else { return };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    // The name first: only a partial copy is worth a lookup.
    for name in names.iter().filter(|n| n.to_str().is_some_and(|n| n.starts_with(PARTIAL_PREFIX))) {
        let stale = dir.stat(name).ok().flatten().is_some_and(|a| now - a.mtime > STALE_PARTIAL_SECS);
        if stale && dir.remove_tree(name).is_ok() {
            tracing::info!("shell: removed {}, a copy cut short by an earlier start", zdotdir.join(name).display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn shell_files_are_copied_once_owner_only_and_a_stale_partial_copy_is_removed() {
        let stage = tempfile::tempdir().unwrap();
        fs::write(stage.path().join(".zshrc"), "umask 007\n").unwrap();
        fs::create_dir_all(stage.path().join("oh-my-zsh/lib")).unwrap();
        fs::write(stage.path().join("oh-my-zsh/lib/git.zsh"), "# git\n").unwrap();
        symlink("lib/git.zsh", stage.path().join("oh-my-zsh/link")).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let home = scratch.path().to_str().unwrap();
        let cfg = crate::config::for_tests(&[("SCRATCH_HOME", home)]);
        fs::create_dir(cfg.zdotdir()).unwrap();
        fs::set_permissions(cfg.zdotdir(), fs::Permissions::from_mode(0o770)).unwrap();
        let stale = cfg.zdotdir().join(format!("{PARTIAL_PREFIX}abcdef"));
        fs::create_dir(&stale).unwrap();
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        fs::File::open(&stale).unwrap().set_modified(hour_ago).unwrap();

        let done = prepare(&mut Walker::new(), &cfg, stage.path()).unwrap();
        assert_eq!(done.len(), 3, "{done:?}");
        assert!(!stale.exists(), "stale partial copy kept");
        assert_eq!(fs::read_to_string(cfg.oh_my_zsh().join("lib/git.zsh")).unwrap(), "# git\n");
        assert_eq!(fs::read_link(cfg.oh_my_zsh().join("link")).unwrap(), Path::new("lib/git.zsh"));
        let zshrc = cfg.zdotdir().join(".zshrc");
        assert_eq!(fs::read_to_string(&zshrc).unwrap(), "umask 007\n");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!((mode(&cfg.zdotdir()), mode(&zshrc)), (private::DIR_MODE, private::FILE_MODE));
        let names: Vec<_> = fs::read_dir(cfg.zdotdir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 2, "only .zshrc and oh-my-zsh: {names:?}");

        // The user's edits survive the next start; nothing is copied again.
        fs::write(&zshrc, "mine\n").unwrap();
        fs::set_permissions(&zshrc, fs::Permissions::from_mode(0o660)).unwrap();
        let done = prepare(&mut Walker::new(), &cfg, stage.path()).unwrap();
        assert_eq!(done, [format!("{} mode 0660 -> 0600", zshrc.display())]);
        assert_eq!(fs::read_to_string(&zshrc).unwrap(), "mine\n");
        assert_eq!(prepare(&mut Walker::new(), &cfg, stage.path()).unwrap(), Vec::<String>::new());
        fs::remove_file(&zshrc).unwrap();
        symlink("/dotfiles/zshrc", &zshrc).unwrap();
        assert_eq!(prepare(&mut Walker::new(), &cfg, stage.path()).unwrap(), Vec::<String>::new(), "the user's link");
    }
}
