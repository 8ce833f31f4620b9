//! The socket under tiny_http's upgrade. `Request::upgrade` hands back a
//! `Read + Write` that hides it, and a read on that cannot be woken: but a
//! forward must end when its pod goes, as a real server's does, while
//! kubectl sends nothing. So the session finds its connection among the
//! process's descriptors by its two addresses and works on a duplicate, with
//! a read timeout, and shuts it down to drop the forward.

use std::io;
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::os::fd::{BorrowedFd, RawFd};

use nix::sys::socket::{SockaddrIn, getpeername, getsockname};

fn addresses(fd: RawFd) -> Option<(SocketAddr, SocketAddr)> {
    let local = getsockname::<SockaddrIn>(fd).ok()?;
    let peer = getpeername::<SockaddrIn>(fd).ok()?;
    Some((SocketAddr::V4(SocketAddrV4::from(local)), SocketAddr::V4(SocketAddrV4::from(peer))))
}

/// A duplicate of the connection from `peer` to the server at `local`.
pub(super) fn find(local: SocketAddr, peer: SocketAddr) -> io::Result<TcpStream> {
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Ok(fd) = entry?.file_name().to_string_lossy().parse::<RawFd>() else { continue };
        if addresses(fd) != Some((local, peer)) {
            continue;
        }
        // SAFETY: the descriptor is open (it just answered getpeername) and
        // is only borrowed for the duplication; should another thread close
        // it meanwhile, the check below refuses whatever was duplicated.
        let Ok(copy) = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned() else { continue };
        let stream = TcpStream::from(copy);
        if stream.local_addr().ok() == Some(local) && stream.peer_addr().ok() == Some(peer) {
            return Ok(stream);
        }
    }
    Err(io::Error::other(format!("no socket from {peer} to {local} in /proc/self/fd")))
}
