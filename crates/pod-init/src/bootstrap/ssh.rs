//! `~/.ssh`, recreated on every start from the Secret: nothing of the key
//! is kept on scratch, and nothing the user left in `~/.ssh` survives. A
//! restart that finds it exactly as it would be made (a container restarted
//! in place, the job having left it alone) keeps it: same files, contents
//! and modes, nothing else.
//!
//! Done acting as the user (see `userstate`): a symlink at
//! `~/.ssh` (say to a directory on scratch) is removed as a link, never
//! followed, so its target is not touched.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use base64::Engine;
use zeroize::Zeroizing;

/// Why the private key was not written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("SSH_PRIVATE_KEY_B64: not valid base64 ({0})")]
    Base64(String),
    #[error("SSH_PRIVATE_KEY_B64: the decoded key is not text")]
    NotText,
    #[error("SSH_PRIVATE_KEY_B64: no \"-----BEGIN ... PRIVATE KEY-----\" line in the decoded key")]
    NotAKey,
}

/// Decodes the variable: whitespace anywhere is ignored (a key pasted with
/// line breaks), CRs are stripped and a final newline ensured, because ssh
/// rejects a key without one.
///
/// Every buffer that holds the key on the way is zeroed when dropped, on
/// the error paths too, and sized before it is filled: a buffer that grows
/// is copied, and the copy it leaves behind in freed memory is not zeroed.
pub fn decode_private_key(b64: &str) -> Result<Zeroizing<String>, KeyError> {
    let mut compact = Zeroizing::new(Vec::with_capacity(b64.len()));
    compact.extend(b64.bytes().filter(|b| !b.is_ascii_whitespace()));
    let bytes = decode_base64(&compact).map_err(|e| KeyError::Base64(describe(&e)))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| KeyError::NotText)?;
    let key = Zeroizing::new(text_file(text));
    if !key.contains("-----BEGIN ") || !key.contains("PRIVATE KEY-----") {
        return Err(KeyError::NotAKey);
    }
    Ok(key)
}

/// Standard base64 into a buffer reserved up front and zeroed when dropped
/// (the engine's own `decode` drops its buffer unzeroed on an error).
fn decode_base64(b64: &[u8]) -> Result<Zeroizing<Vec<u8>>, base64::DecodeError> {
    let mut out = Zeroizing::new(Vec::with_capacity(base64::decoded_len_estimate(b64.len())));
    base64::engine::general_purpose::STANDARD.decode_vec(b64, &mut out)?;
    Ok(out)
}

/// The decoding error without the offending byte: it is a byte of the key.
fn describe(e: &base64::DecodeError) -> String {
    use base64::DecodeError::*;
    match e {
        InvalidByte(offset, _) => format!("a character outside base64 at offset {offset}, whitespace ignored"),
        InvalidLength(_) => "wrong length, truncated?".to_owned(),
        InvalidLastSymbol(offset, _) => format!("invalid last character at offset {offset}, truncated?"),
        InvalidPadding => "wrong '=' padding".to_owned(),
    }
}

/// Text for a file ssh reads: no CR, ends with a newline.
/// Sized up front, so the private key is never copied by a growing buffer.
pub fn text_file(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    out.extend(s.chars().filter(|&c| c != '\r'));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The file name ssh tries by default for this key's type, so no
/// `~/.ssh/config` is needed. Unknown formats keep the historical `id_rsa`.
pub fn key_file_name(pem: &str) -> &'static str {
    if pem.contains("BEGIN OPENSSH PRIVATE KEY") {
        return match openssh_key_type(pem).as_deref() {
            Some("ssh-ed25519") => "id_ed25519",
            Some("sk-ssh-ed25519@openssh.com") => "id_ed25519_sk",
            Some(t) if t.starts_with("ecdsa-sha2-") => "id_ecdsa",
            Some(t) if t.starts_with("sk-ecdsa-sha2-") => "id_ecdsa_sk",
            _ => "id_rsa",
        };
    }
    if pem.contains("BEGIN EC PRIVATE KEY") { "id_ecdsa" } else { "id_rsa" }
}

