//! What the user asked for, as plain values: the command layer fills it from
//! the flags (`cli/plan.rs`), the job builder (`job.rs`) checks it against
//! the `.env` and turns it into a [`crate::job::spec::JobSpec`]. A sweep
//! expands one request into one per point.
//!
//! Values are as given (text), because their errors name the flag and quote
//! what was typed; checking them is the builder's work.

use common::env::EnvVars;

use crate::job::spec::NodePools;

/// One job as asked for on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `--name`; none means `<user>-<timestamp>`.
    pub name: Option<String>,
    /// `--uid`, in place of `LDAP_UID`.
    pub uid: Option<String>,
    /// `--gid`, in place of `LDAP_GID`.
    pub gid: Option<String>,
    /// `--command`; none means a sleep for `time`.
    pub command: Option<String>,
    /// `--exp-folder`.
    pub exp_folder: Option<String>,
    /// `--venv`.
    pub venv: Option<String>,
    /// `--time`, the default command's sleep.
    pub time: Option<String>,
    /// `--gpus`.
    pub gpus: String,
    /// `--cpus`.
    pub cpus: Option<String>,
    /// `--memory`.
    pub memory: Option<String>,
    /// `--image`, in place of `RUNAI_IMAGE`.
    pub image: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--train`.
    pub train: bool,
    /// `--workers`: nodes besides the master.
    pub workers: u32,
    /// `--secret-name`, in place of `RUNAI_SECRET_NAME`.
    pub secret_name: Option<String>,
    /// `--pvc`, in place of `SCRATCH_PVC`.
    pub pvc: Option<String>,
    /// `--backofflimit`.
    pub backoff_limit: u32,
    /// `--node-type`, as run:ai pool names.
    pub node_pools: NodePools,
    /// `--host-ipc`.
    pub host_ipc: bool,
    /// `--large-shm`.
    pub large_shm: bool,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--grace`.
    pub grace: Option<String>,
    /// `-e KEY=VALUE` entries, as given.
    pub env: Vec<String>,
    /// `--runai-cli`, in place of `RUNAI_CLI`.
    pub runai_cli: Option<String>,
    /// The sweep this job is a point of; none for a lone job.
    pub sweep: Option<SweepMember>,
}

/// A job's place in its sweep, told to its pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepMember {
    /// The sweep's name (`--name`).
    pub sweep: String,
    /// How many points the sweep has.
    pub size: usize,
    /// This point's index, padded as in the job's name.
    pub index: String,
    /// This point as `KEY=VALUE` words.
    pub point: String,
}

impl SweepMember {
    /// `NB_SWEEP`, `NB_SWEEP_SIZE`, `NB_SWEEP_INDEX` and `NB_SWEEP_POINT`.
    pub fn pod_variables(&self) -> [(String, String); 4] {
        [
            (EnvVars::NB_SWEEP.to_owned(), self.sweep.clone()),
            (EnvVars::NB_SWEEP_SIZE.to_owned(), self.size.to_string()),
            (EnvVars::NB_SWEEP_INDEX.to_owned(), self.index.clone()),
            (EnvVars::NB_SWEEP_POINT.to_owned(), self.point.clone()),
        ]
    }
}
