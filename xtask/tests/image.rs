//! `cargo xtask image` run as users run it: the real xtask binary, a cleared
//! environment, and its output compared line by line.

// A test reports failure by panicking.
#![allow(clippy::panic)]
#![allow(clippy::disallowed_methods, reason = "runs the real xtask binary")]

use std::path::Path;
use std::process::{Command, Output};

/// Runs xtask with only PATH (and the given variables) in its environment,
/// and a target directory of our choosing so the printed paths are known.
fn xtask(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CARGO_TARGET_DIR", "/tmp/nb-target")
        .env("CARGO", "cargo");
    for (key, value) in env {
        cmd.env(key, value);
    }
    match cmd.output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run xtask: {e}"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The lines every dry run starts with: the dist build and the staging.
fn preamble() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(|p| p.display().to_string()).unwrap_or_default();
    format!(
        "cd {root} && cargo build --release --target x86_64-unknown-linux-musl -p submit -p pod-init\n\
         copy submit and pod-init from /tmp/nb-target/x86_64-unknown-linux-musl/release to /tmp/nb-target/dist and check they are static\n\
         stage /tmp/nb-target/image-context: Dockerfile (from {root}/docker/Dockerfile), \
         pod-init (from /tmp/nb-target/dist/pod-init), zshrc (from {root}/docker/zshrc)\n"
    )
}

#[test]
fn dry_run_prints_build_tag_and_push_with_the_given_args() {
    let out = xtask(
        &[
            "image",
            "--dry-run",
            "--push",
            "--registry",
            "registry.example:5000",
            "--image-path",
            "team/base",
            "--tag",
            "v2",
            "--ldap-username",
            "ada",
            "--ldap-uid",
            "123456",
            "--ldap-groupname",
            "ML-unit",
            "--ldap-gid",
            "4242",
            "--seed-user",
            "seed",
            "--seed-uid",
            "5000",
        ],
        &[],
    );
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let expected = format!(
        "{}docker build --platform linux/amd64 --build-arg LDAP_USERNAME=ada --build-arg LDAP_UID=123456 \
         --build-arg LDAP_GROUPNAME=ML-unit --build-arg LDAP_GID=4242 --build-arg SCRATCH_SEED_USER=seed \
         --build-arg SCRATCH_SEED_UID=5000 --tag registry.example:5000/team/base:v2 /tmp/nb-target/image-context\n\
         docker push registry.example:5000/team/base:v2\n",
        preamble()
    );
    assert_eq!(text(&out.stdout), expected);
    assert_eq!(text(&out.stderr), "");
}

/// The variables the old publish script read still work, and without
/// `--push` nothing is pushed. The seed account keeps its defaults.
#[test]
fn environment_fallbacks_and_defaults() {
    let env = [
        ("REGISTRY", "reg.local"),
        ("IMAGE_PATH", "mlo/custom"),
        ("TAG", "uv-v2"),
        ("LDAP_USERNAME", "bob"),
        ("LDAP_UID", "177000"),
        ("LDAP_GROUPNAME", "MLO-unit"),
        ("LDAP_GID", "83070"),
    ];
    let out = xtask(&["image", "--dry-run"], &env);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let expected = format!(
        "{}docker build --platform linux/amd64 --build-arg LDAP_USERNAME=bob --build-arg LDAP_UID=177000 \
         --build-arg LDAP_GROUPNAME=MLO-unit --build-arg LDAP_GID=83070 \
         --build-arg SCRATCH_SEED_USER=mljaggi-admin --build-arg SCRATCH_SEED_UID=177449 \
         --tag reg.local/mlo/custom:uv-v2 /tmp/nb-target/image-context\n",
        preamble()
    );
    assert_eq!(text(&out.stdout), expected);

    // A flag wins over its variable.
    let out = xtask(&["image", "--dry-run", "--tag", "t9"], &env);
    assert!(text(&out.stdout).contains(" --tag reg.local/mlo/custom:t9 "), "{}", text(&out.stdout));
}

#[test]
fn bad_input_names_the_field_and_prints_no_command() {
    let out = xtask(&["image", "--dry-run"], &[("LDAP_UID", "12a")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(text(&out.stderr), "xtask: LDAP_UID=\"12a\": must be a whole number\n");

    let out = xtask(&["image", "--dry-run", "--ldap-groupname", "ML unit"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "xtask: LDAP_GROUPNAME=\"ML unit\": must not contain ' '\n");
}

/// The real docker client, pointed at a socket where no engine listens:
/// the same situation as this CI machine, made explicit so the test does not
/// depend on whether a daemon happens to run.
#[test]
fn without_an_engine_it_says_so_and_suggests_dry_run() {
    let client =
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()).any(|dir| dir.join("docker").is_file());
    assert!(
        client,
        "this test needs the docker client (not an engine) on PATH: apt-get install docker.io, or any docker CLI"
    );
    let out = xtask(&["image"], &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("xtask: no Docker engine is reachable (`docker info"), "{stderr}");
    assert!(stderr.contains("/nonexistent/docker.sock"), "{stderr}");
    assert!(stderr.trim_end().ends_with("or pass --dry-run to print the commands"), "{stderr}");
}

#[test]
fn without_docker_at_all_it_says_so_and_suggests_dry_run() {
    let out = xtask(&["image"], &[("PATH", "/nonexistent")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("xtask: cannot run docker ("), "{stderr}");
    assert!(
        stderr.trim_end().ends_with("install Docker to build the image, or pass --dry-run to print the commands"),
        "{stderr}"
    );
}
