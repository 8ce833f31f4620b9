//! [`ScratchRequests`]: how many requests the root-squash FUSE served in a
//! run started with [`RunSpec::count_scratch_requests`](super::RunSpec::count_scratch_requests).
//! With its caches off, each is what an NFS client would send the server
//! at worst: a round trip.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::error::{Error, Result, io_err};

/// The file `rootsquash.py --count` writes in the run's state directory.
const FILE: &str = "rootsquash.requests";

/// The requests of one run, per FUSE operation (`getattr`, `mkdir`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScratchRequests {
    pub per_operation: BTreeMap<String, u64>,
}

impl ScratchRequests {
    /// All requests of the run.
    pub fn total(&self) -> u64 {
        self.per_operation.values().sum()
    }

    /// Reads the count file of the last counted run in `state`.
    pub(super) fn read(state: &Path) -> Result<Self> {
        let path = state.join(FILE);
        let text = fs::read_to_string(&path).map_err(io_err(
            "cannot read the request count (was the run squashed and started with count_scratch_requests?)",
            &path,
        ))?;
        let mut per_operation = BTreeMap::new();
        let mut total = None;
        for line in text.lines() {
            let parsed = line.split_once(' ').and_then(|(op, n)| Some((op, n.parse::<u64>().ok()?)));
            match parsed {
                Some(("total", n)) => total = Some(n),
                Some((op, n)) => {
                    per_operation.insert(op.to_owned(), n);
                }
                None => return Err(Error(format!("sandbox: {}: not `OPERATION COUNT`: {line:?}", path.display()))),
            }
        }
        let counts = Self { per_operation };
        match total {
            Some(n) if n == counts.total() => Ok(counts),
            _ => Err(Error(format!("sandbox: {}: the total does not add up:\n{text}", path.display()))),
        }
    }
}

impl std::fmt::Display for ScratchRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.per_operation.iter().map(|(op, n)| format!("{op} {n}")).collect();
        write!(f, "{} ({})", self.total(), parts.join(", "))
    }
}
