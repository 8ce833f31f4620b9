//! A clean room for running the real `submit` binary: a temp HOME and
//! TMPDIR, a project directory with the `.env`, a directory of test doubles
//! first on PATH, and nothing inherited from the developer's environment.
//!
//! It also counts processes (every call of the `runai` double is a line in
//! its log; `kubectl` can be wrapped by a counting script) and scans HOME
//! and TMPDIR for secret values afterwards.

// Test support: a failed setup step fails the test that asked for it.
#![allow(clippy::panic)]

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::fake_apiserver::FakeApiServer;

/// The real kubectl this machine has (the Google Cloud SDK dispatcher on the
/// dev machine, Debian's kubernetes-client in CI).
pub const REAL_KUBECTL: &str = "/usr/bin/kubectl";

/// One test's directories and settings.
#[derive(Debug)]
pub struct SubmitEnv {
    root: tempfile::TempDir,
    pub home: PathBuf,
    pub tmp: PathBuf,
    pub bin: PathBuf,
    pub project: PathBuf,
    pub env_file: PathBuf,
    pub runai_log: PathBuf,
    pub kubectl_log: PathBuf,
    path: Vec<PathBuf>,
    extra: Vec<(String, String)>,
}

/// What a run of `submit` produced.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code: {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl SubmitEnv {
    /// A room with `runai_double` installed as `runai` first on PATH.
    pub fn new(runai_double: &Path) -> Self {
        let root = tempfile::Builder::new().prefix("submit-test-").tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let dir = |name: &str| {
            let p = root.path().join(name);
            fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            p
        };
        let (home, tmp, bin, project) = (dir("home"), dir("tmp"), dir("bin"), dir("project"));
        std::os::unix::fs::symlink(runai_double, bin.join("runai")).unwrap_or_else(|e| panic!("symlink runai: {e}"));
        let env_file = project.join(".env");
        let runai_log = root.path().join("runai.jsonl");
        let kubectl_log = root.path().join("kubectl.calls");
        let path = vec![bin.clone(), PathBuf::from("/usr/bin"), PathBuf::from("/bin")];
        SubmitEnv { root, home, tmp, bin, project, env_file, runai_log, kubectl_log, path, extra: Vec::new() }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn write_env(&self, text: &str) -> &Self {
        fs::write(&self.env_file, text).unwrap_or_else(|e| panic!("write .env: {e}"));
        self
    }

    /// Replaces PATH (the doubles directory is not added).
    pub fn set_path(&mut self, dirs: Vec<PathBuf>) {
        self.path = dirs;
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra.push((key.to_owned(), value.to_owned()));
    }

    /// Writes an executable script into the doubles directory.
    pub fn install_script(&self, name: &str, body: &str) {
        let path = self.bin.join(name);
        fs::write(&path, body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap_or_else(|e| panic!("chmod: {e}"));
    }

    /// Puts a `kubectl` first on PATH that logs each call and runs the real
    /// one, so that tests can count kubectl processes.
    pub fn count_kubectl_calls(&self) {
        assert!(
            Path::new(REAL_KUBECTL).is_file(),
            "{REAL_KUBECTL} not found: install kubectl (Debian: apt-get install kubernetes-client; .ci/install-deps does it)"
        );
        self.install_script(
            "kubectl",
            &format!("#!/bin/sh\necho call >> '{}'\nexec {REAL_KUBECTL} \"$@\"\n", self.kubectl_log.display()),
        );
    }

    /// Points kubectl at `server` through a kubeconfig in HOME and a fresh
    /// discovery cache in TMPDIR.
    pub fn use_apiserver(&mut self, server: &FakeApiServer, namespace: &str) {
        let kube = self.home.join(".kube");
        fs::create_dir_all(&kube).unwrap_or_else(|e| panic!("{e}"));
        fs::write(kube.join("config"), server.kubeconfig(namespace)).unwrap_or_else(|e| panic!("{e}"));
        let config = kube.join("config").display().to_string();
        let cache = self.tmp.join("kube-cache").display().to_string();
        self.set_env("KUBECONFIG", &config);
        self.set_env("KUBECACHEDIR", &cache);
        self.set_env(crate::timeline_hook::APISERVER_VAR, &server.url());
    }

    /// `submit` with `args`, run from the project directory in a cleared
    /// environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::binaries::submit());
        let path: OsString = std::env::join_paths(&self.path).unwrap_or_else(|e| panic!("PATH: {e}"));
        cmd.args(args)
            .current_dir(&self.project)
            .env_clear()
            .env("HOME", &self.home)
            .env("TMPDIR", &self.tmp)
            .env("PATH", path)
            .env("TZ", "UTC")
            .env("RUNAI_DOUBLE_LOG", &self.runai_log);
        for (k, v) in &self.extra {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().unwrap_or_else(|e| panic!("running submit: {e}"));
        Run::from(output)
    }

    /// Every call the runai double recorded except the dialect probe
    /// (`runai workspace submit --help`, see [`SubmitEnv::runai_probes`]):
    /// `{"argv": [...], "cli": "v1", "accepted": bool}`.
    pub fn runai_calls(&self) -> Vec<serde_json::Value> {
        self.all_runai_calls().into_iter().filter(|c| !is_probe(c)).collect()
    }

    /// How many times `submit` probed the runai CLI for its dialect.
    pub fn runai_probes(&self) -> usize {
        self.all_runai_calls().iter().filter(|c| is_probe(c)).count()
    }

    fn all_runai_calls(&self) -> Vec<serde_json::Value> {
        fs::read_to_string(&self.runai_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("runai log line {l:?}: {e}")))
            .collect()
    }

    /// The argv of each runai call, as strings.
    pub fn runai_argvs(&self) -> Vec<Vec<String>> {
        self.runai_calls()
            .iter()
            .map(|c| {
                c["argv"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// How many times the counting `kubectl` ran.
    pub fn kubectl_calls(&self) -> usize {
        fs::read_to_string(&self.kubectl_log).unwrap_or_default().lines().count()
    }

    /// Files under HOME and TMPDIR that contain any of `values`, in plain
    /// text or base64.
    pub fn files_holding(&self, values: &[&str]) -> Vec<PathBuf> {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for v in values {
            needles.push(v.as_bytes().to_vec());
            needles.push(BASE64.encode(v).into_bytes());
        }
        let mut found = Vec::new();
        for dir in [&self.home, &self.tmp] {
            scan(dir, &needles, &mut found);
        }
        found
    }
}

/// What `submit` says when the v1 double answers its probe.
pub const V1_CHOICE: &str = "submit: run:ai CLI v1: RUNAI_CLI is not set (auto); \
`runai workspace submit --help` failed (exit status 1), so this runai is v1\n";

/// A one-GPU dry run on an h100 with CPU and memory requests: the job
/// shape the dry-run tests of both dialects start from.
pub const DEMO_JOB_ARGS: [&str; 11] =
    ["--dry-run", "-n", "demo-job", "-g", "1", "--cpus", "4", "--memory", "32G", "--node-type", "h100"];

/// The argv of the dialect probe.
pub const RUNAI_PROBE: [&str; 3] = ["workspace", "submit", "--help"];

fn is_probe(call: &serde_json::Value) -> bool {
    call["argv"].as_array().is_some_and(|a| a.iter().map(|v| v.as_str().unwrap_or_default()).eq(RUNAI_PROBE))
}

fn scan(dir: &Path, needles: &[Vec<u8>], found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else { continue };
        if meta.is_dir() {
            scan(&path, needles, found);
        } else if meta.is_file() {
            let content = fs::read(&path).unwrap_or_default();
            if needles.iter().any(|n| content.windows(n.len()).any(|w| w == n.as_slice())) {
                found.push(path);
            }
        }
    }
}

/// Processes whose environment holds `needle` (root can read every
/// `/proc/PID/environ`).
pub fn processes_with_env(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            found.push(format!("{}: {}", entry.file_name().to_string_lossy(), String::from_utf8_lossy(&cmdline)));
        }
    }
    found
}

/// What [`fixed_submission`] writes for a submission id.
pub const SUBMISSION: &str = "<submission>";

/// `text` with the value of every `NB_SUBMISSION=` replaced by
/// [`SUBMISSION`], so that a whole command line can be compared although
/// each submission gets a new id. Each replaced id must have the shape
/// submit gives it (`YYYYmmdd-HHMMSS-xxxxxx`, a DNS label); anything else
/// is left as it is, so the comparison fails and shows it.
pub fn fixed_submission(text: &str) -> String {
    const KEY: &str = "NB_SUBMISSION=";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let (before, after) = rest.split_at(at + KEY.len());
        out.push_str(before);
        let end =
            after.find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')).unwrap_or(after.len());
        let id = &after[..end];
        let shaped = id.len() == 22
            && id.bytes().enumerate().all(|(i, b)| match i {
                8 | 15 => b == b'-',
                0..=14 => b.is_ascii_digit(),
                _ => b.is_ascii_lowercase() || b.is_ascii_digit(),
            });
        out.push_str(if shaped { SUBMISSION } else { id });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}
