//! The environment contract between `submit` (the writer) and `pod-init`
//! (the reader).
//!
//! Each constant documents who sets the variable, who reads it and its
//! default. `submit` builds the pod's environment from these names only and
//! `pod-init` looks them up by these names only, so a rename is a compile
//! error on both sides rather than a silent mismatch in a running pod.

/// Names of the environment variables that cross from `submit` to the pod.
#[derive(Debug)]
pub struct EnvVars;

impl EnvVars {
    /// The researcher's login name (LDAP/Gaspar). Set by `submit` from
    /// `LDAP_USERNAME`; read by `pod-init`, which creates this user. Required.
    pub const NB_USER: &'static str = "NB_USER";
    /// The researcher's numeric uid. Set by `submit` from `LDAP_UID`; read by
    /// `pod-init`. Required, never 0.
    pub const NB_UID: &'static str = "NB_UID";
    /// The name of the researcher's primary group. Set by `submit` from
    /// `LDAP_GROUPNAME`; read by `pod-init`. Required.
    pub const NB_GROUP: &'static str = "NB_GROUP";
    /// The numeric gid of the primary group. Set by `submit` from
    /// `LDAP_GID`; read by `pod-init`. Required, never 0.
    pub const NB_GID: &'static str = "NB_GID";
    /// The job's name (`--name`, or the default `<user>-<time>`), the same
    /// for every start of it. Set by `submit`; read by `pod-init`, which
    /// keeps the job's attempt record under this name, and by the user's
    /// programs.
    pub const NB_JOB_NAME: &'static str = "NB_JOB_NAME";
    /// What tells one submission of a job from another of the same name:
    /// new at every `submit`, the same for every start of that submission
    /// (a restarted container, a pod recreated after preemption). A
    /// DNS-1123 label. Set by `submit`; read by `pod-init`, whose attempt
    /// count starts again at 1 when it changes.
    pub const NB_SUBMISSION: &'static str = "NB_SUBMISSION";
    /// The signal the job gets in place of SIGTERM when the pod is stopped
    /// (`USR1`, `INT`, ...; see [`crate::validate::stop_signal`]). Set by
    /// `submit --stop-signal`; read by `pod-init`. Default `TERM`.
    pub const NB_STOP_SIGNAL: &'static str = "NB_STOP_SIGNAL";
    /// Which start of this submission the command is: 1, then 2, 3, ...
    /// Set by `pod-init` for the command when the job has a name and a
    /// submission; read by the user's programs (resume when above 1).
    pub const NB_ATTEMPT: &'static str = "NB_ATTEMPT";
    /// How the previous start of this submission ended: its exit code,
    /// `SIG<NAME>` when a signal ended it, or `unknown` when it left no end
    /// (pod-init itself was killed). Set by `pod-init` from the second
    /// start on; read by the user's programs.
    pub const NB_PREVIOUS_EXIT: &'static str = "NB_PREVIOUS_EXIT";
    /// The node the pod runs on, when the pod spec passes it (the downward
    /// API's `spec.nodeName`). Not set by `submit`; read by `pod-init`,
    /// which notes it in the attempt record.
    pub const NODE_NAME: &'static str = "NODE_NAME";
    /// The kind of job (`interactive`, `train`, `distributed:<nodes>`, see
    /// [`crate::job_kind::JobKind`]). Set by `submit`; read back by `submit
    /// list` from the pod's spec. pod-init does not use it.
    pub const NB_JOB_KIND: &'static str = "NB_JOB_KIND";
    /// The sweep a job belongs to: the name given with `--name` to a
    /// `submit --sweep`, whose jobs are `<sweep>-<index>`. Set by `submit`
    /// for every point of a sweep, never otherwise; read back by `submit
    /// list`, `clean` and `delete`, which group a sweep's jobs by it.
    /// pod-init does not use it.
    pub const NB_SWEEP: &'static str = "NB_SWEEP";
    /// How many points the sweep has. Set by `submit` with [`Self::NB_SWEEP`];
    /// read back by `submit list` ("12: 3 running, ...").
    pub const NB_SWEEP_SIZE: &'static str = "NB_SWEEP_SIZE";
    /// This job's index in its sweep, from 0, zero-padded to the sweep's
    /// width (`07`), as in the job's name. Set by `submit` with
    /// [`Self::NB_SWEEP`]; read by the user's programs and `submit list`.
    pub const NB_SWEEP_INDEX: &'static str = "NB_SWEEP_INDEX";
    /// This job's point of the sweep as `KEY=VALUE` words in the sweep's key
    /// order (`lr=1e-3 seed=0`), so the job can name its run after it. Set by
    /// `submit` with [`Self::NB_SWEEP`]; read by the user's programs.
    pub const NB_SWEEP_POINT: &'static str = "NB_SWEEP_POINT";
    /// The directory the command runs in. Set by `submit` (default
    /// `SCRATCH_HOME`); read by `pod-init`, which creates it. Required.
    pub const WORKING_DIR: &'static str = "WORKING_DIR";
    /// The directory that holds every researcher's persistent home on
    /// scratch. Set by `submit` (default `<SCRATCH_MOUNT_PATH>/homes`); read
    /// by `pod-init`. Required.
    pub const SCRATCH_HOME_ROOT: &'static str = "SCRATCH_HOME_ROOT";
    /// The researcher's persistent home on scratch. Set by `submit` (default
    /// `<SCRATCH_HOME_ROOT>/<NB_USER>`, whatever `WORKING_DIR` is); read by
    /// `pod-init`, which falls back to the same path when it is unset.
    pub const SCRATCH_HOME: &'static str = "SCRATCH_HOME";
    /// The shared Hugging Face cache. Set by `submit` (default
    /// `<SCRATCH_MOUNT_PATH>/hf_cache`); read by `pod-init`, which creates it
    /// group-writable, and by the Hugging Face libraries.
    pub const HF_HOME: &'static str = "HF_HOME";
    /// The global git configuration file, kept on scratch so it survives the
    /// pod. Set by `submit` (default `<SCRATCH_HOME>/.gitconfig`); read by
    /// `pod-init` and git.
    pub const GIT_CONFIG_GLOBAL: &'static str = "GIT_CONFIG_GLOBAL";
    /// uv's package cache. Set by `submit` (default
    /// `<SCRATCH_HOME>/.cache/uv`); `pod-init` creates it; read by uv.
    pub const UV_CACHE_DIR: &'static str = "UV_CACHE_DIR";
    /// Where uv installs Python toolchains. Set by `submit` (default
    /// `<SCRATCH_HOME>/.uv`); `pod-init` creates it; read by uv.
    pub const UV_PYTHON_INSTALL_DIR: &'static str = "UV_PYTHON_INSTALL_DIR";
    /// The Python uv uses for every command, ahead of a project's
    /// `.python-version`. Not set by `submit` (the wrapper never set it, and
    /// forcing one version breaks projects pinned to another); a user may set
    /// it. Read by uv only.
    pub const UV_PYTHON: &'static str = "UV_PYTHON";
    /// The Python version named by the `.env`'s `UV_PYTHON_VERSION` (default
    /// 3.11). Set by `submit` under this name, as the wrapper did, for the
    /// user's scripts; uv itself does not read it.
    pub const UV_PYTHON_VERSION: &'static str = "UV_PYTHON_VERSION";
    /// The account that owns the scratch root and creates directories there
    /// (root is squashed on NFS). Set by the image; read by `pod-init`.
    /// Default [`DEFAULT_SCRATCH_SEED_USER`].
    pub const SCRATCH_SEED_USER: &'static str = "SCRATCH_SEED_USER";
    /// The home the command sees. Set by `submit` to `/home/<NB_USER>`;
    /// `pod-init` sets it again for the command.
    pub const HOME: &'static str = "HOME";
    /// Kept for scripts written for the old wrapper: the LDAP user name.
    /// Set by `submit`; read by users' scripts only.
    pub const EPFML_LDAP: &'static str = "EPFML_LDAP";
    /// The time zone. Set by `submit` from `TZ` (default Europe/Zurich).
    pub const TZ: &'static str = "TZ";
    /// The private SSH key, base64. Set through the Secret; read by
    /// `pod-init`, which writes it to `~/.ssh` and removes it from the
    /// command's environment.
    pub const SSH_PRIVATE_KEY_B64: &'static str = "SSH_PRIVATE_KEY_B64";
    /// The public SSH key, one line. Set through the Secret; read by
    /// `pod-init`.
    pub const SSH_PUBLIC_KEY: &'static str = "SSH_PUBLIC_KEY";
    /// Lines for `~/.ssh/known_hosts`. Set through the Secret; read by
    /// `pod-init`.
    pub const SSH_KNOWN_HOSTS: &'static str = "SSH_KNOWN_HOSTS";
    /// git's `user.name`. Set through the Secret; `pod-init` writes it to the
    /// global git config when none is set.
    pub const GIT_USER_NAME: &'static str = "GIT_USER_NAME";
    /// git's `user.email`. Set through the Secret; as `GIT_USER_NAME`.
    pub const GIT_USER_EMAIL: &'static str = "GIT_USER_EMAIL";
    /// The log filter of `pod-init` (`tracing` syntax, e.g. `debug`). Set by
    /// the user; read by `pod-init`. Default `info`.
    pub const POD_INIT_LOG: &'static str = "POD_INIT_LOG";
    /// Who gets the signals `pod-init` forwards. Unset: a stop (SIGTERM,
    /// or SIGINT/SIGHUP from outside) goes to the command's whole process
    /// group, any other signal to the command alone. `1`/`true`/`yes`:
    /// every signal to the group. `0`/`false`/`no`: every signal to the
    /// command alone, which decides how its workers stop. Set by the user;
    /// read by `pod-init`.
    pub const POD_INIT_SIGNAL_GROUP: &'static str = "POD_INIT_SIGNAL_GROUP";
    /// Milliseconds `pod-init` waits between SIGTERM and SIGKILL for the
    /// processes still running after the command exited by itself. Set by
    /// the user; read by `pod-init`. Default 2000, at most 3600000. Never
    /// applies after a stop (the kubelet owns that grace period).
    pub const POD_INIT_KILL_GRACE_MS: &'static str = "POD_INIT_KILL_GRACE_MS";
}

