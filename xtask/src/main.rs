//! `cargo xtask <task>`: the project's automation, in Rust so it runs
//! wherever cargo does.
//!
//! - `dist`: static musl release builds of `submit` and `pod-init`
//! - `image`: the container image (build, tag, push), replacing publish.sh
//! - `test`: the whole test suite with the shipped binaries (README)
//! - `bench`: the benchmark table in docs/benchmarks.md
//! - `wheels`: `submit` as Python wheels for Linux and macOS
//!
//! Each task is a module; this file only parses flags and reports errors as
//! `xtask: message`.

#[cfg(target_os = "linux")]
mod bench;
mod cmd;
mod dist;
mod elf;
mod host;
mod image;
mod macho;
mod project;
mod suite;
mod wheels;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Project automation: static builds, the image, tests, benchmarks"
)]
struct Flags {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Build submit and pod-init for x86_64-unknown-linux-musl, check they
    /// are static, copy them to <target>/dist/ and print their sizes.
    Dist {
        /// Print the commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Build the container image (docker/Dockerfile) and optionally push it.
    Image(Box<image::ImageArgs>),
    /// Build the shipped binaries, prepare the sandbox and run every test
    /// (as root). Extra arguments go to `cargo test`.
    Test {
        /// Arguments passed through to `cargo test`, e.g. `-- --nocapture`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_test_args: Vec<String>,
    },
    /// Build the Python wheels of submit (Linux x86_64 and aarch64, macOS
    /// x86_64 and arm64) into <target>/wheels/, with maturin and zig from
    /// PyPI in a venv under <target>/wheel-tools/.
    Wheels {
        /// Print the commands instead of running them.
        #[arg(long)]
        dry_run: bool,
    },
    #[cfg(target_os = "linux")]
    /// Measure start-up cost, memory, sizes and submit latency; print the
    /// table and write docs/benchmarks.md (the sandbox part needs root).
    Bench(bench::BenchArgs),
}

fn run(flags: Flags) -> anyhow::Result<()> {
    match flags.task {
        Task::Dist { dry_run } => {
            let mode = if dry_run { cmd::Mode::DryRun } else { cmd::Mode::Run };
            dist::run(&cmd::Runner::new(mode)).map(|_| ())
        }
        Task::Image(args) => image::run(&args),
        Task::Wheels { dry_run } => {
            let mode = if dry_run { cmd::Mode::DryRun } else { cmd::Mode::Run };
            wheels::run(&cmd::Runner::new(mode))
        }
        Task::Test { cargo_test_args } => suite::run(&cargo_test_args),
        #[cfg(target_os = "linux")]
        Task::Bench(args) => bench::run(&args),
    }
}

fn main() -> ExitCode {
    match run(Flags::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            ExitCode::FAILURE
        }
    }
}
