//! Directories a bootstrap child opened as the user, handed to PID 1.
//!
//! Root is squashed on scratch: PID 1 cannot even look a path up there,
//! so the user-state child (the user's ids) walks the paths without
//! following a symlink and sends PID 1 the descriptors it ended on, over a
//! socket pair (`SCM_RIGHTS`). PID 1 never uses them itself: the children
//! it forks later as the user do (the attempt record, the command's
//! working directory), with no lookup of the shared path again, so nothing
//! a lab member renames or plants on it in between is followed, and the
//! NFS server is asked nothing twice.
//!
//! One datagram: the number of slots, for each 4 bytes (0 when its
//! descriptor is among the rights, else the errno of why it was not
//! opened; all little-endian u32), then a payload
//! (the attempt record as the child wrote it), and the descriptors, in
//! slot order.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg, sendmsg, socketpair,
};

/// Most slots a hand-off carries.
const MAX_SLOTS: usize = 4;

/// Largest payload: the attempt record's limit, and room to spare.
const MAX_PAYLOAD: usize = 128 * 1024;

/// A slot's descriptor, or the errno of why it was not opened (0: the
/// child never said).
pub type Slot = Result<OwnedFd, i32>;

/// The child's end.
#[derive(Debug)]
pub struct Sender(OwnedFd);

/// PID 1's end.
#[derive(Debug)]
pub struct Receiver(OwnedFd);

/// A new hand-off: the sender goes to the child (inherited by the fork),
/// the receiver stays.
pub fn channel() -> io::Result<(Sender, Receiver)> {
    // SOCK_DGRAM: one message, read whole; CLOEXEC: the command inherits
    // neither end.
    let (child, parent) =
        socketpair(AddressFamily::Unix, SockType::Datagram, None, SockFlag::SOCK_CLOEXEC).map_err(io::Error::from)?;
    Ok((Sender(child), Receiver(parent)))
}

impl Sender {
    /// Sends the slots (at most [`MAX_SLOTS`]: a descriptor, or an errno)
    /// and `payload` (at most [`MAX_PAYLOAD`] bytes).
    pub fn send(&self, slots: &[Result<BorrowedFd, i32>], payload: &[u8]) -> io::Result<()> {
        if payload.len() > MAX_PAYLOAD {
            return Err(io::Error::other(format!("{} bytes to hand over, more than {MAX_PAYLOAD}", payload.len())));
        }
        let slots = &slots[..slots.len().min(MAX_SLOTS)];
        let mut header = Vec::with_capacity(4 + slots.len() * 4);
        header.extend_from_slice(&(slots.len() as u32).to_le_bytes());
        let mut fds: Vec<RawFd> = Vec::new();
        for slot in slots {
            let code = match slot {
                Ok(fd) => {
                    fds.push(fd.as_raw_fd());
                    0
                }
                Err(errno) => (*errno).max(1),
            };
            header.extend_from_slice(&code.to_le_bytes());
        }
        let rights = [ControlMessage::ScmRights(&fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
        let iov = [IoSlice::new(&header), IoSlice::new(payload)];
        sendmsg::<()>(self.0.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)?;
        Ok(())
    }
}

impl Receiver {
    /// The `n` slots the child sent (`Err(0)` for each when it sent
    /// nothing: it failed before) and the payload. Called after the child
    /// exited: never blocks.
    pub fn receive(self, n: usize) -> (Vec<Slot>, Vec<u8>) {
        let n = n.min(MAX_SLOTS);
        let mut message = vec![0u8; 4 + MAX_SLOTS * 4 + MAX_PAYLOAD];
        let mut space = nix::cmsg_space!([RawFd; MAX_SLOTS]);
        let mut iov = [IoSliceMut::new(&mut message)];
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC;
        let Ok(msg) = recvmsg::<()>(self.0.as_raw_fd(), &mut iov, Some(&mut space), flags) else {
            return ((0..n).map(|_| Err(0)).collect(), Vec::new());
        };
        let len = msg.bytes;
        let mut fds = Vec::new();
        if let Ok(cmsgs) = msg.cmsgs() {
            for cmsg in cmsgs {
                if let ControlMessageOwned::ScmRights(received) = cmsg {
                    // SAFETY: the kernel just installed these descriptors
                    // in this process; nothing else owns them.
                    fds.extend(received.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
                }
            }
        }
        let word = |i: usize| message.get(i * 4..i * 4 + 4).filter(|_| i * 4 + 4 <= len);
        let as_u32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        let sent = word(0).map_or(0, as_u32) as usize;
        let mut fds = fds.into_iter();
        let slots = (0..n)
            .map(|i| match word(1 + i).filter(|_| i < sent).map(as_u32) {
                Some(0) => fds.next().ok_or(0),
                Some(errno) => Err(errno as i32),
                None => Err(0),
            })
            .collect();
        let payload = message.get(4 + sent.min(MAX_SLOTS) * 4..len).map(<[u8]>::to_vec).unwrap_or_default();
        (slots, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn descriptors_and_errnos_arrive_in_their_slots() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "x").unwrap();
        let (sender, receiver) = channel().unwrap();
        let opened = std::fs::File::open(dir.path()).unwrap();
        sender.send(&[Err(libc::ELOOP), Ok(opened.as_fd())], b"record").unwrap();
        drop(opened);
        let (slots, payload) = receiver.receive(3);
        assert_eq!(payload, b"record");
        let mut slots = slots.into_iter();
        assert_eq!(slots.next().unwrap().unwrap_err(), libc::ELOOP);
        let fd = slots.next().unwrap().unwrap();
        let reopened = nix::fcntl::openat(fd.as_fd(), "f", nix::fcntl::OFlag::O_RDONLY, nix::sys::stat::Mode::empty());
        assert!(reopened.is_ok(), "the received descriptor is the directory");
        assert_eq!(slots.next().unwrap().unwrap_err(), 0, "a slot never sent");
        let (_, nothing_sent) = channel().unwrap();
        let (slots, payload) = nothing_sent.receive(1);
        assert!(slots.into_iter().all(|s| s.unwrap_err() == 0) && payload.is_empty());
    }
}
