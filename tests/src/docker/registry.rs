//! A real image registry for the publishing tests: Debian's
//! `docker-registry` (the CNCF distribution registry), with its own config
//! and storage under `<target>/registry/`, listening on 127.0.0.1 only, at a
//! port that was free.
//!
//! - Stopped (and its storage removed) when dropped, and in any case when the test process exits: it
//!   is started like the engine (a thread that lives as long as the
//!   process, SIGTERM as its parent-death signal).
//! - One test process at a time per target directory uses
//!   `<target>/registry/` (`registry.lock`, held for the process's life);
//!   what a previous run pushed there is removed first.
//! - The engine reaches it over plain HTTP: dockerd treats 127.0.0.0/8 as
//!   an insecure registry by default, so no TLS and no daemon setting.
//! - [`Registry::get`] / [`Registry::head`] speak the registry's HTTP API
//!   (v2) directly, so a test checks what the registry holds, not what
//!   the engine says it pushed.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::daemon::{keep_running, running, wait_gone, which};
use crate::binaries;
use crate::sandbox::{Error, Result, require_root};

/// How long the registry may take to answer (milliseconds here).
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// A reply of the registry's API takes milliseconds; this is for a hung one.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// The media type `docker push` gives an image's manifest.
pub const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// What a client accepts when it asks for a manifest: Docker's and OCI's.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json";

/// A running registry; stopped when dropped.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    port: u16,
    /// How long it took to answer `GET /v2/`, for the test log.
    pub started_in: Duration,
    /// Why the attempts before the one that answered failed (the port was
    /// taken between the probe and the bind), each with the registry's log.
    pub failed_attempts: Vec<String>,
}

/// One HTTP reply of the registry.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `<target>/registry`, locked for this process on first use and emptied.
fn registries_dir() -> Result<&'static Path> {
    static DIR: OnceLock<std::result::Result<(PathBuf, Flock<File>), String>> = OnceLock::new();
    let claimed = DIR.get_or_init(|| {
        let dir = binaries::target_dir().join("registry");
        let fail = |what: &str, e: &dyn std::fmt::Display| format!("registry: cannot {what} {}: {e}", dir.display());
        fs::create_dir_all(&dir).map_err(|e| fail("create", &e))?;
        let lock = File::create(dir.join("registry.lock")).map_err(|e| fail("lock", &e))?;
        let lock = match Flock::lock(lock, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((lock, _)) => {
                eprintln!("registry: another test run uses {}; waiting for it", dir.display());
                Flock::lock(lock, FlockArg::LockExclusive).map_err(|(_, e)| fail("lock", &e))?
            }
        };
        for entry in fs::read_dir(&dir).map_err(|e| fail("list", &e))?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                // A registry of an earlier run may still be shutting down.
                wait_gone(&path, &path.join("registry.pid"));
                fs::remove_dir_all(&path).map_err(|e| fail("clear", &e))?;
            }
        }
        Ok((dir, lock))
    });
    claimed.as_ref().map(|(dir, _)| dir.as_path()).map_err(|e| Error::new(e.clone()))
}

/// A port on 127.0.0.1 that nothing listens on (it may be taken again by
/// the time it is used: [`Registry::start`] retries).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::new(format!("registry: cannot find a free port: {e}")))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| Error::new(format!("registry: {e}")))
}

/// The registry's configuration: storage in `dir`, only 127.0.0.1:`port`,
/// no debug or metrics listener, uploads never purged behind a test's back.
fn config(dir: &Path, port: u16) -> String {
    format!(
        "version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: nb-tests-only
",
        storage = dir.join("storage").display()
    )
}

impl Registry {
    /// Starts a registry with empty storage, on a free port.
    pub fn start() -> Result<Self> {
        Self::start_on(free_port)
    }

