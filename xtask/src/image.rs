//! `cargo xtask image`: build (and with `--push`, publish) the container
//! image, replacing the old `docker/publish.sh`.
//!
//! The steps: validate the options, check that a Docker engine answers,
//! build the static binaries (`dist`, unless `--pod-init` names one), stage
//! a build context that holds only what the Dockerfile copies (`context`:
//! uv and oh-my-zsh are fetched here, on the host), `docker build` with the
//! base, LDAP and seed build arguments and the `REGISTRY/IMAGE_PATH:TAG`
//! tag, then `docker push`. `--dry-run` prints every command and step
//! instead, and needs no Docker at all.

mod context;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use common::ValidationError;
use common::env::{DEFAULT_SCRATCH_SEED_UID, DEFAULT_SCRATCH_SEED_USER, EnvVars};
use common::validate::{self, Reason};

use crate::cmd::{Cmd, Mode, Runner};
use crate::dist;
use crate::project;

pub use context::OhMyZsh;

/// The image's platform: pod-init is an x86_64 binary and the cluster's
/// GPU nodes are amd64, whatever machine builds the image.
const PLATFORM: &str = "linux/amd64";

/// The RCP template image (CUDA 12, PyTorch, Ubuntu 22.04).
pub const DEFAULT_BASE_IMAGE: &str = "nvcr.io/nvidia/pytorch:24.02-py3";

/// The build argument naming the seed account's uid (its name travels as
/// [`EnvVars::SCRATCH_SEED_USER`], which is also what pod-init reads).
pub const SEED_UID_ARG: &str = "SCRATCH_SEED_UID";

/// The build arguments `cargo xtask image` passes, in the order it passes
/// them; the Dockerfile declares each (docker only warns otherwise, and the
/// value would be silently dropped).
pub const BUILD_ARG_NAMES: [&str; 7] =
    ["BASE_IMAGE", "LDAP_USERNAME", "LDAP_UID", "LDAP_GROUPNAME", "LDAP_GID", EnvVars::SCRATCH_SEED_USER, SEED_UID_ARG];

/// Options of `cargo xtask image`. The environment fallbacks are the
/// variables the old publish script read; the defaults are its defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// Push the image after building it (run `docker login REGISTRY` first).
    #[arg(long)]
    pub push: bool,
    /// Print every command and step instead of running it; needs no Docker.
    #[arg(long, alias = "dry")]
    pub dry_run: bool,
    /// The image to build on: any Debian or Ubuntu image.
    #[arg(long, env = "BASE_IMAGE", default_value = DEFAULT_BASE_IMAGE)]
    pub base_image: String,
    /// Take oh-my-zsh from this directory instead of a shallow clone from GitHub.
    #[arg(long, value_name = "DIR")]
    pub oh_my_zsh: Option<PathBuf>,
    /// Put this static pod-init into the image instead of building it.
    #[arg(long, value_name = "FILE")]
    pub pod_init: Option<PathBuf>,
    /// The network of the build's RUN steps (docker build --network),
    /// e.g. `host` on an engine without a bridge.
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// The registry to tag (and push) for.
    #[arg(long, env = "REGISTRY", default_value = "ic-registry.epfl.ch")]
    pub registry: String,
    /// The repository path inside the registry.
    #[arg(long, env = "IMAGE_PATH", default_value = "mlo/mlo-base")]
    pub image_path: String,
    /// The image tag.
    #[arg(long, env = "TAG", default_value = "uv1")]
    pub tag: String,
    /// The placeholder account baked into the image (pod-init renames it to
    /// whoever starts a pod with its uid).
    #[arg(long, env = "LDAP_USERNAME", default_value = "cluster")]
    pub ldap_username: String,
    /// The placeholder account's uid; usually the builder's own LDAP uid.
    #[arg(long, env = "LDAP_UID", default_value = "1000")]
    pub ldap_uid: String,
    /// The group of the placeholder and seed accounts.
    #[arg(long, env = "LDAP_GROUPNAME", default_value = "MLO-unit")]
    pub ldap_groupname: String,
    /// That group's gid.
    #[arg(long, env = "LDAP_GID", default_value = "83070")]
    pub ldap_gid: String,
    /// The account that owns the scratch root (root is squashed on NFS).
    #[arg(long, default_value = DEFAULT_SCRATCH_SEED_USER)]
    pub seed_user: String,
    /// That account's uid on the NFS server.
    #[arg(long, default_value_t = DEFAULT_SCRATCH_SEED_UID.to_string())]
    pub seed_uid: String,
}

