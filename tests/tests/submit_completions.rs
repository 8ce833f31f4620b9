//! `--help` of every subcommand and the completion scripts, through the
//! shipped binary: each subcommand answers `--help`, and the bash, zsh and
//! fish scripts of `submit --completions SHELL` offer every subcommand and,
//! for each, every flag its `--help` lists.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use nb_tests::submit_harness::SubmitEnv;

const V1: &str = env!("CARGO_BIN_EXE_runai");

/// The subcommands, and flags each must have (their `--help` may list more,
/// and the scripts are checked for all it lists).
const SUBCOMMANDS: [(&str, &[&str]); 8] = [
    ("list", &["--output", "-o", "--watch", "-w", "--expand", "--env-file", "--kubectl-timeout"]),
    ("logs", &["--follow", "-f", "--tail", "--worker", "--env-file"]),
    ("shell", &["--worker", "--env-file"]),
    ("port-forward", &["--env-file", "--kubectl-timeout"]),
    ("delete", &["--job", "--sweep", "--no-save", "--runai-cli", "--env-file"]),
    ("clean", &["--failed", "--dry-run", "--dry", "--job", "--sweep", "--no-save", "--runai-cli", "--env-file"]),
    ("doctor", &["--json", "--env-file"]),
    ("init", &["--env-file"]),
];

/// The flags a `--help` lists: the option lines' `-x` and `--long`, and
/// their `[alias: --other]`.
fn flags_of(help: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for line in help.lines() {
        let text = line.trim_start();
        // Option lines start within 6 columns; deeper ones continue a line.
        if line.len() - text.len() > 6 || !text.starts_with('-') {
            continue;
        }
        let words = text.split_whitespace().map(|w| w.trim_end_matches(','));
        flags.extend(words.take_while(|w| w.starts_with('-')).map(str::to_owned));
        for alias in text.split("[alias: ").skip(1).chain(text.split("[aliases: ").skip(1)) {
            let names = alias.split(']').next().unwrap_or_default();
            flags.extend(names.split(", ").map(str::to_owned));
        }
    }
    flags
}

/// The lines of `script` from the first that contains `start` to the first
/// after it that contains `end`.
fn block<'a>(script: &'a str, start: &str, end: &str) -> &'a str {
    let from = script.find(start).unwrap_or_else(|| panic!("no {start:?} in the script"));
    let rest = &script[from..];
    let to = rest.find(end).unwrap_or(rest.len());
    &rest[..to]
}

/// Whether the `shell` script offers `flag` in the block of `sub` (`None`:
/// the top level).
fn offers(shell: &str, script: &str, sub: Option<&str>, flag: &str) -> bool {
    match shell {
        "bash" => {
            let start = sub.map_or_else(
                || "        submit)".to_owned(),
                |s| format!("submit__subcmd__{})", s.replace('-', "__subcmd__")),
            );
            let opts = block(block(script, &start, ";;"), "opts=\"", "\"\n");
            opts.split_whitespace().any(|w| w.trim_start_matches("opts=\"") == flag)
        }
        "zsh" => {
            let start = sub.map_or_else(|| "_submit() {".to_owned(), |s| format!("({s})\n_arguments"));
            let args = block(script, &start, "&& ret=0");
            [format!("{flag}["), format!("{flag}=["), format!("{flag}+[")].iter().any(|f| args.contains(f.as_str()))
        }
        "fish" => {
            let condition = sub.map_or_else(
                || "__fish_submit_needs_command".to_owned(),
                |s| format!("__fish_submit_using_subcommand {s}\""),
            );
            let option = match flag.strip_prefix("--") {
                Some(long) => format!(" -l {long}"),
                None => format!(" -s {}", flag.trim_start_matches('-')),
            };
            script
                .lines()
                .any(|l| l.contains(&condition) && (l.contains(&format!("{option} ")) || l.ends_with(&option)))
        }
        other => panic!("no such shell {other}"),
    }
}

#[test]
fn every_subcommand_has_help_and_every_completion_script_offers_it_and_its_flags() {
    let env = SubmitEnv::new(Path::new(V1));
    let top = env.run(&["--help"]);
    assert_eq!(top.code, Some(0), "{top}");
    let listed: Vec<&str> = top
        .stdout
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    let expected: Vec<&str> = SUBCOMMANDS.iter().map(|(name, _)| *name).collect();
    assert_eq!(listed, expected, "{top}");
    let top_flags = flags_of(&top.stdout);
    assert!(top_flags.iter().any(|f| f == "--skip-secret-sync"), "{top_flags:?}");

    let mut helps = Vec::new();
    for (sub, required) in SUBCOMMANDS {
        let help = env.run(&[sub, "--help"]);
        assert_eq!(help.code, Some(0), "{help}");
        assert!(help.stdout.contains(&format!("Usage: submit {sub} ")), "{help}");
        let flags = flags_of(&help.stdout);
        for flag in required.iter().chain(&["--help", "-h"]) {
            assert!(flags.iter().any(|f| f == flag), "{sub} --help lists no {flag}: {flags:?}\n{help}");
        }
        helps.push((sub, flags));
    }
    let ls = env.run(&["ls", "--help"]);
    assert!(ls.code == Some(0) && ls.stdout.contains("--expand"), "{ls}");

    for shell in ["bash", "zsh", "fish"] {
        let run = env.run(&["--completions", shell]);
        assert_eq!(run.code, Some(0), "{run}");
        let script = &run.stdout;
        for flag in &top_flags {
            assert!(offers(shell, script, None, flag), "{shell}: no top-level {flag}");
        }
        for (sub, flags) in &helps {
            match shell {
                "bash" => assert!(script.contains(&format!("submit,{sub})")), "{shell}: no {sub}"),
                "zsh" => assert!(script.contains(&format!("'{sub}:")), "{shell}: no {sub}"),
                _ => assert!(script.contains(&format!("-a \"{sub}\"")), "{shell}: no {sub}"),
            }
            for flag in flags {
                assert!(offers(shell, script, Some(sub), flag), "{shell}: {sub} without {flag}");
            }
        }
    }
}
