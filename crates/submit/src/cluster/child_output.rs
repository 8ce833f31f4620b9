//! Showing another program's output to the user, safely.
//!
//! kubectl's error text is passed on because it is the most precise
//! explanation there is, but it is first stripped of secret values (see
//! `secret::redact`), of control characters that could rewrite the terminal,
//! and cut to a readable length: a broken kubectl may print anything.

/// The most of a child's output we show.
pub const MAX_SHOWN: usize = 4000;

/// `bytes` as text fit for a terminal: invalid UTF-8 and control characters
/// (other than newline and tab) become `\u{..}` escapes; trailing white space
/// is dropped; anything past [`MAX_SHOWN`] characters is cut.
pub fn for_terminal(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for (shown, c) in text.trim_end().chars().enumerate() {
        if shown == MAX_SHOWN {
            out.push_str(" [cut]");
            break;
        }
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// A failed kubectl's stderr as [`for_terminal`] shows it, or a note that
/// it said nothing.
pub fn kubectl_said(stderr: &[u8]) -> String {
    let said = for_terminal(stderr);
    if said.is_empty() { "(kubectl printed no message)".to_owned() } else { said }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(for_terminal(b"a\x1b[2Jb\r\n"), "a\\u{1b}[2Jb");
        assert_eq!(for_terminal(b"line1\n\tline2\n\n"), "line1\n\tline2");
        assert_eq!(for_terminal(&[0xff, b'x']), "\u{fffd}x");
    }

    #[test]
    fn silent_kubectl_is_said_to_be_silent() {
        assert_eq!(kubectl_said(b"forbidden\n"), "forbidden");
        assert_eq!(kubectl_said(b" \n"), "(kubectl printed no message)");
    }

    #[test]
    fn long_output_is_cut() {
        let shown = for_terminal("y".repeat(MAX_SHOWN * 2).as_bytes());
        assert_eq!(shown.len(), MAX_SHOWN + " [cut]".len());
    }

    proptest::proptest! {
        #[test]
        fn output_never_carries_escape_sequences(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let shown = for_terminal(&bytes);
            proptest::prop_assert!(!shown.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        }
    }
}
