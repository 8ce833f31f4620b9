//! Command lines as one line of POSIX shell, for people to read and paste:
//! `submit --dry-run` prints its runai line so, and xtask prints each
//! command before it runs it.

use std::borrow::Cow;

/// Quotes `word` for a POSIX shell the way Python's `shlex.quote` does (the
/// wrapper printed its commands that way): left bare if it holds only
/// `[A-Za-z0-9_@%+=:,./-]`, else wrapped in single quotes, with each `'`
/// written as `'"'"'`. The shlex crate would also quote `=`, which makes
/// every `--environment K=V` (and `--build-arg K=V`) harder to read.
pub fn quote(word: &str) -> Cow<'_, str> {
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b);
    if !word.is_empty() && word.bytes().all(safe) {
        return word.into();
    }
    format!("'{}'", word.replace('\'', "'\"'\"'")).into()
}

/// The words quoted and joined by spaces: pasted into a shell, the line
/// runs exactly this argv.
pub fn join<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words.into_iter().map(quote).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_needs_it_is_quoted() {
        assert_eq!(quote(""), "''");
        assert_eq!(quote("K=v:/x,y@z%+"), "K=v:/x,y@z%+");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("X=it's"), r#"'X=it'"'"'s'"#);
        assert_eq!(join(["runai", "--name", "a b"]), "runai --name 'a b'");
    }

    proptest::proptest! {
        #[test]
        fn a_shell_parser_reads_back_the_words(words in proptest::collection::vec("[^\\x00]{0,20}", 0..6)) {
            let line = join(words.iter().map(String::as_str));
            proptest::prop_assert_eq!(shlex::split(&line), Some(words));
        }
    }
}
