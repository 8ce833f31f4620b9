//! The lines of `docker/Dockerfile` that pod-init depends on, generated from
//! `crates/common/src/image.rs`.
//!
//! pod-init looks for its staged shell files and trusts its own install path
//! and mode; if the Dockerfile put them elsewhere, the image would build and
//! then fail in every pod. So those lines are not written by hand: they sit
//! between `# >>> generated: <name>` and `# <<< generated: <name>` markers,
//! `cargo xtask codegen` rewrites them from the constants, and a test (and
//! `cargo xtask image`, before it builds) fails when the file is stale. The
//! rest of the Dockerfile stays ordinary, hand-written and buildable.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use common::env::{DEFAULT_SCRATCH_SEED_UID, DEFAULT_SCRATCH_SEED_USER, EnvVars};
use common::image::{POD_INIT_MODE, POD_INIT_PATH, STAGE_DIR, STAGED_OH_MY_ZSH, STAGED_ZSHRC};

use crate::project;

/// `docker/Dockerfile` in the workspace.
pub fn path() -> PathBuf {
    project::root().join("docker/Dockerfile")
}

/// The text of [`path`].
pub fn read() -> anyhow::Result<String> {
    let path = path();
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// The build argument naming the seed account's uid (its name travels as
/// [`EnvVars::SCRATCH_SEED_USER`], which is also what pod-init reads).
pub const SEED_UID_ARG: &str = "SCRATCH_SEED_UID";

/// The build arguments `cargo xtask image` passes, in the order it passes
/// them; the Dockerfile must declare each (docker only warns otherwise, and
/// the value would be silently dropped).
pub const BUILD_ARG_NAMES: [&str; 6] =
    ["LDAP_USERNAME", "LDAP_UID", "LDAP_GROUPNAME", "LDAP_GID", EnvVars::SCRATCH_SEED_USER, SEED_UID_ARG];

/// File names inside the staged build context.
pub const CONTEXT_DOCKERFILE: &str = "Dockerfile";
pub const CONTEXT_POD_INIT: &str = "pod-init";
pub const CONTEXT_ZSHRC: &str = "zshrc";

/// Where oh-my-zsh comes from (cloned at build time, as the old image did).
const OH_MY_ZSH_REPO: &str = "https://github.com/ohmyzsh/ohmyzsh.git";

/// One generated region: its marker name and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub name: &'static str,
    pub body: String,
}

/// The generated regions, in file order.
pub fn blocks() -> Vec<Block> {
    let seed = EnvVars::SCRATCH_SEED_USER;
    let mut seed_account = String::new();
    // Infallible: writing to a String.
    let _ = writeln!(seed_account, "ARG {seed}={DEFAULT_SCRATCH_SEED_USER}");
    let _ = writeln!(seed_account, "ARG {SEED_UID_ARG}={DEFAULT_SCRATCH_SEED_UID}");
    let _ = writeln!(seed_account, "ENV {seed}=${{{seed}}}");

    let mode = format!("{POD_INIT_MODE:o}");
    let mut pod_init = String::new();
    let _ = writeln!(
        pod_init,
        "RUN git clone --quiet --depth=1 {OH_MY_ZSH_REPO} {STAGED_OH_MY_ZSH} \\\n    && rm -rf {STAGED_OH_MY_ZSH}/.git"
    );
    let _ = writeln!(pod_init, "COPY {CONTEXT_ZSHRC} {STAGED_ZSHRC}");
    let _ = writeln!(pod_init, "COPY {CONTEXT_POD_INIT} {POD_INIT_PATH}");
    let _ = writeln!(
        pod_init,
        "RUN chown root:root {POD_INIT_PATH} && chmod {mode} {POD_INIT_PATH} \\\n    && chmod -R a+rX {STAGE_DIR}"
    );
    let _ = writeln!(pod_init, "ENTRYPOINT [\"{POD_INIT_PATH}\"]");

    vec![Block { name: "seed-account", body: seed_account }, Block { name: "pod-init", body: pod_init }]
}

fn begin_marker(name: &str) -> String {
    format!("# >>> generated: {name} (from crates/common; `cargo xtask codegen` rewrites it)")
}

