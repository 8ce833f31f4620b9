//! A failed kubectl's stderr, read for what went wrong, so that every
//! command that runs kubectl says it in the same words with the same fix:
//! the server cannot be reached, the login was refused, the request was
//! forbidden, or the object is not there.
//!
//! kubectl's own lines follow the words, cut to the last few: its client
//! retries discovery and logs each attempt (`memcache.go` lines), and its
//! advice to turn validation off is never the fix for a submission.

use crate::cluster::child_output;

/// How many of kubectl's own lines are shown after the words.
const LINES_SHOWN: usize = 3;

/// What kind of failure kubectl reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// No answer from the server: refused, unknown host, timed out.
    Unreachable { address: Option<String> },
    /// The server answered 401: no valid login.
    Unauthorized,
    /// The server answered 403.
    Forbidden,
    /// The object asked for does not exist.
    NotFound,
    /// Anything else; kubectl's lines say it.
    Other,
}

/// A classified failure with kubectl's lines, cleaned for a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubectlError {
    pub kind: Kind,
    /// The last few of kubectl's meaningful lines.
    pub said: String,
}

/// Where the command was aimed, for the words of a forbidden request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Aim<'a> {
    pub namespace: Option<&'a str>,
    pub context: Option<&'a str>,
}

impl KubectlError {
    /// Reads a failed kubectl's stderr.
    pub fn classify(stderr: &[u8]) -> Self {
        let text = child_output::for_terminal(stderr);
        let kind = kind_of(&text);
        let mut kept: Vec<&str> = Vec::new();
        // kubectl says the same line once per resource type it was asked for.
        for line in text.lines().filter(|l| !is_retry_log(l)).map(without_advice) {
            if !line.trim().is_empty() && !kept.contains(&line) {
                kept.push(line);
            }
        }
        let said = kept[kept.len().saturating_sub(LINES_SHOWN)..].join("\n");
        let said = if said.is_empty() { child_output::kubectl_said(b"") } else { said };
        KubectlError { kind, said }
    }

    /// `: ` and [`KubectlError::words`] for a failure it can tell, else
    /// nothing (kubectl's own lines say it best), to follow the sentence
    /// that says which command failed.
    pub fn headline(&self, aim: Aim<'_>) -> String {
        match self.kind {
            Kind::Other => String::new(),
            _ => format!(": {}", self.words(aim)),
        }
    }

    /// What happened and what to do, in one sentence for the user.
    pub fn words(&self, aim: Aim<'_>) -> String {
        let context = aim.context.map(|c| format!(" (kubectl context {c})")).unwrap_or_default();
        match &self.kind {
            Kind::Unreachable { address } => format!(
                "cannot reach the cluster's API server{}{context}: check your VPN or network, and that KUBECONFIG \
                 points at the right cluster",
                address.as_deref().map(|a| format!(" at {a}")).unwrap_or_default()
            ),
            Kind::Unauthorized => format!("the cluster refused the login{context}: run `runai login`"),
            Kind::Forbidden => match aim.namespace {
                Some(ns) => format!(
                    "forbidden in namespace {ns}{context}: check K8S_NAMESPACE in your .env, or switch to the \
                     context of that namespace (kubectl config use-context NAME)"
                ),
                None => format!("forbidden{context}: your account may not do this"),
            },
            Kind::NotFound => "not found".to_owned(),
            Kind::Other => "kubectl failed".to_owned(),
        }
    }
}

fn kind_of(text: &str) -> Kind {
    let lower = text.to_ascii_lowercase();
    if lower.contains("you must be logged in")
        || lower.contains("(unauthorized)")
        || lower.contains("provide credentials")
        || lower.contains("token has expired")
    {
        return Kind::Unauthorized;
    }
    if lower.contains("(forbidden)") || lower.contains(" is forbidden: ") {
        return Kind::Forbidden;
    }
    if lower.contains("(notfound)") {
        return Kind::NotFound;
    }
    let unreachable = ["connection refused", "no such host", "i/o timeout", "unable to connect to the server"]
        .iter()
        .any(|needle| lower.contains(needle))
        || lower.contains("was refused - did you specify the right host or port");
    if unreachable {
        return Kind::Unreachable { address: address(text) };
    }
    Kind::Other
}

/// The server's address as kubectl names it: `The connection to the server
/// HOST:PORT was refused`, or the URL of a failed `Get "URL"`.
fn address(text: &str) -> Option<String> {
    if let Some(rest) = text.split("The connection to the server ").nth(1) {
        return rest.split_whitespace().next().map(str::to_owned);
    }
    let url = text.split("Get \"").nth(1).or_else(|| text.split("Get \\\"").nth(1))?;
    let url = url.split(['"', '\\']).next()?;
    let end = url.find("://").map(|scheme| scheme + 3)?;
    let host_end = url[end..].find('/').map_or(url.len(), |i| end + i);
    Some(url[..host_end].to_owned())
}

