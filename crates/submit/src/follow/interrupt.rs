//! Ctrl-C while `submit` follows a job: it stops the following, never the
//! job. The handler only records that the signal came; the waiting loop
//! looks at the record between two events and tells the user how to come
//! back to the job. The kubectl processes it follows with run in their own
//! process group, so the terminal's SIGINT does not reach them.

use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn record(_signal: libc::c_int) {
    // An atomic store is async-signal-safe; nothing else happens here.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on, SIGINT is recorded instead of ending `submit`.
pub fn catch() -> std::io::Result<()> {
    // SA_RESTART: a read or wait that the signal interrupts is resumed, so
    // that only the waiting loop reacts to it.
    let action = SigAction::new(SigHandler::Handler(record), SaFlags::SA_RESTART, SigSet::empty());
    // SAFETY: `record` only stores into an atomic, which is async-signal-safe;
    // the previous handler (the default) is not needed back.
    unsafe { sigaction(Signal::SIGINT, &action) }.map(|_| ()).map_err(std::io::Error::from)
}

/// Whether SIGINT came since [`catch`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Sleeps for `wait`, looking for SIGINT every 50 ms: `true` if it came.
pub fn sleep(wait: std::time::Duration) -> bool {
    let until = std::time::Instant::now() + wait;
    while std::time::Instant::now() < until {
        if interrupted() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    interrupted()
}
