//! `submit list`: every job of the namespace, one line each, newest first,
//! a sweep's jobs as one line (`--expand`: one line each); `-o json` for
//! scripts, always one object per job; `--watch` redraws from a kubectl
//! watch until Ctrl-C.

pub mod table;

use std::collections::BTreeMap;
use std::io::{BufReader, IsTerminal as _};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use super::Place;
use crate::app::{Outcome, print};
use crate::cli::ListFormat;
use crate::clock::unix_now;
use crate::cluster::invocation::{describe_status, stop_group};
use crate::cluster::jobs::{self, Job, sweep};
use crate::cluster::{child_output, kubectl};
use crate::follow::interrupt;

/// How long a burst of changes may pause before the list is redrawn.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// What to list and how.
#[derive(Debug)]
pub struct Plan {
    pub place: Place,
    pub format: ListFormat,
    pub watch: bool,
    /// One line per job of a sweep, instead of one for the sweep.
    pub expand: bool,
    /// Colour the states (stdout is a terminal and NO_COLOR is not set).
    pub colour: bool,
}

pub fn run(plan: &Plan) -> Result<Outcome> {
    if plan.watch {
        return watch(plan);
    }
    let jobs = jobs::from_pod_list(&plan.place.pods()?);
    show(plan, &jobs, false)?;
    Ok(Outcome::Success)
}

/// Prints the listing; for a redraw on a terminal, over the last one.
fn show(plan: &Plan, jobs: &[Job], redraw: bool) -> Result<()> {
    let text = match plan.format {
        ListFormat::Json => format!("{}\n", Value::Array(jobs.iter().map(Job::to_json).collect())),
        ListFormat::Table if jobs.is_empty() => format!("no jobs in namespace {}\n", plan.place.namespace),
        ListFormat::Table if plan.expand => table::render(jobs, unix_now(), plan.colour),
        ListFormat::Table => table::render_entries(&sweep::entries(jobs), unix_now(), plan.colour),
    };
    // Clear the screen and go home: a redraw in place, on a terminal only.
    let clear = if redraw && std::io::stdout().is_terminal() { "\x1b[H\x1b[2J" } else { "" };
    print(&format!("{clear}{text}"))
}

/// One kubectl watch of the namespace's pods (no polling); each change
/// that alters the listing redraws it. Ctrl-C ends it with 130.
fn watch(plan: &Plan) -> Result<Outcome> {
    interrupt::catch().map_err(|e| anyhow!("cannot catch Ctrl-C: {e}"))?;
    let inv = kubectl::watch_pod_changes(&plan.place.namespace);
    let mut child = inv.spawn_piped()?;
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    let stdout = child.stdout.take();
    std::thread::spawn(move || {
        let Some(stdout) = stdout else { return };
        for event in serde_json::Deserializer::from_reader(BufReader::new(stdout)).into_iter::<Value>() {
            let Ok(event) = event else { return };
            if tx.send(event).is_err() {
                return;
            }
        }
    });
    let mut pods: BTreeMap<String, Value> = BTreeMap::new();
    let mut shown: Option<Vec<Value>> = None;
    let tick = std::time::Duration::from_millis(100);
    let outcome = loop {
        if interrupt::interrupted() {
            break Ok(Outcome::External(130));
        }
        match rx.recv_timeout(tick) {
            Ok(event) => {
                // The changes that come together (the first burst is every
                // pod once) make one redraw.
                apply(&mut pods, &event);
                while let Ok(event) = rx.recv_timeout(SETTLE) {
                    apply(&mut pods, &event);
                }
                let jobs = jobs::from_pod_list(&json!({"items": pods.values().collect::<Vec<_>>()}));
                let view: Vec<Value> = jobs.iter().map(Job::to_json).collect();
                if shown.as_ref() != Some(&view) {
                    if let Err(e) = show(plan, &jobs, shown.is_some()) {
                        break Err(e);
                    }
                    shown = Some(view);
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break Err(ended(&mut child)),
        }
    };
    stop_group(&mut child);
    outcome
}

/// One watch event (`{"type", "object"}`) on the pods by name.
fn apply(pods: &mut BTreeMap<String, Value>, event: &Value) {
    let name = event["object"]["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    match event["type"].as_str() {
        Some("DELETED") => pods.remove(&name),
        _ => pods.insert(name, event["object"].clone()),
    };
}

/// The watch's kubectl ended by itself: why, in its words.
fn ended(child: &mut std::process::Child) -> anyhow::Error {
    let mut stderr = Vec::new();
    if let Some(mut pipe) = child.stderr.take() {
        // What kubectl managed to say is all there is to show.
        let _ = std::io::Read::read_to_end(&mut pipe, &mut stderr);
    }
    let status = child.wait().map(describe_status).unwrap_or_else(|e| e.to_string());
    anyhow!("kubectl stopped watching the pods ({status}):\n{}", child_output::kubectl_said(&stderr))
}
