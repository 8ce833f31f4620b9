//! What talks to the cluster: external commands as values that can be
//! printed and tested before they run (`invocation`), the kubectl commands
//! built from them, what kubectl reports about the job's pods and their
//! events, the namespace's jobs as its pods show them, and the check before
//! a submission.

pub mod child_output;
pub mod events;
pub mod invocation;
pub mod jobs;
pub mod kubectl;
pub mod kubectl_error;
pub mod pods;
pub mod preflight;