    /// Starts a registry with empty storage on a port `next_port` gives,
    /// trying up to three ports when it exits or does not answer.
    pub fn start_on(mut next_port: impl FnMut() -> Result<u16>) -> Result<Self> {
        require_root()?;
        if which("docker-registry").is_none() {
            return Err(Error::new(
                "registry: `docker-registry` is not on PATH: the publishing tests need Debian's registry (run \
                 .ci/install-deps, which installs docker-registry)",
            ));
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = registries_dir()?.join(NEXT.fetch_add(1, Ordering::Relaxed).to_string());
        fs::create_dir_all(&dir).map_err(|e| Error::new(format!("registry: cannot create {}: {e}", dir.display())))?;
        let mut failed = Vec::new();
        for attempt in 1..=3 {
            let port = next_port()?;
            let file = dir.join("config.yml");
            fs::write(&file, config(&dir, port))
                .map_err(|e| Error::new(format!("registry: cannot write {}: {e}", file.display())))?;
            let started = Instant::now();
            let mut cmd = Command::new("docker-registry");
            cmd.arg("serve").arg(&file);
            keep_running("registry", cmd, &dir.join("registry.log"), &dir.join("registry.pid"))?;
            match wait_until_up(&dir, port, started) {
                Ok(started_in) => {
                    eprintln!("registry: up on 127.0.0.1:{port} in {started_in:.1?} (attempt {attempt})");
                    return Ok(Registry { dir, port, started_in, failed_attempts: failed });
                }
                Err(e) => failed.push(format!("attempt {attempt}: {e}")),
            }
        }
        let _next_run_clears_it_otherwise = fs::remove_dir_all(&dir);
        Err(Error::new(format!("registry: did not start in {} attempts:\n{}", failed.len(), failed.join("\n"))))
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The addresses the kernel has listening sockets for on the
    /// registry's port (IPv4 and IPv6), as `/proc/net/tcp*` shows them.
    pub fn listening_on(&self) -> Vec<String> {
        let mut found = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for line in fs::read_to_string(table).unwrap_or_default().lines().skip(1) {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // fields[1] is ADDR:PORT in hex, fields[3] the state (0A: LISTEN).
                let Some((addr, port)) = fields.get(1).and_then(|f| f.split_once(':')) else { continue };
                if fields.get(3) == Some(&"0A") && u16::from_str_radix(port, 16).ok() == Some(self.port) {
                    found.push(hex_address(addr));
                }
            }
        }
        found
    }

    /// Every request the registry answered so far, as its log records
    /// them: `METHOD URI STATUS`, oldest first.
    pub fn requests(&self) -> Vec<String> {
        let log = fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        let field = |line: &str, name: &str| {
            let rest = line.split_once(&format!(" {name}="))?.1;
            let value = rest.strip_prefix('"').map_or_else(|| rest.split(' ').next(), |q| q.split('"').next());
            value.map(str::to_owned)
        };
        log.lines()
            .filter(|l| l.contains("msg=\"response completed\""))
            .filter_map(|l| {
                let method = field(l, "http.request.method")?;
                let uri = field(l, "http.request.uri")?;
                let status = field(l, "http.response.status")?;
                Some(format!("{method} {uri} {status}"))
            })
            .collect()
    }

    /// `GET path` with `Accept: accept`.
    pub fn get(&self, path: &str, accept: &str) -> Result<Reply> {
        self.request("GET", path, accept)
    }

    /// `HEAD path` with `Accept: accept`.
    pub fn head(&self, path: &str, accept: &str) -> Result<Reply> {
        self.request("HEAD", path, accept)
    }

    /// The tags of repository `name` (`GET /v2/<name>/tags/list`).
    pub fn tags(&self, name: &str) -> Result<Vec<String>> {
        let reply = self.get(&format!("/v2/{name}/tags/list"), "application/json")?;
        if reply.status != 200 {
            return Err(Error::new(format!("registry: tags of {name}: HTTP {}: {}", reply.status, reply.text())));
        }
        let list: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| Error::new(format!("registry: tags of {name}: {e}: {}", reply.text())))?;
        let tags = list["tags"].as_array().map(|t| t.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect());
        Ok(tags.unwrap_or_default())
    }

