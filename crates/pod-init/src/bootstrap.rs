//! The bootstrap: from the pod's environment to a [`Launch`], doing the
//! root work on the way (the steps of the bash entrypoint, in its order).
//!
//! Root does only what needs root and touches only root's files (/etc, the
//! /home directory entry); scratch is written by the seed user and the
//! user's files by the user: PID 1 acts as each of them for that work (the
//! fsid module), with their groups and file-system ids.
//!
//! The bootstrap is a list of [`Step`]s of one shape, run in order over a
//! shared [`Context`]: each has a name, says whether its failure stops the
//! bootstrap, and reports its [`Change`]s for the log. Steps whose failure
//! leaves the researcher able to work (sudo, home, scratch, shell state,
//! ssh) log and go on; a bad configuration or an /etc that cannot be edited
//! stops the pod before anything is changed.
//!
//! The caller decides whether the bootstrap may run at all (the setuid start,
//! see the supervisor's `privilege` module) and what happens with the
//! returned [`Launch`].

mod accounts_memo;
mod copytree;
mod gitidentity;
mod home;
mod mirror;
mod scratch;
mod shell;
mod ssh;
mod sudoers;
mod userstate;

use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::attempts;
use crate::config::{ConfigError, PodConfig, Setup};
use crate::env;
use crate::etcfile::EtcError;
use crate::identity::Identity;
use crate::launch::{Launch, WorkingDir};
use mirror::EtcFiles;
use ssh::SshMaterial;

/// The process's inputs, read once.
#[derive(Debug, Clone)]
pub struct Env {
    /// The environment, in order.
    pub vars: Vec<(OsString, OsString)>,
    /// The command and its arguments (pod-init's own arguments).
    pub argv: Vec<OsString>,
    /// The root of the file system whose /etc and /home are edited: `/` in
    /// a pod, a temp dir in tests.
    pub root: PathBuf,
}

impl Env {
    /// pod-init's own environment and arguments.
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars_os().collect(),
            argv: std::env::args_os().skip(1).collect(),
            root: PathBuf::from("/"),
        }
    }

    /// The value of `name`, if set. Bytes that are not UTF-8 become U+FFFD,
    /// which validation then rejects: a mangled NB_USER must stop the pod,
    /// not count as missing and run the command as root.
    pub fn lookup(&self, name: &str) -> Option<String> {
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.to_string_lossy().into_owned())
    }
}

/// Why the bootstrap stopped.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("no command to run: give one as arguments (the image's CMD or the job's command)")]
    NoCommand,
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{step}: {error}")]
    Step { step: &'static str, error: StepError },
}

impl BootstrapError {
    /// The exit status: 1 for the pod's configuration (fix the .env), 2
    /// for the image or the node (/etc cannot be edited).
    pub fn exit_code(&self) -> u8 {
        match self {
            BootstrapError::NoCommand | BootstrapError::Config(_) => 1,
            BootstrapError::Step { .. } => 2,
        }
    }
}

/// Why a step did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Etc(#[from] EtcError),
    #[error("user {0} missing after the edit of /etc/passwd")]
    UserMissing(String),
    #[error("seed user {0} is not in /etc/passwd; scratch directories not created (set SCRATCH_SEED_USER)")]
    SeedMissing(String),
    #[error("{}: {error}", path.display())]
    Path { path: PathBuf, error: std::io::Error },
    #[error("{0}")]
    AsUser(#[from] crate::fsid::NotDone),
}

/// One entry of a step's report, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Something the step changed, in its own words.
    Made(String),
    /// Done acting as `user`, which logged each change itself.
    DoneAs { user: String, uid: u32 },
    /// Left undone for a reason that does not fail the step.
    Skipped(String),
}

/// Whether a failed step stops the bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnFailure {
    /// The pod stops, before anything later is changed.
    Stop,
    /// Logged; the researcher can still work without it.
    Continue,
}

/// One step of the bootstrap, in the bash entrypoint's order.
struct Step {
    /// The log prefix.
    name: &'static str,
    on_failure: OnFailure,
    run: fn(&mut Context) -> Result<Vec<Change>, StepError>,
}

const STEPS: [Step; 5] = [
    Step { name: "accounts", on_failure: OnFailure::Stop, run: accounts },
    Step { name: "sudo", on_failure: OnFailure::Continue, run: sudo },
    Step { name: "home", on_failure: OnFailure::Continue, run: home },
    Step { name: "scratch", on_failure: OnFailure::Continue, run: scratch },
    Step { name: "user state", on_failure: OnFailure::Continue, run: user_state },
];

