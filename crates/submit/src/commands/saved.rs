//! Nothing lost on delete. run:ai deletes a job's logs with the job, so
//! before `submit delete`, `submit clean` and `submit --replace` delete one,
//! its log and its pods' status are kept in the XDG state directory, one
//! folder per job and deletion time:
//!
//! ```text
//! $XDG_STATE_HOME/submit/jobs/<job>/<YYYYmmddTHHMMSSZ>/    (else ~/.local/state/submit/...)
//!     status.txt                        the job and each pod, in words
//!     pods.json                         the pod objects, as kubectl lists them
//!     <pod>.log                         every container's log of the pod
//!     <pod>.<container>.previous.log    a restarted container's run before
//! ```
//!
//! The pods are those of the listing the delete made anyway; each pod's
//! log is one kubectl process (and one more per restarted container, for
//! its previous run). A log that cannot be kept stops the delete: nothing
//! is deleted, unless `--no-save` says not to keep it. `submit logs` of a
//! job the cluster no longer has reads the newest copy ([`reading`]).

mod folder;
mod reading;
mod summary;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::{Value, json};

use super::Place;
use crate::app::{Context, say};
use crate::clock;
use crate::cluster::child_output;
use crate::cluster::invocation::describe_status;
use crate::cluster::jobs::{self, Job};
use crate::cluster::kubectl_error::{Kind, KubectlError};
use crate::cluster::{kubectl, pods};
pub use reading::{Ask, show_kept_log};

/// The state directory's folder of `submit`.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// `$XDG_STATE_HOME/submit`, else `~/.local/state/submit`.
    pub fn locate(ctx: &Context) -> Result<Self> {
        let base = match (&ctx.state_home, &ctx.home) {
            (Some(state), _) => state.clone(),
            (None, Some(home)) => home.join(".local/state"),
            (None, None) => bail!("neither XDG_STATE_HOME nor HOME is set, so there is no state directory"),
        };
        Ok(Store { root: base.join("submit") })
    }

    /// Where the copies of the job `name` are.
    pub fn job_folder(&self, name: &str) -> PathBuf {
        self.root.join("jobs").join(name)
    }
}

/// Keeps the log and status of each of `jobs` (found in `list`, the
/// listing the caller made) in `store`, saying where; with no store
/// (`--no-save`), nothing. `by` names the deleting command for the status.
pub fn keep_before_delete(store: Option<&Store>, place: &Place, list: &Value, jobs: &[&Job], by: &str) -> Result<()> {
    let Some(store) = store else { return Ok(()) };
    for job in jobs {
        let folder = keep(store, place, list, job, by).map_err(|e| {
            anyhow!(
                "cannot keep the log and status of the job {} before deleting it: {e:#}; nothing was deleted \
                 (--no-save deletes without keeping them)",
                job.name
            )
        })?;
        say(&format!("kept the log and status of {} in {}", job.name, folder.display()));
    }
    Ok(())
}

/// One job's copy, in a new folder; the folder is removed again if the
/// copy cannot be completed, so that a folder there is a whole copy.
fn keep(store: &Store, place: &Place, list: &Value, job: &Job, by: &str) -> Result<PathBuf> {
    if job.name.is_empty() || job.name.starts_with('.') || job.name.contains('/') {
        bail!("{:?} cannot name a folder", job.name);
    }
    let parent = store.job_folder(&job.name);
    for dir in [store.root.clone(), store.root.join("jobs"), parent.clone()] {
        folder::ours(&dir).with_context(|| format!("cannot make the folder {}", dir.display()))?;
    }
    let stamp = clock::utc_timestamp().context("cannot read the clock")?;
    let dir =
        folder::fresh(&parent, &stamp).with_context(|| format!("cannot make a folder in {}", parent.display()))?;
    let written = write_copy(&dir, &stamp, place, list, job, by);
    if written.is_err() {
        // A partial copy must not pass for the job's log; the error says why.
        let _ = std::fs::remove_dir_all(&dir);
    }
    written.map(|()| dir)
}

