//! The listing as text: one line per job, or per sweep with its counts by
//! state, in 80 columns, long values cut with an ellipsis (never wrapped),
//! the state coloured only when asked.

use common::job_kind::JobKind;

use crate::cluster::jobs::sweep::{Entry, Sweep};
use crate::cluster::jobs::time::span;
use crate::cluster::jobs::{Job, State};

/// The width every line fits in.
pub const WIDTH: usize = 80;

const HEADERS: [&str; 6] = ["NAME", "KIND", "GPUS", "NODE", "AGE", "STATE"];
/// The widest a column other than the state may get.
const CAPS: [usize; 5] = [28, 11, 5, 14, 6];
/// The narrowest the state may get before the other columns give way.
const MIN_STATE: usize = 12;

/// A line's cells; the state in full, and shorter for when that does not fit.
struct Row<'a> {
    cells: [String; 5],
    state: String,
    short_state: String,
    colour: Option<&'a State>,
}

/// The table of `jobs`, one line each, at Unix time `now`, header first,
/// each line ending in a newline.
pub fn render(jobs: &[Job], now: i64, colour: bool) -> String {
    render_entries(&jobs.iter().map(Entry::Job).collect::<Vec<_>>(), now, colour)
}

/// The table of `entries` (jobs and sweeps) at Unix time `now`.
pub fn render_entries(entries: &[Entry<'_>], now: i64, colour: bool) -> String {
    let rows: Vec<Row<'_>> = entries
        .iter()
        .map(|e| match e {
            Entry::Job(job) => job_row(job, now),
            Entry::Sweep(sweep) => sweep_row(sweep, now),
        })
        .collect();
    let mut widths = [0usize; 5];
    for (i, w) in widths.iter_mut().enumerate() {
        let widest = rows.iter().map(|r| r.cells[i].chars().count()).chain([HEADERS[i].len()]).max().unwrap_or(0);
        *w = widest.min(CAPS[i]);
    }
    // The name gives way first when the state would get too narrow.
    let fixed = |w: &[usize; 5]| w.iter().sum::<usize>() + w.len();
    while fixed(&widths) + MIN_STATE > WIDTH && widths[0] > HEADERS[0].len() {
        widths[0] -= 1;
    }
    let state_width = WIDTH.saturating_sub(fixed(&widths));
    let header = Row {
        cells: [0, 1, 2, 3, 4].map(|i| HEADERS[i].to_owned()),
        state: HEADERS[5].to_owned(),
        short_state: HEADERS[5].to_owned(),
        colour: None,
    };
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, w) in row.cells.iter().zip(widths) {
            line.push_str(&pad(&cut(cell, w), w));
            line.push(' ');
        }
        let fits = row.state.chars().count() <= state_width;
        let state = cut(if fits { &row.state } else { &row.short_state }, state_width);
        match row.colour.filter(|_| colour) {
            Some(s) => line.push_str(&format!("\x1b[{}m{state}\x1b[0m", colour_of(s))),
            None => line.push_str(&state),
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn job_row(job: &Job, now: i64) -> Row<'_> {
    let kind = match job.kind {
        Some(JobKind::Interactive) => "interactive".to_owned(),
        Some(JobKind::Train) => "train".to_owned(),
        Some(JobKind::Distributed { nodes }) => format!("dist x{nodes}"),
        None => "-".to_owned(),
    };
    let state = format!("{}{}", job.state.words(now), restarts(job.restarts));
    Row {
        cells: [
            job.name.clone(),
            kind,
            gpus(job.gpus),
            job.node.clone().unwrap_or_else(|| "-".to_owned()),
            span(now - job.created_unix),
        ],
        short_state: state.clone(),
        state,
        colour: Some(&job.state),
    }
}

/// A sweep's line: its size and how many of its jobs are in each state
/// (`12: 3 running, 2 pending, 1 failed, 6 succeeded`), with the points
/// whose job is gone.
fn sweep_row<'a>(sweep: &Sweep<'a>, now: i64) -> Row<'a> {
    let mut nodes: Vec<&str> = sweep.jobs.iter().filter_map(|j| j.node.as_deref()).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let node = match nodes.as_slice() {
        [] => "-".to_owned(),
        [one] => (*one).to_owned(),
        many => format!("{} nodes", many.len()),
    };
    let counts = sweep.counts();
    let gone = sweep.gone();
    let said = |short: bool| {
        let mut parts: Vec<String> = counts.iter().map(|(word, n)| format!("{n} {}", word_of(word, short))).collect();
        if gone > 0 {
            parts.push(format!("{gone} gone"));
        }
        format!("{}: {}{}", sweep.size(), parts.join(", "), restarts(sweep.jobs.iter().map(|j| j.restarts).sum()))
    };
    Row {
        cells: [
            sweep.name.to_owned(),
            "sweep".to_owned(),
            gpus(sweep.jobs.iter().map(|j| j.gpus).sum()),
            node,
            span(now - sweep.created_unix()),
        ],
        state: said(false),
        short_state: said(true),
        colour: sweep.most_pressing(),
    }
}

