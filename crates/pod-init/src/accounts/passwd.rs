//! `/etc/passwd` entries: `name:password:uid:gid:gecos:home:shell`.

use std::fmt;

use super::{Entry, fields};

/// One account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    pub name: String,
    /// `x` when the hash lives in /etc/shadow.
    pub password: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

impl Passwd {
    /// A new account whose password is in /etc/shadow.
    pub fn new(name: &str, uid: u32, gid: u32, home: &str, shell: &str) -> Self {
        Passwd {
            name: name.to_owned(),
            password: "x".to_owned(),
            uid,
            gid,
            gecos: String::new(),
            home: home.to_owned(),
            shell: shell.to_owned(),
        }
    }
}

impl Entry for Passwd {
    fn parse(line: &str) -> Option<Self> {
        let [name, password, uid, gid, gecos, home, shell] = fields::<7>(line)?;
        Some(Passwd {
            name: name.to_owned(),
            password: password.to_owned(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            gecos: gecos.to_owned(),
            home: home.to_owned(),
            shell: shell.to_owned(),
        })
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Passwd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Passwd { name, password, uid, gid, gecos, home, shell } = self;
        write!(f, "{name}:{password}:{uid}:{gid}:{gecos}:{home}:{shell}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let line = "ada:x:177449:83070:Ada L,,,:/home/ada:/bin/zsh";
        let e = Passwd::parse(line).unwrap();
        assert_eq!((e.uid, e.gid, e.gecos.as_str()), (177449, 83070, "Ada L,,,"));
        assert_eq!(e.to_string(), line);
    }

    #[test]
    fn rejects_what_it_cannot_edit_safely() {
        for line in [
            "",
            "#a:x:1:1::/:/bin/sh",
            "+a:x:1:1::/:/bin/sh",
            "-a",
            "a:x:1:1::/",
            "a:x:1:1::/:/bin/sh:extra",
            "a:x:-1:1::/:/bin/sh",
            ":x:1:1::/:/bin/sh",
        ] {
            assert_eq!(Passwd::parse(line), None, "{line:?}");
        }
    }
}