fn write_copy(dir: &Path, stamp: &str, place: &Place, list: &Value, job: &Job, by: &str) -> Result<()> {
    let pods = jobs::pods_of(list, &job.name);
    let objects = json!({"apiVersion": "v1", "kind": "List", "items": pods});
    let pretty = serde_json::to_vec_pretty(&objects).context("cannot write pods.json")?;
    let file = |name: &str| dir.join(name);
    folder::write_new(&file("pods.json"), &pretty).with_context(|| format!("cannot write {}", dir.display()))?;
    let mut files: Vec<(String, String)> = Vec::new();
    let mut notes = Vec::new();
    for pod in &pods {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        if !pods::has_run(pod) {
            notes.push(format!("pod {name}: no log, no container of it ever ran"));
            continue;
        }
        let containers = pod["spec"]["containers"].as_array().map_or(1, Vec::len);
        let log_name = format!("{name}.log");
        let inv = kubectl::all_logs(&place.namespace, name, containers > 1, place.kubectl_timeout);
        match fetch(&inv, &file(&log_name), place).with_context(|| format!("cannot keep the log of pod {name}"))? {
            Fetched::Kept => files.push((name.to_owned(), log_name)),
            Fetched::PodGone => {
                let _ = std::fs::remove_file(file(&log_name));
                notes.push(format!("pod {name}: gone before its log could be read (deleted since it was listed)"));
                continue;
            }
        }
        for c in pod["status"]["containerStatuses"].as_array().into_iter().flatten() {
            let container = c["name"].as_str().unwrap_or_default();
            if c["restartCount"].as_u64().unwrap_or(0) == 0 || container.is_empty() {
                continue;
            }
            // The run before a restart is worth a request, but its loss is
            // no reason to keep the job: kubelet may have dropped it.
            let prev_name = format!("{name}.{container}.previous.log");
            let inv = kubectl::previous_log(&place.namespace, name, container, place.kubectl_timeout);
            match fetch(&inv, &file(&prev_name), place) {
                Ok(Fetched::Kept) => files.push((name.to_owned(), prev_name)),
                Ok(Fetched::PodGone) => {
                    let _ = std::fs::remove_file(file(&prev_name));
                    notes.push(format!("pod {name}: gone before container {container}'s previous run was read"));
                }
                Err(e) => {
                    let _ = std::fs::remove_file(file(&prev_name));
                    notes.push(format!("pod {name}: no log of container {container}'s previous run: {e:#}"));
                }
            }
        }
    }
    let header = summary::Header {
        namespace: &place.namespace,
        project: &place.project,
        deleted_at: stamp,
        by,
        now: clock::unix_now(),
    };
    let text = summary::text(&header, job, &pods, &files, &notes);
    folder::write_new(&file("status.txt"), text.as_bytes()).with_context(|| format!("cannot write {}", dir.display()))
}

/// What a log request found.
enum Fetched {
    Kept,
    /// The pod went away after the listing: there is no log left to lose.
    PodGone,
}

/// Runs the kubectl log command `inv` with its stdout into the new file `path`.
fn fetch(inv: &crate::cluster::invocation::Invocation, path: &Path, place: &Place) -> Result<Fetched> {
    let out = folder::new_file(path).with_context(|| format!("cannot create {}", path.display()))?;
    let done = inv.run_into_file(out, kubectl::kill_after(place.kubectl_timeout))?;
    if done.status.success() {
        return Ok(Fetched::Kept);
    }
    if KubectlError::classify(&done.stderr).kind == Kind::NotFound {
        return Ok(Fetched::PodGone);
    }
    let said = child_output::kubectl_said(&done.stderr);
    Err(anyhow!("`{inv}` failed ({}): {said}", describe_status(done.status)))
}
