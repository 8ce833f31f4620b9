//! The error for a value split by a space (`-t 5 hours`, `--memory 32
//! GB`) or given as a negative number (`--workers -1`): clap sees a stray
//! word (or a subcommand) or an unknown flag, and says only that; this names
//! the flag and the form it takes (`-t 5h`).

use clap::Command;

/// What is wrong with a flag's value, and the fix, if the command line has
/// such a value; `None` leaves clap's own error.
pub fn explain(command: &Command, args: &[String]) -> Option<String> {
    let mut i = 1;
    while i < args.len() {
        let token = args[i].as_str();
        if token == "--" {
            return None;
        }
        let Some((arg, flag, inline)) = lookup(command, token) else {
            i += 1;
            continue;
        };
        let takes_value = arg.get_action().takes_values();
        let several = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        if !takes_value || several {
            i += 1;
            continue;
        }
        let step = if inline.is_some() { 1 } else { 2 };
        let (value, next) = match inline {
            Some(value) => (value, args.get(i + 1)),
            None => match args.get(i + 1) {
                Some(v) if is_negative_number(v) => {
                    return Some(format!("{flag} {v}: must not be negative"));
                }
                Some(v) => (v.clone(), args.get(i + 2)),
                None => return None,
            },
        };
        if let Some(word) = next.filter(|w| !w.starts_with('-')) {
            let joined = format!("{value}{}", unit(word));
            return Some(format!("{flag} {value} {word}: a value cannot be split by a space; write {flag} {joined}"));
        }
        i += step;
    }
    None
}

/// The argument `token` names (a long option, a unique prefix of one, or
/// a short one), the flag as written, and its value when given in the same
/// token.
fn lookup<'a>(command: &'a Command, token: &str) -> Option<(&'a clap::Arg, String, Option<String>)> {
    if let Some(long) = token.strip_prefix("--") {
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (long, None),
        };
        let names = |a: &clap::Arg| {
            a.get_long()
                .into_iter()
                .chain(a.get_all_aliases().into_iter().flatten())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let exact = command.get_arguments().find(|a| names(a).iter().any(|l| l == name));
        let arg = exact.or_else(|| {
            let mut matching = command.get_arguments().filter(|a| names(a).iter().any(|l| l.starts_with(name)));
            let first = matching.next();
            first.filter(|_| matching.next().is_none() && !name.is_empty())
        })?;
        return Some((arg, format!("--{name}"), inline));
    }
    let mut chars = token.strip_prefix('-')?.chars();
    let short = chars.next()?;
    let arg = command.get_arguments().find(|a| a.get_short() == Some(short))?;
    let rest: String = chars.collect();
    let rest = rest.strip_prefix('=').map(str::to_owned).unwrap_or(rest);
    Some((arg, format!("-{short}"), (!rest.is_empty()).then_some(rest)))
}

fn is_negative_number(value: &str) -> bool {
    value.strip_prefix('-').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// The suffix a word of a unit stands for (`hours` is `h`, `GB` is `G`);
/// the word itself otherwise, for a plain join.
fn unit(word: &str) -> &str {
    match word.to_ascii_lowercase().as_str() {
        "d" | "day" | "days" => "d",
        "h" | "hr" | "hrs" | "hour" | "hours" => "h",
        "m" | "min" | "mins" | "minute" | "minutes" => "m",
        "s" | "sec" | "secs" | "second" | "seconds" => "s",
        "k" | "kb" => "K",
        "kib" | "ki" => "Ki",
        "mb" => "M",
        "mib" | "mi" => "Mi",
        "g" | "gb" => "G",
        "gib" | "gi" => "Gi",
        "t" | "tb" => "T",
        "tib" | "ti" => "Ti",
        _ => word,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    fn explained(args: &[&str]) -> Option<String> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        explain(&crate::cli::Cli::command(), &args)
    }

    #[test]
    fn a_split_value_names_the_flag_and_the_joined_form() {
        assert_eq!(
            explained(&["submit", "--dry", "-t", "5", "hours"]).as_deref(),
            Some("-t 5 hours: a value cannot be split by a space; write -t 5h")
        );
        assert_eq!(
            explained(&["submit", "--memory", "32", "GB", "-g", "1"]).as_deref(),
            Some("--memory 32 GB: a value cannot be split by a space; write --memory 32G")
        );
        assert_eq!(
            explained(&["submit", "--mem=32", "GiB"]).as_deref(),
            Some("--mem 32 GiB: a value cannot be split by a space; write --mem 32Gi")
        );
        assert_eq!(
            explained(&["submit", "-n", "my", "job"]).as_deref(),
            Some("-n my job: a value cannot be split by a space; write -n myjob")
        );
    }

    #[test]
    fn a_negative_count_is_named() {
        assert_eq!(explained(&["submit", "--workers", "-1"]).as_deref(), Some("--workers -1: must not be negative"));
    }

    #[test]
    fn lists_and_good_lines_are_left_alone() {
        assert_eq!(explained(&["submit", "--node-type", "h100", "h200", "-t", "5h"]), None);
        assert_eq!(explained(&["submit", "-c", "python train.py", "--dry"]), None);
        assert_eq!(explained(&["submit", "doctor"]), None);
    }
}
