//! The ports of `submit port-forward`: `LOCAL` (the same port in the pod)
//! or `LOCAL:REMOTE`, each from 1 to 65535. The local port is always given:
//! a forward that starts again must listen where the browser already points.

use std::fmt;

/// A local port and the pod's port it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortPair {
    pub local: u16,
    pub remote: u16,
}

impl fmt::Display for PortPair {
    /// As kubectl takes it: `LOCAL:REMOTE`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.local, self.remote)
    }
}

/// Reads `LOCAL[:REMOTE]`; the error says which part is wrong and why.
pub fn parse(text: &str) -> Result<PortPair, String> {
    let (local, remote) = text.split_once(':').unwrap_or((text, text));
    if local.is_empty() {
        return Err(format!(
            "{text:?} has no LOCAL port: give it (LOCAL:REMOTE), so that the forward keeps it when it starts again"
        ));
    }
    Ok(PortPair { local: port("LOCAL", local)?, remote: port("REMOTE", remote)? })
}

fn port(part: &str, text: &str) -> Result<u16, String> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u16>() {
        Ok(n) if digits && n > 0 => Ok(n),
        _ if digits => Err(format!("{part} port {text} is out of range: a port is a number from 1 to 65535")),
        _ => Err(format!("{part} port {text:?} is not a number: a port is a number from 1 to 65535")),
    }
}

/// The first local port given twice, as an error naming both arguments.
pub fn check_distinct(pairs: &[PortPair]) -> Result<(), String> {
    for (i, a) in pairs.iter().enumerate() {
        if let Some(b) = pairs[i + 1..].iter().find(|b| b.local == a.local) {
            return Err(format!(
                "the local port {} is given twice ({a} and {b}): one port forwards to one place",
                a.local
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_port_or_a_pair() {
        assert_eq!(parse("8888"), Ok(PortPair { local: 8888, remote: 8888 }));
        assert_eq!(parse("18888:8888"), Ok(PortPair { local: 18888, remote: 8888 }));
        assert_eq!(parse("1:65535").unwrap().to_string(), "1:65535");
    }

    #[test]
    fn each_bad_part_is_named() {
        assert_eq!(parse("0").unwrap_err(), "LOCAL port 0 is out of range: a port is a number from 1 to 65535");
        assert_eq!(
            parse("8888:70000").unwrap_err(),
            "REMOTE port 70000 is out of range: a port is a number from 1 to 65535"
        );
        assert_eq!(
            parse("jupyter").unwrap_err(),
            "LOCAL port \"jupyter\" is not a number: a port is a number from 1 to 65535"
        );
        assert_eq!(parse("8888:").unwrap_err(), "REMOTE port \"\" is not a number: a port is a number from 1 to 65535");
        assert_eq!(parse("+80").unwrap_err(), "LOCAL port \"+80\" is not a number: a port is a number from 1 to 65535");
        assert!(parse(":8888").unwrap_err().starts_with("\":8888\" has no LOCAL port"));
        assert!(parse("1:2:3").unwrap_err().starts_with("REMOTE port \"2:3\""));
    }

    #[test]
    fn a_local_port_is_taken_once() {
        let pairs = [parse("8888").unwrap(), parse("6006").unwrap(), parse("8888:80").unwrap()];
        assert_eq!(
            check_distinct(&pairs).unwrap_err(),
            "the local port 8888 is given twice (8888:8888 and 8888:80): one port forwards to one place"
        );
        assert_eq!(check_distinct(&pairs[..2]), Ok(()));
    }
}
