//! From the command line and the `.env` to a validated job: every rule that
//! needs both, every default, and every check that must fail on the laptop
//! rather than in the cluster.
//!
//! Errors name the flag or the key (with file and line) and say what is
//! wrong; they quote values only for settings that are not secrets.

pub mod config;
pub mod duration;
pub mod env_check;
pub mod environment;
pub mod fallbacks;
pub mod github_key;
pub mod keys;
mod lookup;
pub mod pod_command;
mod quantity;
pub mod request;
pub mod secret;
pub mod spec;

use anyhow::{Context as _, Result, anyhow, bail};
use common::env::EnvVars;
use common::job_kind::JobKind;
use common::validate;

use common::pod_env::JobRun;

use crate::clock;
use crate::runai::probe::Preference;
use config::EnvFile;
use environment::{extra_variables, pod_secret_keys, pod_variables};
use lookup::{at, check_key, flag_or_key, given, required};
use pod_command::PodScript;
use quantity::{memory_quantity, quantity_number};
use request::{Request, SweepMember};
use spec::{JobSpec, Mode, Stop};

/// Where the Secret goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretTarget {
    pub name: String,
    pub namespace: String,
}

/// The Secret's name and namespace.
pub fn secret_target(req: &Request, env: &EnvFile) -> Result<SecretTarget> {
    let name = flag_or_key(req.secret_name.as_deref(), "--secret-name", env, keys::RUNAI_SECRET_NAME)?;
    if !validate::is_dns1123_subdomain(name) {
        let given = given(req.secret_name.as_deref(), "--secret-name", env, keys::RUNAI_SECRET_NAME, name);
        bail!("{given} is not a valid Secret name: use lower-case letters, digits, '-' and '.'");
    }
    Ok(SecretTarget { name: name.to_owned(), namespace: namespace(env)? })
}

/// The namespace: `K8S_NAMESPACE`, else `RUNAI_PROJECT`.
pub fn namespace(env: &EnvFile) -> Result<String> {
    let (ns_key, namespace) = match env.get(keys::K8S_NAMESPACE) {
        Some(ns) => (keys::K8S_NAMESPACE, ns),
        None => (
            keys::RUNAI_PROJECT,
            env.get(keys::RUNAI_PROJECT)
                .ok_or_else(|| anyhow!("{}: set K8S_NAMESPACE or RUNAI_PROJECT", env.path().display()))?,
        ),
    };
    if !validate::is_dns1123_label(namespace) {
        bail!(
            "{}{ns_key}={namespace:?} is not a valid namespace: use at most 63 lower-case letters, digits and '-'",
            at(env, ns_key)
        );
    }
    Ok(namespace.to_owned())
}

/// The default job name: `<user>-<timestamp>`, made into a DNS-1035 label
/// (lower case; characters runai refuses become `-`; at most 63).
pub fn default_job_name(user: &str, timestamp: &str) -> String {
    let prefix = as_job_name(user, validate::MAX_JOB_NAME_LEN - timestamp.len() - 1);
    let prefix = if prefix.is_empty() { "job" } else { prefix.as_str() };
    format!("{prefix}-{timestamp}")
}

/// `text` made into a DNS-1035 label of at most `room` characters: lower
/// case, characters runai refuses become `-`, from its first letter on,
/// without a trailing `-`; empty if it has no letter.
fn as_job_name(text: &str, room: usize) -> String {
    let mut name: String = text
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() { c } else { '-' })
        .skip_while(|c| !c.is_ascii_lowercase())
        .collect();
    name.truncate(room);
    name.trim_end_matches('-').to_owned()
}

/// Who the pod runs as.
struct Identity<'a> {
    user: &'a str,
    group: &'a str,
    uid: u32,
    gid: u32,
}

