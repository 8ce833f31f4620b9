//! The other parties in a pod, each trying their way in, for real: pod-init
//! (root-owned, 4755) as PID 1 of a sandbox started as the researcher's
//! uid, as on the cluster, and the attacker's tools as the attacker runs
//! them (`su`, `sudo`, a dump of `/proc/1/mem`). Each test is the attack;
//! it passes when the attack gets nothing.
//!
//! Needs root (it fails, with how to fix it, otherwise).

// Helpers outside #[test] functions fail the test by panicking, like asserts.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::env::EnvVars;
use nb_tests::researcher::{self, UID, USER};
use nb_tests::sandbox::{Error, LAB_GID, NOBODY, Output, RunSpec, SCRATCH_MOUNT, Sandbox};

type Result = std::result::Result<(), Error>;

/// Another uid in the pod: a service the image runs, a process that got
/// in some other way. `nobody`: in /etc/passwd (sudo ignores a uid it
/// cannot name), in no group that sudo names.
const OTHER_UID: u32 = NOBODY;

const READY_WAIT: Duration = Duration::from_secs(30);

fn squashed_sandbox() -> std::result::Result<Sandbox, Error> {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    Ok(sb)
}

/// The pod `submit` starts for ada, with her key pair in the Secret.
fn ada_pod(script: &str, key: &(String, String)) -> RunSpec {
    RunSpec::pod_init(["/bin/sh", "-c", script])
        .as_user(UID, LAB_GID)
        .envs(researcher::account_vars(SCRATCH_MOUNT, UID, LAB_GID))
        .envs(researcher::secret_vars(&key.0, &key.1))
}

/// `script` as `uid`:`gid` (no supplementary groups), in a new container
/// over the same /etc.
fn as_uid_gid(sb: &Sandbox, uid: u32, gid: u32, script: &str) -> std::result::Result<Output, Error> {
    sb.run(&RunSpec::sh(script).as_user(uid, gid))
}

fn as_uid(sb: &Sandbox, uid: u32, script: &str) -> std::result::Result<Output, Error> {
    as_uid_gid(sb, uid, uid, script)
}

#[test]
fn another_uid_with_the_user_name_as_password_gets_neither_the_user_nor_root() -> Result {
    let sb = squashed_sandbox()?;
    let key = nb_tests::keys::ed25519_pair()?;
    sb.run(&ada_pod("true", &key))?.assert_success();
    // What the bash entrypoint did on every start (and an older pod-init
    // kept): the user name as the password. The next start must undo it.
    sb.exec(["sh", "-c", "echo ada:ada | chpasswd"])?.assert_success();
    sb.run(&ada_pod("true", &key))?.assert_success();

    let attack = as_uid(
        &sb,
        OTHER_UID,
        "echo ada | su ada -c 'echo became=$(id -un); sudo -n id -u'; echo su=$?; \
         echo ada | su root -c 'echo became=$(id -un)'; echo su-root=$?; \
         sudo -n id -u; echo sudo=$?",
    )?;
    let said = format!("--- stdout\n{}--- stderr\n{}", attack.stdout, attack.stderr);
    assert!(!attack.stdout.contains("became="), "su let another uid in:\n{said}");
    assert!(!attack.stdout.lines().any(|l| l == "0"), "another uid became root:\n{said}");
    for refused in ["su=1", "su-root=1", "sudo=1"] {
        assert!(attack.stdout.lines().any(|l| l == refused), "{refused} expected:\n{said}");
    }
    assert!(attack.stderr.contains("Authentication failure"), "su did not check and refuse the password:\n{said}");
    let shadow = sb.read_etc("shadow")?;
    assert!(shadow.lines().any(|l| l.starts_with("ada:!:")), "ada's password is not locked:\n{shadow}");
    // The way to root stays the user's: sudo, without a password.
    let own = as_uid_gid(&sb, UID, LAB_GID, "sudo -n id -u")?;
    assert_eq!(own.stdout, "0\n", "{}", own.stderr);
    Ok(())
}

/// Every file, link and directory the containers changed under /etc (the
/// overlay's upper layer): kind, mode, owner and content.
fn etc_changes(sb: &Sandbox) -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let what = if meta.is_dir() {
                walk(&path, out);
                "dir".to_owned()
            } else if meta.file_type().is_symlink() {
                format!("link to {}", fs::read_link(&path).unwrap().display())
            } else {
                String::from_utf8_lossy(&fs::read(&path).unwrap()).into_owned()
            };
            let key = path.display().to_string();
            out.insert(key, format!("{:o} {}:{} {what}", meta.mode(), meta.uid(), meta.gid()));
        }
    }
    let mut out = BTreeMap::new();
    walk(&sb.upper().join("etc"), &mut out);
    out
}

