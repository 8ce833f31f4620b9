//! Reading the researcher's `.env` into a map, with dotenv semantics.
//!
//! dotenvy does the parsing (quotes, `#` in quoted values, inline comments,
//! multi-line quoted values, `export KEY=`), but never into our own process
//! environment: the values are secrets and our environment is inherited by
//! every child we start. What dotenvy does not give is the line of each entry,
//! and every error here names the file and the line; [`LineFeeder`] hands
//! dotenvy one physical line per read so we can count them.
//!
//! Values never appear in an error message or a `Debug` output: only keys.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// One `KEY=value` of the file.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    /// Where the value came from: a line of the file, or a file read on
    /// the user's behalf (the GitHub key).
    pub origin: Origin,
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Line(usize),
    File(PathBuf),
}

/// The loaded configuration: keys in sorted order.
#[derive(Clone)]
pub struct EnvFile {
    path: PathBuf,
    entries: BTreeMap<String, Entry>,
}

impl fmt::Debug for EnvFile {
    /// Keys only: the values are secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvFile")
            .field("path", &self.path)
            .field("keys", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why the `.env` could not be used. Every variant names the file; none
/// carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "cannot read the configuration {path}: {reason}; copy examples/user.env.example to .env and fill it in, or pass --env-file"
    )]
    Read { path: PathBuf, reason: io::Error },
    #[error("{path}: not UTF-8 text")]
    NotUtf8 { path: PathBuf },
    #[error("{path}:{line}: cannot parse this line; write KEY=value, and quote a value that has spaces")]
    Parse { path: PathBuf, line: usize },
    #[error("{path}:{line}: a quoted value is never closed")]
    Unterminated { path: PathBuf, line: usize },
    #[error("{path}:{line}: {key} is already set on line {first}; keep only one")]
    Duplicate { path: PathBuf, key: String, line: usize, first: usize },
    #[error("{path}:{line}: {key} must not contain a NUL character")]
    Nul { path: PathBuf, key: String, line: usize },
    #[error("{path}:{line}: {key} cannot be a Kubernetes Secret key: use at most 253 letters, digits, '-', '_' or '.'")]
    BadKey { path: PathBuf, key: String, line: usize },
    #[error("{path}:{line}: fill in {key}: it still holds the template placeholder {placeholder:?}")]
    Placeholder { path: PathBuf, key: String, line: usize, placeholder: String },
}

