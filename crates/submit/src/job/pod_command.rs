//! The command the pod runs, packed so that no quoting can change it.
//!
//! The user's command crosses three shells' worth of quoting on its way
//! (ours, runai's argument handling, the pod's zsh). As the wrapper did, the
//! script travels base64-encoded inside a fixed zsh snippet whose only
//! variable part is the base64 alphabet, which no shell treats specially. The
//! pod decodes it, prints it (so the job's log starts with what it runs, as
//! the wrapper's did), sources `~/.zshrc` and `eval`s it in that same zsh.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// What the user asked the pod to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodScript {
    /// `--exp-folder`: shell text, as in the wrapper (`~` and `$VARS` work).
    pub exp_folder: Option<String>,
    /// `--venv`: shell text; its `bin/activate` is sourced.
    pub venv: Option<String>,
    /// `--command`, or the default sleep.
    pub command: String,
}

/// The shell the pod runs the script with (the image's login shell).
pub const POD_SHELL: &str = "/bin/zsh";

impl PodScript {
    /// The script, as the pod's zsh will see it after decoding: each step
    /// runs only if the previous one succeeded.
    pub fn script(&self) -> String {
        let mut steps = Vec::new();
        if let Some(dir) = &self.exp_folder {
            steps.push(format!("cd {dir}"));
        }
        if let Some(venv) = &self.venv {
            steps.push(format!("source {venv}/bin/activate"));
        }
        steps.push(self.command.clone());
        steps.join(" && ")
    }

    /// The argv after runai's `--`: `/bin/zsh -c <snippet>`. The script is
    /// printed before `~/.zshrc` is sourced (it sets the umask and the tool
    /// paths), so it comes first in the log; a failure in `~/.zshrc` does not
    /// stop the job, as a login would not.
    pub fn argv(&self) -> [String; 3] {
        let payload = BASE64.encode(self.script());
        [POD_SHELL.to_owned(), "-c".to_owned(), format!("{SNIPPET_HEAD}{payload}{SNIPPET_TAIL}")]
    }
}

/// The snippet around the payload. The decoded script is kept in a variable
/// whose name no `.zshrc` or script is likely to use.
const SNIPPET_HEAD: &str = "_submit_script=\"$(printf %s ";
const SNIPPET_TAIL: &str =
    " | base64 -d)\"; printf '%s\\n' \"$_submit_script\"; source ~/.zshrc; eval \"$_submit_script\"";

/// The base64 payload of a snippet made by [`PodScript::argv`].
pub fn snippet_payload(snippet: &str) -> Option<&str> {
    snippet.strip_prefix(SNIPPET_HEAD)?.strip_suffix(SNIPPET_TAIL)
}

/// Decodes the script back out of a snippet made by [`PodScript::argv`];
/// for tests, which check the payload survives.
pub fn decode_snippet(snippet: &str) -> Option<String> {
    String::from_utf8(BASE64.decode(snippet_payload(snippet)?).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(command: &str) -> PodScript {
        PodScript { exp_folder: None, venv: None, command: command.to_owned() }
    }

    #[test]
    fn steps_chain_in_the_wrapper_order() {
        let s = PodScript {
            exp_folder: Some("~/proj".into()),
            venv: Some(".venv".into()),
            command: "python train.py".into(),
        };
        assert_eq!(s.script(), "cd ~/proj && source .venv/bin/activate && python train.py");
        assert_eq!(script("sleep 43200").script(), "sleep 43200");
    }

    #[test]
    fn snippet_is_fixed_text_around_base64() {
        let [shell, flag, snippet] = script("echo 'hi' \"$USER\"; exit 3").argv();
        assert_eq!((shell.as_str(), flag.as_str()), ("/bin/zsh", "-c"));
        assert_eq!(
            snippet,
            "_submit_script=\"$(printf %s ZWNobyAnaGknICIkVVNFUiI7IGV4aXQgMw== | base64 -d)\"; \
             printf '%s\\n' \"$_submit_script\"; source ~/.zshrc; eval \"$_submit_script\""
        );
        assert_eq!(decode_snippet(&snippet).unwrap(), "echo 'hi' \"$USER\"; exit 3");
    }

    #[test]
    #[allow(clippy::disallowed_methods, reason = "the snippet is checked by a real shell")]
    fn snippet_runs_the_script_in_a_real_shell() {
        // zsh is not on every build machine; sh has the same `eval` and
        // `$(...)` semantics for this snippet once `source` is swapped out.
        let command = "printf '%s|' \"a b\" 'c'\"'\"'d' $((1+2)) `echo e`; printf '\\n'";
        let [_, _, snippet] = script(command).argv();
        let snippet = snippet.replace("source ~/.zshrc;", ":;");
        let out = std::process::Command::new("sh").arg("-c").arg(&snippet).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{command}\na b|c'd|3|e|\n"));
    }

    proptest::proptest! {
        #[test]
        fn any_payload_round_trips(
            command in "\\PC{0,200}",
            exp in proptest::option::of("\\PC{0,40}"),
            venv in proptest::option::of("\\PC{0,40}"),
        ) {
            let s = PodScript { exp_folder: exp, venv, command };
            let [_, _, snippet] = s.argv();
            proptest::prop_assert_eq!(decode_snippet(&snippet), Some(s.script()));
            // The variable part is base64 only: nothing a shell could act on.
            let payload = snippet_payload(&snippet).unwrap();
            proptest::prop_assert!(payload.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)));
        }
    }
}