/// What the steps share: the pod's configuration, and what earlier steps
/// found out for later ones.
struct Context<'a> {
    /// The root whose /etc and /home are edited.
    root: &'a Path,
    cfg: PodConfig,
    shell: &'static str,
    /// The SSH files to write; the user-state step takes them, so the
    /// private key is dropped as soon as it is written.
    ssh: SshMaterial,
    /// The seed as the image defines it, before the edit: even if NB_USER
    /// or NB_UID collide with it, scratch is created with the ids that own it.
    seed: Option<Identity>,
    /// The home of the account that held NB_UID under another name (the
    /// image's placeholder): it follows the rename, as `usermod -d -m` did.
    renamed_home: Option<PathBuf>,
    /// The researcher's ids, from /etc after the edit.
    user: Option<Identity>,
    /// The renamed home when root could not move it: the user copies it.
    copy_home_from: Option<PathBuf>,
    /// The directories the seed's walk opened, where the user's starts.
    seed_opened: Vec<(PathBuf, std::os::fd::OwnedFd)>,
    /// What the user-state walk opened for the record's end and the command.
    opened: Option<userstate::Opened>,
    /// The pod's NODE_NAME, for the attempt record.
    node: Option<String>,
}

impl Context<'_> {
    /// `path` (absolute in the pod) under the edited root.
    fn under_root(&self, path: &Path) -> PathBuf {
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }

    fn user(&self) -> Result<&Identity, StepError> {
        self.user.as_ref().ok_or_else(|| StepError::UserMissing(self.cfg.user.clone()))
    }
}

fn cstrings(items: impl IntoIterator<Item = OsString>) -> Vec<CString> {
    // Arguments from the kernel never contain NUL.
    items.into_iter().filter_map(|s| CString::new(s.into_vec()).ok()).collect()
}

/// The command as given, without the bootstrap (skipped, or not allowed by
/// the start): the pod's environment minus the consumed variables.
pub fn unchanged(input: &Env) -> Result<Launch, BootstrapError> {
    if input.argv.is_empty() {
        return Err(BootstrapError::NoCommand);
    }
    Ok(Launch::unchanged(cstrings(input.argv.iter().cloned()), env::command_env(&input.vars, &[])))
}

/// Runs the bootstrap and returns how to start the command.
pub fn run(input: &Env) -> Result<Launch, BootstrapError> {
    if input.argv.is_empty() {
        return Err(BootstrapError::NoCommand);
    }
    let argv = cstrings(input.argv.iter().cloned());
    let cfg = match PodConfig::from_lookup(|k| input.lookup(k))? {
        Setup::Missing(missing) => {
            tracing::warn!("not bootstrapping, missing {}: running the command unchanged", missing.join(", "));
            return unchanged(input);
        }
        Setup::Bootstrap(cfg) => cfg,
    };
    tracing::info!("bootstrapping {} (uid {}) in group {} (gid {})", cfg.user, cfg.uid, cfg.group, cfg.gid);

    let private_key = cfg.ssh_private_key_b64.as_ref().and_then(|b64| match ssh::decode_private_key(&b64.0) {
        Ok(key) => Some(key),
        Err(e) => {
            tracing::warn!("ssh: {e}; no private key written");
            None
        }
    });
    let ssh =
        SshMaterial { private_key, public_key: cfg.ssh_public_key.clone(), known_hosts: cfg.ssh_known_hosts.clone() };
    let mut ctx = Context {
        root: &input.root,
        shell: mirror::pick_shell(&input.root),
        cfg: *cfg,
        ssh,
        seed: None,
        renamed_home: None,
        user: None,
        copy_home_from: None,
        seed_opened: Vec::new(),
        opened: None,
        node: input.lookup(common::env::EnvVars::NODE_NAME),
    };
    for step in &STEPS {
        match (step.run)(&mut ctx) {
            Ok(changes) => log_changes(step.name, &changes),
            Err(error) if step.on_failure == OnFailure::Stop => {
                return Err(BootstrapError::Step { step: step.name, error });
            }
            Err(error) => tracing::warn!("{}: {error}; continuing", step.name),
        }
    }

    let user = ctx.user().map_err(|error| BootstrapError::Step { step: "accounts", error })?.clone();
    let cfg = ctx.cfg;
    let overrides = env::bootstrap_overrides(&cfg, ctx.shell);
    tracing::info!(
        "command: {} as uid {} gid {} groups {:?} in {}",
        String::from_utf8_lossy(input.argv[0].as_bytes()),
        user.uid,
        user.gid,
        user.groups,
        cfg.working_dir.display()
    );
    let mut env = env::command_env(&input.vars, &overrides);
    let (state, working_dir, record) = match ctx.opened {
        Some(opened) => (opened.attempts, opened.working_dir, opened.record),
        None => (None, Err(0), None),
    };
    // Without the record the user-state step said why.
    let attempt = cfg.job.as_ref().and_then(|job| attempts::begin(record.as_deref(), state, job, &user, &mut env));
    let cwd = WorkingDir { path: cfg.working_dir.clone(), opened: working_dir };
    Ok(Launch { argv, env, cwd: Some(cwd), identity: Some(user), attempt })
}

