//! PID 1's long life after the bootstrap: start the command in a child,
//! forward signals to it, reap every zombie, and exit with its status.
//!
//! On the cluster a job can be preempted at any time: the kubelet sends
//! SIGTERM to PID 1, waits the grace period, then kills. Researchers
//! checkpoint on SIGTERM, so it must reach their program, and PID 1 must
//! never kill on a timer of its own while the command runs. The shape
//! follows tini: block signals, fork; the child restores them and execs;
//! the parent loops on `sigtimedwait`, forwards, reaps.
//!
//! A request to stop (stop.rs) reaches every process of the job at once,
//! and from then on PID 1 waits for all of them with no timer: the
//! kubelet's SIGKILL is the deadline. When the command ends by itself, the
//! processes it left get SIGTERM, a short grace, then SIGKILL (the kernel
//! would SIGKILL them anyway when PID 1 exits, without warning).
//!
//! Exit code: the command's own, or 128 + the signal that killed it; 126 and
//! 127 come from the child when exec fails; [`EXIT_SUPERVISOR_FAILED`] when
//! the supervisor itself cannot work.

mod options;
mod reap;
mod scope;
mod signals;
mod stop;
mod tty;

use std::convert::Infallible;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::unistd::{ForkResult, fork};

use crate::attempts::CommandEnd;
use crate::launch::Launch;
pub use options::Options;
use reap::End;
use scope::Scope;
use stop::Delivery;

/// PID 1's exit code when the supervisor itself fails (the signal mask
/// cannot be set, fork fails, waiting fails). 125 is what container tools
/// (docker, podman, env, chroot) use for "the runner failed, not the
/// command", next to 126 (cannot execute) and 127 (not found); the small
/// codes 1 and 2 would be indistinguishable from the job's own.
pub const EXIT_SUPERVISOR_FAILED: u8 = 125;

/// How long PID 1 keeps reaping after the final SIGKILL. Bounded because a
/// process stuck in an uninterruptible NFS call never dies; PID 1 exiting
/// then leaves it to the kernel.
const REAP_AFTER_KILL: Duration = Duration::from_secs(1);

/// Why supervision failed; logged, then PID 1 exits with
/// [`EXIT_SUPERVISOR_FAILED`].
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("cannot block signals before starting the command: {0}")]
    Block(Errno),
    #[error("cannot fork the command: {0}")]
    Fork(Errno),
    #[error("cannot wait for signals: {0}")]
    Wait(Errno),
    #[error("cannot reap children: {0}")]
    Reap(Errno),
    #[error("the command (pid {0}) was reaped by someone else; its exit status is lost")]
    Lost(libc::pid_t),
}

/// Runs `launch` under supervision and returns PID 1's exit code. When the
/// command ends, before the processes it left are waited for, its end goes
/// into the attempt record of `launch`, if it has one.
///
/// The consumed secrets are already out of `launch`'s environment: every
/// `Launch` gets it from `env::command_env`.
pub fn run(launch: Launch, options: &Options) -> u8 {
    let mut ready = launch.ready();
    let attempt = ready.take_attempt();
    let on_end = move |end: End| {
        if let Some(attempt) = attempt {
            attempt.end(match end {
                End::Exited(code) => CommandEnd::Exited(code),
                End::Signaled(signo) => CommandEnd::Signaled(signo),
            });
        }
    };
    supervise(options, move || ready.exec(), on_end)
}

/// A signal's name for people (`SIGTERM`, `SIGRTMIN+3`).
pub fn signal_name(signo: i32) -> String {
    signals::name(signo)
}

/// Supervises whatever `exec` starts in the forked child, and calls
/// `on_end` once the command has ended. `exec` runs in the child between
/// fork and exec, so it must make async-signal-safe calls only, and never
/// return (`Infallible` stands in for `!`, which closures cannot name on
/// stable Rust).
pub fn supervise(options: &Options, exec: impl FnOnce() -> Infallible, on_end: impl FnOnce(End)) -> u8 {
    match supervise_inner(options, exec, on_end) {
        Ok(end) => end.exit_code(),
        Err(failure) => {
            tracing::error!("{failure}");
            EXIT_SUPERVISOR_FAILED
        }
    }
}

