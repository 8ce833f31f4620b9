//! pod-init's bootstrap, run for real: the musl binary as PID 1 of a
//! container over a Debian rootfs, with root squashed on /scratch as on the
//! RCP NFS. Every test first proves the squash holds, then checks the result
//! from inside with the real tools (getent, id, sudo, su, ssh-keygen, git,
//! stat), as a researcher would meet it.
//!
//! Needs root (it fails, with how to fix it, otherwise). The bootstrap times
//! pod-init logs are printed (`cargo test -- --nocapture` shows them).

// Helpers outside #[test] functions fail the test by panicking, like asserts.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use nb_tests::sandbox::{
    Error, LAB_GID, Output, PLACEHOLDER, PLACEHOLDER_ID, RunSpec, SCRATCH_MOUNT, SEED_UID, SEED_USER, Sandbox,
};

use nb_tests::researcher::{self, GROUP, HOME, UID, USER};

type Result = std::result::Result<(), Error>;

fn scratch_home() -> String {
    researcher::scratch_home(SCRATCH_MOUNT)
}

fn working_dir() -> String {
    researcher::working_dir(SCRATCH_MOUNT)
}

fn hf_home() -> String {
    format!("{SCRATCH_MOUNT}/hf_cache")
}

/// A fresh sandbox, with the root squash on scratch proven before the test
/// relies on it.
fn squashed_sandbox() -> std::result::Result<Sandbox, Error> {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    Ok(sb)
}

/// [`squashed_sandbox`] and a fresh key pair: what almost every test starts with.
fn sandbox_and_key() -> std::result::Result<(Sandbox, (String, String)), Error> {
    Ok((squashed_sandbox()?, nb_tests::keys::ed25519_pair()?))
}

/// The environment `submit` gives a pod, with `uid`:`gid` as the LDAP ids.
fn pod(command: &[&str], uid: u32, gid: u32, private_key: &str, public_key: &str) -> RunSpec {
    // CRLF and a missing final newline, as a key pasted on Windows arrives.
    let pasted = private_key.trim_end().replace('\n', "\r\n");
    RunSpec::pod_init(command.iter().copied())
        .envs(researcher::account_vars(SCRATCH_MOUNT, uid, gid))
        .env("HF_HOME", hf_home())
        .envs(researcher::secret_vars(&pasted, public_key))
        .env(
            "SSH_KNOWN_HOSTS",
            "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
        )
}

fn ada_pod(command: &[&str], key: &(String, String)) -> RunSpec {
    pod(command, UID, LAB_GID, &key.0, &key.1)
}

/// The duration in pod-init's `bootstrap done in …` line.
fn bootstrap_time(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.split_once("bootstrap done in ").map(|(_, t)| t.trim().to_owned()))
        .unwrap_or_else(|| panic!("no `bootstrap done in` line in pod-init's log:\n{stderr}"))
}