#[test]
fn names_sudoers_reads_as_keywords_are_refused_before_etc_changes_and_grant_no_one_sudo() -> Result {
    let sb = squashed_sandbox()?;
    let key = nb_tests::keys::ed25519_pair()?;
    let keyword = "means something else to sudo";
    let cases = [
        // `ALL ALL=(ALL:ALL) NOPASSWD: ALL`: every uid in the pod is root.
        (EnvVars::NB_USER, "ALL", keyword),
        (EnvVars::NB_USER, "ADMINS", keyword),
        (EnvVars::NB_USER, "NOPASSWD", keyword),
        (EnvVars::NB_USER, "Defaults", keyword),
        (EnvVars::NB_USER, "sha256", keyword),
        (EnvVars::NB_USER, "%sudo", "must not contain '%'"),
        (EnvVars::NB_USER, "+lab", "must not contain '+'"),
        (EnvVars::NB_USER, "#0", "must not contain '#'"),
        (EnvVars::NB_GROUP, "ALL", keyword),
        (EnvVars::NB_GROUP, "LAB_2", keyword),
        (EnvVars::NB_GROUP, "%sudo", "must not contain '%'"),
        (EnvVars::NB_GROUP, "+lab", "must not contain '+'"),
        (EnvVars::NB_GROUP, "#27", "must not contain '#'"),
    ];
    let before = etc_changes(&sb);
    for (name, value, reason) in cases {
        let out = sb.run(&ada_pod("echo the-command-ran", &key).env(name, value))?;
        let attack = as_uid(&sb, OTHER_UID, "sudo -n id -u; echo sudo=$?")?;
        assert_eq!(attack.stdout, "sudo=1\n", "{name}={value:?} gave another uid sudo:\n{}", attack.stderr);
        out.assert_status(1);
        out.assert_logged(&format!("{name}={value:?}: {reason}"));
        out.assert_logged("nothing changed");
        assert!(!out.stdout.contains("the-command-ran"), "{name}={value}: the command ran");
        assert_eq!(etc_changes(&sb), before, "{name}={value:?} changed /etc");
    }

    // A valid start: the rule names ada's uid, which sudo honours for her
    // and for no one else.
    sb.run(&ada_pod("true", &key))?.assert_success();
    let rule = String::from_utf8_lossy(&sb.read_file(common::image::SUDOERS_DROP_IN)?).into_owned();
    assert_eq!(rule, format!("# {USER}\n#{UID} ALL=(ALL:ALL) NOPASSWD: ALL\n"));
    sb.exec(["visudo", "-c"])?.assert_success();
    assert_eq!(as_uid_gid(&sb, UID, LAB_GID, "sudo -n id -u")?.stdout, "0\n");
    let attack = as_uid(&sb, OTHER_UID, "sudo -n id -u; echo sudo=$?")?;
    assert_eq!(attack.stdout, "sudo=1\n", "{}", attack.stderr);
    Ok(())
}

/// Byte strings that give the private key away, by what they are: the
/// variable's value as the pod got it, the key as `~/.ssh` holds it, and
/// its raw ed25519 seed.
fn key_needles(key: &(String, String), b64: &str) -> Vec<(&'static str, Vec<u8>)> {
    let body: String = key.0.lines().filter(|l| !l.starts_with("-----")).collect();
    let blob = STANDARD.decode(&body).unwrap();
    let public = STANDARD.decode(key.1.split_whitespace().nth(1).unwrap()).unwrap();
    let public = &public[public.len() - 32..];
    // The private half is the 32-byte seed right before the last copy of
    // the public key (OpenSSH's PROTOCOL.key: seed then public key).
    let last_public = blob.windows(32).rposition(|w| w == public).unwrap();
    let middle_line = key.0.lines().filter(|l| !l.starts_with("-----")).nth(2).unwrap();
    let mid = b64.len() / 2;
    vec![
        ("SSH_PRIVATE_KEY_B64's value", b64.as_bytes()[mid - 20..mid + 20].to_vec()),
        ("the decoded key", middle_line.as_bytes().to_vec()),
        ("the raw private seed", blob[last_public - 32..last_public].to_vec()),
    ]
}

