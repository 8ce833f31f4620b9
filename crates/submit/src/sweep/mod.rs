//! A sweep: one `submit` that submits a job per point of a grid
//! (`--sweep KEY=V1,V2,...`, repeatable) or of a file (`--sweep-file`),
//! with `{KEY}` in `--command`, `--exp-folder` and `-e` values replaced by
//! the point's value.
//!
//! Everything that can be refused is refused before anything runs: the
//! axes or the file, an undefined `{KEY}`, a swept key used nowhere (its
//! points would be the same job), too many points, every job's name and
//! every job as the builder checks it. The run itself (`run`) then syncs the
//! Secret once, checks every name with one request, and submits at most
//! `--parallel` at a time; `table` says how each point ended.

pub mod file;
pub mod follow;
pub mod grid;
pub mod names;
pub mod run;
pub mod substitute;
pub mod table;

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::job::request::{Request, SweepMember};
use substitute::Template;

/// A point: `(key, value)` in the sweep's key order.
pub type Point = Vec<(String, String)>;

/// What the sweep flags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// `--sweep` values, in order.
    pub axes: Vec<String>,
    /// `--sweep-file`.
    pub file: Option<PathBuf>,
    /// `--max-jobs`: the most points a sweep may have.
    pub max_jobs: usize,
    /// `--parallel`: the most runai submissions at a time.
    pub parallel: usize,
}

impl Asked {
    /// Whether a sweep is asked for at all.
    pub fn is_sweep(&self) -> bool {
        !self.axes.is_empty() || self.file.is_some()
    }
}

/// A sweep whose every point is checked.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// `--name`: the sweep's name, `NB_SWEEP`, the jobs' prefix.
    pub name: String,
    pub points: Vec<Point>,
    /// The jobs' names, by point.
    pub names: Vec<String>,
    /// The jobs as asked for, by point.
    pub requests: Vec<Request>,
    pub parallel: usize,
}

/// The point as `KEY=VALUE` words, quoted for a shell where a value needs
/// it (`lr=1e-3 'opt=adam, b'`): `NB_SWEEP_POINT`, and the table's column.
pub fn words(point: &Point) -> String {
    let words: Vec<String> = point.iter().map(|(k, v)| format!("{k}={v}")).collect();
    common::shell::join(words.iter().map(String::as_str))
}

/// The sweep `asked` makes of `request`; none when no sweep is asked for.
pub fn plan(asked: &Asked, request: &Request) -> Result<Option<Sweep>> {
    let points = match (&asked.file, asked.axes.is_empty()) {
        (None, true) => return Ok(None),
        (Some(_), false) => bail!("--sweep and --sweep-file cannot be used together: put the whole grid in the file"),
        (Some(path), true) => file::load(path)?,
        (None, false) => {
            let axes = asked.axes.iter().map(|a| grid::axis(a)).collect::<Result<Vec<_>>>()?;
            grid::product(&axes)?
        }
    };
    let Some(name) = request.name.clone() else {
        bail!("a sweep needs --name: its jobs are <name>-<index>, the same names on a rerun");
    };
    if points.len() > asked.max_jobs {
        bail!(
            "the sweep has {} points, more than {} (--max-jobs); nothing was submitted; pass --max-jobs {} if that \
             many jobs are meant",
            points.len(),
            asked.max_jobs,
            points.len()
        );
    }
    let templates = templates(request)?;
    let keys: Vec<&str> = points[0].iter().map(|(k, _)| k.as_str()).collect();
    for (field, template) in &templates {
        if let Some(unknown) = template.keys().into_iter().find(|k| !keys.contains(k)) {
            bail!("{field}: {{{unknown}}} is not swept: the sweep's keys are {}", keys.join(", "));
        }
    }
    if let Some(unused) = keys.iter().find(|k| !templates.iter().any(|(_, t)| t.keys().contains(k))) {
        bail!(
            "the swept key {unused} is used in none of --command, --exp-folder and -e values (as {{{unused}}}): \
             its points would be the same job"
        );
    }
    let names = names::names(&name, points.len())?;
    let width = names::width(points.len());
    let requests = points
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, (point, job))| {
            let member = SweepMember {
                sweep: name.clone(),
                size: points.len(),
                index: names::index(i, width),
                point: words(point),
            };
            expand(request, &templates, point, job, member)
        })
        .collect();
    Ok(Some(Sweep { name, points, names, requests, parallel: asked.parallel }))
}

