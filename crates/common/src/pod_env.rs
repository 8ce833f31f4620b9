//! The pod's environment as one value: `submit` writes it with
//! [`PodEnv::to_env`], `pod-init` reads it back with [`PodEnv::from_lookup`].
//!
//! Both halves live here so that a variable cannot be written under one
//! name and read under another, or defaulted differently on each side; a
//! property test checks that every valid value survives the trip. The
//! secrets (SSH keys, git identity) are not part of it: they reach the pod
//! by reference to the Secret, under the names of
//! [`DEFAULT_SECRET_KEYS`](crate::env::DEFAULT_SECRET_KEYS).

use crate::env::{self, EnvVars, REQUIRED_POD_VARS};
use crate::validate::{self, ValidationError};

/// The variables `submit` sets on the pod, as values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEnv {
    /// The researcher's login name; also the pod's `HOME` (`/home/<user>`)
    /// and the old wrapper's `EPFML_LDAP`.
    pub user: String,
    pub uid: u32,
    pub group: String,
    pub gid: u32,
    pub scratch_home_root: String,
    pub scratch_home: String,
    pub working_dir: String,
    /// The shared Hugging Face cache; pod-init creates it only when set.
    pub hf_home: Option<String>,
    /// Where the per-user state lives on scratch.
    pub state: StateDirs,
    /// For the user's scripts; pod-init does not use it.
    pub uv_python_version: Option<String>,
    /// For the user's programs; pod-init does not use it.
    pub tz: Option<String>,
    /// Which job and submission the pod belongs to; pod-init counts the
    /// starts of a submission only when both are set.
    pub job: Option<JobRun>,
}

/// A job's name and one submission of it ([`EnvVars::NB_JOB_NAME`],
/// [`EnvVars::NB_SUBMISSION`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    /// A DNS-1035 label (a run:ai job name).
    pub name: String,
    /// A DNS-1123 label, new at every submission.
    pub submission: String,
}

/// The per-user state kept on scratch, so that it survives the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDirs {
    pub git_config_global: String,
    pub uv_cache_dir: String,
    pub uv_python_install_dir: String,
}

impl StateDirs {
    /// The default places, under `scratch_home`: `submit` sets them so, and
    /// [`PodEnv::from_lookup`] falls back to them.
    pub fn under(scratch_home: &str) -> Self {
        let home = scratch_home.trim_end_matches('/');
        StateDirs {
            git_config_global: format!("{home}/.gitconfig"),
            uv_cache_dir: format!("{home}/.cache/uv"),
            uv_python_install_dir: format!("{home}/.uv"),
        }
    }
}

/// Why the environment does not describe a pod to bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// These required variables are unset or empty: the image runs outside
    /// `submit`, which is not an error.
    Missing(Vec<&'static str>),
    /// Every bad value, in the order of the variables, so one pod start
    /// shows them all.
    Invalid(Vec<ValidationError>),
}

