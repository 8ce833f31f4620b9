//! What PID 1 does with a signal while the command runs: which signals ask
//! the job to stop, and who gets each one.
//!
//! The kubelet stops a pod by sending SIGTERM to PID 1, waiting the pod's
//! grace period, then SIGKILLing everything. A job started through
//! submit's `zsh -c` wrapper is a shell with the program as its child: a
//! SIGTERM to the shell alone kills the shell at once and leaves the
//! program unwarned. So a stop goes to the command's whole process group
//! (the shell has no job control, so every process it starts is in it),
//! and PID 1 then waits for the job with no timer of its own.

use super::options::{Options, Reach};
use super::scope::Scope;
use super::signals::Received;

/// One signal on its way to the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The signal sent.
    pub signo: i32,
    /// kill(2)'s pid: the command, or minus its process group.
    pub target: i32,
    /// Whether it asks the job to stop.
    pub stop: bool,
}

impl Delivery {
    /// Whether it goes to the command's process group.
    pub fn to_group(self) -> bool {
        self.target < 0
    }
}

/// Whether `received` asks the job to stop: SIGTERM from anyone, SIGINT or
/// SIGHUP from outside the job (`docker stop --signal`, a terminal's hang-up,
/// docker's proxy of a Ctrl-C). A SIGINT or SIGHUP that a process of the
/// job sends to PID 1 is passed on like any other signal.
fn is_stop(received: Received, scope: Scope) -> bool {
    match received.signo {
        libc::SIGTERM => true,
        libc::SIGINT | libc::SIGHUP => scope.is_outside(received.sender),
        _ => false,
    }
}

/// Where `received` goes, for the command `child` (which leads its own
/// process group).
pub fn delivery(received: Received, child: libc::pid_t, options: &Options, scope: Scope) -> Delivery {
    let stop = is_stop(received, scope);
    let group = match options.reach {
        Reach::Group => true,
        Reach::StopsToGroup => stop,
        Reach::Command => false,
    };
    // A SIGTERM becomes the job's own stop signal (NB_STOP_SIGNAL).
    let signo = if received.signo == libc::SIGTERM { options.stop_signal } else { received.signo };
    Delivery { signo, target: if group { -child } else { child }, stop }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(reach: Reach) -> Options {
        Options { reach, ..Options::default() }
    }

    fn from(signo: i32, sender: i32) -> Received {
        Received { signo, sender }
    }

    #[test]
    fn a_stop_goes_to_the_group_and_other_signals_to_the_command() {
        let default = options(Reach::StopsToGroup);
        let sigterm = delivery(from(libc::SIGTERM, 0), 40, &default, Scope::Namespace);
        assert_eq!(sigterm, Delivery { signo: libc::SIGTERM, target: -40, stop: true });
        let usr1 = delivery(from(libc::SIGUSR1, 0), 40, &default, Scope::Namespace);
        assert_eq!(usr1, Delivery { signo: libc::SIGUSR1, target: 40, stop: false });
    }

    #[test]
    fn sigint_and_sighup_stop_only_from_outside_the_job() {
        let default = options(Reach::StopsToGroup);
        for signo in [libc::SIGINT, libc::SIGHUP] {
            assert!(delivery(from(signo, 0), 40, &default, Scope::Namespace).stop);
            // Inside the PID namespace, a sender is a process of the job.
            assert_eq!(
                delivery(from(signo, 41), 40, &default, Scope::Namespace),
                Delivery { signo, target: 40, stop: false }
            );
        }
        assert!(delivery(from(libc::SIGTERM, 41), 40, &default, Scope::Namespace).stop);
    }

    #[test]
    fn sigterm_becomes_the_jobs_stop_signal_and_nothing_else_does() {
        let usr1 = Options { stop_signal: libc::SIGUSR1, ..Options::default() };
        let sigterm = delivery(from(libc::SIGTERM, 0), 40, &usr1, Scope::Namespace);
        assert_eq!(sigterm, Delivery { signo: libc::SIGUSR1, target: -40, stop: true });
        let sigint = delivery(from(libc::SIGINT, 0), 40, &usr1, Scope::Namespace);
        assert_eq!(sigint, Delivery { signo: libc::SIGINT, target: -40, stop: true });
        assert_eq!(delivery(from(libc::SIGUSR2, 0), 40, &usr1, Scope::Namespace).signo, libc::SIGUSR2);
    }

    #[test]
    fn the_option_sends_everything_to_the_group_or_to_the_command() {
        let group = options(Reach::Group);
        assert_eq!(delivery(from(libc::SIGUSR1, 0), 40, &group, Scope::Namespace).target, -40);
        let command = options(Reach::Command);
        let sigterm = delivery(from(libc::SIGTERM, 0), 40, &command, Scope::Namespace);
        assert_eq!(sigterm, Delivery { signo: libc::SIGTERM, target: 40, stop: true });
    }
}
