//! The `runai` command lines, built as values from a validated [`JobSpec`],
//! in the dialect of the CLI that is installed.
//!
//! run:ai has two command sets. v1 (`runai submit`, `runai submit-dist
//! pytorch`) is what RCP's 2.18 CLI speaks and is deprecated; v2
//! (`runai workspace submit`, `runai training submit`, `runai training
//! pytorch submit`) replaces it, with a flag set that changed between the
//! 2.19-era CLI and the 2.2x one. [`probe`] finds out which one is installed;
//! [`v1`] and [`v2`] render a job for each.
//!
//! In every dialect a bool flag is written bare (`--flag`, never
//! `--flag true`, which would leave a stray `true`), and a secret value never
//! appears: the pod reads it from the Secret by reference.

pub mod probe;
mod v1;
mod v2;

use std::fmt;

use anyhow::Result;

use crate::cluster::invocation::Invocation;
use crate::job::spec::JobSpec;

/// The program name, looked up on PATH.
pub const RUNAI: &str = "runai";

/// The network annotation RCP uses for RDMA over converged Ethernet.
pub const RDMA_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks=kube-system/roce";
/// The extended resource that gives each distributed pod an RDMA device.
pub const RDMA_RESOURCE: &str = "rdma/rdma=1";

/// Which command set to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    V1,
    V2(V2Flags),
}

/// The v2 flags that differ between CLI releases, as read from
/// `runai workspace submit --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V2Flags {
    /// The flag for a plain `KEY=VALUE` variable: `--environment` until
    /// 2.20, `--environment-variable` from 2.2x on (where `--environment`
    /// names an environment asset).
    pub plain_env: &'static str,
    /// Whether `--env-secret VAR=SECRET,key=KEY` exists: the only way v2
    /// gives a pod a variable from a Secret.
    pub env_secret: bool,
}

impl V2Flags {
    /// The flag set of the 2.19/2.20 CLI.
    pub const ERA_2_19: V2Flags = V2Flags { plain_env: "--environment", env_secret: false };
    /// The flag set of the 2.2x CLI (the 2.25 reference).
    pub const ERA_2_2X: V2Flags = V2Flags { plain_env: "--environment-variable", env_secret: true };
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dialect::V1 => f.write_str("v1"),
            Dialect::V2(flags) if *flags == V2Flags::ERA_2_2X => f.write_str("v2 (2.2x flags)"),
            Dialect::V2(flags) if *flags == V2Flags::ERA_2_19 => f.write_str("v2 (2.19-era flags)"),
            Dialect::V2(flags) => write!(
                f,
                "v2 (plain variables with {}, {})",
                flags.plain_env,
                if flags.env_secret { "with --env-secret" } else { "without --env-secret" }
            ),
        }
    }
}

/// Builds the runai submission of `spec` in `dialect`. Fails, naming the
/// flag, when the dialect cannot express the job as asked.
pub fn submit_command(spec: &JobSpec, dialect: Dialect) -> Result<Invocation> {
    match dialect {
        Dialect::V1 => v1::submit_command(spec),
        Dialect::V2(flags) => v2::submit_command(spec, flags),
    }
}

/// The commands to follow a submitted job, printed after a submission.
pub fn follow_up_commands(spec: &JobSpec, dialect: Dialect) -> Vec<Invocation> {
    let mut commands = match dialect {
        Dialect::V1 => v1::follow_up_commands(&spec.name),
        Dialect::V2(_) => v2::follow_up_commands(spec),
    };
    commands.push(delete_command(&spec.name, dialect));
    commands
}

/// The command that deletes the job `name`.
pub fn delete_command(name: &str, dialect: Dialect) -> Invocation {
    match dialect {
        Dialect::V1 => runai(["delete", "job", name]),
        Dialect::V2(_) => runai(["workload", "delete", "-y", name]),
    }
}

/// The command that deletes the job `name` of `project` without asking:
/// v1 `runai delete job NAME -p PROJECT`; v2 `runai workload delete -y -p
/// PROJECT NAME`, which deletes a workload of any kind and, without `-y`,
/// would wait for a confirmation on stdin.
pub fn delete_in_project(name: &str, project: &str, dialect: Dialect) -> Invocation {
    match dialect {
        Dialect::V1 => runai(["delete", "job", name, "-p", project]),
        Dialect::V2(_) => runai(["workload", "delete", "-y", "-p", project, name]),
    }
}

/// `runai` with these words.
fn runai(words: impl IntoIterator<Item = impl Into<String>>) -> Invocation {
    Invocation::new(RUNAI, words.into_iter().map(Into::into).collect())
}

/// Collects a command line: `flag value` pairs and bare bool flags.
#[derive(Debug, Default)]
struct Args(Vec<String>);

impl Args {
    fn value(&mut self, flag: &str, value: impl Into<String>) {
        self.0.push(flag.to_owned());
        self.0.push(value.into());
    }

    /// `flag value` when there is a value.
    fn value_if(&mut self, flag: &str, value: Option<impl Into<String>>) {
        if let Some(value) = value {
            self.value(flag, value);
        }
    }

    /// A bool flag, bare.
    fn set(&mut self, flag: &str) {
        self.0.push(flag.to_owned());
    }

    /// `-- <the pod's argv>`, last.
    fn container_command(mut self, spec: &JobSpec) -> Vec<String> {
        self.0.push("--".to_owned());
        self.0.extend(spec.script.argv());
        self.0
    }
}
