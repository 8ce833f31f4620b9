//! Logs on stderr, where the kubelet collects them (`runai logs`).
//!
//! Only a level filter (`POD_INIT_LOG=debug`), not tracing-subscriber's
//! `EnvFilter`: its regex engine would double the size of a binary that
//! every pod pulls.

use tracing::level_filters::LevelFilter;

/// The level `POD_INIT_LOG` asks for, and a warning if it is not one.
fn level(value: Option<&str>) -> (LevelFilter, Option<String>) {
    match value.map(str::trim).filter(|l| !l.is_empty()) {
        None => (LevelFilter::INFO, None),
        Some(l) => match l.parse::<LevelFilter>() {
            Ok(f) => (f, None),
            Err(_) => (
                LevelFilter::INFO,
                Some(format!(
                    "{}={l:?}: not a level (error, warn, info, debug, trace, off); using info",
                    common::env::EnvVars::POD_INIT_LOG
                )),
            ),
        },
    }
}

/// Installs the subscriber. Returns a warning to log if the level was bad.
pub fn init(value: Option<&str>) -> Option<String> {
    let (filter, warning) = level(value);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(filter)
        .with_target(false)
        .with_ansi(false)
        .init();
    warning
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_a_bad_one_falls_back_to_info_naming_the_variable() {
        assert_eq!(level(None), (LevelFilter::INFO, None));
        assert_eq!(level(Some("debug")), (LevelFilter::DEBUG, None));
        assert_eq!(level(Some("WARN")), (LevelFilter::WARN, None));
        let (filter, warning) = level(Some("loud"));
        assert_eq!(filter, LevelFilter::INFO);
        assert_eq!(
            warning.unwrap(),
            "POD_INIT_LOG=\"loud\": not a level (error, warn, info, debug, trace, off); using info"
        );
    }
}
