//! Step 1 (root): mirror the researcher's LDAP identity into the account
//! files, so that `id`, `ls -l`, `sudo` and `su` know them by name.
//!
//! The edit is computed without a lock first: on a restart nothing changes
//! and nothing is locked or written (a read-only /etc is then fine). When
//! something must change, the files are read again under the shadow-utils
//! lock, edited, checked to be replaceable (all of them, before the first
//! write) and replaced in the order gshadow, group, shadow, passwd: groups
//! before users, so a crash never leaves a user whose group is missing, and
//! each shadow file before its main file, so a rename cut short is finished
//! by the next start (the main file still has the old name, the rename runs
//! again and finds the shadow entry already renamed). The crash test kills
//! pod-init at every step and checks exactly this.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::accounts::edit::{Accounts, UserSpec};
use crate::accounts::{Db, Entry};
use crate::config::PodConfig;
use crate::etcfile::{self, EtcError, EtcLock, Ownership};

/// The groups that give sudo and log access on Debian images.
pub const EXTRA_GROUPS: [&str; 2] = ["sudo", "adm"];

/// The four files.
#[derive(Debug, Clone)]
pub struct EtcFiles {
    pub group: PathBuf,
    pub gshadow: PathBuf,
    pub passwd: PathBuf,
    pub shadow: PathBuf,
}

impl EtcFiles {
    /// The files under `etc` (`/etc` in a pod, a temp dir in tests).
    pub fn new(etc: &Path) -> Self {
        EtcFiles {
            group: etc.join("group"),
            gshadow: etc.join("gshadow"),
            passwd: etc.join("passwd"),
            shadow: etc.join("shadow"),
        }
    }

    fn all(&self) -> [&PathBuf; 4] {
        [&self.gshadow, &self.group, &self.shadow, &self.passwd]
    }
}

fn read_db<T: Entry>(path: &Path, required: bool) -> Result<Option<Db<T>>, EtcError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(Db::parse(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => Ok(None),
        Err(source) => Err(EtcError::Io { path: path.to_owned(), action: "read", source }),
    }
}

/// Reads the four databases; passwd and group must exist.
pub fn load(files: &EtcFiles) -> Result<Accounts, EtcError> {
    Ok(Accounts {
        passwd: read_db(&files.passwd, true)?.unwrap_or_else(|| Db::parse(b"")),
        group: read_db(&files.group, true)?.unwrap_or_else(|| Db::parse(b"")),
        shadow: read_db(&files.shadow, false)?,
        gshadow: read_db(&files.gshadow, false)?,
    })
}

/// The pure edit: group, user, memberships, locked password.
pub fn apply(accounts: &mut Accounts, cfg: &PodConfig, shell: &str) -> Vec<String> {
    let home = cfg.home();
    let home = home.to_string_lossy();
    let mut changes = accounts.ensure_group(&cfg.group, cfg.gid);
    changes.extend(accounts.ensure_user(&UserSpec { name: &cfg.user, uid: cfg.uid, gid: cfg.gid, home: &home, shell }));
    changes.extend(accounts.add_to_groups(&cfg.user, &EXTRA_GROUPS));
    let days = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    // Locked: a password anyone in the pod could guess (the user name, as
    // the bash entrypoint set) would let any other uid `su` to the user and
    // then sudo; the way to root is the NOPASSWD drop-in, for the user.
    changes.extend(accounts.lock_password(&cfg.user, days));
    changes
}

/// [`load`] then [`mirror_loaded`] (the tests' entry point; the bootstrap
/// loads first itself, for the seed's ids).
#[cfg(test)]
pub fn mirror(files: &EtcFiles, cfg: &PodConfig, shell: &str) -> Result<(Accounts, Vec<String>), EtcError> {
    mirror_loaded(files, load(files)?, cfg, shell)
}

