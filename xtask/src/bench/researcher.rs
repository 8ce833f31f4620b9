//! The researcher whose pod the container benches start, and the variables
//! `submit` would give that pod, for the sandbox's and the image's layouts:
//! its job's name and submission too, so every start keeps its attempt
//! record as on the cluster.

use common::pod_env::{JobRun, PodEnv, StateDirs};
use nb_tests::sandbox::LAB_GID;

/// A researcher whose uid is neither in the sandbox's rootfs nor in the
/// image, so the first start adds an account and a restart finds it.
const USER: &str = "bench";
pub const UID: u32 = 123_456;
const GROUP: &str = "MLO-unit";

/// The pod's variables with scratch mounted at `scratch_mount`, the home
/// and working directory at `<scratch_mount>/homes/bench`.
pub fn env(scratch_mount: &str, hf_home: Option<String>) -> Vec<(&'static str, String)> {
    let homes = format!("{scratch_mount}/homes");
    let home = format!("{homes}/{USER}");
    PodEnv {
        user: USER.to_owned(),
        uid: UID,
        group: GROUP.to_owned(),
        gid: LAB_GID,
        scratch_home_root: homes,
        state: StateDirs::under(&home),
        scratch_home: home.clone(),
        working_dir: home,
        hf_home,
        uv_python_version: None,
        tz: None,
        // As `submit` names them: `<user>-<timestamp>`, `<timestamp>-<random>`.
        job: Some(JobRun { name: format!("{USER}-20261207-080000"), submission: "20261207-080000-b3nch0".to_owned() }),
    }
    .to_env()
}
