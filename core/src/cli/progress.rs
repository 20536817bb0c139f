//! Progress on stderr (stdout stays clean for `--output json`), the one
//! reporter of both CLIs. A wait shows one status line, rewritten in place
//! on a terminal and printed as plain lines (only when it changes)
//! elsewhere, so logs and CI output stay readable; steps and notes are
//! lines of their own and end a status line first.
//!
//! Two vocabularies over the same state: `step`/`note`/`waiting` (the
//! provider's numbered plan steps and the waits inside them), and
//! `update`/`finish`/`line` (the consumer's single long wait, with the
//! elapsed time on every line).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Default)]
struct State {
    /// The status line last shown (to print plain lines only on change).
    last: Option<String>,
    /// Whether a status line is on screen and must be ended first.
    open: bool,
    ticks: usize,
}

/// A progress reporter.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    tty: bool,
    started: Instant,
    state: Mutex<State>,
    /// Put before every line (`[eu-west-1] `), when several regions report
    /// at once.
    prefix: String,
}

impl Progress {
    /// Progress on stderr, as a rewritten status line if it is a terminal.
    pub fn stderr() -> Progress {
        Progress::new(std::io::stderr().is_terminal())
    }

    /// Progress on stderr; `tty` chooses rewritten or plain lines.
    pub fn new(tty: bool) -> Progress {
        Progress {
            enabled: true,
            tty,
            started: Instant::now(),
            state: Mutex::new(State::default()),
            prefix: String::new(),
        }
    }

    /// Plain lines on stderr, each starting with `[label] `: one of several
    /// reporters working at once (one per region), whose lines interleave,
    /// so none rewrites a status line.
    pub fn labelled(&self, label: &str) -> Progress {
        Progress {
            enabled: self.enabled,
            prefix: format!("[{label}] "),
            ..Progress::new(false)
        }
    }

    /// No output at all (library callers, tests).
    pub fn silent() -> Progress {
        Progress {
            enabled: false,
            ..Progress::new(false)
        }
    }

    fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Runs `f` with the state and stderr, when enabled.
    fn with(&self, f: impl FnOnce(&mut State, &mut std::io::StderrLock<'_>)) {
        if !self.enabled {
            return;
        }
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let mut err = std::io::stderr().lock();
        f(&mut state, &mut err);
        let _ = err.flush();
    }

    /// Ends a status line on screen, so the next line starts clean.
    fn close(&self, state: &mut State, err: &mut std::io::StderrLock<'_>) {
        if std::mem::take(&mut state.open) && self.tty {
            let _ = writeln!(err);
        }
    }

    /// A plan step starts: `[3/12] text`.
    pub fn step(&self, index: usize, total: usize, text: &str) {
        self.with(|state, err| {
            self.close(state, err);
            state.last = None;
            let _ = writeln!(err, "{}[{index}/{total}] {text}", self.prefix);
        });
    }

    /// A line of information.
    pub fn note(&self, text: &str) {
        self.with(|state, err| {
            self.close(state, err);
            state.last = None;
            let _ = writeln!(err, "{}{text}", self.prefix);
        });
    }

    /// One poll of a wait inside a step saw `seen`.
    pub fn waiting(&self, what: &str, seen: &str) {
        let line = format!("{}  waiting for {what}: {seen}", self.prefix);
        self.with(|state, err| {
            if self.tty {
                let _ = write!(err, "\r\x1b[2K{line}");
                state.open = true;
            } else if state.last.as_deref() != Some(line.as_str()) {
                let _ = writeln!(err, "{line}");
            }
            state.last = Some(line);
        });
    }

    /// The current state of a long wait (called on every poll), with a
    /// spinner and the elapsed time.
    pub fn update(&self, message: &str) {
        let elapsed = self.elapsed();
        self.with(|state, err| {
            if self.tty {
                const SPINNER: [char; 4] = ['|', '/', '-', '\\'];
                state.ticks += 1;
                let _ = write!(
                    err,
                    "\r\x1b[2K{} {message} ({elapsed:.0}s)",
                    SPINNER[state.ticks % SPINNER.len()]
                );
                state.open = true;
            } else if state.last.as_deref() != Some(message) {
                let _ = writeln!(err, "{}{}", self.prefix, plain_line(elapsed, message));
            }
            state.last = Some(message.to_string());
        });
    }

    /// Ends a long wait's status line with a final message.
    pub fn finish(&self, message: &str) {
        let elapsed = self.elapsed();
        self.with(|state, err| {
            if self.tty {
                let _ = writeln!(err, "\r\x1b[2K{message} ({elapsed:.1}s)");
            } else if state.last.as_deref() != Some(message) {
                let _ = writeln!(err, "{}{}", self.prefix, plain_line(elapsed, message));
            }
            state.open = false;
            state.last = Some(message.to_string());
        });
    }

    /// A one-off line with the elapsed time (a step of a long wait done).
    pub fn line(&self, message: &str) {
        let elapsed = self.elapsed();
        self.with(|state, err| {
            self.close(state, err);
            let _ = writeln!(err, "{}{}", self.prefix, plain_line(elapsed, message));
            state.last = Some(message.to_string());
        });
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

    #[test]
    fn a_silent_reporter_keeps_no_state() {
        let p = Progress::silent();
        p.waiting("x", "y");
        p.update("z");
        assert!(p.state.lock().unwrap().last.is_none());
    }
}