/// Brings the files in line with `cfg`, starting from `accounts`, the
/// databases as [`load`] just read them (the bootstrap reads them once for
/// the seed's ids and hands them on; a restart with nothing to change then
/// reads each file once). Under the lock they are read again regardless.
/// Returns the resulting databases (for the user's ids and groups) and the
/// changes made.
pub fn mirror_loaded(
    files: &EtcFiles,
    mut accounts: Accounts,
    cfg: &PodConfig,
    shell: &str,
) -> Result<(Accounts, Vec<String>), EtcError> {
    let etc = files.passwd.parent().unwrap_or(Path::new("/etc"));
    let paths: Vec<PathBuf> = files.all().into_iter().cloned().collect();
    let changes = apply(&mut accounts, cfg, shell);
    // Refuse a read-only or bind-mounted file before even taking the lock
    // (taking it writes in /etc). Nothing to write (a restart, or only a
    // note such as "no /etc/shadow"): no lock either, so a read-only /etc
    // that is already right is fine.
    if pending_writes(files, &accounts)?.is_empty() {
        // A lock left by a writer killed after its last rename: take it over
        // (and release it), so that `useradd` later does not wait on it.
        if paths.iter().any(|p| etcfile::lock_path(p).exists()) {
            drop(EtcLock::acquire(etc, &paths, etcfile::LOCK_TIMEOUT)?);
        }
        return Ok((accounts, changes));
    }
    let _lock = EtcLock::acquire(etc, &paths, etcfile::LOCK_TIMEOUT)?;
    // Again under the lock: another writer may have changed the files.
    let mut accounts = load(files)?;
    let changes = apply(&mut accounts, cfg, shell);
    for (path, old, new) in pending_writes(files, &accounts)? {
        etcfile::replace(path, old.as_deref(), &new, Ownership::KeepOriginal, true)?;
    }
    Ok((accounts, changes))
}

/// A file to replace: its path, its content now (`None`: it does not
/// exist), its new content.
type PendingWrite<'a> = (&'a PathBuf, Option<Vec<u8>>, Vec<u8>);

/// The files whose content must change, each checked to be replaceable,
/// in write order.
fn pending_writes<'a>(files: &'a EtcFiles, accounts: &Accounts) -> Result<Vec<PendingWrite<'a>>, EtcError> {
    // An unedited database renders to the bytes just read from its file:
    // nothing to compare (or write), so it is not read again.
    fn edited<T: Entry>(db: &Db<T>) -> Option<Vec<u8>> {
        (!db.unedited()).then(|| db.render())
    }
    let rendered: [(&PathBuf, Option<Vec<u8>>); 4] = [
        (&files.gshadow, accounts.gshadow.as_ref().and_then(edited)),
        (&files.group, edited(&accounts.group)),
        (&files.shadow, accounts.shadow.as_ref().and_then(edited)),
        (&files.passwd, edited(&accounts.passwd)),
    ];
    let mut writes = Vec::new();
    for (path, new) in rendered {
        let Some(new) = new else { continue };
        if let Some(old) = etcfile::needs_write(path, &new)? {
            etcfile::check_replaceable(path)?;
            writes.push((path, old, new));
        }
    }
    Ok(writes)
}

