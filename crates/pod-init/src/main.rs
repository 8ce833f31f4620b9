//! pod-init: the container's ENTRYPOINT and PID 1.
//!
//! Sequence: read the `NB_*` contract, do the root work (accounts, sudo,
//! scratch as the seed user, shell state and SSH as the user), then hand a
//! [`launch::Launch`] to the supervisor, which forks a child that drops
//! privileges and execs the command while PID 1 stays to forward signals
//! and reap zombies.

mod accounts;
mod allocator;
mod attempts;
mod bootstrap;
mod cli;
mod config;
mod dirwalk;
mod env;
mod etcfile;
mod failpoint;
mod fsid;
mod identity;
mod launch;
mod logging;
mod private;
mod privilege;
mod supervise;
mod sys;
#[cfg(test)]
mod testing;

use std::process::ExitCode;
use std::time::Instant;

use privilege::Start;

/// See allocator.rs. Not in the unit tests: their harness runs threads,
/// and a test's forked child that allocates would wait for ever on a lock
/// another thread held at the fork (the system allocator has fork handlers).
#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator::new();

/// `pod-init: <error>` on stderr. Not `eprintln!`, which panics when stderr
/// fails (EPIPE, EIO): PID 1 must not abort over a lost log line.
fn report(error: &dyn std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "pod-init: {error}");
}

/// Why a start got no root, as precisely as the kernel tells: no_new_privs
/// is the pod spec's doing, the others the image's or the node's.
fn no_root_why() -> &'static str {
    // PR_GET_NO_NEW_PRIVS: whether exec ignored the setuid bit on purpose.
    match nix::sys::prctl::get_no_new_privs() {
        Ok(true) => {
            "no_new_privs is set, from allowPrivilegeEscalation: false in the pod's securityContext, so the kernel \
             ignored pod-init's setuid bit"
        }
        _ => "pod-init is not setuid root, or is on a nosuid mount",
    }
}

fn main() -> ExitCode {
    // Before anything else: `--help` and `--version` touch nothing.
    let argv = match cli::parse(std::env::args_os().skip(1).collect()) {
        cli::Invocation::Answer(asked) => return cli::answer(asked),
        cli::Invocation::Run(argv) => argv,
    };
    let started = Instant::now();
    let mut input = bootstrap::Env { argv, ..bootstrap::Env::from_process() };
    if let Some(warning) = logging::init(input.lookup(common::env::EnvVars::POD_INIT_LOG).as_deref()) {
        tracing::warn!("{warning}");
    }
    // Validated before anything changes, like the bootstrap's variables.
    let options = match supervise::Options::from_lookup(|k| input.lookup(k)) {
        Ok(options) => options,
        Err(e) => {
            report(&e);
            return ExitCode::from(1);
        }
    };
    // Whether the bootstrap may run at all: a setuid start grants root once,
    // at container start, and nowhere else (see privilege.rs).
    let start = match privilege::classify() {
        Ok(start) => start,
        Err(e) => {
            report(&e);
            return ExitCode::from(supervise::EXIT_SUPERVISOR_FAILED);
        }
    };
    // Now, not earlier: classify made PID 1's last change of ids, and each
    // change resets the flag (see privilege::keep_memory_private).
    if let Err(e) = privilege::keep_memory_private() {
        tracing::warn!("cannot make PID 1 undumpable, a process of its uid can read its memory: {e}");
    }
    let launch = match &start {
        Start::Root => bootstrap::run(&input),
        // Without the variables the bootstrap returns the command unchanged,
        // identity included; a setuid start must not turn that into root.
        Start::SetuidInit { real } => bootstrap::run(&input).map(|mut launch| {
            launch.identity.get_or_insert_with(|| real.clone());
            launch
        }),
        Start::Dropped { uid, why } => {
            tracing::warn!("{why}: setuid root not honoured; running the command as uid {uid}, without the bootstrap");
            bootstrap::unchanged(&input)
        }
        Start::Unprivileged { uid } => {
            tracing::warn!(
                "not started as root (uid {uid}; {}): running the command without the bootstrap",
                no_root_why()
            );
            bootstrap::unchanged(&input)
        }
    };
    let launch = match launch {
        Ok(launch) => launch,
        Err(e) => {
            report(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    if matches!(start, Start::Root | Start::SetuidInit { .. }) {
        tracing::info!("bootstrap done in {:.1?}", started.elapsed());
    }
    // The bootstrap has read the private key; PID 1 lives as long as the
    // job, so neither its parsed copy of the environment nor its own
    // /proc/1/environ may keep it.
    // Only the consumed variables the pod actually set: with none (no key
    // given), /proc/self/stat is not even read. Asked by name, not value: a
    // lookup would copy the key once more.
    let consumed: Vec<&str> = common::env::CONSUMED_BY_POD_INIT
        .into_iter()
        .filter(|name| input.vars.iter().any(|(set, _)| set == *name))
        .collect();
    privilege::wipe_parsed_environ(&mut input.vars);
    match privilege::scrub_own_environ(&consumed) {
        Ok(0) => {}
        Ok(n) => tracing::debug!("erased {n} consumed variable(s) from PID 1's environment"),
        Err(e) => tracing::warn!("cannot erase the consumed variables from PID 1's environment: {e}"),
    }
    // PID 1 supervises for days: the free memory the bootstrap leaves at
    // the top of the heap goes back now.
    allocator::trim();
    ExitCode::from(supervise::run(launch, &options))
}
