//! `submit`: the run:ai job submission CLI. This file only maps the outcome
//! of [`app::run`] to an exit code: 0 success, 1 bad input or a failed
//! kubectl, 2 an internal error, or the exit code of a failed runai.

use std::process::ExitCode;

use submit::{app, cli};

fn main() -> ExitCode {
    let cli = match cli::Cli::parse_args(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints usage errors itself; they are bad input (1), while
            // --help and --version are successes.
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 1 } else { 0 });
        }
    };
    match app::run(cli, &app::Context::from_process()) {
        Ok(app::Outcome::Success) => ExitCode::SUCCESS,
        Ok(app::Outcome::External(code)) => ExitCode::from(code),
        Err(err) => ExitCode::from(app::report(&err)),
    }
}
