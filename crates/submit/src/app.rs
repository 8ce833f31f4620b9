//! One submission, top to bottom: read the `.env`, validate everything, then
//! (or, for `--dry-run`, instead) sync the Secret and run runai.
//!
//! All checks run before anything changes in the cluster: a bad job name or
//! a missing runai stops the submission before kubectl is started, and the
//! pre-flight check (the scratch PVC exists, the job name is free) runs
//! before the Secret is synced.

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::clock;
use crate::cluster::invocation::{Invocation, RunError, describe_status, find_on_path};
use crate::cluster::kubectl::{self, KUBECTL};
use crate::cluster::kubectl_error::{Aim, KubectlError};
use crate::cluster::preflight;
use crate::commands::{Place, replace};
use crate::follow::attach;
pub use crate::follow::outcome::Outcome;
use crate::job::config::EnvFile;
use crate::job::duration::Seconds;
use crate::job::request::Request;
use crate::job::secret::{self, Manifest};
use crate::job::spec::JobSpec;
use crate::job::{self, duration, github_key, keys};
use crate::job::{env_check, fallbacks};
use crate::runai::{self, Dialect, RUNAI, probe};
use crate::sweep;

/// A failure of `submit` itself rather than of its input (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Internal(pub String);

/// The machine-specific context: our own environment, read once here so
/// that nothing else looks at it.
#[derive(Debug)]
pub struct Context {
    pub home: Option<PathBuf>,
    pub path: Option<OsString>,
    /// `NO_COLOR` is set to something: no colour even on a terminal.
    pub no_color: bool,
    /// `KUBECONFIG`, only to name the file in messages: kubectl reads it itself.
    pub kubeconfig: Option<OsString>,
    /// `XDG_STATE_HOME` when it is an absolute path (the XDG rule: a
    /// relative one is ignored), where deleted jobs' logs are kept.
    pub state_home: Option<PathBuf>,
}

impl Context {
    pub fn from_process() -> Self {
        Context {
            home: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from),
            path: std::env::var_os("PATH"),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            kubeconfig: std::env::var_os("KUBECONFIG").filter(|k| !k.is_empty()),
            state_home: std::env::var_os("XDG_STATE_HOME").map(PathBuf::from).filter(|p| p.is_absolute()),
        }
    }
}

pub(crate) fn say(message: &str) {
    eprintln!("submit: {message}");
}

/// Writes `text` to stdout; a closed pipe (`submit --dry-run | head -c1`)
/// is not an error.
pub(crate) fn print(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Internal(format!("cannot write to stdout: {e}")).into()),
        _ => Ok(()),
    }
}

