//! Validation of the names, numbers and paths that end up in /etc files, in
//! Kubernetes object names and on the runai command line.
//!
//! Both sides validate: `submit` so that a typo is caught on the laptop
//! before anything reaches the cluster, `pod-init` because it must never
//! trust its environment before writing /etc/passwd as root.

use std::fmt;

/// A rejected input: which field, what value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}={value:?}: {reason}")]
pub struct ValidationError {
    /// The variable or flag the value came from, e.g. `NB_USER`.
    pub field: String,
    /// The rejected value, verbatim.
    pub value: String,
    /// What is wrong with it, for a human.
    pub reason: Reason,
}

/// Why a value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Empty,
    TooLong { max: usize },
    BadFirstChar,
    JobFirstChar,
    BadChar(char),
    NotANumber,
    OutOfRange,
    Root,
    Reserved,
    SudoersWord,
    BadEnd,
    NotAbsolute,
    NotAStopSignal,
    NotALabel,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Empty => f.write_str("must not be empty"),
            Reason::TooLong { max } => write!(f, "must be at most {max} characters"),
            Reason::BadFirstChar => f.write_str("must start with a letter or '_'"),
            Reason::JobFirstChar => f.write_str("must start with a lower-case letter"),
            Reason::BadChar(c) => write!(f, "must not contain {c:?}"),
            Reason::NotANumber => f.write_str("must be a whole number"),
            Reason::OutOfRange => {
                write!(f, "must be between 0 and {MAX_ID} (4294967295 means \"no id\")")
            }
            Reason::Root => f.write_str("must not be 0 (root)"),
            Reason::Reserved => f.write_str("is reserved for the system (root)"),
            Reason::SudoersWord => {
                f.write_str("means something else to sudo (a keyword, or an alias name: all capitals, digits and '_')")
            }
            Reason::BadEnd => f.write_str("must end with a letter or digit"),
            Reason::NotAbsolute => f.write_str("must be an absolute path"),
            Reason::NotAStopSignal => write!(f, "must be one of {} (with or without SIG)", STOP_SIGNALS.join(", ")),
            Reason::NotALabel => {
                f.write_str("must be at most 63 lower-case letters, digits and '-', starting and ending with one")
            }
        }
    }
}

fn reject(field: &str, value: &str, reason: Reason) -> ValidationError {
    ValidationError { field: field.to_owned(), value: value.to_owned(), reason }
}

/// The longest user or group name `useradd` accepts on glibc systems.
pub const MAX_NAME_LEN: usize = 32;

/// The largest valid uid or gid: `(uid_t)-1` is the "unchanged" sentinel of
/// chown and setresuid, so it is never a real id.
pub const MAX_ID: u32 = u32::MAX - 1;

/// Checks a user or group name for use in /etc/passwd and /etc/group.
///
/// The rule is the portable one of shadow-utils, widened to upper case
/// (EPFL group names such as `MLO-unit` have it): a letter or `_`, then
/// letters, digits, `_`, `-` or `.`, at most 32 characters. Nothing that
/// could inject a `:` field separator, a newline, a leading `-` (an option
/// to a tool) or `.`/`..` (a path) gets through. `root` is refused: the
/// bootstrap would otherwise rewrite root's own entry. Nor does a word that
/// sudoers reads as something else ([`is_sudoers_word`]): the name is in
/// the pod's /etc/group and /etc/passwd, where sudo rules look names up.
pub fn account_name(field: &str, value: &str) -> Result<(), ValidationError> {
    let mut chars = value.chars();
    let Some(first) = chars.next() else {
        return Err(reject(field, value, Reason::Empty));
    };
    if let Some(bad) = value.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return Err(reject(field, value, Reason::BadChar(bad)));
    }
    if !(first.is_ascii_alphabetic() || first == '_') {
        return Err(reject(field, value, Reason::BadFirstChar));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(reject(field, value, Reason::TooLong { max: MAX_NAME_LEN }));
    }
    if value == "root" {
        return Err(reject(field, value, Reason::Reserved));
    }
    if is_sudoers_word(value) {
        return Err(reject(field, value, Reason::SudoersWord));
    }
    Ok(())
}

