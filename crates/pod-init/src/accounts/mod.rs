//! The four shadow-utils databases (/etc/passwd, group, shadow, gshadow) as
//! files of lines, parsed without losing a byte.
//!
//! pod-init is a static musl binary: there is no NSS and no `useradd` it can
//! rely on, so it edits the files itself. An edit must never disturb what it
//! does not understand (comments, NSS `+`/`-` compat lines, lines that are not
//! valid UTF-8, CRLF endings, a missing final newline): every line keeps its
//! original bytes until an edit touches its entry, so rendering an unedited
//! database gives back the file byte for byte and a second bootstrap writes
//! nothing.

pub mod edit;
pub mod group;
pub mod gshadow;
pub mod passwd;
pub mod shadow;

use std::fmt;

/// An entry type of one database: one `:`-separated line.
pub trait Entry: fmt::Display + Sized {
    /// Parses a line without its line ending. `None` for anything that is not
    /// a plain entry (comments, NSS compat lines, wrong field count, bad
    /// numbers): such lines are kept verbatim and never edited.
    fn parse(line: &str) -> Option<Self>;
    /// The account or group name, the key of the database.
    fn name(&self) -> &str;
}

/// True for lines that only NSS compat mode understands (`+user`, `-@netgroup`,
/// `+`). They name no local account and must stay where they are.
fn is_nss_compat(line: &str) -> bool {
    line.starts_with('+') || line.starts_with('-')
}

/// Splits a line into exactly `n` fields, or `None`.
fn fields<const N: usize>(line: &str) -> Option<[&str; N]> {
    if line.starts_with('#') || is_nss_compat(line) || line.contains(['\r', '\n']) {
        return None;
    }
    let mut out = [""; N];
    let mut parts = line.split(':');
    for slot in &mut out {
        *slot = parts.next()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// Splits a comma-separated member list; the empty string is no members.
fn members(field: &str) -> Vec<String> {
    if field.is_empty() {
        Vec::new()
    } else {
        field.split(',').map(str::to_owned).collect()
    }
}

/// One line of a database file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line<T> {
    /// A parsed entry. `original` holds the line's bytes until the entry is
    /// edited; while it is `Some`, rendering reproduces them exactly.
    Entry { entry: T, original: Option<Vec<u8>> },
    /// Anything else, kept as it was.
    Other(Vec<u8>),
}

/// A database file: its lines, each with the ending it had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Db<T> {
    lines: Vec<(Line<T>, &'static [u8])>,
}

impl<T: Entry> Db<T> {
    /// Parses a whole file. Never fails: what is not an entry is kept.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (body, ending, next): (&[u8], &'static [u8], &[u8]) =
                match rest.iter().position(|&b| b == b'\n') {
                    Some(i) if i > 0 && rest[i - 1] == b'\r' => (&rest[..i - 1], b"\r\n", &rest[i + 1..]),
                    Some(i) => (&rest[..i], b"\n", &rest[i + 1..]),
                    None => (rest, b"", &[]),
                };
            let line = match std::str::from_utf8(body).ok().and_then(T::parse) {
                Some(entry) => Line::Entry { entry, original: Some(body.to_vec()) },
                None => Line::Other(body.to_vec()),
            };
            lines.push((line, ending));
            rest = next;
        }
        Db { lines }
    }

    /// The file's bytes: unedited lines as they were, edited and new entries
    /// rendered with `\n`.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (line, ending) in &self.lines {
            match line {
                Line::Entry { original: Some(bytes), .. } | Line::Other(bytes) => {
                    out.extend_from_slice(bytes)
                }
                Line::Entry { entry, original: None } => out.extend_from_slice(entry.to_string().as_bytes()),
            }
            out.extend_from_slice(ending);
        }
        out
    }

    /// Every parsed entry, in file order.
    pub fn entries(&self) -> impl Iterator<Item = &T> {
        self.lines.iter().filter_map(|(line, _)| match line {
            Line::Entry { entry, .. } => Some(entry),
            Line::Other(_) => None,
        })
    }

    /// The first entry named `name`.
    pub fn get(&self, name: &str) -> Option<&T> {
        self.entries().find(|e| e.name() == name)
    }

    /// The first entry matching `pred`.
    pub fn find(&self, pred: impl Fn(&T) -> bool) -> Option<&T> {
        self.entries().find(|e| pred(e))
    }

    /// Applies `edit` to every entry matching `pred`; an entry is re-rendered
    /// only if `edit` reports that it changed it. Returns how many changed.
    pub fn update(&mut self, pred: impl Fn(&T) -> bool, mut edit: impl FnMut(&mut T) -> bool) -> usize {
        let mut changed = 0;
        for (line, _) in &mut self.lines {
            if let Line::Entry { entry, original } = line {
                if pred(entry) && edit(entry) {
                    *original = None;
                    changed += 1;
                }
            }
        }
        changed
    }

    /// Removes every entry named `name`. Returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.lines.len();
        self.lines
            .retain(|(line, _)| !matches!(line, Line::Entry { entry, .. } if entry.name() == name));
        before - self.lines.len()
    }

    /// Appends an entry, after a `\n` if the file did not end with one.
    ///
    /// The entry goes before any trailing NSS `+` compat lines, where
    /// `useradd` puts it too: lines after a `+` are shadowed by NIS in
    /// compat mode.
    pub fn push(&mut self, entry: T) {
        if let Some((_, ending)) = self.lines.last_mut() {
            if ending.is_empty() {
                *ending = b"\n";
            }
        }
        let at = self
            .lines
            .iter()
            .rposition(|(line, _)| !matches!(line, Line::Other(b) if b.first() == Some(&b'+')))
            .map_or(0, |i| i + 1);
        self.lines.insert(at, (Line::Entry { entry, original: None }, b"\n"));
    }
}

