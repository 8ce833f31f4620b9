//! [`BusyboxRoot`]: a root with nothing but a static busybox, where only a
//! static binary can start.

use std::fs;
use std::path::{Path, PathBuf};

use super::error::{Result, io_err};
use super::output::Output;
use super::rootfs::{require_root, run_script, sandbox_dir};
use super::running::Running;
use super::runs::run_dir;
use super::spec::RunSpec;

/// A root filesystem with only a static busybox (no libc, no loader).
#[derive(Debug)]
pub struct BusyboxRoot {
    root: PathBuf,
}

impl BusyboxRoot {
    /// Build (once, under an flock, by `mkbbroot.sh`) and return it.
    pub fn new() -> Result<Self> {
        require_root()?;
        let root = sandbox_dir().join("bbroot");
        run_script("mkbbroot.sh", &[&root])?;
        Ok(Self { root })
    }

    /// The tree.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Run `binary` (a host file, copied to `/under-test/<its name>`) as PID 1 with
    /// `args`, as root, with a fresh upper layer and an empty scratch.
    pub fn run(&self, binary: &Path, args: &[&str]) -> Result<Output> {
        let dir = run_dir("bb-")?;
        let scratch = dir.path().join("scratch");
        fs::create_dir_all(&scratch).map_err(io_err("cannot create", &scratch))?;
        // Under its own file name: a multi-call binary (busybox) looks at
        // argv[0] to pick what to be.
        let name = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let target = format!("/under-test/{name}");
        let argv = std::iter::once(target.as_str()).chain(args.iter().copied());
        let spec = RunSpec::new(argv).env("PATH", "/bin:/sbin").bind_scratch().install(binary, target.as_str(), 0o755);
        Running::start(&spec, &self.root, dir.path())?.wait()
    }
}
