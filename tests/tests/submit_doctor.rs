//! `submit doctor` and `submit init` as a new user meets them: the real
//! kubectl against the fake API server, the runai doubles, one test per
//! check that passes and per failure it must name. Every test also checks
//! that no secret value of the `.env` appears in what doctor prints, and
//! that doctor changes nothing on the cluster.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use nb_tests::fake_apiserver::{FakeApiServer, PodState};
use nb_tests::submit_harness::{Run, SubmitEnv};

const V1: &str = env!("CARGO_BIN_EXE_runai");
const V2_219: &str = env!("CARGO_BIN_EXE_runai-v2-219");
const NAMESPACE: &str = "runai-mlo-ada";

const SECRETS: [&str; 2] = ["hf_doctor_secret_value", "wandb-doctor-secret-value"];

const ENV: &str = "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE=runai-mlo-ada\nRUNAI_IMAGE=reg.example/img:1\n\
RUNAI_SECRET_NAME=ada-env\nSCRATCH_PVC=mlo-scratch\nRUNAI_CLI=auto\n\
HF_TOKEN=hf_doctor_secret_value\nWANDB_API_KEY=wandb-doctor-secret-value\n";

/// A room whose cluster has the scratch claim, two jobs, the Secret synced
/// from the `.env`, and a GitHub key pair in `~/.ssh`.
fn healthy(runai: &str) -> (SubmitEnv, FakeApiServer) {
    let server = FakeApiServer::start().unwrap();
    server.add_pvc(NAMESPACE, "mlo-scratch");
    server.add_pvc(NAMESPACE, "home-ada");
    server.set_pod(NAMESPACE, "old-job-0-0", "reg.example/img:1", &PodState::Running);
    server.set_pod(NAMESPACE, "dist-master-0", "reg.example/img:1", &PodState::Pulling);
    server.set_pod(NAMESPACE, "dist-worker-0", "reg.example/img:1", &PodState::Pulling);
    let mut env = SubmitEnv::new(Path::new(runai));
    env.use_apiserver(&server, NAMESPACE);
    env.write_env(ENV);
    github_key(&env);
    let sync = env.run(&["--sync-secret-only"]);
    assert_eq!(sync.code, Some(0), "{sync}");
    env.count_kubectl_calls();
    (env, server)
}

fn github_key(env: &SubmitEnv) -> PathBuf {
    let (private, public) = nb_tests::keys::ed25519_pair().unwrap();
    let ssh = env.home.join(".ssh");
    fs::create_dir_all(&ssh).unwrap();
    let key = ssh.join("github");
    fs::write(&key, private).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    fs::write(ssh.join("github.pub"), format!("{public}\n")).unwrap();
    key
}

/// `submit doctor`, checked for what must hold whatever it finds.
fn doctor(env: &SubmitEnv, server: Option<&FakeApiServer>) -> Run {
    let patches_before = server.map(|s| s.patches().len());
    let run = env.run(&["doctor"]);
    let printed = format!("{}{}", run.stdout, run.stderr);
    for value in SECRETS.iter().chain(&["hf_new_value_of_the_token", "wandb-new-value-of-the-key"]) {
        assert!(!printed.contains(value), "a secret value was printed:\n{run}");
    }
    assert_eq!(server.map(|s| s.patches().len()), patches_before, "doctor changed the cluster");
    run
}

/// The line of check `name`, without its fixes.
fn line<'a>(run: &'a Run, name: &str) -> &'a str {
    let prefix_len = "FAIL  ".len();
    run.stdout
        .lines()
        .find(|l| l.len() > prefix_len && l[prefix_len..].starts_with(&format!("{name:<12} ")))
        .unwrap_or_else(|| panic!("no line for {name}:\n{run}"))
}

/// The check's line and the fixes below it.
fn block(run: &Run, name: &str) -> String {
    let first = line(run, name);
    let mut out = vec![first];
    let after = run.stdout.lines().skip_while(|l| *l != first).skip(1);
    out.extend(after.take_while(|l| l.starts_with("      ")));
    out.join("\n")
}

#[test]
fn all_well_names_each_check_and_exits_0() {
    let (env, server) = healthy(V1);
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(0), "{run}");
    for name in ["kubectl", "runai", ".env", "kubeconfig", "server", "login", "namespace", "scratch PVC", "Secret"] {
        assert!(line(&run, name).starts_with("ok    "), "{name}:\n{run}");
    }
    assert!(line(&run, "GitHub key").starts_with("ok    "), "{run}");
    assert!(line(&run, "GitHub key").ends_with("a matching pair"), "{run}");
    assert!(line(&run, "runai").contains("speaks v1"), "{run}");
    assert!(line(&run, "scratch PVC").ends_with("mlo-scratch in runai-mlo-ada, Bound"), "{run}");
    assert!(line(&run, "Secret").contains("ada-env is in sync ("), "{run}");
    assert!(line(&run, "kubeconfig").contains(&format!("server {}", server.url())), "{run}");
    assert!(line(&run, "jobs").ends_with("2 (1 Pending, 1 Running; 3 pods)"), "{run}");
    assert!(run.stdout.ends_with("all 11 checks passed (0 warnings)\n"), "{run}");
    // One version of kubectl itself, then the three the cluster checks cost.
    assert_eq!(env.kubectl_calls(), 4, "{run}");

    let json = env.run(&["doctor", "--json"]);
    assert_eq!(json.code, Some(0), "{json}");
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["ok"], true);
    assert_eq!(value["checks"].as_array().unwrap().len(), 11);
    assert!(!SECRETS.iter().any(|s| json.stdout.contains(s)));
}

