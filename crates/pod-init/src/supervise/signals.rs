//! The supervisor's signal plumbing: block before fork, restore in the child,
//! wait synchronously in PID 1.
//!
//! PID 1 of a PID namespace only receives the signals it has a handler for,
//! or that it blocks and waits for (pid_namespaces(7)): the kernel never
//! drops a blocked signal, so blocking everything and collecting it with
//! `sigtimedwait` is how tini and catatonit make sure a SIGTERM from the
//! kubelet is seen. Blocking happens before the fork so that no signal can
//! arrive in the gap between fork and the first wait and be lost or, worse,
//! run its default action (terminate) in PID 1.

use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal, sigaction, sigprocmask};
use nix::sys::time::TimeSpec;

/// Signals raised by the CPU for the faulting thread itself. Blocking them is
/// undefined (a blocked SIGSEGV kills the process anyway) and they are never
/// meant for the child, so they stay unblocked, as in tini.
const SYNCHRONOUS: [Signal; 7] =
    [Signal::SIGFPE, Signal::SIGILL, Signal::SIGSEGV, Signal::SIGBUS, Signal::SIGABRT, Signal::SIGTRAP, Signal::SIGSYS];

/// What PID 1 changed about signals, kept so the child can undo it before
/// it execs the command.
#[derive(Debug)]
pub struct Saved {
    /// The mask pod-init started with (what its own parent gave it).
    mask: SigSet,
    /// SIGTTIN's disposition before PID 1 ignored it.
    ttin: SigAction,
    /// SIGTTOU's disposition before PID 1 ignored it.
    ttou: SigAction,
    /// SIGCHLD's disposition before PID 1 reset it to the default.
    chld: SigAction,
}

/// The set PID 1 blocks and waits for: everything but the synchronous
/// signals. SIGKILL and SIGSTOP are in it only nominally (the kernel refuses
/// to block them).
pub fn waited_set() -> SigSet {
    let mut set = SigSet::all();
    for signal in SYNCHRONOUS {
        set.remove(signal);
    }
    set
}

/// Blocks [`waited_set`] and sets the dispositions supervision relies on.
/// Returns what is needed to restore the original state in the child.
pub fn block_for_supervision() -> Result<Saved, Errno> {
    let mut mask = SigSet::empty();
    // sigprocmask, not pthread_sigmask: PID 1 is single-threaded, and the
    // mask is inherited by the child across fork.
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&waited_set()), Some(&mut mask))?;
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing SIG_IGN/SIG_DFL runs no code of ours in signal
    // context, so there is no handler whose safety could be violated.
    let saved = unsafe {
        Saved {
            mask,
            // Ignored as in tini: if pod-init sits in a background process
            // group of a terminal (an interactive job), touching the
            // terminal must not stop PID 1.
            ttin: sigaction(Signal::SIGTTIN, &ignore)?,
            ttou: sigaction(Signal::SIGTTOU, &ignore)?,
            // A SIGCHLD ignored by whoever exec'd pod-init would be
            // inherited and make the kernel reap children itself: waitpid
            // would then never report the command's exit status.
            chld: sigaction(Signal::SIGCHLD, &default)?,
        }
    };
    Ok(saved)
}

impl Saved {
    /// Undoes [`block_for_supervision`] in the forked child, so the command
    /// starts with the signal state pod-init itself was given.
    ///
    /// Only sigaction and sigprocmask: async-signal-safe, as required
    /// between fork and exec.
    pub fn restore_in_child(&self) -> Result<(), Errno> {
        // SAFETY: the saved actions are plain dispositions or handlers
        // inherited from pod-init's own start (SIG_DFL/SIG_IGN, since exec
        // resets handlers), so re-installing them runs no Rust code.
        unsafe {
            sigaction(Signal::SIGTTIN, &self.ttin)?;
            sigaction(Signal::SIGTTOU, &self.ttou)?;
            sigaction(Signal::SIGCHLD, &self.chld)?;
            // Rust's runtime sets SIGPIPE to ignored before main; the
            // command expects the default (a shell pipeline into `head`
            // must end quietly), as std::process::Command also resets it.
            let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
            sigaction(Signal::SIGPIPE, &default)?;
        }
        // Unblock last: with the dispositions back in place, whatever is
        // pending now is handled as the command would expect.
        sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.mask), None)
    }
}

/// One signal taken off the pending set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// The signal number (real-time signals included, which [`Signal`]
    /// cannot represent).
    pub signo: i32,
    /// Who sent it; 0 when it came from outside the PID namespace (the
    /// kubelet) or from the kernel.
    pub sender: i32,
}

/// Waits for one signal of `set`, at most `timeout` (forever if `None`).
/// `Ok(None)` means the time ran out or a stray interruption woke us; the
/// caller re-checks its state either way.
pub fn wait(set: &SigSet, timeout: Option<Duration>) -> Result<Option<Received>, Errno> {
    let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    let timespec = timeout.map(TimeSpec::from_duration);
    let timespec_ptr = timespec.as_ref().map_or(std::ptr::null(), |t| AsRef::<libc::timespec>::as_ref(t) as *const _);
    // SAFETY: `set` is a valid sigset, `info` is writable storage for one
    // siginfo_t, and the timespec pointer is null or points to a live value.
    let signo = unsafe { libc::sigtimedwait(set.as_ref(), info.as_mut_ptr(), timespec_ptr) };
    if signo < 0 {
        return match Errno::last() {
            Errno::EAGAIN | Errno::EINTR => Ok(None),
            other => Err(other),
        };
    }
    // SAFETY: sigtimedwait returned a signal, so it filled `info`; si_pid is
    // meaningful for signals sent by kill/sigqueue and 0 otherwise.
    let sender = unsafe { info.assume_init_ref().si_pid() };
    Ok(Some(Received { signo, sender }))
}

/// A printable name: `SIGTERM`, `SIGRTMIN+3`, or the number.
pub fn name(signo: i32) -> String {
    match Signal::try_from(signo) {
        Ok(signal) => signal.as_str().to_owned(),
        Err(_) if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&signo) => {
            format!("SIGRTMIN+{}", signo - libc::SIGRTMIN())
        }
        Err(_) => format!("signal {signo}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waited_set_leaves_faults_to_the_faulting_thread() {
        let set = waited_set();
        for signal in SYNCHRONOUS {
            assert!(!set.contains(signal), "{signal} must stay unblocked");
        }
        for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGCHLD, Signal::SIGWINCH] {
            assert!(set.contains(signal), "{signal} must be waited for");
        }
    }

    #[test]
    fn names_cover_realtime_signals() {
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
        assert_eq!(name(libc::SIGRTMIN() + 3), "SIGRTMIN+3");
        assert_eq!(name(0), "signal 0");
    }
}