/// `KEY=VALUE` lines of `env` output.
fn env_map(stdout: &str) -> BTreeMap<String, String> {
    stdout.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Runs `script` as the researcher (uid, lab gid, no supplementary groups,
/// as Kubernetes starts a container) with a login-like environment.
fn as_ada(sb: &Sandbox, script: &str) -> std::result::Result<Output, Error> {
    sb.run(
        &RunSpec::sh(script)
            .as_user(UID, LAB_GID)
            .env("HOME", HOME)
            .env("GIT_CONFIG_GLOBAL", format!("{}/.gitconfig", scratch_home())),
    )
}

/// `stat` of each path, as `owner:group mode type`, one line each, from a
/// check container.
fn stat(sb: &Sandbox, paths: &[String]) -> std::result::Result<BTreeMap<String, String>, Error> {
    let mut argv = vec!["stat".to_owned(), "-c".to_owned(), "%n|%U:%G %a %F".to_owned()];
    argv.extend(paths.iter().cloned());
    let out = sb.exec(argv)?;
    out.assert_success();
    Ok(out.stdout.lines().filter_map(|l| l.split_once('|')).map(|(n, rest)| (n.to_owned(), rest.to_owned())).collect())
}

#[test]
fn first_start_mirrors_the_identity_and_runs_the_command_as_the_user() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out = sb.run(&ada_pod(&["/bin/sh", "-c", "id; pwd; umask; env"], &key))?;
    out.assert_success();
    eprintln!("first start: bootstrap done in {}", bootstrap_time(&out.stderr));

    // What the command saw.
    let mut lines = out.stdout.lines();
    assert_eq!(
        lines.next(),
        Some(format!("uid={UID}(ada) gid={LAB_GID}(MLO-unit) groups={LAB_GID}(MLO-unit),4(adm),27(sudo)").as_str()),
        "{}",
        out.stderr
    );
    assert_eq!(lines.next(), Some(working_dir().as_str()));
    let env = env_map(&out.stdout);
    let expected = [
        ("HOME", HOME.to_owned()),
        ("USER", USER.to_owned()),
        ("LOGNAME", USER.to_owned()),
        ("SHELL", "/bin/zsh".to_owned()),
        ("ZDOTDIR", format!("{}/.shell", scratch_home())),
        ("ZSH", format!("{}/.shell/.oh-my-zsh", scratch_home())),
        ("HISTFILE", format!("{}/.zsh_history", scratch_home())),
        ("SCRATCH_HOME", scratch_home()),
        ("GIT_CONFIG_GLOBAL", format!("{}/.gitconfig", scratch_home())),
        ("UV_CACHE_DIR", format!("{}/.cache/uv", scratch_home())),
        ("UV_PYTHON_INSTALL_DIR", format!("{}/.uv", scratch_home())),
        ("WANDB_API_KEY", "kept-for-the-job".to_owned()),
        ("GIT_USER_NAME", "Ada Lovelace".to_owned()),
    ];
    for (k, v) in expected {
        assert_eq!(env.get(k), Some(&v), "{k} in the command's environment");
    }
    assert!(!env.contains_key("SSH_PRIVATE_KEY_B64"), "the private key reached the command");

    // The accounts, as the system tools see them.
    let getent = sb.exec(["getent", "passwd", USER])?;
    assert_eq!(getent.stdout, format!("ada:x:{UID}:{LAB_GID}::/home/ada:/bin/zsh\n"));
    let getent = sb.exec(["getent", "group", GROUP, "sudo", "adm"])?;
    assert_eq!(getent.stdout, "MLO-unit:x:83070:\nsudo:x:27:ada\nadm:x:4:ada\n");
    assert_eq!(
        sb.exec(["getent", "passwd", SEED_USER])?.stdout.split(':').nth(3),
        Some("83070"),
        "the seed keeps its group"
    );
    let su = sb.exec(["su", "-", USER, "-c", "id"])?;
    su.assert_success();
    assert_eq!(
        su.stdout,
        format!("uid={UID}(ada) gid={LAB_GID}(MLO-unit) groups={LAB_GID}(MLO-unit),4(adm),27(sudo)\n")
    );
    // No password opens the account (pod_init_attacks tries the old one);
    // sudo needs none.
    assert!(sb.read_etc("shadow")?.lines().any(|l| l.starts_with("ada:!:")), "the password is not locked");
    as_ada(&sb, "sudo -n true && sudo -n id -u")?.assert_success();
    assert_eq!(as_ada(&sb, "sudo -n id -u")?.stdout, "0\n");
    sb.exec(["visudo", "-c"])?.assert_success();

    // SSH: ssh accepts the key (mode, ownership, newline) as the user.
    let derived = as_ada(&sb, "ssh-keygen -y -f ~/.ssh/id_ed25519")?;
    derived.assert_success();
    assert_eq!(
        derived.stdout.split_whitespace().take(2).collect::<Vec<_>>(),
        key.1.split_whitespace().take(2).collect::<Vec<_>>()
    );
    let private = sb.read_file(format!("{HOME}/.ssh/id_ed25519"))?;
    assert_eq!(String::from_utf8_lossy(&private), key.0, "CRs stripped, final newline restored");

    // git reads the identity back.
    let git = as_ada(&sb, "git config --global user.name && git config --global user.email")?;
    git.assert_success();
    assert_eq!(git.stdout, "Ada Lovelace\nada@epfl.ch\n");

    // Owners and modes of everything created.
    let sh = scratch_home();
    let modes = stat(
        &sb,
        &[
            HOME.into(),
            format!("{HOME}/.ssh"),
            format!("{HOME}/.ssh/id_ed25519"),
            format!("{HOME}/.ssh/id_ed25519.pub"),
            format!("{HOME}/.ssh/known_hosts"),
            "/etc/sudoers.d/nb-user".into(),
            "/etc/passwd".into(),
            "/etc/shadow".into(),
            "/etc/group".into(),
            "/etc/gshadow".into(),
            sh.clone(),
            working_dir(),
            hf_home(),
            format!("{sh}/.shell"),
            format!("{sh}/.shell/.zshrc"),
            format!("{sh}/.shell/.oh-my-zsh"),
            format!("{sh}/.zsh_history"),
            format!("{sh}/.gitconfig"),
            format!("{sh}/.cache/uv"),
            format!("{sh}/.uv"),
            format!("{sh}/.vscode"),
            format!("{sh}/.vscode-server"),
            format!("{sh}/.cursor"),
            format!("{sh}/.cursor-server"),
        ],
    )?;
    let want = [
        (HOME.to_owned(), "ada:MLO-unit 700 directory"),
        (format!("{HOME}/.ssh"), "ada:MLO-unit 700 directory"),
        (format!("{HOME}/.ssh/id_ed25519"), "ada:MLO-unit 600 regular file"),
        (format!("{HOME}/.ssh/id_ed25519.pub"), "ada:MLO-unit 644 regular file"),
        (format!("{HOME}/.ssh/known_hosts"), "ada:MLO-unit 644 regular file"),
        ("/etc/sudoers.d/nb-user".to_owned(), "root:root 440 regular file"),
        ("/etc/passwd".to_owned(), "root:root 644 regular file"),
        ("/etc/shadow".to_owned(), "root:shadow 640 regular file"),
        ("/etc/group".to_owned(), "root:root 644 regular file"),
        ("/etc/gshadow".to_owned(), "root:shadow 640 regular file"),
        (sh.clone(), "mljaggi-admin:MLO-unit 1770 directory"),
        (working_dir(), "mljaggi-admin:MLO-unit 770 directory"),
        (hf_home(), "mljaggi-admin:MLO-unit 770 directory"),
        (format!("{sh}/.shell"), "ada:MLO-unit 700 directory"),
        (format!("{sh}/.shell/.zshrc"), "ada:MLO-unit 600 regular file"),
        (format!("{sh}/.shell/.oh-my-zsh"), "ada:MLO-unit 700 directory"),
        (format!("{sh}/.zsh_history"), "ada:MLO-unit 600 regular empty file"),
        (format!("{sh}/.gitconfig"), "ada:MLO-unit 600 regular file"),
        (format!("{sh}/.cache/uv"), "ada:MLO-unit 700 directory"),
        (format!("{sh}/.uv"), "ada:MLO-unit 700 directory"),
        (format!("{sh}/.vscode"), "ada:MLO-unit 700 directory"),
        (format!("{sh}/.vscode-server"), "ada:MLO-unit 700 directory"),
        (format!("{sh}/.cursor"), "ada:MLO-unit 700 directory"),
        (format!("{sh}/.cursor-server"), "ada:MLO-unit 700 directory"),
    ];
    for (path, expected) in want {
        assert_eq!(modes.get(&path).map(String::as_str), Some(expected), "{path}");
    }

    // Links from the ephemeral home into scratch.
    let links = sb.exec(["sh", "-c", "cd /home/ada && for l in .zshrc .oh-my-zsh .zsh_history .vscode .vscode-server .cursor .cursor-server; do echo \"$l -> $(readlink $l)\"; done"])?;
    assert_eq!(
        links.stdout,
        format!(
            ".zshrc -> {sh}/.shell/.zshrc\n.oh-my-zsh -> {sh}/.shell/.oh-my-zsh\n.zsh_history -> {sh}/.zsh_history\n\
             .vscode -> {sh}/.vscode\n.vscode-server -> {sh}/.vscode-server\n.cursor -> {sh}/.cursor\n.cursor-server -> {sh}/.cursor-server\n"
        )
    );
    // The staged shell files were copied, and zsh as the user loads them.
    let zsh = as_ada(
        &sb,
        &format!(
            "ZDOTDIR={sh}/.shell ZSH={sh}/.shell/.oh-my-zsh zsh -ic 'echo omz=$NB_FAKE_OMZ_LOADED umask=$(umask)'"
        ),
    )?;
    assert!(zsh.stdout.contains("omz=1 umask=007"), "{} {}", zsh.stdout, zsh.stderr);
    Ok(())
}

#[test]
fn restart_leaves_etc_byte_identical_and_keeps_scratch() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let first = sb.run(&ada_pod(
        &["/bin/sh", "-c", "echo work > \"$SCRATCH_HOME/result\" && echo '# mine' >> \"$ZDOTDIR/.zshrc\" && echo 'ls' >> \"$HISTFILE\""],
        &key,
    ))?;
    first.assert_success();
    let etc_files =
        ["passwd", "group", "shadow", "gshadow", "passwd-", "group-", "shadow-", "gshadow-", "sudoers.d/nb-user"];
    let before: Vec<String> = etc_files.iter().map(|f| sb.read_etc(f)).collect::<std::result::Result<_, _>>()?;
    let listing =
        |sb: &Sandbox| sb.exec(["sh", "-c", "ls -la --time-style=+%s.%N /etc | grep -v -e ' \\.$' -e ' \\.\\.$'"]);
    let etc_before = listing(&sb)?.stdout;

    let second = sb.run(&ada_pod(
        &["/bin/sh", "-c", "cat \"$SCRATCH_HOME/result\" \"$HISTFILE\"; tail -n1 \"$ZDOTDIR/.zshrc\""],
        &key,
    ))?;
    second.assert_success();
    eprintln!(
        "first start: bootstrap done in {}; restart: bootstrap done in {}",
        bootstrap_time(&first.stderr),
        bootstrap_time(&second.stderr)
    );
    assert_eq!(second.stdout, "work\nls\n# mine\n", "scratch content kept, .zshrc not copied again");
    let after: Vec<String> = etc_files.iter().map(|f| sb.read_etc(f)).collect::<std::result::Result<_, _>>()?;
    assert_eq!(after, before, "/etc changed on restart");
    assert_eq!(listing(&sb)?.stdout, etc_before, "/etc entries (names, sizes, mtimes) changed on restart");
    for step in ["accounts: nothing to change", "sudo: nothing to change", "home: nothing to change"] {
        second.assert_logged(step);
    }
    // The key is recreated every start and still works.
    as_ada(&sb, "ssh-keygen -y -f ~/.ssh/id_ed25519 >/dev/null")?.assert_success();
    Ok(())
}