fn identity<'a>(req: &Request, env: &'a EnvFile) -> Result<Identity<'a>> {
    let user = required(env, keys::LDAP_USERNAME)?;
    check_key(env, keys::LDAP_USERNAME, user, validate::account_name)?;
    let group = required(env, keys::LDAP_GROUPNAME)?;
    check_key(env, keys::LDAP_GROUPNAME, group, validate::account_name)?;
    let uid = match &req.uid {
        Some(v) => validate::non_root_id("--uid", v)?,
        None => check_key(env, keys::LDAP_UID, required(env, keys::LDAP_UID)?, validate::non_root_id)?,
    };
    let gid = match &req.gid {
        Some(v) => validate::non_root_id("--gid", v)?,
        None => check_key(env, keys::LDAP_GID, required(env, keys::LDAP_GID)?, validate::non_root_id)?,
    };
    Ok(Identity { user, group, uid, gid })
}

/// `--name`, or `<user>-<timestamp>`.
fn job_name(req: &Request, user: &str, timestamp: impl FnOnce() -> std::io::Result<String>) -> Result<String> {
    if let Some(name) = &req.name {
        validate::job_name("--name", name).map_err(|e| {
            let corrected = as_job_name(name, validate::MAX_JOB_NAME_LEN);
            let try_this = if corrected.is_empty() { String::new() } else { format!(", such as {corrected}") };
            anyhow!(
                "{e}; a job name is lower-case letters, digits and '-', starts with a letter, and has at most 63 \
                 characters{try_this}"
            )
        })?;
        return Ok(name.clone());
    }
    let ts = timestamp().context("cannot read the local time for the default job name")?;
    let name = default_job_name(user, &ts);
    validate::job_name("the default job name", &name)?;
    Ok(name)
}

/// The run:ai project: `RUNAI_PROJECT`, else the namespace.
pub fn project(env: &EnvFile, namespace: &str) -> Result<String> {
    let project = env.get(keys::RUNAI_PROJECT).unwrap_or(namespace).to_owned();
    if !validate::is_dns1123_label(&project) {
        bail!(
            "{}RUNAI_PROJECT={project:?} is not a valid project name: use at most 63 lower-case letters, digits and '-'",
            at(env, keys::RUNAI_PROJECT)
        );
    }
    Ok(project)
}

/// Where the job runs and from what: project, image and scratch claim.
fn placement(req: &Request, env: &EnvFile, target: &SecretTarget) -> Result<(String, String, String)> {
    let project = project(env, &target.namespace)?;
    let image = flag_or_key(req.image.as_deref(), "--image", env, keys::RUNAI_IMAGE)?.to_owned();
    if image.chars().any(char::is_whitespace) {
        bail!(
            "{}: an image must not contain white space",
            given(req.image.as_deref(), "--image", env, keys::RUNAI_IMAGE, &image)
        );
    }
    let pvc = flag_or_key(req.pvc.as_deref(), "--pvc", env, keys::SCRATCH_PVC)?.to_owned();
    if !validate::is_dns1123_subdomain(&pvc) {
        let given = given(req.pvc.as_deref(), "--pvc", env, keys::SCRATCH_PVC, &pvc);
        bail!("{given} is not a valid PVC name: use lower-case letters, digits, '-' and '.'");
    }
    Ok((project, image, pvc))
}

/// The pod's script: `--command`, else a sleep for `--time`.
fn pod_script(req: &Request) -> Result<PodScript> {
    // Checked even when --command makes it unused, so that a typo is not
    // silently ignored.
    let time = req.time.as_deref().unwrap_or(keys::DEFAULT_SLEEP);
    let sleep = duration::parse(time).map_err(|e| anyhow!("--time={time:?} {e}"))?;
    let command = match &req.command {
        Some(c) if c.trim().is_empty() => bail!("--command must not be empty"),
        Some(c) => c.clone(),
        None => format!("sleep {sleep}"),
    };
    for (flag, value) in [("--exp-folder", &req.exp_folder), ("--venv", &req.venv)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            bail!("{flag} must not be empty");
        }
    }
    Ok(PodScript { exp_folder: req.exp_folder.clone(), venv: req.venv.clone(), command })
}

