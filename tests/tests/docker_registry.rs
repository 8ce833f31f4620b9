//! Publishing the image: `cargo xtask image --push` to a real registry
//! (Debian's docker-registry on 127.0.0.1), checked through the registry's
//! own HTTP API, then removed from the engine, pulled back by its reference
//! and started as run:ai starts a pod (its entrypoint answers
//! `--help` there too). And the two ways a push
//! fails for an admin: no registry there, a registry name that is wrong.
//!
//! Needs root, Debian's docker.io and docker-registry (`.ci/install-deps`).
//! Shares the image tests' engine and build cache: the image is the one
//! they test, only tagged for the registry. Timings are printed
//! (`-- --nocapture`).

// Helpers outside #[test] functions fail the test by panicking, like asserts.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]
#![allow(clippy::disallowed_methods, reason = "hashes the manifest with the real sha256sum")]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use nb_tests::docker::{self, MANIFEST_V2, PodSpec, Registry, SCRATCH, SquashedScratch};
use nb_tests::researcher::{self, UID, USER};
use nb_tests::sandbox::{Error, LAB_GID, Output};

type Result = std::result::Result<(), Error>;

const REPOSITORY: &str = "nb-tests/published";

/// `cargo xtask image ... --push` of `reference` on the tests' engine.
fn push(reference: &str) -> std::result::Result<Output, Error> {
    // One at a time: every xtask image stages its context in the same
    // directory.
    static ONE_BUILD: Mutex<()> = Mutex::new(());
    let _turn = ONE_BUILD.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let daemon = docker::daemon()?;
    let mut cmd = docker::xtask_image(daemon, reference)?;
    cmd.arg("--push");
    let out = cmd.output().expect("run xtask");
    Ok(Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// `sha256:<hex>` of `bytes`, by coreutils.
fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    format!("sha256:{}", String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default())
}

/// The one `xtask:` line of a failed run: it must be the last line, and
/// the only one.
fn the_error_line(out: &Output) -> String {
    assert_ne!(out.status, 0, "the push succeeded:\n{}", out.stderr);
    let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("xtask:")).collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert_eq!(out.stderr.lines().last(), Some(errors[0]), "{}", out.stderr);
    eprintln!("{}", errors[0]);
    errors[0].to_owned()
}

#[test]
fn a_pushed_image_is_in_the_registry_and_pulled_back_it_starts_as_runai_starts_it() -> Result {
    let daemon = docker::daemon()?;
    // Plain HTTP to the registry: dockerd's default insecure range, not a
    // setting of the tests' engine.
    let insecure = daemon.check(["info", "--format", "{{json .RegistryConfig.InsecureRegistryCIDRs}}"])?;
    assert!(insecure.contains("\"127.0.0.0/8\""), "the engine would want TLS from 127.0.0.1: {insecure}");
    let registry = Registry::start()?;
    let listening = registry.listening_on();
    assert_eq!(listening, ["127.0.0.1"], "the registry listens on {listening:?}");

    let reference = format!("{}/{REPOSITORY}:v1", registry.host());
    let started = Instant::now();
    let out = push(&reference)?;
    let pushed_in = started.elapsed();
    out.assert_success();

    // What xtask says it pushed.
    let said = out.stderr.lines().find_map(|l| l.strip_prefix(&format!("image: pushed {reference} (digest ")));
    let digest = said.and_then(|rest| rest.strip_suffix(')')).unwrap_or_else(|| panic!("{}", out.stderr)).to_owned();
    assert!(digest.starts_with("sha256:") && digest.len() == 71, "{digest}");
    let pinned = format!("{}/{REPOSITORY}@{digest}", registry.host());
    assert!(
        out.stderr.contains(&format!("RUNAI_IMAGE={reference} in your .env, or pinned: RUNAI_IMAGE={pinned}\n")),
        "{}",
        out.stderr
    );

    // What the registry holds: the tag, and under it a manifest whose
    // digest is the one xtask printed.
    assert_eq!(registry.tags(REPOSITORY)?, ["v1"]);
    let head = registry.manifest("HEAD", REPOSITORY, "v1")?;
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("Docker-Content-Digest"), Some(digest.as_str()));
    assert_eq!(head.header("Content-Type"), Some(MANIFEST_V2));
    let manifest = registry.manifest("GET", REPOSITORY, &digest)?;
    assert_eq!(manifest.status, 200, "{manifest:?}");
    assert_eq!(sha256(&manifest.body), digest, "the manifest's bytes are not the digest");
    let parsed: serde_json::Value = serde_json::from_slice(&manifest.body).expect("the manifest is JSON");
    assert_eq!(parsed["mediaType"], MANIFEST_V2);
    let layers = parsed["layers"].as_array().cloned().unwrap_or_default();
    assert!(!layers.is_empty(), "{parsed}");
    // Every blob the manifest names is there, at its size: what a node
    // that has none of the image pulls.
    for blob in layers.iter().chain([&parsed["config"]]) {
        let (digest, size) = (blob["digest"].as_str().unwrap_or_default(), blob["size"].as_u64().unwrap_or_default());
        let head = registry.head(&format!("/v2/{REPOSITORY}/blobs/{digest}"), "*/*")?;
        assert_eq!((head.status, head.header("Content-Length")), (200, Some(size.to_string().as_str())), "{digest}");
    }

    // Gone from the engine, then pulled back by its reference.
    daemon.check(["image", "rm", &reference])?;
    assert_ne!(daemon.run(["image", "inspect", &reference])?.status, 0, "{reference} is still on the engine");
    let before = registry.requests().len();
    let started = Instant::now();
    daemon.check(["pull", "--quiet", &reference])?;
    let pulled_in = started.elapsed();
    let asked: Vec<String> = registry.requests().split_off(before);
    let resolved =
        [format!("HEAD /v2/{REPOSITORY}/manifests/v1 200"), format!("GET /v2/{REPOSITORY}/manifests/v1 200")];
    assert!(asked.iter().any(|r| resolved.contains(r)), "the pull did not ask the registry for v1: {asked:?}");
    // Layers the engine still has (the image tests' image shares them all)
    // are not fetched again; a node without them gets them from here.
    let blobs = asked.iter().filter(|r| r.starts_with(&format!("GET /v2/{REPOSITORY}/blobs/"))).count();
    let digests =
        daemon.check(["image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", &reference])?;
    assert!(digests.lines().any(|l| l == pinned), "pulled {digests}, pushed {pinned}");
    eprintln!(
        "registry: up in {:.1?}; xtask image --push {pushed_in:.1?} (build cached); pull {pulled_in:.1?} \
         ({blobs} blob(s) fetched of {})",
        registry.started_in,
        layers.len() + 1
    );

    // Started as run:ai starts a pod: the researcher's uid and the lab gid,
    // submit's variables, scratch squashed.
    let scratch = SquashedScratch::new()?;
    let pod = PodSpec::sh("id -un; id -u; id -g; getent passwd ada | cut -d: -f1,3,4,6")
        .user(UID, LAB_GID)
        .volume(scratch.volume())
        .envs(researcher::account_vars(SCRATCH, UID, LAB_GID))
        .run_image(&reference)?;
    pod.assert_success();
    assert_eq!(
        pod.stdout,
        format!("{USER}\n{UID}\n{LAB_GID}\n{USER}:{UID}:{LAB_GID}:/home/{USER}\n"),
        "{}",
        pod.stderr
    );

    // What an admin types first: the entrypoint answers, as that user.
    let help = PodSpec::new(["--help"])
        .user(UID, LAB_GID)
        .envs(researcher::account_vars(SCRATCH, UID, LAB_GID))
        .run_image(&reference)?;
    help.assert_success();
    assert!(help.stdout.contains("\nUsage: pod-init [--] COMMAND [ARG...]\n"), "{}", help.stdout);
    assert_eq!(help.stderr, "", "pod-init logged while answering --help");
    Ok(())
}

