//! Progress on stderr while `up` and `down` work and wait: one line per
//! step, and a live "waiting for ..." line that is rewritten in place on a
//! terminal and printed as plain lines (only when it changes) elsewhere.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Where progress goes.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    tty: bool,
    last_wait: Mutex<Option<String>>,
}

impl Progress {
    /// Progress on stderr (rewriting lines when it is a terminal).
    pub fn stderr() -> Progress {
        Progress {
            enabled: true,
            tty: std::io::stderr().is_terminal(),
            last_wait: Mutex::new(None),
        }
    }

    /// No progress output (library callers, tests).
    pub fn silent() -> Progress {
        Progress {
            enabled: false,
            tty: false,
            last_wait: Mutex::new(None),
        }
    }

    fn end_wait_line(&self) {
        if let Ok(mut last) = self.last_wait.lock() {
            if last.take().is_some() && self.tty {
                eprintln!();
            }
        }
    }

    /// A step starts.
    pub fn step(&self, index: usize, total: usize, text: &str) {
        if !self.enabled {
            return;
        }
        self.end_wait_line();
        eprintln!("[{index}/{total}] {text}");
    }

    /// A line of information.
    pub fn note(&self, text: &str) {
        if !self.enabled {
            return;
        }
        self.end_wait_line();
        eprintln!("{text}");
    }

    /// One poll of a wait saw `seen`.
    pub fn waiting(&self, what: &str, seen: &str) {
        if !self.enabled {
            return;
        }
        let line = format!("  waiting for {what}: {seen}");
        let Ok(mut last) = self.last_wait.lock() else {
            return;
        };
        if self.tty {
            eprint!("\r\x1b[2K{line}");
            let _ = std::io::stderr().flush();
            *last = Some(line);
        } else if last.as_deref() != Some(line.as_str()) {
            eprintln!("{line}");
            *last = Some(line);
        }
    }
}