/// Which run:ai dialect the user asked for, and where: `--runai-cli` wins
/// over `RUNAI_CLI` in the file; neither means auto.
pub fn runai_preference(req: &Request, env: &EnvFile) -> Result<(Preference, Option<String>)> {
    runai_preference_given(req.runai_cli.as_deref(), env)
}

/// [`runai_preference`] with the flag's value (`flag`) given alone.
pub fn runai_preference_given(flag: Option<&str>, env: &EnvFile) -> Result<(Preference, Option<String>)> {
    let (value, origin) = match (flag, env.get(keys::RUNAI_CLI)) {
        (Some(flag), _) => (flag, "--runai-cli".to_owned()),
        (None, Some(value)) => (value, format!("{}{}", at(env, keys::RUNAI_CLI), keys::RUNAI_CLI)),
        (None, None) => return Ok((Preference::Auto, None)),
    };
    match Preference::parse(value) {
        Some(preference) => Ok((preference, Some(origin))),
        None => bail!("{origin}={value:?}: must be one of {}", Preference::VALUES.join(", ")),
    }
}

/// What the pods will not show about the job, said in their environment
/// for `submit list` to read back.
fn job_kind(req: &Request) -> JobKind {
    match (req.workers, req.train) {
        (0, false) => JobKind::Interactive,
        (0, true) => JobKind::Train,
        (workers, _) => JobKind::Distributed { nodes: workers.saturating_add(1) },
    }
}

