//! File-system work done as another user by PID 1 itself.
//!
//! Root is squashed on scratch and must never write into a path the user
//! or the seed controls, so that work is done with their identity. Linux
//! checks every file-system access against the file-system ids
//! (`setfsuid(2)`, `setfsgid(2)`) and the supplementary groups, gives what
//! is created their owner, and the NFS client sends exactly them to the
//! server; the kernel also drops the file-system capabilities
//! (CAP_DAC_OVERRIDE, CAP_FOWNER, ...) from the effective set while the
//! fs uid is not 0. [`act_as`] takes all three on for one closure and puts
//! root's back after it, each change checked: the closure's every `open`,
//! `mkdir` or `rename` is the user's, with no process to fork, switch and
//! wait for (each of those costs more than the work itself on a start that
//! finds everything done). The real, effective and saved ids stay root's
//! meanwhile, so no process of that user can signal, trace or read PID 1.
//!
//! What the closure starts (a `git`) would be root: it must switch fully
//! itself ([`crate::identity::switch`] before its exec). pod-init is
//! single-threaded, and these ids are per thread.

use crate::identity::{self, Identity, Syscall};
use crate::sys::UMASK;

/// The capabilities the kernel takes from the effective set while the fs
/// uid is not 0 (its `CAP_FS_SET`, by number: chown, dac_override,
/// dac_read_search, fowner, fsetid, linux_immutable, mknod,
/// mac_override): with any of them left, a permission check would not be
/// the user's.
const FS_CAPABILITIES: [u32; 8] = [0, 1, 2, 3, 4, 9, 27, 32];

/// `capget`'s header and data (linux/capability.h), version 3: two data
/// structs, capabilities 0-31 and 32-63.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Why work as another user was not done, or root's identity not put back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActError {
    /// Taking on `uid`'s identity failed or did not hold; nothing ran.
    #[error("cannot act as uid {uid} gid {gid}: {step}")]
    Switch { uid: u32, gid: u32, step: String },
    /// Root's identity could not be put back after the work.
    #[error("cannot act as root again after acting as uid {uid}: {step}")]
    Restore { uid: u32, step: String },
}

/// Why work done as another user, which logs its own failures, is not all
/// done.
#[derive(Debug, thiserror::Error)]
pub enum NotDone {
    /// Some of the work failed; it said why.
    #[error("incomplete (see above)")]
    Incomplete,
    #[error("{0}")]
    Act(#[from] ActError),
}

/// The file-system identity to return to.
struct Saved {
    fsuid: u32,
    fsgid: u32,
    groups: Vec<u32>,
    umask: u32,
}

/// The fs uid now. `setfsuid(-1)` changes nothing (no uid is -1) and
/// returns the current value.
pub fn current_uid() -> u32 {
    // SAFETY: a system call with an integer argument.
    unsafe { libc::setfsuid(u32::MAX) as u32 }
}

fn current_gid() -> u32 {
    // SAFETY: as in current_uid.
    unsafe { libc::setfsgid(u32::MAX) as u32 }
}

fn groups() -> Result<Vec<u32>, String> {
    nix::unistd::getgroups()
        .map(|groups| groups.into_iter().map(nix::unistd::Gid::as_raw).collect())
        .map_err(|e| format!("getgroups: {e}"))
}

fn set_groups(groups: &[u32]) -> Result<(), String> {
    identity::Linux
        .setgroups(groups)
        .map_err(|errno| format!("setgroups: {}", std::io::Error::from_raw_os_error(errno)))
}

/// Sets the fs uid and gid and checks that they hold.
fn set_fs_ids(uid: u32, gid: u32) -> Result<(), String> {
    // gid first: as for the other ids, the order a drop needs.
    // SAFETY: system calls with integer arguments; they return the old value.
    unsafe {
        libc::setfsgid(gid);
        libc::setfsuid(uid);
    }
    let (now_uid, now_gid) = (current_uid(), current_gid());
    if (now_uid, now_gid) != (uid, gid) {
        return Err(format!("fs ids are {now_uid}:{now_gid}, not {uid}:{gid}"));
    }
    Ok(())
}

/// Whether any capability of [`FS_CAPABILITIES`] is effective.
fn fs_capability_effective() -> Result<bool, String> {
    let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget writes two data structs (version 3) into a live array.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(format!("capget: {}", std::io::Error::last_os_error()));
    }
    Ok(any_fs_capability(effective_set(&data)))
}

/// The effective set of `capget`'s two data structs as one number (bit N:
/// capability N; the second struct holds 32 to 63).
fn effective_set(data: &[CapData; 2]) -> u64 {
    u64::from(data[0].effective) | u64::from(data[1].effective) << 32
}

/// Whether the effective set `effective` (bit N: capability N) holds any
/// of [`FS_CAPABILITIES`].
fn any_fs_capability(effective: u64) -> bool {
    FS_CAPABILITIES.iter().any(|cap| effective & (1 << cap) != 0)
}

/// Takes on `id` for the file system: its groups, then its fs gid and
/// uid, then [`UMASK`]; then proves it as an attacker would look: the fs
/// ids are `id`'s and no file-system capability is left.
fn take_on(id: &Identity) -> Result<(), String> {
    set_groups(&id.groups)?;
    set_fs_ids(id.uid, id.gid)?;
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(UMASK) };
    if id.uid != 0 && fs_capability_effective()? {
        return Err("file-system capabilities still effective (SECURE_NO_SETUID_FIXUP?)".to_owned());
    }
    Ok(())
}

