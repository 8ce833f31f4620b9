//! Which dialect to speak: the user's choice (`--runai-cli`, else `RUNAI_CLI`
//! in the `.env`, else auto), and for auto the answer of the installed CLI.
//!
//! `runai workspace submit --help` succeeds only on a v2 CLI, and its flag
//! list tells the 2.19-era flag set from the 2.2x one. It is local and
//! read-only, so it runs once per submission, dry runs included when runai
//! is on PATH. It is not cached: from 2.22 the CLI updates itself.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::{Result, bail};

use super::{Dialect, V2Flags, runai};
use crate::cluster::invocation::Invocation;

/// The longest wait for the CLI to print its help.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    V1,
    V2,
    Auto,
}

impl Preference {
    /// The accepted spellings, for `--help` and error messages.
    pub const VALUES: [&'static str; 3] = ["v1", "v2", "auto"];

    pub fn parse(value: &str) -> Option<Self> {
        [Preference::V1, Preference::V2, Preference::Auto].into_iter().find(|p| p.value() == value)
    }

    pub fn value(self) -> &'static str {
        match self {
            Preference::V1 => "v1",
            Preference::V2 => "v2",
            Preference::Auto => "auto",
        }
    }
}

/// The probe's command line.
pub fn probe_command() -> Invocation {
    runai(["workspace", "submit", "--help"])
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// runai is not on PATH (a dry run on a machine without the CLI).
    NoCli,
    /// The probe failed: exit status or why it could not run.
    Failed(String),
    /// The probe succeeded with this help text.
    Help(String),
}

/// Runs the probe.
pub fn ask(runai_on_path: bool) -> Answer {
    if !runai_on_path {
        return Answer::NoCli;
    }
    match probe_command().run_for_output(PROBE_TIMEOUT) {
        Ok(done) if done.status.success() => Answer::Help(String::from_utf8_lossy(&done.stdout).into_owned()),
        Ok(done) => Answer::Failed(crate::cluster::invocation::describe_status(done.status)),
        Err(e) => Answer::Failed(e.to_string()),
    }
}

/// The long flags a help text lists (`-e, --environment stringArray` gives
/// `environment`).
fn long_flags(help: &str) -> BTreeSet<&str> {
    help.split_whitespace()
        .filter_map(|w| w.strip_prefix("--"))
        .map(|w| w.trim_end_matches([',', '.', ':', ')']))
        .map(|w| w.split_once('=').map_or(w, |(name, _)| name))
        .filter(|w| !w.is_empty())
        .collect()
}

/// The flag every v2 `workspace submit` has and v1 never had: a help text
/// without it is not that command's (a CLI that answers an unknown command
/// with its general help and exit 0).
const V2_MARK: &str = "gpu-devices-request";

/// The v2 flag set a help text of `workspace submit` shows, if it is one.
pub fn v2_flags(help: &str) -> Option<V2Flags> {
    let flags = long_flags(help);
    flags.contains(V2_MARK).then(|| V2Flags {
        plain_env: if flags.contains("environment-variable") { "--environment-variable" } else { "--environment" },
        env_secret: flags.contains("env-secret"),
    })
}

/// The dialect chosen, and why, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub dialect: Dialect,
    pub reason: String,
}

