//! The gateway bench's floor: a process that only copies bytes between a
//! client and the upstream, no PROXY header, no TLS, no identity. What it
//! adds to a round trip is what putting a process in the path costs on
//! the machine before it does any work: two more hand-offs between
//! processes, each a wake-up of a sleeping thread. Two of them, because
//! how a thread sleeps matters on some hosts:
//!
//! - [`Kind::Threads`]: two blocking threads per connection, each asleep
//!   in `read` on its own socket (the least a relay can do);
//! - [`Kind::Tokio`]: `copy_bidirectional` on tokio's multi-threaded
//!   runtime, asleep in `epoll_wait` as the gateway (and HAProxy) are.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};

use anyhow::{bail, Context, Result};

/// How the relay waits for bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Threads,
    Tokio,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Threads => "threads",
            Kind::Tokio => "tokio",
        }
    }
    pub fn parse(name: &str) -> Result<Kind> {
        match name {
            "threads" => Ok(Kind::Threads),
            "tokio" => Ok(Kind::Tokio),
            other => bail!("no relay kind {other:?}: threads or tokio"),
        }
    }
}

/// Serves until the process is killed: every connection to `listen` gets
/// its own connection to `upstream`, and bytes are copied both ways until
/// one side closes.
pub fn serve(kind: Kind, listen: SocketAddr, upstream: SocketAddr) -> Result<()> {
    match kind {
        Kind::Threads => serve_threads(listen, upstream),
        Kind::Tokio => tokio::runtime::Runtime::new()?.block_on(serve_tokio(listen, upstream)),
    }
}

fn serve_threads(listen: SocketAddr, upstream: SocketAddr) -> Result<()> {
    let listener = TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
    for client in listener.incoming() {
        let client = client.context("accepting")?;
        let server =
            TcpStream::connect(upstream).with_context(|| format!("connecting to {upstream}"))?;
        // As the gateway and HAProxy do: a small message goes out at once.
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        let (client_back, server_back) = (client.try_clone()?, server.try_clone()?);
        std::thread::spawn(move || copy(client, server));
        std::thread::spawn(move || copy(server_back, client_back));
    }
    Ok(())
}

/// Copies until `from` ends or either side fails, then ends `to`'s
/// writing. A plain loop rather than `std::io::copy`, so it is one read
/// and one write per message whatever the standard library's fast paths.
fn copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

async fn serve_tokio(listen: SocketAddr, upstream: SocketAddr) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    loop {
        let (mut client, _) = listener.accept().await.context("accepting")?;
        let mut server = tokio::net::TcpStream::connect(upstream)
            .await
            .with_context(|| format!("connecting to {upstream}"))?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}