#[test]
fn a_secret_out_of_date_is_named_by_key_only() {
    let (env, server) = healthy(V1);
    env.write_env(
        &ENV.replace("hf_doctor_secret_value", "hf_new_value_of_the_token")
            .replace("wandb-doctor-secret-value", "wandb-new-value-of-the-key"),
    );
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        block(&run, "Secret"),
        "FAIL  Secret       ada-env is out of date: HF_TOKEN, WANDB_API_KEY\n\
         \x20                  fix: submit --sync-secret-only"
    );
}

#[test]
fn keys_only_in_the_secret_are_a_warning() {
    let (env, server) = healthy(V1);
    env.write_env(&ENV.replace("WANDB_API_KEY=wandb-doctor-secret-value\n", ""));
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(
        block(&run, "Secret"),
        "warn  Secret       ada-env is in sync, and also holds keys the .env does not: WANDB_API_KEY\n\
         \x20                  fix: submit --sync-secret-only removes them"
    );
}

#[test]
fn a_key_one_edit_from_a_secret_key_is_a_warning() {
    let (env, server) = healthy(V1);
    env.write_env(&ENV.replace("WANDB_API_KEY=", "WANDB_APIKEY="));
    let run = doctor(&env, Some(&server));
    assert!(line(&run, ".env").starts_with("warn  .env "), "{run}");
    assert!(
        block(&run, ".env")
            .ends_with("fix: rename WANDB_APIKEY to WANDB_API_KEY (or list WANDB_APIKEY in EXTRA_SECRET_KEYS)"),
        "{run}"
    );
}

#[test]
fn a_missing_secret_says_how_to_create_it() {
    let (env, server) = healthy(V1);
    env.write_env(&ENV.replace("RUNAI_SECRET_NAME=ada-env", "RUNAI_SECRET_NAME=ada-env-2"));
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        block(&run, "Secret"),
        "FAIL  Secret       ada-env-2 does not exist in runai-mlo-ada\n\
         \x20                  fix: submit --sync-secret-only"
    );
}

#[test]
fn a_scratch_pvc_that_does_not_exist_is_named_with_the_claims_there() {
    let (env, server) = healthy(V1);
    env.write_env(&ENV.replace("SCRATCH_PVC=mlo-scratch", "SCRATCH_PVC=mlo-scracth"));
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        block(&run, "scratch PVC"),
        "FAIL  scratch PVC  mlo-scracth does not exist in runai-mlo-ada (the claims there: home-ada, mlo-scratch)\n\
         \x20                  fix: fix SCRATCH_PVC at .env:9"
    );
}

#[test]
fn a_server_that_cannot_be_reached_is_named_and_the_rest_is_skipped() {
    let (env, server) = healthy(V1);
    let address = server.url().trim_start_matches("http://").to_owned();
    drop(server);
    let run = doctor(&env, None);
    assert_eq!(run.code, Some(1), "{run}");
    let server_line = block(&run, "server");
    assert!(server_line.starts_with(&format!("FAIL  server       cannot reach {address} (kubectl said: ")), "{run}");
    assert!(
        server_line.ends_with("fix: check your VPN or network, and that KUBECONFIG points at the right cluster"),
        "{run}"
    );
    assert!(!run.stdout.contains("memcache.go"), "{run}");
    for name in ["login", "namespace", "scratch PVC", "Secret", "jobs"] {
        assert_eq!(line(&run, name), format!("skip  {name:<12} not checked: the server cannot be reached"), "{run}");
    }
    assert!(line(&run, ".env").starts_with("ok    "), "{run}");
}

#[test]
fn a_refused_login_says_run_runai_login() {
    let (env, server) = healthy(V1);
    server.refuse_login();
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    assert!(line(&run, "server").starts_with("ok    "), "{run}");
    let login = block(&run, "login");
    assert!(login.starts_with(&format!("FAIL  login        refused by {} (kubectl said: ", server.url())), "{run}");
    assert!(login.ends_with("fix: run `runai login`"), "{run}");
    assert_eq!(line(&run, "Secret"), "skip  Secret       not checked: the login was refused", "{run}");
}

#[test]
fn a_forbidden_namespace_names_the_namespace_and_the_context() {
    let (env, server) = healthy(V1);
    server.forbid_namespace(NAMESPACE);
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    assert!(line(&run, "login").starts_with("ok    "), "{run}");
    assert!(
        line(&run, "namespace")
            .starts_with("FAIL  namespace    forbidden in namespace runai-mlo-ada (kubectl context fake): "),
        "{run}"
    );
}

