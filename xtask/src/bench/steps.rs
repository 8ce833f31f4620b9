//! Which bootstrap step costs what, from pod-init's own log.
//!
//! pod-init logs one line (or a few) per step, `<step>: <what changed>`,
//! each stamped by tracing with microseconds, and ends with
//! `bootstrap done in <duration>` measured from its own start. A step's cost
//! is the time from the previous line to its last line, so the parts add up
//! to the span of the log; the total line adds what happened before the
//! first line (reading the environment, setting up logging).

use std::time::Duration;

use super::stats::median;

/// One step's cost in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTime {
    pub step: String,
    pub time: Duration,
}

/// What one run's log says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RunLog {
    /// Steps in the order they first appear.
    pub steps: Vec<StepTime>,
    /// pod-init's own total, from `bootstrap done in ...`.
    pub total: Option<Duration>,
}

/// The time of day of an RFC 3339 timestamp (`2026-11-28T21:07:36.569742Z`),
/// which is all that differences within one run need.
fn time_of_day(stamp: &str) -> Option<Duration> {
    let clock = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = clock.splitn(3, ':');
    let hours: u64 = parts.next()?.parse().ok()?;
    let minutes: u64 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    Some(Duration::from_secs(hours * 3600 + minutes * 60) + Duration::from_secs_f64(seconds))
}

/// Parses Rust's `Debug` rendering of a `Duration` (`812.3µs`, `13.1ms`, `1.2s`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "µs" | "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The step a message belongs to: the words before `: `, when they look
/// like a step name (a few lower-case words), else `None`.
fn step_of(message: &str) -> Option<&str> {
    let (head, _) = message.split_once(": ")?;
    let is_name = !head.is_empty() && head.len() <= 24 && head.chars().all(|c| c.is_ascii_lowercase() || c == ' ');
    is_name.then_some(head)
}

/// Reads one run's stderr.
pub fn parse(log: &str) -> RunLog {
    let mut out = RunLog::default();
    let mut previous: Option<Duration> = None;
    for line in log.lines() {
        let mut words = line.splitn(2, char::is_whitespace);
        let Some(at) = words.next().and_then(time_of_day) else { continue };
        // After the stamp: the padded level, then the message.
        let rest = words.next().unwrap_or("").trim_start();
        let message = rest.split_once(char::is_whitespace).map_or("", |(_, m)| m.trim_start());
        // A run that crosses midnight wraps; a day is added back.
        let delta = previous.map(|p| if at >= p { at - p } else { at + Duration::from_secs(86_400) - p });
        previous = Some(at);
        if let Some(total) = message.strip_prefix("bootstrap done in ") {
            // What follows is supervision, not bootstrap.
            out.total = parse_duration(total);
            break;
        }
        let (Some(step), Some(delta)) = (step_of(message), delta) else { continue };
        match out.steps.iter_mut().find(|s| s.step == step) {
            Some(known) => known.time += delta,
            None => out.steps.push(StepTime { step: step.to_owned(), time: delta }),
        }
    }
    out
}

/// Per-step medians and the median total of a set of runs.
pub type Summary = (Vec<StepTime>, Option<Duration>);

/// Per step, the median over runs (a run without the step counts as 0),
/// in the order steps first appear; and the median total.
pub fn medians(logs: &[String]) -> Summary {
    let runs: Vec<RunLog> = logs.iter().map(|l| parse(l)).collect();
    let mut names: Vec<String> = Vec::new();
    for run in &runs {
        for step in &run.steps {
            if !names.contains(&step.step) {
                names.push(step.step.clone());
            }
        }
    }
    let steps = names
        .into_iter()
        .map(|name| {
            let samples: Vec<Duration> = runs
                .iter()
                .map(|r| r.steps.iter().find(|s| s.step == name).map_or(Duration::ZERO, |s| s.time))
                .collect();
            StepTime { time: median(&samples).unwrap_or_default(), step: name }
        })
        .collect();
    let totals: Vec<Duration> = runs.iter().filter_map(|r| r.total).collect();
    (steps, median(&totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A first start as pod-init logged it in the sandbox (shortened).
    const FIRST: &str = "\
2026-11-28T21:07:36.569742Z  INFO bootstrapping bench (uid 123456) in group MLO-unit (gid 83070)
2026-11-28T21:07:36.577983Z  INFO accounts: renamed group seedgrp (gid 83070) to MLO-unit
2026-11-28T21:07:36.577989Z  INFO accounts: added user bench (uid 123456)
2026-11-28T21:07:36.578659Z  INFO sudo: wrote /etc/sudoers.d/nb-user
2026-11-28T21:07:36.579138Z  INFO scratch: created /scratch/homes/bench (0770)
2026-11-28T21:07:36.579265Z  INFO scratch: created /scratch/hf_cache (0770)
2026-11-28T21:07:36.580801Z  INFO git config: created /scratch/homes/bench/.gitconfig (0660)
2026-11-28T21:07:36.582698Z  INFO command: /bin/true as uid 123456 gid 83070 groups [83070, 4, 27] in /scratch/homes/bench
2026-11-28T21:07:36.582768Z  INFO bootstrap done in 13.1ms
";

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn attributes_time_between_lines_to_steps() {
        let log = parse(FIRST);
        let steps: Vec<(&str, Duration)> = log.steps.iter().map(|s| (s.step.as_str(), s.time)).collect();
        assert_eq!(
            steps,
            vec![
                ("accounts", us(8247)),
                ("sudo", us(670)),
                ("scratch", us(606)),
                ("git config", us(1536)),
                ("command", us(1897)),
            ]
        );
        assert_eq!(log.total, Some(Duration::from_micros(13_100)));
    }

    #[test]
    fn durations_in_every_unit_debug_prints() {
        assert_eq!(parse_duration("812.3µs"), Some(Duration::from_nanos(812_300)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("40ns"), Some(Duration::from_nanos(40)));
        assert_eq!(parse_duration("fast"), None);
    }

    #[test]
    fn other_lines_are_ignored_and_medians_fill_missing_steps() {
        let noisy = format!(
            "pod-init: something unstamped\n{FIRST}2026-11-28T21:07:36.600000Z  INFO the command ended: exit 0 pid=7\n"
        );
        let second = "\
2026-11-28T23:59:59.999000Z  INFO bootstrapping bench
2026-11-29T00:00:00.001000Z  INFO accounts: nothing to change
2026-11-29T00:00:00.001500Z  INFO bootstrap done in 2.6ms
";
        let (steps, total) = medians(&[noisy, second.to_owned(), second.to_owned()]);
        let accounts = steps.iter().find(|s| s.step == "accounts").map(|s| s.time);
        assert_eq!(accounts, Some(us(2000)));
        let sudo = steps.iter().find(|s| s.step == "sudo").map(|s| s.time);
        assert_eq!(sudo, Some(Duration::ZERO));
        assert_eq!(total, Some(Duration::from_micros(2600)));
        assert!(steps.iter().all(|s| s.step != "the command ended"));
    }
}