impl EnvFile {
    /// Reads and parses `path`. A byte-order mark is skipped and Windows
    /// line ends are read as plain ones, so a file saved by a Windows
    /// editor means the same as the Unix one.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|reason| ConfigError::Read { path: path.to_owned(), reason })?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 { path: path.to_owned() })?;
        Self::parse(path, &text)
    }

    /// Parses `text` as the contents of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let text = text.replace("\r\n", "\n");
        let lines: Vec<&str> = text.split('\n').collect();
        let lines_read = Rc::new(Cell::new(0));
        let feeder = LineFeeder { rest: text.as_bytes(), lines_read: Rc::clone(&lines_read) };
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        for item in dotenvy::from_read_iter(feeder) {
            let end_line = lines_read.get().max(1);
            let (key, value) = item.map_err(|err| match err {
                dotenvy::Error::LineParse(content, column) => {
                    if column + 1 >= content.len() && has_open_quote(&content) {
                        ConfigError::Unterminated { path: path.to_owned(), line: end_line }
                    } else {
                        ConfigError::Parse { path: path.to_owned(), line: end_line }
                    }
                }
                dotenvy::Error::Io(reason) => ConfigError::Read { path: path.to_owned(), reason },
                _ => ConfigError::Parse { path: path.to_owned(), line: end_line },
            })?;
            let line = definition_line(&lines, &key, end_line);
            if let Some(first) = entries.get(&key) {
                let first = match first.origin {
                    Origin::Line(n) => n,
                    Origin::File(_) => 0,
                };
                return Err(ConfigError::Duplicate { path: path.to_owned(), key, line, first });
            }
            if value.contains('\0') {
                return Err(ConfigError::Nul { path: path.to_owned(), key, line });
            }
            if !crate::secret::is_valid_key(&key) {
                return Err(ConfigError::BadKey { path: path.to_owned(), key, line });
            }
            entries.insert(key, Entry { value, origin: Origin::Line(line) });
        }
        Ok(EnvFile { path: path.to_owned(), entries })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The value of `key` if it is set and not empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|e| e.value.as_str()).filter(|v| !v.is_empty())
    }

    /// The line `key` is defined on, if it comes from the file.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        match self.entries.get(key)?.origin {
            Origin::Line(n) => Some(n),
            Origin::File(_) => None,
        }
    }

    /// Sets `key` from a file read on the user's behalf.
    pub fn insert_from_file(&mut self, key: &str, value: String, file: &Path) {
        self.entries.insert(key.to_owned(), Entry { value, origin: Origin::File(file.to_owned()) });
    }

    /// Every key with a non-empty value, in sorted order.
    pub fn non_empty(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().filter(|(_, e)| !e.value.is_empty()).map(|(k, e)| (k.as_str(), e.value.as_str()))
    }

    /// Fails on the first key in `keys` whose value is still a template
    /// placeholder. For `secret_keys`, only a whole-value placeholder counts:
    /// a token may legitimately contain `<` and `>`.
    pub fn reject_placeholders(&self, secret_keys: &[&str]) -> Result<(), ConfigError> {
        // In file order, so the first placeholder the user sees is the first
        // one in the file.
        let mut in_file: Vec<(usize, &String, &Entry)> = self
            .entries
            .iter()
            .filter_map(|(k, e)| match e.origin {
                Origin::Line(n) => Some((n, k, e)),
                Origin::File(_) => None,
            })
            .collect();
        in_file.sort_by_key(|(n, _, _)| *n);
        for (line, key, entry) in in_file {
            let whole_only = secret_keys.contains(&key.as_str());
            if let Some(placeholder) = find_placeholder(&entry.value, whole_only) {
                return Err(ConfigError::Placeholder {
                    path: self.path.clone(),
                    key: key.clone(),
                    line,
                    placeholder: placeholder.to_owned(),
                });
            }
        }
        Ok(())
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

/// Whether `content` (a line dotenvy gave up on) ends inside a quote.
fn has_open_quote(content: &str) -> bool {
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in content.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            _ => {}
        }
    }
    single || double
}

/// The 1-based line at or before `end_line` where `key` is assigned. A
/// multi-line value ends after the line that names its key.
fn definition_line(lines: &[&str], key: &str, end_line: usize) -> usize {
    let last = end_line.min(lines.len());
    (1..=last).rev().find(|&n| assigns(lines[n - 1], key)).unwrap_or(end_line)
}

fn assigns(line: &str, key: &str) -> bool {
    let line = line.trim_start();
    let line = match line.strip_prefix("export") {
        Some(rest) if rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => line,
    };
    line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// A reader that returns at most one line per `read`, so that dotenvy's
/// buffered reader never holds more than the line it is parsing and
/// `lines_read` is the number of the last line it consumed.
struct LineFeeder<'a> {
    rest: &'a [u8],
    lines_read: Rc<Cell<usize>>,
}

