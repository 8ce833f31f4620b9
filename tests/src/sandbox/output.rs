//! [`Output`]: what a container did, with the asserts tests make on it.

/// What a container did.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code of PID 1; 128+N if it was killed by signal N.
    pub status: i32,
    /// Its stdout (lossy UTF-8).
    pub stdout: String,
    /// Its stderr. (A failure of the harness itself is an [`Error`](super::Error) of the
    /// run, never an `Output`.)
    pub stderr: String,
}

impl Output {
    /// Assert exit code 0, showing both streams otherwise.
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_status(0)
    }

    /// Assert a given exit code, showing both streams otherwise.
    #[track_caller]
    pub fn assert_status(&self, code: i32) -> &Self {
        assert!(
            self.status == code,
            "container exited {} (expected {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Assert that stderr (pod-init's log) contains `text`, showing it
    /// otherwise.
    #[track_caller]
    pub fn assert_logged(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "log lacks {text:?}:\n{}", self.stderr);
        self
    }
}
