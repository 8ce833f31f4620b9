//! Support for the integration tests: where the real binaries are, and the
//! fakes and sandbox they run against.
//!
//! Tests only ever run the release builds that ship (`x86_64-unknown-linux-musl`),
//! so what is tested is what goes into the image.

// The harness is where the tests start processes: the binaries under test, the
// sandbox scripts and the real tools they are checked against.
#![allow(clippy::disallowed_methods, reason = "the test harness runs the binaries and tools it tests against")]

pub mod binaries;
pub mod daily;
pub mod docker;
pub mod fake_apiserver;
pub mod keys;
pub mod researcher;
pub mod runai_double;
pub mod runai_grammar;
pub mod sandbox;
pub mod submit_harness;
pub mod timeline_hook;