fn end_marker(name: &str) -> String {
    format!("# <<< generated: {name}")
}

/// What is wrong with a Dockerfile's generated regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    MissingMarkers(&'static str),
    Stale(&'static str),
    /// Not exactly one `ENTRYPOINT ["<POD_INIT_PATH>"]` (a second one, even
    /// after the generated region, would replace pod-init).
    Entrypoint,
    UndeclaredArg(&'static str),
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::MissingMarkers(name) => {
                write!(f, "docker/Dockerfile has no `{}` ... `{}` region", begin_marker(name), end_marker(name))
            }
            Drift::Stale(name) => {
                write!(f, "docker/Dockerfile region `{name}` does not match crates/common: run `cargo xtask codegen`")
            }
            Drift::Entrypoint => write!(f, "docker/Dockerfile must have exactly one ENTRYPOINT, [\"{POD_INIT_PATH}\"]"),
            Drift::UndeclaredArg(name) => {
                write!(f, "docker/Dockerfile does not declare `ARG {name}`, which `cargo xtask image` passes")
            }
        }
    }
}

impl std::error::Error for Drift {}

/// The byte range of a block's body (between its marker lines).
fn body_range(text: &str, name: &'static str) -> Result<std::ops::Range<usize>, Drift> {
    let begin = format!("{}\n", begin_marker(name));
    let end = format!("{}\n", end_marker(name));
    let start = text.find(&begin).ok_or(Drift::MissingMarkers(name))? + begin.len();
    let stop = text[start..].find(&end).ok_or(Drift::MissingMarkers(name))? + start;
    Ok(start..stop)
}

/// Checks every generated region against the constants, then what the rest
/// of the file could still break: the single ENTRYPOINT and the ARGs.
pub fn check(text: &str) -> Result<(), Drift> {
    for block in blocks() {
        let range = body_range(text, block.name)?;
        if text[range] != block.body {
            return Err(Drift::Stale(block.name));
        }
    }
    let instructions = instructions(text);
    let mut entrypoints = instructions.iter().filter(|i| i.keyword == "ENTRYPOINT");
    let only = entrypoints.next().and_then(|i| exec_form(&i.rest));
    if entrypoints.next().is_some() || only != Some(vec![POD_INIT_PATH.to_owned()]) {
        return Err(Drift::Entrypoint);
    }
    let declared = declared_args(&instructions);
    if let Some(missing) = BUILD_ARG_NAMES.into_iter().find(|name| !declared.contains(name)) {
        return Err(Drift::UndeclaredArg(missing));
    }
    Ok(())
}

/// The text with every generated region rewritten from the constants.
pub fn regenerate(text: &str) -> Result<String, Drift> {
    let mut text = text.to_owned();
    for block in blocks() {
        let range = body_range(&text, block.name)?;
        text.replace_range(range, &block.body);
    }
    Ok(text)
}

/// One Dockerfile instruction, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Upper-cased, e.g. `ENTRYPOINT`.
    pub keyword: String,
    pub rest: String,
}

/// Splits a Dockerfile into instructions: comments and blank lines dropped,
/// backslash continuations joined. Enough for checks, not a full parser
/// (no heredocs, no escape directive).
pub fn instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, rest) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
                out.push(Instruction { keyword: keyword.to_ascii_uppercase(), rest: rest.trim().to_owned() });
                current.clear();
            }
        }
    }
    out
}

/// The names declared by `ARG` instructions.
fn declared_args(instructions: &[Instruction]) -> Vec<&str> {
    instructions.iter().filter(|i| i.keyword == "ARG").filter_map(|i| i.rest.split('=').next()).collect()
}

