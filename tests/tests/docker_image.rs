//! The image, built from docker/Dockerfile by `cargo xtask image` and run by
//! a real Docker engine the way run:ai runs a pod: `--user UID:GID`, the
//! variables submit sets, scratch bind-mounted from a root-squashing mount
//! (root proven powerless there first). The checks use the real tools in
//! the container (getent, id, sudo, stat, ssh-keygen, git, zsh, uv).
//!
//! Needs root and Debian's docker.io (`.ci/install-deps`). The image is
//! built once per run on the sandbox's Debian rootfs; its build time is
//! printed (`-- --nocapture`).

// Helpers outside #[test] functions fail the test by panicking, like asserts.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fs;
use std::time::Duration;

use common::image::{POD_INIT_MARKER, POD_INIT_PATH};
use nb_tests::docker::{self, Container, PodSpec, SCRATCH, SquashedScratch};
use nb_tests::researcher::{self, GROUP, HOME, UID, USER};
use nb_tests::sandbox::{Error, LAB_GID, Output};

type Result = std::result::Result<(), Error>;

/// The image's WORKDIR: where `runai exec … zsh` opens.
const WORKDIR: &str = "/mloscratch/homes";

fn scratch_home() -> String {
    researcher::scratch_home(SCRATCH)
}

fn working_dir() -> String {
    researcher::working_dir(SCRATCH)
}

/// A squashed scratch where root in a container of the image, as pod-init
/// would be, is refused: the premise of every pod test.
fn squashed_scratch() -> std::result::Result<SquashedScratch, Error> {
    let scratch = SquashedScratch::new()?;
    let probe = format!("{SCRATCH}/homes/.nb-squash-probe");
    let out = PodSpec::new(["mkdir", probe.as_str()])
        .entrypoint("")
        // Root cannot even enter the WORKDIR on scratch; start it elsewhere.
        .option("--workdir=/")
        .volume(scratch.volume())
        .run()?;
    let refused = out.status != 0 && out.stderr.contains("Permission denied");
    assert!(
        refused && !scratch.backing(&probe).exists(),
        "root is not squashed on {SCRATCH}: mkdir exited {}: {}",
        out.status,
        out.stderr
    );
    Ok(scratch)
}

/// The pod run:ai starts for `submit`: the researcher's uid and the lab gid,
/// the variables submit sets, scratch at /mloscratch.
fn pod(command: &[&str], scratch: &SquashedScratch, key: &(String, String)) -> PodSpec {
    PodSpec::new(command.iter().copied())
        .user(UID, LAB_GID)
        .volume(scratch.volume())
        .envs(researcher::account_vars(SCRATCH, UID, LAB_GID))
        .env("HF_HOME", format!("{SCRATCH}/hf_cache"))
        .envs(researcher::secret_vars(&key.0, &key.1))
}

/// A job that reports what it sees, then waits to be checked from outside
/// (`ready` on scratch tells the test it is there).
const REPORT_AND_WAIT: &str = "id; pwd; umask; env; uv --version; uv cache dir; \
     touch \"$SCRATCH_HOME/ready\"; exec sleep 600";

