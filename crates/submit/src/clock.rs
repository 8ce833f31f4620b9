//! The local wall-clock time, for default job names.
//!
//! The wrapper named jobs after the local time (`datetime.now()`); this does
//! the same with the C library's `localtime_r`, which honours `TZ` and
//! `/etc/localtime` as every other program on the machine does.

/// The current local time as `YYYYmmdd-HHMMSS`.
pub fn local_timestamp() -> std::io::Result<String> {
    // SAFETY: time(NULL) only returns the current time; a null pointer is allowed.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers refer to live, properly aligned locals; the
    // reentrant variant writes only into `tm` and keeps no reference.
    let filled = unsafe { libc::localtime_r(&now, &mut tm) };
    if filled.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    Ok(format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    ))
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
}
