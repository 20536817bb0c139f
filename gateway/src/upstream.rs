//! HTTP mode's way to the upstream app for one HTTP/1.1 client connection:
//! its own upstream connection, opened on its first accepted request and
//! driven inside the client connection's task.
//!
//! Why not one pool shared by every client connection (as HTTP/2 clients
//! use, [`crate::http::upstream_client`]):
//!
//! - **Cost.** A pooled request is handed to the upstream connection's own
//!   task and its answer handed back: a pool lookup under a lock, a channel
//!   each way and a wake of another task (often on the other worker
//!   thread) for the request, the head and the body. Here the upstream
//!   connection is polled by the task that serves the client, so those
//!   hand-offs wake nobody else. The gateway's bench measures what this
//!   saves (docs/PERFORMANCE.md, "Gateway").
//! - **Isolation.** An HTTP/1.1 client sends one request at a time, so one
//!   upstream connection per client connection never queues, and two
//!   tenants never share an upstream connection.
//!
//! An upstream connection can close between two requests (the app's
//! keep-alive limit). A request that was not yet written to a connection
//! found closed is sent again, once, on a new one (as the pool does for
//! requests it could not send); one that was written is never sent twice,
//! since it may not be idempotent.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connecting to the upstream {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("upstream HTTP/1.1: {0}")]
    Http(#[from] hyper::Error),
}

type Connection<B> = Pin<Box<http1::Connection<TokioIo<TcpStream>, B>>>;

/// One client connection's upstream: a sender for requests, and the
/// connections it opened, polled by [`Dedicated::drive`]. `B` is the
/// request body (the client's, [`Incoming`]).
pub struct Dedicated<B = Incoming>
where
    B: hyper::body::Body + 'static,
{
    /// `host:port` of the upstream app.
    addr: String,
    state: Mutex<State<B>>,
}

struct State<B>
where
    B: hyper::body::Body + 'static,
{
    /// The current connection's sender; `None` before the first request,
    /// while a request holds it, and after its connection closed.
    sender: Option<http1::SendRequest<B>>,
    /// Every connection still open. One, normally; a connection that
    /// failed stays here until it has wound down.
    connections: Vec<Connection<B>>,
    /// The task polling [`Dedicated::drive`], woken when a connection is
    /// added.
    driver: Option<Waker>,
}

