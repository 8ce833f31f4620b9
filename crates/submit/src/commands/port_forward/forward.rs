//! One `kubectl port-forward`, watched until it ends or Ctrl-C. kubectl
//! runs in its own process group, so that the terminal's Ctrl-C reaches
//! `submit` only, and `submit` ends kubectl's whole group (a dispatcher
//! kubectl's child too): nothing is left listening on the local ports.
//! kubectl says `Forwarding from …` on stdout once it listens; its stderr
//! is kept to say why it ended.

use std::io::{BufRead as _, BufReader, Read};
use std::process::ExitStatus;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Result, anyhow};

use crate::cluster::invocation::{Invocation, RunError, stop_group};
use crate::follow::interrupt;

/// How often the child and Ctrl-C are looked at.
const TICK: Duration = Duration::from_millis(50);

/// How long kubectl's last words may take once it has exited (a grandchild
/// that holds the pipes must not hold `submit`).
const LAST_WORDS: Duration = Duration::from_millis(500);

/// How one forward ended.
#[derive(Debug)]
pub enum Ended {
    /// kubectl exited; `ready` if it had listened on the local ports.
    Exited { ready: bool, status: ExitStatus, stderr: Vec<u8> },
    /// Ctrl-C: kubectl was stopped.
    Interrupted,
}

enum Line {
    Out(Vec<u8>),
    Err(Vec<u8>),
}

/// Runs `forward`, calling `on_ready` once kubectl listens.
pub fn run(forward: &Invocation, mut on_ready: impl FnMut()) -> Result<Ended> {
    let mut child = forward.spawn_piped().map_err(|e| match e {
        RunError::NotFound { .. } => anyhow!("{e}: install kubectl"),
        e => anyhow!(e),
    })?;
    let (tx, lines) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        read_lines(out, tx.clone(), Line::Out);
    }
    if let Some(err) = child.stderr.take() {
        read_lines(err, tx, Line::Err);
    }
    let (mut ready, mut stderr) = (false, Vec::new());
    let mut take = |line: Line, stderr: &mut Vec<u8>| match line {
        Line::Out(text) if !ready && text.starts_with(b"Forwarding from") => {
            ready = true;
            on_ready();
        }
        Line::Out(_) => {}
        Line::Err(text) => stderr.extend_from_slice(&text),
    };
    let status = loop {
        if interrupt::interrupted() {
            stop_group(&mut child);
            return Ok(Ended::Interrupted);
        }
        match lines.recv_timeout(TICK) {
            Ok(line) => take(line, &mut stderr),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(TICK),
        }
        if let Some(status) = child.try_wait().map_err(|e| anyhow!("cannot wait for kubectl: {e}"))? {
            break status;
        }
    };
    while let Ok(line) = lines.recv_timeout(LAST_WORDS) {
        take(line, &mut stderr);
    }
    // kubectl is gone; whatever it started goes with its group.
    stop_group(&mut child);
    Ok(Ended::Exited { ready, status, stderr })
}

/// Sends each line of `pipe` to `tx` until it closes.
fn read_lines(pipe: impl Read + Send + 'static, tx: mpsc::Sender<Line>, wrap: fn(Vec<u8>) -> Line) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) if tx.send(wrap(line)).is_err() => break,
                Ok(_) => {}
            }
        }
    });
}
