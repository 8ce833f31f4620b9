//! One `kubectl --watch` of the wait: its stdout parsed into JSON objects
//! on a channel the wait shares between its watches, its stderr kept for
//! the message should it fail, and its process group stopped at the end.

use std::io::{BufReader, Read as _};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::invocation::{Invocation, RunError, stop_group};

/// What the watches stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Pods,
    Events,
}

/// One object a watch printed, or its end (kubectl's stdout closed).
pub enum Item {
    Object(Source, Value),
    Ended(Source),
}

/// One watch: kubectl's stdout parsed into objects on a shared channel.
pub struct Watch {
    child: Child,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

impl Watch {
    pub fn start(invocation: &Invocation, source: Source, tx: mpsc::Sender<Item>) -> Result<Self, RunError> {
        let mut child = invocation.spawn_piped()?;
        let stdout = child.stdout.take();
        // The stream is one JSON object per change, pretty-printed and
        // concatenated; it ends when kubectl does.
        std::thread::spawn(move || {
            if let Some(stdout) = stdout {
                for object in serde_json::Deserializer::from_reader(BufReader::new(stdout)).into_iter::<Value>() {
                    let Ok(object) = object else { break };
                    if tx.send(Item::Object(source, object)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Item::Ended(source));
        });
        let stderr_pipe = child.stderr.take();
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = stderr_pipe {
                // What kubectl managed to say is all there is to show.
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        });
        Ok(Watch { child, stderr })
    }

    /// Stops kubectl, after `grace` for it to end by itself, and returns
    /// how it ended (if it did) and what it said on stderr.
    pub fn stop(mut self, grace: Duration) -> (Option<std::process::ExitStatus>, Vec<u8>) {
        let give_up = Instant::now() + grace;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(10)),
                _ => break None,
            }
        };
        if status.is_none() {
            stop_group(&mut self.child);
        }
        (status, self.stderr.join().unwrap_or_default())
    }
}
