//! The approver Lambda as a library, so tests call the handler directly:
//! [`event`] reads raw events, [`handler`] runs the shared reconcile of
//! `privatelink_core::approval`, [`help`] is the `--help` text.

pub mod event;
pub mod handler;
pub mod help;