/// Validated options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    pub reference: String,
    pub push: bool,
    pub build_args: Vec<(&'static str, String)>,
    pub network: Option<String>,
    pub oh_my_zsh: OhMyZsh,
    pub pod_init: Option<PathBuf>,
}

fn reject(field: &str, value: &str, reason: Reason) -> ValidationError {
    ValidationError { field: field.to_owned(), value: value.to_owned(), reason }
}

/// Checks one part of an image reference against docker's grammar:
/// non-empty, at most `max` characters, only characters `allowed` accepts.
fn reference_part(field: &str, value: &str, max: usize, allowed: fn(char) -> bool) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(reject(field, value, Reason::Empty));
    }
    if value.len() > max {
        return Err(reject(field, value, Reason::TooLong { max }));
    }
    if let Some(c) = value.chars().find(|&c| !allowed(c)) {
        return Err(reject(field, value, Reason::BadChar(c)));
    }
    Ok(())
}

impl ImageArgs {
    /// Validates every option before anything runs; errors name the
    /// variable the user knows (`LDAP_UID`, `TAG`, ...).
    pub fn validate(&self) -> Result<ImageConfig, ValidationError> {
        // host[:port]: letters, digits, dots, dashes, one colon.
        reference_part("REGISTRY", &self.registry, 255, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))?;
        // docker: lower-case path components joined by `/`.
        reference_part("IMAGE_PATH", &self.image_path, 255, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '/')
        })?;
        if self.image_path.starts_with('/') || self.image_path.ends_with('/') || self.image_path.contains("//") {
            return Err(reject("IMAGE_PATH", &self.image_path, Reason::BadChar('/')));
        }
        // docker: a word character, then up to 127 of word, `.` or `-`.
        reference_part("TAG", &self.tag, 128, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))?;
        if self.tag.starts_with(['.', '-']) {
            return Err(reject("TAG", &self.tag, Reason::BadFirstChar));
        }
        if self.base_image.is_empty() {
            return Err(reject("BASE_IMAGE", &self.base_image, Reason::Empty));
        }
        if let Some(c) = self.base_image.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(reject("BASE_IMAGE", &self.base_image, Reason::BadChar(c)));
        }
        validate::account_name("LDAP_USERNAME", &self.ldap_username)?;
        let uid = validate::non_root_id("LDAP_UID", &self.ldap_uid)?;
        validate::account_name("LDAP_GROUPNAME", &self.ldap_groupname)?;
        let gid = validate::non_root_id("LDAP_GID", &self.ldap_gid)?;
        validate::account_name("--seed-user", &self.seed_user)?;
        let seed_uid = validate::non_root_id("--seed-uid", &self.seed_uid)?;

        let values = [
            self.base_image.clone(),
            self.ldap_username.clone(),
            uid.to_string(),
            self.ldap_groupname.clone(),
            gid.to_string(),
            self.seed_user.clone(),
            seed_uid.to_string(),
        ];
        Ok(ImageConfig {
            reference: format!("{}/{}:{}", self.registry, self.image_path, self.tag),
            push: self.push,
            build_args: BUILD_ARG_NAMES.into_iter().zip(values).collect(),
            network: self.network.clone(),
            oh_my_zsh: self.oh_my_zsh.clone().map_or(OhMyZsh::Clone, OhMyZsh::Dir),
            pod_init: self.pod_init.clone(),
        })
    }
}

/// The docker commands for one image, as values.
#[derive(Debug, Clone)]
pub struct Plan {
    pub build: Cmd,
    pub push: Option<Cmd>,
}

pub fn plan(config: &ImageConfig, context: &Path) -> Plan {
    let mut build = Cmd::new("docker").args(["build", "--platform", PLATFORM]);
    for (name, value) in &config.build_args {
        build = build.arg("--build-arg").arg(format!("{name}={value}"));
    }
    if let Some(network) = &config.network {
        build = build.args(["--network", network]);
    }
    let build = build.args(["--tag", &config.reference]).path_arg(context);
    let push = config.push.then(|| Cmd::new("docker").args(["push", &config.reference]));
    Plan { build, push }
}

/// Where the build context is staged.
pub fn context_dir() -> PathBuf {
    project::target_dir().join("image-context")
}

