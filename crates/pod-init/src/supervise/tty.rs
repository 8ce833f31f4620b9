//! Terminal hand-over for interactive jobs, done in the child as tini does.
//!
//! The command gets a process group of its own, and when stdin is a
//! terminal that group becomes the terminal's foreground group: Ctrl-C, a
//! window resize and job control then reach the command directly, and a
//! shell started as the command can read the terminal without SIGTTIN.
//! Doing this in the child (not in PID 1 after the fork) means the command
//! owns the terminal before it runs a single instruction of its own.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::unistd::{Pid, getpgrp, isatty, setpgid, tcsetpgrp};

/// Puts the calling (child) process into a new process group and, when
/// stdin is a terminal, makes that group the foreground one. An error
/// names the failed call, for the child's one-line message.
///
/// Async-signal-safe (setpgid, isatty, tcsetpgrp only). Must run while
/// SIGTTOU is still blocked and ignored: tcsetpgrp from a background group
/// raises SIGTTOU, which would otherwise stop the child.
pub fn isolate_child() -> Result<(), (&'static str, Errno)> {
    // A group of its own: group signalling (POD_INIT_SIGNAL_GROUP) and the
    // terminal's foreground group both need the command to lead one.
    setpgid(Pid::from_raw(0), Pid::from_raw(0)).map_err(|e| ("setpgid", e))?;
    // SAFETY: fd 0 stays open for the duration of this call; it is only
    // borrowed to query and configure the terminal, never closed.
    let stdin = unsafe { BorrowedFd::borrow_raw(libc::STDIN_FILENO) };
    if !isatty(stdin).unwrap_or(false) {
        return Ok(());
    }
    match tcsetpgrp(stdin, getpgrp()) {
        // ENOTTY: a terminal that is not our controlling one (e.g. a pty
        // passed in without a session); ENXIO: no controlling terminal at
        // all. Both leave nothing to hand over, as in tini.
        Ok(()) | Err(Errno::ENOTTY) | Err(Errno::ENXIO) => Ok(()),
        Err(e) => Err(("tcsetpgrp", e)),
    }
}
