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

use crate::identity::{self, Identity, SwitchError, Syscall};

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
                    let groups = groups.into_iter().map(nix::unistd::Gid::as_raw).collect();
                    if let Some(errno) = identity::become_root(&sys).map_err(PrivilegeError::Promote)? {
                        let errno = Errno::from_raw(errno);
                        tracing::warn!("setgroups([]) for the bootstrap: {errno}; keeping the user's groups");
                    }
                    Ok(Start::SetuidInit { real: Identity { uid: ruid, gid: rgid, groups } })
                }
                Some(why) => {
                    identity::drop_setuid(&sys, ruid, rgid).map_err(PrivilegeError::Drop)?;
                    Ok(Start::Dropped { uid: ruid, why })
                }
            }
        }
    }
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
}
