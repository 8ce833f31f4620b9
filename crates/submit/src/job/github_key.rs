//! Filling the SSH keys of the Secret from the researcher's GitHub key file.
//!
//! When `SSH_PRIVATE_KEY_B64` or `SSH_PUBLIC_KEY` is empty, the wrapper read
//! `GITHUB_SSH_KEY_PATH` (default `~/.ssh/github`) and its `.pub`. So does
//! this, and it says on stderr which file it used; the content only ever
//! goes into the Secret.

use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::env::EnvVars;

use crate::job::config::EnvFile;
use crate::job::keys;

/// A key file that exists but cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the GitHub SSH key {path} ({setting}): {reason}")]
    Unreadable { path: PathBuf, setting: &'static str, reason: io::Error },
    #[error("{setting} names {path}, which does not exist")]
    Missing { path: PathBuf, setting: &'static str },
    #[error("the public key {path} is not UTF-8 text")]
    NotText { path: PathBuf },
}

/// Expands a leading `~/` with `home`.
pub fn expand_tilde(path: &str, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ if path == "~" => home.map_or_else(|| PathBuf::from(path), Path::to_path_buf),
        _ => PathBuf::from(path),
    }
}

/// The key files a submission reads: `GITHUB_SSH_KEY_PATH` or
/// `~/.ssh/github`, and `GITHUB_SSH_PUBLIC_KEY_PATH` or the key's `.pub`.
/// `None` when neither a path nor HOME is given.
pub fn key_files(env: &EnvFile, home: Option<&Path>) -> Option<(PathBuf, PathBuf)> {
    let explicit_key = env.get(keys::GITHUB_SSH_KEY_PATH).map(|p| expand_tilde(p, home));
    let key = explicit_key.or_else(|| home.map(|h| h.join(keys::DEFAULT_GITHUB_KEY)))?;
    let public = env.get(keys::GITHUB_SSH_PUBLIC_KEY_PATH).map(|p| expand_tilde(p, home)).unwrap_or_else(|| {
        let mut p = key.clone().into_os_string();
        p.push(".pub");
        PathBuf::from(p)
    });
    Some((key, public))
}

/// Fills the empty SSH keys of `env` from the key files; returns a note for
/// each file used, naming the file (never its content).
pub fn autoload(env: &mut EnvFile, home: Option<&Path>) -> Result<Vec<String>, KeyError> {
    let mut notes = Vec::new();
    let explicit_key = env.get(keys::GITHUB_SSH_KEY_PATH).map(|p| expand_tilde(p, home));
    let explicit_pub = env.get(keys::GITHUB_SSH_PUBLIC_KEY_PATH).map(|p| expand_tilde(p, home));
    let Some((key_path, pub_path)) = key_files(env, home) else { return Ok(notes) };

    if env.get(EnvVars::SSH_PRIVATE_KEY_B64).is_none() {
        let setting = if explicit_key.is_some() { keys::GITHUB_SSH_KEY_PATH } else { "the default key" };
        if let Some(bytes) = read_if_present(&key_path, explicit_key.is_some(), setting)? {
            env.insert_from_file(EnvVars::SSH_PRIVATE_KEY_B64, BASE64.encode(bytes), &key_path);
            notes.push(format!("{} loaded from {}", EnvVars::SSH_PRIVATE_KEY_B64, key_path.display()));
        }
    }
    if env.get(EnvVars::SSH_PUBLIC_KEY).is_none() {
        let setting = if explicit_pub.is_some() { keys::GITHUB_SSH_PUBLIC_KEY_PATH } else { "the default key" };
        if let Some(bytes) = read_if_present(&pub_path, explicit_pub.is_some(), setting)? {
            let text = String::from_utf8(bytes).map_err(|_| KeyError::NotText { path: pub_path.clone() })?;
            env.insert_from_file(EnvVars::SSH_PUBLIC_KEY, text.trim().to_owned(), &pub_path);
            notes.push(format!("{} loaded from {}", EnvVars::SSH_PUBLIC_KEY, pub_path.display()));
        }
    }
    Ok(notes)
}

/// The file's bytes; `None` if a default path does not exist (having no
/// GitHub key is fine), an error if a configured one does not.
fn read_if_present(path: &Path, explicit: bool, setting: &'static str) -> Result<Option<Vec<u8>>, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(KeyError::Missing { path: path.to_owned(), setting }),
        Err(reason) => Err(KeyError::Unreadable { path: path.to_owned(), setting, reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(text: &str) -> EnvFile {
        EnvFile::parse(Path::new("t.env"), text).unwrap()
    }

    #[test]
    fn loads_default_key_and_pub_and_names_the_files() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        std::fs::write(home.path().join(".ssh/github"), "PRIVATE\n").unwrap();
        std::fs::write(home.path().join(".ssh/github.pub"), "ssh-ed25519 AAAA x\n").unwrap();
        let mut e = env("SSH_PRIVATE_KEY_B64=\n");
        let notes = autoload(&mut e, Some(home.path())).unwrap();
        assert_eq!(e.get("SSH_PRIVATE_KEY_B64"), Some("UFJJVkFURQo="));
        assert_eq!(e.get("SSH_PUBLIC_KEY"), Some("ssh-ed25519 AAAA x"));
        assert_eq!(notes.len(), 2);
        assert!(notes.iter().all(|n| !n.contains("UFJJVkFURQo") && !n.contains("ssh-ed25519")));
        assert!(notes[0].ends_with(".ssh/github"), "{notes:?}");
    }

    #[test]
    fn keeps_values_already_set() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join(".ssh")).unwrap();
        std::fs::write(home.path().join(".ssh/github"), "PRIVATE\n").unwrap();
        let mut e = env("SSH_PRIVATE_KEY_B64=abc\n");
        assert!(autoload(&mut e, Some(home.path())).unwrap().is_empty());
        assert_eq!(e.get("SSH_PRIVATE_KEY_B64"), Some("abc"));
    }

    #[test]
    fn no_default_key_is_fine_but_a_configured_one_must_exist() {
        let home = tempfile::tempdir().unwrap();
        let mut e = env("");
        assert!(autoload(&mut e, Some(home.path())).unwrap().is_empty());
        let mut e = env("GITHUB_SSH_KEY_PATH=~/keys/gh\n");
        let err = autoload(&mut e, Some(home.path())).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("GITHUB_SSH_KEY_PATH names {}/keys/gh, which does not exist", home.path().display())
        );
    }

    #[test]
    fn unreadable_key_is_an_error_naming_the_file() {
        let home = tempfile::tempdir().unwrap();
        // A directory cannot be read as a file, even by root.
        std::fs::create_dir_all(home.path().join(".ssh/github")).unwrap();
        let mut e = env("");
        let err = autoload(&mut e, Some(home.path())).unwrap_err();
        assert!(err.to_string().starts_with("cannot read the GitHub SSH key "), "{err}");
    }

    #[test]
    fn tilde_expands_against_home() {
        let home = Path::new("/h");
        assert_eq!(expand_tilde("~/x", Some(home)), PathBuf::from("/h/x"));
        assert_eq!(expand_tilde("~", Some(home)), PathBuf::from("/h"));
        assert_eq!(expand_tilde("/abs", Some(home)), PathBuf::from("/abs"));
        assert_eq!(expand_tilde("~/x", None), PathBuf::from("~/x"));
    }
}
