//! `cargo xtask bench`: the numbers behind "faster and lighter", measured
//! the same way every time, printed as one table and written to
//! docs/benchmarks.md with the machine, the date and the method.
//!
//! Each part is its own module: sizes of the shipped binaries here, the
//! sandbox runs of pod-init in `sandbox` and their rows in `starts`,
//! `docker run`s of the image in `docker`, its own per-step log times in
//! `steps`, submit's latency and process count in `submit`.

mod docker;
mod researcher;
mod sandbox;
mod starts;
mod stats;
mod steps;
mod submit;
mod sweep;
mod table;

use std::fs;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::cmd::{Cmd, Mode, Runner};
use crate::dist::{self, Dist, POD_INIT_BUDGET, human_size};
use crate::host;
use crate::project;
use stats::ms;
use table::{Report, Row, Section};

/// PID 1 keeps at most 1 MiB resident while the job runs.
const RSS_TARGET_KIB: u64 = 1024;

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Runs per timed measurement (the median is reported; at least 20).
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u32).range(20..))]
    pub runs: u32,
    /// Print the table only; leave docs/benchmarks.md as it is.
    #[arg(long)]
    pub no_write: bool,
    /// Only the submit rows (no sandbox, no Docker), printed; the file is
    /// left as it is, since it holds the whole bench
    #[arg(long)]
    pub submit_only: bool,
    /// Only the pod starts in the sandbox and pod-init's per-step times,
    /// printed; the file is left as it is
    #[arg(long, conflicts_with = "submit_only")]
    pub starts_only: bool,
}

fn sizes(dist: &Dist, notes: &mut Vec<String>) -> Result<Section> {
    let mut rows = Vec::new();
    for (name, path) in dist.paths() {
        let size = fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?.len();
        let what = format!("{name}, stripped static binary");
        if name == "pod-init" && size > POD_INIT_BUDGET {
            notes.push(format!(
                "pod-init is {} stripped, over its {} budget",
                human_size(size),
                human_size(POD_INIT_BUDGET)
            ));
        }
        rows.push(if name == "pod-init" {
            Row::with_target(
                what,
                human_size(size),
                format!("<= {}", human_size(POD_INIT_BUDGET)),
                size <= POD_INIT_BUDGET,
            )
        } else {
            Row::info(what, human_size(size))
        });
    }
    Ok(Section { title: "size".to_owned(), rows })
}

fn image_runs(runs: u32) -> Result<Section> {
    eprintln!("bench: docker engine and image");
    let setup = docker::setup()?;
    let mut rows = vec![
        Row::info("the tests' engine (containerd + dockerd) answering", ms(setup.engine)),
        Row::info("`docker import` of the sandbox rootfs (0 when kept from an earlier run)", ms(setup.import)),
        Row::info("`cargo xtask image` on it (the engine's build cache kept from earlier runs)", ms(setup.build)),
    ];
    for (scratch, label) in [(docker::Scratch::Fresh, "fresh scratch"), (docker::Scratch::Kept, "scratch kept")] {
        eprintln!("bench: docker run, {label}, {runs} runs");
        let times = docker::measure(scratch, runs)?;
        rows.push(Row::info(format!("{label}: `docker run` of the image, pod-init bootstrapping"), ms(times.pod_init)));
        rows.push(Row::info(format!("{label}: the same with `--entrypoint /bin/true`"), ms(times.baseline)));
        rows.push(Row::info(
            format!("{label}: pod-init overhead (median of paired differences)"),
            format!("{:+.2} ms", times.overhead_ms),
        ));
    }
    Ok(Section { title: format!("the image in Docker (median of {runs})"), rows })
}

fn memory(notes: &mut Vec<String>) -> Result<Section> {
    eprintln!("bench: memory of PID 1");
    let memory = sandbox::supervising_memory()?;
    if memory.rss_kib > RSS_TARGET_KIB {
        notes.push(format!(
            "PID 1 keeps {} KiB resident while supervising (target {RSS_TARGET_KIB} KiB); its peak during the bootstrap was {} KiB, so memory the bootstrap touched stays mapped: freeing the account tables before supervising, or exec'ing a lean supervisor, would return it",
            memory.rss_kib, memory.peak_kib
        ));
    }
    let kib = |k: u64| human_size(k * 1024);
    Ok(Section {
        title: "memory of pod-init as PID 1".to_owned(),
        rows: vec![
            Row::with_target(
                "resident (VmRSS) while supervising `sleep`",
                kib(memory.rss_kib),
                format!("<= {}", kib(RSS_TARGET_KIB)),
                memory.rss_kib <= RSS_TARGET_KIB,
            ),
            Row::info("peak resident (VmHWM), bootstrap included", kib(memory.peak_kib)),
        ],
    })
}

