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

/// Splits a line into exactly `N` fields, or `None`. The first field is
/// the key of every database, so an empty one is `None` too.
fn fields<const N: usize>(line: &str) -> Option<[&str; N]> {
    if line.starts_with('#') || is_nss_compat(line) || line.contains(['\r', '\n']) {
        return None;
    }
    let mut out = [""; N];
    let mut parts = line.split(':');
    for slot in &mut out {
        *slot = parts.next()?;
    }
    if parts.next().is_some() || out[0].is_empty() {
        return None;
    }
    Some(out)
}

/// Splits a comma-separated member list; the empty string is no members.
fn members(field: &str) -> Vec<String> {
    if field.is_empty() { Vec::new() } else { field.split(',').map(str::to_owned).collect() }
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
    /// How many lines [`Db::parse`] read: with every entry still holding
    /// its original bytes, an equal count means nothing was edited.
    parsed: usize,
}

impl<T: Entry> Db<T> {
    /// Parses a whole file. Never fails: what is not an entry is kept.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (body, ending, next): (&[u8], &'static [u8], &[u8]) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) if i > 0 && rest[i - 1] == b'\r' => (&rest[..i - 1], b"\r\n", &rest[i + 1..]),
                Some(i) => (&rest[..i], b"\n", &rest[i + 1..]),
                // A last line ending in a lone CR: the CR is kept as the
                // line's ending, so the line parses as the CRLF lines do
                // and appending an entry (which completes it to CRLF)
                // does not change how it reads.
                None if rest.ends_with(b"\r") => (&rest[..rest.len() - 1], b"\r", &[]),
                None => (rest, b"", &[]),
            };
            let line = match std::str::from_utf8(body).ok().and_then(T::parse) {
                Some(entry) => Line::Entry { entry, original: Some(body.to_vec()) },
                None => Line::Other(body.to_vec()),
            };
            lines.push((line, ending));
            rest = next;
        }
        let parsed = lines.len();
        Db { lines, parsed }
    }

    /// Whether this is still exactly what [`Db::parse`] read, so that
    /// [`Db::render`] gives back the parsed bytes: no entry edited
    /// (edits drop the original), added (new entries have none) or removed.
    /// The restart path then need not read the file again to compare.
    pub fn unedited(&self) -> bool {
        self.lines.len() == self.parsed
            && self.lines.iter().all(|(line, _)| !matches!(line, Line::Entry { original: None, .. }))
    }

    /// The file's bytes: unedited lines as they were, edited and new entries
    /// rendered with `\n`.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (line, ending) in &self.lines {
            match line {
                Line::Entry { original: Some(bytes), .. } | Line::Other(bytes) => out.extend_from_slice(bytes),
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
        self.remove_where(|e| e.name() == name)
    }

    /// Removes every entry matching `pred`. Returns how many were removed.
    pub fn remove_where(&mut self, pred: impl Fn(&T) -> bool) -> usize {
        let before = self.lines.len();
        self.lines.retain(|(line, _)| !matches!(line, Line::Entry { entry, .. } if pred(entry)));
        before - self.lines.len()
    }

    /// Removes the lines this parser could not read but that start with
    /// `name:`. glibc is more lenient than we are (it takes a trailing `\r`
    /// into the last field, and the rest of the line as the shell), so such a
    /// line could still be returned by NSS for `name`, ahead of the entry we
    /// write: with uid 0 in it, the researcher would log in as root. Names
    /// are validated, so `name` never starts with `#`, `+` or `-` and no
    /// comment or NSS compat line can match. Returns how many were removed.
    pub fn remove_unparsed_named(&mut self, name: &str) -> usize {
        let mut prefix = name.as_bytes().to_vec();
        prefix.push(b':');
        let before = self.lines.len();
        self.lines.retain(|(line, _)| !matches!(line, Line::Other(b) if b.starts_with(&prefix)));
        before - self.lines.len()
    }

    /// Removes the entries named `name` after the first (the one NSS
    /// returns). Returns how many were removed.
    pub fn dedupe(&mut self, name: &str) -> usize {
        let mut seen = false;
        let before = self.lines.len();
        self.lines.retain(|(line, _)| match line {
            Line::Entry { entry, .. } if entry.name() == name => !std::mem::replace(&mut seen, true),
            _ => true,
        });
        before - self.lines.len()
    }

    /// Appends an entry, after a `\n` if the file did not end with one.
    ///
    /// The entry goes before any trailing NSS `+` compat lines, where
    /// `useradd` puts it too: lines after a `+` are shadowed by NIS in
    /// compat mode.
    pub fn push(&mut self, entry: T) {
        if let Some((_, ending)) = self.lines.last_mut() {
            match *ending {
                b"" => *ending = b"\n",
                b"\r" => *ending = b"\r\n",
                _ => {}
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
        assert!(db.unedited());
    }

    #[test]
    fn any_edit_marks_the_database_edited() {
        let parse = || -> Db<Passwd> { Db::parse(MESSY) };
        let mut pushed = parse();
        pushed.push(Passwd::new("ada", 5, 6, "/home/ada", "/bin/zsh"));
        let mut removed = parse();
        assert_eq!(removed.remove("root"), 1);
        let mut unparsed_removed = parse();
        assert_eq!(unparsed_removed.remove_unparsed_named("broken line"), 0);
        let mut updated = parse();
        updated.update(
            |e| e.name == "last",
            |e| {
                e.shell = "/bin/sh".into();
                true
            },
        );
        // An update that reports no change leaves the original bytes.
        let mut untouched = parse();
        untouched.update(|e| e.name == "last", |_| false);
        assert!(!pushed.unedited());
        assert!(!removed.unedited());
        assert!(!updated.unedited());
        assert!(unparsed_removed.unedited());
        assert!(untouched.unedited());
        assert_eq!(untouched.render(), MESSY);
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
        db.update(
            |e| e.name == "b",
            |e| {
                e.shell = "/bin/zsh".into();
                true
            },
        );
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

    /// Bytes that look like account files: the separators, CR, LF, `+`,
    /// `-`, `#`, digits, letters and arbitrary bytes, weighted towards lines.
    fn etc_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let line = prop_oneof![
            "(ada|lab|sudo|adm):x:[0-9]{1,2}:[0-9]{1,2}::/h:/bin/sh",
            "(ada|lab|sudo|adm):x:[0-9]{1,2}:(ada|x)?(,ada)?",
            "[a-z_][a-z0-9_-]{0,8}:x:[0-9]{1,6}:[0-9]{1,6}:[^:\n]{0,6}:/[a-z/]{0,8}:/bin/[a-z]{1,4}",
            "[a-z_][a-z0-9_-]{0,8}:[x!*]:[0-9]{1,6}:[a-z,]{0,12}",
            "[a-z]{1,8}:[^:\n]{0,8}::[a-z,]{0,8}:[a-z,]{0,8}",
            "[a-z]{1,8}:[^:\n]{0,8}:[0-9]{0,5}:[0-9]{0,1}:[0-9]{0,5}:[0-9]{0,1}:::",
            "[#+-][^\n]{0,12}",
            "[^\n]{0,16}",
        ];
        let ending = prop_oneof![Just(&b"\n"[..]), Just(&b"\r\n"[..]), Just(&b""[..])];
        (proptest::collection::vec((line, ending, proptest::collection::vec(any::<u8>(), 0..2)), 0..12)).prop_map(
            |lines| {
                let mut out = Vec::new();
                for (line, ending, noise) in lines {
                    out.extend_from_slice(line.as_bytes());
                    out.extend_from_slice(&noise);
                    out.extend_from_slice(ending);
                }
                out
            },
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        #[test]
        fn any_bytes_round_trip_byte_for_byte(bytes in etc_bytes()) {
            proptest::prop_assert_eq!(Db::<Passwd>::parse(&bytes).render(), bytes.clone());
            proptest::prop_assert_eq!(Db::<group::Group>::parse(&bytes).render(), bytes.clone());
            proptest::prop_assert_eq!(Db::<shadow::Shadow>::parse(&bytes).render(), bytes.clone());
            proptest::prop_assert_eq!(Db::<gshadow::Gshadow>::parse(&bytes).render(), bytes);
        }

        #[test]
        fn random_bytes_round_trip(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            proptest::prop_assert_eq!(Db::<Passwd>::parse(&bytes).render(), bytes);
        }

        /// The bootstrap's edits never panic and never touch a line that is
        /// not an entry: every such line survives, in order.
        #[test]
        fn edits_keep_every_unparsed_line(passwd in etc_bytes(), group in etc_bytes(), shadow in etc_bytes(), gshadow in etc_bytes(), uid in 1u32..30, gid in 1u32..30) {
            let mut a = edit::Accounts {
                passwd: Db::parse(&passwd),
                group: Db::parse(&group),
                shadow: Some(Db::parse(&shadow)),
                gshadow: Some(Db::parse(&gshadow)),
            };
            let spec = edit::UserSpec { name: "ada", uid, gid, home: "/home/ada", shell: "/bin/zsh" };
            let bootstrap = |a: &mut edit::Accounts| {
                let mut c = a.ensure_group("lab", gid);
                c.extend(a.ensure_user(&spec));
                c.extend(a.add_to_groups("ada", &["sudo", "adm"]));
                c.extend(a.lock_password("ada", 1));
                c
            };
            bootstrap(&mut a);
            // A second bootstrap (the restart) finds nothing to do.
            let again = bootstrap(&mut a);
            proptest::prop_assert!(again.is_empty(), "second run changed: {:?}", again);
            // Unreadable lines are kept, except those naming ada or lab,
            // which NSS could still return ahead of the real entry.
            fn other_lines<T: Entry>(db: &Db<T>) -> Vec<Vec<u8>> {
                db.lines.iter().filter_map(|(l, _)| match l {
                    Line::Other(b) if !b.starts_with(b"ada:") && !b.starts_with(b"lab:") => Some(b.clone()),
                    _ => None,
                }).collect()
            }
            proptest::prop_assert_eq!(other_lines(&a.passwd), other_lines(&Db::<Passwd>::parse(&passwd)));
            proptest::prop_assert_eq!(other_lines(&a.group), other_lines(&Db::<group::Group>::parse(&group)));
            // After the edit, exactly one ada with the uid and one lab group with the gid.
            proptest::prop_assert_eq!(a.passwd.entries().filter(|u| u.name == "ada").count(), 1);
            proptest::prop_assert_eq!(a.passwd.get("ada").map(|u| (u.uid, u.gid)), Some((uid, gid)));
            proptest::prop_assert_eq!(a.group.entries().filter(|g| g.name == "lab").count(), 1);
            proptest::prop_assert_eq!(a.group.get("lab").map(|g| g.gid), Some(gid));
            // The rendered files parse back to the same entries.
            let reparsed = Db::<Passwd>::parse(&a.passwd.render());
            proptest::prop_assert_eq!(reparsed.entries().cloned().collect::<Vec<_>>(), a.passwd.entries().cloned().collect::<Vec<_>>());
        }
    }
}
