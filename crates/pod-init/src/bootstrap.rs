//! The bootstrap: from the pod's environment to a [`Launch`], doing the
//! root work on the way (the steps of the bash entrypoint, in its order).
//!
//! Root does only what needs root and touches only root's files (/etc, the
//! /home directory entry); scratch is written by the seed user and the
//! user's files by the user, each in a forked child with their ids. Steps
//! whose failure leaves the researcher able to work (sudo, scratch, shell
//! state, ssh) log and go on; a bad configuration or an /etc that cannot be
//! edited stops the pod before anything is changed.
//!
//! The caller decides whether the bootstrap may run at all (the setuid start,
//! see the supervisor's `privilege` module) and what happens with the
//! returned [`Launch`].

use std::ffi::{CString, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use crate::config::{ConfigError, PodConfig, Setup};
use crate::etcfile::EtcError;
use crate::launch::Launch;
use crate::mirror::{self, EtcFiles};
use crate::ssh::{self, SshMaterial};
use crate::{env, home, scratch, sudoers, userstate};

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
    #[error("accounts: {0}")]
    Accounts(#[from] EtcError),
    #[error("accounts: user {0} missing after the edit of /etc/passwd")]
    UserMissing(String),
}

impl BootstrapError {
    /// The exit status: 1 for the pod's configuration (fix the .env), 2
    /// for the image or the node (/etc cannot be edited).
    pub fn exit_code(&self) -> u8 {
        match self {
            BootstrapError::NoCommand | BootstrapError::Config(_) => 1,
            BootstrapError::Accounts(_) | BootstrapError::UserMissing(_) => 2,
        }
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

    let shell = mirror::pick_shell(&input.root);
    let files = EtcFiles::new(&input.root.join("etc"));
    // The seed as the image defines it, before the edit: even if NB_USER or
    // NB_UID collide with it, scratch is created with the ids that own it.
    let before = mirror::load(&files)?;
    let seed = before.identity(&cfg.seed_user);
    // The home of the account that held NB_UID under another name (the
    // image's placeholder): it follows the rename, as `usermod -d -m` did.
    let renamed_home = before.passwd.find(|u| u.uid == cfg.uid && u.name != cfg.user).map(|u| PathBuf::from(&u.home));
    let (accounts, changes) = mirror::mirror_loaded(&files, before, &cfg, shell)?;
    log_changes("accounts", &changes);

    match sudoers::ensure(&input.root, &cfg.user) {
        Ok(sudoers::Outcome::Written) => tracing::info!("sudo: wrote {}", common::image::SUDOERS_DROP_IN),
        Ok(sudoers::Outcome::Unchanged) => tracing::info!("sudo: nothing to change"),
        Ok(sudoers::Outcome::NoSudo) => tracing::warn!("sudo: no /etc/sudoers.d (sudo not installed?); no sudo rule"),
        Err(e) => tracing::warn!("sudo: {e}; continuing without sudo"),
    }

    let under_root = |path: &std::path::Path| input.root.join(path.strip_prefix("/").unwrap_or(path));
    let home_dir = under_root(&cfg.home());
    // Copied by the user instead when it cannot be moved (see userstate).
    let mut copy_home_from = None;
    if let Some(old) = renamed_home.map(|old| under_root(&old)) {
        match home::adopt(&old, &home_dir) {
            Ok(Some(moved)) => tracing::info!("home: {moved}"),
            Ok(None) => {}
            // overlayfs cannot rename a directory of an image layer (EXDEV
            // without redirect_dir); usermod copies then, and so do we.
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => copy_home_from = Some(old),
            Err(e) => tracing::warn!("home: cannot move {} to {}: {e}; continuing", old.display(), home_dir.display()),
        }
    }
    match home::ensure(&home_dir, cfg.uid, cfg.gid) {
        Ok(done) => log_changes("home", &done),
        Err(e) => tracing::warn!("home: {}: {e}; continuing", home_dir.display()),
    }

    let mut dirs = vec![cfg.scratch_home.clone(), cfg.working_dir.clone()];
    dirs.extend(cfg.hf_home.clone());
    // WORKING_DIR is SCRATCH_HOME by default: one check, one log line.
    dirs.dedup();
    scratch::prepare(&cfg.seed_user, seed, &dirs);

    let user = accounts.identity(&cfg.user).ok_or_else(|| BootstrapError::UserMissing(cfg.user.clone()))?;
    let private_key = cfg.ssh_private_key_b64.as_ref().and_then(|b64| match ssh::decode_private_key(&b64.0) {
        Ok(key) => Some(key),
        Err(e) => {
            tracing::warn!("ssh: {e}; no private key written");
            None
        }
    });
    let material =
        SshMaterial { private_key, public_key: cfg.ssh_public_key.clone(), known_hosts: cfg.ssh_known_hosts.clone() };
    userstate::prepare(&cfg, &user, &material, copy_home_from.as_deref());
    drop(material);

    let overrides = env::bootstrap_overrides(&cfg, shell);
    tracing::info!(
        "command: {} as uid {} gid {} groups {:?} in {}",
        String::from_utf8_lossy(input.argv[0].as_bytes()),
        user.uid,
        user.gid,
        user.groups,
        cfg.working_dir.display()
    );
    Ok(Launch {
        argv,
        env: env::command_env(&input.vars, &overrides),
        cwd: Some(cfg.working_dir.clone()),
        identity: Some(user),
    })
}

fn log_changes(step: &str, changes: &[String]) {
    if changes.is_empty() {
        tracing::info!("{step}: nothing to change");
    }
    for change in changes {
        tracing::info!("{step}: {change}");
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
        assert_eq!(launch.cwd, None);
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
    fn no_command_is_an_error() {
        assert_eq!(run(&input(&[], &[])).unwrap_err().exit_code(), 1);
    }
}
