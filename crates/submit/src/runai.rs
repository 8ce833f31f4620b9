//! The `runai` command line, built as a value from a validated [`JobSpec`].
//!
//! It targets the v1-style commands that the RCP cluster's CLI (2.18)
//! accepts: `runai submit`, and `runai submit-dist pytorch` for distributed
//! jobs. Two pitfalls of that CLI shape the output: a bool flag is written
//! bare (`--flag`, never `--flag true`, which would leave a stray `true`),
//! and `--interactive`/`--preemptible` exist on `submit` only.

use crate::cli::NodeType;
use crate::invocation::Invocation;
use crate::pod_command::PodScript;

/// The program name, looked up on PATH.
pub const RUNAI: &str = "runai";

/// The network annotation RCP uses for RDMA over converged Ethernet.
pub const RDMA_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks=kube-system/roce";
/// The extended resource that gives each distributed pod an RDMA device.
pub const RDMA_RESOURCE: &str = "rdma/rdma=1";

/// Interactive, or training with a retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Interactive,
    Train { backoff_limit: u32 },
}

/// Everything the runai command needs, already validated.
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
    pub node_types: Vec<NodeType>,
    /// `NAME=value` pairs, in order.
    pub literal_env: Vec<(String, String)>,
    /// Keys the pod reads from the Secret.
    pub secret_keys: Vec<String>,
    /// `EXTRA_SECRET_KEYS` entries the file gives no value: not in the
    /// command, only for the caller's warning.
    pub unset_secret_keys: Vec<String>,
    pub secret_name: String,
    pub script: PodScript,
}

impl JobSpec {
    pub fn distributed(&self) -> bool {
        self.workers > 0
    }
}

/// Builds the runai invocation for `spec`.
pub fn submit_command(spec: &JobSpec) -> Invocation {
    let mut args: Vec<String> = Vec::new();
    let mut push = |flag: &str, value: &str| {
        args.push(flag.to_owned());
        args.push(value.to_owned());
    };
    let uid = spec.uid.to_string();
    let gid = spec.gid.to_string();
    push("--name", &spec.name);
    push("--project", &spec.project);
    push("--image", &spec.image);
    push("--gpu", &spec.gpus);
    push("--run-as-uid", &uid);
    push("--run-as-gid", &gid);
    push("--pvc", &format!("{}:{}", spec.pvc, spec.scratch_mount_path));
    push("--image-pull-policy", "Always");
    if let Some(cpus) = &spec.cpus {
        push("--cpu", cpus);
    }
    if let Some(memory) = &spec.memory {
        push("--memory", memory);
    }
    if let Mode::Train { backoff_limit } = spec.mode {
        push("--backoff-limit", &backoff_limit.to_string());
    }
    if let Some(port) = spec.port {
        push("--port", &port.to_string());
    }
    // v1 takes the pools, in order of preference, as one comma-joined value.
    let pools: Vec<&str> = spec.node_types.iter().filter_map(|t| t.pool()).collect();
    if !pools.is_empty() {
        push("--node-pools", &pools.join(","));
    }
    if spec.distributed() {
        push("--workers", &spec.workers.to_string());
        push("--annotation", RDMA_ANNOTATION);
        push("--extended-resource", RDMA_RESOURCE);
    }
    for (name, value) in &spec.literal_env {
        push("--environment", &format!("{name}={value}"));
    }
    for key in &spec.secret_keys {
        push("--environment", &format!("{key}=SECRET:{},{key}", spec.secret_name));
    }

    // Bool flags: bare, never followed by a value.
    args.push("--allow-privilege-escalation".to_owned());
    let interactive = spec.mode == Mode::Interactive && !spec.distributed();
    if interactive {
        args.push("--interactive".to_owned());
        if spec.node_types.iter().any(|t| t.interactive_needs_preemptible()) {
            args.push("--preemptible".to_owned());
        }
    }
    if spec.host_ipc {
        args.push("--host-ipc".to_owned());
    }
    if spec.large_shm {
        args.push("--large-shm".to_owned());
    }

    args.push("--".to_owned());
    args.extend(spec.script.argv());

    let mut full = if spec.distributed() {
        vec!["submit-dist".to_owned(), "pytorch".to_owned()]
    } else {
        vec!["submit".to_owned()]
    };
    full.extend(args);
    Invocation::new(RUNAI, full)
}