#[test]
fn a_command_that_is_not_zsh_runs_with_umask_007_and_leaves_group_writable_files() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let script = "umask; echo x > \"$SCRATCH_HOME/made-by-the-job\"; stat -c %a \"$SCRATCH_HOME/made-by-the-job\"";
    let out = sb.run(&ada_pod(&["/bin/sh", "-c", script], &key))?;
    out.assert_success();
    assert_eq!(out.stdout, "0007\n660\n", "{}", out.stderr);
    // Without the bootstrap (its variables missing) the command gets it too.
    let out = sb.run(&RunSpec::pod_init(["/bin/sh", "-c", "umask"]))?;
    out.assert_success();
    assert_eq!(out.stdout, "0007\n", "{}", out.stderr);
    Ok(())
}

#[test]
fn placeholder_user_and_group_holding_the_ids_are_renamed() -> Result {
    let (sb, key) = sandbox_and_key()?;
    // The image's placeholder holds uid 1000 and gid 1000: the researcher
    // gets both, and the placeholder disappears under its old name.
    let out = sb.run(&pod(&["id"], PLACEHOLDER_ID, PLACEHOLDER_ID, &key.0, &key.1))?;
    out.assert_success();
    assert_eq!(
        out.stdout, "uid=1000(ada) gid=1000(MLO-unit) groups=1000(MLO-unit),4(adm),27(sudo)\n",
        "{}",
        out.stderr
    );
    out.assert_logged("renamed user placeholder (uid 1000) to ada");
    out.assert_logged("renamed group placeholder (gid 1000) to MLO-unit");
    // Its home moved with it (`usermod -d -m`): the skeleton files are now
    // the researcher's. On overlayfs (a container's root, and this one) the
    // image's directory cannot be renamed, so it is copied, as usermod does.
    out.assert_logged("home: copied /home/placeholder into /home/ada");
    let home = sb.exec(["stat", "-c", "%U %a %n", "/home/ada", "/home/ada/.profile", "/home/ada/.bashrc"])?;
    home.assert_success();
    assert_eq!(home.stdout, "ada 700 /home/ada\nada 644 /home/ada/.profile\nada 644 /home/ada/.bashrc\n");

    let getent = sb.exec(["getent", "passwd", "1000"])?;
    assert_eq!(getent.stdout, "ada:x:1000:1000::/home/ada:/bin/zsh\n");
    assert_eq!(sb.exec(["getent", "group", "1000"])?.stdout, "MLO-unit:x:1000:\n");
    assert_eq!(sb.exec(["getent", "passwd", PLACEHOLDER])?.status, 2, "placeholder user still there");
    assert_eq!(sb.exec(["getent", "group", PLACEHOLDER])?.status, 2, "placeholder group still there");
    for file in ["shadow", "gshadow"] {
        let text = sb.read_etc(file)?;
        assert!(!text.contains(PLACEHOLDER), "{file} still names the placeholder:\n{text}");
        assert!(
            text.lines().any(|l| l.starts_with(if file == "shadow" { "ada:!:" } else { "MLO-unit:" })),
            "{file}:\n{text}"
        );
    }
    // The tools that validate the files agree they are consistent.
    sb.exec(["pwck", "-r", "-q"])?.assert_success();
    sb.exec(["grpck", "-r"])?.assert_success();
    // A second start of the renamed pod changes nothing.
    let again = sb.run(&pod(&["true"], PLACEHOLDER_ID, PLACEHOLDER_ID, &key.0, &key.1))?;
    again.assert_success();
    again.assert_logged("accounts: nothing to change");
    Ok(())
}

