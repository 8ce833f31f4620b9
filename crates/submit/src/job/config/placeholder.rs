//! A value the researcher has not filled in yet: the template's
//! `<your-...>` words, or its `00000` ids, still in the file.

use crate::job::config::{ConfigError, Entry, EnvFile, Origin};

impl EnvFile {
    /// Every key of the file whose value is still a template placeholder,
    /// in file order (so the first one the user sees is the first in the
    /// file). For `secret_keys`, only a whole-value placeholder counts: a
    /// token may legitimately contain `<` and `>`.
    pub fn placeholders(&self, secret_keys: &[&str]) -> Vec<ConfigError> {
        let mut in_file: Vec<(usize, &String, &Entry)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| match e.origin {
                Origin::Line(n) => Some((n, k, e)),
                Origin::File(_) => None,
            })
            .collect();
        in_file.sort_by_key(|(n, _, _)| *n);
        in_file
            .into_iter()
            .filter_map(|(line, key, entry)| {
                let whole_only = secret_keys.contains(&key.as_str());
                find_placeholder(&entry.value, whole_only).map(|placeholder| ConfigError::Placeholder {
                    path: self.path.clone(),
                    key: key.clone(),
                    line,
                    placeholder: placeholder.to_owned(),
                })
            })
            .collect()
    }
}

/// The template placeholder in `value`, if any: `<word>` (letters, digits,
/// `-`, `_`, `.`, spaces) somewhere in it, or a value of zeros only, such
/// as the `00000` the template gives for ids.
pub fn find_placeholder(value: &str, whole_only: bool) -> Option<&str> {
    if value.len() >= 2 && value.bytes().all(|b| b == b'0') {
        return Some(value);
    }
    let is_word =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
    if whole_only {
        let inner = value.strip_prefix('<')?.strip_suffix('>')?;
        return is_word(inner).then_some(value);
    }
    let mut search = 0;
    while let Some(open) = value[search..].find('<').map(|i| i + search) {
        if let Some(len) = value[open + 1..].find('>') {
            let inner = &value[open + 1..open + 1 + len];
            if is_word(inner) {
                return Some(&value[open..open + len + 2]);
            }
        }
        search = open + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<EnvFile, ConfigError> {
        EnvFile::parse(Path::new("test.env"), text)
    }

    #[test]
    fn placeholders_name_the_key() {
        let env = parse("LDAP_USERNAME=ada\nRUNAI_PROJECT=mlo-<your-gaspar> # TODO\n").unwrap();
        let err = env.placeholders(&[]).remove(0);
        assert_eq!(
            err.to_string(),
            "test.env:2: fill in RUNAI_PROJECT: it still holds the template placeholder \"<your-gaspar>\""
        );
        let env = parse("LDAP_UID=00000 # TODO: id -u\n").unwrap();
        assert!(matches!(env.placeholders(&[])[..], [ConfigError::Placeholder { line: 1, .. }]));
        let env = parse("HF_TOKEN='a<b>c'\nWANDB_API_KEY='x > y < z'\n").unwrap();
        assert!(env.placeholders(&["HF_TOKEN", "WANDB_API_KEY"]).is_empty());
        let env = parse("HF_TOKEN=<your-token>\n").unwrap();
        assert_eq!(env.placeholders(&["HF_TOKEN"]).len(), 1);
    }
}
