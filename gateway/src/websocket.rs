//! WebSocket through HTTP mode (RFC 6455 §4 over HTTP/1.1's `Upgrade`,
//! RFC 9110 §7.8). `Connection` and `Upgrade` are hop-by-hop, so
//! [`crate::headers`] removes them from every request; a WebSocket
//! handshake gets them back (`Connection: upgrade`, `Upgrade: websocket`
//! and nothing else) after the gateway's identity headers are set, so the
//! app knows the tenant of the socket exactly as it knows a request's.
//!
//! The handshake goes to the app on a connection of its own: after the
//! app's `101` that connection and the client's are the two ends of a
//! [`Tunnel`], which copies bytes both ways until either end closes, in
//! the client connection's task (so the connection limit, the idle timeout
//! and the drain on SIGTERM cover it). Only `websocket` is passed on:
//! another protocol (`h2c`, say) is answered by the app as a plain
//! request, as before. HTTP/2 clients cannot ask (the gateway does not
//! offer RFC 8441's extended `CONNECT`); they open their WebSocket on an
//! HTTP/1.1 connection.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper::{HeaderMap, Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The only protocol a client may switch to through the gateway.
const WEBSOCKET: &str = "websocket";

/// Whether a request is a WebSocket opening handshake (RFC 6455 §4.1):
/// `GET` in HTTP/1.1, `Connection` naming `upgrade` and `Upgrade` naming
/// `websocket` (tokens, in any case). Read before the hop's headers are
/// removed.
pub fn is_handshake(method: &Method, version: Version, headers: &HeaderMap) -> bool {
    method == Method::GET
        && version == Version::HTTP_11
        && names(headers, CONNECTION, "upgrade")
        && names(headers, UPGRADE, WEBSOCKET)
}

/// Whether an app's answer accepts the switch: `101` with `Upgrade`
/// naming `websocket`. Another `101` is not passed on.
pub fn is_accepted(status: StatusCode, headers: &HeaderMap) -> bool {
    status == StatusCode::SWITCHING_PROTOCOLS && names(headers, UPGRADE, WEBSOCKET)
}

/// Puts the switch back on a handshake (or its `101`) for the next hop,
/// after the hop's own headers were removed: these two values only, so
/// nothing a client named in `Connection` travels on with them.
pub fn ask_for_switch(headers: &mut HeaderMap) {
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static(WEBSOCKET));
}

/// Whether a comma-separated list header names `token` (case-insensitive).
fn names(headers: &HeaderMap, name: hyper::header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(|list| list.as_bytes().split(|&b| b == b','))
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Sends a handshake to the app at `addr` on a new connection, which
/// becomes the app's end of the tunnel if the app answers `101`. Not the
/// client connection's kept-alive upstream connection: that one goes on
/// serving plain requests if the app says no.
pub async fn send(addr: &str, request: Request<Incoming>) -> Result<Response<Incoming>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    // Ends when it hands its stream to the tunnel, or with the answer's
    // body when the app says no.
    tokio::spawn(async move {
        if let Err(e) = connection.with_upgrades().await {
            tracing::debug!(error = %e, "WebSocket handshake connection to the upstream failed");
        }
    });
    sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())
}

/// The two ends of an accepted WebSocket, once hyper hands them over (the
/// client's after the `101` is written to it, the app's after it is read).
pub struct Tunnel {
    client: OnUpgrade,
    upstream: OnUpgrade,
}

/// Bytes a tunnel has carried each way, counted as they go, so a tunnel
/// ended by a timeout or a drain still says how much it carried.
#[derive(Debug, Default)]
pub struct Carried {
    from_client: AtomicU64,
    to_client: AtomicU64,
}

impl Carried {
    /// (from the client, to the client) so far.
    pub fn so_far(&self) -> (u64, u64) {
        (
            self.from_client.load(Ordering::Relaxed),
            self.to_client.load(Ordering::Relaxed),
        )
    }
}

impl Tunnel {
    pub fn new(client: OnUpgrade, upstream: OnUpgrade) -> Tunnel {
        Tunnel { client, upstream }
    }

    /// Copies both ways until both ends have closed (an end that closes
    /// has its close passed on), or either fails, counting into `carried`.
    pub async fn run(self, carried: &Carried) -> Result<(), String> {
        let (client, upstream) = tokio::try_join!(self.client, self.upstream)
            .map_err(|e| format!("the switch did not complete: {e}"))?;
        let mut client = Counted {
            inner: TokioIo::new(client),
            carried,
        };
        let mut upstream = TokioIo::new(upstream);
        tokio::io::copy_bidirectional(&mut client, &mut upstream)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The client's end of a tunnel: what is read from it came from the
/// client, what is written to it goes to the client.
struct Counted<'a, T> {
    inner: T,
    carried: &'a Carried,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<'_, T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.carried.from_client.fetch_add(n, Ordering::Relaxed);
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<'_, T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = written {
            self.carried
                .to_client
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        written
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::tests::headers;

    #[test]
    fn a_handshake_is_a_get_in_http_1_1_naming_upgrade_and_websocket() {
        let asks = headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
        ]);
        assert!(is_handshake(&Method::GET, Version::HTTP_11, &asks));
        // Each condition alone is not enough.
        assert!(!is_handshake(&Method::POST, Version::HTTP_11, &asks));
        assert!(!is_handshake(&Method::GET, Version::HTTP_10, &asks));
        assert!(!is_handshake(&Method::GET, Version::HTTP_2, &asks));
        let no_connection = headers(&[("upgrade", "websocket")]);
        assert!(!is_handshake(
            &Method::GET,
            Version::HTTP_11,
            &no_connection
        ));
        let other = headers(&[("connection", "upgrade"), ("upgrade", "h2c")]);
        assert!(!is_handshake(&Method::GET, Version::HTTP_11, &other));
        // A token, not a substring.
        let near = headers(&[("connection", "upgraded"), ("upgrade", "websocket2")]);
        assert!(!is_handshake(&Method::GET, Version::HTTP_11, &near));
    }

    #[test]
    fn only_a_101_to_websocket_is_accepted() {
        let to_websocket = headers(&[("upgrade", "websocket")]);
        assert!(is_accepted(StatusCode::SWITCHING_PROTOCOLS, &to_websocket));
        assert!(!is_accepted(StatusCode::OK, &to_websocket));
        let to_other = headers(&[("upgrade", "h2c")]);
        assert!(!is_accepted(StatusCode::SWITCHING_PROTOCOLS, &to_other));
    }

    #[test]
    fn the_switch_is_asked_with_these_two_values_only() {
        let mut h = headers(&[("connection", "x-privatelink-tenant, upgrade")]);
        ask_for_switch(&mut h);
        assert_eq!(h.get_all(CONNECTION).iter().count(), 1);
        assert_eq!(h[CONNECTION], "upgrade");
        assert_eq!(h[UPGRADE], "websocket");
    }
}
