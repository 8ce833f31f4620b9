//! How a run of `submit` ended, for the exit code: shared by the
//! submission itself and by what follows it (the wait, the attach).

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// A child (runai, or the job itself when attached) ended with this
    /// code; we exit with it too.
    External(u8),
}
