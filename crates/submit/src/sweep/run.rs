//! The runai submissions of a sweep: at most `parallel` at a time, each in
//! its own process group (a Ctrl-C on the terminal does not reach them), one
//! failing not stopping the others. After Ctrl-C no new one starts; those
//! already started finish, so that what was submitted is known exactly.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow};

use crate::cluster::invocation::{Invocation, describe_status};
use crate::follow::interrupt;
use crate::follow::outcome::Outcome;
use crate::job::spec::JobSpec;
use crate::sweep::follow::{self, Followed};
use crate::sweep::table::{self, Row};
use crate::sweep::{Sweep, words};

/// Exit code after Ctrl-C (128 + SIGINT, as a shell reports it).
const INTERRUPTED: u8 = 130;
/// Exit code of a wait that reached `--wait-timeout` (as `timeout(1)`).
const TIMED_OUT: u8 = 124;

/// The longest one runai submission may take before it is stopped and
/// counted as failed.
pub const SUBMISSION_TIMEOUT: Duration = Duration::from_secs(300);

/// How one point's submission ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    Submitted,
    /// runai refused or could not run; its own words (stderr, else stdout,
    /// else how it ended).
    Failed(String),
    /// Not started: Ctrl-C came first.
    NotStarted,
}

impl Submission {
    /// The table's words.
    pub fn words(&self) -> String {
        match self {
            Submission::Submitted => "submitted".to_owned(),
            Submission::Failed(words) => format!("failed: {}", last_line(words)),
            Submission::NotStarted => "not submitted (Ctrl-C)".to_owned(),
        }
    }
}

/// Submits the jobs of `sweep` (`specs` and their `commands`, by point) in
/// `namespace`, follows them with `--wait`, and ends with the table. Exit 0
/// only if every point was submitted (and, with `--wait`, runs).
pub fn submit(
    sweep: &Sweep,
    specs: &[JobSpec],
    commands: &[Invocation],
    namespace: &str,
    wait: Option<follow::Request>,
) -> Result<Outcome> {
    interrupt::catch().map_err(|e| anyhow!("cannot catch Ctrl-C before submitting: {e}"))?;
    say(&format!(
        "submitting the {} jobs of the sweep {}, at most {} at a time (Ctrl-C stops starting new ones)",
        commands.len(),
        sweep.name,
        sweep.parallel
    ));
    let results = submit_all(commands, &sweep.names, sweep.parallel);
    let stopped = interrupt::interrupted();
    let submitted: Vec<&JobSpec> =
        specs.iter().zip(&results).filter(|(_, r)| **r == Submission::Submitted).map(|(s, _)| s).collect();
    let followed = match wait {
        Some(request) if !stopped && !submitted.is_empty() => follow::follow_all(&submitted, namespace, request)?,
        _ => Vec::new(),
    };
    // The followed jobs are the submitted ones, in order.
    let mut how_followed = followed.iter();
    let rows: Vec<Row> = (0..commands.len())
        .map(|i| {
            let followed = match results[i] {
                Submission::Submitted => how_followed.next(),
                _ => None,
            };
            Row {
                index: sweep.requests[i].sweep.as_ref().map_or_else(String::new, |m| m.index.clone()),
                name: sweep.names[i].clone(),
                point: words(&sweep.points[i]),
                result: followed.map_or_else(|| results[i].words(), Followed::words),
            }
        })
        .collect();
    crate::app::print(&table::render(&rows))?;
    let names_where = |wanted: &dyn Fn(&Submission) -> bool| -> Vec<&str> {
        sweep.names.iter().zip(&results).filter(|(_, r)| wanted(r)).map(|(n, _)| n.as_str()).collect()
    };
    let failed = names_where(&|r| matches!(r, Submission::Failed(_)));
    if stopped {
        let done = names_where(&|r| *r == Submission::Submitted);
        let not = names_where(&|r| *r != Submission::Submitted);
        say(&format!(
            "stopped submitting (Ctrl-C): submitted {}; not submitted {}",
            list_or_none(&done),
            list_or_none(&not)
        ));
        return Ok(Outcome::External(INTERRUPTED));
    }
    if !failed.is_empty() {
        say(&format!("{} of {} jobs were not submitted: {}", failed.len(), commands.len(), failed.join(", ")));
        return Ok(Outcome::External(1));
    }
    if wait.is_none() {
        say(&format!(
            "all {} jobs of the sweep {} were submitted; see them with `submit list`, one with `submit logs {}`",
            commands.len(),
            sweep.name,
            sweep.names[0]
        ));
    }
    if followed.iter().any(|f| matches!(f, Followed::CannotStart(_))) {
        return Ok(Outcome::External(1));
    }
    if followed.iter().any(|f| matches!(f, Followed::Skipped("Ctrl-C"))) {
        return Ok(Outcome::External(INTERRUPTED));
    }
    if followed.iter().any(|f| matches!(f, Followed::TimedOut(_) | Followed::Skipped(_))) {
        return Ok(Outcome::External(TIMED_OUT));
    }
    Ok(Outcome::Success)
}