fn put_back(saved: &Saved) -> Result<(), String> {
    // SAFETY: umask cannot fail.
    unsafe { libc::umask(saved.umask) };
    set_fs_ids(saved.fsuid, saved.fsgid)?;
    // Only when they changed: a take_on refused at its first step changed
    // nothing, and a caller without root could not set them back anyway.
    if groups()? != saved.groups { set_groups(&saved.groups) } else { Ok(()) }
}

/// Runs `work` with `id`'s file-system identity and [`UMASK`], in this
/// process, then takes the caller's back. `work` does not run when the
/// identity cannot be taken on or proven; the caller is told when its own
/// could not be put back.
pub fn act_as<T>(id: &Identity, work: impl FnOnce() -> T) -> Result<T, ActError> {
    let saved = Saved {
        fsuid: current_uid(),
        fsgid: current_gid(),
        groups: groups().map_err(|step| ActError::Switch { uid: id.uid, gid: id.gid, step })?,
        // SAFETY: umask cannot fail; the value read is set back at once.
        umask: unsafe {
            let umask = libc::umask(UMASK);
            libc::umask(umask);
            umask
        },
    };
    if let Err(step) = take_on(id) {
        return Err(match put_back(&saved) {
            Ok(()) => ActError::Switch { uid: id.uid, gid: id.gid, step },
            Err(restore) => ActError::Restore { uid: id.uid, step: format!("{step}; then {restore}") },
        });
    }
    let done = work();
    put_back(&saved).map_err(|step| ActError::Restore { uid: id.uid, step })?;
    Ok(done)
}

/// [`act_as`] for work that logs each of its failures and says whether
/// all of it was done (`true`), with what it made for later: that comes
/// back either way, the default when the work could not run at all.
pub fn act_as_logged<T: Default>(id: &Identity, work: impl FnOnce() -> (bool, T)) -> (Result<(), NotDone>, T) {
    match act_as(id, work) {
        Ok((true, made)) => (Ok(()), made),
        Ok((false, made)) => (Err(NotDone::Incomplete), made),
        Err(e) => (Err(e.into()), T::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    const NOBODY: u32 = 65534;

    fn nobody() -> Identity {
        Identity { uid: NOBODY, gid: NOBODY, groups: vec![NOBODY] }
    }

    #[test]
    fn the_work_is_the_users_and_root_comes_back_after_it() {
        if !crate::testing::root_or_skip("acting as another user needs root") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let root_only = dir.path().join("root-only");
        fs::create_dir(&root_only).unwrap();
        fs::set_permissions(&root_only, fs::Permissions::from_mode(0o700)).unwrap();
        let open = dir.path().join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        let before = (current_uid(), current_gid(), groups().unwrap());
        let seen = act_as(&nobody(), || {
            let refused = fs::write(root_only.join("x"), "").unwrap_err().kind();
            fs::write(open.join("made"), "").unwrap();
            (refused, current_uid(), current_gid(), groups().unwrap(), fs_capability_effective().unwrap())
        })
        .unwrap();
        assert_eq!(seen, (std::io::ErrorKind::PermissionDenied, NOBODY, NOBODY, vec![NOBODY], false));
        let made = fs::metadata(open.join("made")).unwrap();
        assert_eq!((made.uid(), made.gid(), made.mode() & 0o777), (NOBODY, NOBODY, 0o660), "owner and umask");
        assert_eq!((current_uid(), current_gid(), groups().unwrap()), before);
        assert!(fs_capability_effective().unwrap(), "root's capabilities are back");
        fs::write(root_only.join("x"), "").unwrap();
        // The real, effective and saved ids never changed.
        assert_eq!(nix::unistd::geteuid().as_raw(), 0);
    }

    #[test]
    fn the_file_system_capabilities_are_told_apart_from_the_others() {
        let bit = |cap: u32| 1u64 << cap;
        for cap in FS_CAPABILITIES {
            assert!(any_fs_capability(bit(cap)), "capability {cap}");
        }
        // CAP_KILL (5), CAP_SETGID (6), CAP_SETUID (7), CAP_SYS_ADMIN (21).
        assert!(!any_fs_capability(bit(5) | bit(6) | bit(7) | bit(21)));
        assert!(!any_fs_capability(0));
        let data = |low, high| {
            [CapData { effective: low, ..CapData::default() }, CapData { effective: high, ..CapData::default() }]
        };
        assert_eq!(effective_set(&data(0, 1)), bit(32), "CAP_MAC_OVERRIDE is in the second struct");
        assert_eq!(effective_set(&data(0b11, 0)), bit(0) | bit(1));
    }

    #[test]
    fn without_root_nothing_runs_and_the_error_says_which_step() {
        if !crate::testing::non_root_or_skip("it needs a caller without root") {
            return;
        }
        let ran = std::cell::Cell::new(false);
        let err = act_as(&nobody(), || ran.set(true)).unwrap_err();
        assert!(!ran.get());
        assert!(matches!(&err, ActError::Switch { uid: NOBODY, step, .. } if step.starts_with("setgroups: ")), "{err}");
        assert_eq!(current_uid(), nix::unistd::geteuid().as_raw(), "fs uid left changed");
    }
}
