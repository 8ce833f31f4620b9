//! The job as `submit` understands it, validated and free of any command
//! line: the CLI flags are parsed into it (`job.rs`) and each run:ai dialect
//! renders it (`runai/`).

use anyhow::{Result, anyhow};
use common::env::EnvVars;
use common::validate;

use crate::job::duration::{self, Seconds};
use crate::job::pod_command::PodScript;

/// Interactive, or training with a retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Interactive,
    Train { backoff_limit: u32 },
}

/// A GPU node pool of the cluster, by the name run:ai knows it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePool(String);

impl NodePool {
    pub fn new(name: &str) -> Self {
        NodePool(name.to_owned())
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// Interactive jobs on the H100 and H200 pools must be preemptible (RCP
    /// policy).
    pub fn interactive_needs_preemptible(&self) -> bool {
        matches!(self.0.as_str(), "h100" | "h200")
    }
}

/// The pools a job may run on, in order of preference; empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodePools(Vec<NodePool>);

impl NodePools {
    /// Pools in the given order, each once.
    pub fn new(pools: impl IntoIterator<Item = NodePool>) -> Self {
        let mut unique: Vec<NodePool> = Vec::new();
        for pool in pools {
            if !unique.contains(&pool) {
                unique.push(pool);
            }
        }
        NodePools(unique)
    }

    pub fn iter(&self) -> impl Iterator<Item = &NodePool> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One value listing every pool, comma-separated (the v1 CLI's single
    /// `--node-pools` flag); `None` for any pool.
    pub fn joined(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.0.iter().map(NodePool::name).collect::<Vec<_>>().join(","))
    }

    /// Whether an interactive job on these pools must be preemptible.
    pub fn interactive_needs_preemptible(&self) -> bool {
        self.0.iter().any(NodePool::interactive_needs_preemptible)
    }
}

/// How the job is stopped (preemption, `runai delete`): the signal it gets
/// in place of SIGTERM, and how long the kubelet waits before SIGKILL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stop {
    /// `--stop-signal`, as [`validate::STOP_SIGNALS`] spells it.
    pub signal: Option<&'static str>,
    /// `--grace`: the pod's termination grace period.
    pub grace: Option<Seconds>,
}

impl Stop {
    /// From `--stop-signal` and `--grace`, checked.
    pub fn from_flags(signal: Option<&str>, grace: Option<&str>) -> Result<Stop> {
        Ok(Stop {
            signal: signal.map(|s| validate::stop_signal("--stop-signal", s)).transpose()?,
            grace: grace.map(|g| duration::parse(g).map_err(|e| anyhow!("--grace={g:?} {e}"))).transpose()?,
        })
    }

    /// The pod variable that tells pod-init the signal, when one is asked.
    pub fn pod_variable(&self) -> Option<(String, String)> {
        self.signal.map(|name| (EnvVars::NB_STOP_SIGNAL.to_owned(), name.to_owned()))
    }
}

/// Everything a run:ai command needs, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    pub name: String,
    pub project: String,
    pub image: String,
    /// Normalized number (`0`, `1`, `0.5`).
    pub gpus: String,
    pub uid: u32,
    pub gid: u32,
    pub pvc: String,
    pub scratch_mount_path: String,
    pub cpus: Option<String>,
    pub memory: Option<String>,
    pub mode: Mode,
    /// Nodes besides the master; more than 0 means distributed.
    pub workers: u32,
    pub port: Option<u16>,
    pub host_ipc: bool,
    pub large_shm: bool,
    pub node_pools: NodePools,
    /// `NAME=value` pairs, in order: what submit sets, then `-e` entries.
    pub literal_env: Vec<(String, String)>,
    /// Keys the pod reads from the Secret.
    pub secret_keys: Vec<String>,
    /// `EXTRA_SECRET_KEYS` entries the file gives no value: not in the
    /// command, only for the caller's warning.
    pub unset_secret_keys: Vec<String>,
    pub secret_name: String,
    pub script: PodScript,
    pub stop: Stop,
}

impl JobSpec {
    pub fn distributed(&self) -> bool {
        self.workers > 0
    }

    /// An interactive job: not training and not distributed.
    pub fn interactive(&self) -> bool {
        self.mode == Mode::Interactive && !self.distributed()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small valid job for the dialects' unit tests.
    pub(crate) fn spec() -> JobSpec {
        JobSpec {
            name: "ada-20260101-120000".into(),
            project: "mlo-ada".into(),
            image: "registry.example/mlo/base:uv1".into(),
            gpus: "1".into(),
            uid: 123456,
            gid: 83070,
            pvc: "mlo-scratch".into(),
            scratch_mount_path: "/mloscratch".into(),
            cpus: None,
            memory: None,
            mode: Mode::Interactive,
            workers: 0,
            port: None,
            host_ipc: false,
            large_shm: false,
            node_pools: NodePools::default(),
            literal_env: vec![("NB_USER".into(), "ada".into())],
            secret_keys: vec!["HF_TOKEN".into()],
            unset_secret_keys: vec![],
            secret_name: "runai-mlo-ada-env".into(),
            script: PodScript { exp_folder: None, venv: None, command: "sleep 60".into() },
            stop: Stop::default(),
        }
    }

    pub(crate) fn pools(names: &[&str]) -> NodePools {
        NodePools::new(names.iter().map(|n| NodePool::new(n)))
    }

    #[test]
    fn stop_flags_are_checked_and_named_in_errors() {
        let stop = Stop::from_flags(Some("sigusr1"), Some("2m")).unwrap();
        assert_eq!(stop, Stop { signal: Some("USR1"), grace: Some(Seconds(120)) });
        assert_eq!(stop.pod_variable(), Some(("NB_STOP_SIGNAL".to_owned(), "USR1".to_owned())));
        assert_eq!(Stop::from_flags(None, None).unwrap().pod_variable(), None);
        let err = |s, g| Stop::from_flags(s, g).unwrap_err().to_string();
        assert!(err(Some("KILL"), None).starts_with("--stop-signal=\"KILL\": must be one of TERM, INT"));
        assert!(err(None, Some("soon")).starts_with("--grace=\"soon\" is not a duration"));
    }

    #[test]
    fn pools_keep_their_order_once_each() {
        let p = pools(&["h200", "h100", "h200"]);
        assert_eq!(p.joined().as_deref(), Some("h200,h100"));
        assert!(p.interactive_needs_preemptible());
        assert!(!pools(&["a100-40g", "v100"]).interactive_needs_preemptible());
        assert_eq!(NodePools::default().joined(), None);
    }
}
