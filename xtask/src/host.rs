//! Facts about the machine xtask runs on: whether we are root, and what to
//! write in the benchmark's "machine" line.

use std::fs;

/// The effective uid, from /proc/self/status (std has no getuid, and one
/// line of parsing beats a libc dependency for xtask).
pub fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Uid: real effective saved filesystem
    line.split_whitespace().nth(2)?.parse().ok()
}

pub fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// The CPU model name from /proc/cpuinfo.
pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

/// Online CPUs, as `nproc` counts them.
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The running kernel's release, e.g. `6.1.0-18-amd64`.
pub fn kernel_release() -> String {
    fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown kernel".to_owned())
}

/// The 1-minute load average (`/proc/loadavg`'s first field), as written
/// there: how busy the machine was while a timing ran.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_ids_and_the_machine() {
        let from_id = crate::cmd::Cmd::new("id").arg("-u").read();
        let expected = from_id.ok().and_then(|s| s.trim().parse::<u32>().ok());
        assert_eq!(effective_uid(), expected);
        assert!(cpu_count() >= 1);
        assert!(!kernel_release().is_empty() && kernel_release() != "unknown kernel");
    }
}