/// Builds the job from the command line and the file. `timestamp` gives
/// the local time for a default name.
pub fn job_spec(
    req: &Request,
    env: &EnvFile,
    target: &SecretTarget,
    timestamp: impl FnOnce() -> std::io::Result<String>,
) -> Result<JobSpec> {
    let who = identity(req, env)?;
    let name = job_name(req, who.user, timestamp)?;
    let (project, image, pvc) = placement(req, env, target)?;
    let submission = clock::submission_id().context("cannot make a submission id")?;
    let (mut literal_env, scratch_mount_path) = pod_variables(env, &who, JobRun { name: name.clone(), submission })?;
    let stop = Stop::from_flags(req.stop_signal.as_deref(), req.grace.as_deref())?;
    literal_env.extend(stop.pod_variable());
    literal_env.push((EnvVars::NB_JOB_KIND.to_owned(), job_kind(req).to_string()));
    literal_env.extend(req.sweep.iter().flat_map(SweepMember::pod_variables));
    let submit_sets: Vec<&str> = literal_env.iter().map(|(k, _)| k.as_str()).collect();
    let (secret_keys, unset_secret_keys) = pod_secret_keys(env, &submit_sets)?;
    let extra = extra_variables(req, env, &submit_sets)?;
    literal_env.extend(extra);
    let script = pod_script(req)?;

    let workers = req.workers;
    let train = req.train || workers > 0;
    Ok(JobSpec {
        name,
        project,
        image,
        gpus: quantity_number("--gpus", &req.gpus, true)?,
        uid: who.uid,
        gid: who.gid,
        pvc,
        scratch_mount_path,
        cpus: req.cpus.as_deref().map(|c| quantity_number("--cpus", c, false)).transpose()?,
        memory: req.memory.as_deref().map(memory_quantity).transpose()?,
        mode: if train { Mode::Train { backoff_limit: req.backoff_limit } } else { Mode::Interactive },
        workers,
        port: match req.port {
            Some(0) => bail!("--port=0: must be between 1 and 65535"),
            p => p,
        },
        host_ipc: req.host_ipc,
        large_shm: req.large_shm,
        node_pools: req.node_pools.clone(),
        literal_env,
        secret_keys,
        unset_secret_keys,
        secret_name: target.name.clone(),
        script,
        stop,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::pod_env::PodEnv;
    use std::path::Path;

    const ENV: &str = "LDAP_USERNAME=ada\nLDAP_UID=123456\nLDAP_GROUPNAME=MLO-unit\nLDAP_GID=83070\n\
        RUNAI_PROJECT=mlo-ada\nK8S_NAMESPACE=runai-mlo-ada\nRUNAI_IMAGE=reg.example/mlo/base:uv1\n\
        RUNAI_SECRET_NAME=runai-mlo-ada-env\nSCRATCH_PVC=mlo-scratch\nHF_TOKEN=hf_x\n";

    /// The request the command layer makes of `submit ARGS`: the tests
    /// write flags as a user would.
    fn request(args: &[&str]) -> Request {
        crate::cli::Cli::parse_args(std::iter::once("submit").chain(args.iter().copied())).unwrap().request()
    }

    fn build(args: &[&str], extra_env: &str) -> Result<JobSpec> {
        let req = request(args);
        let env = EnvFile::parse(Path::new("t.env"), &format!("{ENV}{extra_env}")).unwrap();
        let target = secret_target(&req, &env)?;
        job_spec(&req, &env, &target, || Ok("20260102-030405".to_owned()))
    }

    fn env_of(spec: &JobSpec, name: &str) -> String {
        spec.literal_env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap()
    }

    #[test]
    fn defaults_follow_the_wrapper() {
        let spec = build(&[], "").unwrap();
        assert_eq!(spec.name, "ada-20260102-030405");
        assert_eq!(spec.project, "mlo-ada");
        assert_eq!(spec.scratch_mount_path, "/mloscratch");
        assert_eq!(spec.gpus, "0");
        assert_eq!(spec.mode, Mode::Interactive);
        assert_eq!(spec.script.command, "sleep 43200");
        assert_eq!(env_of(&spec, "HOME"), "/home/ada");
        assert_eq!(env_of(&spec, "SCRATCH_HOME"), "/mloscratch/homes/ada");
        assert_eq!(env_of(&spec, "WORKING_DIR"), "/mloscratch/homes/ada");
        assert_eq!(env_of(&spec, "HF_HOME"), "/mloscratch/hf_cache");
        assert_eq!(env_of(&spec, "UV_PYTHON_VERSION"), "3.11");
        // uv's own variable would override every project's .python-version.
        assert!(spec.literal_env.iter().all(|(k, _)| k != "UV_PYTHON"));
        assert_eq!(env_of(&spec, "TZ"), "Europe/Zurich");
        assert_eq!(env_of(&spec, "GIT_CONFIG_GLOBAL"), "/mloscratch/homes/ada/.gitconfig");
        assert_eq!(env_of(&spec, "UV_CACHE_DIR"), "/mloscratch/homes/ada/.cache/uv");
        assert_eq!(spec.secret_keys, ["HF_TOKEN"]);
    }

    #[test]
    fn the_pod_knows_its_job_and_a_new_submission_each_time() {
        let (a, b) = (build(&["-n", "run-1"], "").unwrap(), build(&["-n", "run-1"], "").unwrap());
        assert_eq!(env_of(&a, "NB_JOB_NAME"), "run-1");
        assert_ne!(env_of(&a, "NB_SUBMISSION"), env_of(&b, "NB_SUBMISSION"));
        assert!(a.literal_env.iter().all(|(k, _)| k != "NB_STOP_SIGNAL"));
        let spec = build(&["--stop-signal", "usr1", "--grace", "5m"], "").unwrap();
        assert_eq!(env_of(&spec, "NB_STOP_SIGNAL"), "USR1");
        assert_eq!(spec.stop.grace, Some(crate::job::duration::Seconds(300)));
        let err = build(&["--stop-signal", "STOP"], "").unwrap_err().to_string();
        assert!(err.starts_with("--stop-signal=\"STOP\": must be one of"), "{err}");
    }

    #[test]
    fn a_working_dir_below_the_home_leaves_the_home_where_it_is() {
        let spec = build(&[], "WORKING_DIR=/mloscratch/homes/ada/proj\n").unwrap();
        assert_eq!(env_of(&spec, "WORKING_DIR"), "/mloscratch/homes/ada/proj");
        assert_eq!(env_of(&spec, "SCRATCH_HOME"), "/mloscratch/homes/ada");
        assert_eq!(env_of(&spec, "GIT_CONFIG_GLOBAL"), "/mloscratch/homes/ada/.gitconfig");
        assert_eq!(env_of(&spec, "UV_CACHE_DIR"), "/mloscratch/homes/ada/.cache/uv");
        assert_eq!(env_of(&spec, "UV_PYTHON_INSTALL_DIR"), "/mloscratch/homes/ada/.uv");
        let spec = build(&[], "SCRATCH_HOME_ROOT=/scratch/h\nWORKING_DIR=/scratch/p\n").unwrap();
        assert_eq!(
            (env_of(&spec, "SCRATCH_HOME"), env_of(&spec, "WORKING_DIR")),
            ("/scratch/h/ada".into(), "/scratch/p".into())
        );
        let spec = build(&[], "SCRATCH_HOME=/mloscratch/homes/ada/state\n").unwrap();
        assert_eq!(env_of(&spec, "SCRATCH_HOME"), "/mloscratch/homes/ada/state");
        assert_eq!(env_of(&spec, "WORKING_DIR"), "/mloscratch/homes/ada");
        assert_eq!(env_of(&spec, "GIT_CONFIG_GLOBAL"), "/mloscratch/homes/ada/state/.gitconfig");
        let err = build(&[], "WORKING_DIR=proj\n").unwrap_err();
        assert_eq!(err.to_string(), "t.env:11: WORKING_DIR=\"proj\": must be an absolute path in the pod");
    }

    #[test]
    fn the_pod_is_told_the_kind_of_its_job() {
        assert_eq!(env_of(&build(&[], "").unwrap(), "NB_JOB_KIND"), "interactive");
        assert_eq!(env_of(&build(&["--train"], "").unwrap(), "NB_JOB_KIND"), "train");
        assert_eq!(env_of(&build(&["--workers", "3"], "").unwrap(), "NB_JOB_KIND"), "distributed:4");
        assert!(build(&["-e", "NB_JOB_KIND=train"], "").is_err());
    }

    #[test]
    fn a_point_of_a_sweep_tells_its_pod_where_it_is_and_nothing_else_does() {
        assert!(build(&[], "").unwrap().literal_env.iter().all(|(k, _)| !k.starts_with("NB_SWEEP")));
        let member = SweepMember { sweep: "lr".into(), size: 12, index: "07".into(), point: "lr=1e-3 seed=0".into() };
        let req = Request { name: Some("lr-07".into()), sweep: Some(member), ..request(&[]) };
        let env = EnvFile::parse(Path::new("t.env"), ENV).unwrap();
        let spec = job_spec(&req, &env, &secret_target(&req, &env).unwrap(), || Ok("x".into())).unwrap();
        let n = spec.literal_env.len();
        assert_eq!(
            spec.literal_env[n - 4..],
            [
                ("NB_SWEEP".into(), "lr".into()),
                ("NB_SWEEP_SIZE".into(), "12".into()),
                ("NB_SWEEP_INDEX".into(), "07".into()),
                ("NB_SWEEP_POINT".into(), "lr=1e-3 seed=0".into()),
            ]
        );
        for name in ["NB_SWEEP", "NB_SWEEP_POINT"] {
            let err = build(&["-e", &format!("{name}=x")], "").unwrap_err().to_string();
            assert_eq!(err, format!("-e {name}: submit sets {name} itself; it cannot be given with -e"));
        }
    }

    #[test]
    fn github_token_is_a_default_secret_key_as_in_the_wrapper() {
        let spec = build(&[], "GITHUB_TOKEN=ghp_x\n").unwrap();
        assert_eq!(spec.secret_keys, ["GITHUB_TOKEN", "HF_TOKEN"]);
    }

    #[test]
    fn every_pod_variable_pod_init_requires_is_set() {
        let spec = build(&[], "").unwrap();
        for name in common::env::REQUIRED_POD_VARS {
            assert!(spec.literal_env.iter().any(|(k, _)| k == name), "{name}");
        }
    }

    #[test]
    fn pod_init_reads_back_what_the_job_sets() {
        let spec = build(&[], "WORKING_DIR=/mloscratch/homes/ada/proj\n").unwrap();
        let pod = PodEnv::from_lookup(|k| spec.literal_env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
        let pod = pod.unwrap();
        let for_pod_init: Vec<_> = spec.literal_env.iter().filter(|(k, _)| k != "NB_JOB_KIND").cloned().collect();
        assert_eq!(pod.to_env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Vec<_>>(), for_pod_init);
        assert_eq!((pod.user.as_str(), pod.uid, pod.gid), ("ada", 123456, 83070));
    }

    #[test]
    fn flags_override_the_file() {
        let spec =
            build(&["--uid", "5000", "--gid", "6000", "-i", "img:2", "--pvc", "other", "-t", "30m"], "").unwrap();
        assert_eq!((spec.uid, spec.gid), (5000, 6000));
        assert_eq!(env_of(&spec, "NB_UID"), "5000");
        assert_eq!(spec.image, "img:2");
        assert_eq!(spec.pvc, "other");
        assert_eq!(spec.script.command, "sleep 1800");
    }

    #[test]
    fn workers_force_training() {
        let spec = build(&["--workers", "2", "--backoff-limit", "4"], "").unwrap();
        assert_eq!(spec.mode, Mode::Train { backoff_limit: 4 });
    }

    #[test]
    fn extra_secret_keys_with_values_are_referenced() {
        let spec = build(&[], "EXTRA_SECRET_KEYS=' OPENAI_API_KEY , EMPTY_ONE'\nOPENAI_API_KEY=sk\n").unwrap();
        assert_eq!(spec.secret_keys, ["HF_TOKEN", "OPENAI_API_KEY"]);
        let err = build(&[], "EXTRA_SECRET_KEYS=HOME\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.env:11: EXTRA_SECRET_KEYS: HOME is set by submit itself and cannot come from the Secret"
        );
        let err = build(&[], "EXTRA_SECRET_KEYS=a.b\n").unwrap_err();
        assert!(err.to_string().contains("\"a.b\" is not a variable name"), "{err}");
    }

    #[test]
    fn a_refused_job_name_comes_with_a_corrected_one() {
        for (given, corrected) in [("MyJob", "myjob"), ("my_job_2", "my-job-2"), ("2fast", "fast"), ("job-", "job")] {
            let err = build(&["--name", given], "").unwrap_err().to_string();
            assert!(err.ends_with(&format!("has at most 63 characters, such as {corrected}")), "{given}: {err}");
        }
        let err = build(&["--name", "___"], "").unwrap_err().to_string();
        assert!(err.ends_with("has at most 63 characters"), "{err}");
    }

    #[test]
    fn bad_input_is_named() {
        let cases: [(&[&str], &str, &str); 14] = [
            (&["--uid", "abc"], "", "--uid=\"abc\": must be a whole number"),
            (&["--gid", "0"], "", "--gid=\"0\": must not be 0 (root)"),
            (
                &["--name", "Bad_Name"],
                "",
                "--name=\"Bad_Name\": must not contain 'B'; a job name is lower-case letters, digits and '-', starts \
                 with a letter, and has at most 63 characters, such as bad-name",
            ),
            (
                &["-t", "12x"],
                "",
                "--time=\"12x\" is not a duration: use a number with d, h, m or s, such as 12h, 30m or 2d6h30m",
            ),
            (&["-g", "two"], "", "--gpus=\"two\": must be a number such as 1 or 0.5"),
            (&["--cpus", "0"], "", "--cpus=\"0\": must be a number greater than 0, such as 4 or 0.5"),
            (&["--memory", "32X"], "", "--memory=\"32X\": must be a Kubernetes quantity such as 32G, 512Mi or 1.5Gi"),
            (&["-c", " "], "", "--command must not be empty"),
            (&["-p", "0"], "", "--port=0: must be between 1 and 65535"),
            (
                &[],
                "SCRATCH_MOUNT_PATH=scratch\n",
                "t.env:11: SCRATCH_MOUNT_PATH=\"scratch\": must be an absolute path in the pod",
            ),
            (
                &["--secret-name", "Bad"],
                "",
                "--secret-name=\"Bad\" is not a valid Secret name: use lower-case letters, digits, '-' and '.'",
            ),
            (
                &["--pvc", "Bad_PVC"],
                "",
                "--pvc=\"Bad_PVC\" is not a valid PVC name: use lower-case letters, digits, '-' and '.'",
            ),
            (&["-i", "reg/img:1 x"], "", "--image=\"reg/img:1 x\": an image must not contain white space"),
            (&["-c", "x", "-t", "0s"], "", "--time=\"0s\" must be longer than zero"),
        ];
        for (args, extra, message) in cases {
            let err = build(args, extra).unwrap_err();
            assert_eq!(err.to_string(), message, "{args:?}");
        }
    }

    #[test]
    fn file_values_are_checked_with_their_line() {
        let env = "LDAP_USERNAME=ada\nLDAP_UID=12a\n";
        let req = Request { secret_name: Some("s".into()), ..request(&[]) };
        let env = EnvFile::parse(Path::new("t.env"), &format!("{env}RUNAI_PROJECT=p\nLDAP_GROUPNAME=g\nLDAP_GID=5\n"))
            .unwrap();
        let target = secret_target(&req, &env).unwrap();
        let err = job_spec(&req, &env, &target, || Ok("x".into())).unwrap_err();
        assert_eq!(err.to_string(), "t.env:2: LDAP_UID=\"12a\": must be a whole number");
        let text = ENV.replace("SCRATCH_PVC=mlo-scratch", "SCRATCH_PVC=Mlo_Scratch");
        let env = EnvFile::parse(Path::new("t.env"), &text).unwrap();
        let err = job_spec(&req, &env, &target, || Ok("x".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.env:9: SCRATCH_PVC=\"Mlo_Scratch\" is not a valid PVC name: use lower-case letters, digits, '-' and '.'"
        );
    }

    #[test]
    fn missing_required_key_is_named() {
        let req = request(&[]);
        let env = EnvFile::parse(Path::new("t.env"), "RUNAI_PROJECT=p\nRUNAI_SECRET_NAME=s\n").unwrap();
        let target = secret_target(&req, &env).unwrap();
        let err = job_spec(&req, &env, &target, || Ok("x".into())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.env: LDAP_USERNAME is not set; add it (`submit init` writes a template with every key)"
        );
        let env = EnvFile::parse(Path::new("t.env"), "RUNAI_PROJECT=p\n").unwrap();
        let err = secret_target(&req, &env).unwrap_err();
        assert_eq!(err.to_string(), "RUNAI_SECRET_NAME is not set in t.env and --secret-name is not given");
    }

    #[test]
    fn extra_variables_follow_what_submit_sets() {
        let spec = build(&["-e", "POD_INIT_SIGNAL_GROUP=1", "--env", "WANDB_PROJECT=a=b"], "").unwrap();
        let n = spec.literal_env.len();
        assert_eq!(
            spec.literal_env[n - 2..],
            [("POD_INIT_SIGNAL_GROUP".into(), "1".into()), ("WANDB_PROJECT".into(), "a=b".into())]
        );
        let cases: [(&[&str], &str, &str); 8] = [
            (&["-e", "NOVALUE"], "", "-e NOVALUE: write NOVALUE=VALUE"),
            (
                &["-e", "1X=y"],
                "",
                "-e: \"1X\" is not a variable name: use letters, digits and '_', not starting with a digit",
            ),
            (&["-e", "NB_UID=0"], "", "-e NB_UID: submit sets NB_UID itself; it cannot be given with -e"),
            (
                &["-e", "NB_ANYTHING=x"],
                "",
                "-e NB_ANYTHING: submit sets NB_ANYTHING itself; it cannot be given with -e",
            ),
            (
                &["-e", "WORKING_DIR=/x"],
                "",
                "-e WORKING_DIR: submit sets WORKING_DIR itself; it cannot be given with -e",
            ),
            (
                &["-e", "HF_TOKEN=hf_secret"],
                "",
                "-e HF_TOKEN: HF_TOKEN is a Secret key: put its value in t.env and the pod reads it from the Secret \
                 (with -e the value would be shown on the command line)",
            ),
            (&["-e", "A=1", "-e", "A=2"], "", "-e A: given more than once"),
            (
                &["-e", "A=SECRET:s,k"],
                "",
                "-e A: a value starting with SECRET: is read by runai v1 as a Secret reference; \
                 list the key in EXTRA_SECRET_KEYS instead",
            ),
        ];
        for (args, extra, message) in cases {
            let err = build(args, extra).unwrap_err().to_string();
            assert_eq!(err, message, "{args:?}");
            assert!(!err.contains("hf_secret"), "{err}");
        }
        let err = build(&["-e", "OPENAI_API_KEY=sk"], "EXTRA_SECRET_KEYS=OPENAI_API_KEY\n").unwrap_err();
        assert!(err.to_string().starts_with("-e OPENAI_API_KEY: OPENAI_API_KEY is a Secret key"), "{err}");
    }

    #[test]
    fn the_runai_flag_wins_over_the_file() {
        let preference = |args: &[&str], extra: &str| {
            let req = request(args);
            let env = EnvFile::parse(Path::new("t.env"), &format!("{ENV}{extra}")).unwrap();
            runai_preference(&req, &env).map_err(|e| e.to_string())
        };
        assert_eq!(preference(&[], ""), Ok((Preference::Auto, None)));
        assert_eq!(preference(&[], "RUNAI_CLI=v2\n"), Ok((Preference::V2, Some("t.env:11: RUNAI_CLI".into()))));
        assert_eq!(
            preference(&["--runai-cli", "v1"], "RUNAI_CLI=v2\n"),
            Ok((Preference::V1, Some("--runai-cli".into())))
        );
        assert_eq!(
            preference(&[], "RUNAI_CLI=V2\n"),
            Err("t.env:11: RUNAI_CLI=\"V2\": must be one of v1, v2, auto".into())
        );
    }

    #[test]
    fn default_names_are_dns_labels() {
        assert_eq!(default_job_name("Ada.Lovelace", "20260102-030405"), "ada-lovelace-20260102-030405");
        assert_eq!(default_job_name("_svc", "20260102-030405"), "svc-20260102-030405");
        assert_eq!(default_job_name("__", "20260102-030405"), "job-20260102-030405");
        let long = default_job_name(&"a".repeat(32), "20260102-030405");
        assert!(long.len() <= 63);
    }

    proptest::proptest! {
        #[test]
        fn default_name_is_always_valid(user in "[A-Za-z_][A-Za-z0-9_.-]{0,31}") {
            let name = default_job_name(&user, "20260102-030405");
            proptest::prop_assert_eq!(validate::job_name("n", &name), Ok(()));
        }

    }
}
