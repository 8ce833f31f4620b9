//! The checks that need no cluster: the two programs, the `.env` as a
//! submission reads it, and the GitHub key.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use common::env::{DEFAULT_SECRET_KEYS, EnvVars};

use super::{Check, Mark};
use crate::app::Context;
use crate::clock;
use crate::cluster::invocation::{Invocation, find_on_path};
use crate::cluster::kubectl::{self, KUBECTL};
use crate::job::config::{ConfigError, EnvFile};
use crate::job::duration::Seconds;
use crate::job::request::Request;
use crate::job::spec::JobSpec;
use crate::job::{self, SecretTarget};
use crate::job::{env_check, fallbacks, github_key, keys};
use crate::runai::{Dialect, RUNAI, probe};

pub const ENV: &str = ".env";

/// The `.env` and what a bare `submit` would make of it.
pub struct Setup {
    /// The `.env` check's result.
    pub check: Check,
    /// What a bare `submit` asks for.
    pub request: Request,
    /// The file as written.
    pub file: Option<EnvFile>,
    /// The file with the GitHub key loaded, as it would be synced.
    pub synced: Option<EnvFile>,
    /// Why the GitHub key could not be loaded.
    pub key_error: Option<String>,
    pub target: Option<SecretTarget>,
    pub spec: Option<JobSpec>,
}

impl Setup {
    pub fn load(path: &Path, ctx: &Context) -> Self {
        let mut setup = Setup {
            check: Check::ok(ENV, ""),
            request: crate::cli::bare_request(),
            file: None,
            synced: None,
            key_error: None,
            target: None,
            spec: None,
        };
        let file = match EnvFile::load(path) {
            Ok(file) => file,
            Err(e) => {
                setup.check = unreadable(path, &e);
                return setup;
            }
        };
        let mut synced = file.clone();
        if let Err(e) = github_key::autoload(&mut synced, ctx.home.as_deref()) {
            setup.key_error = Some(e.to_string());
        }
        let problems = env_check::problems(&file, &[]);
        setup.target = job::secret_target(&setup.request, &file).ok();
        let spec = setup.target.as_ref().map(|t| job::job_spec(&setup.request, &synced, t, clock::local_timestamp));
        setup.check = match (problems.is_empty(), &spec) {
            (false, _) => Check {
                name: ENV,
                mark: Mark::Fail,
                found: format!("{}: {} problems, each to fix at its line:", path.display(), problems.len()),
                fix: problems.into_iter().map(|p| p.message).collect(),
            },
            (true, Some(Err(e))) => Check::fail(ENV, format!("{e:#}"), "edit the .env as the message says"),
            (true, None) => Check::fail(ENV, "no namespace", "set K8S_NAMESPACE or RUNAI_PROJECT"),
            (true, Some(Ok(spec))) => {
                let target = setup.target.as_ref().map_or_else(String::new, |t| t.namespace.clone());
                let found = format!(
                    "{}: {} keys; namespace {target}, project {}, scratch PVC {}",
                    path.display(),
                    file.keys().count(),
                    spec.project,
                    spec.pvc
                );
                let misses = fallbacks::near_misses(&file);
                match misses.is_empty() {
                    true => Check::ok(ENV, found),
                    false => Check {
                        name: ENV,
                        mark: Mark::Warn,
                        found: format!("{found}; keys the pod will not get:"),
                        fix: misses
                            .iter()
                            .map(|(key, known)| format!("rename {key} to {known} (or list {key} in EXTRA_SECRET_KEYS)"))
                            .collect(),
                    },
                }
            }
        };
        setup.spec = spec.and_then(Result::ok);
        setup.file = Some(file);
        setup.synced = Some(synced);
        setup
    }

    /// The scratch claim a submission would use, as far as the file tells.
    pub fn pvc(&self) -> Option<&str> {
        match &self.spec {
            Some(spec) => Some(&spec.pvc),
            None => self.file.as_ref()?.get(keys::SCRATCH_PVC).filter(|p| common::validate::is_dns1123_subdomain(p)),
        }
    }

    /// Whether the pod would read variables from the Secret.
    fn has_pod_secrets(&self) -> bool {
        match (&self.spec, &self.synced) {
            (Some(spec), _) => !spec.secret_keys.is_empty(),
            (None, Some(env)) => DEFAULT_SECRET_KEYS.iter().any(|k| env.get(k).is_some()),
            (None, None) => true,
        }
    }
}

fn unreadable(path: &Path, e: &ConfigError) -> Check {
    match e {
        ConfigError::Read { reason, .. } => Check::fail(
            ENV,
            format!("cannot read {}: {reason}", path.display()),
            format!(
                "run `submit init` to write the template to {}, then fill it in (or pass --env-file)",
                path.display()
            ),
        ),
        e => Check::fail(ENV, e.to_string(), "edit that line of the .env"),
    }
}

/// kubectl on PATH, and its version.
pub fn kubectl(ctx: &Context, timeout: Seconds) -> Check {
    let Some(path) = find_on_path(KUBECTL, ctx.path.as_ref()) else {
        return Check::fail(
            "kubectl",
            "not found on PATH",
            "install it (Debian/Ubuntu: apt-get install kubernetes-client; or https://kubernetes.io/docs/tasks/tools/)",
        );
    };
    let version = kubectl::client_version()
        .run_for_output(kubectl::kill_after(timeout))
        .ok()
        .filter(|done| done.status.success())
        .and_then(|done| serde_json::from_slice::<serde_json::Value>(&done.stdout).ok())
        .and_then(|v| v["clientVersion"]["gitVersion"].as_str().map(str::to_owned));
    match version {
        Some(version) => Check::ok("kubectl", format!("{} ({version})", path.display())),
        None => Check::warn(
            "kubectl",
            format!("{}: `{}` failed", path.display(), kubectl::client_version()),
            "reinstall kubectl",
        ),
    }
}

