//! pod-init: the container's ENTRYPOINT and PID 1.
//!
//! Sequence: read the `NB_*` contract, do the root work (accounts, sudo,
//! scratch as the seed user, shell state and SSH as the user), then hand a
//! [`launch::Launch`] to the supervisor, which forks a child that drops
//! privileges and execs the command while PID 1 stays to forward signals
//! and reap zombies.

mod accounts;
mod bootstrap;
mod config;
mod env;
mod etcfile;
mod failpoint;
mod home;
mod launch;
mod logging;
mod mirror;
mod password;
mod scratch;
mod ssh;
mod sudoers;
mod sys;
mod userstate;

use std::process::ExitCode;
use std::time::Instant;

use nix::errno::Errno;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

fn main() -> ExitCode {
    let started = Instant::now();
    let input = bootstrap::Env::from_process();
    if let Some(warning) = logging::init(input.lookup(common::env::EnvVars::POD_INIT_LOG).as_deref()) {
        tracing::warn!("{warning}");
    }
    // The supervisor's setuid-start check (privilege::classify) decides here
    // whether the bootstrap may run at all.
    let launch = match bootstrap::run(&input) {
        Ok(launch) => launch,
        Err(e) => {
            eprintln!("pod-init: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    tracing::info!("bootstrap done in {:.1?}", started.elapsed());
    run_to_exit(&launch)
}

/// Runs the command in a child and waits for it, reaping any other child on
/// the way; the command's code, or 128 + the signal that killed it. (The
/// supervisor replaces this with signal forwarding and orphan cleanup.)
fn run_to_exit(launch: &launch::Launch) -> ExitCode {
    // SAFETY: single-threaded here; the child only runs Launch::exec, which
    // is async-signal-safe.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => launch.exec(),
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("pod-init: cannot fork the command: {e}");
            return ExitCode::from(2);
        }
    };
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => return ExitCode::from(code as u8),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => return ExitCode::from(128 + sig as u8),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                eprintln!("pod-init: waiting for the command: {e}");
                return ExitCode::from(2);
            }
        }
    }
}
