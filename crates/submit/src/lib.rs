//! `submit` as a library: the binary (`main.rs`) maps [`app::run`]'s outcome
//! to an exit code, and the integration tests reuse what they would
//! otherwise copy (the pod snippet's format, for one).

// Tests may unwrap: a panic there is a test failure with a backtrace.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod app;
mod attach;
mod child_output;
pub mod cli;
mod clock;
/// Talking to the cluster through kubectl.
mod cluster {
    pub mod kubectl_error;
}
mod commands;
mod config;
mod duration;
mod env_check;
mod events;
mod fallbacks;
mod github_key;
mod interrupt;
mod invocation;
mod job;
mod keys;
mod kubectl;
mod outcome;
pub mod pod_command;
mod pods;
mod preflight;
mod progress;
mod runai;
mod secret;
mod spec;
mod split_value;
mod wait;
