//! The checks' results and their two renderings: aligned lines for people,
//! JSON for scripts.

use std::path::Path;

use serde_json::json;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Ok,
    /// Works, but something will be missing (no GitHub key) or looks off.
    Warn,
    Fail,
    /// Not run: an earlier check failed.
    Skip,
}

impl Mark {
    fn word(self) -> &'static str {
        match self {
            Mark::Ok => "ok",
            Mark::Warn => "warn",
            Mark::Fail => "FAIL",
            Mark::Skip => "skip",
        }
    }
}

/// One check: what it looked at, what it found, what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub mark: Mark,
    pub found: String,
    /// One line each: a command to run, a line of the `.env` to edit.
    pub fix: Vec<String>,
}

impl Check {
    pub fn ok(name: &'static str, found: impl Into<String>) -> Self {
        Check { name, mark: Mark::Ok, found: found.into(), fix: Vec::new() }
    }

    pub fn warn(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { name, mark: Mark::Warn, found: found.into(), fix: vec![fix.into()] }
    }

    pub fn fail(name: &'static str, found: impl Into<String>, fix: impl Into<String>) -> Self {
        Check { name, mark: Mark::Fail, found: found.into(), fix: vec![fix.into()] }
    }

    /// Not run, because of `why` (an earlier failure).
    pub fn skip(name: &'static str, why: &str) -> Self {
        Check { name, mark: Mark::Skip, found: format!("not checked: {why}"), fix: Vec::new() }
    }
}

const NAME_WIDTH: usize = 12;

/// One line per check, its fixes indented below it, and a summary.
pub fn text(env_path: &Path, checks: &[Check]) -> String {
    let mut out = format!("submit doctor: what a submission from {} needs\n", env_path.display());
    for check in checks {
        out.push_str(&format!("{:<5} {:<NAME_WIDTH$} {}\n", check.mark.word(), check.name, check.found));
        for fix in &check.fix {
            out.push_str(&format!("{:<5} {:<NAME_WIDTH$} fix: {fix}\n", "", ""));
        }
    }
    let count = |mark| checks.iter().filter(|c| c.mark == mark).count();
    let (failed, warned, skipped) = (count(Mark::Fail), count(Mark::Warn), count(Mark::Skip));
    let warnings = match warned {
        1 => "1 warning".to_owned(),
        n => format!("{n} warnings"),
    };
    out.push_str(&match failed {
        0 => format!("all {} checks passed ({warnings})\n", checks.len()),
        n => format!("{n} failed, {warnings}, {skipped} not checked: fix the first FAIL first\n"),
    });
    out
}

/// `{"env_file": ..., "ok": bool, "checks": [{"name", "status", "found", "fix": [...]}]}`.
pub fn json(env_path: &Path, checks: &[Check]) -> String {
    let items: Vec<serde_json::Value> = checks
        .iter()
        .map(|c| json!({"name": c.name, "status": c.mark.word().to_ascii_lowercase(), "found": c.found, "fix": c.fix}))
        .collect();
    let ok = checks.iter().all(|c| c.mark != Mark::Fail);
    format!("{}\n", json!({"env_file": env_path.display().to_string(), "ok": ok, "checks": items}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_align_and_fixes_follow_their_check() {
        let checks = [Check::ok("kubectl", "/usr/bin/kubectl"), Check::fail("runai", "not on PATH", "install it")];
        assert_eq!(
            text(Path::new(".env"), &checks),
            "submit doctor: what a submission from .env needs\n\
             ok    kubectl      /usr/bin/kubectl\n\
             FAIL  runai        not on PATH\n\
             \x20                  fix: install it\n\
             1 failed, 0 warnings, 0 not checked: fix the first FAIL first\n"
        );
        let value: serde_json::Value = serde_json::from_str(&json(Path::new(".env"), &checks)).unwrap();
        assert_eq!(value["ok"], false);
        assert_eq!(value["checks"][1]["status"], "fail");
    }
}
