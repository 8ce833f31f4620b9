//! `submit init`: the `.env` template, embedded in the binary so that it
//! works outside the clone, written where the submission will look for it.
//! An existing file is never touched: it holds the user's tokens.

use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;

use anyhow::{Result, anyhow};

use crate::app::{Context, Outcome};
use crate::job::config::EnvFile;
use crate::job::config::placeholder::find_placeholder;

/// The template, as shipped in examples/.
pub const TEMPLATE: &str = include_str!("../../../../examples/user.env.example");

/// `submit init`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the template
    #[arg(long, value_name = "PATH", default_value = ".env")]
    pub env_file: PathBuf,
}

pub fn run(args: &Args, ctx: &Context) -> Result<Outcome> {
    let path = super::env_path(&args.env_file, ctx);
    // create_new: an existing file (or a symlink planted there) is refused
    // by the kernel, not by a check that could race. 0600: it will hold tokens.
    let mut file = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => anyhow!(
            "{} already exists; nothing was written (check it with `submit doctor`, or pass --env-file for another file)",
            path.display()
        ),
        _ => anyhow!("cannot create {}: {e}", path.display()),
    })?;
    if let Err(e) = file.write_all(TEMPLATE.as_bytes()).and_then(|()| file.sync_all()) {
        // Never leave half a template behind.
        let _ = std::fs::remove_file(&path);
        return Err(anyhow!("cannot write {}: {e}; nothing was left there", path.display()));
    }
    let mut text = format!("wrote the template to {}; fill in these lines:\n", path.display());
    for (line, key) in lines_to_fill(&path) {
        text.push_str(&format!("  {}:{line}: {key}\n", path.display()));
    }
    text.push_str("then run `submit doctor` to check everything a submission needs\n");
    crate::app::print(&text)?;
    Ok(Outcome::Success)
}

/// The template's lines that hold a placeholder: (line, key).
fn lines_to_fill(path: &std::path::Path) -> Vec<(usize, String)> {
    let Ok(env) = EnvFile::parse(path, TEMPLATE) else { return Vec::new() };
    let mut lines: Vec<(usize, String)> = env
        .keys()
        .filter(|k| env.get(k).is_some_and(|v| find_placeholder(v, false).is_some()))
        .filter_map(|k| env.line_of(k).map(|l| (l, k.to_owned())))
        .collect();
    lines.sort();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_names_every_line_to_fill() {
        let lines = lines_to_fill(std::path::Path::new(".env"));
        let keys: Vec<&str> = lines.iter().map(|(_, k)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "LDAP_USERNAME",
                "LDAP_UID",
                "LDAP_GROUPNAME",
                "LDAP_GID",
                "RUNAI_PROJECT",
                "K8S_NAMESPACE",
                "RUNAI_IMAGE",
                "RUNAI_SECRET_NAME",
                "SCRATCH_PVC"
            ]
        );
    }
}