/// runai on PATH, and the dialect a submission would speak to it.
pub fn runai(ctx: &Context, setup: &Setup) -> Check {
    const NAME: &str = "runai";
    let Some(path) = find_on_path(RUNAI, ctx.path.as_ref()) else {
        return Check::fail(
            NAME,
            "not found on PATH",
            "install the run:ai CLI: download it from your cluster's run:ai web UI (the ? menu, Researcher Command \
             Line Interface), make it executable and put it on PATH, then run `runai login`",
        );
    };
    let (preference, origin) = setup
        .file
        .as_ref()
        .and_then(|env| job::runai_preference(&setup.request, env).ok())
        .unwrap_or((probe::Preference::Auto, None));
    let choice = match probe::choose(preference, origin.as_deref(), || probe::ask(true)) {
        Ok(choice) => choice,
        Err(e) => return Check::fail(NAME, format!("{}: {e}", path.display()), "set RUNAI_CLI=auto in the .env"),
    };
    match choice.dialect {
        Dialect::V2(flags) if !flags.env_secret && setup.has_pod_secrets() => Check::fail(
            NAME,
            format!(
                "{} speaks {}: it has no --env-secret, so it cannot give the pod the Secret's variables",
                path.display(),
                choice.dialect
            ),
            "set RUNAI_CLI=v1 in the .env if the cluster still takes v1 commands (RCP's does), or install a 2.2x \
             run:ai CLI",
        ),
        dialect => Check::ok(NAME, format!("{} speaks {dialect} ({})", path.display(), choice.reason)),
    }
}

/// The GitHub key a submission would load: from the `.env`, or the key
/// file (`GITHUB_SSH_KEY_PATH`, else `~/.ssh/github`) and its `.pub`.
pub fn github_key(setup: &Setup, ctx: &Context) -> Check {
    const NAME: &str = "GitHub key";
    let Some(env) = &setup.file else { return Check::skip(NAME, "the .env cannot be read") };
    if let Some(why) = &setup.key_error {
        return Check::fail(NAME, why.clone(), "fix GITHUB_SSH_KEY_PATH in the .env, or remove it for ~/.ssh/github");
    }
    if env.get(EnvVars::SSH_PRIVATE_KEY_B64).is_some() {
        return match env.get(EnvVars::SSH_PUBLIC_KEY) {
            Some(_) => Check::ok(NAME, "SSH_PRIVATE_KEY_B64 and SSH_PUBLIC_KEY are set in the .env"),
            None => Check::warn(
                NAME,
                "SSH_PRIVATE_KEY_B64 is set in the .env, SSH_PUBLIC_KEY is not",
                "set SSH_PUBLIC_KEY to the key's .pub line",
            ),
        };
    }
    let home = ctx.home.as_deref();
    let Some((key, public)) = github_key::key_files(env, home) else {
        return Check::warn(NAME, "HOME is not set and the .env names no key", "set GITHUB_SSH_KEY_PATH");
    };
    let meta = match std::fs::metadata(&key) {
        Ok(meta) => meta,
        Err(_) => {
            return Check::warn(
                NAME,
                format!("no key at {} and none in the .env: the pod gets no GitHub key", key.display()),
                format!(
                    "ssh-keygen -t ed25519 -f {} -N '', then add {} to GitHub (Settings, SSH and GPG keys)",
                    key.display(),
                    public.display()
                ),
            );
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Check::fail(
            NAME,
            format!("{} can be read by others (mode {mode:04o})", key.display()),
            format!("chmod 600 {}", key.display()),
        );
    }
    if let Err(e) = std::fs::File::open(&key) {
        return Check::fail(
            NAME,
            format!("cannot read {}: {e}", key.display()),
            format!("chmod u+r {}", key.display()),
        );
    }
    let Ok(public_text) = std::fs::read_to_string(&public) else {
        return Check::warn(
            NAME,
            format!("{} is there, its public key {} is not", key.display(), public.display()),
            format!("ssh-keygen -y -f {} > {}", key.display(), public.display()),
        );
    };
    matching_pair(&key, &public, &public_text, ctx)
}

/// `key` and `.pub` compared by `ssh-keygen -y` (the private key is read by
/// ssh-keygen only; a key with a passphrase cannot be compared).
fn matching_pair(key: &Path, public: &Path, public_text: &str, ctx: &Context) -> Check {
    const NAME: &str = "GitHub key";
    let pair = format!("{} and {}", key.display(), public.display());
    if find_on_path("ssh-keygen", ctx.path.as_ref()).is_none() {
        return Check::ok(NAME, format!("{pair} (not compared: ssh-keygen is not on PATH)"));
    }
    let derive = Invocation::new(
        "ssh-keygen",
        vec!["-y".into(), "-P".into(), String::new(), "-f".into(), key.display().to_string()],
    );
    let derived = derive
        .run_for_output(std::time::Duration::from_secs(10))
        .ok()
        .filter(|done| done.status.success())
        .map(|done| String::from_utf8_lossy(&done.stdout).into_owned());
    let body = |text: &str| text.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    match derived {
        None => Check::warn(
            NAME,
            format!("{pair}: not compared (a passphrase, or not a key ssh-keygen reads)"),
            "ssh-keygen -y -f KEY shows its public key",
        ),
        Some(derived) if body(&derived) == body(public_text) => Check::ok(NAME, format!("{pair}, a matching pair")),
        Some(_) => Check::fail(
            NAME,
            format!("{} is not the public key of {}", public.display(), key.display()),
            format!("ssh-keygen -y -f {} > {}", key.display(), public.display()),
        ),
    }
}