fn supervise_inner(
    options: &Options,
    exec: impl FnOnce() -> Infallible,
    on_end: impl FnOnce(End),
) -> Result<End, Failure> {
    let scope = Scope::establish();
    let saved = signals::block_for_supervision().map_err(Failure::Block)?;
    // SAFETY: pod-init is single-threaded (no thread is ever spawned), so
    // the child is a full copy;
    // the child runs only async-signal-safe code until exec.
    let child = match unsafe { fork() } {
        Err(e) => return Err(Failure::Fork(e)),
        Ok(ForkResult::Child) => start_child(&saved, exec),
        Ok(ForkResult::Parent { child }) => {
            // PID 1's copy of what the child needed, the descriptor of the
            // command's working directory among them: closed, so PID 1
            // keeps no directory of the scratch busy.
            drop(exec);
            child.as_raw()
        }
    };
    // The child makes itself a group leader (tty.rs); doing it here too,
    // as shells do, closes the window in which a signal forwarded to the
    // group (POD_INIT_SIGNAL_GROUP) would find no group yet. EACCES once
    // the child has exec'd and ESRCH once it is gone say it is done anyway.
    let _ = nix::unistd::setpgid(nix::unistd::Pid::from_raw(child), nix::unistd::Pid::from_raw(child));
    tracing::debug!(pid = child, ?scope, "command started");
    // After the fork, so the command keeps the directory it was given
    // (the container's WORKDIR when there is no bootstrap): PID 1 itself
    // leaves it, so it never pins a directory on NFS scratch.
    if let Err(e) = std::env::set_current_dir("/") {
        tracing::warn!("cannot leave the working directory for /: {e}");
    }
    let waited = signals::waited_set();
    let result = watch(child, options, scope, &waited);
    if let Ok(watched) = &result {
        on_end(watched.end);
    }
    // Whatever happened, the processes left behind are ended before PID 1
    // exits; if watching failed, that includes the command.
    let ended = match result {
        Ok(Watched { stop: Some(stop), .. }) => drain_after_stop(scope, child, stop, &waited),
        _ => end_leftovers(scope, options.kill_grace, &waited),
    };
    if let Err(errno) = ended {
        tracing::error!("{}", Failure::Reap(errno));
    }
    result.map(|watched| watched.end)
}

/// The child side of the fork: terminal, signal state, then the command.
fn start_child(saved: &signals::Saved, exec: impl FnOnce() -> Infallible) -> ! {
    if let Err((step, errno)) = tty::isolate_child() {
        child_fail(step, errno);
    }
    if let Err(errno) = saved.restore_in_child() {
        child_fail("restoring the signal mask", errno);
    }
    match exec() {}
}

/// Reports a failure in the child without allocating (launch.rs's
/// write(2) loop, async-signal-safe) and exits.
fn child_fail(what: &str, errno: Errno) -> ! {
    crate::launch::write_stderr(&[b"pod-init: ", what.as_bytes(), b": ", errno.desc().as_bytes(), b"\n"]);
    // SAFETY: _exit skips atexit handlers and stdio flushing, which belong
    // to the parent's copy of this process image.
    unsafe { libc::_exit(i32::from(EXIT_SUPERVISOR_FAILED)) }
}

/// How the command ended, and the stop it was sent, if any.
#[derive(Debug, Clone, Copy)]
struct Watched {
    end: End,
    stop: Option<Delivery>,
}

/// Forwards signals and reaps until the command ends.
fn watch(
    child: libc::pid_t,
    options: &Options,
    scope: Scope,
    waited: &nix::sys::signal::SigSet,
) -> Result<Watched, Failure> {
    let mut stop = None;
    loop {
        // No timeout needed: SIGCHLD is blocked and in the set, so a child
        // that ends at any moment leaves it pending and wakes this wait.
        if let Some(received) = signals::wait(waited, None).map_err(Failure::Wait)? {
            if received.signo != libc::SIGCHLD {
                let delivery = stop::delivery(received, child, options, scope);
                forward(delivery, received.sender, child);
                if delivery.stop {
                    stop = Some(delivery);
                }
            }
        }
        let sweep = reap::sweep(Some(child)).map_err(Failure::Reap)?;
        if let Some(end) = sweep.watched {
            tracing::info!("the command (pid {child}) ended: {}", describe(end));
            return Ok(Watched { end, stop });
        }
        if !sweep.children_left {
            return Err(Failure::Lost(child));
        }
    }
}

