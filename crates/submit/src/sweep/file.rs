//! `--sweep-file FILE`: one point per line as `KEY=VALUE` words, quoted as
//! in a POSIX shell (`lr=1e-3 'opt=adam, beta=0.9'`), `#` starting a
//! comment; for values holding commas or spaces, and for points that are
//! not a grid. Every point names the same keys (a `{KEY}` must have a value
//! in each job); the first point's order is the sweep's key order.

use std::path::Path;

use anyhow::{Result, anyhow, bail};

use crate::sweep::Point;
use crate::sweep::grid::is_key;

/// Reads the file's points.
pub fn load(path: &Path) -> Result<Vec<Point>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("--sweep-file {}: {e}", path.display()))?;
    parse(path, &text)
}

/// The points of `text`, read from `path` (named in errors with the line).
pub fn parse(path: &Path, text: &str) -> Result<Vec<Point>> {
    let mut points: Vec<(usize, Point)> = Vec::new();
    for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        let at = format!("{}:{number}", path.display());
        let words = shlex::split(line).ok_or_else(|| anyhow!("{at}: an unclosed quote or a trailing backslash"))?;
        if words.is_empty() {
            continue;
        }
        let mut point: Point = Vec::new();
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                bail!("{at}: {word:?} is not KEY=VALUE");
            };
            if !is_key(key) {
                bail!("{at}: {key:?} is not a key: use letters, digits and '_', not starting with a digit");
            }
            if point.iter().any(|(k, _)| k == key) {
                bail!("{at}: {key} is given twice");
            }
            point.push((key.to_owned(), value.to_owned()));
        }
        if let Some((_, first)) = points.first() {
            point = in_order_of(first, point).map_err(|keys| anyhow!("{at}: {keys}"))?;
        }
        if let Some((same, _)) = points.iter().find(|(_, p)| *p == point) {
            bail!("{at}: the same point as line {same} (it would submit the same job twice)");
        }
        points.push((number, point));
    }
    if points.is_empty() {
        bail!("--sweep-file {}: no point in it (one line of KEY=VALUE words per job)", path.display());
    }
    Ok(points.into_iter().map(|(_, p)| p).collect())
}

/// `point` in the key order of `first`, or why it cannot be: every point
/// names the same keys.
fn in_order_of(first: &Point, mut point: Point) -> Result<Point, String> {
    let keys = |p: &Point| p.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    let missing: Vec<String> = keys(first).into_iter().filter(|k| !point.iter().any(|(p, _)| p == k)).collect();
    let extra: Vec<String> = keys(&point).into_iter().filter(|k| !first.iter().any(|(f, _)| f == k)).collect();
    if !missing.is_empty() || !extra.is_empty() {
        let mut why = Vec::new();
        if !missing.is_empty() {
            why.push(format!("no value for {}", missing.join(", ")));
        }
        if !extra.is_empty() {
            why.push(format!("{} not on the first point", extra.join(", ")));
        }
        return Err(format!("{}; every point names the same keys", why.join(", and ")));
    }
    point.sort_by_key(|(k, _)| first.iter().position(|(f, _)| f == k));
    Ok(point)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(text: &str) -> Result<Vec<Vec<(String, String)>>> {
        parse(Path::new("grid.txt"), text)
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn words_are_shell_quoted_and_comments_skipped() {
        let text = "# lr and optimiser\nlr=1e-3 'opt=adam, beta=0.9'\n\n  opt=\"sgd\" lr=1e-4  # momentum later\n";
        assert_eq!(
            points(text).unwrap(),
            [vec![pair("lr", "1e-3"), pair("opt", "adam, beta=0.9")], vec![pair("lr", "1e-4"), pair("opt", "sgd")]]
        );
        assert_eq!(points("x=a\\ b\n").unwrap(), [vec![pair("x", "a b")]]);
        assert_eq!(points("x=\n").unwrap(), [vec![pair("x", "")]]);
    }

    #[test]
    fn bad_lines_are_refused_with_their_number() {
        let err = |text: &str| points(text).unwrap_err().to_string();
        assert_eq!(err("a=1\nb\n"), "grid.txt:2: \"b\" is not KEY=VALUE");
        assert_eq!(err("a='1\n"), "grid.txt:1: an unclosed quote or a trailing backslash");
        assert_eq!(err("a=1 a=2\n"), "grid.txt:1: a is given twice");
        assert_eq!(
            err("a-b=1\n"),
            "grid.txt:1: \"a-b\" is not a key: use letters, digits and '_', not starting with a digit"
        );
        assert_eq!(err("a=1 b=1\na=2\n"), "grid.txt:2: no value for b; every point names the same keys");
        assert_eq!(err("a=1\na=2 c=3\n"), "grid.txt:2: c not on the first point; every point names the same keys");
        assert_eq!(
            err("a=1 b=2\nb=2 a=1\n"),
            "grid.txt:2: the same point as line 1 (it would submit the same job twice)"
        );
        assert_eq!(err("# nothing\n\n"), "--sweep-file grid.txt: no point in it (one line of KEY=VALUE words per job)");
    }
}
