//! `submit` as a library: the binary (`main.rs`) maps [`app::run`]'s outcome
//! to an exit code, and the integration tests reuse what they would
//! otherwise copy (the pod snippet's format, for one).
//!
//! The stages, in the order a submission goes through them: `cli` parses the
//! command line; `job` turns it and the `.env` into a validated job, its
//! Secret manifest and the pod's command; `runai` writes that job in the
//! dialect of the installed run:ai CLI; `cluster` runs kubectl and runai and
//! reads what they report; `follow` follows the job after the submission.
//! `app` runs them in that order.

// Tests may unwrap: a panic there is a test failure with a backtrace.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
pub mod cli;
mod clock;
mod cluster;
mod commands;
mod follow;
mod job;
mod runai;
mod split_value;
mod sweep;

pub use job::pod_command;