/// The words sudoers(5) lexes as keywords where a name can stand (the
/// longer token wins, so only the exact word is one).
const SUDOERS_KEYWORDS: [&str; 11] = [
    "Defaults",
    "User_Alias",
    "Runas_Alias",
    "Host_Alias",
    "Cmnd_Alias",
    "Cmd_Alias",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "sudoedit",
];

/// Whether sudoers would read `name` as something other than a user or
/// group name: `ALL` and every alias name (an upper-case letter, then
/// upper-case letters, digits or `_`; the tags and options such as
/// `NOPASSWD` or `TIMEOUT` have that form too), or one of
/// [`SUDOERS_KEYWORDS`]. The other forms with a meaning (`%group`,
/// `+netgroup`, `#uid`, `!`negation, `@include`, `"quoted"`) start with a
/// character [`account_name`] refuses anywhere.
pub fn is_sudoers_word(name: &str) -> bool {
    let mut chars = name.chars();
    let alias = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    alias || SUDOERS_KEYWORDS.contains(&name)
}

/// Parses a uid or gid written in decimal, as in /etc/passwd.
pub fn id(field: &str, value: &str) -> Result<u32, ValidationError> {
    if value.is_empty() {
        return Err(reject(field, value, Reason::Empty));
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(reject(field, value, Reason::NotANumber));
    }
    match value.parse::<u32>() {
        Ok(n) if n <= MAX_ID => Ok(n),
        _ => Err(reject(field, value, Reason::OutOfRange)),
    }
}

/// Parses a uid or gid that a researcher's account may have: not root.
pub fn non_root_id(field: &str, value: &str) -> Result<u32, ValidationError> {
    match id(field, value)? {
        0 => Err(reject(field, value, Reason::Root)),
        n => Ok(n),
    }
}

/// The longest name a run:ai job (a DNS-1035 label) may have.
pub const MAX_JOB_NAME_LEN: usize = 63;

/// Checks a job name: a DNS-1035 label, as Kubernetes and runai require
/// (`[a-z]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
pub fn job_name(field: &str, value: &str) -> Result<(), ValidationError> {
    let Some(first) = value.chars().next() else {
        return Err(reject(field, value, Reason::Empty));
    };
    if let Some(bad) = value.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')) {
        return Err(reject(field, value, Reason::BadChar(bad)));
    }
    if !first.is_ascii_lowercase() {
        return Err(reject(field, value, Reason::JobFirstChar));
    }
    if value.ends_with('-') {
        return Err(reject(field, value, Reason::BadEnd));
    }
    if value.len() > MAX_JOB_NAME_LEN {
        return Err(reject(field, value, Reason::TooLong { max: MAX_JOB_NAME_LEN }));
    }
    Ok(())
}

/// Checks a path in the pod: it must be absolute (the bootstrap creates it
/// and must not resolve it against whatever directory it runs in).
pub fn absolute_path(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.starts_with('/') { Ok(()) } else { Err(reject(field, value, Reason::NotAbsolute)) }
}

/// The signals a job may ask for in place of SIGTERM: those a program can
/// catch to checkpoint, whose default action ends it (so a job without a
/// handler still stops). Not KILL or STOP (no handler runs), not the
/// signals that stop or are ignored by default.
pub const STOP_SIGNALS: [&str; 7] = ["TERM", "INT", "HUP", "QUIT", "USR1", "USR2", "ALRM"];

/// Checks a stop signal (`USR1`, `sigusr1`, `SIGINT`) and returns its
/// name as [`STOP_SIGNALS`] spells it.
pub fn stop_signal(field: &str, value: &str) -> Result<&'static str, ValidationError> {
    let upper = value.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    STOP_SIGNALS.into_iter().find(|name| *name == bare).ok_or_else(|| reject(field, value, Reason::NotAStopSignal))
}

/// Checks a submission id: a DNS-1123 label, so that it is safe in a file
/// name, a Kubernetes label and a log line alike.
pub fn submission(field: &str, value: &str) -> Result<(), ValidationError> {
    if is_dns1123_label(value) { Ok(()) } else { Err(reject(field, value, Reason::NotALabel)) }
}