pub fn run(mut cli: Cli, ctx: &Context) -> Result<Outcome> {
    if let Some(command) = cli.action.take() {
        return crate::commands::run(command, ctx);
    }
    let cli = cli.without_empty_values();
    if let Some(shell) = cli.completions {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "submit", &mut script);
        print(&String::from_utf8_lossy(&script))?;
        return Ok(Outcome::Success);
    }

    let env_path = crate::commands::env_path(&cli.env_file, ctx);
    let mut env = EnvFile::load(&env_path)?;
    match cli.sync_secret_only {
        true => env_check::reject_placeholders(&env)?,
        false => env_check::reject(&env, &given_by_flags(&cli))?,
    }
    for note in github_key::autoload(&mut env, ctx.home.as_deref())? {
        say(&note);
    }

    let request = cli.request();
    let asked = cli.sweep_asked();
    if asked.is_sweep() {
        refuse_with_a_sweep(&cli)?;
    }
    let sweep = sweep::plan(&asked, &request)?;
    let target = job::secret_target(&request, &env)?;
    // Said once everything is checked, just before they take effect.
    let mut defaults_taken = ignored_by_dry_run(&cli);
    defaults_taken.extend(fallbacks::notes(&env, &target, !cli.sync_secret_only));
    let say_defaults = || defaults_taken.iter().for_each(|note| say(note));
    let sync = cli.sync_secret_only || !cli.skip_secret_sync;
    let kubectl_timeout = duration::parse(&cli.kubectl_timeout)
        .map_err(|e| anyhow!("--kubectl-timeout={:?} {e}", cli.kubectl_timeout))?;
    let wait_timeout =
        duration::parse(&cli.wait_timeout).map_err(|e| anyhow!("--wait-timeout={:?} {e}", cli.wait_timeout))?;
    let specs: Vec<JobSpec> = match (cli.sync_secret_only, &sweep) {
        (true, _) => Vec::new(),
        (false, None) => vec![job::job_spec(&request, &env, &target, clock::local_timestamp)?],
        (false, Some(sweep)) => sweep
            .requests
            .iter()
            .zip(&sweep.names)
            .map(|(r, name)| {
                job::job_spec(r, &env, &target, clock::local_timestamp)
                    .map_err(|e| e.context(format!("the sweep's job {name}")))
            })
            .collect::<Result<_>>()?,
    };
    // The points differ only in what the user typed: one word for all.
    if let Some(spec) = specs.first() {
        if spec.distributed() && !cli.train {
            say("--workers makes this a distributed training job (--train is implied)");
        }
        for key in &spec.unset_secret_keys {
            say(&format!(
                "warning: EXTRA_SECRET_KEYS lists {key}, but {} gives it no value; the pod will not get it",
                env.path().display()
            ));
        }
    }
    let manifest = match sync {
        true => Some(Manifest::build(&target.name, &target.namespace, env.non_empty()).map_err(|e| match e {
            secret::SecretError::TooLarge { .. } => anyhow!("{e}; nothing was sent"),
            e => anyhow!("{}: {e}", env.path().display()),
        })?),
        false => None,
    };

    // Check that both programs exist before the first one changes anything.
    let wants_preflight = !specs.is_empty() && !cli.no_preflight;
    let runai_on_path = find_on_path(RUNAI, ctx.path.as_ref()).is_some();
    if (!cli.dry && (sync || wants_preflight) || cli.replace) && find_on_path(KUBECTL, ctx.path.as_ref()).is_none() {
        let skip = if wants_preflight { "--skip-secret-sync --no-preflight" } else { "--skip-secret-sync" };
        bail!("kubectl not found on PATH: install it (Debian: apt-get install kubernetes-client), or pass {skip}");
    }
    if !cli.dry && !specs.is_empty() && !runai_on_path {
        bail!("runai not found on PATH: install the run:ai CLI, or pass --dry-run to see the command");
    }
    let submission = match specs.is_empty() {
        true => None,
        false => Some(runai_submission(&request, &env, &specs, runai_on_path)?),
    };
    let runai_cmds = submission.as_ref().map_or(&[][..], |(cmds, _)| cmds.as_slice());

    let preflight = submission.as_ref().filter(|_| wants_preflight).map(|(_, dialect)| {
        let first = &specs[0];
        let job = sweep.as_ref().map_or(first.name.as_str(), |s| s.name.as_str());
        preflight::Plan { job, namespace: &target.namespace, pvc: &first.pvc, dialect: *dialect }
    });
    // `--replace` reads the namespace in a dry run too, to say what it would delete.
    let replacing = match &preflight {
        Some(plan) if cli.replace => {
            let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
            let place = Place {
                env: env.clone(),
                namespace: target.namespace.clone(),
                project: specs[0].project.clone(),
                kubectl_timeout,
            };
            Some(replace::Replacing::check(plan, &names, place, !cli.no_save, ctx, wait_timeout)?)
        }
        _ => None,
    };

    if cli.dry {
        say_defaults();
        if let Some(replacing) = &replacing {
            print(&replacing.dry_run())?;
        }
        return dry_run(manifest.as_ref(), &specs, runai_cmds, kubectl_timeout);
    }

    if let (Some(plan), None) = (&preflight, &replacing) {
        match &sweep {
            None => preflight::check(plan, kubectl_timeout)?,
            Some(sweep) => preflight::judge_sweep(plan, &sweep.names, &preflight::fetch(plan, kubectl_timeout)?)?,
        }
    }
    if let Some(manifest) = manifest {
        sync_secret(manifest, &env, kubectl_timeout)?;
    }
    if let Some(replacing) = &replacing
        && replacing.run()? == replace::Waited::Interrupted
    {
        return Ok(Outcome::External(130));
    }
    say_defaults();
    let Some((runai_cmds, dialect)) = submission else {
        print(&format!("Secret {} was updated in namespace {}.\n", target.name, target.namespace))?;
        return Ok(Outcome::Success);
    };
    if let Some(sweep) = &sweep {
        let follow = cli.wait.then_some(sweep::follow::Request { timeout: wait_timeout, kubectl_timeout, dialect });
        return sweep::run::submit(sweep, &specs, &runai_cmds, &target.namespace, follow);
    }
    let (spec, runai_cmd) = (&specs[0], &runai_cmds[0]);

    say(&format!("running: {runai_cmd}"));
    let status = runai_cmd.run_attached().map_err(|e| match e {
        RunError::NotFound { .. } => anyhow!("{e}: install the run:ai CLI"),
        e => anyhow!(e),
    })?;
    if !status.success() {
        say(&format!("runai failed ({}); the Secret was synced, the job was not submitted", describe_status(status)));
        let code = status.code().and_then(|c| u8::try_from(c).ok()).filter(|c| *c != 0).unwrap_or(1);
        return Ok(Outcome::External(code));
    }
    let mut text = String::from("\nJob submitted. Handy commands:\n");
    for cmd in runai::follow_up_commands(spec, dialect) {
        text.push_str(&format!("{cmd}\n"));
    }
    print(&text)?;
    if cli.wait || cli.attach {
        let request = attach::Request { attach: cli.attach, timeout: wait_timeout, kubectl_timeout, dialect };
        return attach::run(spec, &target.namespace, request);
    }
    Ok(Outcome::Success)
}

