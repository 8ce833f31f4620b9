//! The attempt record's entries: one per start of a job, a symbolic link in
//! the job's record directory. Its name says what the next start must know,
//! its target the rest, for the researcher who reads the record with
//! `ls -l`; the target is never followed.
//!
//! ```text
//! <seq>.<attempt>.<submission>             -> started=<unix s> host=<host> node=<node|->
//! <seq>.<attempt>.<submission>.<end>.<ms>     the same entry, renamed when the start ended
//! ```
//! `<seq>` numbers the job's starts (six digits or more, so that `ls` sorts
//! them), `<end>` is `exit-<code>` or `SIG<NAME>`, `<ms>` the duration.
//! Submissions are DNS labels, so a dot never occurs inside a field.
//!
//! A name is untrusted input (the user can rename entries): one that does
//! not parse, or is not written as pod-init writes it, is not pod-init's
//! and is left alone, never a reason to stop.

/// How many starts the record keeps.
pub const MAX_ENTRIES: usize = 100;

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

    fn as_field(&self) -> String {
        match self {
            Ending::Exited(code) => format!("exit-{code}"),
            Ending::Signaled(name) => name.clone(),
        }
    }

    fn parse(field: &str) -> Option<Ending> {
        match field.strip_prefix("exit-") {
            Some(code) => written(code, 1).and_then(|code| u8::try_from(code).ok()).map(Ending::Exited),
            None => is_signal_name(field).then(|| Ending::Signaled(field.to_owned())),
        }
    }
}

/// One start, as its entry's name says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub attempt: u32,
    pub submission: String,
    /// How it ended and after how many milliseconds; `None` while it runs,
    /// and for ever when pod-init was killed first.
    pub end: Option<(Ending, u64)>,
}

impl Entry {
    /// The entry's file name.
    pub fn name(&self) -> String {
        let start = format!("{:06}.{}.{}", self.seq, self.attempt, self.submission);
        match &self.end {
            None => start,
            Some((ending, ms)) => format!("{start}.{}.{ms}", ending.as_field()),
        }
    }

    /// The entry a file name stands for; `None` for any other name. Only
    /// a name exactly as [`Entry::name`] writes it (`000001.1.s`, not
    /// `1.1.s`): the rename and the removal use the name it renders. Every
    /// start reads every name of the record, so nothing is allocated but
    /// the entry itself.
    pub fn parse(name: &str) -> Option<Entry> {
        let mut fields = name.split('.');
        let (seq, attempt, submission) = (fields.next()?, fields.next()?, fields.next()?);
        let end = match (fields.next(), fields.next(), fields.next()) {
            (None, _, _) => None,
            (Some(ending), Some(ms), None) => Some((ending, ms)),
            _ => return None,
        };
        if !common::validate::is_dns1123_label(submission) {
            return None;
        }
        let seq = written(seq, 6)?;
        let attempt = written(attempt, 1).and_then(|n| u32::try_from(n).ok()).filter(|&n| n >= 1)?;
        let end = match end {
            None => None,
            Some((ending, ms)) => Some((Ending::parse(ending)?, written(ms, 1)?)),
        };
        Some(Entry { seq, attempt, submission: submission.to_owned(), end })
    }

    /// This entry once its start ended with `ending` after `ms`.
    pub fn ended(&self, ending: Ending, ms: u64) -> Entry {
        Entry { end: Some((ending, ms)), ..self.clone() }
    }
}

/// The target of a new entry's link: what the name does not say.
pub fn details(started: u64, host: &str, node: Option<&str>) -> String {
    format!("started={started} host={} node={}", clean_name(host), node.map_or_else(|| "-".to_owned(), clean_name))
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

impl Start {
    /// The start after `previous`, the newest entry of its submission.
    pub fn after(previous: Option<&Entry>) -> Start {
        match previous {
            None => Start { attempt: 1, previous: None },
            Some(e) => Start {
                attempt: e.attempt.saturating_add(1),
                previous: Some(e.end.as_ref().map_or_else(|| "unknown".to_owned(), |(end, _)| end.as_previous())),
            },
        }
    }
}

/// A new start of a submission, planned from the entries found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The new start's entry.
    pub entry: Entry,
    /// The newest entry of the same submission, if any.
    pub previous: Option<Entry>,
    /// The oldest entries, removed so that the new one makes [`MAX_ENTRIES`].
    pub prune: Vec<Entry>,
}

