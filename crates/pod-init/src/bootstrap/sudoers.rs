//! Step 2 (root): passwordless sudo for the researcher, through a drop-in
//! that sudo accepts.
//!
//! sudo skips drop-ins whose name has a `.` or ends in `~`, and refuses one
//! not owned by root or writable by others; the file is therefore root:root
//! 0440, named by `common::image::SUDOERS_DROP_IN`, replaced by rename so
//! sudo never reads half a rule, and left alone when already right.
//!
//! The rule names the user by uid (`#177449`), which sudoers can read as
//! nothing else; the name (validated not to be a sudoers word either) is
//! only in the comment above it, for whoever reads the file.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::etcfile::{self, EtcError, Ownership};

/// The drop-in's mode.
pub const MODE: u32 = 0o440;

/// The rule: any command as anyone, without a password, for `uid`.
pub fn rule(user: &str, uid: u32) -> String {
    format!("# {user}\n#{uid} ALL=(ALL:ALL) NOPASSWD: ALL\n")
}

/// The drop-in's path under `root`.
pub fn drop_in(root: &Path) -> PathBuf {
    root.join(common::image::SUDOERS_DROP_IN.trim_start_matches('/'))
}

/// What the step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Unchanged,
    Written,
    /// No /etc/sudoers.d: sudo is not installed.
    NoSudo,
}

/// Writes the drop-in for `user` (`uid`) if it is not already exactly right.
pub fn ensure(root: &Path, user: &str, uid: u32) -> Result<Outcome, EtcError> {
    let path = drop_in(root);
    if !path.parent().is_some_and(Path::is_dir) {
        return Ok(Outcome::NoSudo);
    }
    let content = rule(user, uid);
    let right_owner = fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_file() && m.uid() == 0 && m.gid() == 0 && m.mode() & 0o7777 == MODE);
    let old = etcfile::needs_write(&path, content.as_bytes())?;
    if old.is_none() && right_owner {
        return Ok(Outcome::Unchanged);
    }
    etcfile::check_replaceable(&path)?;
    etcfile::replace(&path, None, content.as_bytes(), Ownership::Fixed { uid: 0, gid: 0, mode: MODE }, false)?;
    Ok(Outcome::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_in_name_is_one_sudo_reads() {
        let name = Path::new(common::image::SUDOERS_DROP_IN).file_name().unwrap().to_str().unwrap();
        assert!(!name.contains('.') && !name.ends_with('~'), "{name}");
    }

    /// `cvtsudoers -f json` of the drop-in: how the real sudoers parser
    /// reads it.
    #[allow(clippy::disallowed_methods, reason = "the rule is read by the real sudoers parser")]
    fn as_sudoers_reads_it(path: &Path) -> String {
        let out = std::process::Command::new("cvtsudoers")
            .args(["-f", "json"])
            .arg(path)
            .output()
            .expect("cvtsudoers not found: apt-get install sudo");
        assert!(out.status.success(), "cvtsudoers: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn the_rule_names_the_uid_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nb-user");
        fs::write(&path, rule("ada", 177449)).unwrap();
        let json = as_sudoers_reads_it(&path);
        assert_eq!(json.matches("\"User_List\"").count(), 1, "{json}");
        let users = json.split("\"User_List\": [").nth(1).and_then(|rest| rest.split(']').next()).unwrap();
        assert_eq!(users.split_whitespace().collect::<String>(), "{\"userid\":177449}", "{json}");
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "the rule is checked by the real visudo")]
    fn rule_passes_visudo_and_second_write_is_skipped() {
        if !crate::testing::root_or_skip("the rule is owned by root") {
            return;
        }
        let root = tempfile::tempdir().unwrap();
        assert_eq!(ensure(root.path(), "ada", 177449).unwrap(), Outcome::NoSudo);
        fs::create_dir_all(root.path().join("etc/sudoers.d")).unwrap();
        assert_eq!(ensure(root.path(), "ada", 177449).unwrap(), Outcome::Written);
        let path = drop_in(root.path());
        let m = fs::metadata(&path).unwrap();
        assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, MODE));
        assert_eq!(ensure(root.path(), "ada", 177449).unwrap(), Outcome::Unchanged);
        let out = std::process::Command::new("visudo")
            .arg("-cf")
            .arg(&path)
            .output()
            .expect("visudo not found: apt-get install sudo");
        assert!(
            out.status.success(),
            "visudo -cf: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
