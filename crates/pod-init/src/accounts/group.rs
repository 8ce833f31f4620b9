//! `/etc/group` entries: `name:password:gid:member,member`.

use std::fmt;

use super::{Entry, fields, members};

/// One group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub password: String,
    pub gid: u32,
    /// Supplementary members by user name.
    pub members: Vec<String>,
}

impl Group {
    /// A new group with no members and its password in /etc/gshadow.
    pub fn new(name: &str, gid: u32) -> Self {
        Group { name: name.to_owned(), password: "x".to_owned(), gid, members: Vec::new() }
    }
}

impl Entry for Group {
    fn parse(line: &str) -> Option<Self> {
        let [name, password, gid, list] = fields::<4>(line)?;
        Some(Group {
            name: name.to_owned(),
            password: password.to_owned(),
            gid: gid.parse().ok()?,
            members: members(list),
        })
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}:{}", self.name, self.password, self.gid, self.members.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        for line in ["sudo:x:27:ada,bob", "MLO-unit:x:83070:"] {
            assert_eq!(Group::parse(line).unwrap().to_string(), line);
        }
        assert_eq!(Group::parse("sudo:x:27:ada,bob").unwrap().members, ["ada", "bob"]);
        assert_eq!(Group::parse("sudo:x:27"), None);
    }
}
