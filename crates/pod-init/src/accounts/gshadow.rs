//! `/etc/gshadow` entries: `name:password:admin,admin:member,member`.

use std::fmt;

use super::{Entry, fields, members};

/// One group's shadow entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gshadow {
    pub name: String,
    pub password: String,
    pub admins: Vec<String>,
    pub members: Vec<String>,
}

impl Gshadow {
    /// A new entry without password (`!`), as `groupadd` writes it.
    pub fn new(name: &str) -> Self {
        Gshadow { name: name.to_owned(), password: "!".to_owned(), admins: Vec::new(), members: Vec::new() }
    }

    /// Applies a member-list edit to both lists, admins and members: a user
    /// renamed or removed goes from both. True if either changed.
    pub fn edit_both_lists(&mut self, edit: impl Fn(&mut Vec<String>) -> bool) -> bool {
        let admins = edit(&mut self.admins);
        let members = edit(&mut self.members);
        admins || members
    }
}

impl Entry for Gshadow {
    fn parse(line: &str) -> Option<Self> {
        let [name, password, admins, list] = fields::<4>(line)?;
        Some(Gshadow {
            name: name.to_owned(),
            password: password.to_owned(),
            admins: members(admins),
            members: members(list),
        })
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Gshadow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}:{}", self.name, self.password, self.admins.join(","), self.members.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        for line in ["sudo:*::ada,bob", "x:!:adm1:m1,m2"] {
            assert_eq!(Gshadow::parse(line).unwrap().to_string(), line);
        }
    }
}
