//! How the wait for a job shows itself: on a terminal, one line that is
//! rewritten in place (with the time waited so far); otherwise, as in a log
//! file or a CI job, one plain line per change.

use std::io::Write;
use std::time::Duration;

/// Erase the line and go back to its start.
const REWRITE: &str = "\r\x1b[2K";

#[derive(Debug)]
pub struct Progress<W: Write> {
    out: W,
    /// Rewrite one line in place (a terminal) rather than print lines.
    in_place: bool,
    /// Columns of the terminal; a longer in-place line would wrap and no
    /// longer be rewritable.
    width: usize,
    /// The latest change, for redrawing with a new time.
    current: Option<String>,
}

impl<W: Write> Progress<W> {
    pub fn new(out: W, in_place: bool, width: usize) -> Self {
        Progress { out, in_place, width: width.max(20), current: None }
    }

    /// Shows a change. Write errors are ignored: the wait does not depend on
    /// being able to show it.
    pub fn change(&mut self, line: &str, waited: Duration) {
        self.current = Some(line.to_owned());
        match self.in_place {
            true => self.redraw(waited),
            false => {
                let _ = writeln!(self.out, "submit: {line}");
            }
        }
    }

    /// Updates the time waited on the in-place line; nothing on plain lines.
    pub fn tick(&mut self, waited: Duration) {
        if self.in_place && self.current.is_some() {
            self.redraw(waited);
        }
    }

    /// Ends the in-place line so that what follows starts on a new one.
    pub fn finish(&mut self) {
        if self.in_place && self.current.take().is_some() {
            let _ = writeln!(self.out);
        }
    }

    fn redraw(&mut self, waited: Duration) {
        let secs = waited.as_secs();
        let text = format!("submit: [{}:{:02}] {}", secs / 60, secs % 60, self.current.as_deref().unwrap_or_default());
        let shown: String = match text.chars().count() > self.width - 1 {
            true => text.chars().take(self.width - 2).chain(std::iter::once('…')).collect(),
            false => text,
        };
        let _ = write!(self.out, "{REWRITE}{shown}");
        let _ = self.out.flush();
    }
}

/// The columns of the terminal on `fd`, if it is one.
pub fn terminal_width(fd: libc::c_int) -> Option<usize> {
    // SAFETY: an all-zero winsize is a valid value of this plain C struct.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the live local `size`.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(p: &Progress<Vec<u8>>) -> String {
        String::from_utf8_lossy(&p.out).into_owned()
    }

    #[test]
    fn plain_output_is_one_line_per_change_and_no_ticks() {
        let mut p = Progress::new(Vec::new(), false, 80);
        p.change("j-0-0: Pending", Duration::from_secs(1));
        p.tick(Duration::from_secs(2));
        p.change("j-0-0: Running on n1", Duration::from_secs(3));
        p.finish();
        assert_eq!(shown(&p), "submit: j-0-0: Pending\nsubmit: j-0-0: Running on n1\n");
    }

    #[test]
    fn a_terminal_gets_one_line_rewritten_in_place_and_cut_to_its_width() {
        let mut p = Progress::new(Vec::new(), true, 30);
        p.change("j-0-0: Pending", Duration::from_secs(5));
        p.tick(Duration::from_secs(65));
        p.change("j-0-0: Pending, waiting for a node: 0/12 nodes", Duration::from_secs(66));
        p.finish();
        assert_eq!(
            shown(&p),
            "\r\x1b[2Ksubmit: [0:05] j-0-0: Pending\r\x1b[2Ksubmit: [1:05] j-0-0: Pending\
             \r\x1b[2Ksubmit: [1:06] j-0-0: Pendin…\n"
        );
    }
}
