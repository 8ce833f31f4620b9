//! pod-init: the container's ENTRYPOINT and PID 1.
//!
//! Sequence: read the `NB_*` contract, do the root work (accounts, sudo,
//! scratch as the seed user, shell state and SSH as the user), then hand a
//! [`launch::Launch`] to the supervisor, which forks a child that drops
//! privileges and execs the command while PID 1 stays to forward signals
//! and reap zombies.

mod launch;

fn main() {}