#[test]
fn placeholders_left_in_the_env_are_all_named_in_one_run() {
    let (env, server) = healthy(V1);
    env.write_env(
        &ENV.replace("LDAP_UID=123456", "LDAP_UID=00000")
            .replace("RUNAI_IMAGE=reg.example/img:1", "RUNAI_IMAGE=<registry>/img:1"),
    );
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    let path = ".env";
    assert_eq!(
        block(&run, ".env"),
        format!(
            "FAIL  .env         {path}: 2 problems, each to fix at its line:\n\
             \x20                  fix: {path}:2: fill in LDAP_UID: it still holds the template placeholder \"00000\"\n\
             \x20                  fix: {path}:7: fill in RUNAI_IMAGE: it still holds the template placeholder \"<registry>\""
        )
    );
}

#[test]
fn no_runai_on_path_says_where_to_get_it() {
    let (mut env, server) = healthy(V1);
    env.set_path(vec![PathBuf::from("/usr/bin"), PathBuf::from("/bin")]);
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    let runai = block(&run, "runai");
    assert!(runai.starts_with("FAIL  runai        not found on PATH\n"), "{run}");
    assert!(runai.contains("fix: install the run:ai CLI: download it from your cluster's run:ai web UI"), "{run}");
    assert!(line(&run, "Secret").starts_with("ok    "), "{run}");
}

#[test]
fn a_2_19_runai_cannot_reference_secrets_and_says_the_way_out() {
    let (env, server) = healthy(V2_219);
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    let runai = block(&run, "runai");
    assert!(runai.contains("speaks v2 (2.19-era flags): it has no --env-secret, so it cannot give the pod"), "{run}");
    assert!(runai.contains("fix: set RUNAI_CLI=v1 in the .env"), "{run}");
}

#[test]
fn a_group_readable_github_key_fails_with_the_chmod() {
    let (env, server) = healthy(V1);
    let key = env.home.join(".ssh/github");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    let run = doctor(&env, Some(&server));
    assert_eq!(run.code, Some(1), "{run}");
    assert_eq!(
        block(&run, "GitHub key"),
        format!(
            "FAIL  GitHub key   {} can be read by others (mode 0644)\n\
             \x20                  fix: chmod 600 {}",
            key.display(),
            key.display()
        )
    );
}

#[test]
fn no_github_key_is_a_warning_only() {
    let (env, server) = healthy(V1);
    fs::remove_dir_all(env.home.join(".ssh")).unwrap();
    // The Secret was synced with the key; without it the Secret has more keys.
    let run = doctor(&env, Some(&server));
    assert!(line(&run, "GitHub key").starts_with("warn  GitHub key   no key at "), "{run}");
    assert!(line(&run, "GitHub key").ends_with("the pod gets no GitHub key"), "{run}");
}

#[test]
fn init_writes_the_template_once_and_names_the_lines_to_fill() {
    let env = SubmitEnv::new(Path::new(V1));
    let run = env.run(&["init"]);
    assert_eq!(run.code, Some(0), "{run}");
    let written = fs::read_to_string(&env.env_file).unwrap();
    let shipped = fs::read_to_string(nb_tests::binaries::workspace_root().join("examples/user.env.example")).unwrap();
    assert_eq!(written, shipped);
    assert_eq!(fs::metadata(&env.env_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(
        run.stdout.starts_with("wrote the template to .env; fill in these lines:\n  .env:16: LDAP_USERNAME\n"),
        "{run}"
    );
    assert!(run.stdout.contains("  .env:34: SCRATCH_PVC\n"), "{run}");

    env.write_env("HF_TOKEN=mine\n");
    let again = env.run(&["init"]);
    assert_eq!(again.code, Some(1), "{again}");
    assert!(again.stderr.starts_with("submit: .env already exists; nothing was written"), "{again}");
    assert_eq!(fs::read_to_string(&env.env_file).unwrap(), "HF_TOKEN=mine\n");

    // Doctor on the fresh template names every placeholder at once.
    env.write_env(&shipped);
    let run = env.run(&["doctor"]);
    assert_eq!(run.code, Some(1), "{run}");
    assert!(line(&run, ".env").ends_with(".env: 9 problems, each to fix at its line:"), "{run}");
}

#[test]
fn subcommands_have_help_and_completions_and_do_not_mix_with_submission_flags() {
    let env = SubmitEnv::new(Path::new(V1));
    let help = env.run(&["--help"]);
    assert!(help.stdout.contains("  doctor  ") && help.stdout.contains("  init  "), "{help}");
    let help = env.run(&["doctor", "--help"]);
    assert_eq!(help.code, Some(0), "{help}");
    assert!(help.stdout.contains("--env-file <PATH>") && help.stdout.contains("--json"), "{help}");
    let completions = env.run(&["--completions", "bash"]);
    assert!(completions.stdout.contains("doctor") && completions.stdout.contains("init"), "{completions}");
    let mixed = env.run(&["--dry", "doctor"]);
    assert_eq!(mixed.code, Some(1), "{mixed}");
    assert!(mixed.stderr.contains("the subcommand 'doctor' cannot be used with '--dry'"), "{mixed}");
}
