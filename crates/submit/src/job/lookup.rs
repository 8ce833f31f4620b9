//! Where a value of the job comes from, a flag or a key of the `.env`, and
//! the prefix that names that place in an error (`file:line: `).

use anyhow::{Result, anyhow};
use common::validate;

use crate::job::config::EnvFile;

/// `file:line: ` for a key of the file, or `file: ` when it has no line.
pub(super) fn at(env: &EnvFile, key: &str) -> String {
    match env.line_of(key) {
        Some(line) => format!("{}:{line}: ", env.path().display()),
        None => format!("{}: ", env.path().display()),
    }
}

/// The value of a required key.
pub(super) fn required<'a>(env: &'a EnvFile, key: &str) -> Result<&'a str> {
    env.get(key).ok_or_else(|| {
        anyhow!("{}: {key} is not set; add it (`submit init` writes a template with every key)", env.path().display())
    })
}

/// A value from a flag, else from the file, else an error naming both.
pub(super) fn flag_or_key<'a>(flag: Option<&'a str>, flag_name: &str, env: &'a EnvFile, key: &str) -> Result<&'a str> {
    flag.or_else(|| env.get(key))
        .ok_or_else(|| anyhow!("{key} is not set in {} and {flag_name} is not given", env.path().display()))
}

/// Runs a `common::validate` check on a value from the file, prefixing the
/// error with where the value is.
pub(super) fn check_key<T>(
    env: &EnvFile,
    key: &str,
    value: &str,
    check: fn(&str, &str) -> Result<T, validate::ValidationError>,
) -> Result<T> {
    check(key, value).map_err(|e| anyhow!("{}{e}", at(env, key)))
}

/// `value` as the user gave it, for an error: `--flag="value"` when the
/// flag was given, else `file:line: KEY="value"`.
pub(super) fn given(flag: Option<&str>, flag_name: &str, env: &EnvFile, key: &str, value: &str) -> String {
    match flag {
        Some(_) => format!("{flag_name}={value:?}"),
        None => format!("{}{key}={value:?}", at(env, key)),
    }
}
