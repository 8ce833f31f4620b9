//! The subcommands beside a submission (`submit doctor`, `submit init`),
//! one file or folder each. A bare `submit [flags]` is still the
//! submission: clap only sees a subcommand when its name comes first.

pub mod doctor;
pub mod init;

use anyhow::Result;

use crate::app::{Context, Outcome};

/// A subcommand and its arguments.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check everything a submission depends on, each with its fix; changes nothing
    Doctor(doctor::Args),
    /// Write the .env template to fill in (never over an existing file)
    Init(init::Args),
}

/// Runs `command`.
pub fn run(command: Command, ctx: &Context) -> Result<Outcome> {
    match command {
        Command::Doctor(args) => doctor::run(&args, ctx),
        Command::Init(args) => init::run(&args, ctx),
    }
}

/// `path` with a leading `~/` expanded, as the submission reads `--env-file`.
pub fn env_path(path: &std::path::Path, ctx: &Context) -> std::path::PathBuf {
    match path.to_str() {
        Some(p) if p.starts_with('~') => crate::github_key::expand_tilde(p, ctx.home.as_deref()),
        _ => path.to_owned(),
    }
}