/// The needles found in `memory`, by name.
fn found(memory: &[u8], needles: &[(&'static str, Vec<u8>)]) -> Vec<&'static str> {
    needles.iter().filter(|(_, n)| memory.windows(n.len()).any(|w| w == n.as_slice())).map(|(name, _)| *name).collect()
}

/// Every readable mapping of the host process `pid`, read as root on the
/// host does (CAP_SYS_PTRACE: undumpable or not).
fn memory_of(pid: i32) -> Vec<(String, Vec<u8>)> {
    let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut regions = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        let Some((start, end)) = range.split_once('-') else { continue };
        let (start, end) = (u64::from_str_radix(start, 16).unwrap(), u64::from_str_radix(end, 16).unwrap());
        if !perms.starts_with('r') || end - start > 1 << 28 {
            continue;
        }
        let mut bytes = vec![0; (end - start) as usize];
        // [vvar] and the like refuse reads: nothing of the process there.
        if mem.read_exact_at(&mut bytes, start).is_ok() {
            regions.push((line.to_owned(), bytes));
        }
    }
    assert!(!regions.is_empty(), "read nothing of pid {pid}:\n{maps}");
    regions
}

/// What of the key PID 1 of `running` still holds, and where.
fn key_in_pid1(running: &nb_tests::sandbox::Running, needles: &[(&'static str, Vec<u8>)]) -> Vec<String> {
    let pid = running.init_host_pid().unwrap().as_raw();
    let mut hits = Vec::new();
    for (region, bytes) in memory_of(pid) {
        hits.extend(found(&bytes, needles).into_iter().map(|name| format!("{name} in {region}")));
    }
    hits
}

/// The job's side of the attack, as a script: read PID 1's environ, open
/// its memory, and dump every readable mapping into `/tmp/pid1-memory`.
const DUMP_PID1: &str = "cat /proc/1/environ >/dev/null 2>&1 && echo environ-read || echo environ-refused; \
     (exec 3</proc/1/mem) 2>/dev/null && echo mem-opened || echo mem-refused; \
     : >/tmp/pid1-memory; { while read -r range perms rest; do case $perms in r*) ;; *) continue;; esac; \
       start=$((0x${range%-*})); end=$((0x${range#*-})); \
       dd if=/proc/1/mem bs=4096 skip=$((start / 4096)) count=$(((end - start) / 4096)) 2>/dev/null; \
     done </proc/1/maps; } >>/tmp/pid1-memory 2>/dev/null; echo dumped-bytes=$(wc -c </tmp/pid1-memory)";

/// `script`, then `ready` on scratch, then a wait (at most 30 s) for `go`,
/// so the host can look at PID 1 while the job still runs.
fn then_wait_for_the_host(script: &str) -> String {
    format!(
        "{script}; touch {SCRATCH_MOUNT}/homes/ready; \
         n=0; while [ ! -e {SCRATCH_MOUNT}/homes/go ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done"
    )
}

#[test]
fn a_job_under_no_new_privs_can_neither_read_pid1_nor_find_the_key_in_its_memory() -> Result {
    let sb = Sandbox::new()?;
    let key = nb_tests::keys::ed25519_pair()?;
    let b64 = researcher::secret_vars(&key.0, &key.1)[0].1.clone();
    let needles = key_needles(&key, &b64);
    // allowPrivilegeEscalation: false: the runtime sets no_new_privs before
    // it executes the entrypoint, so the kernel ignores the setuid bit and
    // PID 1 runs as the user, like every process of the job.
    let mut spec = ada_pod(&then_wait_for_the_host(DUMP_PID1), &key);
    spec.argv.splice(0..0, ["setpriv".to_owned(), "--no-new-privs".to_owned()]);
    let mut running = sb.spawn(&spec)?;
    running.wait_for_path(&sb.scratch_path("homes/ready"), READY_WAIT)?;
    let in_pid1 = key_in_pid1(&running, &needles);
    fs::write(sb.scratch_path("homes/go"), b"")?;
    let out = running.wait()?;
    out.assert_success();
    out.assert_logged("no_new_privs is set");

    let dumped = sb.read_file("/tmp/pid1-memory")?;
    assert_eq!(found(&dumped, &needles), Vec::<&str>::new(), "the job found the key in PID 1's memory");
    for refused in ["environ-refused", "mem-refused", "dumped-bytes=0"] {
        assert!(out.stdout.lines().any(|l| l == refused), "{refused} expected:\n{}", out.stdout);
    }
    // Should PID 1 ever be readable again, nothing of the key is left there.
    assert_eq!(in_pid1, Vec::<String>::new(), "PID 1 still holds the key");
    Ok(())
}

#[test]
fn after_the_bootstrap_pid1_keeps_no_copy_of_the_private_key() -> Result {
    let sb = squashed_sandbox()?;
    let key = nb_tests::keys::ed25519_pair()?;
    let b64 = researcher::secret_vars(&key.0, &key.1)[0].1.clone();
    let needles = key_needles(&key, &b64);
    // The key did reach ~/.ssh: the bootstrap decoded it in PID 1.
    let mut running =
        sb.spawn(&ada_pod(&then_wait_for_the_host("test -s ~/.ssh/id_ed25519 && echo key-written"), &key))?;
    running.wait_for_path(&sb.scratch_path("homes/ready"), READY_WAIT)?;
    // As root on the node can (and a node agent or a core dump would).
    let in_pid1 = key_in_pid1(&running, &needles);
    fs::write(sb.scratch_path("homes/go"), b"")?;
    let out = running.wait()?;
    out.assert_success();
    assert_eq!(out.stdout, "key-written\n", "{}", out.stderr);
    assert_eq!(in_pid1, Vec::<String>::new(), "PID 1 still holds the key while it supervises the job");
    Ok(())
}
