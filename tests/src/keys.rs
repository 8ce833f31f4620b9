//! SSH keys for the tests, made by the real `ssh-keygen`, as a researcher
//! makes the key `submit` puts into the Secret.

use std::fs;
use std::process::Command;

use crate::sandbox::{Error, Result};

/// A fresh ed25519 key pair without a passphrase: (private key file
/// content, public key line without its newline).
pub fn ed25519_pair() -> Result<(String, String)> {
    let dir = tempfile::tempdir().map_err(|e| Error::new(format!("keys: temp dir: {e}")))?;
    let key = dir.path().join("k");
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ada@test", "-f"])
        .arg(&key)
        .status()
        .map_err(|e| Error::new(format!("keys: cannot run ssh-keygen ({e}): apt-get install openssh-client")))?;
    if !status.success() {
        return Err(Error::new(format!("keys: ssh-keygen failed ({status})")));
    }
    let read = |path: &std::path::Path| {
        fs::read_to_string(path).map_err(|e| Error::new(format!("keys: cannot read {}: {e}", path.display())))
    };
    Ok((read(&key)?, read(&key.with_extension("pub"))?.trim_end().to_owned()))
}