/// The flags that make no sense with a sweep, refused before anything runs.
fn refuse_with_a_sweep(cli: &Cli) -> Result<()> {
    if cli.attach {
        bail!(
            "--attach is refused with a sweep: it takes you into one job; use --wait to follow them all, then \
             `submit shell JOB` or `submit logs JOB` for one"
        );
    }
    if cli.sync_secret_only {
        bail!("--sync-secret-only submits nothing, so there is nothing to sweep: leave out --sweep/--sweep-file");
    }
    Ok(())
}

/// What `--dry-run` leaves out of what was asked.
fn ignored_by_dry_run(cli: &Cli) -> Vec<String> {
    [(cli.wait, "--wait"), (cli.attach, "--attach")]
        .into_iter()
        .filter(|(given, _)| cli.dry && *given)
        .map(|(_, flag)| format!("{flag} is ignored with --dry-run: nothing is submitted to wait for"))
        .collect()
}

/// The `.env` keys that flags of `cli` stand in for.
fn given_by_flags(cli: &Cli) -> Vec<&'static str> {
    [
        (cli.uid.is_some(), keys::LDAP_UID),
        (cli.gid.is_some(), keys::LDAP_GID),
        (cli.image.is_some(), keys::RUNAI_IMAGE),
        (cli.secret_name.is_some(), keys::RUNAI_SECRET_NAME),
        (cli.pvc.is_some(), keys::SCRATCH_PVC),
        (cli.runai_cli.is_some(), keys::RUNAI_CLI),
    ]
    .into_iter()
    .filter_map(|(given, key)| given.then_some(key))
    .collect()
}