/// The values that may name keys: `(field, template)`; `-e` entries
/// without `=` are left for the job builder to refuse.
fn templates(request: &Request) -> Result<Vec<(String, Template)>> {
    let mut found = Vec::new();
    for (field, value) in [("--command", &request.command), ("--exp-folder", &request.exp_folder)] {
        if let Some(value) = value {
            found.push((field.to_owned(), Template::parse(field, value)?));
        }
    }
    for entry in &request.env {
        if let Some((key, value)) = entry.split_once('=') {
            let field = format!("-e {key}");
            let template = Template::parse(&field, value)?;
            found.push((field, template));
        }
    }
    Ok(found)
}

/// The request of one point.
fn expand(
    request: &Request,
    templates: &[(String, Template)],
    point: &Point,
    job: &str,
    member: SweepMember,
) -> Request {
    let render = |field: &str| templates.iter().find(|(f, _)| f == field).map(|(_, t)| t.render(point));
    let env = request
        .env
        .iter()
        .map(|entry| match entry.split_once('=') {
            Some((key, _)) => format!("{key}={}", render(&format!("-e {key}")).unwrap_or_default()),
            None => entry.clone(),
        })
        .collect();
    Request {
        name: Some(job.to_owned()),
        command: render("--command"),
        exp_folder: render("--exp-folder"),
        env,
        sweep: Some(member),
        ..request.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(args: &[&str]) -> Request {
        crate::cli::Cli::parse_args(std::iter::once("submit").chain(args.iter().copied())).unwrap().request()
    }

    fn asked(axes: &[&str]) -> Asked {
        Asked { axes: axes.iter().map(|a| (*a).to_owned()).collect(), file: None, max_jobs: 100, parallel: 4 }
    }

    #[test]
    fn no_sweep_flag_is_no_sweep_and_leaves_braces_alone() {
        assert!(plan(&asked(&[]), &request(&["-c", "awk '{print $1}'"])).unwrap().is_none());
    }

    #[test]
    fn each_point_gets_its_name_values_and_place_in_the_sweep() {
        let req = request(&[
            "-n",
            "lr",
            "-c",
            "train --lr {lr} --s {seed}",
            "--exp-folder",
            "runs/{lr}",
            "-e",
            "T={seed}",
            "-e",
            "K=v",
        ]);
        let sweep = plan(&asked(&["lr=1,2", "seed=a,b,c"]), &req).unwrap().unwrap();
        assert_eq!(sweep.names, ["lr-0", "lr-1", "lr-2", "lr-3", "lr-4", "lr-5"]);
        let fifth = &sweep.requests[4];
        assert_eq!(fifth.name.as_deref(), Some("lr-4"));
        assert_eq!(fifth.command.as_deref(), Some("train --lr 2 --s b"));
        assert_eq!(fifth.exp_folder.as_deref(), Some("runs/2"));
        assert_eq!(fifth.env, ["T=b", "K=v"]);
        let member = fifth.sweep.as_ref().unwrap();
        assert_eq!((member.sweep.as_str(), member.size, member.index.as_str()), ("lr", 6, "4"));
        assert_eq!(member.point, "lr=2 seed=b");
        assert_eq!(words(&vec![("o".into(), "a, b".into())]), "'o=a, b'");
    }

    #[test]
    fn a_sweep_is_refused_before_anything_when_it_cannot_be_right() {
        let err = |axes: &[&str], args: &[&str], max: usize| {
            plan(&Asked { max_jobs: max, ..asked(axes) }, &request(args)).unwrap_err().to_string()
        };
        assert_eq!(
            err(&["a=1,2"], &["-c", "x {a}"], 100),
            "a sweep needs --name: its jobs are <name>-<index>, the same names on a rerun"
        );
        assert_eq!(
            err(&["a=1,2"], &["-n", "s", "-c", "x {b}"], 100),
            "--command: {b} is not swept: the sweep's keys are a"
        );
        assert!(
            err(&["a=1,2", "b=1"], &["-n", "s", "-c", "x {a}"], 100).starts_with("the swept key b is used in none")
        );
        assert!(err(&["a=1,2,3"], &["-n", "s", "-c", "x {a}"], 2).starts_with("the sweep has 3 points, more than 2"));
        assert!(err(&["a=1,2"], &["-n", "S", "-c", "x {a}"], 100).starts_with("--name=\"S\": must not contain 'S'"));
    }
}
