//! The one poller for AWS states that have no SDK waiter (endpoint
//! acceptance, connection states): a deadline plus capped exponential
//! backoff, and a timeout that is reported as such, never confused with an
//! API error.

use std::future::Future;
use std::time::{Duration, Instant};

/// How to poll: first delay, growth, cap, and overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    pub timeout: Duration,
}

impl Backoff {
    /// A poll schedule that gives up after `timeout`.
    pub fn with_timeout(timeout: Duration) -> Self {
        Backoff {
            first: Duration::from_millis(200),
            max: Duration::from_secs(5),
            timeout,
        }
    }

    /// The delay before poll number `attempt` (0-based): doubles, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// What one poll found.
#[derive(Debug)]
pub enum Poll<T> {
    /// The wait is over, with this result.
    Ready(T),
    /// Not yet; the string says what was seen (for progress and timeouts).
    NotYet(String),
}

/// Why a wait ended without a result.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<E> {
    #[error("timed out after {waited:?} waiting for {what} (last seen: {last_seen})")]
    TimedOut {
        what: String,
        waited: Duration,
        last_seen: String,
    },
    #[error(transparent)]
    Failed(E),
}

/// Polls `probe` until it is ready, fails, or the deadline passes. `on_poll`
/// sees every intermediate observation (for progress output).
pub async fn until<T, E, F, Fut>(
    what: &str,
    backoff: Backoff,
    mut probe: F,
    mut on_poll: impl FnMut(&str),
) -> Result<T, WaitError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, E>>,
{
    let started = Instant::now();
    let mut attempt = 0;
    loop {
        match probe().await.map_err(WaitError::Failed)? {
            Poll::Ready(value) => return Ok(value),
            Poll::NotYet(seen) => {
                on_poll(&seen);
                let waited = started.elapsed();
                if waited >= backoff.timeout {
                    return Err(WaitError::TimedOut {
                        what: what.to_string(),
                        waited,
                        last_seen: seen,
                    });
                }
                let remaining = backoff.timeout - waited;
                tokio::time::sleep(backoff.delay(attempt).min(remaining)).await;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_and_is_capped() {
        let b = Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_millis(700),
            timeout: Duration::from_secs(1),
        };
        let delays: Vec<_> = (0..5).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 700, 700]);
        assert_eq!(b.delay(u32::MAX), Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn returns_the_ready_value_after_intermediate_states() {
        let mut seen = Vec::new();
        let mut polls = 0;
        let result: Result<&str, WaitError<()>> = until(
            "the endpoint",
            Backoff::with_timeout(Duration::from_secs(60)),
            || {
                polls += 1;
                let n = polls;
                async move {
                    Ok(if n < 3 {
                        Poll::NotYet(format!("poll {n}"))
                    } else {
                        Poll::Ready("available")
                    })
                }
            },
            |s| seen.push(s.to_string()),
        )
        .await;
        assert_eq!(result.unwrap(), "available");
        assert_eq!(seen, ["poll 1", "poll 2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_is_distinct_and_names_the_last_state() {
        let result: Result<(), WaitError<String>> = until(
            "acceptance",
            Backoff::with_timeout(Duration::from_secs(3)),
            || async { Ok(Poll::NotYet("pendingAcceptance".into())) },
            |_| {},
        )
        .await;
        match result {
            Err(WaitError::TimedOut {
                what, last_seen, ..
            }) => {
                assert_eq!(what, "acceptance");
                assert_eq!(last_seen, "pendingAcceptance");
            }
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn api_errors_end_the_wait_at_once() {
        let mut polls = 0;
        let result: Result<(), WaitError<&str>> = until(
            "x",
            Backoff::with_timeout(Duration::from_secs(60)),
            || {
                polls += 1;
                async { Err("AccessDenied") }
            },
            |_| {},
        )
        .await;
        assert!(matches!(result, Err(WaitError::Failed("AccessDenied"))));
        assert_eq!(polls, 1);
    }
}
