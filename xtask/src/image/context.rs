//! The image's build context: every file the Dockerfile copies, put together
//! on the host.
//!
//! The build runs where only the base image and the distribution's package
//! mirror may be reachable (a cluster's build node, CI), so everything else
//! is fetched here, by the host's own clients: uv as the static binaries of
//! its pinned PyPI wheel (pip checks the wheel's hash), oh-my-zsh from a
//! directory the caller names or from a shallow git clone. The context
//! holds nothing else of this machine: no certificates, no paths.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::cmd::{Cmd, Runner};
use crate::dist;
use crate::project;

/// The uv release in the image, and the SHA-256 of its static (musllinux)
/// x86_64 wheel as PyPI lists it. pip refuses a wheel with another hash. To
/// move to another release, change both (the hash is on the release's PyPI
/// page, "Download files").
pub const UV_VERSION: &str = "0.13.9";
pub const UV_WHEEL_SHA256: &str = "2c45530751517d6c3bbc69a19473f6effe47cce047bede01ffd8af7ea7b36b25";
/// The wheel's platform tag: musl, so the binaries are static and run on any base.
const UV_WHEEL_PLATFORM: &str = "musllinux_1_1_x86_64";
/// The binaries the wheel carries, copied to /usr/local/bin.
pub const UV_BINARIES: [&str; 2] = ["uv", "uvx"];

/// Where oh-my-zsh comes from when no directory is given.
pub const OH_MY_ZSH_REPO: &str = "https://github.com/ohmyzsh/ohmyzsh.git";

/// Names inside the context, as the Dockerfile's COPY lines use them.
pub const DOCKERFILE: &str = "Dockerfile";
pub const POD_INIT: &str = "pod-init";
pub const ZSHRC: &str = "zshrc";
pub const OH_MY_ZSH: &str = "oh-my-zsh";

/// Where downloads are kept between builds (pip reuses a wheel it checked).
pub fn downloads_dir() -> PathBuf {
    project::target_dir().join("image-downloads")
}

/// `docker/Dockerfile` in the workspace.
pub fn dockerfile() -> PathBuf {
    project::root().join("docker").join(DOCKERFILE)
}

/// Where oh-my-zsh is taken from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OhMyZsh {
    /// A checkout (or a stand-in, as in the tests) on this machine.
    Dir(PathBuf),
    /// A shallow clone of [`OH_MY_ZSH_REPO`], made now.
    Clone,
}

/// The pip command that downloads the pinned uv wheel into `dir`, checking
/// its hash (`requirements` holds the pinned line, see [`uv_requirement`]).
pub fn uv_download_cmd(requirements: &Path, dir: &Path) -> Cmd {
    Cmd::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"])
        .args(["--platform", UV_WHEEL_PLATFORM, "--require-hashes", "--requirement"])
        .path_arg(requirements)
        .arg("--dest")
        .path_arg(dir)
}

/// The requirements line pip checks the wheel against.
pub fn uv_requirement() -> String {
    format!("uv=={UV_VERSION} --hash=sha256:{UV_WHEEL_SHA256}\n")
}

/// The wheel's file name, as PyPI names it.
pub fn uv_wheel_name() -> String {
    format!("uv-{UV_VERSION}-py3-none-{UV_WHEEL_PLATFORM}.whl")
}

/// Extracts the binaries from the wheel (a zip) into `dest`, without the
/// wheel's directories.
pub fn uv_extract_cmd(wheel: &Path, dest: &Path) -> Cmd {
    let members = UV_BINARIES.map(|name| format!("uv-{UV_VERSION}.data/scripts/{name}"));
    Cmd::new("unzip").args(["-q", "-o", "-j"]).path_arg(wheel).args(members).arg("-d").path_arg(dest)
}

/// A shallow clone of oh-my-zsh into `dest`.
pub fn oh_my_zsh_clone_cmd(dest: &Path) -> Cmd {
    Cmd::new("git").args(["clone", "--quiet", "--depth=1", OH_MY_ZSH_REPO]).path_arg(dest)
}

/// Puts the context together in `context` (emptied first): the
/// Dockerfile, `pod_init`, the zshrc, uv and oh-my-zsh.
pub fn stage(runner: &Runner, context: &Path, pod_init: &Path, oh_my_zsh: &OhMyZsh) -> Result<()> {
    runner.announce(&format!("stage the build context in {}", context.display()));
    if !runner.is_dry() {
        if context.exists() {
            fs::remove_dir_all(context).with_context(|| format!("cannot clear {}", context.display()))?;
        }
        fs::create_dir_all(context).with_context(|| format!("cannot create {}", context.display()))?;
    }
    let zshrc = project::root().join("docker").join(ZSHRC);
    for (from, name) in [(dockerfile(), DOCKERFILE), (pod_init.to_path_buf(), POD_INIT), (zshrc, ZSHRC)] {
        runner.announce(&format!("copy {} to {name}", from.display()));
        if !runner.is_dry() {
            fs::copy(&from, context.join(name))
                .with_context(|| format!("cannot copy {} into {}", from.display(), context.display()))?;
        }
    }
    stage_uv(runner, context)?;
    stage_oh_my_zsh(runner, context, oh_my_zsh)
}

