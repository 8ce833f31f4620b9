//! The v1 dialect: `runai submit`, and `runai submit-dist pytorch` for
//! distributed jobs, as RCP's 2.18 CLI accepts them. `--interactive` and
//! `--preemptible` exist on `submit` only.

use anyhow::{Result, bail};

use super::{Args, RDMA_ANNOTATION, RDMA_RESOURCE, runai};
use crate::cluster::invocation::Invocation;
use crate::job::spec::{JobSpec, Mode};

pub fn submit_command(spec: &JobSpec) -> Result<Invocation> {
    if let Some(grace) = spec.stop.grace {
        bail!(
            "--grace={grace}s: the run:ai v1 CLI (runai submit) has no flag for the termination grace period, so the \
             pod would get the cluster's default (30 s); drop --grace, or use the v2 CLI (--runai-cli v2)"
        );
    }
    let mut a = Args::default();
    a.value("--name", &spec.name);
    a.value("--project", &spec.project);
    a.value("--image", &spec.image);
    a.value("--gpu", &spec.gpus);
    a.value("--run-as-uid", spec.uid.to_string());
    a.value("--run-as-gid", spec.gid.to_string());
    a.value("--pvc", format!("{}:{}", spec.pvc, spec.scratch_mount_path));
    a.value("--image-pull-policy", "Always");
    a.value_if("--cpu", spec.cpus.as_deref());
    a.value_if("--memory", spec.memory.as_deref());
    if let Mode::Train { backoff_limit } = spec.mode {
        a.value("--backoff-limit", backoff_limit.to_string());
    }
    a.value_if("--port", spec.port.map(|p| p.to_string()));
    a.value_if("--node-pools", spec.node_pools.joined());
    if spec.distributed() {
        a.value("--workers", spec.workers.to_string());
        a.value("--annotation", RDMA_ANNOTATION);
        a.value("--extended-resource", RDMA_RESOURCE);
    }
    for (name, value) in &spec.literal_env {
        a.value("--environment", format!("{name}={value}"));
    }
    for key in &spec.secret_keys {
        a.value("--environment", format!("{key}=SECRET:{},{key}", spec.secret_name));
    }
    a.set("--allow-privilege-escalation");
    if spec.interactive() {
        a.set("--interactive");
        if spec.node_pools.interactive_needs_preemptible() {
            a.set("--preemptible");
        }
    }
    if spec.host_ipc {
        a.set("--host-ipc");
    }
    if spec.large_shm {
        a.set("--large-shm");
    }
    let command: &[&str] = if spec.distributed() { &["submit-dist", "pytorch"] } else { &["submit"] };
    Ok(runai(command.iter().map(|w| (*w).to_owned()).chain(a.container_command(spec))))
}

/// Describe, logs and a shell in the job.
pub fn follow_up_commands(name: &str) -> Vec<Invocation> {
    vec![runai(["describe", "job", name]), runai(["logs", name]), runai(["exec", name, "-it", "--", "zsh"])]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::spec::tests::{pools, spec};

    fn args(spec: &JobSpec) -> Vec<String> {
        submit_command(spec).unwrap().args
    }

    #[test]
    fn a_grace_period_is_refused_naming_the_flag() {
        let mut s = spec();
        s.stop.grace = Some(crate::job::duration::Seconds(120));
        let err = submit_command(&s).unwrap_err().to_string();
        assert!(err.starts_with("--grace=120s: the run:ai v1 CLI (runai submit) has no flag"), "{err}");
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
        s.node_pools = pools(&["h100"]);
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
        s.node_pools = pools(&["h200"]);
        let a = args(&s);
        assert!(a.windows(2).any(|w| w == ["--backoff-limit", "2"]));
        assert!(!a.contains(&"--interactive".to_owned()));
        assert!(!a.contains(&"--preemptible".to_owned()));
    }

    #[test]
    fn distributed_uses_submit_dist_without_submit_only_flags() {
        let mut s = spec();
        s.workers = 3;
        s.node_pools = pools(&["h100"]);
        let a = args(&s);
        assert_eq!(a[..2], ["submit-dist", "pytorch"]);
        assert!(a.windows(2).any(|w| w == ["--workers", "3"]));
        assert!(a.windows(2).any(|w| w == ["--annotation", RDMA_ANNOTATION]));
        assert!(a.windows(2).any(|w| w == ["--extended-resource", RDMA_RESOURCE]));
        assert!(!a.contains(&"--interactive".to_owned()));
        assert!(!a.contains(&"--preemptible".to_owned()));
    }

    #[test]
    fn several_pools_are_one_comma_separated_flag() {
        let mut s = spec();
        s.node_pools = pools(&["a100-40g", "v100"]);
        let a = args(&s);
        assert!(!a.contains(&"--preemptible".to_owned()));
        assert!(a.windows(2).any(|w| w == ["--node-pools", "a100-40g,v100"]));
        assert_eq!(a.iter().filter(|w| *w == "--node-pools").count(), 1);
    }

    #[test]
    fn no_pool_adds_no_node_pools_flag() {
        assert!(!args(&spec()).iter().any(|a| a == "--node-pools"));
    }

    #[test]
    fn payload_is_the_last_argument() {
        let a = args(&spec());
        let snippet = a.last().unwrap();
        assert_eq!(crate::job::pod_command::decode_snippet(snippet).unwrap(), "sleep 60");
    }

    #[test]
    fn follow_ups_use_the_job_name() {
        let mut s = spec();
        s.name = "j1".into();
        let lines: Vec<String> =
            super::super::follow_up_commands(&s, super::super::Dialect::V1).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            ["runai describe job j1", "runai logs j1", "runai exec j1 -it -- zsh", "runai delete job j1"]
        );
    }
}
