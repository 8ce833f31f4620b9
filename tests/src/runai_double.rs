//! The `runai` test doubles: one program per CLI (`src/bin/runai*.rs`),
//! each checking its command line against that CLI's documented grammar
//! ([`crate::runai_grammar`]), recording it, and answering as the CLI would.
//!
//! Environment:
//! - `RUNAI_DOUBLE_LOG`: a file to append one JSON line per call to:
//!   `{"argv": [...], "cli": "v1", "accepted": bool, "error": "...", "unix_nanos": n}`.
//!   Counting its lines counts runai processes; the time orders the call
//!   against the fake API server's requests.
//! - `RUNAI_DOUBLE_EXIT`: after an accepted submit, fail with this code
//!   (stands in for a cluster that refuses the job).
//! - `RUNAI_DOUBLE_REFUSE`: `NAME:MESSAGE`: the submission of the job NAME
//!   fails with exit 1 and `Error: MESSAGE` on stderr (one point of a sweep
//!   that the cluster refuses).
//! - `RUNAI_DOUBLE_SUBMIT_MS`: each accepted submission takes this many
//!   milliseconds (the real CLI's round trips), for the sweep benchmark.
//! - `RUNAI_DOUBLE_DELETE_EXIT`: after an accepted delete, fail with this
//!   code, saying the workload is not found.
//! - `RUNAI_DOUBLE_APISERVER`: after an accepted submit, report the job to
//!   this fake API server, which starts the pod timeline armed for it
//!   ([`crate::timeline_hook`]); after an accepted delete, the server
//!   removes the job's pods, and a job it has no pods of is not found.
//!
//! A rejected command line exits 1 with `Error: <reason>` on stderr, as the
//! real CLI does.

// A command-line double talks on stdout by design.
#![allow(clippy::print_stdout)]

use std::io::Write as _;
use std::process::ExitCode;

use crate::runai_grammar::{self, Cli, Command, Parsed, Verb};

fn record(cli: Cli, argv: &[String], error: Option<&str>) {
    let Some(path) = std::env::var_os("RUNAI_DOUBLE_LOG") else { return };
    let unix_nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let line = serde_json::json!({
        "argv": argv, "cli": cli.label(), "accepted": error.is_none(), "error": error,
        "unix_nanos": unix_nanos.to_string(),
    });
    // One write per line: a sweep's submissions append to the log at once.
    let text = format!("{line}\n");
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        eprintln!("runai (test double): cannot write {}: {e}", path.to_string_lossy());
    }
}

/// Runs the double of `cli` on this process's arguments.
pub fn main(cli: Cli) -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match runai_grammar::parse(cli, &argv) {
        Ok(parsed) => parsed,
        Err(e) => {
            record(cli, &argv, Some(&e.0));
            eprintln!("Error: {e}");
            return ExitCode::from(1);
        }
    };
    record(cli, &argv, None);
    if parsed.command.submits() {
        return submit(cli, &parsed);
    }
    match &parsed.command {
        Command::Help(text) => print!("{text}"),
        Command::DescribeJob(name) => println!("Name: {name}\nStatus: Running (test double)"),
        Command::Manage { verb: Verb::Describe, name, .. } => println!("Name: {name}\nPhase: Running (test double)"),
        Command::Logs(name) | Command::Manage { verb: Verb::Logs, name, .. } => {
            println!("(test double: no logs for {name})");
        }
        Command::Exec(name) | Command::Manage { verb: Verb::Exec, name, .. } => {
            println!("(test double: would exec in {name})");
        }
        Command::DeleteJob(name) | Command::WorkloadDelete(name) => return delete(cli, name),
        Command::List => println!("NAME  STATUS"),
        Command::Version => println!("Version: {} (test double)", version(cli)),
        _ => {}
    }
    ExitCode::SUCCESS
}

/// An accepted submission: refused when `RUNAI_DOUBLE_EXIT` says so,
/// otherwise acknowledged as the CLI does.
fn submit(cli: Cli, parsed: &Parsed) -> ExitCode {
    if let Some(ms) = std::env::var("RUNAI_DOUBLE_SUBMIT_MS").ok().and_then(|m| m.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    let name = parsed.name.as_deref().unwrap_or_default();
    let refused = std::env::var("RUNAI_DOUBLE_REFUSE").unwrap_or_default();
    if let Some(message) = refused.split_once(':').filter(|(job, _)| *job == name).map(|(_, m)| m) {
        eprintln!("Error: {message}");
        return ExitCode::from(1);
    }
    if let Some(code) = std::env::var("RUNAI_DOUBLE_EXIT").ok().and_then(|c| c.parse::<u8>().ok()) {
        eprintln!("Error: the job was refused (test double, RUNAI_DOUBLE_EXIT={code})");
        return ExitCode::from(code);
    }
    if let Err(e) = crate::timeline_hook::report_submission(name, parsed.value("image").unwrap_or_default()) {
        eprintln!("runai (test double): {e}");
    }
    match cli {
        Cli::V1 => println!("The job '{name}' has been submitted successfully"),
        Cli::V2Era219 | Cli::V2Era22x => println!("Creating workload {name}... workload {name} submitted"),
    }
    ExitCode::SUCCESS
}

/// An accepted delete: refused when `RUNAI_DOUBLE_DELETE_EXIT` says so (a
/// CLI that cannot reach the cluster), or when the fake API server has no
/// pods of the job (gone since it was listed), as the CLI fails for a job
/// it cannot find.
fn delete(cli: Cli, name: &str) -> ExitCode {
    if let Some(code) = std::env::var("RUNAI_DOUBLE_DELETE_EXIT").ok().and_then(|c| c.parse::<u8>().ok()) {
        eprintln!("Error: workload {name} not found (test double, RUNAI_DOUBLE_DELETE_EXIT={code})");
        return ExitCode::from(code);
    }
    match crate::timeline_hook::report_deletion(name) {
        Ok(true) => {}
        Ok(false) => {
            match cli {
                Cli::V1 => {
                    eprintln!("Error: job {name} not found (test double: the fake API server has no pods of it)")
                }
                Cli::V2Era219 | Cli::V2Era22x => {
                    eprintln!("Error: workload {name} not found (test double: the fake API server has no pods of it)");
                }
            }
            return ExitCode::from(1);
        }
        Err(e) => eprintln!("runai (test double): {e}"),
    }
    println!("The job '{name}' has been deleted (test double)");
    ExitCode::SUCCESS
}

fn version(cli: Cli) -> &'static str {
    match cli {
        Cli::V1 => "2.18.94",
        Cli::V2Era219 => "2.19.41",
        Cli::V2Era22x => "2.25.27",
    }
}
