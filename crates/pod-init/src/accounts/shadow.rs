//! `/etc/shadow` entries: `name:hash:` then seven ageing fields pod-init
//! never interprets, only keeps.

use std::fmt;

use super::{Entry, fields};

/// One account's password entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadow {
    pub name: String,
    pub hash: String,
    /// lastchg, min, max, warn, inactive, expire, reserved: kept verbatim.
    pub ageing: [String; 7],
}

impl Shadow {
    /// A new entry as `useradd` writes it: changed `days_since_epoch`, no
    /// minimum age, maximum 99999, a 7-day warning.
    pub fn new(name: &str, hash: &str, days_since_epoch: u64) -> Self {
        Shadow {
            name: name.to_owned(),
            hash: hash.to_owned(),
            ageing: [
                days_since_epoch.to_string(),
                "0".into(),
                "99999".into(),
                "7".into(),
                String::new(),
                String::new(),
                String::new(),
            ],
        }
    }
}

impl Entry for Shadow {
    fn parse(line: &str) -> Option<Self> {
        let [name, hash, a, b, c, d, e, f, g] = fields::<9>(line)?;
        Some(Shadow { name: name.to_owned(), hash: hash.to_owned(), ageing: [a, b, c, d, e, f, g].map(str::to_owned) })
    }

    fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Shadow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.name, self.hash, self.ageing.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders() {
        let line = "ada:$6$rounds=5000$abc$def:20000:0:99999:7:::";
        assert_eq!(Shadow::parse(line).unwrap().to_string(), line);
        assert_eq!(Shadow::new("ada", "h", 20000).to_string(), "ada:h:20000:0:99999:7:::");
        assert_eq!(Shadow::parse("ada:h:1"), None);
    }
}