impl<B> Dedicated<B>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    pub fn new(addr: String) -> Arc<Dedicated<B>> {
        Arc::new(Dedicated {
            addr,
            state: Mutex::new(State {
                sender: None,
                connections: Vec::new(),
                driver: None,
            }),
        })
    }

    /// Sends `request` and returns the response head (its body streams from
    /// the connection, which [`Dedicated::drive`] must keep polling).
    pub async fn send(&self, request: Request<B>) -> Result<Response<Incoming>, UpstreamError> {
        let mut request = request;
        let mut fresh = false;
        loop {
            let mut sender = match self.take_sender().await {
                Some(sender) => sender,
                None => {
                    fresh = true;
                    self.connect().await?
                }
            };
            let sent = sender.try_send_request(request);
            self.state().sender = Some(sender);
            match sent.await {
                Ok(response) => return Ok(response),
                Err(mut failed) => match failed.take_message() {
                    // Never written: the connection was found closed. Once
                    // more, on a new connection.
                    Some(unsent) if !fresh => {
                        self.state().sender = None;
                        request = unsent;
                    }
                    _ => return Err(failed.into_error().into()),
                },
            }
        }
    }

    /// The current connection's sender once it can take a request; `None`
    /// when there is no open connection.
    async fn take_sender(&self) -> Option<http1::SendRequest<B>> {
        let mut sender = self.state().sender.take()?;
        // Ready once the previous exchange has ended (its body read to the
        // end); an error: the connection closed.
        sender.ready().await.ok().map(|()| sender)
    }

    async fn connect(&self) -> Result<http1::SendRequest<B>, UpstreamError> {
        let stream =
            TcpStream::connect(&self.addr)
                .await
                .map_err(|source| UpstreamError::Connect {
                    addr: self.addr.clone(),
                    source,
                })?;
        // Requests and answers are small and interactive: no Nagle delay.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        let mut state = self.state();
        state.connections.push(Box::pin(connection));
        if let Some(driver) = state.driver.take() {
            driver.wake();
        }
        Ok(sender)
    }

    /// Closes every connection it opened, for a client connection that
    /// needs none any more (after a WebSocket's `101`, the client's
    /// connection is the tunnel's).
    pub fn close(&self) {
        let mut state = self.state();
        state.sender = None;
        let connections = std::mem::take(&mut state.connections);
        drop(state);
        // Dropping a connection closes its socket.
        drop(connections);
    }

    /// Polls every open connection: this is what moves requests and
    /// answers. Never ends; run it beside the client connection and drop it
    /// with it (which closes the upstream connections).
    pub fn drive(self: Arc<Self>) -> impl Future<Output = ()> {
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            let mut state = self.state();
            state
                .connections
                .retain_mut(|connection| match connection.as_mut().poll(cx) {
                    Poll::Pending => true,
                    Poll::Ready(Ok(())) => false,
                    Poll::Ready(Err(e)) => {
                        tracing::debug!(error = %e, "upstream connection ended with an error");
                        false
                    }
                });
            // The same task polls every time: keep its waker, no clone.
            if !state
                .driver
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                state.driver = Some(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State<B>> {
        // Nothing panics while holding it; a poisoned lock is still sound.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// An HTTP/1.1 app on 127.0.0.1 that answers `ok` to every request and,
    /// when `close_after_answer`, closes the connection after each answer
    /// (as an app whose keep-alive ran out). Counts the connections it
    /// accepted.
    async fn app(close_after_answer: bool) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    loop {
                        let Ok(n) = s.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        head.extend_from_slice(&buf[..n]);
                        while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                            head.drain(..end + 4);
                            let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if s.write_all(answer).await.is_err() || close_after_answer {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    fn get(addr: &str) -> Request<Empty<Bytes>> {
        Request::get("/")
            .header(hyper::header::HOST, addr)
            .body(Empty::new())
            .unwrap()
    }

    /// A dedicated upstream for `addr`, driven by a task of its own (the
    /// gateway drives it in the client connection's task).
    fn driven(addr: &str) -> (Arc<Dedicated<Empty<Bytes>>>, tokio::task::JoinHandle<()>) {
        let dedicated = Dedicated::new(addr.to_string());
        let driver = tokio::spawn(dedicated.clone().drive());
        (dedicated, driver)
    }

    async fn body(dedicated: &Dedicated<Empty<Bytes>>, addr: &str) -> Result<Bytes, UpstreamError> {
        let response = dedicated.send(get(addr)).await?;
        Ok(response.into_body().collect().await?.to_bytes())
    }

    #[tokio::test]
    async fn requests_one_after_another_share_one_upstream_connection() {
        let (addr, accepted) = app(false).await;
        let (dedicated, driver) = driven(&addr);
        for _ in 0..5 {
            assert_eq!(body(&dedicated, &addr).await.unwrap(), "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        driver.abort();
    }

    #[tokio::test]
    async fn a_connection_the_app_closed_is_replaced() {
        let (addr, accepted) = app(true).await;
        let (dedicated, driver) = driven(&addr);
        for _ in 0..3 {
            assert_eq!(body(&dedicated, &addr).await.unwrap(), "ok");
            // Time for the close to arrive, as between a client's requests.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
        driver.abort();
    }

    #[tokio::test]
    async fn close_ends_the_connection_it_opened() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (dedicated, driver) = driven(&addr);
        let sent = tokio::spawn({
            let (dedicated, addr) = (dedicated.clone(), addr.clone());
            async move { body(&dedicated, &addr).await }
        });
        let (mut app, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        assert!(app.read(&mut buf).await.unwrap() > 0);
        app.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .await
            .unwrap();
        assert_eq!(sent.await.unwrap().unwrap(), "ok");
        dedicated.close();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), app.read(&mut buf))
            .await
            .expect("closed within 5 s");
        assert_eq!(read.unwrap(), 0);
        driver.abort();
    }

    #[tokio::test]
    async fn an_app_that_is_down_is_an_error_that_names_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let (dedicated, driver) = driven(&addr);
        let error = body(&dedicated, &addr).await.unwrap_err();
        assert!(
            matches!(&error, UpstreamError::Connect { addr: a, .. } if *a == addr),
            "{error}"
        );
        driver.abort();
    }
}
