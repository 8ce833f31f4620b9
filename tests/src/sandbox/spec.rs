//! [`RunSpec`]: what to run in a container and how, and the `ctr-run.sh`
//! command line it becomes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::error::{Error, Result};
use super::rootfs::scripts_dir;
use super::{CONTAINER_PATH, DEFAULT_TIMEOUT};
use crate::binaries;

/// What to run in a container and how.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The command; `argv[0]` is looked up in the container's `PATH`.
    pub argv: Vec<String>,
    /// The command's environment, exactly (see [`RunSpec::new`] for defaults).
    pub env: Vec<(String, String)>,
    /// Start as this uid:gid with no supplementary groups instead of root.
    pub as_user: Option<(u32, u32)>,
    /// Serve scratch through the root-squashing FUSE (default) or bind it.
    pub squash: bool,
    /// Install the pod-init under test at `POD_INIT_PATH` with this mode.
    pub pod_init_mode: Option<u32>,
    /// Other host files to install: (host file, container path, mode).
    pub install: Vec<(PathBuf, String, u32)>,
    /// Kill the container and fail after this long.
    pub timeout: Duration,
    /// Give PID 1 a terminal (see [`RunSpec::tty`]).
    pub tty: bool,
    /// Limit PID 1 to a runtime's capabilities (see [`RunSpec::runtime_caps`]).
    pub runtime_caps: bool,
    /// Count the squashed scratch's requests (see [`RunSpec::count_scratch_requests`]).
    pub count_requests: bool,
}

impl RunSpec {
    /// `argv` as root, squashed scratch, environment `PATH` and `HOSTNAME`.
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            env: vec![("PATH".into(), CONTAINER_PATH.into()), ("HOSTNAME".into(), "ctr".into())],
            as_user: None,
            squash: true,
            pod_init_mode: None,
            install: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            tty: false,
            runtime_caps: false,
            count_requests: false,
        }
    }

    /// `/bin/sh -c script`.
    pub fn sh(script: impl Into<String>) -> Self {
        Self::new(["/bin/sh".to_string(), "-c".to_string(), script.into()])
    }

    /// pod-init as PID 1 (installed root-owned, mode `POD_INIT_MODE` = 4755,
    /// as in the image) running `command`.
    pub fn pod_init<I, S>(command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let argv = std::iter::once(common::image::POD_INIT_PATH.to_string()).chain(command.into_iter().map(Into::into));
        let mut spec = Self::new(argv);
        spec.pod_init_mode = Some(common::image::POD_INIT_MODE);
        spec
    }

    /// Set (or replace) one variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.env.retain(|(n, _)| *n != name);
        self.env.push((name, value.into()));
        self
    }

    /// Set several variables.
    pub fn envs<I, K, V>(self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        vars.into_iter().fold(self, |spec, (k, v)| spec.env(k, v))
    }

    /// Start PID 1 as `uid:gid`, no supplementary groups (as Kubernetes'
    /// `runAsUser`/`runAsGroup` do).
    pub fn as_user(mut self, uid: u32, gid: u32) -> Self {
        self.as_user = Some((uid, gid));
        self
    }

    /// Bind-mount scratch instead of squashing root on it.
    pub fn bind_scratch(mut self) -> Self {
        self.squash = false;
        self
    }

    /// Install pod-init with `mode` (0o755 or 0o4755).
    pub fn pod_init_mode(mut self, mode: u32) -> Self {
        self.pod_init_mode = Some(mode);
        self
    }

    /// Copy a host file into the container (owner root).
    pub fn install(mut self, host: impl Into<PathBuf>, path: impl Into<String>, mode: u32) -> Self {
        self.install.push((host.into(), path.into(), mode));
        self
    }

    /// Run on a pseudo-terminal, as `docker run -t` / `kubectl exec -t`
    /// do: stdin, stdout and stderr are the terminal, PID 1 leads its own
    /// session with it as controlling terminal. [`Output::stdout`](super::Output::stdout) is then
    /// everything written to the terminal (stdout and stderr, with the
    /// terminal's `\r\n`); [`Running::write_tty`](super::Running::write_tty) types into it (`"\x03"`
    /// is Ctrl-C: SIGINT to the foreground process group).
    pub fn tty(mut self) -> Self {
        self.tty = true;
        self
    }

    /// Limit the container's capability bounding set to what containerd
    /// and Docker grant by default ([`RUNTIME_CAP_BOUNDING_SET`](super::RUNTIME_CAP_BOUNDING_SET)), so root
    /// (or setuid-root pod-init) can do what it can in a pod, and no more
    /// (no mount, no ptrace, no CAP_DAC_READ_SEARCH...). Without it, root in
    /// the container has every capability.
    pub fn runtime_caps(mut self) -> Self {
        self.runtime_caps = true;
        self
    }

    /// Have the root-squash FUSE count the requests it serves during the
    /// run; [`Sandbox::scratch_requests`](super::Sandbox::scratch_requests) reads them after it.
    pub fn count_scratch_requests(mut self) -> Self {
        self.count_requests = true;
        self
    }

    /// Change the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(super) fn command(&self, rootfs: &Path, state: &Path, scratch: &Path) -> Result<Command> {
        let mut cmd = Command::new(scripts_dir().join("ctr-run.sh"));
        cmd.arg("--rootfs").arg(rootfs);
        cmd.arg("--state").arg(state);
        cmd.arg("--scratch").arg(scratch);
        if self.squash {
            cmd.arg("--squash");
        }
        if self.count_requests {
            cmd.arg("--count-requests");
        }
        if self.tty {
            cmd.arg("--tty");
        }
        if self.runtime_caps {
            cmd.arg("--runtime-caps");
        }
        if let Some((uid, gid)) = self.as_user {
            cmd.arg("--user").arg(format!("{uid}:{gid}"));
        }
        let pod_init =
            self.pod_init_mode.map(|mode| (binaries::pod_init(), common::image::POD_INIT_PATH.to_string(), mode));
        for (host, path, mode) in self.install.iter().cloned().chain(pod_init) {
            if !host.is_file() {
                return Err(Error(format!("sandbox: {} to install is not a file", host.display())));
            }
            cmd.arg("--install").arg(host).arg(path).arg(format!("{mode:o}"));
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                return Err(Error(format!("sandbox: environment variable {name:?}: not a valid name=value")));
            }
            cmd.arg("--env").arg(format!("{name}={value}"));
        }
        cmd.arg("--").args(&self.argv);
        Ok(cmd)
    }
}
