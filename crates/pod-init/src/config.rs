//! The bootstrap's input: the `NB_*` contract of `common::pod_env`, read
//! through a lookup function and fully validated before any file is touched.
//!
//! Reading through `from_lookup(|name| ...)` instead of `std::env` lets the
//! tests build every case from a map, and lets `main` read the environment
//! once. A missing required variable is not an error (the image also runs
//! outside `submit`, and then behaves like a plain image); a present but
//! invalid one is, and stops the pod before /etc is changed.

use std::fmt;
use std::path::PathBuf;

use common::env::{self, EnvVars};
use common::pod_env::{PodEnv, ReadError};
use common::validate;
use zeroize::Zeroizing;

/// A value that must not be printed (the private key), and is zeroed when
/// dropped: PID 1 outlives the bootstrap by days, and freed memory keeps
/// its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Zeroizing<String>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// Everything the bootstrap needs, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodConfig {
    pub user: String,
    pub uid: u32,
    pub group: String,
    pub gid: u32,
    pub scratch_home_root: PathBuf,
    pub scratch_home: PathBuf,
    pub working_dir: PathBuf,
    /// The shared Hugging Face cache; not created when unset.
    pub hf_home: Option<PathBuf>,
    pub git_config_global: PathBuf,
    pub uv_cache_dir: PathBuf,
    pub uv_python_install_dir: PathBuf,
    pub seed_user: String,
    pub ssh_private_key_b64: Option<Secret>,
    pub ssh_public_key: Option<String>,
    pub ssh_known_hosts: Option<String>,
    pub git_user_name: Option<String>,
    pub git_user_email: Option<String>,
    /// The job and submission, for the attempt record.
    pub job: Option<common::pod_env::JobRun>,
}

/// What the environment asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setup {
    /// These required variables are missing: run the command unchanged.
    Missing(Vec<&'static str>),
    /// Bootstrap with this configuration.
    Bootstrap(Box<PodConfig>),
}

/// Every bad variable at once, so one pod start shows them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub Vec<validate::ValidationError>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid configuration, nothing changed: ")?;
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ConfigError {}

impl PodConfig {
    /// Reads the contract through `lookup` ([`PodEnv::from_lookup`], which
    /// `submit`'s `to_env` mirrors), plus the image's seed user and the
    /// secrets. Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Setup, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let seed_user = get(EnvVars::SCRATCH_SEED_USER).unwrap_or_else(|| env::DEFAULT_SCRATCH_SEED_USER.to_owned());
        let bad_seed = validate::account_name(EnvVars::SCRATCH_SEED_USER, &seed_user).err();
        let pod = match PodEnv::from_lookup(&lookup) {
            Err(ReadError::Missing(missing)) => return Ok(Setup::Missing(missing)),
            Err(ReadError::Invalid(mut bad)) => {
                bad.extend(bad_seed);
                return Err(ConfigError(bad));
            }
            Ok(_) if bad_seed.is_some() => return Err(ConfigError(bad_seed.into_iter().collect())),
            Ok(pod) => pod,
        };
        Ok(Setup::Bootstrap(Box::new(PodConfig {
            user: pod.user,
            uid: pod.uid,
            group: pod.group,
            gid: pod.gid,
            scratch_home_root: pod.scratch_home_root.into(),
            scratch_home: pod.scratch_home.into(),
            working_dir: pod.working_dir.into(),
            hf_home: pod.hf_home.map(PathBuf::from),
            git_config_global: pod.state.git_config_global.into(),
            uv_cache_dir: pod.state.uv_cache_dir.into(),
            uv_python_install_dir: pod.state.uv_python_install_dir.into(),
            seed_user,
            ssh_private_key_b64: get(EnvVars::SSH_PRIVATE_KEY_B64).map(|key| Secret(Zeroizing::new(key))),
            ssh_public_key: get(EnvVars::SSH_PUBLIC_KEY),
            ssh_known_hosts: get(EnvVars::SSH_KNOWN_HOSTS),
            git_user_name: get(EnvVars::GIT_USER_NAME),
            git_user_email: get(EnvVars::GIT_USER_EMAIL),
            job: pod.job,
        })))
    }

    /// The ephemeral home in the pod, `/home/<user>`.
    pub fn home(&self) -> PathBuf {
        PathBuf::from(env::pod_home(&self.user))
    }

    /// zsh's ZDOTDIR, on scratch so the shell setup persists.
    pub fn zdotdir(&self) -> PathBuf {
        self.scratch_home.join(".shell")
    }

    /// oh-my-zsh's ZSH: `.shell/.oh-my-zsh`, where the bash entrypoint put
    /// it, so a researcher's copy from before pod-init (custom plugins and
    /// themes included) is the one used, and `${ZDOTDIR:-$HOME}/.oh-my-zsh`
    /// finds it from a login shell too (through the `~/.oh-my-zsh` link).
    pub fn oh_my_zsh(&self) -> PathBuf {
        self.zdotdir().join(".oh-my-zsh")
    }

    /// The shell history, on scratch.
    pub fn histfile(&self) -> PathBuf {
        self.scratch_home.join(".zsh_history")
    }
}

