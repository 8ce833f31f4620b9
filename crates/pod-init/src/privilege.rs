//! How pod-init was started, and what that entitles it to.
//!
//! Pods run as the researcher's uid (`--run-as-uid`) with privilege
//! escalation allowed, and the image installs pod-init setuid root (mode
//! 4755), so PID 1 can still do the bootstrap's root work. The same file is
//! then a setuid-root binary any user in the container can run, and an
//! unguarded one would hand them root (fixuid's "dev only" warning, gosu's
//! refusal of the setuid bit). So the setuid bit is honoured exactly once:
//!
//! | started as | and | outcome |
//! |---|---|---|
//! | real uid 0 | – | [`Start::Root`]: bootstrap as usual |
//! | euid 0 from the setuid bit | PID 1, marker claimed | [`Start::SetuidInit`]: full root, bootstrap (without one, the command still runs as the real ids) |
//! | euid 0 from the setuid bit | anything else | [`Start::Dropped`]: real ids restored at once, command supervised without bootstrap |
//! | no root at all | – | [`Start::Unprivileged`]: command run without bootstrap |
//!
//! "PID 1" alone is not proof of a container start: a user who can create
//! a PID namespace is PID 1 in it. The run-once marker
//! ([`common::image::POD_INIT_MARKER`], created `O_EXCL` by root in root's
//! /run) closes that: the first setuid start claims it, every later one
//! finds it. The marker is claimed before the bootstrap, not after, so that
//! no second claim can slip in while the first bootstrap runs; a bootstrap
//! that fails half-way is retried by a new container, never by the same one.

mod marker;
mod scrub;

use std::fmt;
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::{Gid, Uid, getresgid, getresuid, setresgid, setresuid};

use crate::launch::Identity;

pub use scrub::scrub_own_environ;

/// How this start is to be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Real uid 0 (runAsUser 0, or a plain `docker run`).
    Root,
    /// setuid root as the container's PID 1, marker claimed: now root in
    /// all three uids and gids, as if started by root. `real` is who
    /// started it: when the bootstrap is skipped (variables missing), the
    /// command runs as them, never as root.
    SetuidInit { real: Identity },
    /// setuid root anywhere else: already back to the real ids, with no way
    /// back to root. The command runs (supervised) as the user, without the
    /// bootstrap; PID 1 exits with its code as usual.
    Dropped { uid: u32, why: Denial },
    /// No root at all: no setuid bit, a `nosuid` mount, or no_new_privs
    /// (`allowPrivilegeEscalation: false`). The bootstrap cannot run.
    Unprivileged { uid: u32 },
}

/// Why a setuid start was not allowed to bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// Not the first process of the container.
    NotPid1 { pid: u32 },
    /// The marker exists: the bootstrap already ran in this container.
    AlreadyStarted,
    /// The marker cannot be created or trusted.
    MarkerUnusable(String),
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let marker = common::image::POD_INIT_MARKER;
        match self {
            Denial::NotPid1 { pid } => {
                write!(f, "not the container's first process (pid {pid}, not 1)")
            }
            Denial::AlreadyStarted => write!(f, "the bootstrap already ran in this container ({marker} exists)"),
            Denial::MarkerUnusable(why) => {
                write!(f, "cannot claim the run-once marker {marker}: {why}")
            }
        }
    }
}

/// A failure to change ids. pod-init stops: running on with ids it did not
/// choose is never an option.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("cannot read this process's ids: {0}")]
    ReadIds(Errno),
    #[error("cannot drop the setuid root privileges: {step}: {errno}")]
    Drop { step: &'static str, errno: Errno },
    #[error("root could be regained after dropping to uid {0}; refusing to run anything")]
    Regainable(u32),
    #[error("cannot become root for the bootstrap: {step}: {errno}")]
    Promote { step: &'static str, errno: Errno },
}

/// Where the privileges come from, by the real and effective uid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Root,
    Setuid,
    NoRoot,
}

fn origin(real: u32, effective: u32) -> Origin {
    match (real, effective) {
        (0, 0) => Origin::Root,
        (_, 0) => Origin::Setuid,
        // Covers real 0 with another effective uid too: whatever happened,
        // this process cannot act as root now.
        _ => Origin::NoRoot,
    }
}

/// Classifies this start and adjusts the ids accordingly (promotes a
/// container start to full root, drops any other setuid start at once).
pub fn classify() -> Result<Start, PrivilegeError> {
    let uids = getresuid().map_err(PrivilegeError::ReadIds)?;
    let gids = getresgid().map_err(PrivilegeError::ReadIds)?;
    let (ruid, rgid) = (uids.real.as_raw(), gids.real.as_raw());
    let marker = Path::new(common::image::POD_INIT_MARKER);
    match origin(ruid, uids.effective.as_raw()) {
        Origin::NoRoot => Ok(Start::Unprivileged { uid: ruid }),
        // Root needs no marker: it could do the bootstrap's work by hand.
        // (Nor does it leave one: pod-init run as root on a workstation
        // must not litter the host's /run.)
        Origin::Root => Ok(Start::Root),
        Origin::Setuid => {
            let denial = match std::process::id() {
                1 => match marker::claim(marker, (0, 0)) {
                    Ok(()) => None,
                    Err(marker::Claim::Exists) => Some(Denial::AlreadyStarted),
                    Err(other) => Some(Denial::MarkerUnusable(other.to_string())),
                },
                pid => Some(Denial::NotPid1 { pid }),
            };
            match denial {
                None => {
                    // Taken before become_root clears them.
                    let groups = nix::unistd::getgroups().map_err(PrivilegeError::ReadIds)?;
                    let groups = groups.into_iter().map(Gid::as_raw).collect();
                    become_root()?;
                    Ok(Start::SetuidInit { real: Identity { uid: ruid, gid: rgid, groups } })
                }
                Some(why) => {
                    drop_to_real_ids(ruid, rgid)?;
                    Ok(Start::Dropped { uid: ruid, why })
                }
            }
        }
    }
}