/// The variables `pod-init` cannot bootstrap without. When any is missing it
/// runs the command unchanged.
pub const REQUIRED_POD_VARS: [&str; 6] = [
    EnvVars::NB_USER,
    EnvVars::NB_UID,
    EnvVars::NB_GROUP,
    EnvVars::NB_GID,
    EnvVars::SCRATCH_HOME_ROOT,
    EnvVars::WORKING_DIR,
];

/// The variables `pod-init` reads when they are set, beyond
/// [`REQUIRED_POD_VARS`]: defaults it can derive, the image's seed user, and
/// the Secret's keys, the job's name, submission and stop signal, and the node
/// the pod runs on. Its usage text lists these.
pub const OPTIONAL_POD_VARS: [&str; 15] = [
    EnvVars::SCRATCH_HOME,
    EnvVars::HF_HOME,
    EnvVars::GIT_CONFIG_GLOBAL,
    EnvVars::UV_CACHE_DIR,
    EnvVars::UV_PYTHON_INSTALL_DIR,
    EnvVars::SCRATCH_SEED_USER,
    EnvVars::SSH_PRIVATE_KEY_B64,
    EnvVars::SSH_PUBLIC_KEY,
    EnvVars::SSH_KNOWN_HOSTS,
    EnvVars::GIT_USER_NAME,
    EnvVars::GIT_USER_EMAIL,
    EnvVars::NB_JOB_NAME,
    EnvVars::NB_SUBMISSION,
    EnvVars::NB_STOP_SIGNAL,
    EnvVars::NODE_NAME,
];

