//! The v2 dialect: `runai workspace submit NAME` for interactive jobs,
//! `runai training submit NAME` for training, `runai training pytorch
//! submit NAME` for distributed training.
//!
//! What differs from v1: the name is positional; GPUs are a whole number of
//! devices or a portion of one; the scratch claim is `--existing-pvc`; each
//! node pool is its own `--node-pools`; a Secret key reaches the pod through
//! `--env-secret`, which the 2.19-era CLI does not have. The master of a
//! distributed job gets its GPUs and RDMA device through its own flags.

use anyhow::{Result, bail};

use super::{Args, RDMA_ANNOTATION, RDMA_RESOURCE, V2Flags, runai};
use crate::cluster::invocation::Invocation;
use crate::job::spec::{JobSpec, Mode};

/// The workload type, as the words before `submit`.
fn workload(spec: &JobSpec) -> &'static [&'static str] {
    if spec.distributed() {
        &["training", "pytorch"]
    } else if spec.interactive() {
        &["workspace"]
    } else {
        &["training"]
    }
}

/// How the GPUs are requested.
enum Gpus<'a> {
    Devices(&'a str),
    Portion(&'a str),
}

fn gpus(spec: &JobSpec) -> Result<Gpus<'_>> {
    let text = spec.gpus.as_str();
    if text.parse::<u32>().is_ok() {
        return Ok(Gpus::Devices(text));
    }
    let portion = text.parse::<f64>().ok().filter(|g| *g > 0.0 && *g < 1.0);
    match portion {
        Some(_) if spec.distributed() => {
            bail!("--gpus={text}: a distributed job takes whole GPUs with the run:ai v2 CLI")
        }
        Some(_) => Ok(Gpus::Portion(text)),
        None => bail!("--gpus={text}: the run:ai v2 CLI takes a whole number of GPUs or a fraction below 1"),
    }
}

pub fn submit_command(spec: &JobSpec, flags: V2Flags) -> Result<Invocation> {
    if !flags.env_secret && !spec.secret_keys.is_empty() {
        bail!(
            "the installed run:ai CLI is v2 without --env-secret, so it has no way to give the pod a variable from \
             the Secret {} ({}), and submit never puts a secret value on the command line; set RUNAI_CLI=v1 in the \
             .env (or pass --runai-cli v1) if the cluster still takes v1 commands, or update the run:ai CLI",
            spec.secret_name,
            spec.secret_keys.join(", ")
        );
    }
    let mut a = Args::default();
    a.value("--project", &spec.project);
    a.value("--image", &spec.image);
    match gpus(spec)? {
        Gpus::Devices(n) => a.value("--gpu-devices-request", n),
        Gpus::Portion(f) => a.value("--gpu-portion-request", f),
    }
    a.value("--run-as-uid", spec.uid.to_string());
    a.value("--run-as-gid", spec.gid.to_string());
    a.value("--existing-pvc", format!("claimname={},path={}", spec.pvc, spec.scratch_mount_path));
    a.value("--image-pull-policy", "Always");
    a.value_if("--cpu-core-request", spec.cpus.as_deref());
    a.value_if("--cpu-memory-request", spec.memory.as_deref());
    if let Mode::Train { backoff_limit } = spec.mode {
        a.value("--backoff-limit", backoff_limit.to_string());
    }
    a.value_if("--port", spec.port.map(|p| format!("container={p}")));
    for pool in spec.node_pools.iter() {
        a.value("--node-pools", pool.name());
    }
    if spec.distributed() {
        a.value("--workers", spec.workers.to_string());
        a.value("--master-gpu-devices-request", &spec.gpus);
        a.value("--annotation", RDMA_ANNOTATION);
        a.value("--extended-resource", RDMA_RESOURCE);
        a.value("--master-extended-resource", RDMA_RESOURCE);
    }
    for (name, value) in &spec.literal_env {
        a.value(flags.plain_env, format!("{name}={value}"));
    }
    for key in &spec.secret_keys {
        a.value("--env-secret", format!("{key}={},key={key}", spec.secret_name));
    }
    a.set("--allow-privilege-escalation");
    if spec.interactive() && spec.node_pools.interactive_needs_preemptible() {
        a.set("--preemptible");
    }
    // A Go duration; whole seconds say it exactly.
    a.value_if("--termination-grace-period", spec.stop.grace.map(|g| format!("{g}s")));
    if spec.host_ipc {
        a.set("--host-ipc");
    }
    if spec.large_shm {
        a.set("--large-shm");
    }
    let words = workload(spec).iter().map(|w| (*w).to_owned());
    let head = words.chain(["submit".to_owned(), spec.name.clone()]);
    Ok(runai(head.chain(a.container_command(spec))))
}

