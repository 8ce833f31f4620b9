//! Containers of the image under test, started as run:ai starts a pod's:
//! [`PodSpec`] is the `docker run` line, [`Container`] a started one
//! (removed when dropped).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::daemon::{Daemon, daemon};
use super::image::image;
use crate::sandbox::{Error, Output, Result};

/// How long a container may run before a wait gives up on it.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A `docker run` of the image: `--network none`, the given user,
/// environment, volumes and options, then the command (the image's
/// ENTRYPOINT, pod-init, runs it unless [`PodSpec::entrypoint`] replaces it).
#[derive(Debug, Clone, Default)]
pub struct PodSpec {
    user: Option<(u32, u32)>,
    env: Vec<(String, String)>,
    volumes: Vec<String>,
    options: Vec<String>,
    entrypoint: Option<String>,
    command: Vec<String>,
}

impl PodSpec {
    pub fn new<I, S>(command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self { command: command.into_iter().map(Into::into).collect(), ..Self::default() }
    }

    /// `/bin/sh -c script`.
    pub fn sh(script: impl Into<String>) -> Self {
        Self::new(["/bin/sh".to_owned(), "-c".to_owned(), script.into()])
    }

    /// `--user uid:gid`, as `runAsUser`/`runAsGroup` give it.
    pub fn user(mut self, uid: u32, gid: u32) -> Self {
        self.user = Some((uid, gid));
        self
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn envs<I, K, V>(self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        vars.into_iter().fold(self, |spec, (k, v)| spec.env(k, v))
    }

    /// `-v host:container`.
    pub fn volume(mut self, volume: impl Into<String>) -> Self {
        self.volumes.push(volume.into());
        self
    }

    /// Any other `docker run` option, e.g. `--security-opt=no-new-privileges`.
    pub fn option(mut self, option: impl Into<String>) -> Self {
        self.options.push(option.into());
        self
    }

    /// `--entrypoint`: run something else than pod-init as PID 1.
    pub fn entrypoint(mut self, entrypoint: impl Into<String>) -> Self {
        self.entrypoint = Some(entrypoint.into());
        self
    }

    /// The arguments after `docker run`.
    pub fn args(&self, image: &str) -> Vec<String> {
        let mut args = vec!["--network=none".to_owned()];
        if let Some((uid, gid)) = self.user {
            args.push(format!("--user={uid}:{gid}"));
        }
        for (name, value) in &self.env {
            args.push("--env".to_owned());
            args.push(format!("{name}={value}"));
        }
        for volume in &self.volumes {
            args.push(format!("--volume={volume}"));
        }
        args.extend(self.options.iter().cloned());
        if let Some(entrypoint) = &self.entrypoint {
            args.push(format!("--entrypoint={entrypoint}"));
        }
        args.push(image.to_owned());
        args.extend(self.command.iter().cloned());
        args
    }

    /// Runs the container to its end (`docker run --rm`).
    pub fn run(&self) -> Result<Output> {
        self.run_image(image()?.reference)
    }

    /// [`PodSpec::run`] of another image, e.g. one pulled from a registry.
    pub fn run_image(&self, reference: &str) -> Result<Output> {
        let mut args = vec!["run".to_owned(), "--rm".to_owned()];
        args.extend(self.args(reference));
        super::daemon::output(daemon()?.docker_within(WAIT_TIMEOUT, args))
    }

    /// Starts the container in the background (`docker run --detach`),
    /// named so its checks can find it.
    pub fn start(&self) -> Result<Container> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let built = image()?;
        let daemon = daemon()?;
        let name = format!("nb-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut args = vec!["run".to_owned(), "--detach".to_owned(), format!("--name={name}")];
        args.extend(self.args(built.reference));
        daemon.check(&args)?;
        Ok(Container { daemon, name })
    }
}

/// A container started by [`PodSpec::start`]; `docker rm -f` on drop.
#[derive(Debug)]
pub struct Container {
    daemon: &'static Daemon,
    name: String,
}

impl Container {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `docker exec` as the container's user (how `runai exec` enters a
    /// pod), in the image's WORKDIR.
    pub fn exec<I, S>(&self, argv: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut args = vec!["exec".to_owned(), self.name.clone()];
        args.extend(argv.into_iter().map(Into::into));
        self.daemon.run(args)
    }

    /// `docker exec --user user`, in `/` (root cannot enter the WORKDIR on
    /// the squashed scratch).
    pub fn exec_as<I, S>(&self, user: &str, argv: I) -> Result<Output>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut args = vec!["exec".to_owned(), format!("--user={user}"), "--workdir=/".to_owned(), self.name.clone()];
        args.extend(argv.into_iter().map(Into::into));
        self.daemon.run(args)
    }

    /// Everything the container wrote: stdout and stderr of every start.
    pub fn logs(&self) -> Result<Output> {
        self.daemon.run(["logs", &self.name])
    }

    /// Waits for the container to exit (`docker wait`, up to
    /// [`WAIT_TIMEOUT`]) and returns its exit code.
    pub fn wait(&self) -> Result<i32> {
        let out = super::daemon::output(self.daemon.docker_within(WAIT_TIMEOUT, ["wait", &self.name]))?;
        match out.stdout.trim().parse() {
            Ok(code) if out.status == 0 => Ok(code),
            _ => Err(Error::new(format!(
                "docker: {} did not exit within {WAIT_TIMEOUT:?} (docker wait: {} {})",
                self.name,
                out.status,
                out.stderr.trim()
            ))),
        }
    }

    /// Waits until `path` (a host path, e.g. a marker on the scratch
    /// backing directory) exists; fails if the container exits first.
    pub fn wait_for_path(&self, path: &Path) -> Result<()> {
        let until = Instant::now() + WAIT_TIMEOUT;
        while !path.exists() {
            let state = self.daemon.check(["inspect", "--format", "{{.State.Status}}", &self.name])?;
            if state.trim() != "running" || Instant::now() > until {
                let logs = self.logs()?;
                return Err(Error::new(format!(
                    "docker: {} is {} and {} does not exist\n--- stdout\n{}\n--- stderr\n{}",
                    self.name,
                    state.trim(),
                    path.display(),
                    logs.stdout,
                    logs.stderr
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// `docker stop`: SIGTERM to PID 1, SIGKILL after `grace`.
    pub fn stop(&self, grace: Duration) -> Result<()> {
        self.daemon.check(["stop", &format!("--time={}", grace.as_secs()), &self.name]).map(drop)
    }

    /// `docker restart`: the same container (its writable layer kept) again.
    pub fn restart(&self) -> Result<()> {
        self.daemon.check(["restart", &self.name]).map(drop)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _already_gone = self.daemon.run(["rm", "--force", "--volumes", &self.name]);
    }
}