#[test]
fn missing_variables_run_the_command_unchanged() -> Result {
    let sb = squashed_sandbox()?;
    let out = sb.run(
        &RunSpec::pod_init(["/bin/sh", "-c", "id -u; pwd; env"])
            .env("NB_USER", USER)
            .env("SSH_PRIVATE_KEY_B64", "c2VjcmV0")
            .env("FOO", "bar"),
    )?;
    out.assert_success();
    assert!(out.stdout.starts_with("0\n/\n"), "{}", out.stdout);
    let env = env_map(&out.stdout);
    assert_eq!(env.get("FOO").map(String::as_str), Some("bar"));
    assert_eq!(env.get("NB_USER").map(String::as_str), Some(USER));
    assert!(!env.contains_key("SSH_PRIVATE_KEY_B64"));
    out.assert_logged("missing NB_UID, NB_GROUP, NB_GID, SCRATCH_HOME_ROOT, WORKING_DIR");
    assert_eq!(
        sb.host_path("/etc/passwd"),
        Some(sb.rootfs().join("etc/passwd")),
        "/etc/passwd was copied up: it changed"
    );
    assert!(sb.host_path("/home/ada").is_none());
    Ok(())
}

#[test]
fn invalid_values_stop_the_pod_before_any_change() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let spec = ada_pod(&["true"], &key).env("NB_UID", "0").env("NB_USER", "-rf");
    let out = sb.run(&spec)?;
    out.assert_status(1);
    out.assert_logged("pod-init: invalid configuration, nothing changed: NB_USER=\"-rf\": must start with a letter or '_'; NB_UID=\"0\": must not be 0 (root)");
    assert_eq!(sb.host_path("/etc/passwd"), Some(sb.rootfs().join("etc/passwd")));
    assert!(!Path::new(&sb.scratch_path(scratch_home())).exists());
    Ok(())
}