impl Plan {
    pub fn new(mut found: Vec<Entry>, submission: &str) -> Plan {
        found.sort_by_key(|e| e.seq);
        let previous = found.iter().rev().find(|e| e.submission == submission).cloned();
        let seq = found.last().map_or(1, |e| e.seq.saturating_add(1));
        let attempt = Start::after(previous.as_ref()).attempt;
        let excess = found.len().saturating_sub(MAX_ENTRIES - 1);
        let prune = found.drain(..excess).collect();
        Plan { entry: Entry { seq, attempt, submission: submission.to_owned(), end: None }, previous, prune }
    }
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

/// A number as pod-init writes one, zero-padded to `width` digits
/// (`{:0width$}`): decimal digits only, no more zeros than the padding.
fn written(field: &str, width: usize) -> Option<u64> {
    let digits = field.len() >= width && field.bytes().all(|b| b.is_ascii_digit());
    let padded_only = field.len() == width || !field.starts_with('0');
    if digits && padded_only { field.parse().ok() } else { None }
}

fn is_signal_name(name: &str) -> bool {
    name.strip_prefix("SIG").is_some_and(|rest| {
        !rest.is_empty()
            && rest.len() <= 12
            && rest.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "20260101-120000-k3j9x2";

    fn entry(seq: u64, attempt: u32, submission: &str, end: Option<(Ending, u64)>) -> Entry {
        Entry { seq, attempt, submission: submission.to_owned(), end }
    }

    #[test]
    fn attempts_count_up_within_a_submission_and_restart_with_a_new_one() {
        let first = Plan::new(vec![], SUB);
        assert_eq!((first.entry.name(), first.previous), (format!("000001.1.{SUB}"), None));
        let ended = first.entry.ended(Ending::Exited(3), 1500);
        let second = Plan::new(vec![ended.clone()], SUB);
        assert_eq!(second.entry, entry(2, 2, SUB, None));
        assert_eq!(Start::after(second.previous.as_ref()), Start { attempt: 2, previous: Some("3".into()) });
        // The second was killed before an end was written.
        let third = Plan::new(vec![second.entry.clone(), ended.clone()], SUB);
        assert_eq!(Start::after(third.previous.as_ref()), Start { attempt: 3, previous: Some("unknown".into()) });
        let signaled = third.entry.ended(Ending::Signaled("SIGTERM".into()), 10);
        let fourth = Plan::new(vec![ended.clone(), second.entry.clone(), signaled.clone()], SUB);
        assert_eq!(Start::after(fourth.previous.as_ref()), Start { attempt: 4, previous: Some("SIGTERM".into()) });
        let other = Plan::new(vec![ended, second.entry, signaled], "20260102-000000-aaaaaa");
        assert_eq!((other.entry.seq, other.entry.attempt, other.previous), (4, 1, None));
    }

    #[test]
    fn names_round_trip_and_details_are_cleaned() {
        let running = entry(7, 2, SUB, None);
        assert_eq!(running.name(), format!("000007.2.{SUB}"));
        let ended = running.ended(Ending::Signaled("SIGUSR1".into()), 12);
        assert_eq!(ended.name(), format!("000007.2.{SUB}.SIGUSR1.12"));
        let exited = entry(1_234_567, 1, SUB, Some((Ending::Exited(0), 9)));
        assert_eq!(exited.name(), format!("1234567.1.{SUB}.exit-0.9"));
        for e in [running, ended, exited] {
            assert_eq!(Entry::parse(&e.name()), Some(e));
        }
        assert_eq!(
            details(1_700_000_000, "pod a\tb", Some("node-1.cluster")),
            "started=1700000000 host=pod_a_b node=node-1.cluster"
        );
        assert_eq!(details(5, "", None), "started=5 host=_ node=-");
    }

    #[test]
    fn only_the_last_hundred_starts_are_kept() {
        let found: Vec<Entry> = (1..=150).rev().map(|seq| entry(seq, 1, SUB, None)).collect();
        let plan = Plan::new(found, SUB);
        assert_eq!(plan.prune.len(), 150 - (MAX_ENTRIES - 1));
        assert_eq!((plan.prune.first().map(|e| e.seq), plan.prune.last().map(|e| e.seq)), (Some(1), Some(51)));
        assert_eq!(plan.entry.seq, 151);
        assert!(Plan::new(vec![entry(1, 1, SUB, None)], SUB).prune.is_empty());
    }

    proptest::proptest! {
        /// What parses is exactly what pod-init writes: a name that parses
        /// renders back to itself, and every entry parses back from its name.
        #[test]
        fn a_name_parses_only_as_written(
            seq in "[0-9+]{1,8}",
            attempt in "[0-9]{1,3}",
            end in proptest::option::of(("(exit-[0-9+]{1,4})|(SIG[A-Z0-9+]{1,5})", "[0-9]{1,4}")),
        ) {
            let name = match &end {
                None => format!("{seq}.{attempt}.{SUB}"),
                Some((ending, ms)) => format!("{seq}.{attempt}.{SUB}.{ending}.{ms}"),
            };
            if let Some(entry) = Entry::parse(&name) {
                proptest::prop_assert_eq!(entry.name(), name);
            }
        }

        #[test]
        fn every_entry_parses_back_from_its_name(seq in 0u64..10_000_000, attempt in 1u32..1000, code in proptest::option::of(0u8..=255), ms in 0u64..100_000) {
            let e = entry(seq, attempt, SUB, code.map(|c| (Ending::Exited(c), ms)));
            proptest::prop_assert_eq!(Entry::parse(&e.name()), Some(e));
        }
    }

    #[test]
    fn any_other_name_is_not_an_entry() {
        let good = format!("000001.1.{SUB}.exit-0.9");
        assert!(Entry::parse(&good).is_some());
        for bad in [
            String::new(),
            ".".to_owned(),
            "..".to_owned(),
            format!("000001.1.{SUB}.exit-0"),
            good.replace("exit-0", "exit-256"),
            good.replace("exit-0", "exit-"),
            good.replace("exit-0", "exit-+0"),
            good.replace("exit-0", "exit-00"),
            good.replace("exit-0", "KILL"),
            good.replace("exit-0", "SIG$(rm)"),
            good.replace(".1.", ".0."),
            good.replace(".1.", ".-1."),
            good.replace("000001", "+1"),
            good.replace("000001", "1"),
            good.replace(".1.", ".01."),
            good.replace("000001", "0000001"),
            good.replace("000001", "00001"),
            good.replace("000001", "00000a"),
            good.replace(".9", ".09"),
            good.replace(SUB, "Not_A_Label"),
            good.replace(".9", ".9ms"),
            format!("{good}.x"),
            "notes.txt".to_owned(),
        ] {
            assert_eq!(Entry::parse(&bad), None, "{bad:?}");
        }
    }
}
