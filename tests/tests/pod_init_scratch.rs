//! pod-init and the shared NFS scratch, run for real: the musl binary as
//! PID 1, started setuid root as the researcher's uid as on the cluster,
//! with root squashed on /scratch. Every other party on scratch is tried:
//! a lab member (another uid in the same group, another pod on the same
//! scratch) editing, renaming and planting things, and the requests every
//! start costs the NFS server.
//!
//! Needs root (it fails, with how to fix it, otherwise). The request counts
//! are printed (`cargo test -- --nocapture` shows them).

// Helpers outside #[test] functions fail the test by panicking, like asserts.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::env::EnvVars;
use nb_tests::researcher::{self, HOME, UID};
use nb_tests::sandbox::{Error, LAB_GID, Output, RunSpec, SCRATCH_MOUNT, SEED_UID, Sandbox};

type Result = std::result::Result<(), Error>;

/// A lab member: another uid in the researcher's group, in another pod on
/// the same scratch.
const LAB_MEMBER: u32 = 251_618;

fn scratch_home() -> String {
    researcher::scratch_home(SCRATCH_MOUNT)
}

fn squashed_sandbox() -> std::result::Result<Sandbox, Error> {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    Ok(sb)
}

/// Ada's pod as the cluster starts it: pod-init setuid root as PID 1,
/// started as her uid and the lab gid, with every variable `submit` sets
/// (the job's name and submission too, so each start keeps its attempt
/// record).
fn ada_pod(command: &[&str], key: &(String, String)) -> RunSpec {
    ada_pod_with(command, key, true)
}

/// [`ada_pod`], with her git name and email only if `git_identity`.
fn ada_pod_with(command: &[&str], key: &(String, String), git_identity: bool) -> RunSpec {
    let identity = [EnvVars::GIT_USER_NAME, EnvVars::GIT_USER_EMAIL];
    let secrets = researcher::secret_vars(&key.0, &key.1);
    RunSpec::pod_init(command.iter().copied())
        .as_user(UID, LAB_GID)
        .envs(researcher::account_vars(SCRATCH_MOUNT, UID, LAB_GID))
        .envs(researcher::job_vars())
        .env("HF_HOME", format!("{SCRATCH_MOUNT}/hf_cache"))
        .envs(secrets.into_iter().filter(|(name, _)| git_identity || !identity.contains(name)))
}

/// `script` as the lab member, on the squashed scratch.
fn as_lab_member(sb: &Sandbox, script: &str) -> std::result::Result<Output, Error> {
    sb.run(&RunSpec::sh(script).as_user(LAB_MEMBER, LAB_GID).env("HOME", "/tmp"))
}

