//! Test-only crash points: with the `failpoints` feature, pod-init kills
//! itself with SIGKILL when `POD_INIT_FAILPOINT` names the step it reaches.
//!
//! The crash-safety tests use this to stop the /etc edit between any two of
//! its system calls and then check that every file is still either the old
//! or the new version. Unit tests always have them; a release build without
//! the feature compiles [`hit`] to nothing.

/// The variable naming the step to die at.
#[cfg(any(test, feature = "failpoints"))]
pub const VAR: &str = "POD_INIT_FAILPOINT";

/// Dies here if the test asked for `step`.
#[cfg(any(test, feature = "failpoints"))]
pub fn hit(step: &str) {
    if std::env::var(VAR).is_ok_and(|want| want == step) {
        tracing::warn!("failpoint {step}: killing myself");
        // SIGKILL: no destructor, no flush, no unlink runs, as with the OOM
        // killer or a node failure.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Without the `failpoints` feature there are no crash points.
#[cfg(not(any(test, feature = "failpoints")))]
#[inline(always)]
pub fn hit(_step: &str) {}
