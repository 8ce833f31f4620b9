//! Every problem of a `.env` at once, each at its line: the keys a
//! submission needs but the file does not set, the template placeholders
//! left in it, and the values that cannot be right (a uid that is not a
//! number or is root, an unknown `RUNAI_CLI`). Filling the template takes
//! one round this way, not one per placeholder.
//!
//! Messages name keys and, for settings only, their values; a secret's
//! value never appears.

use common::env::DEFAULT_SECRET_KEYS;
use common::validate;

use crate::job;
use crate::job::config::EnvFile;
use crate::job::keys;
use crate::runai::probe::Preference;

/// The keys a submission cannot do without (unless a flag gives them).
pub const REQUIRED: [&str; 7] = [
    keys::LDAP_USERNAME,
    keys::LDAP_UID,
    keys::LDAP_GROUPNAME,
    keys::LDAP_GID,
    keys::RUNAI_IMAGE,
    keys::RUNAI_SECRET_NAME,
    keys::SCRATCH_PVC,
];

/// One problem, as a message that starts with `file:line: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line it is on, for ordering; `None` for a key that is missing.
    pub line: Option<usize>,
    pub message: String,
}

/// The keys whose values are secrets: only a whole-value placeholder counts there.
pub fn secret_like(env: &EnvFile) -> Vec<&str> {
    DEFAULT_SECRET_KEYS.iter().copied().chain(job::environment::extra_secret_keys(env)).collect()
}

/// Every problem of `env`, placeholders first in file order, then values
/// that cannot be right, then missing keys. `given` lists keys a flag
/// provides instead of the file.
pub fn problems(env: &EnvFile, given: &[&str]) -> Vec<Problem> {
    let path = env.path().display();
    let mut found: Vec<Problem> = env
        .placeholders(&secret_like(env))
        .into_iter()
        .map(|e| Problem { line: line_of(&e), message: e.to_string() })
        .collect();
    let placeholder_keys: Vec<usize> = found.iter().filter_map(|p| p.line).collect();
    let settled = |key: &str| env.get(key).filter(|_| !env.line_of(key).is_some_and(|l| placeholder_keys.contains(&l)));
    let mut bad = |key: &str, why: String| {
        let line = env.line_of(key);
        let at = line.map_or_else(|| format!("{path}: "), |l| format!("{path}:{l}: "));
        found.push(Problem { line, message: format!("{at}{why}") });
    };
    for key in [keys::LDAP_UID, keys::LDAP_GID].into_iter().filter(|k| !given.contains(k)) {
        if let Some(Err(e)) = settled(key).map(|v| validate::non_root_id(key, v)) {
            bad(key, e.to_string());
        }
    }
    for key in [keys::LDAP_USERNAME, keys::LDAP_GROUPNAME] {
        if let Some(Err(e)) = settled(key).map(|v| validate::account_name(key, v)) {
            bad(key, e.to_string());
        }
    }
    for (key, what) in [(keys::K8S_NAMESPACE, "namespace"), (keys::RUNAI_PROJECT, "project name")] {
        if let Some(v) = settled(key).filter(|v| !validate::is_dns1123_label(v)) {
            bad(key, format!("{key}={v:?} is not a valid {what}: use at most 63 lower-case letters, digits and '-'"));
        }
    }
    for (key, what) in [(keys::RUNAI_SECRET_NAME, "Secret name"), (keys::SCRATCH_PVC, "PVC name")] {
        if let Some(v) = settled(key).filter(|v| !given.contains(&key) && !validate::is_dns1123_subdomain(v)) {
            bad(key, format!("{key}={v:?} is not a valid {what}: use lower-case letters, digits, '-' and '.'"));
        }
    }
    if let Some(v) =
        settled(keys::RUNAI_CLI).filter(|v| !given.contains(&keys::RUNAI_CLI) && Preference::parse(v).is_none())
    {
        bad(keys::RUNAI_CLI, format!("RUNAI_CLI={v:?}: must be one of {}", Preference::VALUES.join(", ")));
    }
    found.sort_by_key(|p| p.line);
    for key in REQUIRED.into_iter().filter(|k| !given.contains(k) && env.get(k).is_none()) {
        found.push(missing(env, key));
    }
    if env.get(keys::K8S_NAMESPACE).is_none() && env.get(keys::RUNAI_PROJECT).is_none() {
        found.push(Problem {
            line: None,
            message: format!("{path}: set K8S_NAMESPACE or RUNAI_PROJECT (`submit init` writes a template with both)"),
        });
    }
    found
}