/// A log line of kubectl's client (`E1207 07:51:09.767190   30904
/// memcache.go:265] ...`): the discovery client's retries, each saying again
/// what the last line says.
fn is_retry_log(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 22 && matches!(b[0], b'E' | b'W' | b'I') && b[1..5].iter().all(u8::is_ascii_digit) && b[5] == b' '
}

/// `line` without kubectl's advice to turn validation off.
fn without_advice(line: &str) -> &str {
    match line.find("; if you choose to ignore these errors") {
        Some(cut) => &line[..cut],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = "E1207 07:51:10.052086   31117 memcache.go:265] \"Unhandled Error\" err=\"couldn't get \
        current server API group list: Get \\\"http://127.0.0.1:1/api?timeout=5s\\\": dial tcp 127.0.0.1:1: connect: \
        connection refused\"\n\
        E1207 07:51:10.053919   31117 memcache.go:265] \"Unhandled Error\" err=\"couldn't get current server API\"\n\
        The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n";

    #[test]
    fn an_unreachable_server_is_named_and_the_retries_are_dropped() {
        let e = KubectlError::classify(REFUSED.as_bytes());
        assert_eq!(e.kind, Kind::Unreachable { address: Some("127.0.0.1:1".into()) });
        assert_eq!(
            e.said,
            "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"
        );
        assert!(e.words(Aim::default()).starts_with("cannot reach the cluster's API server at 127.0.0.1:1"));
        let timeout = "Unable to connect to the server: dial tcp 10.0.0.1:443: i/o timeout\n";
        assert_eq!(KubectlError::classify(timeout.as_bytes()).kind, Kind::Unreachable { address: None });
        let only_klog = "E1207 07:51:10.052086   31117 memcache.go:265] couldn't get current server API group list: \
            Get \"https://rcp.example:6443/api?timeout=32s\": dial tcp: lookup rcp.example: no such host\n";
        let e = KubectlError::classify(only_klog.as_bytes());
        assert_eq!(e.kind, Kind::Unreachable { address: Some("https://rcp.example:6443".into()) });
        assert_eq!(e.said, "(kubectl printed no message)");
    }

    #[test]
    fn a_refused_login_says_run_runai_login() {
        let e = KubectlError::classify(
            b"error: You must be logged in to the server (the server has asked for the client to provide credentials)\n",
        );
        assert_eq!(e.kind, Kind::Unauthorized);
        assert_eq!(
            e.words(Aim { namespace: None, context: Some("rcp") }),
            "the cluster refused the login (kubectl context rcp): run `runai login`"
        );
    }

    #[test]
    fn forbidden_names_the_namespace_and_the_context() {
        let e = KubectlError::classify(
            b"Error from server (Forbidden): pods is forbidden: User \"ada\" cannot list resource \"pods\" in API \
              group \"\" in the namespace \"runai-bob\"\n",
        );
        assert_eq!(e.kind, Kind::Forbidden);
        let words = e.words(Aim { namespace: Some("runai-bob"), context: Some("rcp-caas") });
        assert!(words.starts_with("forbidden in namespace runai-bob (kubectl context rcp-caas): "), "{words}");
    }

    #[test]
    fn not_found_and_validation_advice() {
        let e = KubectlError::classify(b"Error from server (NotFound): secrets \"ada-env\" not found\n");
        assert_eq!(e.kind, Kind::NotFound);
        let e = KubectlError::classify(
            b"error: error validating \"STDIN\": error validating data: invalid; if you choose to ignore these \
              errors, turn validation off with --validate=false\n",
        );
        assert_eq!(e.kind, Kind::Other);
        assert_eq!(e.said, "error: error validating \"STDIN\": error validating data: invalid");
    }

    #[test]
    fn a_headline_only_for_what_it_can_tell() {
        assert_eq!(KubectlError::classify(b"boom\n").headline(Aim::default()), "");
        let e = KubectlError::classify(b"error: You must be logged in to the server (Unauthorized)\n");
        assert_eq!(e.headline(Aim::default()), ": the cluster refused the login: run `runai login`");
    }

    #[test]
    fn only_the_last_lines_are_kept() {
        let e = KubectlError::classify(b"one\ntwo\nthree\nfour\nfour\nfive\n");
        assert_eq!(e.said, "three\nfour\nfive");
    }
}
