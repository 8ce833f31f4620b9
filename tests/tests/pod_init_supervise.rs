//! pod-init as the container's PID 1, run for real: the musl binary in the
//! sandbox (its own PID namespace over a Debian rootfs), signalled from the
//! host as the kubelet does, started setuid root as the researcher's uid as
//! on the cluster.
//!
//! Needs root (it fails, with how to fix it, otherwise). pod-init's resident
//! memory while it supervises a sleeping job is printed
//! (`cargo test -- --nocapture` shows it).

// Helpers outside #[test] functions fail the test by panicking, like asserts.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::env::EnvVars;
use common::image::POD_INIT_PATH;
use nb_tests::researcher::{self, UID, USER};
use nb_tests::sandbox::{Error, LAB_GID, Output, RunSpec, SCRATCH_MOUNT, Sandbox};
use nix::sys::signal::Signal;
use submit::pod_command::PodScript;

type Result = std::result::Result<(), Error>;

const READY_WAIT: Duration = Duration::from_secs(30);

fn working_dir() -> String {
    researcher::working_dir(SCRATCH_MOUNT)
}

/// A pod as the cluster starts it: pod-init (root-owned, 4755) as PID 1,
/// started as the researcher's uid and the lab gid, with the variables
/// `submit` sets, so the setuid start does the bootstrap.
fn setuid_pod(script: &str) -> RunSpec {
    setuid_pod_running(["/bin/sh", "-c", script])
}

/// [`setuid_pod`] running `argv` as the pod's command.
fn setuid_pod_running<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> RunSpec {
    RunSpec::pod_init(argv).as_user(UID, LAB_GID).envs(researcher::account_vars(SCRATCH_MOUNT, UID, LAB_GID))
}

/// pod-init as PID 1 started by root without the bootstrap's variables: it
/// only supervises. Scratch is bind-mounted so root can leave markers there.
fn plain_pod(script: &str) -> RunSpec {
    RunSpec::pod_init(["/bin/sh", "-c", script]).bind_scratch()
}

/// The host path of a file the job writes in its working directory.
fn in_working_dir(sb: &Sandbox, name: &str) -> PathBuf {
    sb.scratch_path(format!("{}/{name}", working_dir()))
}

/// Starts `spec`, waits for the job's `ready` file, sends `signal` to the
/// container's PID 1 from the host (as the kubelet does), and waits for
/// the end.
fn signal_when_ready(sb: &Sandbox, spec: &RunSpec, ready: &Path, signal: Signal) -> std::result::Result<Output, Error> {
    let mut running = sb.spawn(spec)?;
    running.wait_for_path(ready, READY_WAIT)?;
    running.signal(signal)?;
    running.wait()
}

fn read(path: &PathBuf) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| format!("<{}: {e}>", path.display()))
}

#[test]
fn sigterm_from_outside_reaches_the_job_which_checkpoints_and_the_container_exits_0() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let script = "trap 'echo checkpointed > checkpoint; exit 0' TERM; touch ready; while :; do sleep 0.1; done";
    let ready = in_working_dir(&sb, "ready");
    let out = signal_when_ready(&sb, &setuid_pod(script), &ready, Signal::SIGTERM)?;
    out.assert_success();
    assert_eq!(read(&in_working_dir(&sb, "checkpoint")), "checkpointed\n", "{}", out.stderr);
    out.assert_logged("forwarding SIGTERM to the command");
    Ok(())
}

#[test]
fn a_program_under_submits_zsh_wrapper_finishes_a_ten_second_checkpoint_after_sigterm() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    // The researcher's program, as `submit --command` would run it: it
    // records which process started it (the wrapper's zsh, not pod-init),
    // and needs 10 s after SIGTERM, five times the leftovers' grace.
    let program = "sh -c 'trap \"sleep 10; echo saved > checkpoint; exit 0\" TERM; \
                   cat /proc/$PPID/comm > parent; touch ready; while :; do sleep 0.1; done'";
    let pod_command = PodScript { exp_folder: None, venv: None, command: program.to_owned() }.argv();
    let spec = setuid_pod_running(pod_command).timeout(Duration::from_secs(90));
    let started = Instant::now();
    let out = signal_when_ready(&sb, &spec, &in_working_dir(&sb, "ready"), Signal::SIGTERM)?;
    eprintln!("from start to the end of a job stopped with a 10 s checkpoint: {:.1?}", started.elapsed());
    assert_eq!(read(&in_working_dir(&sb, "parent")), "zsh\n", "not under the wrapper's zsh");
    assert_eq!(read(&in_working_dir(&sb, "checkpoint")), "saved\n", "the checkpoint was cut short:\n{}", out.stderr);
    // zsh itself has no handler: the stop ends it at once, and PID 1 waits
    // for the program, with no timer of its own.
    out.assert_status(128 + 15);
    out.assert_logged("asked to stop: forwarding SIGTERM to the command's process group");
    out.assert_logged("waiting for the job's other processes to finish stopping");
    Ok(())
}

