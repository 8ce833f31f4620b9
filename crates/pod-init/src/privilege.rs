//! How pod-init was started, and what that entitles it to.
//!
//! Pods run as the researcher's uid (`--run-as-uid`) with privilege
//! escalation allowed, and the image installs pod-init setuid root (mode
//! 4755), so PID 1 can still do the bootstrap's root work. The same file is
//! then a setuid-root binary any user in the container can run, and an
//! unguarded one would hand them root (fixuid's "dev only" warning, gosu's
//! refusal of the setuid bit). So the setuid bit is honoured exactly once
//! per container start:
//!
//! | started as | and | outcome |
//! |---|---|---|
//! | real uid 0 | – | [`Start::Root`]: bootstrap as usual |
//! | euid 0 from the setuid bit | PID 1, marker claimed for this container start | [`Start::SetuidInit`]: full root, bootstrap (without one, the command still runs as the real ids) |
//! | euid 0 from the setuid bit | anything else | [`Start::Dropped`]: real ids restored at once, command supervised without bootstrap |
//! | no root at all | – | [`Start::Unprivileged`]: command run without bootstrap |
//!
//! # Why once per container start
//!
//! "PID 1" alone does not prove a container start: whoever can create a PID
//! namespace is PID 1 in it. The run-once marker
//! ([`common::image::POD_INIT_MARKER`], root's, in root's /run) closes that:
//! the setuid start as PID 1 claims it by taking its lock, which it holds
//! until it exits ([`marker`]), and pod-init honours the setuid bit only
//! when the claim succeeds. It succeeds when there is no marker (a new
//! container) or when nobody holds its lock: a container whose writable
//! layer was kept (`docker restart`) starts after every process of its
//! previous start died, so its PID 1 claims again and bootstraps again,
//! which gives the job the same groups (sudo, adm) and environment
//! (ZDOTDIR, HISTFILE, ...) as on the first start; every step is
//! idempotent, so a restart changes nothing else. It fails while the PID 1
//! that claimed it runs.
//!
//! Why a user in the pod cannot reach a successful claim:
//!
//! - Run directly (or by `kubectl exec`), pod-init is not PID 1: the ids are
//!   dropped at once, before any claim.
//! - To be PID 1 they need a new PID namespace, and `unshare(CLONE_NEWPID)`
//!   needs CAP_SYS_ADMIN, which a process of a non-root uid does not have
//!   in the container's user namespace. Without root the only way to get it
//!   is a new user namespace (`unshare -Ur`), and there the setuid bit gives
//!   nothing: the kernel honours it only when the file's owner (root of the
//!   container) is mapped in the caller's user namespace, and a user can map
//!   only their own uid. pod-init then starts either without root at all
//!   ([`Start::Unprivileged`]) or as the namespace's own root, whose "root"
//!   is the user: it cannot write root's /etc or /run, so the bootstrap
//!   fails on the accounts and nothing changes.
//! - In the namespace of the container, PID 1 is the pod-init that claimed
//!   the marker, and it never executes anything itself (the command runs in
//!   a child), so no second PID 1 start can happen there; if one did, the
//!   marker, whose lock that PID 1 holds, would refuse it.
//!
//! Whoever can pass these (root, and so the researcher through `sudo`) can
//! edit /etc without pod-init. The marker is claimed before the bootstrap,
//! not after, so that no second claim can slip in while the first
//! bootstrap runs; a bootstrap that fails half-way is retried by the next
//! start of the container, never within the same one.

mod marker;
mod scrub;

use std::fmt;
use std::path::Path;

use nix::errno::Errno;

use crate::identity::{self, Identity, SwitchError, Syscall};

pub use scrub::{scrub_own_environ, wipe_parsed_environ};

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
    /// The marker is held: the bootstrap already ran in this container.
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
            Denial::AlreadyStarted => {
                write!(f, "the bootstrap already ran in this container (its PID 1 holds {marker})")
            }
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
    #[error("cannot drop the setuid root privileges: {0}")]
    Drop(SwitchError),
    #[error("cannot become root for the bootstrap: {0}")]
    Promote(SwitchError),
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
    let sys = identity::Linux;
    let read = |errno| PrivilegeError::ReadIds(Errno::from_raw(errno));
    let [ruid, euid, _] = sys.getresuid().map_err(read)?;
    let [rgid, ..] = sys.getresgid().map_err(read)?;
    let marker = Path::new(common::image::POD_INIT_MARKER);
    match origin(ruid, euid) {
        Origin::NoRoot => Ok(Start::Unprivileged { uid: ruid }),
        // Root needs no marker: it could do the bootstrap's work by hand.
        // (Nor does it leave one: pod-init run as root on a workstation
        // must not litter the host's /run.)
        Origin::Root => Ok(Start::Root),
        Origin::Setuid => {
            let claimed = match std::process::id() {
                1 => claim_for_this_container(marker),
                pid => Err(Denial::NotPid1 { pid }),
            };
            match claimed {
                Ok(()) => {
                    // Taken before become_root clears them.
                    let groups = nix::unistd::getgroups().map_err(PrivilegeError::ReadIds)?;
                    let groups = groups.into_iter().map(nix::unistd::Gid::as_raw).collect();
                    if let Some(errno) = identity::become_root(&sys).map_err(PrivilegeError::Promote)? {
                        let errno = Errno::from_raw(errno);
                        tracing::warn!("setgroups([]) for the bootstrap: {errno}; keeping the user's groups");
                    }
                    Ok(Start::SetuidInit { real: Identity { uid: ruid, gid: rgid, groups } })
                }
                Err(why) => {
                    identity::drop_setuid(&sys, ruid, rgid).map_err(PrivilegeError::Drop)?;
                    Ok(Start::Dropped { uid: ruid, why })
                }
            }
        }
    }
}

/// Makes PID 1 undumpable (`PR_SET_DUMPABLE` 0): its memory, environ and
/// maps (`/proc/1/mem`, `/proc/1/environ`, ...) and ptrace then need
/// CAP_SYS_PTRACE, which a pod's processes do not have, instead of only the
/// same uid. That matters when PID 1 runs as the user (no_new_privs, no
/// setuid bit): every process of the job has that uid.
///
/// Call it after this process's last change of ids: the kernel resets the
/// flag to `fs.suid_dumpable` whenever the effective ids change (the
/// promotion to root of a setuid start), and a setting made before would
/// be lost where that sysctl is 1. Children inherit it; the command's
/// `execve` gives the job its own, dumpable as usual.
pub fn keep_memory_private() -> Result<(), Errno> {
    nix::sys::prctl::set_dumpable(false)
}

/// The claim of this start, held until PID 1 exits.
static CLAIM: std::sync::OnceLock<marker::Held> = std::sync::OnceLock::new();

/// Claims the marker as PID 1 of this container (see the module doc).
fn claim_for_this_container(path: &Path) -> Result<(), Denial> {
    let (held, claimed) = match marker::claim(path, (0, 0)) {
        Ok(claim) => claim,
        Err(marker::Claim::Exists) => return Err(Denial::AlreadyStarted),
        Err(other) => return Err(Denial::MarkerUnusable(other.to_string())),
    };
    if CLAIM.set(held).is_err() {
        // classify runs once per process; a second claim is not this start's.
        return Err(Denial::AlreadyStarted);
    }
    if claimed == marker::Claimed::Again {
        tracing::info!(
            "{} is left from an earlier start of this container (its writable layer was kept), and no process \
             holds it: bootstrapping again",
            path.display()
        );
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
            "the bootstrap already ran in this container (its PID 1 holds /run/pod-init.started)"
        );
    }
}