// --- Hostile and broken environments (docs/robustness.md): each ends with a clear
// message and a defined outcome, continue with a warning or stop unchanged.

/// `ada_pod` whose PID 1 is a shell that runs `prepare` (as root, inside the
/// container) and then execs pod-init with `command`.
fn ada_pod_after(prepare: &str, command: &str, key: &(String, String)) -> RunSpec {
    let mut spec = ada_pod(&[], key);
    spec.argv = vec![
        "/bin/sh".into(),
        "-c".into(),
        format!("{prepare} && exec {} /bin/sh -c '{command}'", common::image::POD_INIT_PATH),
    ];
    spec
}

const ACCOUNT_FILES: [&str; 4] = ["passwd", "group", "shadow", "gshadow"];

fn account_files(sb: &Sandbox) -> std::result::Result<Vec<String>, Error> {
    ACCOUNT_FILES.iter().map(|f| sb.read_etc(f)).collect()
}

fn rootfs_account_files(sb: &Sandbox) -> Vec<String> {
    ACCOUNT_FILES
        .iter()
        .map(|f| fs::read_to_string(sb.rootfs().join("etc").join(f)).expect("rootfs /etc file"))
        .collect()
}

#[test]
fn bind_mounted_passwd_stops_before_changing_any_account_file() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out = sb.run(&ada_pod_after(
        "cp /etc/passwd /passwd.outside && mount --bind /passwd.outside /etc/passwd",
        "true",
        &key,
    ))?;
    out.assert_status(2);
    out.assert_logged("pod-init: accounts: /etc/passwd: cannot be replaced (it is a mount point (bind-mounted?)); not changing any account file");
    assert_eq!(account_files(&sb)?, rootfs_account_files(&sb), "an account file changed");
    Ok(())
}