#[test]
fn the_jobs_exit_code_is_the_containers() -> Result {
    let sb = Sandbox::new()?;
    sb.run(&plain_pod("exit 42"))?.assert_status(42);
    Ok(())
}

#[test]
fn a_job_killed_by_sigkill_makes_the_container_exit_137() -> Result {
    let sb = Sandbox::new()?;
    sb.run(&plain_pod("kill -KILL $$"))?.assert_status(137);
    Ok(())
}

/// `pid name state` of every process of the namespace, from inside.
const LIST_PROCESSES: &str = r"sed -n 's/^\([0-9]*\) (\(.*\)) \(.\) .*/\1 \2 \3/p' /proc/[0-9]*/stat 2>/dev/null";

#[test]
fn double_forked_orphans_leave_no_zombie_in_the_namespace() -> Result {
    let sb = Sandbox::new()?;
    // Twenty orphans end shortly after their parents; the job waits until
    // none of them is left, as a process or a zombie, and prints the final
    // listing.
    let script = format!(
        "i=0; while [ $i -lt 10 ]; do (sleep 0.2 &); (true &); i=$((i+1)); done; \
         n=0; while [ $n -lt 200 ]; do \
           {LIST_PROCESSES} | grep -q -e ' sleep ' -e ' true ' -e ' Z$' || break; sleep 0.05; n=$((n+1)); \
         done; {LIST_PROCESSES}"
    );
    let out = sb.run(&plain_pod(&script))?;
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.contains(&"1 pod-init S"), "PID 1 not in the listing:\n{}", out.stdout);
    let left: Vec<&&str> =
        lines.iter().filter(|l| l.ends_with(" Z") || l.contains(" sleep ") || l.contains(" true ")).collect();
    assert!(left.is_empty(), "left in the namespace: {left:?}\n{}", out.stdout);
    Ok(())
}

/// Shell that starts a worker in the job's process group (it writes `word`
/// to `{SCRATCH_MOUNT}/{file}` and exits on SIGTERM), then waits until the
/// worker is ready.
fn start_worker(file: &str, word: &str) -> String {
    format!(
        "sh -c 'trap \"echo {word} > {SCRATCH_MOUNT}/{file}; exit 0\" TERM; touch {SCRATCH_MOUNT}/worker; \
         while :; do sleep 0.1; done' & \
         while [ ! -e {SCRATCH_MOUNT}/worker ]; do sleep 0.05; done; "
    )
}

#[test]
fn processes_left_behind_get_sigterm_before_the_container_ends() -> Result {
    let sb = Sandbox::new()?;
    let left = sb.scratch_path("left");
    let script = format!("{}exit 3", start_worker("left", "flushed"));
    let out = sb.run(&plain_pod(&script))?;
    out.assert_status(3);
    assert_eq!(read(&left), "flushed\n", "{}", out.stderr);
    Ok(())
}

#[test]
fn signal_group_option_reaches_the_jobs_workers() -> Result {
    let sb = Sandbox::new()?;
    let script = format!(
        "trap 'wait; exit 0' TERM; {}touch {SCRATCH_MOUNT}/ready; while :; do sleep 0.1; done",
        start_worker("worker.out", "worker")
    );
    let spec = plain_pod(&script).env(EnvVars::POD_INIT_SIGNAL_GROUP, "1");
    let out = signal_when_ready(&sb, &spec, &sb.scratch_path("ready"), Signal::SIGTERM)?;
    out.assert_success();
    assert_eq!(read(&sb.scratch_path("worker.out")), "worker\n", "{}", out.stderr);
    out.assert_logged("forwarding SIGTERM to the command's process group");
    Ok(())
}

