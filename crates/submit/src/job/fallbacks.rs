//! The defaults a submission takes silently when the `.env` leaves
//! something out, said once on stderr so that a surprise (a job in the wrong
//! namespace, a pod without its GitHub key, a token synced under a misspelt
//! name) has a line that explains it.

use common::env::{DEFAULT_SECRET_KEYS, EnvVars};

use crate::job::config::EnvFile;
use crate::job::keys;
use crate::job::{self, SecretTarget};

/// One note per default taken. `env` is the file with the GitHub key
/// loaded (if there was one); `submits` says whether a job is submitted.
pub fn notes(env: &EnvFile, target: &SecretTarget, submits: bool) -> Vec<String> {
    let mut notes = Vec::new();
    let path = env.path().display();
    if submits && env.get(keys::RUNAI_PROJECT).is_none() {
        notes.push(format!("{path} sets no RUNAI_PROJECT: the run:ai project is the namespace, {}", target.namespace));
    }
    if env.get(keys::K8S_NAMESPACE).is_none() {
        notes.push(format!(
            "{path} sets no K8S_NAMESPACE: the namespace is the project, {} (on run:ai it is usually runai-{})",
            target.namespace, target.namespace
        ));
    }
    if submits && env.get(EnvVars::SSH_PRIVATE_KEY_B64).is_none() {
        notes.push(format!(
            "no GitHub SSH key (none in {path}, no {}): the pod gets no GitHub key",
            github_key_file(env)
        ));
    }
    for (key, known) in near_misses(env) {
        notes.push(format!("{path}: {key} is synced into the Secret but not handed to the pod; did you mean {known}?"));
    }
    notes
}

/// The key file that was looked for, in words.
fn github_key_file(env: &EnvFile) -> String {
    match env.get(keys::GITHUB_SSH_KEY_PATH) {
        Some(path) => path.to_owned(),
        None => format!("~/{}", keys::DEFAULT_GITHUB_KEY),
    }
}

/// Keys of the file one edit away from a key submit knows (`WANDB_APIKEY`
/// for `WANDB_API_KEY`): (the key, the known one).
pub fn near_misses(env: &EnvFile) -> Vec<(String, &'static str)> {
    let extra: Vec<&str> = job::environment::extra_secret_keys(env).collect();
    let known: Vec<&'static str> = DEFAULT_SECRET_KEYS.iter().copied().chain(keys::SETTINGS).collect();
    let mut found: Vec<(String, &'static str)> = env
        .keys()
        .filter(|key| !known.contains(key) && !extra.contains(key))
        .filter_map(|key| known.iter().find(|k| one_edit_apart(key, k)).map(|k| (key.to_owned(), *k)))
        .collect();
    found.sort();
    found
}

/// Whether `a` becomes `b` by one insertion, deletion, substitution, or
/// swap of neighbours.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Equal => {
            a[1..] == b[1..] || (a.len() >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..])
        }
        std::cmp::Ordering::Less => a == &b[1..],
        std::cmp::Ordering::Greater => &a[1..] == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn one_edit_is_an_insertion_a_deletion_a_substitution_or_a_swap() {
        for (a, b) in [
            ("WANDB_APIKEY", "WANDB_API_KEY"),
            ("HF_TOKENS", "HF_TOKEN"),
            ("HF_TOKEM", "HF_TOKEN"),
            ("HF_TOEKN", "HF_TOKEN"),
        ] {
            assert!(one_edit_apart(a, b), "{a} {b}");
        }
        for (a, b) in [("HF_TOKEN", "HF_TOKEN"), ("OPENAI_API_KEY", "WANDB_API_KEY"), ("HF_TKN", "HF_TOKEN")] {
            assert!(!one_edit_apart(a, b), "{a} {b}");
        }
    }

    #[test]
    fn a_misspelt_secret_key_is_named_unless_listed_as_extra() {
        let env = EnvFile::parse(Path::new(".env"), "WANDB_APIKEY=x\nOPENAI_API_KEY=y\n").unwrap();
        assert_eq!(near_misses(&env), [("WANDB_APIKEY".to_owned(), "WANDB_API_KEY")]);
        let env = EnvFile::parse(Path::new(".env"), "WANDB_APIKEY=x\nEXTRA_SECRET_KEYS=WANDB_APIKEY\n").unwrap();
        assert!(near_misses(&env).is_empty());
    }
}
