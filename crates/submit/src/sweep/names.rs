//! The jobs' names: `<name>-<index>`, the index from 0 and zero-padded to
//! the grid's width (`lr-sweep-07` of 12), so that a dry run shows the real
//! names, a rerun hits the same ones, and they sort in the grid's order.

use anyhow::{Result, anyhow, bail};
use common::validate::{self, MAX_JOB_NAME_LEN};

/// Digits of the largest index of `size` points (at least one).
pub fn width(size: usize) -> usize {
    size.saturating_sub(1).to_string().len()
}

/// The index as it appears in a name and in `NB_SWEEP_INDEX`.
pub fn index(i: usize, width: usize) -> String {
    format!("{i:0width$}")
}

/// The names of the `size` jobs of the sweep `base`, each checked to be a
/// job name before anything runs.
pub fn names(base: &str, size: usize) -> Result<Vec<String>> {
    validate::job_name("--name", base)?;
    let width = width(size);
    let names: Vec<String> = (0..size).map(|i| format!("{base}-{}", index(i, width))).collect();
    let room = MAX_JOB_NAME_LEN.saturating_sub(width + 1);
    if base.len() > room {
        bail!(
            "--name={base:?}: the sweep's jobs would be named like {}, longer than {MAX_JOB_NAME_LEN} characters; \
             use a name of at most {room}",
            names[names.len() - 1]
        );
    }
    for name in &names {
        validate::job_name("--name", name).map_err(|e| anyhow!("{e} (the sweep's job {name})"))?;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_are_padded_to_the_width_of_the_grid() {
        assert_eq!((width(1), width(10), width(11), width(101)), (1, 1, 2, 3));
        assert_eq!(names("lr", 3).unwrap(), ["lr-0", "lr-1", "lr-2"]);
        let twelve = names("lr", 12).unwrap();
        assert_eq!((twelve[0].as_str(), twelve[7].as_str(), twelve[11].as_str()), ("lr-00", "lr-07", "lr-11"));
    }

    #[test]
    fn a_name_with_no_room_for_the_index_is_refused() {
        let base = "a".repeat(61);
        assert_eq!(names(&base, 10).unwrap()[9].len(), 63);
        let err = names(&base, 11).unwrap_err().to_string();
        assert!(err.ends_with("longer than 63 characters; use a name of at most 60"), "{err}");
    }
}