fn list_or_none(names: &[&str]) -> String {
    match names.is_empty() {
        true => "none".to_owned(),
        false => names.join(", "),
    }
}

/// The last line that says something: runai ends with its error.
fn last_line(words: &str) -> &str {
    words.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or(words)
}

/// Runs `commands` (the job `names[i]` for each), at most `parallel` at a
/// time, in order of start; says each end on stderr as it comes.
pub fn submit_all(commands: &[Invocation], names: &[String], parallel: usize) -> Vec<Submission> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Submission>> = Mutex::new(vec![Submission::NotStarted; commands.len()]);
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..parallel.clamp(1, commands.len().max(1)) {
            scope.spawn(|| {
                while !interrupt::interrupted() {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(command) = commands.get(i) else { break };
                    let result = submit_one(command);
                    let count = done.fetch_add(1, Ordering::SeqCst) + 1;
                    let total = commands.len();
                    match &result {
                        Submission::Failed(words) => say(&format!(
                            "runai did not submit {} ({count} of {total} done):\n{}",
                            names[i],
                            words.trim_end()
                        )),
                        _ => say(&format!("submitted {} ({count} of {total} done)", names[i])),
                    }
                    if let Ok(mut all) = results.lock() {
                        all[i] = result;
                    }
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn submit_one(command: &Invocation) -> Submission {
    match command.run_for_output(SUBMISSION_TIMEOUT) {
        Ok(done) if done.status.success() => Submission::Submitted,
        Ok(done) => {
            let words = [&done.stderr, &done.stdout]
                .into_iter()
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                .find(|w| !w.is_empty());
            Submission::Failed(words.unwrap_or_else(|| format!("runai ended with {}", describe_status(done.status))))
        }
        Err(e) => Submission::Failed(e.to_string()),
    }
}

fn say(message: &str) {
    eprintln!("submit: {message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Invocation {
        Invocation::new("sh", vec!["-c".into(), script.into()])
    }

    #[test]
    fn one_failing_submission_does_not_stop_the_others_and_keeps_its_words() {
        let commands = [sh("true"), sh("echo 'Error: quota exceeded' >&2; exit 1"), sh("true"), sh("exit 3")];
        let names: Vec<String> = (0..4).map(|i| format!("j-{i}")).collect();
        let results = submit_all(&commands, &names, 2);
        assert_eq!(
            results,
            [
                Submission::Submitted,
                Submission::Failed("Error: quota exceeded".into()),
                Submission::Submitted,
                Submission::Failed("runai ended with exit status 3".into()),
            ]
        );
        assert_eq!(results[1].words(), "failed: Error: quota exceeded");
    }

    #[test]
    fn at_most_parallel_submissions_run_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (running, counts) = (dir.path().join("running"), dir.path().join("counts"));
        std::fs::create_dir(&running).unwrap();
        // Each holds a file in `running` while it runs, and notes how many
        // it sees there halfway.
        let commands: Vec<Invocation> = (0..6)
            .map(|i| {
                let (r, c) = (running.display(), counts.display());
                sh(&format!("touch {r}/{i}; sleep 0.3; ls {r} | wc -l >> {c}; rm {r}/{i}"))
            })
            .collect();
        let names: Vec<String> = (0..6).map(|i| format!("j-{i}")).collect();
        assert!(submit_all(&commands, &names, 2).iter().all(|r| *r == Submission::Submitted));
        let seen: Vec<usize> =
            std::fs::read_to_string(&counts).unwrap().lines().map(|l| l.trim().parse().unwrap()).collect();
        assert_eq!(seen.len(), 6);
        assert_eq!(seen.iter().max(), Some(&2), "two at a time, never more: {seen:?}");
    }

    #[test]
    fn the_table_shows_the_last_line_of_runais_words() {
        let failed = Submission::Failed("Usage: runai submit\n\nError: name taken\n".into());
        assert_eq!(failed.words(), "failed: Error: name taken");
        assert_eq!(Submission::NotStarted.words(), "not submitted (Ctrl-C)");
    }
}
