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

/// The workspace root, as xtask prints it.
fn root() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(|p| p.display().to_string()).unwrap_or_default()
}

/// The dist build, as every dry run without `--pod-init` starts.
fn dist_lines() -> String {
    format!(
        "cd {} && cargo build --release --target x86_64-unknown-linux-musl -p submit -p pod-init\n\
         copy submit and pod-init from /tmp/nb-target/x86_64-unknown-linux-musl/release to /tmp/nb-target/dist and check they are static\n",
        root()
    )
}

/// The staging of the build context: the files, the pinned uv wheel, and
/// oh-my-zsh (`omz_lines`: the clone, or nothing for a given directory).
fn stage_lines(pod_init: &str, omz_lines: &str, omz_from: &str) -> String {
    let root = root();
    let d = "/tmp/nb-target/image-downloads";
    format!(
        "stage the build context in /tmp/nb-target/image-context\n\
         copy {root}/docker/Dockerfile to Dockerfile\n\
         copy {pod_init} to pod-init\n\
         copy {root}/docker/zshrc to zshrc\n\
         python3 -m pip download --quiet --no-deps --only-binary=:all: --platform musllinux_1_1_x86_64 \
         --require-hashes --requirement {d}/uv-requirements.txt --dest {d}\n\
         unzip -q -o -j {d}/uv-0.13.9-py3-none-musllinux_1_1_x86_64.whl uv-0.13.9.data/scripts/uv \
         uv-0.13.9.data/scripts/uvx -d /tmp/nb-target/image-context\n\
         {omz_lines}copy {omz_from} to oh-my-zsh (without .git)\n"
    )
}

/// The lines every default dry run starts with: dist, then the staging with a clone.
fn preamble() -> String {
    let clone = "/tmp/nb-target/image-downloads/oh-my-zsh-clone";
    format!(
        "{}{}",
        dist_lines(),
        stage_lines(
            "/tmp/nb-target/dist/pod-init",
            &format!("git clone --quiet --depth=1 https://github.com/ohmyzsh/ohmyzsh.git {clone}\n"),
            clone
        )
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
        "{}docker build --platform linux/amd64 --build-arg BASE_IMAGE=nvcr.io/nvidia/pytorch:24.02-py3 \
         --build-arg LDAP_USERNAME=ada --build-arg LDAP_UID=123456 \
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
        ("BASE_IMAGE", "registry.local/base:12"),
    ];
    let out = xtask(&["image", "--dry-run"], &env);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let expected = format!(
        "{}docker build --platform linux/amd64 --build-arg BASE_IMAGE=registry.local/base:12 \
         --build-arg LDAP_USERNAME=bob --build-arg LDAP_UID=177000 \
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

/// What the tests build: a given pod-init and oh-my-zsh directory (no
/// dist build, no clone), another base, the host's network.
#[test]
fn a_given_pod_init_and_oh_my_zsh_replace_the_build_and_the_clone() {
    let args = [
        "image",
        "--dry-run",
        "--base-image=nb-sandbox-rootfs:1",
        "--pod-init=/t/pod-init",
        "--oh-my-zsh=/omz",
        "--network=host",
    ];
    let out = xtask(&args, &[]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let expected = format!(
        "use /t/pod-init as pod-init (checked to be static)\n{}\
         docker build --platform linux/amd64 --build-arg BASE_IMAGE=nb-sandbox-rootfs:1 \
         --build-arg LDAP_USERNAME=cluster --build-arg LDAP_UID=1000 --build-arg LDAP_GROUPNAME=MLO-unit \
         --build-arg LDAP_GID=83070 --build-arg SCRATCH_SEED_USER=mljaggi-admin --build-arg SCRATCH_SEED_UID=177449 \
         --network host --tag ic-registry.epfl.ch/mlo/mlo-base:uv1 /tmp/nb-target/image-context\n",
        stage_lines("/t/pod-init", "", "/omz")
    );
    assert_eq!(text(&out.stdout), expected);
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
