//! `cargo xtask image`: build (and with `--push`, publish) the container
//! image, replacing the old `docker/publish.sh`.
//!
//! The steps: validate the options, check that docker/Dockerfile agrees with
//! `common` (see `dockerfile`), check that a Docker engine answers, build the
//! static binaries (`dist`), stage a build context that holds only what the
//! Dockerfile copies, `docker build` with the LDAP and seed build arguments
//! and the `REGISTRY/IMAGE_PATH:TAG` tag, then `docker push`. `--dry-run`
//! prints every command and step instead, and needs no Docker at all.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use common::ValidationError;
use common::env::{DEFAULT_SCRATCH_SEED_UID, DEFAULT_SCRATCH_SEED_USER};
use common::validate::{self, Reason};

use crate::cmd::{Cmd, Mode, Runner};
use crate::dist::{self, Dist};
use crate::dockerfile::{self, BUILD_ARG_NAMES, CONTEXT_DOCKERFILE, CONTEXT_POD_INIT, CONTEXT_ZSHRC};
use crate::project;

/// The image's platform: pod-init is an x86_64 binary and the cluster's
/// GPU nodes are amd64, whatever machine builds the image.
const PLATFORM: &str = "linux/amd64";

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
        validate::account_name("LDAP_USERNAME", &self.ldap_username)?;
        let uid = validate::non_root_id("LDAP_UID", &self.ldap_uid)?;
        validate::account_name("LDAP_GROUPNAME", &self.ldap_groupname)?;
        let gid = validate::non_root_id("LDAP_GID", &self.ldap_gid)?;
        validate::account_name("--seed-user", &self.seed_user)?;
        let seed_uid = validate::non_root_id("--seed-uid", &self.seed_uid)?;

        let values = [
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

/// Copies only what the Dockerfile uses into a fresh context directory, so
/// the build sends kilobytes, not the repository.
fn stage(runner: &Runner, dist: &Dist, context: &Path) -> Result<()> {
    let docker_dir = project::root().join("docker");
    let files = [
        (dockerfile::path(), CONTEXT_DOCKERFILE),
        (dist.pod_init.clone(), CONTEXT_POD_INIT),
        (docker_dir.join("zshrc"), CONTEXT_ZSHRC),
    ];
    runner.announce(&format!(
        "stage {}: {}",
        context.display(),
        files.iter().map(|(from, to)| format!("{to} (from {})", from.display())).collect::<Vec<_>>().join(", ")
    ));
    if runner.is_dry() {
        return Ok(());
    }
    if context.exists() {
        fs::remove_dir_all(context).with_context(|| format!("cannot clear {}", context.display()))?;
    }
    fs::create_dir_all(context).with_context(|| format!("cannot create {}", context.display()))?;
    for (from, to) in files {
        fs::copy(&from, context.join(to))
            .with_context(|| format!("cannot copy {} into {}", from.display(), context.display()))?;
    }
    Ok(())
}

pub fn run(args: &ImageArgs) -> Result<()> {
    let config = args.validate()?;
    let runner = Runner::new(if args.dry_run { Mode::DryRun } else { Mode::Run });

    dockerfile::check(&dockerfile::read()?)?;

    if !runner.is_dry() {
        ensure_docker_engine()?;
    }
    let dist = dist::run(&runner)?;
    let context = context_dir();
    stage(&runner, &dist, &context)?;
    let plan = plan(&config, &context);
    runner.run(&plan.build)?;
    if let Some(push) = &plan.push {
        runner.run(push)?;
    }
    if !runner.is_dry() {
        let done = if config.push { "built and pushed" } else { "built" };
        eprintln!("image: {} {done}; use it with RUNAI_IMAGE={} in your .env", config.reference, config.reference);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

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
            "docker build --platform linux/amd64 --build-arg LDAP_USERNAME=ada --build-arg LDAP_UID=123456 \
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
        let text = dockerfile::read().unwrap_or_else(|e| panic!("{e:#}"));
        let defaults = parse(&[]).validate().unwrap_or_else(|e| panic!("{e}"));
        for (name, value) in defaults.build_args {
            let line = format!("ARG {name}={value}");
            assert!(text.lines().any(|l| l.trim() == line), "docker/Dockerfile lacks `{line}`");
        }
    }
}
