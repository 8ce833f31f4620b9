//! Reading a submit or exec command line the way spf13/pflag does (see
//! the grammar's top): flags long and short, inline or separate values,
//! bools without one, `--` before the container's command, `--help`.

use super::{Command, Flag, GrammarError, Kind, Parsed, err, values::is_dns1035_label};

/// How a submit command takes the job name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameRule {
    /// `--name N` or one positional name (v1).
    FlagOrPositional,
    /// One positional name (v2: there is no `--name`).
    Positional,
}

/// A submit command's grammar: its words, its flags and how it is named.
pub(super) struct SubmitGrammar<'a> {
    pub(super) command: Command,
    pub(super) usage: &'a str,
    pub(super) flags: &'a [Flag],
    pub(super) name_rule: NameRule,
}

/// Whether `--help` or `-h` comes before any `--`.
pub(super) fn asks_help(rest: &[&str]) -> bool {
    rest.iter().take_while(|w| **w != "--").any(|w| matches!(*w, "--help" | "-h"))
}

/// The flag list, as cobra prints it.
pub(super) fn help_text(usage: &str, flags: &[Flag]) -> String {
    let mut text = format!("Usage:\n  {usage} [flags]\n\nFlags:\n");
    for f in flags {
        let short = f.short.map_or_else(|| "    ".to_owned(), |c| format!("-{c}, "));
        text.push_str(&format!("  {short}--{}{}\n", f.long, f.kind.help_word()));
    }
    text.push_str("  -h, --help   help for submit\n");
    text
}

pub(super) fn lookup(flags: &[Flag], long: Option<&str>, short: Option<char>) -> Result<Flag, GrammarError> {
    let found = flags.iter().find(|f| long.is_some_and(|l| l == f.long) || (short.is_some() && short == f.short));
    let shown = long.map_or_else(|| format!("-{}", short.unwrap_or('?')), |l| format!("--{l}"));
    found.copied().ok_or_else(|| GrammarError(format!("unknown flag: {shown}")))
}

pub(super) fn parse_submit(grammar: &SubmitGrammar<'_>, rest: &[&str]) -> Result<Parsed, GrammarError> {
    if asks_help(rest) {
        return Ok(Parsed::simple(Command::Help(help_text(grammar.usage, grammar.flags))));
    }
    let mut flags: Vec<(String, String)> = Vec::new();
    let mut positionals: Vec<String> = Vec::new();
    let mut container_command = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let word = rest[i];
        i += 1;
        if word == "--" {
            container_command = rest[i..].iter().map(|s| (*s).to_owned()).collect();
            break;
        }
        let (flag, inline) = if let Some(long) = word.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (long, None),
            };
            (lookup(grammar.flags, Some(name), None)?, inline)
        } else if let Some(short) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = short.chars();
            let c = chars.next().unwrap_or('?');
            let tail = chars.as_str();
            let flag = lookup(grammar.flags, None, Some(c))?;
            let inline = match tail {
                "" => None,
                t if flag.kind == Kind::Bool => return err(format!("unknown shorthand flag: {t:?} in -{short}")),
                t => Some(t.strip_prefix('=').unwrap_or(t).to_owned()),
            };
            (flag, inline)
        } else {
            positionals.push(word.to_owned());
            continue;
        };
        let value = match (flag.kind, inline) {
            (Kind::Bool, None) => "true".to_owned(),
            (Kind::Bool, Some(v)) => match v.as_str() {
                "1" | "t" | "T" | "true" | "TRUE" | "True" => "true".to_owned(),
                "0" | "f" | "F" | "false" | "FALSE" | "False" => "false".to_owned(),
                _ => return err(format!("invalid argument {v:?} for \"--{}\" flag: not a bool", flag.long)),
            },
            (_, Some(v)) => v,
            (_, None) => match rest.get(i) {
                Some(next) if !next.starts_with("--") => {
                    i += 1;
                    (*next).to_owned()
                }
                _ => return err(format!("flag needs an argument: --{}", flag.long)),
            },
        };
        check_value(&flag, &value)?;
        if flag.kind != Kind::StringArray && flags.iter().any(|(k, _)| k == flag.long) {
            return err(format!("flag --{} given more than once", flag.long));
        }
        flags.push((flag.long.to_owned(), value));
    }
    let name_flag = flags.iter().find(|(k, _)| k == "name").map(|(_, v)| v.clone());
    let name = match (grammar.name_rule, name_flag, positionals.as_slice()) {
        (NameRule::FlagOrPositional, Some(name), []) => name,
        (_, None, [name]) => name.clone(),
        (NameRule::FlagOrPositional, Some(_), extra) => return err(format!("unexpected arguments {extra:?}")),
        (NameRule::FlagOrPositional, None, []) => return err("a job name is required (--name or a positional name)"),
        (NameRule::Positional, _, []) => return err("a workload name is required: submit <name>"),
        (_, _, extra) => return err(format!("unexpected arguments {:?}", &extra[1..])),
    };
    if !is_dns1035_label(&name) {
        return err(format!(
            "invalid workload name {name:?}: names must consist of lower case alphanumeric characters or '-' and \
             start with an alphabetic character"
        ));
    }
    if !flags.iter().any(|(k, _)| k == "image") {
        return err("--image is required");
    }
    Ok(Parsed { command: grammar.command.clone(), name: Some(name), flags, container_command })
}

pub(super) fn check_value(flag: &Flag, value: &str) -> Result<(), GrammarError> {
    let bad = |why: &str| err(format!("invalid argument {value:?} for \"--{}\" flag: {why}", flag.long));
    match flag.kind {
        Kind::Int if value.parse::<i64>().is_err() => return bad("not an integer"),
        Kind::Float if value.parse::<f64>().map_or(true, |f| !f.is_finite()) => return bad("not a number"),
        _ => {}
    }
    match flag.check {
        Some(check) => check(value).or_else(bad),
        None => Ok(()),
    }
}

/// The arguments of `exec NAME [tty flags] -- CMD`, with the tty flags a
/// CLI accepts.
pub(super) fn parse_exec(rest: &[&str], tty_flags: &[&str]) -> Result<Vec<String>, GrammarError> {
    let Some(dash) = rest.iter().position(|w| *w == "--") else {
        return err("exec needs a command after --");
    };
    for w in &rest[..dash] {
        if !tty_flags.contains(w) {
            return err(format!("unknown flag: {w}"));
        }
    }
    if rest.len() == dash + 1 {
        return err("exec needs a command after --");
    }
    Ok(rest[dash + 1..].iter().map(|s| (*s).to_owned()).collect())
}
