//! Ada, the researcher the pod tests start pods for: her LDAP account, her
//! place on scratch, and the variables `submit` gives her pod. Only what
//! pod-init needs is set; what it derives (SCRATCH_HOME, the state
//! directories, HOME) is left to it, since the tests check those.

use base64::Engine;
use common::env::EnvVars;

pub const USER: &str = "ada";
/// Her LDAP uid (not the seed's, as in the image).
pub const UID: u32 = 251_617;
pub const GROUP: &str = "MLO-unit";
pub const HOME: &str = "/home/ada";

/// `<scratch>/homes/ada`, with scratch mounted at `scratch`.
pub fn scratch_home(scratch: &str) -> String {
    format!("{scratch}/homes/{USER}")
}

/// `<scratch>/homes/ada/project`, where her jobs start.
pub fn working_dir(scratch: &str) -> String {
    format!("{}/project", scratch_home(scratch))
}

/// Her account (with `uid`:`gid` as the LDAP ids) and scratch layout.
pub fn account_vars(scratch: &str, uid: u32, gid: u32) -> [(&'static str, String); 6] {
    [
        (EnvVars::NB_USER, USER.to_owned()),
        (EnvVars::NB_UID, uid.to_string()),
        (EnvVars::NB_GROUP, GROUP.to_owned()),
        (EnvVars::NB_GID, gid.to_string()),
        (EnvVars::SCRATCH_HOME_ROOT, format!("{scratch}/homes")),
        (EnvVars::WORKING_DIR, working_dir(scratch)),
    ]
}

/// What the Secret gives the pod: the key pair (`private_key` as the user
/// pasted it, base64-encoded as `submit` stores it), the git identity, and
/// a secret of her own that the job keeps.
pub fn secret_vars(private_key: &str, public_key: &str) -> [(&'static str, String); 5] {
    [
        (EnvVars::SSH_PRIVATE_KEY_B64, base64::engine::general_purpose::STANDARD.encode(private_key)),
        (EnvVars::SSH_PUBLIC_KEY, public_key.to_owned()),
        (EnvVars::GIT_USER_NAME, "Ada Lovelace".to_owned()),
        (EnvVars::GIT_USER_EMAIL, "ada@epfl.ch".to_owned()),
        ("WANDB_API_KEY", "kept-for-the-job".to_owned()),
    ]
}

/// The job her pods belong to, as `submit` names it (`<user>-<timestamp>`
/// by default) and its submission (`YYYYmmdd-HHMMSS-xxxxxx`): every pod it
/// starts has both, so every start keeps its attempt record.
pub fn job_vars() -> [(&'static str, String); 2] {
    [
        (EnvVars::NB_JOB_NAME, format!("{USER}-20261207-080000")),
        (EnvVars::NB_SUBMISSION, "20261207-080000-k3x9qa".to_owned()),
    ]
}