/// Sends one signal on to the command, or to its process group.
fn forward(delivery: Delivery, sender: i32, child: libc::pid_t) {
    let name = signals::name(delivery.signo);
    let target = delivery.target;
    let whom = if delivery.to_group() {
        format!("the command's process group {child}")
    } else {
        format!("the command (pid {child})")
    };
    // Window resizes come in bursts in interactive jobs; the rest is rare
    // and worth a line (a SIGTERM in the log explains a job's end).
    if delivery.signo == libc::SIGWINCH {
        tracing::debug!(from = sender, "forwarding {name} to {target}");
    } else if delivery.stop {
        tracing::info!(
            from = sender,
            "asked to stop: forwarding {name} to {whom}, then waiting for every process of the job with no timer \
             (the kubelet's SIGKILL is the deadline)"
        );
    } else {
        tracing::info!(from = sender, "forwarding {name} to {whom}");
    }
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(target, delivery.signo) } != 0 {
        // ESRCH: the command already ended and is about to be reaped.
        tracing::debug!("kill({target}, {name}): {}", Errno::last());
    }
}

fn describe(end: End) -> String {
    match end {
        End::Exited(code) => format!("exit code {code}"),
        End::Signaled(signo) => format!("killed by {}", signals::name(signo)),
    }
}

/// After the command: SIGTERM what is left, wait up to `grace` for it to
/// go, SIGKILL the rest, and reap. Returns as soon as nothing is left, so a
/// job that cleans up after itself costs no wait at all.
fn end_leftovers(scope: Scope, grace: Duration, waited: &nix::sys::signal::SigSet) -> Result<(), Errno> {
    if !reap::sweep(None)?.children_left {
        return Ok(());
    }
    tracing::info!("sending SIGTERM to the processes the command left behind; SIGKILL in {} ms", grace.as_millis());
    scope.signal_all(libc::SIGTERM);
    if reap_until_gone(Some(Instant::now() + grace), waited)? {
        return Ok(());
    }
    tracing::warn!("processes still running after {} ms; sending SIGKILL", grace.as_millis());
    scope.signal_all(libc::SIGKILL);
    if !reap_until_gone(Some(Instant::now() + REAP_AFTER_KILL), waited)? {
        tracing::warn!("some processes did not die after SIGKILL (stuck in the kernel?); leaving them");
    }
    Ok(())
}

/// After a stop, once the command has ended: the processes the stop did not
/// reach (outside the command's group, or all of them when it went to the
/// command alone) get SIGTERM now, and PID 1 waits for every one of them,
/// however long their checkpoint takes. The kubelet's SIGKILL, at the end
/// of the pod's grace period, is the only deadline.
fn drain_after_stop(
    scope: Scope,
    child: libc::pid_t,
    stop: Delivery,
    waited: &nix::sys::signal::SigSet,
) -> Result<(), Errno> {
    if !reap::sweep(None)?.children_left {
        return Ok(());
    }
    tracing::info!(
        "waiting for the job's other processes to finish stopping (no timer: the kubelet's SIGKILL ends it)"
    );
    if stop.to_group() {
        scope.signal_outside_group(child, libc::SIGTERM);
    } else {
        scope.signal_all(libc::SIGTERM);
    }
    reap_until_gone(None, waited).map(|_| ())
}

/// Reaps until no child is left (`true`) or `deadline` passes (`false`;
/// never without one). Signals other than SIGCHLD that arrive meanwhile are
/// dropped: the command they were meant for has already ended.
fn reap_until_gone(deadline: Option<Instant>, waited: &nix::sys::signal::SigSet) -> Result<bool, Errno> {
    loop {
        if !reap::sweep(None)?.children_left {
            return Ok(true);
        }
        let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return Ok(false);
        }
        if let Some(received) = signals::wait(waited, left)? {
            if received.signo != libc::SIGCHLD {
                tracing::debug!("ignoring {}: the command has already ended", signals::name(received.signo));
            }
        }
    }
}

#[cfg(test)]
mod tests;