/// What a dry run may take (the target of its rows): well under what a
/// person at the terminal notices.
const DRY_RUN_TARGET: Duration = Duration::from_millis(5);

fn submission(runner: &Runner, runs: u32, notes: &mut Vec<String>) -> Result<Section> {
    eprintln!("bench: submit");
    let doubles = submit::build_runai_doubles(runner)?;
    let v1 = submit::dry_run(&doubles.v1, runs, &[])?;
    let v2 = submit::dry_run(&doubles.v2, runs, &[])?;
    let told = submit::dry_run(&doubles.v2, runs, &["--runai-cli", "v1"])?;
    let real = submit::real(&doubles.v1, runs, &[])?;
    let unchecked = submit::real(&doubles.v1, runs, &["--no-preflight"])?;
    if real.kubectl > 2 || real.runai != 1 {
        notes.push(format!(
            "one submission started {} kubectl and {} runai processes (target: at most two kubectl, one runai)",
            real.kubectl, real.runai
        ));
    }
    let preflight_cost = real.wall.saturating_sub(unchecked.wall);
    let wait = submit::wait(&doubles.v1, runs)?;
    let listing_rows = submit::listing_rows(&doubles.v1, runs)?;
    let dry_row = |what: &str, dry: &submit::DryRuns| {
        Row::with_target(
            format!("`submit --dry-run` on examples/demo.env, {what}, median of {runs}"),
            ms(dry.median),
            format!("< {}", ms(DRY_RUN_TARGET)),
            dry.median < DRY_RUN_TARGET,
        )
    };
    let started = v1.kubectl + v1.runai + v2.kubectl + v2.runai;
    Ok(Section {
        title: "submit".to_owned(),
        rows: vec![
            dry_row("v1 runai double on PATH (probed)", &v1),
            dry_row("2.2x v2 runai double on PATH (probed)", &v2),
            dry_row("`--runai-cli v1` (no probe)", &told),
            Row::info("processes started by dry runs besides the probe (kubectl + runai)", started.to_string()),
            Row::info("dialect probes per dry run", (v1.probes / runs.max(1) as usize).to_string()),
            Row::with_target(
                "kubectl processes per real submission",
                real.kubectl.to_string(),
                "<= 2",
                real.kubectl <= 2,
            ),
            Row::info("kubectl processes per real submission with --no-preflight", unchecked.kubectl.to_string()),
            Row::with_target("runai submissions per real submission", real.runai.to_string(), "1", real.runai == 1),
            Row::info("runai dialect probes per real submission", real.probes.to_string()),
            Row::info(
                format!("one real submission, wall, median of {runs} (real kubectl, fake API server, runai double)"),
                ms(real.wall),
            ),
            Row::info(format!("the same with --no-preflight, median of {runs}"), ms(unchecked.wall)),
            Row::info("the pre-flight check's cost (the difference)", ms(preflight_cost)),
            Row::info(
                format!(
                    "`submit --wait` on a job running {} after its submission, wall, median of {runs}",
                    ms(wait.scripted)
                ),
                ms(wait.wall),
            ),
            Row::info(
                "kubectl processes of one `submit --wait` (check, apply, a watch of the pods and one of their Events)",
                wait.kubectl.to_string(),
            ),
            Row::info(
                format!(
                    "one look at the pods (`kubectl get pods -o json`, what polling pays per look), median of {runs}"
                ),
                ms(wait.look),
            ),
        ]
        .into_iter()
        .chain(listing_rows)
        .chain(sweep::rows(&doubles.v1)?)
        .collect(),
    })
}

fn print_table(report: &Report) -> Result<()> {
    // The table is this task's output.
    #[allow(clippy::print_stdout)]
    {
        print!("{}", report.table());
    }
    Ok(())
}

fn machine() -> String {
    format!("{} x {}, Linux {}", host::cpu_count(), host::cpu_model(), host::kernel_release())
}

/// The machine, with its load average at the start (`before`) and now:
/// other work on the machine shows in every wall-clock figure.
fn machine_with_load(before: &str) -> String {
    format!("{}; load average {before} at the start, {} at the end", machine(), host::load_average())
}

