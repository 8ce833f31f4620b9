//! Checks of flag values and names, shared by the dialects: what the real
//! CLI (or the API server behind it) refuses.

pub(super) fn is_env_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn is_dns1123_subdomain(s: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    s.len() <= 253
        && edge(s.chars().next())
        && edge(s.chars().last())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
}

pub(super) fn is_dns1035_label(s: &str) -> bool {
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub(super) fn is_secret_key(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

pub(super) fn image(value: &str) -> Result<(), &'static str> {
    if value.is_empty() || value.contains(char::is_whitespace) { Err("not an image reference") } else { Ok(()) }
}

pub(super) fn pull_policy(value: &str) -> Result<(), &'static str> {
    match value {
        "Always" | "IfNotPresent" | "Never" => Ok(()),
        _ => Err("must be Always, IfNotPresent or Never"),
    }
}

pub(super) fn non_negative(value: &str) -> Result<(), &'static str> {
    if value.starts_with('-') { Err("must not be negative") } else { Ok(()) }
}

pub(super) fn key_value(value: &str) -> Result<(), &'static str> {
    match value.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok(()),
        _ => Err("expected KEY=VALUE"),
    }
}

/// A Kubernetes quantity: a number with an optional suffix.
pub(super) fn quantity(value: &str) -> Result<(), &'static str> {
    let digits = value.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, suffix) = value.split_at(digits);
    let suffix_ok =
        matches!(suffix, "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "k" | "K" | "M" | "G" | "T" | "P" | "E")
            || (suffix.len() > 1 && suffix.starts_with(['e', 'E']) && suffix[1..].bytes().all(|b| b.is_ascii_digit()));
    let ok = !number.is_empty() && number != "." && number.matches('.').count() <= 1 && suffix_ok;
    if ok { Ok(()) } else { Err("not a Kubernetes quantity") }
}