/// Whether `name` is a valid object name for a Secret or a PVC: a
/// DNS-1123 subdomain (`[a-z0-9]([-a-z0-9.]*[a-z0-9])?`, at most 253).
pub fn is_dns1123_subdomain(name: &str) -> bool {
    let ok_edge = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    name.len() <= 253
        && ok_edge(name.as_bytes().first())
        && ok_edge(name.as_bytes().last())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
}

/// Whether `name` is a valid namespace or run:ai project name: a DNS-1123
/// label (a subdomain without '.', at most 63 characters).
pub fn is_dns1123_label(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && is_dns1123_subdomain(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_signals_take_any_case_with_or_without_sig() {
        assert_eq!(stop_signal("--stop-signal", "USR1"), Ok("USR1"));
        assert_eq!(stop_signal("--stop-signal", "sigint"), Ok("INT"));
        assert_eq!(stop_signal("--stop-signal", "SIGTERM"), Ok("TERM"));
        let err = stop_signal("--stop-signal", "KILL").map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("--stop-signal=\"KILL\": must be one of TERM, INT, HUP, QUIT, USR1, USR2, ALRM (with or without SIG)"
                .to_owned())
        );
        assert!(stop_signal("f", "").is_err() && stop_signal("f", "SIG").is_err() && stop_signal("f", "10").is_err());
    }

    #[test]
    fn submissions_are_dns_labels() {
        assert_eq!(submission("NB_SUBMISSION", "20261207-075212-k3j9x2"), Ok(()));
        for bad in ["", "-a", "a-", "A1", "a/b", "a.b", "../x", &"a".repeat(64)] {
            assert!(submission("NB_SUBMISSION", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn account_names_accept_ldap_style() {
        // Capitals with a lower-case letter, '-' or '.' are names to sudoers.
        for ok in ["ada", "MLO-unit", "_svc", "a.b", "mljaggi-admin", "x2", "All", "MLO-UNIT", "ADA.L", "Defaults2"] {
            assert_eq!(account_name("NB_USER", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn account_names_reject_with_reason() {
        let cases = [
            ("", Reason::Empty),
            ("a:b", Reason::BadChar(':')),
            ("a\nb", Reason::BadChar('\n')),
            ("-rf", Reason::BadFirstChar),
            ("1abc", Reason::BadFirstChar),
            (".", Reason::BadFirstChar),
            ("..", Reason::BadFirstChar),
            ("a/b", Reason::BadChar('/')),
            ("ada lovelace", Reason::BadChar(' ')),
            ("root", Reason::Reserved),
            ("a234567890123456789012345678901234", Reason::TooLong { max: 32 }),
            ("%sudo", Reason::BadChar('%')),
            ("+lab", Reason::BadChar('+')),
            ("#0", Reason::BadChar('#')),
            ("!ada", Reason::BadChar('!')),
            ("@include", Reason::BadChar('@')),
            ("\"ALL\"", Reason::BadChar('"')),
            ("ALL", Reason::SudoersWord),
            ("ADMINS", Reason::SudoersWord),
            ("NOPASSWD", Reason::SudoersWord),
            ("A", Reason::SudoersWord),
            ("LAB_2", Reason::SudoersWord),
            ("Defaults", Reason::SudoersWord),
            ("Cmnd_Alias", Reason::SudoersWord),
            ("sha256", Reason::SudoersWord),
            ("sudoedit", Reason::SudoersWord),
        ];
        for (value, reason) in cases {
            let err = account_name("NB_USER", value).unwrap_err();
            assert_eq!(err.reason, reason, "{value:?}");
            assert_eq!(err.field, "NB_USER");
        }
    }

    #[test]
    fn error_names_field_value_and_reason() {
        let err = account_name("NB_USER", "a:b").unwrap_err();
        assert_eq!(err.to_string(), "NB_USER=\"a:b\": must not contain ':'");
        let err = account_name("NB_GROUP", "ALL").unwrap_err();
        assert_eq!(
            err.to_string(),
            "NB_GROUP=\"ALL\": means something else to sudo (a keyword, or an alias name: all capitals, digits and '_')"
        );
    }

    #[test]
    fn ids_parse_in_range() {
        assert_eq!(id("NB_UID", "0"), Ok(0));
        assert_eq!(id("NB_UID", "177449"), Ok(177449));
        assert_eq!(id("NB_UID", "4294967294"), Ok(4294967294));
        assert_eq!(id("NB_UID", "4294967295").unwrap_err().reason, Reason::OutOfRange);
        assert_eq!(id("NB_UID", "4294967296").unwrap_err().reason, Reason::OutOfRange);
        assert_eq!(id("NB_UID", "-1").unwrap_err().reason, Reason::NotANumber);
        assert_eq!(id("NB_UID", "+5").unwrap_err().reason, Reason::NotANumber);
        assert_eq!(id("NB_UID", " 5").unwrap_err().reason, Reason::NotANumber);
        assert_eq!(id("NB_UID", "00000x").unwrap_err().reason, Reason::NotANumber);
        assert_eq!(id("NB_UID", "").unwrap_err().reason, Reason::Empty);
        assert_eq!(non_root_id("NB_UID", "0").unwrap_err().reason, Reason::Root);
        assert_eq!(non_root_id("NB_UID", "000").unwrap_err().reason, Reason::Root);
    }

    #[test]
    fn job_names_follow_dns_1035() {
        for ok in ["a", "ada-20260101-120000", "x1-y2"] {
            assert_eq!(job_name("--name", ok), Ok(()), "{ok}");
        }
        let cases = [
            ("", Reason::Empty),
            ("Ada", Reason::BadChar('A')),
            ("1ada", Reason::JobFirstChar),
            ("-ada", Reason::JobFirstChar),
            ("ada-", Reason::BadEnd),
            ("ada_x", Reason::BadChar('_')),
            ("ada.x", Reason::BadChar('.')),
        ];
        for (value, reason) in cases {
            assert_eq!(job_name("--name", value).unwrap_err().reason, reason, "{value:?}");
        }
        let long = "a".repeat(64);
        assert_eq!(job_name("--name", &long).unwrap_err().reason, Reason::TooLong { max: 63 });
        assert_eq!(job_name("--name", &long[..63]), Ok(()));
    }

    #[test]
    fn paths_must_be_absolute() {
        assert_eq!(absolute_path("WORKING_DIR", "/mloscratch/homes/ada"), Ok(()));
        for bad in ["", "relative/dir", "./x", "~/x"] {
            assert_eq!(absolute_path("WORKING_DIR", bad).unwrap_err().reason, Reason::NotAbsolute, "{bad:?}");
        }
        assert_eq!(
            absolute_path("WORKING_DIR", "relative/dir").unwrap_err().to_string(),
            "WORKING_DIR=\"relative/dir\": must be an absolute path"
        );
    }

    #[test]
    fn object_names_are_dns1123_subdomains() {
        for ok in ["a", "runai-mlo-ada-env", "a.b", "0a"] {
            assert!(is_dns1123_subdomain(ok), "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a_b", "a b", &"a".repeat(254)] {
            assert!(!is_dns1123_subdomain(bad), "{bad}");
        }
    }

    #[test]
    fn namespaces_are_dns1123_labels() {
        for ok in ["a", "runai-mlo-ada", "0a", &"a".repeat(63)] {
            assert!(is_dns1123_label(ok), "{ok}");
        }
        for bad in ["", "a.b", "A", "-a", "a-", &"a".repeat(64)] {
            assert!(!is_dns1123_label(bad), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn accepted_account_names_are_safe_in_etc_files(s in "\\PC{0,40}") {
            if account_name("NB_USER", &s).is_ok() {
                proptest::prop_assert!(!s.contains([':', '\n', '\r', '/', ',', ' ']));
                proptest::prop_assert!(!s.starts_with('-'));
                proptest::prop_assert!(s.len() <= MAX_NAME_LEN);
            }
        }

        #[test]
        fn ids_round_trip(n in 0u32..=MAX_ID) {
            proptest::prop_assert_eq!(id("NB_UID", &n.to_string()), Ok(n));
        }
    }
}