/// A state's word for a sweep's counts, shortened when the line is tight.
fn word_of(word: &'static str, short: bool) -> &'static str {
    match (short, word) {
        (false, _) => word,
        (true, "running") => "run",
        (true, "pulling") => "pull",
        (true, "pending") => "pend",
        (true, "failed") => "fail",
        (true, "preempted") => "preempt",
        (true, "evicted") => "evict",
        (true, "succeeded") => "ok",
        (true, other) => other,
    }
}

fn restarts(n: u64) -> String {
    match n {
        0 => String::new(),
        1 => ", 1 restart".to_owned(),
        n => format!(", {n} restarts"),
    }
}

/// `1`, `0.5`, `-` for none.
fn gpus(n: f64) -> String {
    if n == 0.0 { "-".to_owned() } else { format!("{n}") }
}

/// The SGR colour of a state: green running, yellow on its way, red
/// stopped short, plain when done.
fn colour_of(state: &State) -> &'static str {
    match state {
        State::Running { .. } => "32",
        State::Pending { .. } | State::Pulling => "33",
        State::Stuck { .. } | State::Failed { .. } | State::Preempted { .. } | State::Evicted { .. } => "31",
        State::Succeeded => "2",
    }
}

/// `text` in at most `width` characters, its end replaced by `…` if cut.
fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn pad(text: &str, width: usize) -> String {
    let n = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, kind: Option<JobKind>, state: State, restarts: u64) -> Job {
        Job {
            name: name.to_owned(),
            kind,
            state,
            gpus: 1.0,
            node: Some("gpu-node-7".to_owned()),
            pods: vec![format!("{name}-0-0")],
            created: "2026-01-01T12:00:00Z".to_owned(),
            created_unix: 1_767_268_800,
            restarts,
            sweep: None,
        }
    }

    const NOW: i64 = 1_767_268_800 + 7980;

    #[test]
    fn lines_fit_80_columns_and_long_values_end_in_an_ellipsis() {
        let long = "a-very-long-job-name-that-goes-on-and-on-for-ever-and-ever";
        let jobs = [
            job("short", Some(JobKind::Interactive), State::Running { since: Some(1_767_268_800) }, 0),
            job(
                long,
                Some(JobKind::Distributed { nodes: 3 }),
                State::Pending { reason: Some("0/12 nodes are available: 12 Insufficient nvidia.com/gpu".into()) },
                2,
            ),
        ];
        let text = render(&jobs, NOW, false);
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{line:?} is {} wide", line.chars().count());
        }
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NAME                         KIND        GPUS NODE       AGE   STATE");
        assert_eq!(lines[1], "short                        interactive 1    gpu-node-7 2h13m running for 2h13m");
        assert!(lines[2].starts_with("a-very-long-job-name-that-g… dist x3     1    gpu-node-7 2h13m pending: 0/12 "));
        assert!(lines[2].ends_with('…'), "{}", lines[2]);
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn colour_only_on_the_state_and_only_when_asked() {
        let jobs = [job("j", None, State::Failed { exit_code: Some(3), reason: "Error".into() }, 1)];
        let text = render(&jobs, NOW, true);
        let line = text.lines().nth(1).unwrap();
        assert_eq!(line, "j    -    1    gpu-node-7 2h13m \x1b[31mfailed: exit code 3, Error, 1 restart\x1b[0m");
        assert!(!text.lines().next().unwrap().contains('\x1b'));
    }

    #[test]
    fn a_sweep_is_one_line_of_counts_shortened_when_the_line_is_tight() {
        use crate::cluster::jobs::Membership;
        use crate::cluster::jobs::sweep::entries;
        let member = |name: &str, index: u32, state: State| Job {
            node: Some(format!("node-{}", index % 2)),
            sweep: Some(Membership { sweep: "lr".into(), size: Some(4), index: Some(index), point: None }),
            ..job(name, Some(JobKind::Train), state, 0)
        };
        let failed = State::Failed { exit_code: Some(1), reason: "Error".into() };
        let mut jobs = vec![
            member("lr-00", 0, State::Running { since: None }),
            member("lr-01", 1, State::Pending { reason: None }),
            member("lr-02", 2, failed),
            member("lr-03", 3, State::Succeeded),
        ];
        let text = render_entries(&entries(&jobs), NOW, false);
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "lr   sweep 4    2 nodes 2h13m 4: 1 running, 1 pending, 1 failed, 1 succeeded"
        );
        // Beside a job that takes the columns' room: the short words.
        jobs.push(job("a-long-job-name", Some(JobKind::Interactive), State::Succeeded, 0));
        let text = render_entries(&entries(&jobs), NOW, true);
        let line = text.lines().find(|l| l.starts_with("lr ")).unwrap();
        assert!(line.ends_with(" \x1b[31m4: 1 run, 1 pend, 1 fail, 1 ok\x1b[0m"), "{line:?}");
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH + "\x1b[31m\x1b[0m".len(), "{line:?}");
        }
    }
}
