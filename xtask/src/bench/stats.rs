//! Medians of repeated measurements: robust to the odd slow run that a
//! scheduler hiccup or a cold cache causes on a 2-core machine.

use std::time::Duration;

/// The median (the mean of the two middle values for an even count).
pub fn median(samples: &[Duration]) -> Option<Duration> {
    let seconds: Vec<f64> = samples.iter().map(Duration::as_secs_f64).collect();
    median_f64(&seconds).map(Duration::from_secs_f64)
}

/// The median of signed values (differences can be negative).
pub fn median_f64(samples: &[f64]) -> Option<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Paired runs (`with[i]` measured right before `without[i]`): the two
/// medians and the median of the per-pair differences in ms, which is
/// steadier than the difference of the medians when the machine's speed
/// drifts during a bench.
pub fn paired(with: &[Duration], without: &[Duration]) -> Option<(Duration, Duration, f64)> {
    let differences: Vec<f64> =
        with.iter().zip(without).map(|(w, b)| (w.as_secs_f64() - b.as_secs_f64()) * 1000.0).collect();
    Some((median(with)?, median(without)?, median_f64(&differences)?))
}

/// Milliseconds with two decimals, the unit every timing row uses.
pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        let d = Duration::from_millis;
        assert_eq!(median(&[d(5), d(1), d(3)]), Some(d(3)));
        assert_eq!(median(&[d(4), d(1), d(3), d(2)]), Some(Duration::from_micros(2500)));
        assert_eq!(median(&[]), None);
        assert_eq!(ms(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(median_f64(&[-1.0, 3.0, 0.5]), Some(0.5));
        assert_eq!(median_f64(&[-1.0, 3.0]), Some(1.0));
        assert_eq!(median_f64(&[]), None);
        assert_eq!(paired(&[d(5), d(9), d(4)], &[d(4), d(1), d(3)]), Some((d(5), d(3), 1.0)));
        assert_eq!(paired(&[], &[]), None);
    }
}
