//! Reading the researcher's `.env` into a map, the way the Python wrapper
//! (`csub.py`) read it, so that a file written for it means the same here.
//!
//! One `KEY=value` per line; spaces around the key, the `=` and an
//! unquoted value do not count (`LDAP_GID = 83070`, `GIT_USER_NAME=Jane van
//! Doe`); `#` starts a comment at the start of a line or of a value, or
//! after a space (`HF_TOKEN=hf_x   # my token`). Values are literal: no
//! `$VAR` expansion and no backslash escapes, because a token containing `$`
//! or `\` must reach the Secret byte for byte. A pair of `'` or `"` around a
//! value only delimits it: what is between them is kept as it is, `#`
//! included, and a quoted value may span lines (known_hosts entries). The
//! closing quote is the first one followed by nothing but white space or a
//! comment, so `'O'Brien'` is `O'Brien`, as with the wrapper.
//!
//! Beyond the wrapper, every error names the file and the line (and the key
//! when there is one), a byte-order mark and Windows line ends are read as
//! the Unix file, and a duplicate key is refused rather than the last one
//! silently winning. The values are secrets and never enter our own process
//! environment (it is inherited by every child we start).
//!
//! Values never appear in an error message or a `Debug` output: only keys.

pub mod placeholder;

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

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
        "cannot read the configuration {path}: {reason}; run `submit init` to write the template there and fill it in, or pass --env-file"
    )]
    Read { path: PathBuf, reason: io::Error },
    #[error("{path}: not UTF-8 text")]
    NotUtf8 { path: PathBuf },
    #[error("{path}:{line}: cannot parse this line; write KEY=value, or start a comment with #")]
    Parse { path: PathBuf, line: usize },
    #[error("{path}:{line}: the quoted value of {key} is never closed; end it with {quote}")]
    Unterminated { path: PathBuf, key: String, line: usize, quote: char },
    #[error(
        "{path}:{line}: the quoted value of {key} is not closed before line {next_line}, which sets {next_key}; end it with {quote}"
    )]
    RunsInto { path: PathBuf, key: String, line: usize, quote: char, next_key: String, next_line: usize },
    #[error(
        "{path}:{line}: {key} has text after its closing {quote}; quote the whole value, or put # before a comment"
    )]
    TextAfterQuote { path: PathBuf, key: String, line: usize, quote: char },
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
        let mut lines = text.split('\n').enumerate().map(|(i, line)| (i + 1, line));
        let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
        while let Some((line, raw)) = lines.next() {
            let content = raw.trim_start();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let Some((key, rest)) = split_assignment(content).filter(|(key, _)| !key.is_empty()) else {
                return Err(ConfigError::Parse { path: path.to_owned(), line });
            };
            let key = key.to_owned();
            let rest = rest.trim_start();
            let value = match rest.chars().next() {
                Some(quote @ ('\'' | '"')) => {
                    quoted_value(&rest[1..], quote, &mut lines).map_err(|problem| match problem {
                        QuoteProblem::NeverClosed => {
                            ConfigError::Unterminated { path: path.to_owned(), key: key.clone(), line, quote }
                        }
                        QuoteProblem::TextAfter => {
                            ConfigError::TextAfterQuote { path: path.to_owned(), key: key.clone(), line, quote }
                        }
                        QuoteProblem::RunsInto { key: next_key, line: next_line } => ConfigError::RunsInto {
                            path: path.to_owned(),
                            key: key.clone(),
                            line,
                            quote,
                            next_key: next_key.to_owned(),
                            next_line,
                        },
                    })?
                }
                _ => rest[..comment_start(rest)].trim_end().to_owned(),
            };
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
            if !crate::job::secret::is_valid_key(&key) {
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

    /// The keys of the file, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

/// The key and the rest of a `KEY=value` line (or `export KEY=value`),
/// the key without white space around it; `None` for a line without `=`.
fn split_assignment(line: &str) -> Option<(&str, &str)> {
    let (key, rest) = line.trim_start().split_once('=')?;
    let key = key.trim_end();
    let key = key.strip_prefix("export").filter(|k| k.starts_with(char::is_whitespace)).unwrap_or(key);
    Some((key.trim_start(), rest))
}

/// Where the comment of an unquoted value starts: at a `#` that begins
/// the value or follows white space; the value's length if it has none.
fn comment_start(value: &str) -> usize {
    let mut previous = None;
    for (i, c) in value.char_indices() {
        if c == '#' && previous.is_none_or(char::is_whitespace) {
            return i;
        }
        previous = Some(c);
    }
    value.len()
}

/// Why a quoted value could not be read.
enum QuoteProblem {
    /// No closing quote before the end of the file.
    NeverClosed,
    /// The opening line has the quote again, but with more text after it
    /// (`KEY="a" b`): a mistake, not the start of a multi-line value.
    TextAfter,
    /// A line of the value sets a key of the file (`GIT_USER_EMAIL=...`):
    /// the quote was left open, and reading on would swallow that key.
    RunsInto { key: &'static str, line: usize },
}

/// The key of the file that `line` sets, if it starts as an assignment of
/// one: only the file's own keys count, so a multi-line value (known_hosts
/// entries, base64 text) is never taken for one.
fn assigned_file_key(line: &str) -> Option<&'static str> {
    let (name, _) = split_assignment(line)?;
    crate::job::keys::SETTINGS.into_iter().chain(common::env::DEFAULT_SECRET_KEYS).find(|k| *k == name)
}

/// The value that opens with `quote` and continues with `first` (the rest
/// of its line); further lines are taken from `lines` until one holds the
/// closing quote.
fn quoted_value<'a>(
    first: &'a str,
    quote: char,
    lines: &mut impl Iterator<Item = (usize, &'a str)>,
) -> Result<String, QuoteProblem> {
    match closing_quote(first, quote) {
        Some(end) => return Ok(first[..end].to_owned()),
        None if first.contains(quote) => return Err(QuoteProblem::TextAfter),
        None => {}
    }
    let mut value = first.to_owned();
    for (number, line) in lines {
        if let Some(key) = assigned_file_key(line) {
            return Err(QuoteProblem::RunsInto { key, line: number });
        }
        value.push('\n');
        if let Some(end) = closing_quote(line, quote) {
            value.push_str(&line[..end]);
            return Ok(value);
        }
        value.push_str(line);
    }
    Err(QuoteProblem::NeverClosed)
}

/// The first `quote` in `text` followed only by white space or a comment.
fn closing_quote(text: &str, quote: char) -> Option<usize> {
    text.match_indices(quote).map(|(i, _)| i).find(|&i| {
        let after = text[i + quote.len_utf8()..].trim_start();
        after.is_empty() || after.starts_with('#')
    })
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

    /// Lines as people write them, each with the value the wrapper's parser
    /// gives, except where noted.
    #[test]
    fn values_read_as_the_wrapper_reads_them() {
        let as_the_wrapper = [
            ("GIT_USER_NAME=Jane van Doe", "Jane van Doe"),
            ("LDAP_GID = 83070", "83070"),
            ("  LDAP_GID=83070  ", "83070"),
            ("HF_TOKEN=hf_x   # my token", "hf_x"),
            ("HF_TOKEN= # TODO: add your token", ""),
            ("WANDB_API_KEY='k'  # quoted, then a comment", "k"),
            ("TOKEN=ab$cd${EF}$", "ab$cd${EF}$"),
            ("TOKEN=\"ab$HOME\"", "ab$HOME"),
            ("TOKEN='ab$HOME'", "ab$HOME"),
            (r#"PASSWORD="say \"hi\" \\ \n""#, r#"say \"hi\" \\ \n"#),
            ("NAME='O'Brien'", "O'Brien"),
            ("SINGLE='it''s'", "it''s"),
            ("HALF=it's", "it's"),
            ("HALF=x\"", "x\""),
            ("EQ=a=b=c", "a=b=c"),
            ("SPACES=\"  padded  \"", "  padded  "),
            ("UNICODE='grüezi ✓'", "grüezi ✓"),
        ];
        // Not as the wrapper, which cut a value at its first #, quoted or
        // glued to a word, and read `export` as part of the key.
        let better = [
            ("HASH_IN_QUOTES=\"a # b\"  # c", "a # b"),
            ("HASH_IN_WORD=abc#def", "abc#def"),
            ("export EXPORTED=yes", "yes"),
        ];
        for (line, expected) in as_the_wrapper.into_iter().chain(better) {
            let env = parse(&format!("# comment\n\n{line}\n")).unwrap_or_else(|e| panic!("{line}: {e}"));
            let (key, entry) = env.entries.iter().next().unwrap();
            assert_eq!(entry.value, expected, "{line}");
            assert_eq!(env.line_of(key), Some(3), "{line}");
            if as_the_wrapper.iter().any(|(l, _)| *l == line) {
                assert_eq!(wrapper_parse(line).get(key).map(String::as_str), Some(expected), "{line}");
            }
        }
    }

    #[test]
    fn a_quoted_value_may_span_lines() {
        let env = parse("A=1\nHOSTS=\"github.com ssh-ed25519 A\n  gitlab.com \"x\" y\nlast\"  # hosts\nB=2\n").unwrap();
        assert_eq!(value(&env, "HOSTS"), "github.com ssh-ed25519 A\n  gitlab.com \"x\" y\nlast");
        assert_eq!((env.line_of("HOSTS"), env.line_of("B")), (Some(2), Some(5)));
        // Lines with `=` that do not set a key of the file are part of it.
        let env = parse("PEM='-----BEGIN X-----\nQUJD=\nHF=x\n-----END X-----'\n").unwrap();
        assert_eq!(value(&env, "PEM"), "-----BEGIN X-----\nQUJD=\nHF=x\n-----END X-----");
    }

    #[test]
    fn crlf_and_bom_read_like_unix_text() {
        let unix = parse("A=1\nB=\"x\ny\"\nC='q' # c\n").unwrap();
        let windows = parse("\u{feff}A=1\r\nB=\"x\r\ny\"\r\nC='q' # c\r\n").unwrap();
        assert!(windows.entries == unix.entries);
        assert_eq!(value(&unix, "B"), "x\ny");
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let cases = [
            (
                "A=1\n\nnot an assignment\n",
                "test.env:3: cannot parse this line; write KEY=value, or start a comment with #",
            ),
            ("A=1\n = 2\n", "test.env:2: cannot parse this line; write KEY=value, or start a comment with #"),
            ("A=1\nHF_TOKEN=\"open\nC=3\n", "test.env:2: the quoted value of HF_TOKEN is never closed; end it with \""),
            (
                "GIT_USER_NAME='Jane Doe\n# mail\n  GIT_USER_EMAIL = 'jane@example.org'\n",
                "test.env:1: the quoted value of GIT_USER_NAME is not closed before line 3, which sets GIT_USER_EMAIL; \
                 end it with '",
            ),
            (
                "HF_TOKEN=\"open\nexport WANDB_API_KEY=w\n",
                "test.env:1: the quoted value of HF_TOKEN is not closed before line 2, which sets WANDB_API_KEY; \
                 end it with \"",
            ),
            (
                "A=1\nB='x' y\nC=3\n",
                "test.env:2: B has text after its closing '; quote the whole value, or put # before a comment",
            ),
            (
                "A=1\nMY KEY=2\n",
                "test.env:2: MY KEY cannot be a Kubernetes Secret key: use at most 253 letters, digits, '-', '_' or '.'",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), message, "{text:?}");
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let err = parse("A=1\nB=2\nA = 3\n").unwrap_err();
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
        for text in [
            format!("A='{secret}' oops\n"),
            format!("A=\"{secret}\nB"),
            format!("HF_TOKEN=\"{secret}\nWANDB_API_KEY={secret}\"\n"),
            format!("A={secret}\nA={secret}\n"),
            format!("{secret}\n"),
        ] {
            let err = parse(&text).unwrap_err();
            assert!(!err.to_string().contains(secret), "{err}");
        }
        let env = parse(&format!("TOKEN={secret}\n")).unwrap();
        assert!(!format!("{env:?}").contains(secret));
    }

    #[test]
    fn missing_file_says_how_to_start() {
        let err = EnvFile::load(Path::new("/nonexistent/.env")).unwrap_err();
        assert!(err.to_string().starts_with("cannot read the configuration /nonexistent/.env: "), "{err}");
        assert!(err.to_string().contains("run `submit init`"));
    }

    /// The wrapper's parser, line for line (`parse_env_file` in its
    /// utils.py), as the oracle for the files it reads correctly.
    fn wrapper_parse(text: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for raw in text.lines() {
            let mut line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some((before, _)) = line.split_once('#') {
                line = before.trim();
            }
            let Some((key, value)) = line.split_once('=') else { continue };
            let value = value.trim();
            let quoted = value.len() >= 2 && value.starts_with(['\'', '"']) && value.ends_with(&value[..1]);
            let value = if quoted { &value[1..value.len() - 1] } else { value };
            env.insert(key.trim().to_owned(), value.to_owned());
        }
        env
    }

    /// A line as people write it: any spaces around the `=`, a value bare
    /// (spaces inside) or in either quote, an optional trailing comment.
    fn written_line(key: String) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let bare = "[A-Za-z0-9$/.:@_+=-]([A-Za-z0-9$/.:@_+= -]{0,20}[A-Za-z0-9$/.:@_+=-])?";
        let inner = "[A-Za-z0-9$/.:@_+= '\\\\-]{0,20}";
        let value = prop_oneof![
            Just(String::new()),
            bare.prop_map(|v| v),
            inner.prop_map(|v| format!("\"{v}\"")),
            inner.prop_map(|v| format!("'{}'", v.replace('\'', ""))),
        ];
        (" {0,2}", " {0,2}", value, proptest::option::of("[ \t]{1,3}# [a-z <>]{0,10}"))
            .prop_map(move |(a, b, v, comment)| format!("{key}{a}={b}{v}{}", comment.unwrap_or_default()))
    }

    fn written_file() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        proptest::collection::btree_set("[A-Z_][A-Z0-9_]{0,12}", 1..8).prop_flat_map(|keys| {
            keys.into_iter().map(written_line).collect::<Vec<_>>().prop_map(|lines| lines.join("\n") + "\n")
        })
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = parse(&text);
        }

        #[test]
        fn agrees_with_the_wrappers_parser_on_the_lines_it_reads(text in written_file()) {
            let ours = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let ours: BTreeMap<String, String> = ours.entries.into_iter().map(|(k, e)| (k, e.value)).collect();
            proptest::prop_assert_eq!(ours, wrapper_parse(&text), "{}", text);
        }

        #[test]
        fn quoted_values_are_literal(v in "[^'\\x00\\r\\n]{0,40}", w in "[^\"\\x00\\r\\n]{0,40}") {
            let env = parse(&format!("K='{v}'\nL=\"{w}\"  # c\n")).unwrap();
            proptest::prop_assert_eq!(&env.entries["K"].value, &v);
            proptest::prop_assert_eq!(&env.entries["L"].value, &w);
        }

        #[test]
        fn lines_are_counted(blank in 0usize..5, comments in 0usize..5) {
            let text = format!("{}{}K=v\n", "\n".repeat(blank), "# c\n".repeat(comments));
            let env = parse(&text).unwrap();
            proptest::prop_assert_eq!(env.line_of("K"), Some(blank + comments + 1));
        }
    }
}