#[test]
fn a_bad_supervisor_variable_stops_the_pod_before_anything_runs() -> Result {
    let sb = Sandbox::new()?;
    let out = sb.run(&plain_pod(&format!("touch {SCRATCH_MOUNT}/ran")).env(EnvVars::POD_INIT_KILL_GRACE_MS, "2s"))?;
    out.assert_status(1);
    out.assert_logged("pod-init: POD_INIT_KILL_GRACE_MS=\"2s\": must be a whole number of milliseconds");
    assert!(!sb.scratch_path("ran").exists(), "the command ran");
    Ok(())
}

#[test]
fn an_interactive_job_leads_the_terminals_foreground_group_and_gets_ctrl_c() -> Result {
    let sb = Sandbox::new()?;
    // Fields after the name in /proc/<pid>/stat: state ppid pgrp session
    // tty_nr tpgid.
    let script = format!(
        "set -- $(sed 's/.*) //' /proc/$$/stat); echo \"ids $$ $3 $6\"; \
         trap 'echo interrupted; exit 0' INT; touch {SCRATCH_MOUNT}/ready; while :; do sleep 0.1; done"
    );
    let mut running = sb.spawn(&plain_pod(&script).tty())?;
    running.wait_for_path(&sb.scratch_path("ready"), READY_WAIT)?;
    running.write_tty(b"\x03")?;
    let out = running.wait()?;
    out.assert_success();
    let ids: Vec<&str> = out
        .stdout
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("ids "))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    assert_eq!(ids.len(), 3, "{}", out.stdout);
    assert_eq!((ids[1], ids[2]), (ids[0], ids[0]), "pid, pgrp, tty foreground group:\n{}", out.stdout);
    assert!(out.stdout.contains("interrupted"), "{}", out.stdout);
    Ok(())
}

/// The `Uid:`, `Gid:`, `Groups:` and capability lines of a status file.
fn ids_and_caps(status: &str) -> Vec<String> {
    status
        .lines()
        .filter(|l| ["Uid:", "Gid:", "CapInh:", "CapPrm:", "CapEff:", "CapAmb:"].iter().any(|p| l.starts_with(p)))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn the_setuid_start_bootstraps_and_the_job_runs_as_the_user_unable_to_regain_root() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let script = "cat /proc/self/status; setpriv --reuid=0 id -u 2>&1; echo setpriv=$?";
    let out = sb.run(&setuid_pod(script))?;
    out.assert_success();
    assert!(sb.read_etc("passwd")?.contains(&format!("{USER}:x:{UID}:{LAB_GID}:")), "no bootstrap:\n{}", out.stderr);
    out.assert_logged("bootstrap done in");
    let lines = ids_and_caps(&out.stdout);
    let expected = [
        format!("Uid: {UID} {UID} {UID} {UID}"),
        format!("Gid: {LAB_GID} {LAB_GID} {LAB_GID} {LAB_GID}"),
        "CapInh: 0000000000000000".to_owned(),
        "CapPrm: 0000000000000000".to_owned(),
        "CapEff: 0000000000000000".to_owned(),
        "CapAmb: 0000000000000000".to_owned(),
    ];
    assert_eq!(lines, expected, "{}", out.stdout);
    // setpriv asks for setresuid(0, 0, 0), as an exploit would.
    assert!(
        out.stdout.contains("setresuid failed: Operation not permitted") && out.stdout.contains("setpriv=1"),
        "the job could become root again:\n{}",
        out.stdout
    );
    Ok(())
}

#[test]
fn a_setuid_start_without_the_variables_runs_the_command_as_the_user_not_root() -> Result {
    let sb = Sandbox::new()?;
    let spec = RunSpec::pod_init(["/bin/sh", "-c", "cat /proc/self/status"]).as_user(UID, LAB_GID);
    let out = sb.run(&spec)?;
    out.assert_success();
    out.assert_logged("not bootstrapping, missing NB_USER");
    let lines = ids_and_caps(&out.stdout);
    assert_eq!(
        lines.get(..3),
        Some(
            &[
                format!("Uid: {UID} {UID} {UID} {UID}"),
                format!("Gid: {LAB_GID} {LAB_GID} {LAB_GID} {LAB_GID}"),
                "CapInh: 0000000000000000".to_owned()
            ][..]
        ),
        "{}",
        out.stdout
    );
    assert!(lines.contains(&"CapEff: 0000000000000000".to_owned()), "{}", out.stdout);
    Ok(())
}