/// The required variables of a valid configuration for ada.
#[cfg(test)]
const TEST_VARS: [(&str, &str); 6] = [
    ("NB_USER", "ada"),
    ("NB_UID", "177449"),
    ("NB_GROUP", "MLO-unit"),
    ("NB_GID", "83070"),
    ("SCRATCH_HOME_ROOT", "/mloscratch/homes/"),
    ("WORKING_DIR", "/mloscratch/homes/ada/project"),
];

/// [`TEST_VARS`] with `extra` variables added or replaced.
#[cfg(test)]
fn test_vars<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars: Vec<_> = TEST_VARS.iter().copied().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
    vars.extend_from_slice(extra);
    vars
}

/// A valid configuration for ada, with `extra` variables added or replaced.
#[cfg(test)]
pub(crate) fn for_tests(extra: &[(&str, &str)]) -> PodConfig {
    let vars = test_vars(extra);
    let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned());
    match PodConfig::from_lookup(lookup) {
        Ok(Setup::Bootstrap(c)) => *c,
        other => panic!("test config rejected: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn missing_required_vars_are_listed() {
        let setup = PodConfig::from_lookup(lookup(&[("NB_USER", "ada"), ("NB_UID", "")])).unwrap();
        assert_eq!(setup, Setup::Missing(vec!["NB_UID", "NB_GROUP", "NB_GID", "SCRATCH_HOME_ROOT", "WORKING_DIR"]));
    }

    #[test]
    fn defaults_derive_from_scratch_home() {
        let Setup::Bootstrap(cfg) = PodConfig::from_lookup(lookup(&TEST_VARS)).unwrap() else {
            panic!("bootstrap expected")
        };
        assert_eq!(cfg.scratch_home, PathBuf::from("/mloscratch/homes/ada"));
        assert_eq!(cfg.git_config_global, PathBuf::from("/mloscratch/homes/ada/.gitconfig"));
        assert_eq!(cfg.uv_cache_dir, PathBuf::from("/mloscratch/homes/ada/.cache/uv"));
        assert_eq!(cfg.uv_python_install_dir, PathBuf::from("/mloscratch/homes/ada/.uv"));
        assert_eq!(cfg.seed_user, "mljaggi-admin");
        assert_eq!(cfg.hf_home, None);
        assert_eq!(cfg.home(), PathBuf::from("/home/ada"));
        assert_eq!(cfg.oh_my_zsh(), PathBuf::from("/mloscratch/homes/ada/.shell/.oh-my-zsh"));
    }

    #[test]
    fn set_scratch_home_paths_win_over_the_defaults_each_in_its_field() {
        let vars = test_vars(&[
            ("GIT_CONFIG_GLOBAL", "/g/config"),
            ("UV_CACHE_DIR", "/uv/cache"),
            ("UV_PYTHON_INSTALL_DIR", "relative"),
        ]);
        let err = PodConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration, nothing changed: UV_PYTHON_INSTALL_DIR=\"relative\": must be an absolute path"
        );
        let vars = test_vars(&[("GIT_CONFIG_GLOBAL", "/g/config"), ("UV_CACHE_DIR", "/uv/cache")]);
        let Setup::Bootstrap(cfg) = PodConfig::from_lookup(lookup(&vars)).unwrap() else {
            panic!("bootstrap expected")
        };
        assert_eq!(cfg.git_config_global, PathBuf::from("/g/config"));
        assert_eq!(cfg.uv_cache_dir, PathBuf::from("/uv/cache"));
        assert_eq!(cfg.uv_python_install_dir, PathBuf::from("/mloscratch/homes/ada/.uv"));
    }

    #[test]
    fn every_bad_value_is_reported_by_name() {
        let vars = test_vars(&[
            ("NB_USER", "a:b"),
            ("NB_UID", "0"),
            ("NB_GID", "4294967296"),
            ("NB_GROUP", "root"),
            ("WORKING_DIR", "relative/dir"),
        ]);
        let err = PodConfig::from_lookup(lookup(&vars)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid configuration, nothing changed: NB_USER=\"a:b\": must not contain ':'; \
             NB_GROUP=\"root\": is reserved for the system (root); NB_UID=\"0\": must not be 0 (root); \
             NB_GID=\"4294967296\": must be between 0 and 4294967294 (4294967295 means \"no id\"); \
             WORKING_DIR=\"relative/dir\": must be an absolute path"
        );
    }

    #[test]
    fn hostile_names_and_ids_are_refused() {
        for (k, v) in [
            ("NB_USER", "-rf"),
            ("NB_USER", "a\nb"),
            ("NB_USER", "root"),
            ("NB_USER", &*"a".repeat(33)),
            ("NB_UID", "-1"),
            ("NB_UID", "4294967296"),
            ("SCRATCH_SEED_USER", "x y"),
        ] {
            let vars = test_vars(&[(k, Box::leak(v.to_owned().into_boxed_str()))]);
            let err = PodConfig::from_lookup(lookup(&vars)).unwrap_err();
            assert!(err.to_string().contains(k), "{k}={v:?}: {err}");
        }
    }

    #[test]
    fn secret_is_not_printed_by_debug() {
        let vars = test_vars(&[("SSH_PRIVATE_KEY_B64", "c2VjcmV0")]);
        let setup = PodConfig::from_lookup(lookup(&vars)).unwrap();
        assert!(!format!("{setup:?}").contains("c2VjcmV0"));
    }
}
