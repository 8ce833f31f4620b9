//! The sandbox's error type: a message for the person running the tests.

use std::fmt;
use std::io;
use std::path::Path;

/// A sandbox failure: the message says what went wrong and how to fix it.
///
/// `Debug` prints the message itself, so a test returning `Result<(), Error>`
/// fails with readable text.
pub struct Error(pub(super) String);

impl Error {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self(format!("sandbox: {e}"))
    }
}

/// Sandbox result.
pub type Result<T> = std::result::Result<T, Error>;

pub(super) fn io_err(what: impl fmt::Display, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let ctx = format!("sandbox: {what} {}", path.display());
    move |e| Error(format!("{ctx}: {e}"))
}