#[test]
fn read_only_etc_stops_on_first_start_and_is_fine_on_restart() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let read_only = "mount --bind /etc /etc && mount -o remount,bind,ro /etc";
    let out = sb.run(&ada_pod_after(read_only, "true", &key))?;
    out.assert_status(2);
    out.assert_logged("cannot be replaced (read-only file system); not changing any account file");
    assert_eq!(account_files(&sb)?, rootfs_account_files(&sb));
    // Once the accounts are right, a read-only /etc is no obstacle: a
    // restart writes nothing there.
    sb.run(&ada_pod(&["true"], &key))?.assert_success();
    let out = sb.run(&ada_pod_after(read_only, "id -un", &key))?;
    out.assert_success();
    assert_eq!(out.stdout, "ada\n", "{}", out.stderr);
    Ok(())
}

#[test]
fn missing_seed_user_skips_scratch_with_a_warning_and_runs_in_home() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out = sb.run(&ada_pod(&["pwd"], &key).env("SCRATCH_SEED_USER", "nosuchseed"))?;
    out.assert_success();
    assert_eq!(out.stdout, "/home/ada\n");
    out.assert_logged("scratch: seed user nosuchseed is not in /etc/passwd; scratch directories not created");
    out.assert_logged(&format!(
        "pod-init: warning: cannot enter {}: no such file or directory; running in /home/ada",
        working_dir()
    ));
    // Nothing was made as the seed; what the user's own group rights allowed
    // (their scratch home, for the history file) belongs to the user.
    assert!(!sb.scratch_path(working_dir()).exists());
    let sh = scratch_home();
    assert_eq!(stat(&sb, std::slice::from_ref(&sh))?.get(&sh).map(String::as_str), Some("ada:MLO-unit 1770 directory"));
    Ok(())
}