/// Root: the user and group mirrored into /etc (stops the pod on failure:
/// nothing later makes sense without the account).
fn accounts(ctx: &mut Context) -> Result<Vec<Change>, StepError> {
    let files = EtcFiles::new(&ctx.root.join("etc"));
    let owner = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    if let Some(found) = accounts_memo::recall(ctx.root, owner.0, &ctx.cfg, ctx.shell, &files) {
        tracing::debug!("accounts: /etc as the last start of this container left it; not read again");
        ctx.seed = found.seed;
        ctx.user = Some(found.user);
        return Ok(Vec::new());
    }
    let before = mirror::load(&files)?;
    ctx.seed = before.identity(&ctx.cfg.seed_user);
    ctx.renamed_home =
        before.passwd.find(|u| u.uid == ctx.cfg.uid && u.name != ctx.cfg.user).map(|u| PathBuf::from(&u.home));
    let (accounts, changes) = mirror::mirror_loaded(&files, before, &ctx.cfg, ctx.shell)?;
    let user = accounts.identity(&ctx.cfg.user).ok_or_else(|| StepError::UserMissing(ctx.cfg.user.clone()))?;
    // The seed as the next start would find it in these files.
    let found = accounts_memo::Found { user: user.clone(), seed: accounts.identity(&ctx.cfg.seed_user) };
    if let Err(e) = accounts_memo::keep(ctx.root, owner, &ctx.cfg, ctx.shell, &files, &found) {
        tracing::debug!("accounts: no memo of /etc for the next start ({e})");
    }
    ctx.user = Some(user);
    Ok(changes.into_iter().map(Change::Made).collect())
}

/// Root: the passwordless sudo drop-in.
fn sudo(ctx: &mut Context) -> Result<Vec<Change>, StepError> {
    Ok(match sudoers::ensure(ctx.root, &ctx.cfg.user, ctx.cfg.uid)? {
        sudoers::Outcome::Written => vec![Change::Made(format!("wrote {}", common::image::SUDOERS_DROP_IN))],
        sudoers::Outcome::Unchanged => vec![],
        sudoers::Outcome::NoSudo => {
            vec![Change::Skipped("no /etc/sudoers.d (sudo not installed?); no sudo rule".to_owned())]
        }
    })
}

/// Root: the renamed account's home moved along, then `/home/<user>`
/// created and given to the user.
fn home(ctx: &mut Context) -> Result<Vec<Change>, StepError> {
    let home = ctx.under_root(&ctx.cfg.home());
    let mut changes = Vec::new();
    if let Some(old) = ctx.renamed_home.as_deref().map(|old| ctx.under_root(old)) {
        match home::adopt(&old, &home) {
            Ok(moved) => changes.extend(moved.map(Change::Made)),
            // overlayfs cannot rename a directory of an image layer (EXDEV
            // without redirect_dir); usermod copies then, and so does the
            // user-state step.
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => ctx.copy_home_from = Some(old),
            Err(e) => {
                changes.push(Change::Skipped(format!("cannot move {} to {}: {e}", old.display(), home.display())))
            }
        }
    }
    match home::ensure(&home, ctx.cfg.uid, ctx.cfg.gid) {
        Ok(done) => changes.extend(done.into_iter().map(Change::Made)),
        Err(error) => return Err(StepError::Path { path: home, error }),
    }
    Ok(changes)
}