/// Adds `name` to a comma-separated member list if missing.
fn add_member(list: &mut Vec<String>, name: &str) -> bool {
    if list.iter().any(|m| m == name) {
        false
    } else {
        list.push(name.to_owned());
        true
    }
}

/// Renames `from` to `to` in a member list (dropping a duplicate `to`).
fn rename_member(list: &mut Vec<String>, from: &str, to: &str) -> bool {
    if !list.iter().any(|m| m == from) {
        return false;
    }
    let mut seen = false;
    list.retain_mut(|m| {
        if m == from {
            *m = to.to_owned();
        }
        if m == to {
            if seen {
                return false;
            }
            seen = true;
        }
        true
    });
    true
}

/// Removes `name` from a member list.
fn remove_member(list: &mut Vec<String>, name: &str) -> bool {
    let before = list.len();
    list.retain(|m| m != name);
    before != list.len()
}

#[cfg(test)]
mod tests {
    use super::passwd::Passwd;
    use super::*;

    const MESSY: &[u8] = b"# comment\r\nroot:x:0:0:root:/root:/bin/bash\r\n+@netgroup\n\
-baduser\nbroken line\nweird:x:notanumber:0::/:/bin/sh\n\xff\xfe:x:1:1::/:/bin/sh\n\
\nlast:x:1000:1000:L\xc3\xa9a:/home/last:/bin/zsh";

    #[test]
    fn unedited_database_renders_byte_identical() {
        let db: Db<Passwd> = Db::parse(MESSY);
        assert_eq!(db.render(), MESSY);
        assert_eq!(db.entries().count(), 2, "only root and last are plain entries");
    }

    #[test]
    fn push_after_missing_final_newline_adds_one() {
        let mut db: Db<Passwd> = Db::parse(b"root:x:0:0:root:/root:/bin/bash");
        db.push(Passwd::new("ada", 5, 6, "/home/ada", "/bin/zsh"));
        assert_eq!(db.render(), b"root:x:0:0:root:/root:/bin/bash\nada:x:5:6::/home/ada:/bin/zsh\n");
    }

    #[test]
    fn push_goes_before_trailing_nss_plus_line() {
        let mut db: Db<Passwd> = Db::parse(b"root:x:0:0:root:/root:/bin/bash\n+\n");
        db.push(Passwd::new("ada", 5, 6, "/home/ada", "/bin/zsh"));
        assert_eq!(db.render(), b"root:x:0:0:root:/root:/bin/bash\nada:x:5:6::/home/ada:/bin/zsh\n+\n");
    }

    #[test]
    fn editing_one_entry_keeps_crlf_and_others() {
        let mut db: Db<Passwd> = Db::parse(b"a:x:1:1::/a:/bin/sh\r\nb:x:2:2::/b:/bin/sh\r\n");
        db.update(|e| e.name == "b", |e| {
            e.shell = "/bin/zsh".into();
            true
        });
        assert_eq!(db.render(), b"a:x:1:1::/a:/bin/sh\r\nb:x:2:2::/b:/bin/zsh\r\n");
    }

    #[test]
    fn member_lists_rename_without_duplicates() {
        let mut list = members("x,old,new");
        assert!(rename_member(&mut list, "old", "new"));
        assert_eq!(list, ["x", "new"]);
        assert!(!rename_member(&mut list, "gone", "new"));
        assert!(add_member(&mut list, "y"));
        assert!(!add_member(&mut list, "y"));
        assert!(remove_member(&mut list, "x"));
        assert_eq!(list.join(","), "new,y");
    }
}
