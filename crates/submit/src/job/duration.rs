//! Durations written the way the wrapper accepted them: `12h`, `30m`, `1d`,
//! `90s`, `2d6h30m`, or a bare number of seconds.
//!
//! Units come in the order d, h, m, s, each at most once, so that a typo
//! such as `30h30h` or `5x` is an error instead of a surprise.

use std::fmt;
use std::time::Duration;

/// Why a duration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("is empty")]
    Empty,
    #[error("is not a duration: use a number with d, h, m or s, such as 12h, 30m or 2d6h30m")]
    Syntax,
    #[error("repeats or misorders its units: write days, hours, minutes, seconds in that order")]
    UnitOrder,
    #[error("must be longer than zero")]
    Zero,
    #[error("is too long")]
    Overflow,
}

/// A parsed duration, kept as whole seconds (what `sleep` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seconds(pub u64);

impl Seconds {
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(self.0)
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The longest accepted duration: a year is far beyond any job limit and
/// keeps the arithmetic far from overflow.
const MAX_SECONDS: u64 = 366 * 24 * 3600;

/// Parses `spec`; see the module documentation for the syntax.
pub fn parse(spec: &str) -> Result<Seconds, DurationError> {
    if spec.is_empty() {
        return Err(DurationError::Empty);
    }
    let units = [('d', 86_400u64), ('h', 3_600), ('m', 60), ('s', 1)];
    let mut total: u64 = 0;
    let mut next_unit = 0; // index into `units` of the next unit allowed
    let mut rest = spec;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(DurationError::Syntax);
        }
        let number: u64 = rest[..digits].parse().map_err(|_| DurationError::Overflow)?;
        rest = &rest[digits..];
        let unit = match rest.chars().next() {
            // A bare trailing number counts as seconds, as in the wrapper.
            None => 's',
            Some(c) => {
                rest = &rest[c.len_utf8()..];
                c
            }
        };
        let Some(index) = units.iter().position(|(u, _)| *u == unit) else {
            return Err(DurationError::Syntax);
        };
        if index < next_unit {
            return Err(DurationError::UnitOrder);
        }
        next_unit = index + 1;
        let part = number.checked_mul(units[index].1).ok_or(DurationError::Overflow)?;
        total = total.checked_add(part).ok_or(DurationError::Overflow)?;
        if total > MAX_SECONDS {
            return Err(DurationError::Overflow);
        }
    }
    if total == 0 {
        return Err(DurationError::Zero);
    }
    Ok(Seconds(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_wrapper_forms() {
        let cases = [
            ("12h", 43_200),
            ("30m", 1_800),
            ("1d", 86_400),
            ("90s", 90),
            ("90", 90),
            ("2d6h30m", 196_200),
            ("1h30m15s", 5_415),
            ("1h30", 3_630),
            ("007m", 420),
        ];
        for (spec, secs) in cases {
            assert_eq!(parse(spec), Ok(Seconds(secs)), "{spec}");
        }
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("", DurationError::Empty),
            ("h", DurationError::Syntax),
            ("12x", DurationError::Syntax),
            ("1.5h", DurationError::Syntax),
            ("-1h", DurationError::Syntax),
            (" 1h", DurationError::Syntax),
            ("12H", DurationError::Syntax),
            ("1h 30m", DurationError::Syntax),
            ("30m1h", DurationError::UnitOrder),
            ("1h1h", DurationError::UnitOrder),
            ("0s", DurationError::Zero),
            ("0h0m", DurationError::Zero),
            ("367d", DurationError::Overflow),
            ("99999999999999999999999s", DurationError::Overflow),
            ("12hé", DurationError::Syntax),
        ];
        for (spec, err) in cases {
            assert_eq!(parse(spec), Err(err), "{spec:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = parse(&s);
        }

        #[test]
        fn components_add_up(d in 0u64..100, h in 0u64..24, m in 0u64..60, s in 0u64..60) {
            proptest::prop_assume!(d + h + m + s > 0);
            let spec = format!("{d}d{h}h{m}m{s}s");
            proptest::prop_assert_eq!(parse(&spec), Ok(Seconds(d * 86_400 + h * 3_600 + m * 60 + s)));
        }

        #[test]
        fn accepted_results_are_positive_and_bounded(s in "[0-9dhms]{1,12}") {
            if let Ok(Seconds(n)) = parse(&s) {
                proptest::prop_assert!(n > 0 && n <= MAX_SECONDS);
            }
        }
    }
}