#[test]
fn scratch_not_mounted_warns_and_the_job_still_runs_with_its_ssh_key() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let spec = ada_pod(&["pwd"], &key)
        .env("SCRATCH_HOME_ROOT", "/mnt/scratch/homes")
        .env("WORKING_DIR", "/mnt/scratch/homes/ada")
        .env("HF_HOME", "/mnt/scratch/hf_cache");
    let out = sb.run(&spec)?;
    out.assert_success();
    assert_eq!(out.stdout, "/home/ada\n");
    // /mnt is root's: the seed's walk stops at the first directory it cannot make.
    out.assert_logged("scratch: cannot create /mnt/scratch: Permission denied");
    out.assert_logged("scratch: incomplete (see above); continuing");
    as_ada(&sb, "ssh-keygen -y -f ~/.ssh/id_ed25519 >/dev/null")?.assert_success();
    Ok(())
}

#[test]
fn working_dir_that_cannot_be_created_falls_back_to_home() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out = sb.run(&ada_pod(&["pwd"], &key).env("WORKING_DIR", "/proc/no-such-dir"))?;
    out.assert_success();
    assert_eq!(out.stdout, "/home/ada\n");
    out.assert_logged("scratch: cannot create /proc/no-such-dir");
    out.assert_logged(
        "pod-init: warning: cannot enter /proc/no-such-dir: no such file or directory; running in /home/ada",
    );
    Ok(())
}

#[test]
fn ssh_dir_symlinked_to_scratch_is_replaced_and_the_target_kept() -> Result {
    let (sb, key) = sandbox_and_key()?;
    sb.run(&ada_pod(&["true"], &key))?.assert_success();
    let sh = scratch_home();
    as_ada(
        &sb,
        &format!("rm -rf ~/.ssh && mkdir {sh}/keys && echo keep > {sh}/keys/precious && ln -s {sh}/keys ~/.ssh"),
    )?
    .assert_success();
    let out = sb.run(&ada_pod(&["true"], &key))?;
    out.assert_success();
    out.assert_logged("ssh: removed /home/ada/.ssh (was a symlink)");
    assert_eq!(fs::read_to_string(sb.scratch_path(format!("{sh}/keys/precious")))?, "keep\n");
    assert_eq!(
        stat(&sb, &[format!("{HOME}/.ssh")])?.get(&format!("{HOME}/.ssh")).map(String::as_str),
        Some("ada:MLO-unit 700 directory")
    );
    as_ada(&sb, "ssh-keygen -y -f ~/.ssh/id_ed25519 >/dev/null")?.assert_success();
    Ok(())
}

#[test]
fn private_key_that_is_not_base64_is_reported_and_skipped() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out = sb.run(
        &ada_pod(&["/bin/sh", "-c", "ls -A ~/.ssh; env | grep -c SSH_PRIVATE_KEY_B64 || true"], &key)
            .env("SSH_PRIVATE_KEY_B64", "%%% not base64 %%%"),
    )?;
    out.assert_success();
    assert_eq!(out.stdout, "id_rsa.pub\nknown_hosts\n0\n", "{}", out.stderr);
    out.assert_logged("ssh: SSH_PRIVATE_KEY_B64: not valid base64");
    assert!(!out.stderr.contains("%%% not base64"), "the value was logged");
    Ok(())
}

#[test]
fn image_without_zsh_gives_the_user_bash_in_passwd_and_shell() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out = sb.run(&ada_pod_after("rm -f /bin/zsh /usr/bin/zsh", "echo $SHELL", &key))?;
    out.assert_success();
    assert_eq!(out.stdout, "/bin/bash\n", "{}", out.stderr);
    assert_eq!(sb.exec(["getent", "passwd", USER])?.stdout, format!("ada:x:{UID}:{LAB_GID}::/home/ada:/bin/bash\n"));
    // su starts the login shell from passwd: it must exist.
    let su = sb.exec(["su", "-", USER, "-c", "echo $0"])?;
    su.assert_success();
    assert_eq!(su.stdout, "-bash\n", "a login bash");
    Ok(())
}