#[test]
fn without_the_setuid_bit_the_job_runs_as_the_user_without_a_bootstrap() -> Result {
    let sb = Sandbox::new()?;
    let passwd = sb.read_etc("passwd")?;
    // pod-init 0755 (a nosuid mount or allowPrivilegeEscalation: false
    // come to the same): no root to do the bootstrap with.
    let out = sb.run(&setuid_pod("grep -E '^(Uid|Gid):' /proc/self/status; exit 7").pod_init_mode(0o755))?;
    assert_eq!(out.status, 7, "the job's code is the container's:\n{}", out.stderr);
    out.assert_logged(&format!(
        "not started as root (uid {UID}; pod-init is not setuid root, or is on a nosuid mount)"
    ));
    out.assert_logged("running the command without the bootstrap");
    assert_eq!(
        out.stdout,
        format!("Uid:\t{UID}\t{UID}\t{UID}\t{UID}\nGid:\t{LAB_GID}\t{LAB_GID}\t{LAB_GID}\t{LAB_GID}\n")
    );
    assert_eq!(sb.read_etc("passwd")?, passwd, "/etc/passwd changed");
    Ok(())
}

#[test]
fn the_setuid_binary_run_again_by_the_user_grants_nothing() -> Result {
    let sb = Sandbox::new()?;
    // Inside a bootstrapped pod, the user runs the setuid pod-init with a
    // forged configuration.
    let forged_ids = [
        (EnvVars::NB_USER, "mallory"),
        (EnvVars::NB_UID, "4242"),
        (EnvVars::NB_GROUP, "mallory"),
        (EnvVars::NB_GID, "4242"),
    ];
    let forged: Vec<String> = forged_ids
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .chain([
            format!("{}={SCRATCH_MOUNT}/homes", EnvVars::SCRATCH_HOME_ROOT),
            format!("{}=/tmp", EnvVars::WORKING_DIR),
        ])
        .collect();
    let script =
        format!("env {} {POD_INIT_PATH} sh -c 'grep ^Uid: /proc/self/status; exit 7'; echo inner=$?", forged.join(" "));
    let out = sb.run(&setuid_pod(&script))?;
    out.assert_success();
    assert!(out.stdout.contains(&format!("Uid:\t{UID}\t{UID}\t{UID}\t{UID}")), "{}", out.stdout);
    assert!(out.stdout.contains("inner=7"), "{}", out.stdout);
    out.assert_logged("not the container's first process");
    out.assert_logged("setuid root not honoured");
    let passwd = sb.read_etc("passwd")?;
    let sudoers = sb.read_file("/etc/sudoers.d/nb-user")?;
    assert!(!passwd.contains("mallory") && !String::from_utf8_lossy(&sudoers).contains("mallory"), "{passwd}");

    let marker = sb.read_file(common::image::POD_INIT_MARKER);
    assert!(marker.is_ok(), "the first start left no marker");
    Ok(())
}

/// What the job sees of itself: ids and groups, the variables the bootstrap
/// sets, the umask and the directory.
const SELF_REPORT: &str = "id; env | grep -E '^(HOME|USER|LOGNAME|SHELL|ZDOTDIR|ZSH|HISTFILE|SCRATCH_HOME|\
                           GIT_CONFIG_GLOBAL|UV_CACHE_DIR|UV_PYTHON_INSTALL_DIR)=' | sort; umask; pwd";

#[test]
fn a_restarted_container_gives_the_job_the_same_identity_groups_and_environment() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let first = sb.run(&setuid_pod(SELF_REPORT))?;
    first.assert_success();
    assert!(
        first.stdout.starts_with(&format!(
            "uid={UID}(ada) gid={LAB_GID}(MLO-unit) groups={LAB_GID}(MLO-unit),4(adm),27(sudo)\n"
        )),
        "{}\n{}",
        first.stdout,
        first.stderr
    );
    assert!(first.stdout.contains(&format!("ZDOTDIR={SCRATCH_MOUNT}/homes/{USER}/.shell\n")), "{}", first.stdout);
    // The same container started again: its writable layer (with the marker
    // in /run) kept, its first PID 1 gone, the same variables.
    let marker = sb.read_file(common::image::POD_INIT_MARKER)?;
    let second = sb.run(&setuid_pod(SELF_REPORT))?;
    second.assert_success();
    second.assert_logged(
        "is left from an earlier start of this container (its writable layer was kept), and no process holds it: \
         bootstrapping again",
    );
    second.assert_logged("accounts: nothing to change");
    assert_eq!(second.stdout, first.stdout, "the restarted job differs from the first:\n{}", second.stderr);
    assert_eq!(sb.read_file(common::image::POD_INIT_MARKER)?, marker, "claiming again rewrote the marker");
    Ok(())
}