/// Chooses the dialect. `origin` says where the preference came from
/// (`--runai-cli`, `.env:3: RUNAI_CLI`; `None` for the default, auto);
/// `answer` runs the probe, and is not called for v1.
pub fn choose(preference: Preference, origin: Option<&str>, answer: impl FnOnce() -> Answer) -> Result<Choice> {
    let asked = match origin {
        Some(origin) => format!("{origin}={}", preference.value()),
        None => "RUNAI_CLI is not set (auto)".to_owned(),
    };
    let forced_v2 = match preference {
        Preference::V1 => return Ok(Choice { dialect: Dialect::V1, reason: asked }),
        Preference::V2 => true,
        Preference::Auto => false,
    };
    let probe = probe_command();
    // The flag set of a v2 CLI, or why there is none (`None`: no runai).
    let found: Result<V2Flags, Option<String>> = match answer() {
        Answer::Help(help) => v2_flags(&help).ok_or_else(|| Some(format!("its help does not list --{V2_MARK}"))),
        Answer::Failed(why) => Err(Some(why)),
        Answer::NoCli => Err(None),
    };
    let (dialect, found) = match (found, forced_v2) {
        (Ok(flags), _) => {
            let secret = if flags.env_secret { "lists --env-secret" } else { "has no --env-secret" };
            (
                Dialect::V2(flags),
                format!("`{probe}` succeeded; it {secret} and sets variables with {}", flags.plain_env),
            )
        }
        (Err(None), false) => (Dialect::V1, "runai is not on PATH".to_owned()),
        (Err(Some(why)), false) => (Dialect::V1, format!("`{probe}` failed ({why}), so this runai is v1")),
        (Err(None), true) => {
            (Dialect::V2(V2Flags::ERA_2_2X), "runai is not on PATH, so the 2.2x flags are assumed".to_owned())
        }
        (Err(Some(why)), true) => {
            bail!("{asked}, but the installed runai does not speak v2: `{probe}` failed ({why}); use v1 or auto")
        }
    };
    Ok(Choice { dialect, reason: format!("{asked}; {found}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELP_2_2X: &str = "Usage:\n  runai workspace submit [flags]\n\nFlags:\n  -g, --gpu-devices-request int\n\
          -e, --environment-variable stringArray   \
        Set environment variables\n      --env-secret stringArray   Set environment variables from a secret\n\
              --environment string   The environment asset\n";
    const HELP_2_19: &str = "Flags:\n  -g, --gpu-devices-request int\n  -e, --environment stringArray   Set environment variables\n\
              --preemptible   Workspace preemptible\n";

    #[test]
    fn the_flag_list_tells_the_v2_releases_apart() {
        assert_eq!(v2_flags(HELP_2_2X), Some(V2Flags::ERA_2_2X));
        assert_eq!(v2_flags(HELP_2_19), Some(V2Flags::ERA_2_19));
        assert_eq!(v2_flags("Usage:\n  runai [command]\n\nFlags:\n  -h, --help   help for runai\n"), None);
        assert_eq!(long_flags("  -g, --gpu-devices-request=1, --x)"), BTreeSet::from(["gpu-devices-request", "x"]));
    }

    #[test]
    fn auto_speaks_what_the_probe_finds() {
        let c = choose(Preference::Auto, None, || Answer::Help(HELP_2_2X.into())).unwrap();
        assert_eq!(c.dialect, Dialect::V2(V2Flags::ERA_2_2X));
        assert_eq!(
            c.reason,
            "RUNAI_CLI is not set (auto); `runai workspace submit --help` succeeded; it lists --env-secret and \
             sets variables with --environment-variable"
        );
        let c = choose(Preference::Auto, None, || Answer::Failed("exit status 1".into())).unwrap();
        assert_eq!(c.dialect, Dialect::V1);
        assert!(c.reason.ends_with("`runai workspace submit --help` failed (exit status 1), so this runai is v1"));
        let c = choose(Preference::Auto, None, || Answer::Help("Usage:\n  runai [command]\n".into())).unwrap();
        assert_eq!(c.dialect, Dialect::V1);
        assert!(c.reason.ends_with("failed (its help does not list --gpu-devices-request), so this runai is v1"));
        let c = choose(Preference::Auto, Some("--runai-cli"), || Answer::NoCli).unwrap();
        assert_eq!((c.dialect, c.reason.as_str()), (Dialect::V1, "--runai-cli=auto; runai is not on PATH"));
    }

    #[test]
    fn v1_does_not_probe_and_v2_insists() {
        let c = choose(Preference::V1, Some(".env:3: RUNAI_CLI"), || panic!("probed")).unwrap();
        assert_eq!((c.dialect, c.reason.as_str()), (Dialect::V1, ".env:3: RUNAI_CLI=v1"));
        let c = choose(Preference::V2, Some("--runai-cli"), || Answer::NoCli).unwrap();
        assert_eq!(c.dialect, Dialect::V2(V2Flags::ERA_2_2X));
        let err = choose(Preference::V2, Some("--runai-cli"), || Answer::Failed("exit status 1".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--runai-cli=v2, but the installed runai does not speak v2: `runai workspace submit --help` failed \
             (exit status 1); use v1 or auto"
        );
        assert_eq!(Preference::parse("v3"), None);
    }
}