/// Makes a setuid container start indistinguishable from a root start:
/// real, effective and saved ids all 0, no supplementary groups of the
/// user. The bootstrap and the tools it may run then see plain root.
fn become_root() -> Result<(), PrivilegeError> {
    // setgroups first, while the effective uid 0 still carries
    // CAP_SETGID; groups before gid before uid, as in every privilege
    // change here. EPERM happens only in a user namespace with setgroups
    // denied, where the user's groups are all we can have: go on.
    if let Err(errno) = nix::unistd::setgroups(&[]) {
        tracing::warn!("setgroups([]) for the bootstrap: {errno}; keeping the user's groups");
    }
    set_all_ids(0, 0).map_err(|(step, errno)| PrivilegeError::Promote { step, errno })
}

/// Gives up the setuid root privileges for good: all three gids, then all
/// three uids, set to the real ones, then proof that root cannot come back.
/// Supplementary groups stay as they are: a setuid exec never changes them,
/// so they are already the user's own.
pub fn drop_to_real_ids(uid: u32, gid: u32) -> Result<(), PrivilegeError> {
    set_all_ids(uid, gid).map_err(|(step, errno)| PrivilegeError::Drop { step, errno })?;
    verify_dropped(uid, gid)
}

/// Real, effective and saved gid, then the same for the uid. gid first:
/// after setresuid to a non-root uid the gids could no longer be changed.
/// All three of each: a saved uid of 0 would let the process switch back
/// (fixuid's seteuid-only drop kept exactly that until exec).
fn set_all_ids(uid: u32, gid: u32) -> Result<(), (&'static str, Errno)> {
    let (u, g) = (Uid::from_raw(uid), Gid::from_raw(gid));
    setresgid(g, g, g).map_err(|errno| ("setresgid", errno))?;
    setresuid(u, u, u).map_err(|errno| ("setresuid", errno))
}

/// Checks the drop as an attacker would test it: every id is the user's,
/// and asking for root back fails.
fn verify_dropped(uid: u32, gid: u32) -> Result<(), PrivilegeError> {
    let uids = getresuid().map_err(PrivilegeError::ReadIds)?;
    let gids = getresgid().map_err(PrivilegeError::ReadIds)?;
    let all_uid = [uids.real, uids.effective, uids.saved].iter().all(|u| u.as_raw() == uid);
    let all_gid = [gids.real, gids.effective, gids.saved].iter().all(|g| g.as_raw() == gid);
    if !all_uid || !all_gid {
        return Err(PrivilegeError::Regainable(uid));
    }
    if uid != 0 {
        let root = Uid::from_raw(0);
        // Expected to fail with EPERM; success means we are root again.
        if setresuid(root, root, root).is_ok() {
            return Err(PrivilegeError::Regainable(uid));
        }
        let root_gid = Gid::from_raw(0);
        if gid != 0 && setresgid(root_gid, root_gid, root_gid).is_ok() {
            return Err(PrivilegeError::Regainable(uid));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_decided_by_real_and_effective_uid() {
        assert_eq!(origin(0, 0), Origin::Root);
        assert_eq!(origin(1000, 0), Origin::Setuid);
        assert_eq!(origin(1000, 1000), Origin::NoRoot);
        assert_eq!(origin(0, 1000), Origin::NoRoot);
    }

    #[test]
    fn denials_say_why() {
        assert_eq!(Denial::NotPid1 { pid: 57 }.to_string(), "not the container's first process (pid 57, not 1)");
        assert_eq!(
            Denial::AlreadyStarted.to_string(),
            "the bootstrap already ran in this container (/run/pod-init.started exists)"
        );
    }

    /// A setuid start, reproduced by root: real uid 4242, effective and
    /// saved 0. In a forked child, because ids are per process.
    #[test]
    fn a_dropped_setuid_start_cannot_regain_root() {
        if !crate::testing::root_or_skip("it plays a setuid-root start") {
            return;
        }
        // SAFETY: the child only makes system calls and exits with _exit.
        match unsafe { nix::unistd::fork() } {
            Err(e) => panic!("fork: {e}"),
            Ok(nix::unistd::ForkResult::Child) => {
                let code = (|| {
                    setresgid(Gid::from_raw(4343), Gid::from_raw(0), Gid::from_raw(0)).ok()?;
                    setresuid(Uid::from_raw(4242), Uid::from_raw(0), Uid::from_raw(0)).ok()?;
                    drop_to_real_ids(4242, 4343).ok()?;
                    let uids = getresuid().ok()?;
                    let gids = getresgid().ok()?;
                    let dropped = [uids.real, uids.effective, uids.saved].iter().all(|u| u.as_raw() == 4242)
                        && [gids.real, gids.effective, gids.saved].iter().all(|g| g.as_raw() == 4343);
                    let root = Uid::from_raw(0);
                    let stuck = setresuid(root, root, root) == Err(Errno::EPERM);
                    Some(if dropped && stuck { 0 } else { 3 })
                })()
                .unwrap_or(2);
                // SAFETY: leave without running the test harness's code.
                unsafe { libc::_exit(code) }
            }
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                let status = nix::sys::wait::waitpid(child, None);
                assert_eq!(
                    status,
                    Ok(nix::sys::wait::WaitStatus::Exited(child, 0)),
                    "2: a step failed, 3: root came back"
                );
            }
        }
    }
}
