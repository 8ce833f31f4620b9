//! Test-only crash points: in the unit tests, pod-init kills itself with
//! SIGKILL when `POD_INIT_FAILPOINT` names the step it reaches.
//!
//! The crash-safety test (`mirror::tests`) re-runs the test binary with this
//! variable to stop the /etc edit between any two of its system calls, then
//! checks that every file is still either the old or the new version. Outside
//! the tests [`hit`] compiles to nothing.

/// The variable naming the step to die at.
#[cfg(test)]
pub const VAR: &str = "POD_INIT_FAILPOINT";

/// Dies here if the test asked for `step`.
#[cfg(test)]
pub fn hit(step: &str) {
    if std::env::var(VAR).is_ok_and(|want| want == step) {
        tracing::warn!("failpoint {step}: killing myself");
        // SIGKILL: no destructor, no flush, no unlink runs, as with the OOM
        // killer or a node failure.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Outside the tests there are no crash points.
#[cfg(not(test))]
#[inline(always)]
pub fn hit(_step: &str) {}