fn stage_uv(runner: &Runner, context: &Path) -> Result<()> {
    let downloads = downloads_dir();
    let requirements = downloads.join("uv-requirements.txt");
    if !runner.is_dry() {
        fs::create_dir_all(&downloads).with_context(|| format!("cannot create {}", downloads.display()))?;
        fs::write(&requirements, uv_requirement())
            .with_context(|| format!("cannot write {}", requirements.display()))?;
    }
    runner.run(&uv_download_cmd(&requirements, &downloads))?;
    runner.run(&uv_extract_cmd(&downloads.join(uv_wheel_name()), context))?;
    if !runner.is_dry() {
        for name in UV_BINARIES {
            dist::check_static(&context.join(name))?;
        }
    }
    Ok(())
}

fn stage_oh_my_zsh(runner: &Runner, context: &Path, source: &OhMyZsh) -> Result<()> {
    let dest = context.join(OH_MY_ZSH);
    let from = match source {
        OhMyZsh::Dir(dir) => dir.clone(),
        OhMyZsh::Clone => {
            let clone = downloads_dir().join("oh-my-zsh-clone");
            if !runner.is_dry() && clone.exists() {
                fs::remove_dir_all(&clone).with_context(|| format!("cannot clear {}", clone.display()))?;
            }
            runner.run(&oh_my_zsh_clone_cmd(&clone))?;
            clone
        }
    };
    runner.announce(&format!("copy {} to {OH_MY_ZSH} (without .git)", from.display()));
    if runner.is_dry() {
        return Ok(());
    }
    if !from.join("oh-my-zsh.sh").is_file() {
        bail!("{} is not an oh-my-zsh directory (it has no oh-my-zsh.sh)", from.display());
    }
    copy_tree(&from, &dest)
}

/// Copies a directory tree: files, directories and symlinks, with their
/// permission bits, leaving out `.git` (history the image does not need).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let entries = fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", from.display()))?;
        if entry.file_name() == ".git" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().with_context(|| format!("cannot stat {}", src.display()))?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(&src).with_context(|| format!("cannot read link {}", src.display()))?;
            symlink(&target, &dst)?;
        } else {
            fs::copy(&src, &dst).with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> Result<()> {
    std::os::unix::fs::symlink(target, link).with_context(|| format!("cannot create link {}", link.display()))
}

#[cfg(not(unix))]
fn symlink(_target: &Path, link: &Path) -> Result<()> {
    bail!("cannot copy the symlink {} on this system", link.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uv_comes_from_the_pinned_wheel_checked_by_hash() {
        let line = uv_download_cmd(Path::new("/d/req.txt"), Path::new("/d")).to_string();
        assert_eq!(
            line,
            "python3 -m pip download --quiet --no-deps --only-binary=:all: --platform musllinux_1_1_x86_64 \
             --require-hashes --requirement /d/req.txt --dest /d"
        );
        assert_eq!(uv_requirement(), format!("uv=={UV_VERSION} --hash=sha256:{UV_WHEEL_SHA256}\n"));
        let extract = uv_extract_cmd(Path::new("/d/w.whl"), Path::new("/ctx")).to_string();
        assert_eq!(
            extract,
            format!("unzip -q -o -j /d/w.whl uv-{UV_VERSION}.data/scripts/uv uv-{UV_VERSION}.data/scripts/uvx -d /ctx")
        );
    }

    #[test]
    fn oh_my_zsh_is_copied_without_its_history() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let src = dir.path().join("omz");
        fs::create_dir_all(src.join(".git")).unwrap_or_else(|e| panic!("{e}"));
        fs::create_dir_all(src.join("lib")).unwrap_or_else(|e| panic!("{e}"));
        fs::write(src.join("oh-my-zsh.sh"), "x").unwrap_or_else(|e| panic!("{e}"));
        fs::write(src.join(".git/HEAD"), "ref").unwrap_or_else(|e| panic!("{e}"));
        symlink(Path::new("oh-my-zsh.sh"), &src.join("lib/link")).unwrap_or_else(|e| panic!("{e:#}"));
        let ctx = dir.path().join("ctx");
        stage_oh_my_zsh(&Runner::new(crate::cmd::Mode::Run), &ctx, &OhMyZsh::Dir(src.clone()))
            .unwrap_or_else(|e| panic!("{e:#}"));
        assert!(ctx.join("oh-my-zsh/oh-my-zsh.sh").is_file());
        assert!(!ctx.join("oh-my-zsh/.git").exists());
        assert_eq!(fs::read_link(ctx.join("oh-my-zsh/lib/link")).ok(), Some(PathBuf::from("oh-my-zsh.sh")));

        let err =
            stage_oh_my_zsh(&Runner::new(crate::cmd::Mode::Run), &ctx, &OhMyZsh::Dir(src.join("lib"))).unwrap_err();
        assert!(format!("{err:#}").ends_with("lib is not an oh-my-zsh directory (it has no oh-my-zsh.sh)"), "{err:#}");
    }
}