/// A port of 127.0.0.1 that refuses connections and that no other test
/// can take meanwhile: bound, never listened on (the kernel refuses a
/// connection to a port that nobody listens on), held until dropped.
fn a_port_nobody_listens_on() -> std::result::Result<(std::os::fd::OwnedFd, u16), Error> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, bind, getsockname, socket};
    use std::os::fd::AsRawFd;
    let fail = |e: nix::Error| Error::from(std::io::Error::other(format!("cannot bind a port of 127.0.0.1: {e}")));
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(fail)?;
    bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0)).map_err(fail)?;
    let port = getsockname::<SockaddrIn>(fd.as_raw_fd()).map_err(fail)?.port();
    Ok((fd, port))
}

#[test]
fn a_push_to_a_registry_that_is_down_is_one_line_with_the_engines_words() -> Result {
    let (_held, port) = a_port_nobody_listens_on()?;
    let host = format!("127.0.0.1:{port}");
    let reference = format!("{host}/{REPOSITORY}:down");
    let out = push(&reference)?;
    let line = the_error_line(&out);
    assert!(line.starts_with(&format!("xtask: cannot push {reference} to {host}: ")), "{line}");
    assert!(line.ends_with("connect: connection refused"), "{line}");
    Ok(())
}

/// A free port can be taken between the probe and the registry's bind
/// (another test probing at the same moment): the harness then starts the
/// registry again on another port and keeps what the first one logged.
#[test]
fn a_registry_whose_port_is_taken_starts_again_on_another_port() -> Result {
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let taken_port = taken.local_addr()?.port();
    let mut ports = [Ok(taken_port)].into_iter();
    let registry = Registry::start_on(|| ports.next().unwrap_or_else(docker::free_port))?;
    assert_ne!(registry.port(), taken_port);
    assert_eq!(registry.get("/v2/", "application/json")?.status, 200);
    let [first] = registry.failed_attempts.as_slice() else {
        panic!("expected one failed attempt, got {:?}", registry.failed_attempts)
    };
    assert!(first.starts_with(&format!("attempt 1: no answer on 127.0.0.1:{taken_port} ")), "{first}");
    assert!(first.contains("address already in use"), "{first}");
    Ok(())
}

#[test]
fn a_push_to_a_wrong_registry_name_is_one_line_with_the_engines_words() -> Result {
    // `.invalid` never resolves (RFC 2606).
    let reference = format!("registry.nb-tests.invalid:5000/{REPOSITORY}:wrong");
    let out = push(&reference)?;
    let line = the_error_line(&out);
    assert!(line.starts_with(&format!("xtask: cannot push {reference} to registry.nb-tests.invalid:5000: ")), "{line}");
    assert!(line.contains("registry.nb-tests.invalid"), "{line}");
    Ok(())
}
