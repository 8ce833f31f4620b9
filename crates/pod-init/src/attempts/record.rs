//! The attempt record's text: one line per start of a job, the newest
//! last, at most [`MAX_ENTRIES`].
//!
//! The file lives on shared scratch and the user can edit it, so its text is
//! untrusted input: every field is checked, and a record that does not
//! parse is treated as no record at all (the next start is attempt 1 of its
//! submission), never as a reason to stop or panic.
//!
//! ```text
//! nb-attempts 1
//! <submission> <attempt> <start, unix s> <host> <node|-> <end|-> <duration ms|->
//! ```
//! with the end `exit:<code>` or `signal:SIG<NAME>`, fields separated by a tab.

use std::fmt::Write as _;

/// The first line of a record.
const HEADER: &str = "nb-attempts 1";

/// How many starts the record keeps.
pub const MAX_ENTRIES: usize = 100;

/// The largest record read: 100 entries of the longest fields fit with room
/// to spare; anything bigger was not written by pod-init.
pub const MAX_BYTES: usize = 64 * 1024;

/// Longest host or node name (a DNS name).
const MAX_NAME: usize = 253;

/// How a start ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The command exited with this code.
    Exited(u8),
    /// A signal ended it; its name (`SIGTERM`).
    Signaled(String),
}

impl Ending {
    /// As the next start's `NB_PREVIOUS_EXIT` says it: `3`, `SIGKILL`.
    pub fn as_previous(&self) -> String {
        match self {
            Ending::Exited(code) => code.to_string(),
            Ending::Signaled(name) => name.clone(),
        }
    }
}

/// One start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub submission: String,
    pub attempt: u32,
    /// Unix seconds.
    pub started: u64,
    pub host: String,
    /// `NODE_NAME`, when the pod has it.
    pub node: Option<String>,
    /// How it ended and after how many milliseconds; `None` while it runs,
    /// and for ever when pod-init was killed first.
    pub end: Option<(Ending, u64)>,
}

/// The record of one job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub entries: Vec<Entry>,
}

/// What a start learns from the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// 1 for the first start of its submission.
    pub attempt: u32,
    /// How the previous start of the submission ended (`unknown` when it
    /// left no end); `None` for attempt 1.
    pub previous: Option<String>,
}

/// Why a record was not understood (logged; the record is then ignored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct ParseError {
    pub line: usize,
    pub what: &'static str,
}

/// A host or node name as it is written: the characters of DNS names and
/// `_`, others replaced, at most [`MAX_NAME`].
pub fn clean_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .take(MAX_NAME)
        .collect();
    if cleaned.is_empty() { "_".to_owned() } else { cleaned }
}

fn is_name(field: &str) -> bool {
    !field.is_empty() && field.len() <= MAX_NAME && field == clean_name(field)
}

fn is_signal_name(name: &str) -> bool {
    name.strip_prefix("SIG").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 12
            && rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+')
    })
}

impl Record {
    /// Reads a record's text; see the module documentation.
    pub fn parse(text: &str) -> Result<Record, ParseError> {
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(ParseError { line: 1, what: "not an attempt record (first line)" });
        }
        let mut entries = Vec::new();
        for (i, line) in lines.enumerate() {
            let entry = parse_entry(line).map_err(|what| ParseError { line: i + 2, what })?;
            entries.push(entry);
        }
        if entries.len() > MAX_ENTRIES {
            return Err(ParseError { line: MAX_ENTRIES + 2, what: "more entries than pod-init keeps" });
        }
        Ok(Record { entries })
    }

    /// The text of the record.
    pub fn render(&self) -> String {
        let mut text = format!("{HEADER}\n");
        for e in &self.entries {
            let (end, duration) = match &e.end {
                Some((Ending::Exited(code), ms)) => (format!("exit:{code}"), ms.to_string()),
                Some((Ending::Signaled(name), ms)) => (format!("signal:{name}"), ms.to_string()),
                None => ("-".to_owned(), "-".to_owned()),
            };
            let node = e.node.as_deref().unwrap_or("-");
            let _ =
                writeln!(text, "{}\t{}\t{}\t{}\t{node}\t{end}\t{duration}", e.submission, e.attempt, e.started, e.host);
        }
        text
    }

    /// Adds the entry of a new start of `submission` and says which attempt
    /// it is. The oldest entries go beyond [`MAX_ENTRIES`].
    pub fn start(&mut self, submission: &str, started: u64, host: &str, node: Option<&str>) -> Start {
        let last = self.entries.iter().rev().find(|e| e.submission == submission);
        let start = match last {
            None => Start { attempt: 1, previous: None },
            Some(e) => Start {
                attempt: e.attempt.saturating_add(1),
                previous: Some(e.end.as_ref().map_or_else(|| "unknown".to_owned(), |(end, _)| end.as_previous())),
            },
        };
        self.entries.push(Entry {
            submission: submission.to_owned(),
            attempt: start.attempt,
            started,
            host: clean_name(host),
            node: node.map(clean_name),
            end: None,
        });
        let excess = self.entries.len().saturating_sub(MAX_ENTRIES);
        self.entries.drain(..excess);
        start
    }

    /// Records how the newest start ended.
    pub fn finish(&mut self, ending: Ending, duration_ms: u64) {
        if let Some(last) = self.entries.last_mut() {
            last.end = Some((ending, duration_ms));
        }
    }
}

