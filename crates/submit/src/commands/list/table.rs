//! The listing as text: one line per job in 80 columns, long values cut
//! with an ellipsis (never wrapped), the state coloured only when asked.

use common::job_kind::JobKind;

use crate::cluster::jobs::time::span;
use crate::cluster::jobs::{Job, State};

/// The width every line fits in.
pub const WIDTH: usize = 80;

const HEADERS: [&str; 6] = ["NAME", "KIND", "GPUS", "NODE", "AGE", "STATE"];
/// The widest a column other than the state may get.
const CAPS: [usize; 5] = [28, 11, 5, 14, 6];
/// The narrowest the state may get before the other columns give way.
const MIN_STATE: usize = 12;

/// The table of `jobs` at Unix time `now`, header first, each line ending
/// in a newline.
pub fn render(jobs: &[Job], now: i64, colour: bool) -> String {
    let rows: Vec<[String; 6]> = jobs.iter().map(|j| row(j, now)).collect();
    let mut widths = [0usize; 5];
    for (i, w) in widths.iter_mut().enumerate() {
        let widest = rows.iter().map(|r| r[i].chars().count()).chain([HEADERS[i].len()]).max().unwrap_or(0);
        *w = widest.min(CAPS[i]);
    }
    // The name gives way first when the state would get too narrow.
    let fixed = |w: &[usize; 5]| w.iter().sum::<usize>() + w.len();
    while fixed(&widths) + MIN_STATE > WIDTH && widths[0] > HEADERS[0].len() {
        widths[0] -= 1;
    }
    let state_width = WIDTH.saturating_sub(fixed(&widths));
    let mut out = String::new();
    let header: [String; 6] = HEADERS.map(str::to_owned);
    for (r, job) in std::iter::once((&header, None)).chain(rows.iter().zip(jobs).map(|(r, j)| (r, Some(j)))) {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            line.push_str(&pad(&cut(&r[i], *w), *w));
            line.push(' ');
        }
        let state = cut(&r[5], state_width);
        match job.filter(|_| colour) {
            Some(job) => line.push_str(&format!("\x1b[{}m{state}\x1b[0m", colour_of(&job.state))),
            None => line.push_str(&state),
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn row(job: &Job, now: i64) -> [String; 6] {
    let kind = match job.kind {
        Some(JobKind::Interactive) => "interactive".to_owned(),
        Some(JobKind::Train) => "train".to_owned(),
        Some(JobKind::Distributed { nodes }) => format!("dist x{nodes}"),
        None => "-".to_owned(),
    };
    let mut state = job.state.words(now);
    match job.restarts {
        0 => {}
        1 => state.push_str(", 1 restart"),
        n => state.push_str(&format!(", {n} restarts")),
    }
    [
        job.name.clone(),
        kind,
        gpus(job.gpus),
        job.node.clone().unwrap_or_else(|| "-".to_owned()),
        span(now - job.created_unix),
        state,
    ]
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
}
