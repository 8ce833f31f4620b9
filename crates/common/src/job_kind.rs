//! The kind of a job, as `submit` writes it into the pod's environment
//! ([`crate::env::EnvVars::NB_JOB_KIND`]) and reads it back when it lists
//! jobs: the pods themselves do not tell an interactive job from a training
//! one, nor how many nodes a distributed job was given.

use std::fmt;

/// Interactive, training, or distributed training over `nodes` pods (the
/// master and its workers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Interactive,
    Train,
    Distributed { nodes: u32 },
}

impl fmt::Display for JobKind {
    /// `interactive`, `train` or `distributed:<nodes>`: the variable's value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobKind::Interactive => f.write_str("interactive"),
            JobKind::Train => f.write_str("train"),
            JobKind::Distributed { nodes } => write!(f, "distributed:{nodes}"),
        }
    }
}

impl JobKind {
    /// Reads the variable's value; `None` for anything else (a pod from
    /// another tool, a newer `submit`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "interactive" => Some(JobKind::Interactive),
            "train" => Some(JobKind::Train),
            _ => {
                let nodes = value.strip_prefix("distributed:")?.parse().ok()?;
                Some(JobKind::Distributed { nodes })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_and_other_values_are_none() {
        for kind in [JobKind::Interactive, JobKind::Train, JobKind::Distributed { nodes: 3 }] {
            assert_eq!(JobKind::parse(&kind.to_string()), Some(kind));
        }
        assert_eq!(JobKind::Distributed { nodes: 2 }.to_string(), "distributed:2");
        for other in ["", "Train", "distributed", "distributed:x", "distributed:-1"] {
            assert_eq!(JobKind::parse(other), None, "{other:?}");
        }
    }
}