/// Fails with every problem of `env` (see [`problems`]): one line for one
/// problem, else a count and one line each.
pub fn reject(env: &EnvFile, given: &[&str]) -> anyhow::Result<()> {
    reject_these(env, problems(env, given))
}

/// Fails with every placeholder left in `env`, as [`reject`] words them.
pub fn reject_placeholders(env: &EnvFile) -> anyhow::Result<()> {
    let found =
        env.placeholders(&secret_like(env)).into_iter().map(|e| Problem { line: line_of(&e), message: e.to_string() });
    reject_these(env, found.collect())
}

fn reject_these(env: &EnvFile, found: Vec<Problem>) -> anyhow::Result<()> {
    match found.as_slice() {
        [] => Ok(()),
        [one] => Err(anyhow::anyhow!("{}", one.message)),
        all => {
            let lines: Vec<String> = all.iter().map(|p| format!("  {}", p.message)).collect();
            Err(anyhow::anyhow!("{}: {} problems to fix:\n{}", env.path().display(), all.len(), lines.join("\n")))
        }
    }
}

fn missing(env: &EnvFile, key: &str) -> Problem {
    let message =
        format!("{}: {key} is not set; add it (`submit init` writes a template with every key)", env.path().display());
    Problem { line: None, message }
}

fn line_of(error: &crate::job::config::ConfigError) -> Option<usize> {
    match error {
        crate::job::config::ConfigError::Placeholder { line, .. } => Some(*line),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn messages(text: &str, given: &[&str]) -> Vec<String> {
        let env = EnvFile::parse(Path::new(".env"), text).unwrap();
        problems(&env, given).into_iter().map(|p| p.message).collect()
    }

    #[test]
    fn the_unfilled_template_is_reported_in_one_go() {
        let template = include_str!("../../../../examples/user.env.example");
        let found = messages(template, &[]);
        for key in ["LDAP_USERNAME", "LDAP_UID", "LDAP_GROUPNAME", "LDAP_GID", "RUNAI_PROJECT", "K8S_NAMESPACE"] {
            assert!(found.iter().any(|m| m.contains(&format!("fill in {key}:"))), "{key}: {found:#?}");
        }
        for key in ["RUNAI_IMAGE", "RUNAI_SECRET_NAME", "SCRATCH_PVC"] {
            assert!(found.iter().any(|m| m.contains(&format!("fill in {key}:"))), "{key}: {found:#?}");
        }
        assert_eq!(found.len(), 9, "{found:#?}");
        assert!(found[0].starts_with(".env:16: fill in LDAP_USERNAME"), "{found:#?}");
    }

    #[test]
    fn bad_values_and_missing_keys_are_named() {
        let found = messages("LDAP_UID=0\nLDAP_GID=12x\nRUNAI_CLI=v3\nRUNAI_PROJECT=Mlo\nHF_TOKEN=<a b>\n", &[]);
        assert_eq!(
            found,
            [
                ".env:1: LDAP_UID=\"0\": must not be 0 (root)",
                ".env:2: LDAP_GID=\"12x\": must be a whole number",
                ".env:3: RUNAI_CLI=\"v3\": must be one of v1, v2, auto",
                ".env:4: RUNAI_PROJECT=\"Mlo\" is not a valid project name: use at most 63 lower-case letters, digits \
                 and '-'",
                ".env:5: fill in HF_TOKEN: it still holds the template placeholder \"<a b>\"",
                ".env: LDAP_USERNAME is not set; add it (`submit init` writes a template with every key)",
                ".env: LDAP_GROUPNAME is not set; add it (`submit init` writes a template with every key)",
                ".env: RUNAI_IMAGE is not set; add it (`submit init` writes a template with every key)",
                ".env: RUNAI_SECRET_NAME is not set; add it (`submit init` writes a template with every key)",
                ".env: SCRATCH_PVC is not set; add it (`submit init` writes a template with every key)",
            ]
        );
        assert!(messages("LDAP_UID=0\n", &["LDAP_UID"]).iter().all(|m| !m.contains("LDAP_UID=")));
    }
}