/// `pod-init`'s own settings, set by the user: its log level and the
/// supervisor's knobs.
pub const POD_INIT_SETTINGS: [&str; 3] =
    [EnvVars::POD_INIT_LOG, EnvVars::POD_INIT_SIGNAL_GROUP, EnvVars::POD_INIT_KILL_GRACE_MS];

/// The keys `submit` exposes to the pod by reference to the Secret, whenever
/// the `.env` gives them a non-empty value (`EXTRA_SECRET_KEYS` adds more).
/// The Secret itself holds every non-empty key of the `.env`.
pub const DEFAULT_SECRET_KEYS: [&str; 8] = [
    "WANDB_API_KEY",
    "HF_TOKEN",
    "GITHUB_TOKEN",
    EnvVars::SSH_PRIVATE_KEY_B64,
    EnvVars::SSH_PUBLIC_KEY,
    EnvVars::SSH_KNOWN_HOSTS,
    EnvVars::GIT_USER_NAME,
    EnvVars::GIT_USER_EMAIL,
];

/// Variables `pod-init` sets for the command itself on a bootstrap, on top
/// of the ones `submit` sends: what a login sets, and zsh's state on
/// scratch. A value the pod brings for one of them is replaced.
pub const SET_BY_POD_INIT: [&str; 8] =
    ["USER", "LOGNAME", "SHELL", "ZDOTDIR", "ZSH", "HISTFILE", EnvVars::NB_ATTEMPT, EnvVars::NB_PREVIOUS_EXIT];

/// Variables that never reach the user's command: `pod-init` consumes them.
pub const CONSUMED_BY_POD_INIT: [&str; 1] = [EnvVars::SSH_PRIVATE_KEY_B64];

/// The account that owns the scratch root on the RCP cluster.
pub const DEFAULT_SCRATCH_SEED_USER: &str = "mljaggi-admin";

/// The uid of [`DEFAULT_SCRATCH_SEED_USER`] on the cluster's NFS. The image
/// creates the seed account with it (a build argument), so that the seed's
/// writes on scratch are the owner's writes.
pub const DEFAULT_SCRATCH_SEED_UID: u32 = 177449;

/// Where the scratch PVC is mounted unless `SCRATCH_MOUNT_PATH` says
/// otherwise.
pub const DEFAULT_SCRATCH_MOUNT_PATH: &str = "/mloscratch";

/// The default of `SCRATCH_HOME` given the user and the root.
pub fn default_scratch_home(scratch_home_root: &str, user: &str) -> String {
    format!("{}/{user}", scratch_home_root.trim_end_matches('/'))
}

/// The ephemeral home inside the pod.
pub fn pod_home(user: &str) -> String {
    format!("/home/{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_home_joins_without_double_slash() {
        assert_eq!(default_scratch_home("/mloscratch/homes/", "ada"), "/mloscratch/homes/ada");
        assert_eq!(default_scratch_home("/mloscratch/homes", "ada"), "/mloscratch/homes/ada");
    }

    #[test]
    fn required_vars_are_distinct() {
        let mut names = REQUIRED_POD_VARS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REQUIRED_POD_VARS.len());
    }
}