fn parse_entry(line: &str) -> Result<Entry, &'static str> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [submission, attempt, started, host, node, end, duration] = fields[..] else {
        return Err("not 7 tab-separated fields");
    };
    if common::validate::submission("submission", submission).is_err() {
        return Err("bad submission");
    }
    let attempt: u32 = attempt.parse().ok().filter(|&n| n >= 1).ok_or("bad attempt")?;
    let started: u64 = started.parse().map_err(|_| "bad start time")?;
    if !is_name(host) || !(node == "-" || is_name(node)) {
        return Err("bad host or node");
    }
    let end = match (end, duration) {
        ("-", "-") => None,
        (end, duration) => {
            let ms: u64 = duration.parse().map_err(|_| "bad duration")?;
            let ending = if let Some(code) = end.strip_prefix("exit:") {
                Ending::Exited(code.parse().map_err(|_| "bad exit code")?)
            } else if let Some(name) = end.strip_prefix("signal:").filter(|n| is_signal_name(n)) {
                Ending::Signaled(name.to_owned())
            } else {
                return Err("bad end");
            };
            Some((ending, ms))
        }
    };
    Ok(Entry {
        submission: submission.to_owned(),
        attempt,
        started,
        host: host.to_owned(),
        node: (node != "-").then(|| node.to_owned()),
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "20260101-120000-k3j9x2";

    #[test]
    fn attempts_count_up_within_a_submission_and_restart_with_a_new_one() {
        let mut record = Record::default();
        assert_eq!(record.start(SUB, 10, "pod-a", Some("node-1")), Start { attempt: 1, previous: None });
        record.finish(Ending::Exited(3), 1500);
        assert_eq!(record.start(SUB, 20, "pod-a", None), Start { attempt: 2, previous: Some("3".into()) });
        // Killed before an end was written.
        assert_eq!(record.start(SUB, 30, "pod-b", None), Start { attempt: 3, previous: Some("unknown".into()) });
        record.finish(Ending::Signaled("SIGTERM".into()), 10);
        assert_eq!(record.start(SUB, 40, "pod-b", None), Start { attempt: 4, previous: Some("SIGTERM".into()) });
        assert_eq!(record.start("20260102-000000-aaaaaa", 50, "pod-c", None), Start { attempt: 1, previous: None });
    }

    #[test]
    fn the_text_round_trips_and_names_are_cleaned() {
        let mut record = Record::default();
        record.start(SUB, 1_700_000_000, "pod a\tb", Some("node-1.cluster"));
        record.finish(Ending::Signaled("SIGUSR1".into()), 12);
        record.start(SUB, 1_700_000_100, "", None);
        let text = record.render();
        assert_eq!(
            text,
            format!(
                "nb-attempts 1\n{SUB}\t1\t1700000000\tpod_a_b\tnode-1.cluster\tsignal:SIGUSR1\t12\n\
                 {SUB}\t2\t1700000100\t_\t-\t-\t-\n"
            )
        );
        assert_eq!(Record::parse(&text), Ok(record));
    }

    #[test]
    fn only_the_last_hundred_starts_are_kept() {
        let mut record = Record::default();
        for i in 0..150 {
            record.start(SUB, i, "pod", None);
        }
        assert_eq!(record.entries.len(), MAX_ENTRIES);
        assert_eq!(record.entries[0].attempt, 51);
        assert_eq!(Record::parse(&record.render()).map(|r| r.entries.len()), Ok(MAX_ENTRIES));
    }

    #[test]
    fn anything_else_is_refused_without_panicking() {
        let good = format!("nb-attempts 1\n{SUB}\t1\t5\th\t-\texit:0\t9\n");
        assert!(Record::parse(&good).is_ok());
        for bad in [
            "",
            "nb-attempts 2\n",
            &good.replace("exit:0", "exit:256"),
            &good.replace("exit:0", "signal:KILL"),
            &good.replace("exit:0", "signal:SIG$(rm)"),
            &good.replace("\t1\t", "\t0\t"),
            &good.replace(SUB, "../../etc"),
            &good.replace("\th\t", "\t/h\t"),
            &good.replace("\t9\n", "\n"),
            &good.replace("\t9\n", "\t-\n"),
            &format!("{good}{}", format!("{SUB}\t1\t5\th\t-\t-\t-\n").repeat(MAX_ENTRIES)),
        ] {
            assert!(Record::parse(bad).is_err(), "{bad:?}");
        }
    }
}