#[test]
fn a_restart_reads_etc_again_only_when_it_changed_since_the_last_start() -> Result {
    let sb = Sandbox::new()?;
    let groups = "id -Gn";
    let first = sb.run(&setuid_pod(groups))?;
    first.assert_success();
    assert_eq!(first.stdout, "MLO-unit adm sudo\n", "{}", first.stderr);
    // Restarted in place: /etc as the first start left it.
    let again = sb.run(&setuid_pod(groups).env(EnvVars::POD_INIT_LOG, "debug"))?;
    again.assert_success();
    again.assert_logged("accounts: /etc as the last start of this container left it; not read again");
    assert_eq!(again.stdout, first.stdout);
    // The job takes itself out of adm (root, through sudo): the next start
    // finds /etc changed, reads it, and puts the user back.
    let edited = sb.run(&setuid_pod(&format!("sudo -n gpasswd -d {USER} adm >/dev/null && {groups}")))?;
    edited.assert_success();
    let restarted = sb.run(&setuid_pod(groups).env(EnvVars::POD_INIT_LOG, "debug"))?;
    restarted.assert_success();
    assert!(!restarted.stderr.contains("not read again"), "{}", restarted.stderr);
    restarted.assert_logged("accounts: added ");
    assert_eq!(restarted.stdout, first.stdout, "{}", restarted.stderr);
    Ok(())
}

/// The bootstrap's variables for an account `mallory` that does not exist,
/// as `env` arguments: what a user would forge to be bootstrapped as.
fn forged_mallory() -> String {
    format!(
        "{}=mallory {}=4242 {}=mallory {}=4242 {}={SCRATCH_MOUNT}/homes {}=/tmp",
        EnvVars::NB_USER,
        EnvVars::NB_UID,
        EnvVars::NB_GROUP,
        EnvVars::NB_GID,
        EnvVars::SCRATCH_HOME_ROOT,
        EnvVars::WORKING_DIR
    )
}

#[test]
fn while_the_containers_pid1_runs_no_other_pid1_can_claim_the_marker() -> Result {
    let sb = Sandbox::new()?;
    // Root in the pod (the user through sudo) makes a PID namespace and
    // starts the setuid pod-init in it as the user, with a forged
    // configuration: a PID 1, but not the container's, which holds the claim.
    let forged = forged_mallory();
    let script = format!(
        "sudo -n unshare --pid --fork --mount-proc setpriv --reuid={UID} --regid={LAB_GID} --clear-groups \
         env {forged} {POD_INIT_PATH} sh -c 'grep ^Uid: /proc/self/status; echo pid=$$'; echo inner=$?"
    );
    let out = sb.run(&setuid_pod(&script))?;
    out.assert_success();
    out.assert_logged("the bootstrap already ran in this container (its PID 1 holds /run/pod-init.started)");
    out.assert_logged("setuid root not honoured");
    assert!(out.stdout.contains(&format!("Uid:\t{UID}\t{UID}\t{UID}\t{UID}\n")), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("inner=0\n"), "{}\n{}", out.stdout, out.stderr);
    let passwd = sb.read_etc("passwd")?;
    assert!(!passwd.contains("mallory"), "{passwd}");
    Ok(())
}