fn today() -> Result<String> {
    Ok(Cmd::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).read()?.trim().to_owned())
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if args.submit_only {
        let runner = Runner::new(Mode::Run);
        dist::run(&runner)?;
        let mut notes = Vec::new();
        let sections = vec![submission(&runner, args.runs, &mut notes)?];
        return print_table(&Report { machine: machine(), date: today()?, method: Vec::new(), sections, notes });
    }
    if !host::is_root() {
        bail!(
            "the benchmark needs root: it runs pod-init as PID 1 in the sandbox (namespaces, chroot), as the tests do (sudo -E cargo xtask bench)"
        );
    }
    let runner = Runner::new(Mode::Run);
    let dist = dist::run(&runner)?;
    let load_before = host::load_average();
    if args.starts_only {
        let starts = starts::measure(args.runs)?;
        return print_table(&Report {
            machine: machine_with_load(&load_before),
            date: today()?,
            method: Vec::new(),
            sections: vec![starts.section, starts.steps],
            notes: starts.note.into_iter().collect(),
        });
    }

    let mut notes = Vec::new();
    let size_section = sizes(&dist, &mut notes)?;
    let starts = starts::measure(args.runs)?;
    notes.extend(starts.note);
    let sections = vec![
        size_section,
        starts.section,
        starts.steps,
        image_runs(args.runs)?,
        memory(&mut notes)?,
        submission(&runner, args.runs, &mut notes)?,
    ];
    let method = vec![
        format!("binaries: `cargo xtask dist` (release profile: opt-level s, LTO, one codegen unit, panic abort, strip), target {}", project::MUSL_TARGET),
        format!("timings: median of {} runs each, wall clock measured by xtask around the whole command (a blocking wait)", args.runs),
        "pod starts: `tests/sandbox/ctr-run.sh` containers (PID, mount, UTS and IPC namespaces, overlay over the Debian test rootfs, chroot) started as uid 123456 with pod-init setuid root, as on the cluster; scratch bind-mounted (the tests' root-squash FUSE is Python and would dominate); runs with and without pod-init alternate; overhead = median over the pairs of (run with pod-init minus the run with `/bin/true` as PID 1 right after it), on two clocks: the whole container run as xtask times it, and PID 1's life from its exec to its reaping as the harness times it (`tests/sandbox/pid1.py`, STATE/pid1.life). The harness's own setup and teardown (namespaces, overlay and scratch mounts, two interpreters) is the same for both sides and varies by a few ms from run to run, so the whole-run difference of a bench wanders by more than a millisecond from one bench to the next; the life leaves that out and keeps everything pod-init does, its exec and exit included. The restart's target is judged on the life".to_owned(),
        "scratch requests: one start of each kind through the tests' root-squash FUSE (attribute, entry and negative caches off, the worst case of an NFS client), every request it served counted, less the 2 that a container with `/bin/true` as PID 1 costs; the bench's pod has a job name and submission (so each start keeps its attempt record: a listing, a new link and its rename per start) and no git identity".to_owned(),
        "first pod: a new sandbox per run; new pod: the container layer discarded before each run, scratch kept from a first run (what a Kubernetes container restart is: the image's /etc, the old scratch); restart in place: container layer (run-once marker included, which the restart's PID 1 claims again by taking its lock) and scratch kept, the path where every step finds its work done; no bootstrap: pod-init started without the NB_* variables, so only its exec, the fork of the command and the supervision remain".to_owned(),
        "docker: the tests' own engine (Debian's docker.io, state under target/docker, `--network none`); the image built by `cargo xtask image` on the sandbox rootfs; each `docker run --rm` as uid 123456 with the pod variables, scratch bind-mounted (not squashed), followed by the same run with `--entrypoint /bin/true`; fresh scratch: a new scratch per pair; scratch kept: one scratch a first run filled; every run is a new container (its /etc from the image)".to_owned(),
        "listing: 200 single-pod jobs and, apart, the 200 pods of one sweep (whole pod objects with the `NB_SWEEP_*` variables, one line of `submit list`) on the fake API server; each run is one `submit list` (kubectl behind its call counter) then the bare `kubectl get pods -o json` it runs; what submit adds is the median over the pairs of their difference, against 20% of the bare median".to_owned(),
        "steps: pod-init's tracing lines are stamped to the microsecond; a step's time runs from the previous line to its last line, median over the runs of each kind of start".to_owned(),
        "memory: /proc/<pid>/status of the container's PID 1, read from the host once pod-init's child is `sleep`".to_owned(),
        "submit: the dist binary in the tests' clean room (cleared environment, temp HOME); the dry run reads examples/demo.env; the real submission runs the real kubectl against the tests' fake API server and the runai test double, both behind call counters (the old wrapper started a Python interpreter and two kubectl processes per submission); the pre-flight check's cost is the difference of the medians with and without `--no-preflight`, kubectl's discovery cache warm after the first run as on a laptop; `--wait` follows a scripted pod (unschedulable, creating, running, 250 ms apart) of the fake API server; a probed dry run starts the runai double (a small Rust binary) once for `runai workspace submit --help`, so with the real CLI the probe costs what that CLI takes to print its help, and `--runai-cli v1` (or `RUNAI_CLI=v1`) skips it".to_owned(),
        sweep::METHOD.to_owned(),
    ];
    let report = Report { machine: machine_with_load(&load_before), date: today()?, method, sections, notes };

    print_table(&report)?;
    if !args.no_write {
        let path = project::root().join("docs/benchmarks.md");
        fs::write(&path, report.markdown()).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(())
}