/// Fails unless a Docker engine answers, saying what to do instead.
fn ensure_docker_engine() -> Result<()> {
    let probe = Cmd::new("docker").args(["info", "--format", "{{.ServerVersion}}"]);
    let output = match probe.output() {
        Ok(output) => output,
        Err(err) => bail!(
            "cannot run docker ({err:#}): install Docker to build the image, or pass --dry-run to print the commands"
        ),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let reason = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        bail!(
            "no Docker engine is reachable (`{probe}` failed: {}): build where a Docker daemon runs, or pass --dry-run to print the commands",
            reason.trim()
        );
    }
    Ok(())
}

pub fn run(args: &ImageArgs) -> Result<()> {
    let config = args.validate()?;
    let runner = Runner::new(if args.dry_run { Mode::DryRun } else { Mode::Run });

    if !runner.is_dry() {
        ensure_docker_engine()?;
    }
    let pod_init = match &config.pod_init {
        Some(given) => {
            runner.announce(&format!("use {} as pod-init (checked to be static)", given.display()));
            if !runner.is_dry() {
                dist::check_static(given)?;
            }
            given.clone()
        }
        None => dist::run(&runner)?.pod_init,
    };
    let context = context_dir();
    context::stage(&runner, &context, &pod_init, &config.oh_my_zsh)?;
    let plan = plan(&config, &context);
    runner.run(&plan.build)?;
    let Some(push) = &plan.push else {
        if !runner.is_dry() {
            eprintln!("image: {} built; use it with RUNAI_IMAGE={} in your .env", config.reference, config.reference);
        }
        return Ok(());
    };
    let registry = config.reference.split_once('/').map_or("", |(registry, _)| registry);
    runner.run_quoting_stderr(push).with_context(|| format!("cannot push {} to {registry}", config.reference))?;
    if runner.is_dry() {
        return Ok(());
    }
    let digest = pushed_digest(&config.reference)?;
    let pinned = format!("{}@{digest}", repository(&config.reference));
    eprintln!("image: pushed {} (digest {digest})", config.reference);
    eprintln!("image: use it with RUNAI_IMAGE={} in your .env, or pinned: RUNAI_IMAGE={pinned}", config.reference);
    Ok(())
}

/// `REGISTRY/IMAGE_PATH` of `REGISTRY/IMAGE_PATH:TAG`.
fn repository(reference: &str) -> &str {
    reference.rsplit_once(':').map_or(reference, |(repository, _)| repository)
}

/// The engine's `docker image inspect --format` of the image's repository
/// digests.
pub fn repo_digests_cmd(reference: &str) -> Cmd {
    Cmd::new("docker").args(["image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", reference])
}

