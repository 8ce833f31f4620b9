//! Logs on stderr, where the kubelet collects them (`runai logs`).
//!
//! Only a level filter (`POD_INIT_LOG=debug`), not tracing-subscriber's
//! `EnvFilter`: its regex engine would double the size of a binary that
//! every pod pulls.

use tracing::level_filters::LevelFilter;

/// Installs the subscriber. Returns a warning to log if the level was bad.
pub fn init(level: Option<&str>) -> Option<String> {
    let (filter, warning) = match level.map(str::trim).filter(|l| !l.is_empty()) {
        None => (LevelFilter::INFO, None),
        Some(l) => match l.parse::<LevelFilter>() {
            Ok(f) => (f, None),
            Err(_) => (LevelFilter::INFO, Some(format!("{}={l:?}: not a level (error, warn, info, debug, trace, off); using info", common::env::EnvVars::POD_INIT_LOG))),
        },
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(filter)
        .with_target(false)
        .with_ansi(false)
        .init();
    warning
}
