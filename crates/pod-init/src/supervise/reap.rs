//! Reaping: collect every child that has ended, the command and the orphans
//! reparented to PID 1 (or to the subreaper) alike.
//!
//! SIGCHLD is a standard signal: several children ending close together
//! raise it once. So one SIGCHLD means "at least one child ended" and the
//! sweep loops `waitpid(-1, WNOHANG)` until nothing more is ready, as tini
//! does. A child that is never waited for stays a zombie and holds its PID.

use nix::errno::Errno;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It called exit with this code (0..=255).
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

impl End {
    /// Decodes a raw wait status; `None` for stop/continue reports, which
    /// PID 1 never asks for.
    pub fn from_wait_status(status: libc::c_int) -> Option<End> {
        if libc::WIFEXITED(status) {
            Some(End::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(End::Signaled(libc::WTERMSIG(status)))
        } else {
            None
        }
    }

    /// The exit code a shell would report, and that PID 1 exits with: the
    /// code itself, or 128 + the signal number (SIGKILL gives 137).
    pub fn exit_code(self) -> u8 {
        let code = match self {
            End::Exited(code) => code,
            End::Signaled(signo) => 128 + signo,
        };
        // Codes are 0..=255 and signal numbers below 128, so this never
        // saturates in practice; saturating keeps it panic-free regardless.
        u8::try_from(code).unwrap_or(u8::MAX)
    }
}

/// The result of one sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// How the watched child ended, if it was among the reaped.
    pub watched: Option<End>,
    /// Whether any child is still alive. `false` means waitpid said ECHILD:
    /// PID 1 (or the subreaper) has no child and therefore no descendant
    /// left, since every live descendant has a live ancestor chain that ends
    /// in one of its children.
    pub children_left: bool,
}

/// Reaps every child that has ended, without blocking, and reports whether
/// `watched` (the command, if still of interest) was among them.
pub fn sweep(watched: Option<libc::pid_t>) -> Result<Sweep, Errno> {
    let mut result = Sweep { watched: None, children_left: true };
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes one int through a valid pointer. The raw
        // call (not nix's) keeps the status of a child killed by a
        // real-time signal, which nix cannot represent as a `Signal`.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        match pid {
            0 => return Ok(result),
            -1 => match Errno::last() {
                Errno::ECHILD => {
                    result.children_left = false;
                    return Ok(result);
                }
                Errno::EINTR => continue,
                other => return Err(other),
            },
            pid => {
                let end = End::from_wait_status(status);
                if Some(pid) == watched {
                    result.watched = end;
                } else {
                    tracing::debug!(pid, ?end, "reaped an orphan");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(End::Exited(0).exit_code(), 0);
        assert_eq!(End::Exited(42).exit_code(), 42);
        assert_eq!(End::Signaled(libc::SIGKILL).exit_code(), 137);
        assert_eq!(End::Signaled(libc::SIGTERM).exit_code(), 143);
    }

    #[test]
    fn raw_statuses_decode() {
        // Layout of a Linux wait status: exit code in bits 8..16, the
        // terminating signal in bits 0..7, 0x80 for a core dump.
        assert_eq!(End::from_wait_status(42 << 8), Some(End::Exited(42)));
        assert_eq!(End::from_wait_status(libc::SIGKILL), Some(End::Signaled(libc::SIGKILL)));
        assert_eq!(End::from_wait_status(libc::SIGSEGV | 0x80), Some(End::Signaled(libc::SIGSEGV)));
        // Stopped by SIGSTOP: 0x7f in the low byte.
        assert_eq!(End::from_wait_status((libc::SIGSTOP << 8) | 0x7f), None);
    }
}
