//! Progress on stderr while `up` and `down` work and wait: the shared
//! reporter (`privatelink_core::cli::progress`), one line per step and a
//! live "waiting for ..." line.

pub use privatelink_core::cli::progress::Progress;
