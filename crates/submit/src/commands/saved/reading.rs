//! `submit logs JOB` of a job the cluster no longer has: the log of its
//! newest kept copy, said to be one on stderr with the folder it is in.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::Store;
use crate::app::{Outcome, print, say};
use crate::cluster::jobs;
use crate::commands::pod_wait::pod_of;

/// What to show of the kept log.
pub struct Ask<'a> {
    pub job: &'a str,
    pub namespace: &'a str,
    pub worker: Option<u32>,
    pub tail: Option<u32>,
}

/// Prints the kept log of `ask.job` (its main pod's, or worker I's) and
/// says where it comes from; `None` when no copy of the job was kept.
pub fn show_kept_log(store: &Store, ask: &Ask<'_>) -> Result<Option<Outcome>> {
    let Some(dir) = newest(&store.job_folder(ask.job)) else { return Ok(None) };
    let pods_json = std::fs::read(dir.join("pods.json")).with_context(|| format!("cannot read {}", dir.display()))?;
    let list: Value = serde_json::from_slice(&pods_json)
        .with_context(|| format!("{} is not the JSON submit wrote", dir.join("pods.json").display()))?;
    let Some(job) = jobs::find(&list, ask.job) else {
        bail!("{} holds no pod of the job {}", dir.join("pods.json").display(), ask.job)
    };
    let pod = pod_of(&job, ask.worker)?;
    let log = dir.join(format!("{pod}.log"));
    say(&format!(
        "the job {} is no longer in namespace {}: this is its log as kept when it was deleted, from {}",
        ask.job,
        ask.namespace,
        dir.display()
    ));
    let mut text = String::new();
    match std::fs::File::open(&log) {
        Ok(mut file) => file.read_to_string(&mut text).with_context(|| format!("cannot read {}", log.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!(
                "the pod {pod} had not run when the job {} was deleted: it left no log (see {})",
                ask.job,
                dir.join("status.txt").display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", log.display())),
    };
    print(tail(&text, ask.tail))?;
    Ok(Some(Outcome::Success))
}

/// The newest copy in `folder`: the greatest name, as copies are named
/// by UTC time (and `-N` after a name already taken).
fn newest(folder: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(folder).ok()?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("pods.json").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort_by(|a, b| stamp_order(a).cmp(&stamp_order(b)));
    names.last().map(|n| folder.join(n))
}

/// `20260101T120000Z-2` as (`20260101T120000Z`, 2), so that `-10` comes after `-9`.
fn stamp_order(name: &str) -> (&str, u32) {
    match name.split_once('-') {
        Some((stamp, n)) => (stamp, n.parse().unwrap_or(0)),
        None => (name, 0),
    }
}

/// The last `lines` lines of `text` (all without a limit).
fn tail(text: &str, lines: Option<u32>) -> &str {
    let Some(n) = lines.and_then(|n| usize::try_from(n).ok()) else { return text };
    let body = text.strip_suffix('\n').unwrap_or(text);
    match n {
        0 => "",
        n => match body.rmatch_indices('\n').nth(n - 1) {
            Some((at, _)) => &text[at + 1..],
            None => text,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", Some(2)), "b\nc\n");
        assert_eq!(tail("a\nb\nc", Some(2)), "b\nc");
        assert_eq!(tail("a\nb\n", Some(5)), "a\nb\n");
        assert_eq!(tail("a\nb\n", Some(0)), "");
        assert_eq!(tail("a\nb\n", None), "a\nb\n");
    }

    #[test]
    fn the_newest_copy_is_the_latest_time_then_the_highest_number() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(newest(tmp.path()), None);
        for name in ["20260101T120000Z", "20260101T120000Z-9", "20260101T120000Z-10", "20250101T120000Z", "empty"] {
            std::fs::create_dir(tmp.path().join(name)).unwrap();
            if name != "empty" {
                std::fs::write(tmp.path().join(name).join("pods.json"), "{}").unwrap();
            }
        }
        assert_eq!(newest(tmp.path()), Some(tmp.path().join("20260101T120000Z-10")));
    }
}
