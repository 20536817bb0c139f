//! Idle detection for a forwarded connection: [`Watched`] wraps the
//! client's side of a connection and notes when a byte last moved through
//! it (every byte of a forwarded connection crosses the client side, so
//! watching it is enough), and [`Activity::idle`] resolves once nothing
//! moved for a given time. TCP mode ends the copy then; HTTP mode drops the
//! connection (hyper has no idle limit of its own for a request that
//! stalls mid-body, nor for an HTTP/2 connection).

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// When a byte last moved, shared between a [`Watched`] stream and the
/// task that waits for [`Activity::idle`].
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    /// Milliseconds from `started` to the last byte.
    last_ms: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }

    fn touch(&self) {
        self.last_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once no byte has moved for `idle` (checked every quarter
    /// of it, so it resolves between `idle` and 1.25 × `idle` after the
    /// last byte).
    pub async fn idle(&self, idle: Duration) {
        let check = (idle / 4).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(check).await;
            let last = self.started + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            if last.elapsed() >= idle {
                return;
            }
        }
    }
}

/// A stream that records its traffic in an [`Activity`].
pub struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
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
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn idle_waits_for_quiet_and_traffic_postpones_it() {
        let (a, mut b) = tokio::io::duplex(64);
        let activity = Activity::new();
        let mut watched = Watched::new(a, activity.clone());
        let started = Instant::now();
        let idle = activity.clone();
        let waiter = tokio::spawn(async move { idle.idle(Duration::from_secs(10)).await });
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_secs(6)).await;
            watched.write_all(b"x").await.unwrap();
            let mut byte = [0u8];
            b.read_exact(&mut byte).await.unwrap();
        }
        assert!(!waiter.is_finished(), "traffic every 6 s is not idle");
        waiter.await.unwrap();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(28) && took <= Duration::from_secs(31),
            "{took:?}"
        );
    }
}