/// As the seed: SCRATCH_HOME, WORKING_DIR and HF_HOME on scratch.
fn scratch(ctx: &mut Context) -> Result<Vec<Change>, StepError> {
    let seed = ctx.seed.as_ref().ok_or_else(|| StepError::SeedMissing(ctx.cfg.seed_user.clone()))?;
    let cfg = &ctx.cfg;
    let mut dirs = vec![scratch::Wanted { dir: &cfg.scratch_home, mode: scratch::HOME_MODE }];
    let shared = [Some(&cfg.working_dir), cfg.hf_home.as_ref()];
    // WORKING_DIR is SCRATCH_HOME by default: one check, one log line.
    for dir in shared.into_iter().flatten() {
        if !dirs.iter().any(|w| w.dir == dir) {
            dirs.push(scratch::Wanted { dir, mode: scratch::MODE });
        }
    }
    let (outcome, opened) = scratch::prepare(seed, &dirs);
    ctx.seed_opened = opened;
    outcome?;
    Ok(vec![Change::DoneAs { user: ctx.cfg.seed_user.clone(), uid: seed.uid }])
}

/// As the user: shell state, links, git identity, uv directories, `~/.ssh`.
fn user_state(ctx: &mut Context) -> Result<Vec<Change>, StepError> {
    let ssh = std::mem::take(&mut ctx.ssh);
    let user = ctx.user()?.clone();
    let seed_uid = ctx.seed.as_ref().map(|s| s.uid);
    let walked = std::mem::take(&mut ctx.seed_opened);
    let home = ctx.copy_home_from.as_deref();
    let (outcome, opened) = userstate::prepare(&ctx.cfg, &user, seed_uid, &ssh, home, walked, ctx.node.as_deref());
    drop(ssh);
    ctx.opened = Some(opened);
    outcome?;
    Ok(vec![Change::DoneAs { user: ctx.cfg.user.clone(), uid: user.uid }])
}

fn log_changes(step: &str, changes: &[Change]) {
    if changes.is_empty() {
        tracing::info!("{step}: nothing to change");
    }
    for change in changes {
        match change {
            Change::Made(what) => tracing::info!("{step}: {what}"),
            Change::DoneAs { user, uid } => tracing::debug!("{step}: done as {user} (uid {uid})"),
            Change::Skipped(why) => tracing::warn!("{step}: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(vars: &[(&str, &str)], argv: &[&str]) -> Env {
        Env {
            vars: vars.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            argv: argv.iter().map(OsString::from).collect(),
            root: PathBuf::from("/nonexistent-root"),
        }
    }

    #[test]
    fn missing_vars_run_the_command_unchanged_without_the_key() {
        let launch = run(&input(&[("PATH", "/bin"), ("SSH_PRIVATE_KEY_B64", "eA==")], &["echo", "hi"])).unwrap();
        assert_eq!(launch.identity, None);
        assert!(launch.cwd.is_none());
        assert_eq!(launch.argv, [CString::new("echo").unwrap(), CString::new("hi").unwrap()]);
        assert_eq!(launch.env, [CString::new("PATH=/bin").unwrap()]);
    }

    #[test]
    fn bad_config_stops_before_touching_root() {
        let vars = [
            ("NB_USER", "ada"),
            ("NB_UID", "0"),
            ("NB_GROUP", "g"),
            ("NB_GID", "5"),
            ("SCRATCH_HOME_ROOT", "/s"),
            ("WORKING_DIR", "/s"),
        ];
        let err = run(&input(&vars, &["true"])).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("NB_UID=\"0\": must not be 0 (root)"), "{err}");
    }

    #[test]
    fn a_name_that_is_not_utf8_is_invalid_not_missing() {
        use std::os::unix::ffi::OsStringExt;
        let mut env = input(
            &[("NB_UID", "5"), ("NB_GROUP", "g"), ("NB_GID", "5"), ("SCRATCH_HOME_ROOT", "/s"), ("WORKING_DIR", "/s")],
            &["true"],
        );
        env.vars.push(("NB_USER".into(), OsString::from_vec(b"ad\xffa".to_vec())));
        let err = run(&env).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("NB_USER=\"ad\u{fffd}a\": must not contain '\u{fffd}'"), "{err}");
    }

    #[test]
    fn an_etc_that_cannot_be_read_stops_the_bootstrap_at_the_accounts() {
        let vars = [
            ("NB_USER", "ada"),
            ("NB_UID", "4242"),
            ("NB_GROUP", "g"),
            ("NB_GID", "5"),
            ("SCRATCH_HOME_ROOT", "/s"),
            ("WORKING_DIR", "/s"),
        ];
        let err = run(&input(&vars, &["true"])).unwrap_err();
        assert!(matches!(err, BootstrapError::Step { step: "accounts", error: StepError::Etc(_) }), "{err:?}");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().starts_with("accounts: /nonexistent-root/etc/passwd"), "{err}");
    }

    #[test]
    fn no_command_is_an_error() {
        assert_eq!(run(&input(&[], &[])).unwrap_err().exit_code(), 1);
    }
}
