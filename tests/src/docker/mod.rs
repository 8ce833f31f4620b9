//! The image built and run by a real Docker engine, as run:ai runs a pod.
//!
//! ```no_run
//! use nb_tests::docker::{PodSpec, SquashedScratch};
//! # fn main() -> Result<(), nb_tests::sandbox::Error> {
//! let scratch = SquashedScratch::new()?;          // RCP layout, root squashed
//! let out = PodSpec::sh("id")                     // pod-init (the ENTRYPOINT) runs it
//!     .user(251_617, 83_070)
//!     .env("NB_USER", "ada")
//!     .volume(scratch.volume())                   // at /mloscratch
//!     .run()?;                                    // docker run --rm, on the tests' engine
//! out.assert_success();
//! # Ok(()) }
//! ```
//!
//! - [`daemon`]: the tests' own engine (containerd + dockerd under
//!   `<target>/docker/`), started on first use, stopped when the test
//!   process exits; see the `daemon` module for how it keeps off the
//!   machine's own Docker and off other runs.
//! - [`image`]: the image under test, built once per process by
//!   `cargo xtask image` on the sandbox's Debian rootfs (`docker import`).
//! - [`SquashedScratch`]: the sandbox's root-squashing FUSE mount, on the
//!   host, bound into containers at [`SCRATCH`].
//! - [`PodSpec`] / [`Container`]: `docker run` of the image, to its end or
//!   in the background (exec, logs, stop, restart; removed on drop).
//! - [`Registry`]: a real registry on 127.0.0.1 for the publishing tests
//!   (`cargo xtask image --push`), with its HTTP API at hand.
//!
//! Needs root and Debian's `docker.io` (`.ci/install-deps`); without them
//! every entry point returns an [`Error`](crate::sandbox::Error) that says so.

mod container;
mod daemon;
mod image;
mod registry;
mod scratch;

pub use container::{Container, PodSpec, WAIT_TIMEOUT};
pub use daemon::{Daemon, daemon, docker_dir};
pub use image::{Built, IMAGE, image, xtask, xtask_image};
pub use registry::{MANIFEST_V2, Registry, Reply, free_port};
pub use scratch::{SCRATCH, SquashedScratch};
