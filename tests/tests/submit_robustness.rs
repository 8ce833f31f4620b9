//! Hostile and broken input for `submit`, each with its defined outcome:
//! `.env` files from Windows editors, duplicate and invalid keys, values
//! that must survive byte for byte into the Secret, a Secret over the
//! Kubernetes size limit, and a kubectl that prints garbage. (A kubectl that
//! hangs is in submit_kubectl.rs.) The catalogue is docs/robustness.md.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use nb_tests::fake_apiserver::FakeApiServer;
use nb_tests::submit_harness::{SubmitEnv, V1_CHOICE};

const RUNAI_DOUBLE: &str = env!("CARGO_BIN_EXE_runai");

const BASE: &str = "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE=runai-mlo-ada\nRUNAI_IMAGE=reg.example/img:1\n\
RUNAI_SECRET_NAME=ada-env\nSCRATCH_PVC=mlo-scratch\n";

fn setup(env_text: &str) -> (SubmitEnv, FakeApiServer) {
    let server = FakeApiServer::start().unwrap();
    let mut env = SubmitEnv::new(Path::new(RUNAI_DOUBLE));
    env.use_apiserver(&server, "runai-mlo-ada");
    env.count_kubectl_calls();
    env.write_env(env_text);
    (env, server)
}

/// The Secret data of the only PATCH, decoded, as (key, value bytes).
fn secret_data(server: &FakeApiServer) -> Vec<(String, Vec<u8>)> {
    let patches = server.patches();
    assert_eq!(patches.len(), 1, "{:#?}", server.requests());
    let body: serde_json::Value = serde_json::from_slice(&patches[0].body).unwrap();
    body["data"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), BASE64.decode(v.as_str().unwrap()).unwrap()))
        .collect()
}

fn value_of(data: &[(String, Vec<u8>)], key: &str) -> String {
    let bytes = data.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    String::from_utf8(bytes.unwrap_or_else(|| panic!("{key} missing from the Secret"))).unwrap()
}

#[test]
fn awkward_values_reach_the_secret_byte_for_byte() {
    let text = format!(
        "{BASE}HF_TOKEN='abc#def \"quoted\" $NOT_EXPANDED \\n stays'\n\
         WANDB_API_KEY=\"x # not a comment\"\n\
         GIT_USER_NAME='Zoë Ångström 李 🚀'\n\
         SSH_KNOWN_HOSTS=\"github.com ssh-ed25519 AAAA1\ngitlab.com ssh-ed25519 AAAA2\"\n\
         GIT_USER_EMAIL=ada@example.org # trailing comment\n\
         EXTRA_SECRET_KEYS=PASSWORD\n\
         PASSWORD=\"it's a \"pass\" with \\\\ backslash\"\n"
    );
    let (env, server) = setup(&text);
    let run = env.run(&["--sync-secret-only"]);
    assert_eq!(run.code, Some(0), "{run}");
    let data = secret_data(&server);
    assert_eq!(value_of(&data, "HF_TOKEN"), "abc#def \"quoted\" $NOT_EXPANDED \\n stays");
    assert_eq!(value_of(&data, "WANDB_API_KEY"), "x # not a comment");
    assert_eq!(value_of(&data, "GIT_USER_NAME"), "Zoë Ångström 李 🚀");
    assert_eq!(value_of(&data, "SSH_KNOWN_HOSTS"), "github.com ssh-ed25519 AAAA1\ngitlab.com ssh-ed25519 AAAA2");
    assert_eq!(value_of(&data, "GIT_USER_EMAIL"), "ada@example.org");
    assert_eq!(value_of(&data, "PASSWORD"), "it's a \"pass\" with \\\\ backslash");
    let found = env.files_holding(&["Zoë Ångström", "x # not a comment", "it's a \"pass\""]);
    assert!(found.is_empty(), "{found:?}");
}

