//! `{KEY}` in `--command`, `--exp-folder` and `-e` values: replaced by the
//! point's value; `{{` and `}}` are literal braces (so `${{HOME}}` is the
//! shell's `${HOME}`). Only a sweep reads its templates: without one, the
//! values go to the pod as typed.

use anyhow::{Result, bail};

use crate::sweep::Point;
use crate::sweep::grid::is_key;

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Key(String),
}

/// A value with its `{KEY}` places found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Reads `text`, the value of `field` (named in errors).
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    chars.next();
                    literal.push(c);
                }
                ('{', _) => {
                    let mut key = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(k) => key.push(k),
                            None => bail!("{field}: a '{{' with no '}}' after it; write {{{{ for a literal brace"),
                        }
                    }
                    if !is_key(&key) {
                        bail!("{field}: {{{key}}} is not a sweep key; write {{{{ and }}}} for literal braces");
                    }
                    pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    pieces.push(Piece::Key(key));
                }
                ('}', _) => bail!("{field}: a '}}' with no '{{' before it; write }}}} for a literal brace"),
                _ => literal.push(c),
            }
        }
        pieces.push(Piece::Text(literal));
        pieces.retain(|p| *p != Piece::Text(String::new()));
        Ok(Template { pieces })
    }

    /// The keys it names, in order, each once.
    pub fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Key(k) if !keys.contains(&k.as_str()) => keys.push(k),
                _ => {}
            }
        }
        keys
    }

    /// The value for `point`, which defines every key (checked before).
    pub fn render(&self, point: &Point) -> String {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.as_str(),
                Piece::Key(key) => point.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v.as_str()),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> Point {
        vec![("lr".into(), "1e-3".into()), ("seed".into(), "0".into())]
    }

    #[test]
    fn keys_are_replaced_and_doubled_braces_are_literal() {
        let t = Template::parse("--command", "python train.py --lr {lr} --seed={seed} --tag {lr}").unwrap();
        assert_eq!(t.keys(), ["lr", "seed"]);
        assert_eq!(t.render(&point()), "python train.py --lr 1e-3 --seed=0 --tag 1e-3");
        let t = Template::parse("--command", "echo ${{HOME}} {{lr}} }}{{ {lr}{seed}").unwrap();
        assert_eq!(t.keys(), ["lr", "seed"]);
        assert_eq!(t.render(&point()), "echo ${HOME} {lr} }{ 1e-30");
        assert_eq!(Template::parse("-e X", "").unwrap().render(&point()), "");
    }

    #[test]
    fn unbalanced_or_odd_braces_are_refused_naming_the_field() {
        let err = |text: &str| Template::parse("--exp-folder", text).unwrap_err().to_string();
        assert_eq!(err("runs/{lr"), "--exp-folder: a '{' with no '}' after it; write {{ for a literal brace");
        assert_eq!(err("runs/lr}"), "--exp-folder: a '}' with no '{' before it; write }} for a literal brace");
        assert_eq!(
            err("awk '{print $1}'"),
            "--exp-folder: {print $1} is not a sweep key; write {{ and }} for literal braces"
        );
        assert_eq!(err("{}"), "--exp-folder: {} is not a sweep key; write {{ and }} for literal braces");
    }
}
