//! What `submit` and `pod-init` must agree on.
//!
//! `submit` runs on a researcher's laptop and describes a pod; `pod-init`
//! runs inside that pod as PID 1 and acts on the description. The two never
//! talk except through environment variables, so the names of those
//! variables, their defaults, the paths baked into the image and the rules
//! for what counts as a valid name live here, once.

pub mod env;
pub mod image;
pub mod job_kind;
pub mod pod_env;
pub mod shell;
pub mod validate;

pub use validate::ValidationError;