/// A `.env` written the way people write it for the wrapper: values with
/// spaces unquoted, spaces around `=`, comments after values, tokens with
/// `$` and `#`. The Secret kubectl sends holds exactly what the wrapper's
/// parser read from the same lines (a `#` in a quoted value or inside a word
/// kept, where the wrapper cut it), and nothing else.
#[test]
fn a_file_written_as_people_write_it_reaches_the_secret_exactly() {
    let text = "\
# ada's cluster settings
LDAP_USERNAME = ada
LDAP_UID=123456   # id -u
LDAP_GROUPNAME=MLO-unit
LDAP_GID = 83070
RUNAI_PROJECT=mlo-ada # TODO: done
K8S_NAMESPACE=runai-mlo-ada
RUNAI_IMAGE=reg.example/img:1
RUNAI_SECRET_NAME=ada-env
SCRATCH_PVC=mlo-scratch

  # secrets
WANDB_API_KEY= # TODO: optional
HF_TOKEN=hf_Ab$cD$$ef${X}z   # my token
GITHUB_TOKEN='ghp_$HOME$1'
GIT_USER_NAME=Jane van Doe
GIT_USER_EMAIL = jane@example.org   # work address
SSH_KNOWN_HOSTS=\"github.com ssh-ed25519 AAAA#1\"
EXTRA_SECRET_KEYS=DB_PASSWORD
DB_PASSWORD=pa#ss w$rd
";
    let (env, server) = setup(text);
    let run = env.run(&["--sync-secret-only"]);
    assert_eq!(run.code, Some(0), "{run}");
    let data: Vec<(String, String)> =
        secret_data(&server).into_iter().map(|(k, v)| (k, String::from_utf8(v).unwrap())).collect();
    let expected: Vec<(String, String)> = [
        ("DB_PASSWORD", "pa#ss w$rd"),
        ("EXTRA_SECRET_KEYS", "DB_PASSWORD"),
        ("GITHUB_TOKEN", "ghp_$HOME$1"),
        ("GIT_USER_EMAIL", "jane@example.org"),
        ("GIT_USER_NAME", "Jane van Doe"),
        ("HF_TOKEN", "hf_Ab$cD$$ef${X}z"),
        ("K8S_NAMESPACE", "runai-mlo-ada"),
        ("LDAP_GID", "83070"),
        ("LDAP_GROUPNAME", "MLO-unit"),
        ("LDAP_UID", "123456"),
        ("LDAP_USERNAME", "ada"),
        ("RUNAI_IMAGE", "reg.example/img:1"),
        ("RUNAI_PROJECT", "mlo-ada"),
        ("RUNAI_SECRET_NAME", "ada-env"),
        ("SCRATCH_PVC", "mlo-scratch"),
        ("SSH_KNOWN_HOSTS", "github.com ssh-ed25519 AAAA#1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(data, expected);
    let found = env.files_holding(&["hf_Ab$cD$$ef${X}z", "ghp_$HOME$1", "pa#ss w$rd"]);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn crlf_and_bom_files_sync_the_same_secret_as_unix_files() {
    let unix = format!("{BASE}HF_TOKEN=hf_one\nSSH_KNOWN_HOSTS=\"line1\nline2\"\n");
    let windows = format!("\u{feff}{}", unix.replace('\n', "\r\n"));
    let (env, server) = setup(&unix);
    assert_eq!(env.run(&["--sync-secret-only"]).code, Some(0));
    let expected = secret_data(&server);
    let (env, server) = setup(&windows);
    let run = env.run(&["--sync-secret-only"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(secret_data(&server), expected);
    assert_eq!(value_of(&expected, "SSH_KNOWN_HOSTS"), "line1\nline2");
}

/// Refusals that must happen before kubectl runs: exit 1, the message, no
/// kubectl process, no request to the server, no runai.
#[test]
fn bad_files_are_refused_before_kubectl_runs() {
    let long_key = format!("K{}", "X".repeat(253));
    let big = "x".repeat(1024 * 1024);
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "duplicate key",
            format!("{BASE}HF_TOKEN=a\nHF_TOKEN=b\n").into_bytes(),
            "submit: .env:11: HF_TOKEN is already set on line 10; keep only one\n".into(),
        ),
        (
            "key kubectl rejects: too long",
            format!("{BASE}{long_key}=v\n").into_bytes(),
            format!(
                "submit: .env:10: {long_key} cannot be a Kubernetes Secret key: use at most 253 letters, digits, '-', '_' or '.'\n"
            ),
        ),
        (
            "key with a space",
            format!("{BASE}MY TOKEN=v\n").into_bytes(),
            "submit: .env:10: MY TOKEN cannot be a Kubernetes Secret key: use at most 253 letters, digits, '-', '_' or '.'\n"
                .into(),
        ),
        (
            "key with non-ASCII letters",
            format!("{BASE}TÖKEN=v\n").into_bytes(),
            "submit: .env:10: TÖKEN cannot be a Kubernetes Secret key: use at most 253 letters, digits, '-', '_' or '.'\n"
                .into(),
        ),
        (
            "line without =",
            format!("{BASE}HF_TOKEN hf_x\n").into_bytes(),
            "submit: .env:10: cannot parse this line; write KEY=value, or start a comment with #\n".into(),
        ),
        (
            "unclosed quote",
            format!("{BASE}HF_TOKEN=\"abc\nmore text\n").into_bytes(),
            "submit: .env:10: the quoted value of HF_TOKEN is never closed; end it with \"\n".into(),
        ),
        (
            "unclosed quote before the next key",
            format!("{BASE}HF_TOKEN=\"abc\nWANDB_API_KEY=\"x\"\n").into_bytes(),
            "submit: .env:10: the quoted value of HF_TOKEN is not closed before line 11, which sets WANDB_API_KEY; \
             end it with \"\n"
                .into(),
        ),
        (
            "text after the closing quote",
            format!("{BASE}GIT_USER_NAME='Ada' Lovelace\n").into_bytes(),
            "submit: .env:10: GIT_USER_NAME has text after its closing '; quote the whole value, or put # before a comment\n"
                .into(),
        ),
        (
            "NUL byte in a value",
            [BASE.as_bytes(), b"HF_TOKEN=a\0b\n"].concat(),
            "submit: .env:10: HF_TOKEN must not contain a NUL character\n".into(),
        ),
        ("not UTF-8", [BASE.as_bytes(), b"HF_TOKEN=\xff\xfe\n"].concat(), "submit: .env: not UTF-8 text\n".into()),
        (
            "over the 1 MiB Secret limit",
            format!("{BASE}HF_TOKEN={big}\n").into_bytes(),
            "submit: the Secret would hold 1048653 bytes, over the 1048576 bytes (1 MiB) Kubernetes allows; \
             largest value: HF_TOKEN; nothing was sent\n"
                .into(),
        ),
    ];
    for (what, bytes, message) in cases {
        let (env, server) = setup("");
        std::fs::write(&env.env_file, &bytes).unwrap();
        let run = env.run(&["-n", "job"]);
        assert_eq!(run.code, Some(1), "{what}: {run}");
        assert_eq!(run.stderr, message, "{what}: {run}");
        assert_eq!(env.kubectl_calls(), 0, "{what}: kubectl ran");
        assert!(server.requests().is_empty(), "{what}: the server was contacted");
        assert!(env.runai_calls().is_empty(), "{what}: runai ran");
    }
}

#[test]
fn garbage_from_a_failing_kubectl_is_shown_escaped() {
    let env = SubmitEnv::new(Path::new(RUNAI_DOUBLE));
    env.write_env(&format!("{BASE}HF_TOKEN=hf_secret_value\n"));
    // ESC sequences that would clear the screen, invalid UTF-8, and the
    // token itself, on stderr; then a failure.
    env.install_script(
        "kubectl",
        "#!/bin/sh\ncat >/dev/null\nprintf '\\033[2J\\033[31mboom\\377\\376 hf_secret_value\\n' >&2\nexit 7\n",
    );
    let run = env.run(&["-n", "job", "--no-preflight"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        run.stderr,
        format!(
            "{V1_CHOICE}submit: kubectl could not apply the Secret ada-env in namespace runai-mlo-ada (exit status 7); \
             nothing was submitted:\n\\u{{1b}}[2J\\u{{1b}}[31mboom\u{fffd}\u{fffd} <redacted>\n"
        )
    );
    assert!(env.runai_calls().is_empty());
}

#[test]
fn garbage_on_stdout_of_a_succeeding_kubectl_is_ignored() {
    let env = SubmitEnv::new(Path::new(RUNAI_DOUBLE));
    env.write_env(&format!("{BASE}HF_TOKEN=hf_secret_value\n"));
    env.install_script("kubectl", "#!/bin/sh\ncat >/dev/null\nhead -c 200000 /dev/urandom\nexit 0\n");
    let run = env.run(&["-n", "job", "--no-preflight"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains("submit: synced the Secret ada-env in namespace runai-mlo-ada (10 keys)"), "{run}");
    assert_eq!(env.runai_calls().len(), 1);
}

#[test]
fn extra_secret_key_without_a_value_is_warned_about() {
    let env = SubmitEnv::new(Path::new(RUNAI_DOUBLE));
    env.write_env(&format!("{BASE}EXTRA_SECRET_KEYS=OPENAI_API_KEY\n"));
    let run = env.run(&["--dry-run", "-n", "job"]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stderr.starts_with(
            "submit: warning: EXTRA_SECRET_KEYS lists OPENAI_API_KEY, but .env gives it no value; the pod will not get it\n"
        ),
        "{run}"
    );
    assert!(!run.stdout.contains("OPENAI_API_KEY"), "{run}");
}