/// Describe, logs and a shell in the job, for its workload type.
pub fn follow_up_commands(spec: &JobSpec) -> Vec<Invocation> {
    let kind = workload(spec);
    let with = |verb: &[&str]| runai(kind.iter().chain(verb).map(|w| (*w).to_owned()));
    let name = spec.name.as_str();
    vec![with(&["describe", name]), with(&["logs", name]), with(&["exec", name, "--stdin", "--tty", "--", "zsh"])]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::spec::tests::{pools, spec};

    fn args(spec: &JobSpec) -> Vec<String> {
        submit_command(spec, V2Flags::ERA_2_2X).unwrap().args
    }

    fn has(a: &[String], flag: &str, value: &str) -> bool {
        a.windows(2).any(|w| w[0] == flag && w[1] == value)
    }

    #[test]
    fn the_grace_is_a_termination_grace_period_in_seconds() {
        let mut s = spec();
        assert!(!args(&s).iter().any(|a| a == "--termination-grace-period"));
        s.stop.grace = Some(crate::job::duration::Seconds(150));
        assert!(has(&args(&s), "--termination-grace-period", "150s"));
    }

    #[test]
    fn interactive_job_is_a_workspace() {
        let a = args(&spec());
        let line = a[..a.len() - 1].join(" ");
        assert_eq!(
            line,
            "workspace submit ada-20260101-120000 --project mlo-ada --image registry.example/mlo/base:uv1 \
             --gpu-devices-request 1 --run-as-uid 123456 --run-as-gid 83070 \
             --existing-pvc claimname=mlo-scratch,path=/mloscratch --image-pull-policy Always \
             --environment-variable NB_USER=ada --env-secret HF_TOKEN=runai-mlo-ada-env,key=HF_TOKEN \
             --allow-privilege-escalation -- /bin/zsh -c"
        );
    }

    #[test]
    fn the_2_19_era_flags_name_plain_variables_with_environment() {
        let mut s = spec();
        s.secret_keys.clear();
        let a = submit_command(&s, V2Flags::ERA_2_19).unwrap().args;
        assert!(has(&a, "--environment", "NB_USER=ada"), "{a:?}");
    }

    #[test]
    fn secret_keys_without_env_secret_are_refused_naming_the_capability() {
        let err = submit_command(&spec(), V2Flags::ERA_2_19).unwrap_err().to_string();
        assert!(err.contains("without --env-secret"), "{err}");
        assert!(err.contains("RUNAI_CLI=v1"), "{err}");
        assert!(err.contains("HF_TOKEN"), "{err}");
    }

    #[test]
    fn fractions_use_the_portion_flag() {
        let mut s = spec();
        s.gpus = "0.5".into();
        let a = args(&s);
        assert!(has(&a, "--gpu-portion-request", "0.5"));
        assert!(!a.contains(&"--gpu-devices-request".to_owned()));
        s.gpus = "1.5".into();
        let err = submit_command(&s, V2Flags::ERA_2_2X).unwrap_err().to_string();
        assert_eq!(err, "--gpus=1.5: the run:ai v2 CLI takes a whole number of GPUs or a fraction below 1");
        s.gpus = "0.5".into();
        s.workers = 1;
        let err = submit_command(&s, V2Flags::ERA_2_2X).unwrap_err().to_string();
        assert_eq!(err, "--gpus=0.5: a distributed job takes whole GPUs with the run:ai v2 CLI");
    }

    #[test]
    fn training_and_distributed_commands() {
        let mut s = spec();
        s.mode = Mode::Train { backoff_limit: 2 };
        s.node_pools = pools(&["h100"]);
        let a = args(&s);
        assert_eq!(a[..3], ["training", "submit", "ada-20260101-120000"]);
        assert!(has(&a, "--backoff-limit", "2"));
        assert!(!a.contains(&"--preemptible".to_owned()), "training jobs are preemptible by default");
        s.workers = 3;
        s.gpus = "8".into();
        let a = args(&s);
        assert_eq!(a[..4], ["training", "pytorch", "submit", "ada-20260101-120000"]);
        assert!(has(&a, "--workers", "3"));
        assert!(has(&a, "--gpu-devices-request", "8"));
        assert!(has(&a, "--master-gpu-devices-request", "8"));
        assert!(has(&a, "--annotation", RDMA_ANNOTATION));
        assert!(has(&a, "--extended-resource", RDMA_RESOURCE));
        assert!(has(&a, "--master-extended-resource", RDMA_RESOURCE));
    }

    #[test]
    fn every_pool_is_its_own_flag_and_h100_workspaces_are_preemptible() {
        let mut s = spec();
        s.node_pools = pools(&["h100", "h200"]);
        s.port = Some(8888);
        s.host_ipc = true;
        let a = args(&s);
        assert!(has(&a, "--node-pools", "h100") && has(&a, "--node-pools", "h200"));
        assert!(has(&a, "--port", "container=8888"));
        for flag in ["--allow-privilege-escalation", "--preemptible", "--host-ipc"] {
            let i = a.iter().position(|x| x == flag).unwrap_or_else(|| panic!("{flag} missing"));
            assert!(a[i + 1].starts_with("--"), "{flag} followed by {}", a[i + 1]);
        }
    }

    #[test]
    fn follow_ups_speak_the_workload_type() {
        let lines = |s: &JobSpec| {
            let dialect = super::super::Dialect::V2(V2Flags::ERA_2_2X);
            super::super::follow_up_commands(s, dialect).iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        let mut s = spec();
        s.name = "j1".into();
        assert_eq!(
            lines(&s),
            [
                "runai workspace describe j1",
                "runai workspace logs j1",
                "runai workspace exec j1 --stdin --tty -- zsh",
                "runai workload delete -y j1"
            ]
        );
        s.mode = Mode::Train { backoff_limit: 0 };
        assert_eq!(lines(&s)[0], "runai training describe j1");
        s.workers = 1;
        assert_eq!(lines(&s)[1], "runai training pytorch logs j1");
    }
}