/// The runai command of each of `specs`, in the dialect chosen for the
/// installed CLI (said on stderr with the reason). Refused here, before
/// anything is synced, when that dialect cannot express a job.
fn runai_submission(
    request: &Request,
    env: &EnvFile,
    specs: &[JobSpec],
    runai_on_path: bool,
) -> Result<(Vec<Invocation>, Dialect)> {
    let (preference, origin) = job::runai_preference(request, env)?;
    let choice = probe::choose(preference, origin.as_deref(), || probe::ask(runai_on_path))?;
    say(&format!("run:ai CLI {}: {}", choice.dialect, choice.reason));
    let commands = specs
        .iter()
        .map(|spec| runai::submit_command(spec, choice.dialect).map_err(|e| anyhow!("{e}; nothing was sent")))
        .collect::<Result<_>>()?;
    Ok((commands, choice.dialect))
}

/// `--dry-run`: one pasteable line on stdout per job (the apply's when
/// there is none), the rest on stderr. The Secret is described by its key
/// names only.
fn dry_run(
    manifest: Option<&Manifest>,
    specs: &[JobSpec],
    runai_cmds: &[Invocation],
    kubectl_timeout: Seconds,
) -> Result<Outcome> {
    let apply = kubectl::apply_secret_line(kubectl_timeout);
    match manifest {
        Some(m) => say(&format!(
            "dry run: would sync Secret {} in namespace {} with keys: {}\nsubmit: dry run: by running: {apply} (the manifest on stdin, not shown)",
            m.name(),
            m.namespace(),
            m.keys().join(", ")
        )),
        None => say("dry run: the Secret would not be synced (--skip-secret-sync)"),
    }
    let mut lines = String::new();
    for (spec, cmd) in specs.iter().zip(runai_cmds) {
        match specs.len() {
            1 => say(&format!("dry run: the pod would run: {}", spec.script.script())),
            _ => say(&format!("dry run: the pod of {} would run: {}", spec.name, spec.script.script())),
        }
        lines.push_str(&format!("{}\n", cmd.shell_line()));
    }
    if lines.is_empty() {
        lines = format!("{apply}\n");
    }
    print(&lines)?;
    Ok(Outcome::Success)
}

/// Runs the server-side apply and turns its failure into a message that
/// carries kubectl's own words, minus any secret value.
fn sync_secret(manifest: Manifest, env: &EnvFile, timeout: Seconds) -> Result<()> {
    let (name, namespace, keys) =
        (manifest.name().to_owned(), manifest.namespace().to_owned(), manifest.keys().to_vec());
    let inv = kubectl::apply_secret(manifest, timeout);
    let done = inv.run_captured(kubectl::kill_after(timeout)).map_err(|e| match e {
        RunError::TimedOut { .. } => {
            anyhow!("{e}: the cluster did not answer; check your connection and kubeconfig, or raise --kubectl-timeout")
        }
        e => anyhow!(e),
    })?;
    if !done.status.success() {
        // Every value that is not a plain setting counts as secret here.
        let secrets = env.non_empty().filter(|(k, _)| !keys::SETTINGS.contains(k)).map(|(_, v)| v);
        let stderr = secret::redact(&String::from_utf8_lossy(&done.stderr), secrets);
        let failure = KubectlError::classify(stderr.as_bytes());
        return Err(anyhow!(
            "kubectl could not apply the Secret {name} in namespace {namespace} ({}){}; nothing was submitted:\n{}",
            describe_status(done.status),
            failure.headline(Aim { namespace: Some(&namespace), context: None }),
            failure.said
        ));
    }
    say(&format!("synced the Secret {name} in namespace {namespace} ({} keys)", keys.len()));
    Ok(())
}

/// Exit code and message for an error from [`run`].
pub fn report(err: &anyhow::Error) -> u8 {
    say(&format!("{err:#}"));
    if err.chain().any(|e| e.is::<Internal>()) { 2 } else { 1 }
}
