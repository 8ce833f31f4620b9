//! The runai double's side of scripted pod timelines: after it accepts a
//! submission it tells the fake API server named by `RUNAI_DOUBLE_APISERVER`
//! (an `http://127.0.0.1:PORT` URL, set by `SubmitEnv::use_apiserver`), which
//! then plays the timeline a test armed for that job; after it accepts a
//! delete, the server removes the job's pods. Without the variable it does
//! nothing.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use crate::fake_apiserver::{DELETED_PATH, SUBMITTED_PATH};

/// The variable naming the fake API server.
pub const APISERVER_VAR: &str = "RUNAI_DOUBLE_APISERVER";

/// Reports the submission of `job` with `image`; an error is for the
/// double to print (the test then fails on the missing pods).
pub fn report_submission(job: &str, image: &str) -> Result<(), String> {
    report(SUBMITTED_PATH, &serde_json::json!({"name": job, "image": image}))
}

/// Reports the deletion of `job`: the fake API server then removes its
/// pods, a moment later, as their grace period would.
pub fn report_deletion(job: &str) -> Result<(), String> {
    report(DELETED_PATH, &serde_json::json!({"name": job}))
}

fn report(path: &str, body: &serde_json::Value) -> Result<(), String> {
    let Some(url) = std::env::var_os(APISERVER_VAR) else { return Ok(()) };
    let url = url.to_string_lossy();
    let addr = url.strip_prefix("http://").ok_or_else(|| format!("{APISERVER_VAR}={url} is not an http:// URL"))?;
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("cannot reach {url}: {e}"))?;
    stream.write_all(request.as_bytes()).map_err(|e| format!("{url}: {e}"))?;
    // The server keeps connections alive: our end of writing ends it.
    stream.shutdown(std::net::Shutdown::Write).map_err(|e| format!("{url}: {e}"))?;
    let mut reply = String::new();
    // Until the server answers: the timeline is armed before we return.
    stream.read_to_string(&mut reply).map_err(|e| format!("{url}: {e}"))?;
    match reply.starts_with("HTTP/1.1 200") {
        true => Ok(()),
        false => Err(format!("{url} answered: {}", reply.lines().next().unwrap_or_default())),
    }
}