impl Read for LineFeeder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rest.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        let line_len = self.rest.iter().position(|&b| b == b'\n').map_or(self.rest.len(), |i| i + 1);
        let n = line_len.min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        if n == line_len {
            self.lines_read.set(self.lines_read.get() + 1);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<EnvFile, ConfigError> {
        EnvFile::parse(Path::new("test.env"), text)
    }

    fn value<'a>(env: &'a EnvFile, key: &str) -> &'a str {
        &env.entries[key].value
    }

    #[test]
    fn dotenv_semantics() {
        let env = parse(concat!(
            "# comment\n",
            "PLAIN=abc\n",
            "INLINE=abc # a comment\n",
            "HASH_IN_QUOTES=\"a # b\"\n",
            "SINGLE='it''s $HOME'\n",
            "DOUBLE=\"say \\\"hi\\\"\"\n",
            "export EXPORTED=yes\n",
            "EMPTY=\n",
            "MULTI=\"line one\n",
            "line two\"\n",
            "AFTER=1\n",
            "UNICODE='grüezi ✓'\n",
        ))
        .unwrap();
        assert_eq!(value(&env, "PLAIN"), "abc");
        assert_eq!(value(&env, "INLINE"), "abc");
        assert_eq!(value(&env, "HASH_IN_QUOTES"), "a # b");
        assert_eq!(value(&env, "SINGLE"), "its $HOME");
        assert_eq!(value(&env, "DOUBLE"), "say \"hi\"");
        assert_eq!(value(&env, "EXPORTED"), "yes");
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(value(&env, "MULTI"), "line one\nline two");
        assert_eq!(value(&env, "UNICODE"), "grüezi ✓");
        assert_eq!(env.line_of("PLAIN"), Some(2));
        assert_eq!(env.line_of("MULTI"), Some(9));
        assert_eq!(env.line_of("AFTER"), Some(11));
    }

    #[test]
    fn crlf_and_bom_read_like_unix_text() {
        let unix = parse("A=1\nB=\"x\ny\"\nC='q'\n").unwrap();
        let windows = parse("\u{feff}A=1\r\nB=\"x\r\ny\"\r\nC='q'\r\n").unwrap();
        assert!(windows.entries == unix.entries);
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("A=1\n\nB=two words\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.env:3: cannot parse this line; write KEY=value, and quote a value that has spaces"
        );
        let err = parse("A=1\nmy-key=2\n").unwrap_err();
        assert!(err.to_string().starts_with("test.env:2: cannot parse"), "{err}");
        let err = parse("A=1\nB=\"open\nC=3\n").unwrap_err();
        assert_eq!(err.to_string(), "test.env:3: a quoted value is never closed");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = parse("A=1\nB=2\nA=3\n").unwrap_err();
        assert_eq!(err.to_string(), "test.env:3: A is already set on line 1; keep only one");
    }

    #[test]
    fn overlong_keys_are_refused() {
        let key = format!("K{}", "x".repeat(253));
        let err = parse(&format!("A=1\n{key}=2\n")).unwrap_err();
        assert!(matches!(err, ConfigError::BadKey { line: 2, .. }), "{err}");
    }

    #[test]
    fn errors_never_show_values() {
        let secret = "hunter2-very-secret";
        for text in [format!("A={secret} oops\n"), format!("A=\"{secret}\nB"), format!("A={secret}\nA={secret}\n")] {
            let err = parse(&text).unwrap_err();
            assert!(!err.to_string().contains(secret), "{err}");
        }
        let env = parse(&format!("TOKEN={secret}\n")).unwrap();
        assert!(!format!("{env:?}").contains(secret));
    }

    #[test]
    fn placeholders_name_the_key() {
        let env = parse("LDAP_USERNAME=ada\nRUNAI_PROJECT=mlo-<your-gaspar>\n").unwrap();
        let err = env.reject_placeholders(&[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "test.env:2: fill in RUNAI_PROJECT: it still holds the template placeholder \"<your-gaspar>\""
        );
        let env = parse("LDAP_UID=00000\n").unwrap();
        assert!(matches!(env.reject_placeholders(&[]), Err(ConfigError::Placeholder { line: 1, .. })));
        let env = parse("HF_TOKEN='a<b>c'\nWANDB_API_KEY='x > y < z'\n").unwrap();
        assert!(env.reject_placeholders(&["HF_TOKEN", "WANDB_API_KEY"]).is_ok());
        let env = parse("HF_TOKEN=<your-token>\n").unwrap();
        assert!(env.reject_placeholders(&["HF_TOKEN"]).is_err());
    }

    #[test]
    fn missing_file_says_how_to_start() {
        let err = EnvFile::load(Path::new("/nonexistent/.env")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read the configuration /nonexistent/.env: "), "{err}");
        assert!(err.to_string().contains("user.env.example"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = parse(&text);
        }

        #[test]
        fn single_quoted_values_round_trip(v in "[^'\\\\\\x00\\r]{0,40}") {
            let env = parse(&format!("K='{v}'\n")).unwrap();
            proptest::prop_assert_eq!(&env.entries["K"].value, &v);
        }

        #[test]
        fn lines_are_counted(blank in 0usize..5, comments in 0usize..5) {
            let text = format!("{}{}K=v\n", "\n".repeat(blank), "# c\n".repeat(comments));
            let env = parse(&text).unwrap();
            proptest::prop_assert_eq!(env.line_of("K"), Some(blank + comments + 1));
        }
    }
}
