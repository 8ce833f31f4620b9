//! The image under test: `docker/Dockerfile` built by `cargo xtask image`
//! on the sandbox's Debian rootfs (imported with `docker import`), with the
//! pod-init under test and the rootfs's small oh-my-zsh stand-in (CI has no
//! GitHub).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::daemon::{Daemon, daemon, output};
use crate::binaries;
use crate::sandbox::{Error, Result, rootfs};

/// The reference `cargo xtask image` tags the test image with.
pub const IMAGE: &str = "localhost/nb-tests/image:test";

/// The image and what building it cost.
#[derive(Debug, Clone)]
pub struct Built {
    pub reference: &'static str,
    /// The base, `nb-sandbox-rootfs:<stamp>`.
    pub base: String,
    /// `docker import` of the rootfs (zero when an earlier run left it).
    pub import: Duration,
    /// `cargo xtask image` (the engine's build cache makes a rebuild fast).
    pub build: Duration,
}

/// Builds the image once per process (on the engine of [`daemon`]).
pub fn image() -> Result<&'static Built> {
    static IMAGE_BUILT: OnceLock<std::result::Result<Built, String>> = OnceLock::new();
    IMAGE_BUILT
        .get_or_init(|| build(daemon().map_err(|e| e.to_string())?).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| Error::new(e.clone()))
}

/// The xtask binary: `NB_XTASK_BIN` (set by `cargo xtask test`), else the
/// debug build `cargo test --workspace` makes.
pub fn xtask() -> Result<PathBuf> {
    let path = std::env::var_os("NB_XTASK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| binaries::target_dir().join("debug").join("xtask"));
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::new(format!(
            "docker: xtask not found at {}: run the tests with `cargo xtask test` (or `cargo build -p xtask`)",
            path.display()
        )))
    }
}

fn build(daemon: &Daemon) -> Result<Built> {
    let started = Instant::now();
    let base = base(daemon)?;
    let import = started.elapsed();
    let cmd = xtask_image(daemon, IMAGE)?;
    let started = Instant::now();
    let out = output(cmd)?;
    let build = started.elapsed();
    if out.status != 0 {
        return Err(Error::new(format!(
            "docker: `cargo xtask image` failed ({}):\n{}\n{}",
            out.status,
            tail(&out.stdout),
            tail(&out.stderr)
        )));
    }
    eprintln!("docker: base imported in {import:.1?}, image built in {build:.1?}");
    Ok(Built { reference: IMAGE, base, import, build })
}

/// The base, `nb-sandbox-rootfs:<stamp>`: the sandbox's rootfs, imported
/// into the engine unless an earlier run left it there.
fn base(daemon: &Daemon) -> Result<String> {
    let rootfs = rootfs()?;
    let stamp = std::fs::read_to_string(rootfs.join(".sandbox-stamp")).unwrap_or_default();
    let base = format!("nb-sandbox-rootfs:{}", stamp.trim());
    if daemon.run(["image", "inspect", "--format", "{{.Id}}", &base])?.status != 0 {
        import(daemon, &rootfs, &base)?;
    }
    Ok(base)
}

/// `cargo xtask image` tagging `reference` (`REGISTRY/PATH:TAG`) on the
/// tests' engine, as the image under test is built: the sandbox's rootfs as
/// base, the pod-init under test, the rootfs's oh-my-zsh stand-in, the
/// host's network for RUN steps. The same build, so a second reference
/// costs only its tag (the engine's build cache); add `--push` to publish.
pub fn xtask_image(daemon: &Daemon, reference: &str) -> Result<Command> {
    let base = base(daemon)?;
    let rootfs = rootfs()?;
    let (registry, rest) = reference.split_once('/').unwrap_or_default();
    let (path, tag) = rest.rsplit_once(':').unwrap_or_default();
    let mut cmd = Command::new(xtask()?);
    cmd.arg("image")
        .arg(format!("--base-image={base}"))
        .arg("--pod-init")
        .arg(binaries::pod_init())
        .arg("--oh-my-zsh")
        .arg(rootfs.join("docker/oh-my-zsh"))
        .args(["--network=host", &format!("--registry={registry}"), &format!("--image-path={path}")])
        .arg(format!("--tag={tag}"))
        .env("DOCKER_HOST", daemon.host())
        .stdin(Stdio::null());
    Ok(cmd)
}

/// `tar -C rootfs -c . | docker import - base`.
fn import(daemon: &Daemon, rootfs: &std::path::Path, base: &str) -> Result<()> {
    let mut tar = Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "-C"])
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| Error::new(format!("docker: cannot run tar: {e}")))?;
    let stream = tar.stdout.take().ok_or_else(|| Error::new("docker: tar has no stdout"))?;
    let mut cmd = daemon.docker(["import", "-", base]);
    cmd.stdin(stream);
    let out = output(cmd)?;
    let tar_status = tar.wait().map_err(|e| Error::new(format!("docker: waiting for tar: {e}")))?;
    if out.status != 0 || !tar_status.success() {
        return Err(Error::new(format!(
            "docker: importing {} as {base} failed (tar {tar_status}, docker import {}): {}",
            rootfs.display(),
            out.status,
            out.stderr.trim()
        )));
    }
    Ok(())
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
