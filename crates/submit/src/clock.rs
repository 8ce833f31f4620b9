//! The local wall-clock time, for default job names and submission ids;
//! UTC, for the folders of kept logs.
//!
//! The wrapper named jobs after the local time (`datetime.now()`); this does
//! the same with the C library's `localtime_r`, which honours `TZ` and
//! `/etc/localtime` as every other program on the machine does.

/// The current local time as `YYYYmmdd-HHMMSS`.
pub fn local_timestamp() -> std::io::Result<String> {
    let tm = now_as(libc::localtime_r)?;
    Ok(format!("{}-{}", date(&tm), time(&tm)))
}

/// A new submission id, `YYYYmmdd-HHMMSS-xxxxxx` (local time, six random
/// lower-case letters and digits): a DNS-1123 label that tells this
/// submission apart from any other of the same job name, and says when it
/// was made.
pub fn submission_id() -> std::io::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 6];
    // The kernel's random device: on Linux and macOS alike (submit runs on
    // both), with no system-call number or libc symbol that one lacks.
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    let suffix: String = bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
    Ok(format!("{}-{suffix}", local_timestamp()?))
}

/// The current UTC time as `YYYYmmddTHHMMSSZ` (ISO 8601, basic format):
/// names that sort in time order whatever the local time zone did.
pub fn utc_timestamp() -> std::io::Result<String> {
    let tm = now_as(libc::gmtime_r)?;
    Ok(format!("{}T{}Z", date(&tm), time(&tm)))
}

/// `localtime_r` or `gmtime_r`. The libc crate marks `time_t` deprecated on
/// musl, whose width changed in musl 1.2; it only goes from `time` straight
/// back into libc here, so its width never matters.
#[allow(deprecated)]
type Breakdown = unsafe extern "C" fn(*const libc::time_t, *mut libc::tm) -> *mut libc::tm;

/// The current time broken down by `breakdown`, which honours `TZ` and
/// `/etc/localtime` (`localtime_r`) or not (`gmtime_r`).
fn now_as(breakdown: Breakdown) -> std::io::Result<libc::tm> {
    // SAFETY: time(NULL) only returns the current time; a null pointer is allowed.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers refer to live, properly aligned locals; the
    // reentrant variants write only into `tm` and keep no reference.
    let filled = unsafe { breakdown(&now, &mut tm) };
    if filled.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    Ok(tm)
}

/// `YYYYmmdd`.
fn date(tm: &libc::tm) -> String {
    format!("{:04}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday)
}

/// `HHMMSS`.
fn time(tm: &libc::tm) -> String {
    format!("{:02}{:02}{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec)
}

/// Unix seconds now; 0 if the clock is before 1970.
pub fn unix_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_has_the_wrapper_shape() {
        let ts = local_timestamp().unwrap();
        assert_eq!(ts.len(), 15, "{ts}");
        assert_eq!(&ts[8..9], "-");
        assert!(ts.bytes().enumerate().all(|(i, b)| i == 8 || b.is_ascii_digit()), "{ts}");
        assert!(ts.as_str() > "20240101-000000", "{ts}");
    }

    #[test]
    fn utc_timestamps_sort_as_text() {
        let ts = utc_timestamp().unwrap();
        assert_eq!((ts.len(), &ts[8..9], &ts[15..]), (16, "T", "Z"), "{ts}");
        assert!(ts.as_str() > "20240101T000000Z", "{ts}");
    }

    #[test]
    fn submission_ids_are_new_dns_labels() {
        let (a, b) = (submission_id().unwrap(), submission_id().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 22, "{a}");
        assert_eq!(common::validate::submission("id", &a), Ok(()), "{a}");
    }
}