/// The commands to follow a submitted job, printed after a submission.
pub fn follow_up_commands(name: &str) -> [Invocation; 4] {
    let inv = |args: &[&str]| Invocation::new(RUNAI, args.iter().map(|s| (*s).to_owned()).collect());
    [
        inv(&["describe", "job", name]),
        inv(&["logs", name]),
        inv(&["exec", name, "-it", "--", "zsh"]),
        inv(&["delete", "job", name]),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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
            node_types: vec![],
            literal_env: vec![("NB_USER".into(), "ada".into())],
            secret_keys: vec!["HF_TOKEN".into()],
            unset_secret_keys: vec![],
            secret_name: "runai-mlo-ada-env".into(),
            script: PodScript { exp_folder: None, venv: None, command: "sleep 60".into() },
        }
    }

    fn args(spec: &JobSpec) -> Vec<String> {
        submit_command(spec).args
    }

    #[test]
    fn interactive_job_argv() {
        let a = args(&spec());
        let line = a[..a.len() - 1].join(" ");
        assert_eq!(
            line,
            "submit --name ada-20260101-120000 --project mlo-ada --image registry.example/mlo/base:uv1 \
             --gpu 1 --run-as-uid 123456 --run-as-gid 83070 --pvc mlo-scratch:/mloscratch \
             --image-pull-policy Always --environment NB_USER=ada \
             --environment HF_TOKEN=SECRET:runai-mlo-ada-env,HF_TOKEN \
             --allow-privilege-escalation --interactive -- /bin/zsh -c"
        );
    }

    #[test]
    fn bool_flags_are_never_followed_by_a_value() {
        let mut s = spec();
        s.host_ipc = true;
        s.large_shm = true;
        s.node_types = vec![NodeType::H100];
        let a = args(&s);
        for flag in ["--allow-privilege-escalation", "--interactive", "--preemptible", "--host-ipc", "--large-shm"] {
            let i = a.iter().position(|x| x == flag).unwrap_or_else(|| panic!("{flag} missing"));
            assert!(a[i + 1].starts_with("--"), "{flag} followed by {}", a[i + 1]);
        }
    }

    #[test]
    fn training_sets_backoff_and_drops_interactive() {
        let mut s = spec();
        s.mode = Mode::Train { backoff_limit: 2 };
        s.node_types = vec![NodeType::H200];
        let a = args(&s);
        assert!(a.windows(2).any(|w| w == ["--backoff-limit", "2"]));
        assert!(!a.contains(&"--interactive".to_owned()));
        assert!(!a.contains(&"--preemptible".to_owned()));
    }

    #[test]
    fn distributed_uses_submit_dist_without_submit_only_flags() {
        let mut s = spec();
        s.workers = 3;
        s.node_types = vec![NodeType::H100];
        let a = args(&s);
        assert_eq!(a[..2], ["submit-dist", "pytorch"]);
        assert!(a.windows(2).any(|w| w == ["--workers", "3"]));
        assert!(a.windows(2).any(|w| w == ["--annotation", RDMA_ANNOTATION]));
        assert!(a.windows(2).any(|w| w == ["--extended-resource", RDMA_RESOURCE]));
        assert!(!a.contains(&"--interactive".to_owned()));
        assert!(!a.contains(&"--preemptible".to_owned()));
    }

    #[test]
    fn interactive_preemptible_only_on_h100_h200() {
        let mut s = spec();
        s.node_types = vec![NodeType::A10040g, NodeType::V100];
        let a = args(&s);
        assert!(!a.contains(&"--preemptible".to_owned()));
        assert!(a.windows(2).any(|w| w == ["--node-pools", "a100-40g,v100"]));
    }

    #[test]
    fn any_pool_adds_no_node_pools_flag() {
        let mut s = spec();
        s.node_types = vec![NodeType::Any];
        assert!(!args(&s).iter().any(|a| a == "--node-pools"));
        s.node_types = vec![NodeType::Any, NodeType::H100];
        assert!(args(&s).windows(2).any(|w| w == ["--node-pools", "h100"]));
    }

    #[test]
    fn payload_is_the_last_argument() {
        let a = args(&spec());
        let snippet = a.last().unwrap();
        assert_eq!(crate::pod_command::decode_snippet(snippet).unwrap(), "sleep 60");
    }

    #[test]
    fn follow_ups_use_the_job_name() {
        let lines: Vec<String> = follow_up_commands("j1").iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            ["runai describe job j1", "runai logs j1", "runai exec j1 -it -- zsh", "runai delete job j1"]
        );
    }
}
