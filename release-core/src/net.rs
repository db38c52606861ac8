//! One network policy for every remote call: bounded retries with exponential backoff and
//! jitter, rate limits honoured, and a stall timeout for transfers.
//!
//! What is retried: 5xx answers, connection errors and timeouts, 429, and 403 answers that
//! are rate limits (`x-ratelimit-remaining: 0`, or a secondary limit with `retry-after`).
//! What is not: every other 4xx (401, a permission 403, 404, 422) — those fail at once so
//! that the caller's diagnosis is shown without delay.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::Stream;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::config::NetworkConfig;

/// The longest the policy will wait before one retry; a server asking for longer fails the
/// call with its own words instead of holding the release for an hour.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub struct NetworkPolicy {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// The first backoff; doubled per attempt, with full jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A transfer with no byte moving for this long is aborted (and retried).
    pub stall_timeout: Duration,
    pub upload_concurrency: usize,
}

impl Default for NetworkPolicy {
    fn default() -> Self {
        Self::from(&NetworkConfig::default())
    }
}

impl From<&NetworkConfig> for NetworkPolicy {
    fn from(config: &NetworkConfig) -> Self {
        NetworkPolicy {
            attempts: config.attempts.max(1),
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(config.stall_timeout_secs.max(1)),
            upload_concurrency: config.upload_concurrency.max(1),
        }
    }
}

/// What to do with an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Keep it: success, or a failure that retrying cannot fix.
    Final,
    /// Try again, after at least this long if the server said so.
    Retry { after: Option<Duration> },
}

/// Classifies an HTTP answer by status and headers.
pub fn classify(status: StatusCode, headers: &HeaderMap) -> Verdict {
    let retry_after = retry_after(headers);
    if status.is_server_error() {
        return Verdict::Retry { after: retry_after };
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Verdict::Retry { after: retry_after.or_else(|| ratelimit_reset(headers)) };
    }
    if status == StatusCode::FORBIDDEN {
        let exhausted = header_str(headers, "x-ratelimit-remaining") == Some("0");
        if exhausted {
            return Verdict::Retry { after: retry_after.or_else(|| ratelimit_reset(headers)) };
        }
        if retry_after.is_some() {
            // A secondary rate limit: 403 with retry-after and no permission problem.
            return Verdict::Retry { after: retry_after };
        }
    }
    Verdict::Final
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// `Retry-After` in seconds (the HTTP-date form is rare from these APIs and treated as absent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_str(headers, "retry-after")?.parse::<u64>().ok().map(Duration::from_secs)
}

/// `x-ratelimit-reset` (epoch seconds) as a wait from now.
fn ratelimit_reset(headers: &HeaderMap) -> Option<Duration> {
    let reset = header_str(headers, "x-ratelimit-reset")?.parse::<u64>().ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(reset.saturating_sub(now) + 1))
}

impl NetworkPolicy {
    /// The wait before retry number `attempt` (1-based): full jitter over an exponentially
    /// growing window, or what the server asked for, whichever is longer.
    pub fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let window = self.base_delay.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(self.max_delay);
        let jittered = window.mul_f64(rand::random::<f64>());
        asked.map_or(jittered, |asked| asked.max(jittered))
    }

    /// Sends a request built fresh for every attempt (a streamed body cannot be replayed,
    /// so the closure reopens it), retrying what [`classify`] says to retry.
    ///
    /// Returns the last answer, successful or not, or the last transport error. `on_retry`
    /// is told about each retry (for progress lines).
    pub async fn send<F, Fut>(
        &self,
        mut attempt: F,
        mut on_retry: impl FnMut(u32, &str, Duration),
    ) -> Result<reqwest::Response, reqwest::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
    {
        let mut n = 1;
        loop {
            let result = attempt().await;
            let (verdict, why) = match &result {
                Ok(response) => (classify(response.status(), response.headers()), response.status().to_string()),
                Err(err) if is_transient(err) => (Verdict::Retry { after: None }, transport_reason(err)),
                Err(_) => (Verdict::Final, String::new()),
            };
            match verdict {
                Verdict::Retry { after } if n < self.attempts && after.is_none_or(|a| a <= MAX_WAIT) => {
                    let wait = self.delay(n, after);
                    on_retry(n, &why, wait);
                    tokio::time::sleep(wait).await;
                    n += 1;
                }
                _ => return result,
            }
        }
    }
}

/// Connection errors, timeouts and bodies cut off mid-way are worth another attempt.
pub fn is_transient(err: &reqwest::Error) -> bool {
    err.is_connect() || err.is_timeout() || err.is_request() || err.is_body() || err.is_decode()
}

fn transport_reason(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

/// The error a stalled transfer ends with.
#[derive(Debug, thiserror::Error)]
#[error("no data moved for {0:?}: the transfer stalled")]
pub struct Stalled(pub Duration);

/// Wraps a byte stream so that it fails with [`Stalled`] when no chunk arrives for
/// `timeout`. Used for upload bodies, so that one stalled upload cannot hold a release.
pub fn stall_guard<S, T, E>(inner: S, timeout: Duration) -> StallGuard<S>
where
    S: Stream<Item = Result<T, E>>,
{
    StallGuard { inner, timeout, deadline: Box::pin(tokio::time::sleep(timeout)) }
}

pub struct StallGuard<S> {
    inner: S,
    timeout: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<S> std::fmt::Debug for StallGuard<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StallGuard").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl<S, T, E> Stream for StallGuard<S>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: From<std::io::Error>,
{
    type Item = Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(item) => {
                let next = tokio::time::Instant::now() + this.timeout;
                this.deadline.as_mut().reset(next);
                Poll::Ready(item)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(E::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    Stalled(this.timeout),
                ))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn server_errors_and_rate_limits_are_retried_permission_failures_are_not() {
        let none = HeaderMap::new();
        assert_eq!(classify(StatusCode::BAD_GATEWAY, &none), Verdict::Retry { after: None });
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", "7")])),
            Verdict::Retry { after: Some(Duration::from_secs(7)) }
        );
        assert_eq!(
            classify(StatusCode::FORBIDDEN, &headers(&[("retry-after", "3")])),
            Verdict::Retry { after: Some(Duration::from_secs(3)) }
        );
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "0")])),
            Verdict::Retry { after: Some(_) }
        ));
        for status in
            [StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND, StatusCode::UNPROCESSABLE_ENTITY]
        {
            assert_eq!(classify(status, &headers(&[("x-ratelimit-remaining", "999")])), Verdict::Final, "{status}");
        }
        assert_eq!(classify(StatusCode::CREATED, &none), Verdict::Final);
    }

    #[test]
    fn backoff_grows_stays_bounded_and_honours_the_server() {
        let policy = NetworkPolicy::default();
        for attempt in 1..20 {
            assert!(policy.delay(attempt, None) <= policy.max_delay);
        }
        assert!(policy.delay(1, Some(Duration::from_secs(9))) >= Duration::from_secs(9));
    }

    #[tokio::test]
    async fn a_stream_that_stops_moving_fails_with_stalled() {
        let never = futures_util::stream::pending::<Result<Vec<u8>, std::io::Error>>();
        let chunks = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(vec![1u8])]).chain(never);
        use futures_util::StreamExt;
        let mut guarded = stall_guard(Box::pin(chunks), Duration::from_millis(100));
        assert_eq!(guarded.next().await.unwrap().unwrap(), vec![1]);
        let err = guarded.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("stalled"), "{err}");
    }
}
