//! The hand-off from the bootstrap (root work, done in PID 1) to the
//! command (run by a child that dropped privileges).
//!
//! The bootstrap produces a [`Launch`]; the supervisor forks, and the child
//! calls [`Launch::exec`], which never returns. Everything the child needs is
//! computed before the fork (ids, supplementary groups, environment, argv as
//! C strings) so that the child only makes async-signal-safe system calls.

use std::ffi::CString;
use std::path::PathBuf;

/// The ids the command runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, resolved from /etc/group before the fork
    /// (static musl has no NSS, so `initgroups` is not an option).
    pub groups: Vec<u32>,
}

/// Everything needed to start the user's command.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The command and its arguments. Never empty.
    pub argv: Vec<CString>,
    /// The complete environment of the command, `KEY=VALUE`.
    pub env: Vec<CString>,
    /// The directory to run in; on failure the child warns and stays in `/`
    /// (or the current directory).
    pub cwd: Option<PathBuf>,
    /// `None`: run with the current ids (no bootstrap happened).
    pub identity: Option<Identity>,
}
