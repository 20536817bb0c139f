//! Progress of long waits on stderr (stdout stays clean for `--output
//! json`): one rewritten status line with a spinner and the elapsed time on
//! a terminal, plain timestamped lines (only when something changes)
//! elsewhere, so logs and CI output stay readable.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// A progress reporter for one wait.
#[derive(Debug)]
pub struct Progress {
    tty: bool,
    started: Instant,
    last: Option<String>,
    ticks: usize,
}

impl Progress {
    /// A reporter that draws on stderr, as a status line if it is a terminal.
    pub fn stderr() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    pub fn new(tty: bool) -> Progress {
        Progress {
            tty,
            started: Instant::now(),
            last: None,
            ticks: 0,
        }
    }

    /// Shows the current state (called on every poll).
    pub fn update(&mut self, message: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        if self.tty {
            const SPINNER: [char; 4] = ['|', '/', '-', '\\'];
            self.ticks += 1;
            let _ = write!(
                err,
                "\r\x1b[2K{} {message} ({elapsed:.0}s)",
                SPINNER[self.ticks % SPINNER.len()]
            );
            let _ = err.flush();
        } else if self.last.as_deref() != Some(message) {
            let _ = writeln!(err, "{}", plain_line(elapsed, message));
        }
        self.last = Some(message.to_string());
    }

    /// Ends the status line with a final message.
    pub fn finish(&mut self, message: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = writeln!(err, "\r\x1b[2K{message} ({elapsed:.1}s)");
        } else if self.last.as_deref() != Some(message) {
            let _ = writeln!(err, "{}", plain_line(elapsed, message));
        }
        self.last = Some(message.to_string());
    }

    /// A one-off line (a step done), in the same format.
    pub fn line(&mut self, message: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let _ = writeln!(std::io::stderr().lock(), "{}", plain_line(elapsed, message));
        self.last = Some(message.to_string());
    }
}

/// `[   1.2s] message`
pub fn plain_line(elapsed_secs: f64, message: &str) -> String {
    format!("[{elapsed_secs:6.1}s] {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lines_carry_elapsed_time() {
        assert_eq!(
            plain_line(2.04, "endpoint vpce-1: pending"),
            "[   2.0s] endpoint vpce-1: pending"
        );
    }
}
