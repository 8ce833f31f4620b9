//! `cargo xtask bench`: the numbers behind "faster and lighter", measured
//! the same way every time, printed as one table and written to
//! docs/benchmarks.md with the machine, the date and the method.
//!
//! Each part is its own module: sizes of the shipped binaries here, the
//! sandbox runs of pod-init in `sandbox`, its own per-step log times in
//! `steps`, submit's latency and process count in `submit`.

mod stats;
mod table;

use std::fs;

use anyhow::{Context, Result, bail};

use crate::cmd::{Cmd, Mode, Runner};
use crate::dist::{self, Dist, POD_INIT_BUDGET, human_size};
use crate::host;
use crate::project;
use table::{Report, Row, Section};

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Runs per timed measurement (the median is reported; at least 20).
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u32).range(20..))]
    pub runs: u32,
    /// Print the table only; leave docs/benchmarks.md as it is.
    #[arg(long)]
    pub no_write: bool,
}

fn sizes(dist: &Dist) -> Result<Section> {
    let mut rows = Vec::new();
    for (name, path) in dist.paths() {
        let size = fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?.len();
        let what = format!("{name}, stripped static binary");
        rows.push(if name == "pod-init" {
            Row::with_target(what, human_size(size), format!("<= {}", human_size(POD_INIT_BUDGET)), size <= POD_INIT_BUDGET)
        } else {
            Row::info(what, human_size(size))
        });
    }
    Ok(Section { title: "size".to_owned(), rows })
}

fn machine() -> String {
    format!(
        "{} x {}, Linux {}",
        host::cpu_count(),
        host::cpu_model(),
        host::kernel_release()
    )
}

fn today() -> Result<String> {
    Ok(Cmd::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).read()?.trim().to_owned())
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if !host::is_root() {
        bail!(
            "the benchmark needs root: it runs pod-init as PID 1 in the sandbox (namespaces, chroot), as the tests do (sudo -E cargo xtask bench)"
        );
    }
    let runner = Runner::new(Mode::Run);
    let dist = dist::run(&runner)?;

    let sections = vec![sizes(&dist)?];
    let method = vec![
        format!("binaries: `cargo xtask dist` (release profile: opt-level s, LTO, one codegen unit, panic abort, strip), target {}", project::MUSL_TARGET),
        format!("timings: median of {} runs each, wall clock measured by xtask around the whole command", args.runs),
    ];
    let report = Report {
        machine: machine(),
        date: today()?,
        method,
        sections,
        notes: Vec::new(),
    };

    let table = report.table();
    // The table is this task's output.
    #[allow(clippy::print_stdout)]
    {
        print!("{table}");
    }
    if !args.no_write {
        let path = project::root().join("docs/benchmarks.md");
        fs::write(&path, report.markdown()).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}