/// The key type string of an `openssh-key-v1` blob: the first string of
/// its first public key (PROTOCOL.key in OpenSSH).
fn openssh_key_type(pem: &str) -> Option<String> {
    // The key itself, encoded then raw: zeroed buffers, sized up front.
    let mut body = Zeroizing::new(String::with_capacity(pem.len()));
    let lines = pem.lines().skip_while(|l| !l.starts_with("-----BEGIN")).skip(1);
    lines.take_while(|l| !l.starts_with("-----END")).for_each(|line| body.push_str(line));
    let blob = decode_base64(body.trim().as_bytes()).ok()?;
    let mut rest = blob.strip_prefix(b"openssh-key-v1\0")?;
    // cipher, kdf name, kdf options, then the key count, then the first
    // public key blob, which starts with the key type string.
    for _ in 0..3 {
        (_, rest) = ssh_string(rest)?;
    }
    rest = rest.get(4..)?;
    let (public, _) = ssh_string(rest)?;
    let (key_type, _) = ssh_string(public)?;
    String::from_utf8(key_type.to_vec()).ok()
}

/// Splits an SSH wire `string` (u32 big-endian length, bytes) off `buf`.
fn ssh_string(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let s = buf.get(4..4usize.checked_add(len)?)?;
    Some((s, &buf[4 + len..]))
}

/// What went into `~/.ssh`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshMaterial {
    /// Zeroed when dropped, as soon as it is written.
    pub private_key: Option<Zeroizing<String>>,
    pub public_key: Option<String>,
    pub known_hosts: Option<String>,
}

/// One file of `~/.ssh`: its name, content and mode.
struct Wanted {
    name: String,
    /// Zeroed when dropped: it may be the private key.
    content: Zeroizing<String>,
    mode: u32,
}

/// The files `material` makes, in the order they are written.
fn wanted(material: &SshMaterial) -> Vec<Wanted> {
    let file = |name: String, content: Zeroizing<String>, mode| Wanted { name, content, mode };
    let mut files = Vec::new();
    if let Some(key) = &material.private_key {
        let name = key_file_name(key);
        files.push(file(name.to_owned(), key.clone(), 0o600));
        if let Some(public) = &material.public_key {
            files.push(file(format!("{name}.pub"), Zeroizing::new(text_file(public)), 0o644));
        }
    } else if let Some(public) = &material.public_key {
        files.push(file("id_rsa.pub".to_owned(), Zeroizing::new(text_file(public)), 0o644));
    }
    if let Some(hosts) = &material.known_hosts {
        files.push(file("known_hosts".to_owned(), Zeroizing::new(text_file(hosts)), 0o644));
    }
    files
}

/// Whether `dir` is already what [`recreate`] would make of `files`: a
/// directory of this user's, 0700, holding exactly those files (regular,
/// this user's, each with its mode and content). Anything else, or a
/// failure to tell, is a no: the directory is made again.
fn already_made(dir: &Path, files: &[Wanted]) -> bool {
    let me = crate::fsid::current_uid();
    let Ok(meta) = fs::symlink_metadata(dir) else { return false };
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o7777 != 0o700 {
        return false;
    }
    let Ok(entries) = fs::read_dir(dir) else { return false };
    let mut count = 0;
    for entry in entries {
        let Ok(entry) = entry else { return false };
        count += 1;
        if !files.iter().any(|f| entry.file_name() == f.name.as_str()) {
            return false;
        }
    }
    count == files.len() && files.iter().all(|f| holds(&dir.join(&f.name), f, me))
}

/// Whether `path` is a regular file of `me`'s with `file`'s mode and content.
fn holds(path: &Path, file: &Wanted, me: u32) -> bool {
    let Ok(f) = File::options().read(true).custom_flags(libc::O_NOFOLLOW).open(path) else { return false };
    let Ok(meta) = f.metadata() else { return false };
    let expected = file.content.as_bytes();
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o7777 != file.mode || meta.len() != expected.len() as u64 {
        return false;
    }
    // Sized up front and zeroed when dropped: it may hold the private key.
    let mut found = Zeroizing::new(Vec::with_capacity(expected.len() + 1));
    (&f).take(expected.len() as u64 + 1).read_to_end(&mut found).is_ok() && found.as_slice() == expected
}

