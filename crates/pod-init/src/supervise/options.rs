//! The supervisor's knobs, read from the environment and validated before
//! anything else happens.

use std::fmt;
use std::time::Duration;

use common::env::EnvVars;

/// How long leftover processes get between SIGTERM and SIGKILL once the
/// command has exited by itself, unless `POD_INIT_KILL_GRACE_MS` says
/// otherwise. Two seconds lets a data-loader worker or a log shipper flush,
/// and keeps a finished job's pod from lingering. It never applies once the
/// job was asked to stop: the kubelet owns that grace period.
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(2);

/// The longest grace accepted: longer than any kubelet grace period worth
/// having, and small enough that no deadline computed from it can overflow.
const MAX_KILL_GRACE_MS: u64 = 3_600_000;

/// Who gets a forwarded signal (`POD_INIT_SIGNAL_GROUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Unset: a request to stop goes to the command's whole process group
    /// (every process of the job started through a shell without job
    /// control is in it), every other signal to the command alone.
    StopsToGroup,
    /// `1`: every signal goes to the command's process group.
    Group,
    /// `0`: every signal, a stop included, goes to the command alone, which
    /// then decides how its workers stop (dumb-init's `--single-child`).
    Command,
}

/// How the supervisor behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// See [`Reach`].
    pub reach: Reach,
    /// See [`DEFAULT_KILL_GRACE`].
    pub kill_grace: Duration,
    /// What the job gets when PID 1 gets SIGTERM (`NB_STOP_SIGNAL`).
    pub stop_signal: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options { reach: Reach::StopsToGroup, kill_grace: DEFAULT_KILL_GRACE, stop_signal: libc::SIGTERM }
    }
}

/// A supervisor variable with a value it cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub var: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.var, self.value, self.reason)
    }
}

impl std::error::Error for OptionError {}

impl Options {
    /// Reads the options through `lookup` (the real environment in
    /// pod-init, a map in tests). Unset means the default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Options, OptionError> {
        let mut options = Options::default();
        if let Some(value) = lookup(EnvVars::POD_INIT_SIGNAL_GROUP) {
            options.reach = match value.as_str() {
                "1" | "true" | "yes" => Reach::Group,
                "0" | "false" | "no" => Reach::Command,
                "" => Reach::StopsToGroup,
                _ => {
                    return Err(OptionError {
                        var: EnvVars::POD_INIT_SIGNAL_GROUP,
                        value,
                        reason: "must be 1/true/yes or 0/false/no",
                    });
                }
            };
        }
        if let Some(value) = lookup(EnvVars::POD_INIT_KILL_GRACE_MS) {
            let millis =
                value.trim().parse::<u64>().ok().filter(|&ms| ms <= MAX_KILL_GRACE_MS).ok_or_else(|| OptionError {
                    var: EnvVars::POD_INIT_KILL_GRACE_MS,
                    value: value.clone(),
                    reason: "must be a whole number of milliseconds, at most 3600000 (an hour)",
                })?;
            options.kill_grace = Duration::from_millis(millis);
        }
        if let Some(value) = lookup(EnvVars::NB_STOP_SIGNAL).filter(|v| !v.is_empty()) {
            let name = common::validate::stop_signal(EnvVars::NB_STOP_SIGNAL, &value).map_err(|_| OptionError {
                var: EnvVars::NB_STOP_SIGNAL,
                value: value.clone(),
                reason: "must be one of TERM, INT, HUP, QUIT, USR1, USR2, ALRM (with or without SIG)",
            })?;
            // Every name of the list is a signal nix knows.
            options.stop_signal =
                format!("SIG{name}").parse::<nix::sys::signal::Signal>().map_or(libc::SIGTERM, |s| s as i32);
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<Options, OptionError> {
        Options::from_lookup(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn unset_means_defaults() {
        assert_eq!(
            parse(&[]),
            Ok(Options { reach: Reach::StopsToGroup, kill_grace: Duration::from_secs(2), stop_signal: libc::SIGTERM })
        );
    }

    #[test]
    fn values_are_read() {
        let options = parse(&[("POD_INIT_SIGNAL_GROUP", "1"), ("POD_INIT_KILL_GRACE_MS", "250")]);
        assert_eq!(
            options,
            Ok(Options { reach: Reach::Group, kill_grace: Duration::from_millis(250), stop_signal: libc::SIGTERM })
        );
        assert_eq!(parse(&[("NB_STOP_SIGNAL", "usr1")]).map(|o| o.stop_signal), Ok(libc::SIGUSR1));
        assert_eq!(parse(&[("NB_STOP_SIGNAL", "SIGINT")]).map(|o| o.stop_signal), Ok(libc::SIGINT));
        assert_eq!(parse(&[("NB_STOP_SIGNAL", "")]).map(|o| o.stop_signal), Ok(libc::SIGTERM));
        assert_eq!(parse(&[("POD_INIT_SIGNAL_GROUP", "no")]).map(|o| o.reach), Ok(Reach::Command));
        assert_eq!(parse(&[("POD_INIT_SIGNAL_GROUP", "")]).map(|o| o.reach), Ok(Reach::StopsToGroup));
    }

    #[test]
    fn the_grace_is_capped_at_an_hour() {
        let grace = |v: &str| parse(&[("POD_INIT_KILL_GRACE_MS", v)]).map(|o| o.kill_grace);
        assert_eq!(grace("3600000"), Ok(Duration::from_secs(3600)));
        assert!(grace("3600001").is_err());
        assert!(grace("18446744073709551615").is_err());
    }

    #[test]
    fn bad_values_name_the_variable_and_the_reason() {
        let err = parse(&[("POD_INIT_KILL_GRACE_MS", "2s")]).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("POD_INIT_KILL_GRACE_MS=\"2s\": must be a whole number of milliseconds, at most 3600000 (an hour)")
        );
        let err = parse(&[("POD_INIT_SIGNAL_GROUP", "maybe")]).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("POD_INIT_SIGNAL_GROUP=\"maybe\": must be 1/true/yes or 0/false/no"));
        let err = parse(&[("NB_STOP_SIGNAL", "KILL")]).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "NB_STOP_SIGNAL=\"KILL\": must be one of TERM, INT, HUP, QUIT, USR1, USR2, ALRM (with or without SIG)"
            )
        );
    }
}
