//! The runai double's side of the fake cluster: after it accepts a
//! submission it tells the fake API server named by `RUNAI_DOUBLE_APISERVER`
//! (an `http://127.0.0.1:PORT` URL, set by `SubmitEnv::use_apiserver`), which
//! then plays the timeline a test armed for that job; after it accepts a
//! delete, the server removes the job's pods, or says it has none. Without
//! the variable it does nothing.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;

use crate::fake_apiserver::{DELETED_PATH, SUBMITTED_PATH};

/// The variable naming the fake API server.
pub const APISERVER_VAR: &str = "RUNAI_DOUBLE_APISERVER";

/// Reports the submission of `job` with `image`; an error is for the
/// double to print (the test then fails on the missing pods).
pub fn report_submission(job: &str, image: &str) -> Result<(), String> {
    post(SUBMITTED_PATH, &serde_json::json!({"name": job, "image": image})).map(|_| ())
}

/// Reports the deletion of `job`: whether the server had pods of it (and
/// removed them). Without a server to ask, the job is taken to exist.
pub fn report_deletion(job: &str) -> Result<bool, String> {
    let reply = post(DELETED_PATH, &serde_json::json!({"name": job}))?;
    Ok(reply.is_none_or(|body| body["deleted"].as_array().is_some_and(|pods| !pods.is_empty())))
}

/// POSTs `body` to the server at `path`; its JSON answer, or `None`
/// without a server.
fn post(path: &str, body: &serde_json::Value) -> Result<Option<serde_json::Value>, String> {
    let Some(url) = std::env::var_os(APISERVER_VAR) else { return Ok(None) };
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
    if !reply.starts_with("HTTP/1.1 200") {
        return Err(format!("{url} answered: {}", reply.lines().next().unwrap_or_default()));
    }
    let json = reply.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok(Some(serde_json::from_str(json).unwrap_or_default()))
}