/// Recreates `home/.ssh` (0700) with the given files, unless it is already
/// exactly that. Returns a line per action for the log.
pub fn recreate(home: &Path, material: &SshMaterial) -> io::Result<Vec<String>> {
    let dir = home.join(".ssh");
    let files = wanted(material);
    if already_made(&dir, &files) {
        return Ok(Vec::new());
    }
    let mut done = Vec::new();
    match fs::symlink_metadata(&dir) {
        Ok(m) if m.file_type().is_symlink() || m.is_file() => {
            // unlink: removes the link itself; its target is left alone.
            fs::remove_file(&dir)?;
            done.push(format!("removed {} (was a {})", dir.display(), if m.is_file() { "file" } else { "symlink" }));
        }
        // Without keys it was left empty: one rmdir. Otherwise (ENOTEMPTY)
        // remove_dir_all, which does not follow symlinks inside the tree.
        Ok(_) => {
            if fs::remove_dir(&dir).is_err() {
                fs::remove_dir_all(&dir)?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::DirBuilder::new().mode(0o700).create(&dir)?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    let mut written = Vec::new();
    for file in &files {
        write_new(&dir.join(&file.name), &file.content, file.mode)?;
        written.push(format!("{} ({:04o})", file.name, file.mode));
    }
    done.push(format!(
        "recreated {} (0700): {}",
        dir.display(),
        if written.is_empty() { "empty".to_owned() } else { written.join(", ") }
    ));
    Ok(done)
}

/// A new file (never an existing one, never through a symlink) with `mode`
/// set exactly, whatever the umask. Not synced: it lives in the container's
/// own layer, which no crash outlives, and every start writes it again (an
/// fsync is a journal commit, milliseconds on a busy disk, on every start).
fn write_new(path: &Path, content: &str, mode: u32) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).custom_flags(libc::O_NOFOLLOW).open(path)?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    f.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use std::os::unix::fs::MetadataExt;

    /// Generates a key of `kind` with the real ssh-keygen.
    #[allow(clippy::disallowed_methods, reason = "keys come from the real ssh-keygen")]
    fn keygen(kind: &str, format: &[&str]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-f"])
            .arg(&key)
            .args(format)
            .status()
            .expect("ssh-keygen not found: apt-get install openssh-client");
        assert!(status.success());
        fs::read_to_string(key).unwrap()
    }

    #[test]
    fn key_type_picks_the_default_file_name() {
        assert_eq!(key_file_name(&keygen("ed25519", &[])), "id_ed25519");
        assert_eq!(key_file_name(&keygen("ecdsa", &[])), "id_ecdsa");
        assert_eq!(key_file_name(&keygen("rsa", &["-b", "1024"])), "id_rsa");
        assert_eq!(key_file_name(&keygen("ecdsa", &["-m", "PEM"])), "id_ecdsa");
        assert_eq!(key_file_name(&keygen("rsa", &["-b", "1024", "-m", "PEM"])), "id_rsa");
    }

    #[test]
    fn decoding_strips_cr_adds_newline_and_ignores_wrapping() {
        let pem = keygen("ed25519", &[]);
        let crlf = pem.trim_end().replace('\n', "\r\n");
        let b64 = STANDARD.encode(crlf);
        let wrapped: String =
            b64.as_bytes().chunks(60).map(|c| format!("{}\n", std::str::from_utf8(c).unwrap())).collect();
        assert_eq!(*decode_private_key(&wrapped).unwrap(), pem);
    }

    #[test]
    fn bad_key_values_are_named() {
        let err = decode_private_key("c2Vj!mV0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "SSH_PRIVATE_KEY_B64: not valid base64 (a character outside base64 at offset 4, whitespace ignored)"
        );
        assert_eq!(decode_private_key(&STANDARD.encode([0xff, 0xfe])), Err(KeyError::NotText));
        assert_eq!(decode_private_key(&STANDARD.encode("hello")), Err(KeyError::NotAKey));
        assert!(KeyError::NotAKey.to_string().starts_with("SSH_PRIVATE_KEY_B64: "));
    }

    #[test]
    fn symlinked_ssh_dir_is_replaced_and_its_target_kept() {
        let home = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        fs::write(elsewhere.path().join("precious"), "keep").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), home.path().join(".ssh")).unwrap();
        let material = SshMaterial {
            private_key: Some(Zeroizing::new(keygen("ed25519", &[]))),
            public_key: Some("ssh-ed25519 AAAA x".into()),
            known_hosts: Some("github.com ssh-ed25519 AAAA".into()),
        };
        let log = recreate(home.path(), &material).unwrap();
        assert!(log[0].starts_with("removed "), "{log:?}");
        assert_eq!(fs::read_to_string(elsewhere.path().join("precious")).unwrap(), "keep");
        let dir = home.path().join(".ssh");
        assert!(fs::symlink_metadata(&dir).unwrap().is_dir());
        for (name, mode) in [("", 0o700), ("id_ed25519", 0o600), ("id_ed25519.pub", 0o644), ("known_hosts", 0o644)] {
            assert_eq!(fs::metadata(dir.join(name)).unwrap().mode() & 0o7777, mode, "{name}");
        }
        assert_eq!(fs::read_to_string(dir.join("known_hosts")).unwrap(), "github.com ssh-ed25519 AAAA\n");
        // A second start replaces the whole directory again.
        fs::write(dir.join("stray"), "x").unwrap();
        recreate(home.path(), &material).unwrap();
        assert!(!dir.join("stray").exists());
    }

    #[test]
    fn a_start_that_finds_ssh_as_it_would_make_it_keeps_it_and_any_difference_makes_it_again() {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join(".ssh");
        let material = SshMaterial {
            private_key: Some(Zeroizing::new(keygen("ed25519", &[]))),
            public_key: Some("ssh-ed25519 AAAA x".into()),
            known_hosts: Some("github.com ssh-ed25519 AAAA".into()),
        };
        let inode = |path: &Path| fs::symlink_metadata(path).unwrap().ino();
        assert!(recreate(home.path(), &material).unwrap()[0].starts_with("recreated "));
        let made = inode(&dir);
        assert_eq!(recreate(home.path(), &material).unwrap(), Vec::<String>::new(), "kept: nothing to say");
        assert_eq!(inode(&dir), made, "made again although it was as wanted");
        let changes: [(&str, &dyn Fn()); 5] = [
            ("a stray file", &|| fs::write(dir.join("stray"), "x").unwrap()),
            ("a file missing", &|| fs::remove_file(dir.join("known_hosts")).unwrap()),
            ("a mode", &|| fs::set_permissions(dir.join("id_ed25519"), fs::Permissions::from_mode(0o644)).unwrap()),
            ("a content", &|| fs::write(dir.join("id_ed25519.pub"), "ssh-ed25519 BBBB x\n").unwrap()),
            ("the directory's mode", &|| fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap()),
        ];
        for (what, change) in changes {
            change();
            assert!(recreate(home.path(), &material).unwrap()[0].starts_with("recreated "), "{what}: kept");
            assert!(!dir.join("stray").exists(), "{what}");
            assert_eq!(fs::metadata(&dir).unwrap().mode() & 0o7777, 0o700, "{what}");
            assert_eq!(fs::read_to_string(dir.join("id_ed25519.pub")).unwrap(), "ssh-ed25519 AAAA x\n", "{what}");
            assert_eq!(fs::metadata(dir.join("id_ed25519")).unwrap().mode() & 0o7777, 0o600, "{what}");
        }
        let empty = SshMaterial::default();
        assert!(recreate(home.path(), &empty).unwrap()[0].ends_with("(0700): empty"));
        assert_eq!(recreate(home.path(), &empty).unwrap(), Vec::<String>::new(), "an empty ~/.ssh kept");
    }
}