/// The manifest digest the registry gave the pushed image, as the engine
/// recorded it (`REGISTRY/IMAGE_PATH@sha256:...` among its repo digests).
fn pushed_digest(reference: &str) -> Result<String> {
    let digests = repo_digests_cmd(reference).read()?;
    let prefix = format!("{}@", repository(reference));
    match digests.lines().find_map(|line| line.trim().strip_prefix(&prefix)) {
        Some(digest) => Ok(digest.to_owned()),
        None => bail!("{reference} was pushed, but the engine records no digest for it (it has: {})", digests.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::fs;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ImageArgs,
    }

    fn parse(argv: &[&str]) -> ImageArgs {
        let mut full = vec!["image"];
        full.extend_from_slice(argv);
        match Wrapper::try_parse_from(full) {
            Ok(w) => w.args,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn plan_has_every_build_arg_the_tag_and_the_push() {
        let args = parse(&[
            "--push",
            "--registry=reg.example:5000",
            "--image-path=team/img",
            "--tag=v2",
            "--ldap-username=ada",
            "--ldap-uid=123456",
            "--ldap-groupname=MLO-unit",
            "--ldap-gid=83070",
        ]);
        let config = args.validate().unwrap_or_else(|e| panic!("{e}"));
        let plan = plan(&config, Path::new("/ctx"));
        assert_eq!(
            plan.build.to_string(),
            "docker build --platform linux/amd64 --build-arg BASE_IMAGE=nvcr.io/nvidia/pytorch:24.02-py3 \
             --build-arg LDAP_USERNAME=ada --build-arg LDAP_UID=123456 \
             --build-arg LDAP_GROUPNAME=MLO-unit --build-arg LDAP_GID=83070 \
             --build-arg SCRATCH_SEED_USER=mljaggi-admin --build-arg SCRATCH_SEED_UID=177449 \
             --tag reg.example:5000/team/img:v2 /ctx"
        );
        assert_eq!(plan.push.map(|p| p.to_string()), Some("docker push reg.example:5000/team/img:v2".to_owned()));
    }

    #[test]
    fn no_push_without_the_flag() {
        let config = parse(&[]).validate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.reference, "ic-registry.epfl.ch/mlo/mlo-base:uv1");
        assert!(plan(&config, Path::new("/ctx")).push.is_none());
    }

    #[test]
    fn bad_values_name_the_field_and_the_reason() {
        let cases: [(&[&str], &str); 7] = [
            (&["--ldap-uid=12a"], "LDAP_UID=\"12a\": must be a whole number"),
            (&["--ldap-uid=0"], "LDAP_UID=\"0\": must not be 0 (root)"),
            (&["--ldap-username=a:b"], "LDAP_USERNAME=\"a:b\": must not contain ':'"),
            (&["--tag=v 1"], "TAG=\"v 1\": must not contain ' '"),
            (&["--tag=-x"], "TAG=\"-x\": must start with a letter or '_'"),
            (&["--image-path=MLO/base"], "IMAGE_PATH=\"MLO/base\": must not contain 'M'"),
            (&["--seed-uid=-1"], "--seed-uid=\"-1\": must be a whole number"),
        ];
        for (argv, expected) in cases {
            let err = parse(argv).validate().map(|_| ()).unwrap_err();
            assert_eq!(err.to_string(), expected);
        }
    }

    /// The Dockerfile's ARG defaults (for a bare `docker build`) are the
    /// same as xtask's, so both ways give the same image.
    #[test]
    fn dockerfile_arg_defaults_match_xtask_defaults() {
        let path = context::dockerfile();
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let defaults = parse(&[]).validate().unwrap_or_else(|e| panic!("{e}"));
        for (name, value) in defaults.build_args {
            let line = format!("ARG {name}={value}");
            assert!(text.lines().any(|l| l.trim() == line), "docker/Dockerfile lacks `{line}`");
        }
    }

    /// The build fetches nothing but the base and apt packages (it runs
    /// where only the distribution's mirror may be reachable): no URL in an
    /// instruction, no ADD (which downloads), no fetching client in a RUN.
    #[test]
    fn the_dockerfile_downloads_nothing_itself() {
        let path = context::dockerfile();
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let instructions: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
        for line in &instructions {
            assert!(!line.contains("://"), "docker/Dockerfile names a URL: {line}");
            assert!(!line.trim_start().starts_with("ADD "), "docker/Dockerfile uses ADD: {line}");
            // Each command of the line (`curl` and `wget` are also package
            // names in the apt list, so a word alone proves nothing).
            let commands = line.trim_start().trim_start_matches("RUN ").split([';', '|', '&']).map(str::trim_start);
            for command in commands {
                for fetch in
                    ["curl ", "wget ", "git clone", "pip install", "pip download", "uv pip", "uv python install"]
                {
                    assert!(!command.starts_with(fetch), "docker/Dockerfile runs `{}`: {line}", fetch.trim());
                }
            }
        }
        assert!(instructions.iter().any(|l| l.contains("apt-get install")), "the check read the wrong file");
    }

    #[test]
    fn base_network_pod_init_and_oh_my_zsh_reach_the_build() {
        let args = parse(&[
            "--base-image=nb-sandbox-rootfs:abc",
            "--network=host",
            "--pod-init=/t/dist/pod-init",
            "--oh-my-zsh=/omz",
        ]);
        let config = args.validate().unwrap_or_else(|e| panic!("{e}"));
        let line = plan(&config, Path::new("/ctx")).build.to_string();
        assert!(line.starts_with("docker build --platform linux/amd64 --build-arg BASE_IMAGE=nb-sandbox-rootfs:abc "));
        assert!(line.ends_with(" --network host --tag ic-registry.epfl.ch/mlo/mlo-base:uv1 /ctx"), "{line}");
        assert_eq!(config.pod_init, Some(PathBuf::from("/t/dist/pod-init")));
        assert_eq!(config.oh_my_zsh, OhMyZsh::Dir(PathBuf::from("/omz")));
        assert_eq!(parse(&[]).validate().map(|c| c.oh_my_zsh).ok(), Some(OhMyZsh::Clone));
        let err = parse(&["--base-image=a b"]).validate().map(|_| ()).unwrap_err();
        assert_eq!(err.to_string(), "BASE_IMAGE=\"a b\": must not contain ' '");
    }
}
