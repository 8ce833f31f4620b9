//! The pod's environment: the variables submit sets (the contract with
//! pod-init), the `-e` ones, and the keys the pod reads from the Secret.

use anyhow::{Result, bail};
use common::env::{self as pod_env, DEFAULT_SECRET_KEYS};
use common::pod_env::{JobRun, PodEnv, StateDirs};

use crate::job::Identity;
use crate::job::config::EnvFile;
use crate::job::keys;
use crate::job::lookup::at;
use crate::job::request::Request;

/// The entries of `EXTRA_SECRET_KEYS`, trimmed, empty ones skipped.
pub fn extra_secret_keys(env: &EnvFile) -> impl Iterator<Item = &str> {
    env.get(keys::EXTRA_SECRET_KEYS).unwrap_or("").split(',').map(str::trim).filter(|k| !k.is_empty())
}

/// A name a shell and Kubernetes accept for an environment variable.
fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The keys the pod reads from the Secret: each default secret key and each
/// `EXTRA_SECRET_KEYS` entry that has a value. Entries without a value are
/// returned separately so the caller can warn about them.
pub(super) fn pod_secret_keys(env: &EnvFile, literal_names: &[&str]) -> Result<(Vec<String>, Vec<String>)> {
    let mut wanted: Vec<String> = DEFAULT_SECRET_KEYS.iter().map(|k| (*k).to_owned()).collect();
    for extra in extra_secret_keys(env) {
        if !is_env_name(extra) {
            bail!(
                "{}EXTRA_SECRET_KEYS: {extra:?} is not a variable name: use letters, digits and '_'",
                at(env, keys::EXTRA_SECRET_KEYS)
            );
        }
        if literal_names.contains(&extra) {
            bail!(
                "{}EXTRA_SECRET_KEYS: {extra} is set by submit itself and cannot come from the Secret",
                at(env, keys::EXTRA_SECRET_KEYS)
            );
        }
        wanted.push(extra.to_owned());
    }
    wanted.sort();
    wanted.dedup();
    let (present, absent): (Vec<String>, Vec<String>) = wanted.into_iter().partition(|k| env.get(k).is_some());
    let absent = absent.into_iter().filter(|k| !DEFAULT_SECRET_KEYS.contains(&k.as_str())).collect();
    Ok((present, absent))
}

/// An absolute path in the pod, from the file or a default.
fn pod_path(env: &EnvFile, key: &str, default: impl FnOnce() -> String) -> Result<String> {
    let value = env.get(key).map_or_else(default, str::to_owned);
    if !value.starts_with('/') || value.contains(['\n', '\r']) {
        bail!("{}{key}={value:?}: must be an absolute path in the pod", at(env, key));
    }
    Ok(value)
}

/// The variables submit sets in the pod (the contract with pod-init), and
/// the scratch mount path.
pub(super) fn pod_variables(env: &EnvFile, who: &Identity<'_>, job: JobRun) -> Result<(Vec<(String, String)>, String)> {
    let mount = pod_path(env, keys::SCRATCH_MOUNT_PATH, || pod_env::DEFAULT_SCRATCH_MOUNT_PATH.to_owned())?;
    let mount_base = mount.trim_end_matches('/').to_owned();
    let root = pod_path(env, keys::SCRATCH_HOME_ROOT, || format!("{mount_base}/homes"))?;
    // The persistent home (shell history, git config, uv) is the user's
    // directory under the root whatever WORKING_DIR is, as in the wrapper:
    // a project below the home must not become a second home.
    let home_default = || pod_env::default_scratch_home(&root, who.user);
    let scratch_home = pod_path(env, keys::SCRATCH_HOME, home_default)?;
    let working_dir = pod_path(env, keys::WORKING_DIR, home_default)?;
    let hf_home = pod_path(env, keys::HF_HOME, || format!("{mount_base}/hf_cache"))?;
    let uv_python = env.get(keys::UV_PYTHON_VERSION).unwrap_or(keys::DEFAULT_UV_PYTHON_VERSION);
    let tz = env.get(keys::TZ).unwrap_or(keys::DEFAULT_TZ);
    for (key, value) in [(keys::UV_PYTHON_VERSION, uv_python), (keys::TZ, tz)] {
        if value.chars().any(char::is_whitespace) {
            bail!("{}{key}={value:?}: must not contain white space", at(env, key));
        }
    }
    let pod = PodEnv {
        user: who.user.to_owned(),
        uid: who.uid,
        group: who.group.to_owned(),
        gid: who.gid,
        scratch_home_root: root,
        state: StateDirs::under(&scratch_home),
        scratch_home,
        working_dir,
        hf_home: Some(hf_home),
        uv_python_version: Some(uv_python.to_owned()),
        tz: Some(tz.to_owned()),
        job: Some(job),
    };
    let variables = pod.to_env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Ok((variables, mount))
}

/// The `-e KEY=VALUE` variables. Refused, by name only (the value may be a
/// secret typed in the wrong place): a name that is not a variable name, one
/// submit sets itself (`submit_sets`, and every `NB_*`) or pod-init sets for
/// the command (it would be replaced without a word), a Secret key, or a
/// name given twice.
pub(super) fn extra_variables(req: &Request, env: &EnvFile, submit_sets: &[&str]) -> Result<Vec<(String, String)>> {
    let mut extra: Vec<(String, String)> = Vec::new();
    for entry in &req.env {
        let Some((name, value)) = entry.split_once('=') else {
            // Without `=` the argument may be a value (a token pasted alone):
            // it is shown only when it is a variable name.
            if is_env_name(entry) {
                bail!("-e {entry}: write {entry}=VALUE");
            }
            bail!("-e: an argument without '=' (not shown: it may be a value); write KEY=VALUE");
        };
        if !is_env_name(name) {
            bail!("-e: {name:?} is not a variable name: use letters, digits and '_', not starting with a digit");
        }
        if name.starts_with("NB_") || submit_sets.contains(&name) {
            bail!("-e {name}: submit sets {name} itself; it cannot be given with -e");
        }
        if pod_env::SET_BY_POD_INIT.contains(&name) {
            bail!("-e {name}: pod-init sets {name} for the job's command itself; it cannot be given with -e");
        }
        if DEFAULT_SECRET_KEYS.contains(&name) || extra_secret_keys(env).any(|k| k == name) {
            bail!(
                "-e {name}: {name} is a Secret key: put its value in {} and the pod reads it from the Secret \
                 (with -e the value would be shown on the command line)",
                env.path().display()
            );
        }
        if extra.iter().any(|(n, _)| n == name) {
            bail!("-e {name}: given more than once");
        }
        if value.starts_with("SECRET:") {
            bail!(
                "-e {name}: a value starting with SECRET: is read by runai v1 as a Secret reference; \
                 list the key in EXTRA_SECRET_KEYS instead"
            );
        }
        extra.push((name.to_owned(), value.to_owned()));
    }
    Ok(extra)
}
