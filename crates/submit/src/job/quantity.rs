//! How much the job asks for: GPUs, CPUs and memory, checked and written as
//! runai takes them.

use anyhow::{Result, bail};

/// A count of GPUs or CPUs: a non-negative decimal, fractions allowed,
/// written back in its shortest form (`1.50` becomes `1.5`).
pub(super) fn quantity_number(flag: &str, value: &str, allow_zero: bool) -> Result<String> {
    let parsed: Option<f64> =
        value.bytes().all(|b| b.is_ascii_digit() || b == b'.').then(|| value.parse().ok()).flatten();
    match parsed {
        Some(n) if n.is_finite() && n <= 1e6 && (allow_zero || n > 0.0) => Ok(format!("{n}")),
        _ if allow_zero => bail!("{flag}={value:?}: must be a number such as 1 or 0.5"),
        _ => bail!("{flag}={value:?}: must be a number greater than 0, such as 4 or 0.5"),
    }
}

/// A Kubernetes quantity as runai's `--memory` takes it: a number with an
/// optional suffix (`512Mi`, `32G`, `1.5Gi`, `1e9`).
pub(super) fn memory_quantity(value: &str) -> Result<String> {
    let digits = value.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, suffix) = value.split_at(digits);
    let number_ok = !number.is_empty() && number.matches('.').count() <= 1 && number != ".";
    let suffix_ok =
        matches!(suffix, "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "K" | "M" | "G" | "T" | "P" | "E")
            || (suffix.len() > 1 && suffix.starts_with(['e', 'E']) && suffix[1..].bytes().all(|b| b.is_ascii_digit()));
    if number_ok && suffix_ok {
        Ok(value.to_owned())
    } else {
        bail!("--memory={value:?}: must be a Kubernetes quantity such as 32G, 512Mi or 1.5Gi")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn gpu_numbers_normalize(n in 0u32..64, frac in proptest::option::of(1u32..100)) {
            let text = match frac { Some(f) => format!("{n}.{f:02}"), None => n.to_string() };
            let out = quantity_number("--gpus", &text, true).unwrap();
            proptest::prop_assert_eq!(out.parse::<f64>().unwrap(), text.parse::<f64>().unwrap());
        }
    }
}
