//! A `runai` test double: checks its command line against the documented
//! grammar of the v1 CLI (see `nb_tests::runai_grammar`) and records it.
//!
//! Environment:
//! - `RUNAI_DOUBLE_LOG`: a file to append one JSON line per call to:
//!   `{"argv": [...], "accepted": bool, "error": "...", "unix_nanos": n}`.
//!   Counting its lines counts runai processes; the time orders the call
//!   against the fake API server's requests.
//! - `RUNAI_DOUBLE_EXIT`: after an accepted submit, fail with this code
//!   (stands in for a cluster that refuses the job).
//! - `RUNAI_DOUBLE_APISERVER`: after an accepted submit, report the job to
//!   this fake API server, which starts the pod timeline armed for it
//!   (`nb_tests::timeline_hook`).
//!
//! A rejected command line exits 1 with `Error: <reason>` on stderr, as the
//! real CLI does.

// A command-line double talks on stdout by design.
#![allow(clippy::print_stdout)]

use std::io::Write as _;
use std::process::ExitCode;

use nb_tests::runai_grammar::{self, Command};

fn record(argv: &[String], error: Option<&str>) {
    let Some(path) = std::env::var_os("RUNAI_DOUBLE_LOG") else { return };
    let unix_nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let line = serde_json::json!({
        "argv": argv, "accepted": error.is_none(), "error": error, "unix_nanos": unix_nanos.to_string(),
    });
    let written =
        std::fs::OpenOptions::new().create(true).append(true).open(&path).and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = written {
        eprintln!("runai (test double): cannot write {}: {e}", path.to_string_lossy());
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match runai_grammar::parse(&argv) {
        Ok(parsed) => parsed,
        Err(e) => {
            record(&argv, Some(&e.0));
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    record(&argv, None);
    match &parsed.command {
        Command::Submit | Command::SubmitDistPytorch => {
            if let Some(code) = std::env::var("RUNAI_DOUBLE_EXIT").ok().and_then(|c| c.parse::<u8>().ok()) {
                eprintln!("Error: the job was refused (test double, RUNAI_DOUBLE_EXIT={code})");
                return ExitCode::from(code);
            }
            let name = parsed.value("name").unwrap_or_default();
            if let Err(e) = nb_tests::timeline_hook::report_submission(name, parsed.value("image").unwrap_or_default())
            {
                eprintln!("runai (test double): {e}");
            }
            println!("The job '{name}' has been submitted successfully");
        }
        Command::DescribeJob(name) => println!("Name: {name}\nStatus: Running (test double)"),
        Command::Logs(name) => println!("(test double: no logs for {name})"),
        Command::Exec(name) => println!("(test double: would exec in {name})"),
        Command::DeleteJob(name) => println!("The job '{name}' has been deleted (test double)"),
        Command::List => println!("NAME  STATUS"),
        Command::Version => println!("Version: 2.18.94 (test double)"),
    }
    ExitCode::SUCCESS
}