/// The strings of an exec-form (`["a", "b"]`) instruction argument. Enough
/// for paths and words without quotes or commas inside.
pub fn exec_form(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('[')?.strip_suffix(']')?;
    inner
        .split(',')
        .map(|word| {
            let word = word.trim();
            word.strip_prefix('"')?.strip_suffix('"').map(str::to_owned)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dockerfile() -> String {
        read().unwrap_or_else(|e| panic!("{e:#}"))
    }

    #[test]
    fn dockerfile_agrees_with_common() {
        if let Err(drift) = check(&dockerfile()) {
            panic!("{drift}");
        }
    }

    /// Independent of the generator: parse the file as docker would and
    /// compare with what pod-init expects.
    #[test]
    fn entrypoint_mode_and_staged_files_agree_with_common() {
        let text = dockerfile();
        let instructions = instructions(&text);

        let entrypoints: Vec<_> = instructions.iter().filter(|i| i.keyword == "ENTRYPOINT").collect();
        assert_eq!(entrypoints.len(), 1, "exactly one ENTRYPOINT: {entrypoints:?}");
        assert_eq!(exec_form(&entrypoints[0].rest), Some(vec![POD_INIT_PATH.to_owned()]));

        let cmd: Vec<_> = instructions.iter().filter(|i| i.keyword == "CMD").collect();
        assert_eq!(cmd.len(), 1, "exactly one CMD: {cmd:?}");
        assert_eq!(exec_form(&cmd[0].rest), Some(vec!["zsh".to_owned()]));

        let runs: Vec<&str> = instructions.iter().filter(|i| i.keyword == "RUN").map(|i| i.rest.as_str()).collect();
        let chmod = format!("chmod {POD_INIT_MODE:o} {POD_INIT_PATH}");
        let chown = format!("chown root:root {POD_INIT_PATH}");
        assert!(runs.iter().any(|r| r.contains(&chmod) && r.contains(&chown)), "no `{chown} && {chmod}`");

        let copies: Vec<&str> = instructions.iter().filter(|i| i.keyword == "COPY").map(|i| i.rest.as_str()).collect();
        assert!(copies.contains(&format!("{CONTEXT_POD_INIT} {POD_INIT_PATH}").as_str()), "{copies:?}");
        assert!(copies.contains(&format!("{CONTEXT_ZSHRC} {STAGED_ZSHRC}").as_str()), "{copies:?}");
        assert!(runs.iter().any(|r| r.contains(&format!(" {STAGED_OH_MY_ZSH} "))), "oh-my-zsh not staged");
        assert!(STAGED_ZSHRC.starts_with(STAGE_DIR) && STAGED_OH_MY_ZSH.starts_with(STAGE_DIR));
    }

    #[test]
    fn the_image_sets_no_root_password_and_keeps_the_base() {
        let text = dockerfile();
        assert!(!text.contains("chpasswd"), "no password is set in the image any more");
        let from: Vec<_> = instructions(&text).into_iter().filter(|i| i.keyword == "FROM").collect();
        assert_eq!(from.len(), 1);
        assert_eq!(from[0].rest, "nvcr.io/nvidia/pytorch:24.02-py3");
    }

    #[test]
    fn a_stale_region_is_reported_and_regenerated() {
        let text = dockerfile();
        let line = format!("COPY {CONTEXT_POD_INIT} {POD_INIT_PATH}");
        let stale = text.replacen(&line, "COPY pod-init /usr/bin/pod-init", 1);
        assert_ne!(stale, text);
        assert_eq!(check(&stale), Err(Drift::Stale("pod-init")));
        let fixed = regenerate(&stale).unwrap_or_default();
        assert_eq!(fixed, text);
        assert_eq!(check("FROM x\n"), Err(Drift::MissingMarkers("seed-account")));
    }

    #[test]
    fn a_second_entrypoint_or_a_missing_arg_is_refused() {
        let text = dockerfile();
        let overridden = format!("{text}ENTRYPOINT [\"/bin/sh\"]\n");
        assert_eq!(check(&overridden), Err(Drift::Entrypoint));
        let without_arg = text.replacen("ARG LDAP_GID=", "ARG OTHER_GID=", 1);
        assert_eq!(check(&without_arg), Err(Drift::UndeclaredArg("LDAP_GID")));
    }

    #[test]
    fn instructions_join_continuations_and_skip_comments() {
        let text = "# c\nFROM a\nRUN x \\\n  && y\n\nentrypoint [\"/p\"]\n";
        let parsed = instructions(text);
        assert_eq!(parsed.len(), 3);
        assert_eq!(parsed[1].rest, "x  && y");
        assert_eq!(parsed[2].keyword, "ENTRYPOINT");
        assert_eq!(exec_form(&parsed[2].rest), Some(vec!["/p".to_owned()]));
    }
}