/// The mode (permission bits) and owner of a scratch path, from the host.
fn mode_and_owner(sb: &Sandbox, path: &str) -> (u32, u32) {
    let m = fs::symlink_metadata(sb.scratch_path(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    (m.mode() & 0o7777, m.uid())
}

#[test]
fn a_lab_member_cannot_change_or_replace_the_shell_state() -> Result {
    let sb = squashed_sandbox()?;
    let key = nb_tests::keys::ed25519_pair()?;
    sb.run(&ada_pod(&["true"], &key))?.assert_success();
    let sh = scratch_home();
    let zshrc = sb.scratch_path(format!("{sh}/.shell/.zshrc"));
    let gitconfig = sb.scratch_path(format!("{sh}/.gitconfig"));
    let (zshrc_before, gitconfig_before) = (fs::read(&zshrc)?, fs::read(&gitconfig)?);

    // Each attempt prints its name and whether it went through.
    let attempts = [
        ("append to .zshrc", format!("echo 'touch {SCRATCH_MOUNT}/pwned-zshrc' >> {sh}/.shell/.zshrc")),
        ("edit .gitconfig", format!("git config --file {sh}/.gitconfig core.pager 'touch {SCRATCH_MOUNT}/pwned-git'")),
        (
            "append to .gitconfig",
            format!("printf '[core]\\n\\tpager = touch {SCRATCH_MOUNT}/pwned-git\\n' >> {sh}/.gitconfig"),
        ),
        ("append to the history", format!("echo 'sudo rm -rf /' >> {sh}/.zsh_history")),
        ("rename .shell away", format!("mv {sh}/.shell {sh}/.shell-moved")),
        (
            "plant a new .shell",
            format!(
                "mkdir -p {sh}/.shell-new && echo 'touch {SCRATCH_MOUNT}/pwned-zshrc' > {sh}/.shell-new/.zshrc && mv -T {sh}/.shell-new {sh}/.shell"
            ),
        ),
        ("rename .gitconfig away", format!("mv {sh}/.gitconfig {sh}/.gitconfig-moved")),
        ("delete the history", format!("rm -f {sh}/.zsh_history")),
    ];
    let script: String =
        attempts.iter().map(|(what, cmd)| format!("if {cmd} 2>/dev/null; then echo '{what}: done'; fi; ")).collect();
    let tried = as_lab_member(&sb, &script)?;
    assert_eq!(tried.stdout, "", "what the lab member got through:\n{}{}", tried.stdout, tried.stderr);

    assert_eq!(fs::read(&zshrc)?, zshrc_before, ".zshrc changed");
    assert_eq!(fs::read(&gitconfig)?, gitconfig_before, ".gitconfig changed");
    for moved in [".shell-moved", ".gitconfig-moved"] {
        assert!(!sb.scratch_path(format!("{sh}/{moved}")).exists(), "{moved} exists");
    }

    // Ada's next pod: her zsh and her git run nothing of the lab member's.
    let out =
        sb.run(&ada_pod(&["zsh", "-ic", "git config --global --get core.pager; git -p config --global --list"], &key))?;
    out.assert_success();
    assert!(!out.stdout.contains("pwned"), "{}", out.stdout);
    for marker in ["pwned-zshrc", "pwned-git"] {
        assert!(!sb.scratch_path(marker).exists(), "{marker}: the lab member's command ran");
    }
    Ok(())
}

#[test]
fn a_planted_symlink_stops_that_path_and_nothing_below_it() -> Result {
    let sb = squashed_sandbox()?;
    let key = nb_tests::keys::ed25519_pair()?;
    // The seed's own private directory, beside the researchers' homes.
    let private = sb.scratch_path("homes/admin-private");
    fs::create_dir_all(private.join("secrets"))?;
    for dir in [private.join("secrets"), private.clone()] {
        std::os::unix::fs::chown(&dir, Some(SEED_UID), Some(LAB_GID))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    let listing_before = sb.scratch_listing()?;
    // A lab member plants Ada's home before her first pod, pointing at it.
    let link = format!("{SCRATCH_MOUNT}/homes/{}", researcher::USER);
    as_lab_member(&sb, &format!("ln -s admin-private {link}"))?.assert_success();

    let out = sb.run(&ada_pod(&["pwd"], &key).env("WORKING_DIR", format!("{link}/secrets")))?;
    out.assert_success();
    assert_eq!(mode_and_owner(&sb, "homes/admin-private/secrets"), (0o700, SEED_UID), "{}", out.stderr);
    // Nothing changed or added in the homes but the planted link (HF_HOME,
    // beside them, is made as usual).
    let homes = |listing: Vec<String>| -> Vec<String> {
        let link_line = format!(" homes/{}", researcher::USER);
        listing.into_iter().filter(|l| l.contains(" homes") && !l.ends_with(&link_line)).collect()
    };
    assert_eq!(homes(sb.scratch_listing()?), homes(listing_before), "{}", out.stderr);
    out.assert_logged(&format!("scratch: {link} is a symbolic link; nothing below it is touched"));
    out.assert_logged(&format!("user state: {link} is a symbolic link; nothing below it is touched"));
    assert_eq!(out.stdout, format!("{HOME}\n"), "{}", out.stderr);
    Ok(())
}

#[test]
fn state_an_older_pod_init_left_group_writable_is_made_owner_only_on_the_next_start() -> Result {
    let sb = squashed_sandbox()?;
    let key = nb_tests::keys::ed25519_pair()?;
    sb.run(&ada_pod(&["true"], &key))?.assert_success();
    let sh = scratch_home();
    // The modes the earlier pod-init gave them.
    let older = [
        (sh.clone(), 0o770, 0o1770),
        (format!("{sh}/.shell"), 0o770, 0o700),
        (format!("{sh}/.shell/.zshrc"), 0o660, 0o600),
        (format!("{sh}/.gitconfig"), 0o660, 0o600),
        (format!("{sh}/.zsh_history"), 0o660, 0o600),
        (format!("{sh}/.vscode-server"), 0o770, 0o700),
    ];
    for (path, mode, _) in &older {
        fs::set_permissions(sb.scratch_path(path), fs::Permissions::from_mode(*mode))?;
    }
    let out = sb.run(&ada_pod(&["/bin/sh", "-c", "umask"], &key))?;
    out.assert_success();
    assert_eq!(out.stdout, "0007\n", "the job's own umask is unchanged");
    for (path, _, now) in &older {
        assert_eq!(mode_and_owner(&sb, path).0, *now, "{path}\n{}", out.stderr);
    }
    Ok(())
}

/// Ada's pod running `true` as attempt `attempt` of her submission, its
/// scratch requests counted, less those of a container that runs `true`
/// without pod-init (the mount's own). `git_identity`: with her git name
/// and email, which each start reads `.gitconfig` for.
fn counted_start(
    sb: &Sandbox,
    key: &(String, String),
    attempt: u32,
    git_identity: bool,
) -> std::result::Result<u64, Error> {
    let spec = ada_pod_with(&["true"], key, git_identity);
    let out = sb.run(&spec.count_scratch_requests())?;
    out.assert_success();
    // The record was kept, so its requests are among those counted.
    out.assert_logged(&format!("attempt {attempt} of submission {}", researcher::job_vars()[1].1));
    let counted = sb.scratch_requests()?;
    sb.run(&RunSpec::new(["/bin/true"]).as_user(UID, LAB_GID).count_scratch_requests())?.assert_success();
    let harness = sb.scratch_requests()?;
    eprintln!("attempt {attempt}: {counted}, less the mount's own {harness}");
    Ok(counted.total().saturating_sub(harness.total()))
}

/// What a start that finds its work done may ask the NFS server, and what
/// for: the seed's walk (4 lookups), the user's checks of the shell state,
/// history, git config, editor and uv directories (11), the record's two
/// directories, their listing (open, attributes, read, close) and the new
/// entry (its lookup, the symlink and the attributes FUSE asks for after
/// it) (9), entering WORKING_DIR (1), the mount's root once more (1), and
/// at the end the rename of the entry with the lookups it takes (3).
const DONE_START_BUDGET: u64 = 30;

/// What a git identity adds to a start: `.gitconfig` read once (open,
/// read, flush, close), to run git only when the identity is not there.
const GIT_IDENTITY_READ: u64 = 4;

#[test]
fn starts_spare_the_nfs_server() -> Result {
    let sb = squashed_sandbox()?;
    let key = nb_tests::keys::ed25519_pair()?;
    let first = counted_start(&sb, &key, 1, true)?;
    sb.fresh_container_layer()?;
    let new_pod = counted_start(&sb, &key, 2, false)?;
    let restart = counted_start(&sb, &key, 3, false)?;
    let with_identity = counted_start(&sb, &key, 4, true)?;
    eprintln!(
        "scratch requests: first start {first}, new pod (scratch kept) {new_pod}, restart in place {restart}, \
         restart with a git identity {with_identity}"
    );
    assert!(first <= 150, "first start: {first}");
    assert!(new_pod <= DONE_START_BUDGET, "new pod, scratch kept: {new_pod}");
    assert!(restart <= DONE_START_BUDGET, "restart in place: {restart}");
    assert!(with_identity <= restart + GIT_IDENTITY_READ, "a git identity: {with_identity} against {restart}");
    Ok(())
}
