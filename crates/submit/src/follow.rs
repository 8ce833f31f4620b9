//! After the submission: wait until the job's pods run (`wait`), attach to an
//! interactive job, show the progress on the terminal, stop cleanly on
//! Ctrl-C, and say how the run ended.

pub mod attach;
pub mod interrupt;
pub mod outcome;
pub mod progress;
pub mod wait;
mod watch;