impl PodEnv {
    /// The variables in the order `submit` passes them (the runai command
    /// line shows them so).
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut vars = vec![
            (EnvVars::HOME, env::pod_home(&self.user)),
            (EnvVars::NB_USER, self.user.clone()),
            (EnvVars::NB_UID, self.uid.to_string()),
            (EnvVars::NB_GROUP, self.group.clone()),
            (EnvVars::NB_GID, self.gid.to_string()),
            (EnvVars::WORKING_DIR, self.working_dir.clone()),
            (EnvVars::SCRATCH_HOME, self.scratch_home.clone()),
            (EnvVars::SCRATCH_HOME_ROOT, self.scratch_home_root.clone()),
            (EnvVars::EPFML_LDAP, self.user.clone()),
        ];
        let optional = [
            (EnvVars::HF_HOME, &self.hf_home),
            (EnvVars::UV_PYTHON_VERSION, &self.uv_python_version),
            (EnvVars::TZ, &self.tz),
        ];
        vars.extend(optional.into_iter().filter_map(|(name, value)| Some((name, value.clone()?))));
        vars.extend([
            (EnvVars::GIT_CONFIG_GLOBAL, self.state.git_config_global.clone()),
            (EnvVars::UV_CACHE_DIR, self.state.uv_cache_dir.clone()),
            (EnvVars::UV_PYTHON_INSTALL_DIR, self.state.uv_python_install_dir.clone()),
        ]);
        if let Some(job) = &self.job {
            vars.extend([(EnvVars::NB_JOB_NAME, job.name.clone()), (EnvVars::NB_SUBMISSION, job.submission.clone())]);
        }
        vars
    }

    /// Reads the variables through `lookup`, empty values counting as unset,
    /// with the defaults `submit` would have set: `SCRATCH_HOME` is
    /// `<SCRATCH_HOME_ROOT>/<NB_USER>` and the state directories are under
    /// it. Names and ids are checked as for /etc, paths must be absolute.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<PodEnv, ReadError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let missing: Vec<&'static str> = REQUIRED_POD_VARS.iter().copied().filter(|n| get(n).is_none()).collect();
        if !missing.is_empty() {
            return Err(ReadError::Missing(missing));
        }
        let required = |name: &str| get(name).unwrap_or_default();
        let mut bad = Vec::new();

        let user = required(EnvVars::NB_USER);
        let group = required(EnvVars::NB_GROUP);
        for (field, value) in [(EnvVars::NB_USER, &user), (EnvVars::NB_GROUP, &group)] {
            bad.extend(validate::account_name(field, value).err());
        }
        let mut id = |field: &str| {
            validate::non_root_id(field, &required(field)).unwrap_or_else(|e| {
                bad.push(e);
                0
            })
        };
        let uid = id(EnvVars::NB_UID);
        let gid = id(EnvVars::NB_GID);

        let mut path = |field: &'static str, value: String| -> String {
            bad.extend(validate::absolute_path(field, &value).err());
            value
        };
        let scratch_home_root = path(EnvVars::SCRATCH_HOME_ROOT, required(EnvVars::SCRATCH_HOME_ROOT));
        let scratch_home = path(
            EnvVars::SCRATCH_HOME,
            get(EnvVars::SCRATCH_HOME).unwrap_or_else(|| env::default_scratch_home(&scratch_home_root, &user)),
        );
        let working_dir = path(EnvVars::WORKING_DIR, required(EnvVars::WORKING_DIR));
        let hf_home = get(EnvVars::HF_HOME).map(|v| path(EnvVars::HF_HOME, v));
        let defaults = StateDirs::under(&scratch_home);
        let state = StateDirs {
            git_config_global: path(
                EnvVars::GIT_CONFIG_GLOBAL,
                get(EnvVars::GIT_CONFIG_GLOBAL).unwrap_or(defaults.git_config_global),
            ),
            uv_cache_dir: path(EnvVars::UV_CACHE_DIR, get(EnvVars::UV_CACHE_DIR).unwrap_or(defaults.uv_cache_dir)),
            uv_python_install_dir: path(
                EnvVars::UV_PYTHON_INSTALL_DIR,
                get(EnvVars::UV_PYTHON_INSTALL_DIR).unwrap_or(defaults.uv_python_install_dir),
            ),
        };

        // Both or nothing: from one alone no attempt can be told apart.
        let job = match (get(EnvVars::NB_JOB_NAME), get(EnvVars::NB_SUBMISSION)) {
            (Some(name), Some(submission)) => {
                bad.extend(validate::job_name(EnvVars::NB_JOB_NAME, &name).err());
                bad.extend(validate::submission(EnvVars::NB_SUBMISSION, &submission).err());
                Some(JobRun { name, submission })
            }
            _ => None,
        };

        if !bad.is_empty() {
            return Err(ReadError::Invalid(bad));
        }
        Ok(PodEnv {
            user,
            uid,
            group,
            gid,
            scratch_home_root,
            scratch_home,
            working_dir,
            hf_home,
            state,
            uv_python_version: get(EnvVars::UV_PYTHON_VERSION),
            tz: get(EnvVars::TZ),
            job,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn ada() -> PodEnv {
        PodEnv {
            user: "ada".into(),
            uid: 177449,
            group: "MLO-unit".into(),
            gid: 83070,
            scratch_home_root: "/mloscratch/homes".into(),
            scratch_home: "/mloscratch/homes/ada".into(),
            working_dir: "/mloscratch/homes/ada/project".into(),
            hf_home: Some("/mloscratch/hf_cache".into()),
            state: StateDirs::under("/mloscratch/homes/ada"),
            uv_python_version: Some("3.11".into()),
            tz: Some("Europe/Zurich".into()),
            job: Some(JobRun { name: "ada-train".into(), submission: "20260101-120000-k3j9x2".into() }),
        }
    }

    fn read(vars: &[(&str, String)]) -> Result<PodEnv, ReadError> {
        let map: HashMap<&str, &String> = vars.iter().map(|(k, v)| (*k, v)).collect();
        PodEnv::from_lookup(|k| map.get(k).map(|v| (*v).clone()))
    }

    #[test]
    fn the_variables_and_their_order() {
        let names: Vec<&str> = ada().to_env().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            [
                "HOME",
                "NB_USER",
                "NB_UID",
                "NB_GROUP",
                "NB_GID",
                "WORKING_DIR",
                "SCRATCH_HOME",
                "SCRATCH_HOME_ROOT",
                "EPFML_LDAP",
                "HF_HOME",
                "UV_PYTHON_VERSION",
                "TZ",
                "GIT_CONFIG_GLOBAL",
                "UV_CACHE_DIR",
                "UV_PYTHON_INSTALL_DIR",
                "NB_JOB_NAME",
                "NB_SUBMISSION"
            ]
        );
        let vars = ada().to_env();
        assert_eq!(vars[0], ("HOME", "/home/ada".to_owned()));
        assert_eq!(vars[8], ("EPFML_LDAP", "ada".to_owned()));
    }

    #[test]
    fn the_state_defaults_join_under_scratch_home_without_double_slash() {
        let pod = PodEnv { state: StateDirs::under("/mloscratch/homes/ada/"), ..ada() };
        assert_eq!(
            pod.to_env()[12..15],
            [
                (EnvVars::GIT_CONFIG_GLOBAL, "/mloscratch/homes/ada/.gitconfig".to_owned()),
                (EnvVars::UV_CACHE_DIR, "/mloscratch/homes/ada/.cache/uv".to_owned()),
                (EnvVars::UV_PYTHON_INSTALL_DIR, "/mloscratch/homes/ada/.uv".to_owned()),
            ]
        );
    }

    #[test]
    fn unset_scratch_home_and_state_take_the_defaults_submit_sets() {
        let vars: Vec<(&str, String)> = ada()
            .to_env()
            .into_iter()
            .filter(|(k, _)| {
                !matches!(*k, "SCRATCH_HOME" | "GIT_CONFIG_GLOBAL" | "UV_CACHE_DIR" | "UV_PYTHON_INSTALL_DIR")
            })
            .collect();
        assert_eq!(read(&vars), Ok(ada()));
    }

    #[test]
    fn missing_and_invalid_are_told_apart() {
        let vars = [("NB_USER", "ada".to_owned()), ("NB_UID", String::new())];
        assert_eq!(
            read(&vars),
            Err(ReadError::Missing(vec!["NB_UID", "NB_GROUP", "NB_GID", "SCRATCH_HOME_ROOT", "WORKING_DIR"]))
        );
        let mut vars = ada().to_env();
        vars[2].1 = "0".into();
        vars[5].1 = "relative".into();
        let Err(ReadError::Invalid(bad)) = read(&vars) else { panic!("invalid expected") };
        let messages: Vec<String> = bad.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            ["NB_UID=\"0\": must not be 0 (root)", "WORKING_DIR=\"relative\": must be an absolute path"]
        );
    }

    #[test]
    fn a_job_needs_both_its_name_and_its_submission() {
        let without =
            |name: &str| -> Vec<(&str, String)> { ada().to_env().into_iter().filter(|(k, _)| *k != name).collect() };
        assert_eq!(read(&without("NB_SUBMISSION")).map(|pod| pod.job), Ok(None));
        assert_eq!(read(&without("NB_JOB_NAME")).map(|pod| pod.job), Ok(None));
        let mut vars = ada().to_env();
        vars[16].1 = "../../etc".into();
        let Err(ReadError::Invalid(bad)) = read(&vars) else { panic!("invalid expected") };
        assert_eq!(bad.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["NB_SUBMISSION"]);
    }

    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z_][A-Za-z0-9_.-]{0,31}"
            .prop_filter("root and sudoers words are refused", |n| n != "root" && !validate::is_sudoers_word(n))
    }

    /// Any absolute path: `from_lookup` asks no more of a path.
    fn path() -> impl Strategy<Value = String> {
        "/\\PC{0,40}"
    }

    /// Any value but the empty one, which reads as unset.
    fn word() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("\\PC{1,20}")
    }

    prop_compose! {
        fn pod_env()(
            user in name(), uid in 1..=validate::MAX_ID, group in name(), gid in 1..=validate::MAX_ID,
            scratch_home_root in path(), scratch_home in path(), working_dir in path(),
            hf_home in proptest::option::of(path()), git in path(), uv_cache in path(), uv_python in path(),
            uv_python_version in word(), tz in word(),
            job in proptest::option::of(("[a-z]([-a-z0-9]{0,30}[a-z0-9])?", "[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?")),
        ) -> PodEnv {
            PodEnv {
                user, uid, group, gid, scratch_home_root, scratch_home, working_dir, hf_home,
                state: StateDirs { git_config_global: git, uv_cache_dir: uv_cache, uv_python_install_dir: uv_python },
                uv_python_version, tz,
                job: job.map(|(name, submission)| JobRun { name, submission }),
            }
        }
    }

    proptest! {
        #[test]
        fn every_valid_value_round_trips(pod in pod_env()) {
            prop_assert_eq!(read(&pod.to_env()), Ok(pod));
        }
    }
}