fn env_map(stdout: &str) -> BTreeMap<String, String> {
    stdout.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

fn sh(container: &Container, script: &str) -> std::result::Result<Output, Error> {
    container.exec(["sh", "-c", script])
}

/// The pod's user runs pod-init again inside the pod with a bootstrap's
/// variables, then tries to read `/etc/shadow`: what a user who wants the
/// bootstrap's root a second time would do.
fn bootstrap_again_as_the_user(container: &Container) -> std::result::Result<Output, Error> {
    container.exec([
        "env",
        &format!("NB_USER={USER}"),
        &format!("NB_UID={UID}"),
        &format!("NB_GROUP={GROUP}"),
        &format!("NB_GID={LAB_GID}"),
        POD_INIT_PATH,
        "/bin/sh",
        "-c",
        "id -u; cat /etc/shadow",
    ])
}

fn ready_pod(command: &[&str], key: &(String, String)) -> std::result::Result<(SquashedScratch, Container), Error> {
    let scratch = squashed_scratch()?;
    let container = pod(command, &scratch, key).start()?;
    container.wait_for_path(&scratch.backing(format!("{}/ready", scratch_home())))?;
    Ok((scratch, container))
}

#[test]
fn the_image_is_what_pod_init_expects_and_carries_nothing_of_this_machine() -> Result {
    let built = docker::image()?;
    let daemon = docker::daemon()?;
    eprintln!("engine up in {:.1?}; import {:.1?}; build {:.1?}", daemon.started_in, built.import, built.build);
    let config = daemon.check([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.WorkingDir}}",
        built.reference,
    ])?;
    assert_eq!(config.trim(), format!("[\"{POD_INIT_PATH}\"] [\"zsh\"] {WORKDIR}/"));
    let env =
        daemon.check(["image", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", built.reference])?;
    for var in
        ["TF_FORCE_GPU_ALLOW_GROWTH=true", "SCRATCH_SEED_USER=mljaggi-admin", "LANG=en_US.UTF-8", "SHELL=/bin/zsh"]
    {
        assert!(env.lines().any(|l| l == var), "{var} not in the image's environment:\n{env}");
    }

    let inside = PodSpec::sh(format!(
        "stat -c '%U:%G %a' {POD_INIT_PATH}; test -r /docker/oh-my-zsh/oh-my-zsh.sh && echo omz; \
         uv --version; uvx --version; getent passwd cluster mljaggi-admin | cut -d: -f1,3,4,6,7; getent group {LAB_GID}; \
         getent shadow root | cut -d: -f2; test -e {POD_INIT_MARKER} || echo no-marker; ls -A /usr/local/share/ca-certificates; \
         locale -a | grep -ix en_US.utf8"
    ))
    .entrypoint("")
    .run()?;
    inside.assert_success();
    let expected = "root:root 4755\nomz\nuv 0.13.9 (x86_64-unknown-linux-musl)\nuvx 0.13.9 (x86_64-unknown-linux-musl)\ncluster:1000:83070:/home/cluster:/bin/zsh\n\
         mljaggi-admin:177449:83070:/nonexistent:/usr/sbin/nologin\nMLO-unit:x:83070:\n*\nno-marker\nen_US.utf8\n";
    assert_eq!(inside.stdout, expected, "{}", inside.stderr);
    let zshrc = fs::read_to_string(nb_tests::binaries::workspace_root().join("docker/zshrc")).expect("docker/zshrc");
    let staged = PodSpec::new(["cat", "/docker/.zshrc"]).entrypoint("").run()?;
    assert_eq!(staged.stdout, zshrc, "the staged .zshrc is docker/zshrc");

    // Nothing of the build machine: no path of this workspace in the
    // image's metadata or history, none of this host's own CA certificates.
    let root = nb_tests::binaries::workspace_root().display().to_string();
    let history = daemon.check(["history", "--no-trunc", "--format", "{{.CreatedBy}}", built.reference])?;
    // (Not `GraphDriver`: the engine's own storage paths, which stay here.)
    let inspect = daemon.check([
        "image",
        "inspect",
        "--format",
        "{{json .Config}} {{json .ContainerConfig}}",
        built.reference,
    ])?;
    assert!(!history.contains(&root) && !inspect.contains(&root), "the image mentions {root}");
    let bundle = PodSpec::new(["cat", "/etc/ssl/certs/ca-certificates.crt"]).entrypoint("").run()?;
    bundle.assert_success();
    for host_ca in fs::read_dir("/usr/local/share/ca-certificates").into_iter().flatten().flatten() {
        let pem = fs::read_to_string(host_ca.path()).unwrap_or_default();
        let longest = pem.lines().filter(|l| !l.starts_with("-----")).max_by_key(|l| l.len()).unwrap_or_default();
        assert!(
            longest.len() < 40 || !bundle.stdout.contains(longest),
            "{} of this host is in the image's CA bundle",
            host_ca.path().display()
        );
    }
    Ok(())
}

#[test]
fn a_pod_started_as_runai_starts_it_gets_the_sandbox_end_state() -> Result {
    let key = nb_tests::keys::ed25519_pair()?;
    let (scratch, ctr) = ready_pod(&["/bin/sh", "-c", REPORT_AND_WAIT], &key)?;
    let logs = ctr.logs()?;
    let mut lines = logs.stdout.lines();
    let ids = format!("uid={UID}(ada) gid={LAB_GID}(MLO-unit) groups={LAB_GID}(MLO-unit),4(adm),27(sudo)");
    assert_eq!(lines.next(), Some(ids.as_str()), "{}", logs.stderr);
    assert_eq!(lines.next(), Some(working_dir().as_str()));
    assert_eq!(lines.next(), Some("0007"), "the command's umask");
    let env = env_map(&logs.stdout);
    let sh_ = scratch_home();
    for (k, v) in [
        ("HOME", HOME.to_owned()),
        ("USER", USER.to_owned()),
        ("SHELL", "/bin/zsh".to_owned()),
        ("ZDOTDIR", format!("{sh_}/.shell")),
        ("ZSH", format!("{sh_}/.shell/.oh-my-zsh")),
        ("HISTFILE", format!("{sh_}/.zsh_history")),
        ("SCRATCH_HOME", sh_.clone()),
        ("GIT_CONFIG_GLOBAL", format!("{sh_}/.gitconfig")),
        ("UV_CACHE_DIR", format!("{sh_}/.cache/uv")),
        ("UV_PYTHON_INSTALL_DIR", format!("{sh_}/.uv")),
        ("WANDB_API_KEY", "kept-for-the-job".to_owned()),
        ("TF_FORCE_GPU_ALLOW_GROWTH", "true".to_owned()),
    ] {
        assert_eq!(env.get(k), Some(&v), "{k} in the job's environment");
    }
    assert!(!env.contains_key("SSH_PRIVATE_KEY_B64"), "the private key reached the job");
    // uv as the user, its cache on scratch.
    assert!(
        logs.stdout.contains(&format!("\nuv 0.13.9 (x86_64-unknown-linux-musl)\n{sh_}/.cache/uv\n")),
        "{}",
        logs.stdout
    );

    // Accounts and sudo, as the system tools see them.
    let getent = sh(&ctr, &format!("getent passwd {USER}; getent group {GROUP} sudo adm"))?;
    assert_eq!(
        getent.stdout,
        format!("ada:x:{UID}:{LAB_GID}::/home/ada:/bin/zsh\nMLO-unit:x:83070:\nsudo:x:27:ada\nadm:x:4:ada\n")
    );
    // An exec'd shell gets the container's uid:gid and no supplementary
    // groups (as kubectl exec does); sudo works by name through the drop-in.
    let exec_ids = format!("uid={UID}(ada) gid={LAB_GID}(MLO-unit) groups={LAB_GID}(MLO-unit)");
    assert_eq!(sh(&ctr, "id; sudo -n id -u")?.stdout, format!("{exec_ids}\n0\n"), "runai exec's shell and sudo");
    ctr.exec_as("0", ["visudo", "-c"])?.assert_success();

    // SSH key and git identity, as the user.
    let derived = sh(&ctr, "ssh-keygen -y -f ~/.ssh/id_ed25519")?;
    derived.assert_success();
    assert_eq!(
        derived.stdout.split_whitespace().take(2).collect::<Vec<_>>(),
        key.1.split_whitespace().take(2).collect::<Vec<_>>()
    );
    let git = sh(
        &ctr,
        &format!(
            "GIT_CONFIG_GLOBAL={sh_}/.gitconfig git config --global user.name; GIT_CONFIG_GLOBAL={sh_}/.gitconfig git config --global user.email"
        ),
    )?;
    assert_eq!(git.stdout, "Ada Lovelace\nada@epfl.ch\n", "{}", git.stderr);

    // Owners and modes: scratch as the seed, shell state as the user.
    let paths = [
        (HOME.to_owned(), "ada:MLO-unit 700 directory"),
        (format!("{HOME}/.ssh"), "ada:MLO-unit 700 directory"),
        (format!("{HOME}/.ssh/id_ed25519"), "ada:MLO-unit 600 regular file"),
        ("/etc/sudoers.d/nb-user".to_owned(), "root:root 440 regular file"),
        (sh_.clone(), "mljaggi-admin:MLO-unit 1770 directory"),
        (working_dir(), "mljaggi-admin:MLO-unit 770 directory"),
        (format!("{SCRATCH}/hf_cache"), "mljaggi-admin:MLO-unit 770 directory"),
        (format!("{sh_}/.shell"), "ada:MLO-unit 700 directory"),
        (format!("{sh_}/.shell/.zshrc"), "ada:MLO-unit 600 regular file"),
        (format!("{sh_}/.shell/.oh-my-zsh"), "ada:MLO-unit 700 directory"),
        (format!("{sh_}/.zsh_history"), "ada:MLO-unit 600 regular empty file"),
        (format!("{sh_}/.gitconfig"), "ada:MLO-unit 600 regular file"),
        (format!("{sh_}/.cache/uv"), "ada:MLO-unit 700 directory"),
        (format!("{sh_}/.uv"), "ada:MLO-unit 700 directory"),
        (format!("{sh_}/.vscode-server"), "ada:MLO-unit 700 directory"),
    ];
    let mut argv = vec!["stat".to_owned(), "-c".to_owned(), "%n|%U:%G %a %F".to_owned()];
    argv.extend(paths.iter().map(|(p, _)| p.clone()));
    let stat = ctr.exec(argv)?;
    stat.assert_success();
    let got: BTreeMap<&str, &str> = stat.stdout.lines().filter_map(|l| l.split_once('|')).collect();
    for (path, want) in &paths {
        assert_eq!(got.get(path.as_str()).copied(), Some(*want), "{path}");
    }
    // What the NFS server would record: the seed's ids, never root's.
    let meta = fs::metadata(scratch.backing(&sh_)).expect("scratch home on the backing dir");
    assert_eq!(
        (std::os::unix::fs::MetadataExt::uid(&meta), std::os::unix::fs::MetadataExt::gid(&meta)),
        (177_449, LAB_GID)
    );

    // Links from the home into scratch.
    let links = sh(
        &ctr,
        "cd ~ && for l in .zshrc .oh-my-zsh .zsh_history .vscode-server .cursor-server; do echo \"$l -> $(readlink $l)\"; done",
    )?;
    assert_eq!(
        links.stdout,
        format!(
            ".zshrc -> {sh_}/.shell/.zshrc\n.oh-my-zsh -> {sh_}/.shell/.oh-my-zsh\n.zsh_history -> {sh_}/.zsh_history\n\
             .vscode-server -> {sh_}/.vscode-server\n.cursor-server -> {sh_}/.cursor-server\n"
        )
    );

    // `runai exec … zsh`: opens in the WORKDIR, loads oh-my-zsh from scratch, umask 007.
    let zsh = ctr.exec(["zsh", "-ic", "echo pwd=$PWD omz=$NB_FAKE_OMZ_LOADED zsh=${ZSH:A} umask=$(umask)"])?;
    assert_eq!(
        zsh.stdout.trim_end(),
        format!("pwd={WORKDIR} omz=1 zsh={sh_}/.shell/.oh-my-zsh umask=007"),
        "{}",
        zsh.stderr
    );

    // The user cannot run the bootstrap again inside the pod.
    let again = bootstrap_again_as_the_user(&ctr)?;
    assert_ne!(again.stdout.lines().next(), Some("0"), "pod-init ran as root again: {}", again.stderr);
    assert!(!again.stdout.contains("root:"), "the user read /etc/shadow through pod-init");
    Ok(())
}

#[test]
fn docker_stop_delivers_sigterm_to_the_job_and_a_sigkilled_job_exits_137() -> Result {
    let key = nb_tests::keys::ed25519_pair()?;
    let trap = "trap 'echo job got SIGTERM; exit 0' TERM; touch \"$SCRATCH_HOME/ready\"; while :; do sleep 0.1; done";
    let (_scratch, ctr) = ready_pod(&["/bin/sh", "-c", trap], &key)?;
    ctr.stop(Duration::from_secs(30))?;
    assert_eq!(ctr.wait()?, 0, "{:?}", ctr.logs()?);
    let logs = ctr.logs()?;
    assert!(logs.stdout.contains("job got SIGTERM"), "the job's trap did not run:\n{}\n{}", logs.stdout, logs.stderr);

    let scratch = squashed_scratch()?;
    let killed = pod(&["/bin/sh", "-c", "kill -KILL $$"], &scratch, &key).run()?;
    killed.assert_status(137);
    Ok(())
}

#[test]
fn without_privilege_escalation_the_job_runs_and_the_log_says_why() -> Result {
    let key = nb_tests::keys::ed25519_pair()?;
    let scratch = squashed_scratch()?;
    let out = pod(&["/bin/sh", "-c", "id -u; echo job ran"], &scratch, &key)
        .option("--security-opt=no-new-privileges")
        .run()?;
    out.assert_success();
    assert_eq!(out.stdout, format!("{UID}\njob ran\n"));
    out.assert_logged(&format!(
        "not started as root (uid {UID}; no_new_privs is set, from allowPrivilegeEscalation: false"
    ))
    .assert_logged("running the command without the bootstrap");
    assert!(!scratch.backing(scratch_home()).exists(), "a bootstrap ran without privilege escalation");
    Ok(())
}

#[test]
fn docker_restart_gives_the_job_the_same_identity_groups_and_environment() -> Result {
    let key = nb_tests::keys::ed25519_pair()?;
    let scratch = squashed_scratch()?;
    // The first start reports and exits; the restart reports and stays, to
    // be entered.
    let job = "id; umask; sudo -n id -u; \
         env | grep -E '^(HOME|USER|SHELL|ZDOTDIR|ZSH|HISTFILE|SCRATCH_HOME|GIT_CONFIG_GLOBAL|UV_CACHE_DIR|UV_PYTHON_INSTALL_DIR)=' | sort; \
         if [ -e \"$SCRATCH_HOME/started\" ]; then touch \"$SCRATCH_HOME/ready\"; exec sleep 600; fi; \
         touch \"$SCRATCH_HOME/started\"";
    let ctr = pod(&["/bin/sh", "-c", job], &scratch, &key).start()?;
    assert_eq!(ctr.wait()?, 0, "{:?}", ctr.logs()?);
    let first = ctr.logs()?.stdout;
    assert!(
        first.starts_with(&format!(
            "uid={UID}(ada) gid={LAB_GID}(MLO-unit) groups={LAB_GID}(MLO-unit),4(adm),27(sudo)\n0007\n0\n"
        )),
        "{first}"
    );

    ctr.restart()?;
    ctr.wait_for_path(&scratch.backing(format!("{}/ready", scratch_home())))?;
    let logs = ctr.logs()?;
    let second = logs.stdout.strip_prefix(first.as_str()).unwrap_or(&logs.stdout);
    assert_eq!(second, first, "the restarted job differs from the first start:\n{}", logs.stderr);

    // Still one bootstrap per start: the user cannot run it again inside.
    let again = bootstrap_again_as_the_user(&ctr)?;
    assert_eq!(again.stdout.lines().next(), Some(UID.to_string().as_str()), "{}", again.stderr);
    assert!(!again.stdout.contains("root:"), "the user read /etc/shadow through pod-init");
    Ok(())
}

#[test]
fn two_docker_runs_of_one_submission_are_attempts_1_and_2_with_the_first_ones_exit() -> Result {
    let key = nb_tests::keys::ed25519_pair()?;
    let scratch = squashed_scratch()?;
    let report = "echo \"attempt=${NB_ATTEMPT-none} previous=${NB_PREVIOUS_EXIT-none}\"";
    let start = |script: String| {
        pod(&["/bin/sh", "-c", &script], &scratch, &key)
            .env("NB_JOB_NAME", "train-1")
            .env("NB_SUBMISSION", "20261207-080000-aaaaaa")
            .run()
    };
    let first = start(format!("{report}; exit 3"))?;
    first.assert_status(3);
    assert_eq!(first.stdout, "attempt=1 previous=none\n", "{}", first.stderr);
    let second = start(report.to_owned())?;
    second.assert_success();
    assert_eq!(second.stdout, "attempt=2 previous=3\n", "{}", second.stderr);
    second.assert_logged(
        "attempt 2 of submission 20261207-080000-aaaaaa of job train-1; the previous start ended with: 3",
    );
    let record = scratch.backing(format!("{}/.nb-attempts/train-1", scratch_home()));
    let meta = fs::symlink_metadata(&record)?;
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (UID, 0o700), "{}", record.display());
    let mut names: Vec<String> = fs::read_dir(&record)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<_>>()?;
    names.sort();
    let ends: Vec<&str> = names.iter().map(|n| n.rsplit_once('.').map_or(n.as_str(), |(start, _)| start)).collect();
    assert_eq!(
        ends,
        ["000001.1.20261207-080000-aaaaaa.exit-3", "000002.2.20261207-080000-aaaaaa.exit-0"],
        "{}",
        record.display()
    );
    Ok(())
}
