//! `--sweep KEY=V1,V2,...`: the axes of a grid and their product, in the
//! order given, the last key varying fastest (as nested loops would).

use anyhow::{Result, bail};

use crate::sweep::Point;

/// One `--sweep`: a key and its values, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// A key a `{KEY}` can name: letters, digits and `_`, not starting with a
/// digit (so that `{0}` or `{a b}` are not mistaken for one).
pub fn is_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads one `--sweep` value.
pub fn axis(given: &str) -> Result<Axis> {
    let Some((key, values)) = given.split_once('=') else {
        bail!("--sweep {given:?}: write KEY=V1,V2,...");
    };
    if !is_key(key) {
        bail!("--sweep {given:?}: {key:?} is not a key: use letters, digits and '_', not starting with a digit");
    }
    let values: Vec<String> = values.split(',').map(str::to_owned).collect();
    if values.iter().any(String::is_empty) {
        bail!(
            "--sweep {given:?}: an empty value; values are separated by commas (use --sweep-file for a value that \
             is empty or holds a comma)"
        );
    }
    if let Some(twice) = values.iter().enumerate().find_map(|(i, v)| values[..i].contains(v).then_some(v)) {
        bail!("--sweep {key}: the value {twice:?} is given twice (it would submit the same job twice)");
    }
    Ok(Axis { key: key.to_owned(), values })
}

/// The points of the grid: every combination, the first axis slowest.
pub fn product(axes: &[Axis]) -> Result<Vec<Point>> {
    for (i, axis) in axes.iter().enumerate() {
        if axes[..i].iter().any(|a| a.key == axis.key) {
            bail!("--sweep {}: the key is swept twice; give all its values in one --sweep", axis.key);
        }
    }
    let mut points: Vec<Point> = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|point| {
                axis.values.iter().map(move |value| {
                    let mut next = point.clone();
                    next.push((axis.key.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(point: &Point) -> Vec<(&str, &str)> {
        point.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn the_product_keeps_the_order_given_with_the_last_key_fastest() {
        let axes = [axis("lr=1e-3,1e-4").unwrap(), axis("seed=0,1,2").unwrap()];
        let points = product(&axes).unwrap();
        let shown: Vec<Vec<(&str, &str)>> = points.iter().map(pairs).collect();
        assert_eq!(
            shown,
            [
                [("lr", "1e-3"), ("seed", "0")],
                [("lr", "1e-3"), ("seed", "1")],
                [("lr", "1e-3"), ("seed", "2")],
                [("lr", "1e-4"), ("seed", "0")],
                [("lr", "1e-4"), ("seed", "1")],
                [("lr", "1e-4"), ("seed", "2")],
            ]
        );
        assert_eq!(product(&[axis("a=x").unwrap()]).unwrap().len(), 1);
    }

    #[test]
    fn a_value_keeps_its_equals_signs_and_spaces() {
        assert_eq!(axis("opt=a=b, c").unwrap().values, ["a=b", " c"]);
    }

    #[test]
    fn bad_axes_are_refused_naming_what_is_wrong() {
        let err = |given: &str| axis(given).unwrap_err().to_string();
        assert_eq!(err("lr"), "--sweep \"lr\": write KEY=V1,V2,...");
        assert_eq!(
            err("1lr=1"),
            "--sweep \"1lr=1\": \"1lr\" is not a key: use letters, digits and '_', not starting with a digit"
        );
        assert!(err("lr=1,,2").starts_with("--sweep \"lr=1,,2\": an empty value;"));
        assert!(err("lr=").starts_with("--sweep \"lr=\": an empty value;"));
        assert_eq!(err("s=1,2,1"), "--sweep s: the value \"1\" is given twice (it would submit the same job twice)");
        let twice = product(&[axis("a=1").unwrap(), axis("a=2").unwrap()]).unwrap_err().to_string();
        assert_eq!(twice, "--sweep a: the key is swept twice; give all its values in one --sweep");
    }
}