    /// `HEAD` (`method`) or `GET` of `/v2/<name>/manifests/<reference>`,
    /// accepting the manifest media types a client accepts.
    pub fn manifest(&self, method: &str, name: &str, reference: &str) -> Result<Reply> {
        self.request(method, &format!("/v2/{name}/manifests/{reference}"), MANIFEST_TYPES)
    }

    fn request(&self, method: &str, path: &str, accept: &str) -> Result<Reply> {
        request(self.port, method, path, accept)
    }
}

/// Waits until the registry started in `dir` answers `GET /v2/` on `port`;
/// how long that took, or why it never did, with its log (it is stopped
/// then, and `dir` kept for the next attempt).
fn wait_until_up(dir: &Path, port: u16, started: Instant) -> Result<Duration> {
    while started.elapsed() < START_TIMEOUT {
        if request(port, "GET", "/v2/", "application/json").is_ok_and(|r| r.status == 200) {
            return Ok(started.elapsed());
        }
        if !alive(dir) {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let waited = started.elapsed();
    let log = fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
    stop(dir);
    Err(Error::new(format!(
        "no answer on 127.0.0.1:{port} after {waited:.1?} (it {}); its log:\n{}",
        if waited < START_TIMEOUT { "exited" } else { "was still running" },
        log.trim()
    )))
}

/// Whether the registry started in `dir` still runs.
fn alive(dir: &Path) -> bool {
    running(dir, &dir.join("registry.pid")).is_some()
}

/// Stops the registry started in `dir` (SIGTERM), waiting until it is gone.
fn stop(dir: &Path) {
    if let Some(pid) = running(dir, &dir.join("registry.pid")) {
        let _gone_meanwhile = kill(Pid::from_raw(pid), Signal::SIGTERM);
    }
    wait_gone(dir, &dir.join("registry.pid"));
}

/// One HTTP/1.0 request to 127.0.0.1:`port` (so the reply is never chunked
/// and ends with the connection).
fn request(port: u16, method: &str, path: &str, accept: &str) -> Result<Reply> {
    let host = format!("127.0.0.1:{port}");
    let fail = |e: std::io::Error| Error::new(format!("registry: {method} {path} on {host}: {e}"));
    let mut stream = TcpStream::connect(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)).map_err(fail)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT)).map_err(fail)?;
    write!(stream, "{method} {path} HTTP/1.0\r\nHost: {host}\r\nAccept: {accept}\r\n\r\n").map_err(fail)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(fail)?;
    parse_reply(&raw).ok_or_else(|| {
        Error::new(format!("registry: {method} {path}: not an HTTP reply: {}", String::from_utf8_lossy(&raw)))
    })
}

impl Drop for Registry {
    /// Stops it and removes its storage (the pushed image is not needed
    /// after the test).
    fn drop(&mut self) {
        stop(&self.dir);
        let _next_run_clears_it_otherwise = fs::remove_dir_all(&self.dir);
    }
}

/// `0100007F` -> `127.0.0.1`; an IPv6 address stays hex (only "is it
/// 127.0.0.1" matters).
fn hex_address(hex: &str) -> String {
    match u32::from_str_radix(hex, 16) {
        Ok(n) if hex.len() == 8 => Ipv4Addr::from(n.to_le_bytes()).to_string(),
        _ => hex.to_owned(),
    }
}

fn parse_reply(raw: &[u8]) -> Option<Reply> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Reply { status, headers, body: raw[end + 4..].to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_read_as_dotted_quads() {
        assert_eq!(hex_address("0100007F"), "127.0.0.1");
        assert_eq!(hex_address("00000000"), "0.0.0.0");
    }

    #[test]
    fn a_reply_splits_into_status_headers_and_body() {
        let reply = parse_reply(b"HTTP/1.0 200 OK\r\nDocker-Content-Digest: sha256:ab\r\n\r\n{}").unwrap();
        assert_eq!(
            (reply.status, reply.header("docker-content-digest"), reply.text().as_str()),
            (200, Some("sha256:ab"), "{}")
        );
    }
}
