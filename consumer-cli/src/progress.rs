//! The shared progress reporter (`privatelink_core::cli::progress`): one
//! rewritten status line per wait on a terminal, timestamped plain lines
//! elsewhere.

pub use privatelink_core::cli::progress::{plain_line, Progress};
