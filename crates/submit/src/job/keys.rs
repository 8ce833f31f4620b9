//! The keys of the researcher's `.env`, with their defaults.
//!
//! These are the file's names, which the wrapper defined; the names of the
//! variables the pod sees are a different contract and come from
//! `common::env::EnvVars`.

pub const LDAP_USERNAME: &str = "LDAP_USERNAME";
pub const LDAP_UID: &str = "LDAP_UID";
pub const LDAP_GROUPNAME: &str = "LDAP_GROUPNAME";
pub const LDAP_GID: &str = "LDAP_GID";
pub const RUNAI_PROJECT: &str = "RUNAI_PROJECT";
pub const K8S_NAMESPACE: &str = "K8S_NAMESPACE";
pub const RUNAI_IMAGE: &str = "RUNAI_IMAGE";
pub const RUNAI_SECRET_NAME: &str = "RUNAI_SECRET_NAME";
pub const SCRATCH_PVC: &str = "SCRATCH_PVC";
pub const SCRATCH_MOUNT_PATH: &str = "SCRATCH_MOUNT_PATH";
pub const SCRATCH_HOME_ROOT: &str = "SCRATCH_HOME_ROOT";
pub const SCRATCH_HOME: &str = "SCRATCH_HOME";
pub const WORKING_DIR: &str = "WORKING_DIR";
pub const HF_HOME: &str = "HF_HOME";
pub const UV_PYTHON_VERSION: &str = "UV_PYTHON_VERSION";
pub const TZ: &str = "TZ";
pub const EXTRA_SECRET_KEYS: &str = "EXTRA_SECRET_KEYS";
pub const GITHUB_SSH_KEY_PATH: &str = "GITHUB_SSH_KEY_PATH";
pub const GITHUB_SSH_PUBLIC_KEY_PATH: &str = "GITHUB_SSH_PUBLIC_KEY_PATH";
/// Which run:ai CLI dialect to speak: v1, v2 or auto.
pub const RUNAI_CLI: &str = "RUNAI_CLI";

/// The keys that configure submit rather than hold secrets: their values
/// may be shown (the Secret still carries them, as the wrapper's did).
pub const SETTINGS: [&str; 20] = [
    LDAP_USERNAME,
    LDAP_UID,
    LDAP_GROUPNAME,
    LDAP_GID,
    RUNAI_PROJECT,
    K8S_NAMESPACE,
    RUNAI_IMAGE,
    RUNAI_SECRET_NAME,
    SCRATCH_PVC,
    SCRATCH_MOUNT_PATH,
    SCRATCH_HOME_ROOT,
    SCRATCH_HOME,
    WORKING_DIR,
    HF_HOME,
    UV_PYTHON_VERSION,
    TZ,
    EXTRA_SECRET_KEYS,
    GITHUB_SSH_KEY_PATH,
    GITHUB_SSH_PUBLIC_KEY_PATH,
    RUNAI_CLI,
];

/// Python version uv picks when the `.env` names none.
pub const DEFAULT_UV_PYTHON_VERSION: &str = "3.11";
/// Time zone of the pod when the `.env` names none.
pub const DEFAULT_TZ: &str = "Europe/Zurich";
/// The private key loaded when the SSH keys are left empty (under `$HOME`).
pub const DEFAULT_GITHUB_KEY: &str = ".ssh/github";
/// The default command sleeps this long: the wrapper's 12 hours.
pub const DEFAULT_SLEEP: &str = "12h";