#[test]
fn a_user_cannot_run_the_bootstrap_again_from_namespaces_of_their_own() -> Result {
    let sb = Sandbox::new()?;
    // Inside a bootstrapped pod, the user makes a user and PID namespace (no
    // root needed for that) and runs the setuid pod-init as its PID 1 with a
    // forged configuration: once unmapped, once mapped to the namespace's
    // own root. Neither may change /etc or the claim.
    let forged = forged_mallory();
    let marker = common::image::POD_INIT_MARKER;
    let inner = "grep -E \"^(Uid|CapEff):\" /proc/self/status";
    let script = format!(
        "cat {marker} > claim-before; \
         unshare --user --pid --fork --mount-proc env {forged} {POD_INIT_PATH} sh -c '{inner}'; echo unmapped=$?; \
         unshare --user --map-root-user --pid --fork --mount-proc env {forged} {POD_INIT_PATH} sh -c '{inner}'; \
         echo mapped=$?; cat {marker} > claim-after"
    );
    let out = sb.run(&setuid_pod(&script))?;
    out.assert_success();
    // Unmapped: the setuid bit is not honoured, pod-init has no root at all.
    out.assert_logged("not started as root (uid 65534;");
    assert!(out.stdout.contains("Uid:\t65534\t65534\t65534\t65534\n"), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("unmapped=0\n"), "{}", out.stdout);
    // Mapped to the namespace's root: the bootstrap runs with the user's
    // own powers only and stops on root's /etc.
    out.assert_logged("pod-init: accounts: ");
    assert!(out.stdout.contains("mapped=2\n"), "{}\n{}", out.stdout, out.stderr);
    let passwd = sb.read_etc("passwd")?;
    let sudoers = String::from_utf8_lossy(&sb.read_file("/etc/sudoers.d/nb-user")?).into_owned();
    assert!(passwd.contains(&format!("{USER}:x:{UID}:")), "{passwd}");
    assert!(!passwd.contains("mallory") && !sudoers.contains("mallory"), "{passwd}\n{sudoers}");
    let before = read(&in_working_dir(&sb, "claim-before"));
    assert!(before.starts_with("claimed by this container's PID 1"), "{before}");
    assert_eq!(read(&in_working_dir(&sb, "claim-after")), before, "the claim changed");
    Ok(())
}

#[test]
fn pid1_environ_holds_no_private_key() -> Result {
    let sb = Sandbox::new()?;
    let secret = "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0Kbm90LWEta2V5";
    // The job reads PID 1's environ the way a sudo user can, says it is
    // ready, and waits for the host to read it too.
    let script = "sudo -n cat /proc/1/environ | tr '\\0' '\\n' > pid1-environ; env > job-environ; \
                  touch ready; n=0; while [ ! -e go ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done";
    let mut running = sb.spawn(&setuid_pod(script).env(EnvVars::SSH_PRIVATE_KEY_B64, secret))?;
    running.wait_for_path(&in_working_dir(&sb, "ready"), READY_WAIT)?;
    let host_view = fs::read(format!("/proc/{}/environ", running.init_host_pid()?));
    fs::write(in_working_dir(&sb, "go"), b"")?;
    let out = running.wait()?;
    out.assert_success();
    let host_view = String::from_utf8_lossy(&host_view?).into_owned();
    assert!(host_view.contains("NB_USER=ada"), "not PID 1's environ: {host_view:?}");
    let inside_view = read(&in_working_dir(&sb, "pid1-environ"));
    assert!(inside_view.contains("NB_USER=ada"), "sudo could not read /proc/1/environ: {inside_view}\n{}", out.stderr);
    for (view, text) in [
        ("host", &host_view),
        ("sudo in the pod", &inside_view),
        ("the job's own", &read(&in_working_dir(&sb, "job-environ"))),
    ] {
        assert!(!text.contains(secret), "the key is readable in {view} view");
        assert!(!text.contains("SSH_PRIVATE_KEY_B64"), "the variable's name is left in {view} view");
    }
    Ok(())
}

/// The `VmRSS:` of a process, in KiB.
fn rss_kib(status: &str) -> Option<u64> {
    status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

#[test]
fn pod_init_stays_small_while_it_supervises_a_sleeping_job() -> Result {
    let sb = Sandbox::new()?;
    let mut running = sb.spawn(&setuid_pod("touch ready; sleep 30"))?;
    running.wait_for_path(&in_working_dir(&sb, "ready"), READY_WAIT)?;
    let status = fs::read_to_string(format!("/proc/{}/status", running.init_host_pid()?))?;
    running.signal(Signal::SIGTERM)?;
    let out: Output = running.wait()?;
    // sleep has no handler: the forwarded SIGTERM kills it.
    out.assert_status(128 + 15);
    let rss = rss_kib(&status).unwrap_or_else(|| panic!("no VmRSS in PID 1's status:\n{status}"));
    eprintln!("pod-init VmRSS while supervising a sleeping job (after a setuid bootstrap): {rss} KiB");
    // A budget, not a timing: a static binary under 1 MiB with no runtime
    // should stay within a few MiB; more means something leaked or grew.
    assert!(rss > 0 && rss < 8 * 1024, "VmRSS {rss} KiB");
    Ok(())
}