/// The login shell: zsh as the seed image had, else bash, else sh.
pub fn pick_shell(root: &Path) -> &'static str {
    const SHELLS: [&str; 5] = ["/bin/zsh", "/usr/bin/zsh", "/bin/bash", "/usr/bin/bash", "/bin/sh"];
    SHELLS.into_iter().find(|s| root.join(s.trim_start_matches('/')).exists()).unwrap_or("/bin/sh")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn config(user: &str, uid: &str) -> PodConfig {
        crate::config::for_tests(&[("NB_USER", user), ("NB_UID", uid)])
    }

    fn etc_with(files: &[(&str, &str, u32)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content, mode) in files {
            let p = dir.path().join(name);
            fs::write(&p, content).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
        }
        dir
    }

    fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, u32)> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().into_string().unwrap(), fs::read(e.path()).unwrap(), e.metadata().unwrap().mode())
            })
            .collect();
        v.sort();
        v
    }

    const DEBIAN: [(&str, &str, u32); 4] = [
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/bash\n# a comment\n+@nis\nseed:x:1001:83070::/home/seed:/bin/bash\n",
            0o644,
        ),
        ("group", "root:x:0:\nadm:x:4:\nsudo:x:27:\nseedgrp:x:83070:\r\n", 0o644),
        ("shadow", "root:*:19000:0:99999:7:::\nseed:!:19000:0:99999:7:::", 0o640),
        ("gshadow", "root:*::\nadm:*::\nsudo:*::\nseedgrp:!::\n", 0o640),
    ];

    #[test]
    fn first_run_writes_all_four_files_and_second_run_nothing() {
        let dir = etc_with(&DEBIAN);
        let files = EtcFiles::new(dir.path());
        let cfg = config("ada", "177449");
        let (accounts, changes) = mirror(&files, &cfg, "/bin/zsh").unwrap();
        assert_eq!(changes.len(), 5, "{changes:?}");
        assert_eq!(accounts.supplementary_gids("ada"), [4, 27]);
        let passwd = fs::read_to_string(&files.passwd).unwrap();
        assert!(passwd.starts_with("root:x:0:0:root:/root:/bin/bash\n# a comment\n"), "{passwd}");
        assert!(
            passwd
                .ends_with("+@nis\nseed:x:1001:83070::/home/seed:/bin/bash\nada:x:177449:83070::/home/ada:/bin/zsh\n"),
            "{passwd}"
        );
        assert_eq!(
            fs::read_to_string(&files.group).unwrap(),
            "root:x:0:\nadm:x:4:ada\nsudo:x:27:ada\nMLO-unit:x:83070:\r\n",
            "an edited line keeps its CRLF"
        );
        let shadow = fs::read_to_string(&files.shadow).unwrap();
        assert!(shadow.starts_with("root:*:19000:0:99999:7:::\nseed:!:19000:0:99999:7:::\nada:!:"), "{shadow}");
        assert_eq!(fs::metadata(&files.shadow).unwrap().mode() & 0o777, 0o640);
        assert_eq!(fs::read(dir.path().join("passwd-")).unwrap(), DEBIAN[0].1.as_bytes());

        let before = snapshot(dir.path());
        let (_, changes) = mirror(&files, &cfg, "/bin/zsh").unwrap();
        assert_eq!(changes, Vec::<String>::new());
        assert_eq!(snapshot(dir.path()), before, "restart: /etc byte-identical, no lock file left");
    }

    #[test]
    fn no_change_takes_no_lock() {
        let dir = etc_with(&DEBIAN);
        let files = EtcFiles::new(dir.path());
        let cfg = config("ada", "177449");
        mirror(&files, &cfg, "/bin/zsh").unwrap();
        fs::remove_file(dir.path().join(".pwd.lock")).unwrap();
        mirror(&files, &cfg, "/bin/zsh").unwrap();
        assert!(!dir.path().join(".pwd.lock").exists());
    }

    #[test]
    fn without_shadow_files_a_restart_takes_no_lock() {
        let dir = etc_with(&DEBIAN[..2]);
        let files = EtcFiles::new(dir.path());
        let cfg = config("ada", "177449");
        mirror(&files, &cfg, "/bin/zsh").unwrap();
        fs::remove_file(dir.path().join(".pwd.lock")).unwrap();
        let (_, changes) = mirror(&files, &cfg, "/bin/zsh").unwrap();
        assert_eq!(changes, ["no /etc/shadow: password not locked"]);
        assert!(!dir.path().join(".pwd.lock").exists(), "locked with nothing to write");
    }

    #[test]
    fn placeholder_rename_cut_short_at_every_step_is_finished_by_the_rerun() {
        const PLACEHOLDER: [(&str, &str, u32); 4] = [
            (
                "passwd",
                "root:x:0:0:root:/root:/bin/bash\nplaceholder:x:177449:1000::/home/placeholder:/bin/bash\n",
                0o644,
            ),
            ("group", "root:x:0:\nsudo:x:27:placeholder\nplaceholder:x:83070:\n", 0o644),
            ("shadow", "root:*:19000:0:99999:7:::\nplaceholder:!:19000:0:99999:7:::\n", 0o640),
            ("gshadow", "root:*::\nsudo:*::placeholder\nplaceholder:!::\n", 0o640),
        ];
        for n in ["gshadow", "group", "shadow", "passwd"] {
            let dir = etc_with(&PLACEHOLDER);
            crash_at(&format!("{n}:renamed"), dir.path());
            mirror(&EtcFiles::new(dir.path()), &config("ada", "177449"), "/bin/zsh").unwrap();
            let all: String = ["passwd", "group", "shadow", "gshadow"]
                .iter()
                .map(|f| fs::read_to_string(dir.path().join(f)).unwrap())
                .collect();
            assert!(
                !all.contains("placeholder:") && !all.contains(",placeholder") && !all.contains(":placeholder"),
                "after a crash at {n}:renamed:\n{all}"
            );
            assert_eq!(
                fs::read_to_string(dir.path().join("gshadow")).unwrap(),
                "root:*::\nsudo:*::ada\nMLO-unit:!::\n",
                "{n}"
            );
        }
    }

    #[test]
    fn symlinked_passwd_stops_before_any_write() {
        let dir = etc_with(&DEBIAN);
        let real = dir.path().join("passwd.real");
        fs::rename(dir.path().join("passwd"), &real).unwrap();
        std::os::unix::fs::symlink(&real, dir.path().join("passwd")).unwrap();
        let files = EtcFiles::new(dir.path());
        let err = mirror(&files, &config("ada", "177449"), "/bin/zsh").unwrap_err();
        assert!(err.to_string().contains("not changing any account file"), "{err}");
        assert_eq!(fs::read_to_string(&files.group).unwrap(), DEBIAN[1].1, "group untouched although it comes first");
    }

    #[test]
    fn shell_falls_back_to_what_exists() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("bin")).unwrap();
        assert_eq!(pick_shell(root.path()), "/bin/sh");
        fs::write(root.path().join("bin/bash"), "").unwrap();
        assert_eq!(pick_shell(root.path()), "/bin/bash");
        fs::write(root.path().join("bin/zsh"), "").unwrap();
        assert_eq!(pick_shell(root.path()), "/bin/zsh");
    }

    /// The env var that makes [`crash_child`] edit a given directory.
    const CRASH_ETC: &str = "POD_INIT_TEST_CRASH_ETC";

    /// The edit run in a separate process by the crash test (this test
    /// binary re-executed with a failpoint set): SIGKILLed at the step.
    /// Run directly, it is one more first-run check.
    #[test]
    fn crash_child() {
        let dir = match std::env::var_os(CRASH_ETC) {
            Some(dir) => PathBuf::from(dir),
            None => etc_with(&DEBIAN).keep(),
        };
        let (accounts, _) = mirror(&EtcFiles::new(&dir), &config("ada", "177449"), "/bin/zsh").unwrap();
        assert!(accounts.passwd.get("ada").is_some());
    }

    /// Runs [`crash_child`] on `dir` in a new process (this test binary) that
    /// must die by SIGKILL at `step`.
    #[allow(clippy::disallowed_methods, reason = "the crash is a real SIGKILL of a child process")]
    fn crash_at(step: &str, dir: &Path) {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "bootstrap::mirror::tests::crash_child", "--test-threads=1", "--quiet"])
            .env(crate::failpoint::VAR, step)
            .env(CRASH_ETC, dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "step {step}: the child was not killed there");
    }

    fn text(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes).into_owned()
    }

    #[test]
    fn sigkill_at_every_step_leaves_each_file_old_or_new_and_the_rerun_recovers() {
        let reference = etc_with(&DEBIAN);
        mirror(&EtcFiles::new(reference.path()), &config("ada", "177449"), "/bin/zsh").unwrap();
        let names = ["gshadow", "group", "shadow", "passwd"];
        let new: Vec<String> = names.iter().map(|n| text(&fs::read(reference.path().join(n)).unwrap())).collect();
        let old: Vec<String> = names
            .iter()
            .map(|n| DEBIAN.iter().find(|(f, ..)| f == n).map(|(_, c, _)| text(c.as_bytes())).unwrap())
            .collect();

        let mut steps = vec!["pwd-locked".to_owned()];
        for n in names {
            steps.push(format!("{n}:locked"));
            for f in [format!("{n}-"), n.to_owned()] {
                steps.push(format!("{f}:temp-written"));
                steps.push(format!("{f}:renamed"));
            }
        }
        for step in &steps {
            let dir = etc_with(&DEBIAN);
            crash_at(step, dir.path());
            for (i, n) in names.iter().enumerate() {
                let now = text(&fs::read(dir.path().join(n)).unwrap());
                assert!(now == old[i] || now == new[i], "step {step}: {n} is neither old nor new:\n{now}");
            }
            // The rerun takes over the dead child's locks and finishes the job.
            mirror(&EtcFiles::new(dir.path()), &config("ada", "177449"), "/bin/zsh").unwrap();
            for (i, n) in names.iter().enumerate() {
                assert_eq!(text(&fs::read(dir.path().join(n)).unwrap()), new[i], "step {step}: {n} after the rerun");
            }
            let left: Vec<String> = fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.contains(".cio") || n.ends_with(".lock") && n != ".pwd.lock")
                .collect();
            assert!(left.is_empty(), "step {step}: left behind {left:?}");
        }
    }
}
