//! Free ports on 127.0.0.1 for the processes the tests start (the
//! emulator, the Runtime API emulator, gateways, HAProxy).

use std::net::SocketAddr;

use anyhow::{Context, Result};

/// A free address on 127.0.0.1: bound, then released for a process to
/// bind (which a process started later could in principle take first;
/// the tests start theirs right away).
pub fn free_local_addr() -> Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .context("finding a free port on 127.0.0.1")
}