#[test]
fn image_without_docker_dir_gets_an_empty_shell_dir_and_a_warning() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out = sb.run(&ada_pod_after("rm -rf /docker", "ls -A $ZDOTDIR", &key))?;
    out.assert_success();
    assert_eq!(out.stdout, "", "{}", out.stderr);
    out.assert_logged("/docker/.zshrc not in the image");
    out.assert_logged("/docker/oh-my-zsh not in the image; no oh-my-zsh");
    Ok(())
}

#[test]
fn command_not_found_is_127_and_not_executable_is_126() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out = sb.run(&ada_pod(&["no-such-command"], &key))?;
    out.assert_status(127);
    out.assert_logged("\npod-init: cannot run no-such-command: command not found\n");
    let out = sb.run(&ada_pod(&["/etc/hostname"], &key))?;
    out.assert_status(126);
    out.assert_logged("\npod-init: cannot run /etc/hostname: permission denied (not executable?)\n");
    Ok(())
}

#[test]
fn every_bad_name_or_id_stops_the_pod_naming_it() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let long = "a".repeat(33);
    let cases = [
        ("NB_USER", "a:b", "must not contain ':'"),
        ("NB_USER", "a\nb", "must not contain '\\n'"),
        ("NB_USER", "-rf", "must start with a letter or '_'"),
        ("NB_USER", long.as_str(), "must be at most 32 characters"),
        ("NB_USER", "root", "is reserved for the system (root)"),
        ("NB_GROUP", "root", "is reserved for the system (root)"),
        ("NB_UID", "0", "must not be 0 (root)"),
        ("NB_UID", "-1", "must be a whole number"),
        ("NB_GID", "4294967296", "must be between 0 and 4294967294"),
    ];
    for (var, value, reason) in cases {
        let out = sb.run(&ada_pod(&["true"], &key).env(var, value))?;
        assert_eq!(out.status, 1, "{var}={value:?}: {}", out.stderr);
        let expected = format!("pod-init: invalid configuration, nothing changed: {var}={value:?}: {reason}");
        assert!(out.stderr.contains(&expected), "{var}={value:?}: expected {expected:?} in\n{}", out.stderr);
    }
    assert_eq!(account_files(&sb)?, rootfs_account_files(&sb));
    Ok(())
}

#[test]
fn a_researcher_with_the_seeds_uid_still_gets_scratch() -> Result {
    let (sb, key) = sandbox_and_key()?;
    // The seed's own owner starts a pod: the seed account is renamed to
    // them, and scratch is still created with the seed's ids.
    let out = sb.run(&pod(&["/bin/sh", "-c", "id -un; pwd"], SEED_UID, LAB_GID, &key.0, &key.1))?;
    out.assert_success();
    assert_eq!(out.stdout, format!("ada\n{}\n", working_dir()), "{}", out.stderr);
    out.assert_logged(&format!("renamed user {SEED_USER} (uid {SEED_UID}) to ada"));
    let wd = working_dir();
    assert_eq!(stat(&sb, std::slice::from_ref(&wd))?.get(&wd).map(String::as_str), Some("ada:MLO-unit 770 directory"));
    Ok(())
}

#[test]
fn a_root_owned_home_with_a_stale_zshrc_is_handed_over_and_linked() -> Result {
    let (sb, key) = sandbox_and_key()?;
    let out =
        sb.run(&ada_pod_after("mkdir -p /home/ada && echo stale > /home/ada/.zshrc", "readlink ~/.zshrc", &key))?;
    out.assert_success();
    assert_eq!(out.stdout, format!("{}/.shell/.zshrc\n", scratch_home()), "{}", out.stderr);
    out.assert_logged(&format!("home: chowned /home/ada from 0:0 to {UID}:{LAB_GID}"));
    assert_eq!(stat(&sb, &[HOME.to_owned()])?.get(HOME).map(String::as_str), Some("ada:MLO-unit 755 directory"));
    Ok(())
}
