//! The benchmark report: one table, plus the machine, date and method that
//! make its numbers comparable with the next run's.
//!
//! Rendering is pure (a `Report` in, Markdown out), so the layout is tested
//! without measuring anything.

use std::fmt::Write as _;

/// One measured quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What was measured, e.g. `pod-init restart, median of 21`.
    pub what: String,
    /// The number with its unit, e.g. `1.2 ms`.
    pub value: String,
    /// The project's target, if there is one, e.g. `<= 2 ms`.
    pub target: String,
    /// Whether the target is met: `yes`, `no`, or empty without a target.
    pub met: String,
}

impl Row {
    pub fn info(what: impl Into<String>, value: impl Into<String>) -> Self {
        Row { what: what.into(), value: value.into(), target: String::new(), met: String::new() }
    }

    pub fn with_target(
        what: impl Into<String>,
        value: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) -> Self {
        Row {
            what: what.into(),
            value: value.into(),
            target: target.into(),
            met: if met { "yes" } else { "no" }.to_owned(),
        }
    }
}

/// A group of rows under a heading row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub rows: Vec<Row>,
}

/// Everything `docs/benchmarks.md` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub machine: String,
    pub date: String,
    pub method: Vec<String>,
    pub sections: Vec<Section>,
    /// Where a target is missed: which step costs it and what would fix it.
    pub notes: Vec<String>,
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

impl Report {
    /// The table alone (what `xtask bench` prints).
    pub fn table(&self) -> String {
        let mut out = String::from("| measurement | value | target | met |\n| --- | ---: | --- | --- |\n");
        for section in &self.sections {
            // Infallible: writing to a String.
            let _ = writeln!(out, "| **{}** | | | |", cell(&section.title));
            for row in &section.rows {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    cell(&row.what),
                    cell(&row.value),
                    cell(&row.target),
                    cell(&row.met)
                );
            }
        }
        out
    }

    /// The whole document.
    pub fn markdown(&self) -> String {
        let mut out = String::from("# Benchmarks\n\n");
        out.push_str("Written by `cargo xtask bench` (as root); run it again to refresh. ");
        out.push_str("Targets are the project's budgets, checked by reading this table, never by a timed test.\n\n");
        let _ = writeln!(out, "- machine: {}", self.machine);
        let _ = writeln!(out, "- date: {}\n", self.date);
        out.push_str(&self.table());
        if !self.notes.is_empty() {
            out.push_str("\n## Targets missed\n\n");
            for note in &self.notes {
                let _ = writeln!(out, "- {note}");
            }
        }
        out.push_str("\n## Method\n\n");
        for line in &self.method {
            let _ = writeln!(out, "- {line}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_sections_rows_and_escapes_pipes() {
        let report = Report {
            machine: "2 x Test CPU, Linux 6.1".to_owned(),
            date: "2026-11-28".to_owned(),
            method: vec!["medians of 21 runs".to_owned()],
            sections: vec![Section {
                title: "sizes".to_owned(),
                rows: vec![Row::with_target("pod-init", "600.0 KiB", "<= 1 MiB", true), Row::info("a|b", "1")],
            }],
            notes: vec![],
        };
        assert_eq!(
            report.table(),
            "| measurement | value | target | met |\n| --- | ---: | --- | --- |\n\
             | **sizes** | | | |\n\
             | pod-init | 600.0 KiB | <= 1 MiB | yes |\n\
             | a\\|b | 1 |  |  |\n"
        );
        let doc = report.markdown();
        assert!(doc.contains("- machine: 2 x Test CPU, Linux 6.1\n"), "{doc}");
        assert!(doc.ends_with("## Method\n\n- medians of 21 runs\n"), "{doc}");
        assert!(!doc.contains("Targets missed"));
    }
}
