//! The sandbox harness proves itself, with real tools and a shell as PID 1
//! (no pod-init needed): namespaces, root squash, the upper layer across
//! runs, exit codes, signals from outside, timeouts, cleanup, and the
//! busybox root that only static binaries can run in.
//!
//! Needs root (it fails, with how to fix it, otherwise).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use nb_tests::sandbox::{
    BusyboxRoot, Error, LAB_GID, LAB_GROUP, NOBODY, PLACEHOLDER, PLACEHOLDER_ID, RUNTIME_CAP_BOUNDING_SET, RunSpec,
    SCRATCH_MOUNT, SEED_UID, SEED_USER, Sandbox,
};
use nix::sys::signal::Signal;

type Result = std::result::Result<(), Error>;

/// (uid, gid, permission bits) of a host path; (0, 0, 0) when missing, which
/// no assertion below expects.
fn owner(path: &Path) -> (u32, u32, u32) {
    fs::symlink_metadata(path).map_or((0, 0, 0), |m| (m.uid(), m.gid(), m.mode() & 0o7777))
}

/// Host processes whose command line mentions `needle` (a sandbox path or a
/// unique argument): what must be gone after a container ends.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && entry.file_name() != std::process::id().to_string().as_str() {
            found.push(format!("{}: {cmdline}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

fn host_mounts_mentioning(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_command_is_pid_1_of_a_container_named_ctr() -> Result {
    let sb = Sandbox::new()?;
    let out = sb.run(&RunSpec::sh(
        "echo pid=$$; hostname; grep -c . /proc/mounts >/dev/null && ls /proc | grep -c '^[0-9]' ; \
         test -c /dev/null && test -c /dev/urandom && test -d /dev/pts && echo dev-ok; env | sort",
    ))?;
    out.assert_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "pid=1", "{}", out.stdout);
    assert_eq!(lines[1], "ctr");
    // Only the shell and the `ls` it runs are in this PID namespace.
    assert!(lines[2].parse::<u32>().is_ok_and(|n| n <= 3), "processes seen: {}", lines[2]);
    assert_eq!(lines[3], "dev-ok");
    assert_eq!(
        &lines[4..],
        ["HOSTNAME=ctr", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PWD=/"]
    );
    Ok(())
}

#[test]
fn pid_1_starts_as_a_container_runtime_starts_it() -> Result {
    let sb = Sandbox::new()?;
    // Only stdio is open (3 is the directory `ls` reads)...
    let fds = sb.run(&RunSpec::new(["ls", "/proc/self/fd"]))?;
    fds.assert_success();
    assert_eq!(fds.stdout, "0\n1\n2\n3\n");
    // ...with every capability, or those a container runtime grants...
    let caps = RunSpec::new(["grep", "^CapBnd", "/proc/self/status"]);
    let runtime = sb.run(&caps.clone().runtime_caps())?;
    assert_eq!(runtime.stdout, format!("CapBnd:\t{RUNTIME_CAP_BOUNDING_SET:016x}\n"));
    let all = sb.run(&caps)?;
    assert_ne!(all.stdout, runtime.stdout);
    let mount = sb.run(&RunSpec::sh("mount -t tmpfs none /mnt").runtime_caps())?;
    assert_ne!(mount.status, 0, "root mounted without CAP_SYS_ADMIN");
    // ...and no signal is blocked or ignored.
    let sigs = sb.run(&RunSpec::new(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]))?;
    sigs.assert_success();
    assert_eq!(sigs.stdout, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    Ok(())
}

#[test]
fn exit_codes_propagate() -> Result {
    let sb = Sandbox::new()?;
    sb.run(&RunSpec::sh("exit 42"))?.assert_status(42);
    sb.run(&RunSpec::new(["true"]))?.assert_status(0);
    sb.run(&RunSpec::new(["/no/such/command"]))?.assert_status(127);
    Ok(())
}

#[test]
fn the_harness_clocks_pid_1_from_its_exec_to_its_reaping() -> Result {
    let sb = Sandbox::new()?;
    let started = std::time::Instant::now();
    sb.run(&RunSpec::new(["sleep", "0.3"]).bind_scratch())?.assert_success();
    let wall = started.elapsed();
    let life = sb.pid1_life()?;
    assert!(life >= Duration::from_millis(300) && life < wall, "life {life:?}, wall {wall:?}");
    sb.run(&RunSpec::new(["/bin/true"]).bind_scratch())?.assert_success();
    let life = sb.pid1_life()?;
    assert!(life < Duration::from_millis(300), "the second run's life is its own: {life:?}");
    Ok(())
}

#[test]
fn root_is_squashed_on_scratch_as_on_nfs() -> Result {
    let sb = Sandbox::new()?;
    sb.prove_root_squash()?;
    let tmp = sb.scratch_path("/scratch/tmp");
    fs::create_dir(&tmp).map_err(Error::from)?;
    fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).map_err(Error::from)?;

    // Root (all capabilities in the container) is nobody on scratch.
    let out =
        sb.run(&RunSpec::sh("touch /scratch/tmp/by-root; chown 0 /scratch/homes 2>&1; ls /scratch/homes 2>&1; true"))?;
    assert!(out.stdout.contains("Operation not permitted"), "chown as root: {}", out.stdout);
    assert!(out.stdout.contains("Permission denied"), "ls homes as root: {}", out.stdout);
    assert_eq!(owner(&tmp.join("by-root")), (NOBODY, NOBODY, 0o644));
    assert_eq!(owner(&sb.scratch_path("homes")), (SEED_UID, LAB_GID, 0o770));

    // The seed creates in its 0770 homes; the directory is the seed's.
    let seed = RunSpec::sh("umask 007; mkdir /scratch/homes/ada").as_user(SEED_UID, LAB_GID);
    sb.run(&seed)?.assert_success();
    assert_eq!(owner(&sb.scratch_path("homes/ada")), (SEED_UID, LAB_GID, 0o770));

    // A member of the lab group writes there, a non-member cannot.
    sb.run(&RunSpec::sh("umask 007; echo hi > /scratch/homes/ada/f").as_user(123_456, LAB_GID))?.assert_success();
    assert_eq!(owner(&sb.scratch_path("homes/ada/f")), (123_456, LAB_GID, 0o660));
    let outsider = sb.run(&RunSpec::sh("echo hi > /scratch/homes/ada/g").as_user(123_457, 1000))?;
    assert_ne!(outsider.status, 0);
    assert!(outsider.stderr.contains("Permission denied"), "{}", outsider.stderr);

    assert_eq!(
        sb.scratch_listing()?,
        [
            format!("{SEED_UID}:{LAB_GID} 770 homes"),
            format!("{SEED_UID}:{LAB_GID} 770 homes/ada"),
            format!("123456:{LAB_GID} 660 homes/ada/f"),
            "0:0 1777 tmp".to_string(),
            format!("{NOBODY}:{NOBODY} 644 tmp/by-root"),
        ]
    );

    // With a bind mount instead, root is root (the passthrough case).
    sb.run(&RunSpec::sh("mkdir /scratch/homes/by-root").bind_scratch())?.assert_success();
    assert_eq!(owner(&sb.scratch_path("homes/by-root")), (0, 0, 0o755));
    Ok(())
}

#[test]
fn the_upper_layer_persists_across_runs_of_one_sandbox() -> Result {
    let sb = Sandbox::new()?;
    sb.run(&RunSpec::sh("groupadd -g 123456 ada && useradd -u 123456 -g 123456 -m ada && rm /etc/motd"))?
        .assert_success();
    // The restart: a new container over the same upper layer.
    let again = sb.exec(["getent", "passwd", "ada"])?;
    again.assert_success();
    assert_eq!(again.stdout, "ada:x:123456:123456::/home/ada:/bin/sh\n");
    assert!(sb.read_etc("passwd")?.contains("\nada:x:123456:"));
    assert_eq!(sb.host_path("/etc/motd"), None, "a deleted file is a whiteout");
    assert!(sb.host_path("/etc/hosts").is_some());

    // The rootfs below is untouched, and another sandbox does not see it.
    assert!(!fs::read_to_string(sb.rootfs().join("etc/passwd")).map_err(Error::from)?.contains("ada:"));
    let other = Sandbox::new()?;
    other.exec(["getent", "passwd", "ada"])?.assert_status(2);
    Ok(())
}

#[test]
fn the_rootfs_looks_like_our_image() -> Result {
    let sb = Sandbox::new()?;
    let out = sb.sh(&format!(
        "getent passwd {PLACEHOLDER} {SEED_USER}; getent group {LAB_GID}; \
         su - {PLACEHOLDER} -c id; sudo -n true && echo sudo-ok; \
         cat /docker/.zshrc | grep umask; test -f /docker/oh-my-zsh/oh-my-zsh.sh && echo omz-ok; \
         grep ctr /etc/hosts; command -v zsh; command -v git; command -v ssh-keygen"
    ))?;
    out.assert_success();
    let expected = format!(
        "{PLACEHOLDER}:x:{PLACEHOLDER_ID}:{PLACEHOLDER_ID}::/home/{PLACEHOLDER}:/bin/bash\n\
         {SEED_USER}:x:{SEED_UID}:{LAB_GID}::/nonexistent:/usr/sbin/nologin\n\
         {LAB_GROUP}:x:{LAB_GID}:\n\
         uid=1000({PLACEHOLDER}) gid=1000({PLACEHOLDER}) groups=1000({PLACEHOLDER})\n\
         sudo-ok\numask 007\nomz-ok\n127.0.1.1 ctr\n/usr/bin/zsh\n/usr/bin/git\n/usr/bin/ssh-keygen\n"
    );
    assert_eq!(out.stdout, expected, "stderr: {}", out.stderr);
    Ok(())
}

#[test]
fn as_user_starts_without_groups_and_setuid_still_works() -> Result {
    let sb = Sandbox::new()?;
    let spec = RunSpec::sh("grep -E '^(Uid|Gid|Groups|NoNewPrivs)' /proc/self/status; /usr/local/bin/suid-id")
        .as_user(PLACEHOLDER_ID, PLACEHOLDER_ID)
        .install("/usr/bin/id", "/usr/local/bin/suid-id", 0o4755);
    let out = sb.run(&spec)?;
    out.assert_success();
    let status: Vec<String> = out.stdout.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(status[0], "Uid: 1000 1000 1000 1000");
    assert_eq!(status[1], "Gid: 1000 1000 1000 1000");
    assert_eq!(status[2], "Groups:");
    assert_eq!(status[3], "NoNewPrivs: 0");
    assert!(status[4].contains("euid=0(root)"), "setuid root did not take: {}", status[4]);
    Ok(())
}

#[test]
fn sigterm_from_the_host_reaches_pid_1() -> Result {
    let sb = Sandbox::new()?;
    let spec = RunSpec::sh(
        "trap 'echo got-term > /scratch/tmp/marker; exit 0' TERM; touch /scratch/tmp/ready; \
         while :; do sleep 0.05; done",
    )
    .bind_scratch();
    fs::create_dir(sb.scratch_path("tmp")).map_err(Error::from)?;
    let mut running = sb.spawn(&spec)?;
    running.wait_for_path(&sb.scratch_path("tmp/ready"), Duration::from_secs(10))?;

    // Seen from inside, PID 1 is the shell and it has the host PID we signal.
    let inside = running.nsenter(["cat", "/proc/1/cmdline"])?;
    assert!(inside.stdout.starts_with("/bin/sh\0-c\0trap"), "{:?}", inside.stdout);
    let host_pid = running.init_host_pid()?;
    assert_ne!(host_pid.as_raw(), 1);
    let as_user = running.nsenter_as(PLACEHOLDER_ID, PLACEHOLDER_ID, ["sh", "-c", "id; echo $$"])?;
    as_user.assert_success();
    let lines: Vec<&str> = as_user.stdout.lines().collect();
    assert_eq!(lines[0], "uid=1000(placeholder) gid=1000(placeholder) groups=1000(placeholder)");
    // In the container's PID namespace (few PIDs), and not its PID 1.
    assert!(lines[1].parse::<u32>().is_ok_and(|p| p > 1 && p < 100), "pid {}", lines[1]);

    running.signal(Signal::SIGTERM)?;
    running.wait()?.assert_success();
    assert_eq!(fs::read_to_string(sb.scratch_path("tmp/marker")).map_err(Error::from)?, "got-term\n");
    Ok(())
}

#[test]
fn sigkill_from_the_host_gives_137() -> Result {
    let sb = Sandbox::new()?;
    let running = sb.spawn(&RunSpec::new(["sleep", "1000"]))?;
    let init = running.init_host_pid()?;
    let cmdline = fs::read(format!("/proc/{init}/cmdline")).map_err(Error::from)?;
    assert_eq!(cmdline, b"sleep\x001000\x00", "the PID we would signal is not the container's PID 1");
    running.signal(Signal::SIGKILL)?;
    running.wait()?.assert_status(137);
    Ok(())
}

#[test]
fn nothing_outlives_a_container() -> Result {
    let sb = Sandbox::new()?;
    let dir = sb.dir().to_string_lossy().into_owned();
    // Leaves an orphan behind in its PID namespace, with squashed scratch
    // (a FUSE daemon to clean up).
    sb.run(&RunSpec::sh("(sleep 876543 &) ; ls /scratch >/dev/null; exit 3"))?.assert_status(3);
    assert_eq!(processes_mentioning(&dir), Vec::<String>::new(), "FUSE daemon or launcher left");
    assert_eq!(processes_mentioning("sleep 876543"), Vec::<String>::new(), "orphan left");
    assert_eq!(host_mounts_mentioning(&dir), Vec::<String>::new(), "mounts left on the host");
    Ok(())
}

#[test]
fn a_timeout_kills_everything_and_fails() -> Result {
    let sb = Sandbox::new()?;
    let dir = sb.dir().to_string_lossy().into_owned();
    let spec = RunSpec::sh("sleep 765432 & sleep 765432").timeout(Duration::from_millis(1500));
    let err = sb.run(&spec).expect_err("a hanging container must fail the run");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(processes_mentioning("sleep 765432"), Vec::<String>::new());
    assert_eq!(processes_mentioning(&dir), Vec::<String>::new());
    assert_eq!(host_mounts_mentioning(&dir), Vec::<String>::new());
    Ok(())
}

#[test]
fn busybox_root_runs_static_binaries_only() -> Result {
    let bb = BusyboxRoot::new()?;
    assert!(!bb.path().join("lib").exists() && !bb.path().join("lib64").exists(), "no libc in there");
    let out = bb.run(Path::new("/bin/busybox"), &["sh", "-c", "echo pid=$$"])?;
    out.assert_success();
    assert_eq!(out.stdout, "pid=1\n");
    // /usr/bin/true from the host is linked against glibc: no loader there.
    let dynamic = bb.run(Path::new("/usr/bin/true"), &[])?;
    dynamic.assert_status(127);
    Ok(())
}

#[test]
fn scratch_paths_map_to_the_backing_directory() -> Result {
    let sb = Sandbox::new()?;
    assert_eq!(sb.scratch_path(format!("{SCRATCH_MOUNT}/homes/ada")), sb.scratch_root().join("homes/ada"));
    assert_eq!(sb.scratch_path("homes/ada"), sb.scratch_root().join("homes/ada"));
    Ok(())
}

#[test]
fn a_tty_run_gives_pid_1_a_controlling_terminal_and_ctrl_c() -> Result {
    let sb = Sandbox::new()?;
    // Field 6 of /proc/PID/stat is the session, 7 the terminal, 8 its
    // foreground process group.
    let out = sb.run(&RunSpec::sh("test -t 0 && test -t 1 && echo on-a-tty; cut -d' ' -f6,8 /proc/1/stat").tty())?;
    out.assert_success();
    assert_eq!(out.stdout, "on-a-tty\r\n1 1\r\n");

    fs::create_dir(sb.scratch_path("tmp")).map_err(Error::from)?;
    let spec = RunSpec::sh("trap 'echo got-int; exit 5' INT; touch /scratch/tmp/ready; while :; do sleep 0.05; done")
        .tty()
        .bind_scratch();
    let mut running = sb.spawn(&spec)?;
    running.wait_for_path(&sb.scratch_path("tmp/ready"), Duration::from_secs(10))?;
    running.write_tty(b"\x03")?;
    let out = running.wait()?;
    out.assert_status(5);
    assert!(out.stdout.ends_with("got-int\r\n"), "{:?}", out.stdout);
    Ok(())
}

#[test]
fn a_harness_failure_is_an_error_not_an_exit_code() -> Result {
    let sb = Sandbox::new()?;
    // Installing below a regular file cannot work: ctr-run.sh fails.
    let spec = RunSpec::new(["true"]).install("/usr/bin/true", "/etc/passwd/true", 0o755);
    let err = sb.run(&spec).expect_err("install below /etc/passwd cannot succeed");
    assert!(err.to_string().contains("the harness failed, not the command"), "{err}");
    // A variable name with `=` is refused before anything runs.
    let err = sb.run(&RunSpec::new(["true"]).env("A=B", "c")).expect_err("bad variable name");
    assert!(err.to_string().contains("A=B"), "{err}");
    // The command's own 125 is just an exit code.
    sb.run(&RunSpec::sh("exit 125"))?.assert_status(125);
    Ok(())
}

/// What a researcher's shell does on scratch: every step prints its exit
/// status, so two runs can be compared line by line.
const USER_FILE_OPS: &str = r#"
cd /scratch/homes/ada || exit 99
step() { "$@" >/dev/null 2>&1; echo "$* -> $?"; }
umask 007
step mkdir d
step chmod 2770 d
step sh -c 'echo data > d/f'
step sh -c 'echo more >> d/f'
step cat d/f
step ln -s f d/link
step ln d/f d/hard
step mv d/hard d/moved
step truncate -s 2 d/moved
step touch d/f
step touch -d 2020-01-01 d/f
step chmod 600 d/f
step chown 123457 d/f
step chgrp 1000 d/f
step mkdir d/sub
step rmdir d/sub
step rm d/link
step test -w /scratch/homes
step mkdir /scratch/homes/bob
step mkfifo d/fifo
step sh -c 'echo x > /scratch/seed-only'
step sh -c 'echo shared > shared'
stat -c '%n %u:%g %a %s %F' d d/f d/moved d/fifo
"#;

/// Another member of the lab group, on the first user's files.
const OTHER_MEMBER_OPS: &str = r#"
cd /scratch/homes/ada || exit 99
step() { "$@" >/dev/null 2>&1; echo "$* -> $?"; }
step touch shared
step touch -d 2020-01-01 shared
step sh -c 'echo more >> shared'
step cat d/f
step rm shared
step ls d
"#;

#[test]
fn for_a_non_root_user_squashed_scratch_behaves_like_a_plain_disk() -> Result {
    let mut results = Vec::new();
    for squash in [true, false] {
        let sb = Sandbox::new()?;
        sb.run(&RunSpec::sh("umask 007; mkdir /scratch/homes/ada").as_user(SEED_UID, LAB_GID))?.assert_success();
        let mut spec = RunSpec::sh(USER_FILE_OPS).as_user(123_456, LAB_GID);
        if !squash {
            spec = spec.bind_scratch();
        }
        let out = sb.run(&spec)?;
        out.assert_success();
        let mut other = RunSpec::sh(OTHER_MEMBER_OPS).as_user(123_457, LAB_GID);
        if !squash {
            other = other.bind_scratch();
        }
        let other = sb.run(&other)?;
        other.assert_success();
        results.push((out.stdout + &other.stdout, sb.scratch_listing()?));
    }
    let (squashed, plain) = (&results[0], &results[1]);
    assert_eq!(squashed.0, plain.0, "same operations, different results");
    assert_eq!(squashed.1, plain.1, "same operations, different owners or modes on scratch");
    // And it did something: the setgid directory and the refusals are there.
    assert!(squashed.0.contains("chmod 2770 d -> 0"), "{}", squashed.0);
    assert!(squashed.0.contains("chown 123457 d/f -> 1"), "{}", squashed.0);
    assert!(squashed.0.contains("mkdir /scratch/homes/bob -> 0"), "{}", squashed.0);
    // "now" on a file one may write but does not own: allowed; a chosen time: not.
    assert!(squashed.0.contains("touch shared -> 0\ntouch -d 2020-01-01 shared -> 1"), "{}", squashed.0);
    Ok(())
}
