//! One network policy for every remote call: bounded retries with exponential backoff and
//! jitter, rate limits honoured, and a stall timeout for transfers.
//!
//! What is retried: 5xx answers, connection errors and timeouts, stalled transfers, 429, and
//! 403 answers that are rate limits (`x-ratelimit-remaining: 0`, or a secondary limit with
//! `retry-after`). What is not: every other 4xx (401, a permission 403, 404, 422) — those
//! fail at once so that the caller's diagnosis is shown without delay.
//!
//! Three tools, used by every client in the crate:
//! - [`NetworkPolicy::retry`]: runs one operation up to `attempts` times. The operation is told
//!   its attempt number, so that a mutating call can re-check the remote state before it tries
//!   again (an upload whose answer was lost may have completed);
//! - [`watch`] with an [`Activity`]: fails a transfer with [`Stalled`] when no byte moved for
//!   the stall timeout, whether the body stopped flowing or the server stopped answering;
//! - [`classify`]: what an HTTP answer means for retrying;
//! - [`Pacer`]: spaces out the starts of mutating requests (GitHub asks for about a second
//!   between POST, PATCH, PUT and DELETE requests of one token).
//!
//! This module never reports anything itself: each retry is handed to the caller as a
//! [`RetryNotice`], and the step turns it into a warning event.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::Stream;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::config::NetworkConfig;

/// The longest the policy will wait before one retry; a server asking for longer fails the
/// call with its own words instead of holding the release for an hour.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(120);

#[derive(Clone, Debug)]
pub(crate) struct NetworkPolicy {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// The first backoff; doubled per attempt, with full jitter.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A transfer with no byte moving for this long is aborted (and retried).
    pub stall_timeout: Duration,
    pub upload_concurrency: usize,
    /// The least time between the starts of two mutating GitHub requests (see [`Pacer`]).
    pub mutation_interval: Duration,
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
            base_delay: Duration::from_millis(config.backoff_ms),
            max_delay: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(config.stall_timeout_secs.max(1)),
            upload_concurrency: config.upload_concurrency.max(1),
            mutation_interval: Duration::from_millis(config.github_mutation_interval_ms),
        }
    }
}

/// What to do with an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep it: success, or a failure that retrying cannot fix.
    Final,
    /// Try again, after at least this long if the server said so.
    Retry { after: Option<Duration> },
}

/// Classifies an HTTP answer by status and headers.
pub(crate) fn classify(status: StatusCode, headers: &HeaderMap) -> Verdict {
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

/// `Retry-After` in seconds, or as an HTTP-date (the crate registry's form), as a wait from now.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = header_str(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default() + Duration::from_secs(1))
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
    pub(crate) fn delay(&self, attempt: u32, asked: Option<Duration>) -> Duration {
        let window = self.base_delay.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(self.max_delay);
        let jittered = window.mul_f64(rand::random::<f64>());
        asked.map_or(jittered, |asked| asked.max(jittered))
    }

    /// Runs `operation` until it succeeds, fails for good, or the attempts are used up.
    ///
    /// `operation` gets the attempt number (1-based): from the second attempt on, a mutating
    /// call should first look at what the failed attempt left on the server. Each retry is
    /// announced to `on_retry` before the wait. A wait the server asks for that is longer
    /// than [`MAX_WAIT`] is not waited out: the failure is returned at once.
    pub(crate) async fn retry<T, E, F, Fut>(
        &self,
        what: &str,
        mut operation: F,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<T, GaveUp<E>>
    where
        E: Retryable,
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 1;
        loop {
            let error = match operation(attempt).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            match error.verdict() {
                Verdict::Retry { after } if attempt < self.attempts && after.is_none_or(|a| a <= MAX_WAIT) => {
                    let wait = self.delay(attempt, after);
                    on_retry(&RetryNotice {
                        what: what.to_owned(),
                        reason: error.reason(),
                        next_attempt: attempt + 1,
                        attempts: self.attempts,
                        wait,
                        asked_by_server: after.is_some(),
                    });
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(GaveUp { error, attempts: attempt }),
            }
        }
    }

    /// Sends a request built fresh for every attempt (a streamed body cannot be replayed,
    /// so the closure reopens it), retrying what [`classify`] says to retry.
    ///
    /// Returns the last answer, successful or not, or the last transport error. `on_retry`
    /// is told about each retry.
    pub(crate) async fn send<F, Fut>(
        &self,
        what: &str,
        mut attempt: F,
        on_retry: &(dyn Fn(&RetryNotice) + Send + Sync),
    ) -> Result<reqwest::Response, reqwest::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<reqwest::Response, reqwest::Error>>,
    {
        let outcome = self
            .retry(
                what,
                |_| {
                    let sent = attempt();
                    async move {
                        match sent.await {
                            Ok(response) => match classify(response.status(), response.headers()) {
                                Verdict::Final => Ok(response),
                                retry => Err(SendFailure::Answer(response, retry)),
                            },
                            Err(err) => Err(SendFailure::Transport(err)),
                        }
                    }
                },
                on_retry,
            )
            .await;
        match outcome {
            Ok(response) => Ok(response),
            Err(GaveUp { error: SendFailure::Answer(response, _), .. }) => Ok(response),
            Err(GaveUp { error: SendFailure::Transport(err), .. }) => Err(err),
        }
    }
}

/// A failed attempt of [`NetworkPolicy::send`].
enum SendFailure {
    /// An answer worth retrying (5xx, 429, a rate-limit 403).
    Answer(reqwest::Response, Verdict),
    Transport(reqwest::Error),
}

impl Retryable for SendFailure {
    fn verdict(&self) -> Verdict {
        match self {
            SendFailure::Answer(_, verdict) => *verdict,
            SendFailure::Transport(err) if is_transient(err) => Verdict::Retry { after: None },
            SendFailure::Transport(_) => Verdict::Final,
        }
    }

    fn reason(&self) -> String {
        match self {
            SendFailure::Answer(response, _) => response.status().to_string(),
            SendFailure::Transport(err) => root_cause(err),
        }
    }
}

/// A failure the policy can judge.
pub(crate) trait Retryable {
    /// Whether another attempt may succeed, and after how long at least.
    fn verdict(&self) -> Verdict;
    /// A few words for the retry notice: `502 Bad Gateway`, `connection reset by peer`.
    fn reason(&self) -> String;
}

/// The failure [`NetworkPolicy::retry`] ended with, and how many attempts were made.
#[derive(Debug)]
pub(crate) struct GaveUp<E> {
    pub error: E,
    pub attempts: u32,
}

/// One retry, announced before its wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RetryNotice {
    /// What is retried: `the upload of app.tar.gz`, `POST https://…/releases`.
    pub what: String,
    /// Why: the status or transport error of the failed attempt.
    pub reason: String,
    /// The attempt about to be made (2 for the first retry).
    pub next_attempt: u32,
    pub attempts: u32,
    pub wait: Duration,
    /// The wait honours the server's `Retry-After` or rate-limit reset.
    pub asked_by_server: bool,
}

impl fmt::Display for RetryNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "retrying {} after {} (attempt {}/{}) in {:.1}s",
            self.what,
            self.reason,
            self.next_attempt,
            self.attempts,
            self.wait.as_secs_f64()
        )?;
        if self.asked_by_server { f.write_str(", as the server asked") } else { Ok(()) }
    }
}

/// A retry announcer that ignores every notice.
pub(crate) fn ignore_retries(_: &RetryNotice) {}

/// Who hears about a retry before it waits: a step's context (as a warning of the step), or
/// any closure.
pub(crate) trait RetryListener: Send + Sync {
    fn retrying(&self, notice: &RetryNotice);
}

impl<F: Fn(&RetryNotice) + Send + Sync> RetryListener for F {
    fn retrying(&self, notice: &RetryNotice) {
        self(notice)
    }
}

/// When a transfer last moved: touched for every chunk of a body sent or received.
#[derive(Clone, Debug)]
pub(crate) struct Activity(Arc<Mutex<tokio::time::Instant>>);

impl Default for Activity {
    fn default() -> Self {
        Activity(Arc::new(Mutex::new(tokio::time::Instant::now())))
    }
}

impl Activity {
    /// Starts counting now.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn touch(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = tokio::time::Instant::now();
    }

    fn last(&self) -> tokio::time::Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `transfer` and fails with [`Stalled`] as soon as `activity` was not touched for
/// `timeout`: a body that stopped flowing (the server stopped reading, so the connection
/// stopped taking bytes) and a server that never answers end alike. The transfer is
/// dropped, which closes its connection.
pub(crate) async fn watch<F: Future>(
    activity: &Activity,
    timeout: Duration,
    transfer: F,
) -> Result<F::Output, Stalled> {
    let mut transfer = std::pin::pin!(transfer);
    loop {
        let deadline = activity.last() + timeout;
        tokio::select! {
            biased;
            output = &mut transfer => return Ok(output),
            () = tokio::time::sleep_until(deadline) => {
                if activity.last() + timeout <= tokio::time::Instant::now() {
                    return Err(Stalled(timeout));
                }
            }
        }
    }
}

/// Spaces out mutating requests: each [`Pacer::pace`] returns no earlier than `interval`
/// after the previous one returned, so that requests start at least `interval` apart
/// (start to start; the requests themselves may overlap, as concurrent uploads do).
///
/// Waiters are served in the order they arrived: each books the next free slot at once and
/// then sleeps until it, so no lock is held across the wait and a caller that gives up
/// (its future dropped) only leaves a gap. An interval of zero never waits.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    /// The earliest start of the next request; `None` before the first.
    next: Mutex<Option<tokio::time::Instant>>,
}

impl Pacer {
    pub(crate) fn new(interval: Duration) -> Self {
        Pacer { interval, next: Mutex::new(None) }
    }

    #[cfg(test)]
    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for this request's turn. Call it right before sending each mutating request
    /// (every attempt: a retry is a request too).
    pub(crate) async fn pace(&self) {
        if self.interval.is_zero() {
            return;
        }
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = tokio::time::Instant::now();
            let slot = next.map_or(now, |at| at.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Connection errors, timeouts and bodies cut off mid-way are worth another attempt.
pub(crate) fn is_transient(err: &reqwest::Error) -> bool {
    err.is_connect() || err.is_timeout() || err.is_request() || err.is_body() || err.is_decode()
}

/// The innermost cause of an error, the words that say what happened: "Connection reset by
/// peer (os error 104)", "operation timed out".
pub(crate) fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = err;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// The error a stalled transfer ends with.
#[derive(Debug, thiserror::Error)]
#[error("the transfer stalled: no data moved for {0:?}")]
pub(crate) struct Stalled(pub Duration);

/// Wraps a byte stream so that it fails with [`Stalled`] when no chunk arrives for
/// `timeout`. Used for upload bodies, so that one stalled upload cannot hold a release.
pub(crate) fn stall_guard<S, T, E>(inner: S, timeout: Duration) -> StallGuard<S>
where
    S: Stream<Item = Result<T, E>>,
{
    StallGuard { inner, timeout, deadline: Box::pin(tokio::time::sleep(timeout)) }
}

pub(crate) struct StallGuard<S> {
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
        // The crate registry's form: an HTTP-date.
        let in_a_minute = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(60));
        let Verdict::Retry { after: Some(wait) } =
            classify(StatusCode::TOO_MANY_REQUESTS, &headers(&[("retry-after", &in_a_minute)]))
        else {
            panic!("an HTTP-date Retry-After is a wait")
        };
        assert!(wait > Duration::from_secs(55) && wait <= Duration::from_secs(62), "{wait:?}");
    }

    #[test]
    fn backoff_grows_stays_bounded_and_honours_the_server() {
        let policy = NetworkPolicy::default();
        for attempt in 1..20 {
            assert!(policy.delay(attempt, None) <= policy.max_delay);
        }
        assert!(policy.delay(1, Some(Duration::from_secs(9))) >= Duration::from_secs(9));
    }

    #[derive(Debug, PartialEq)]
    struct Failure(Verdict);

    impl Retryable for Failure {
        fn verdict(&self) -> Verdict {
            self.0
        }
        fn reason(&self) -> String {
            "502 Bad Gateway".into()
        }
    }

    fn quick(attempts: u32) -> NetworkPolicy {
        NetworkPolicy { attempts, base_delay: Duration::from_millis(1), ..NetworkPolicy::default() }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_announced() {
        let notices = Mutex::new(Vec::new());
        let record = |n: &RetryNotice| notices.lock().unwrap().push(n.clone());
        let result = quick(4)
            .retry(
                "the upload of app",
                |attempt| async move {
                    if attempt < 3 { Err(Failure(Verdict::Retry { after: None })) } else { Ok(attempt) }
                },
                &record,
            )
            .await;
        assert_eq!(result.unwrap(), 3);
        let notices = notices.into_inner().unwrap();
        assert_eq!(notices.iter().map(|n| n.next_attempt).collect::<Vec<_>>(), [2, 3]);
        let text = notices[0].to_string();
        assert!(text.starts_with("retrying the upload of app after 502 Bad Gateway (attempt 2/4) in "), "{text}");
    }

    #[tokio::test]
    async fn final_failures_and_exhausted_attempts_stop_with_the_count() {
        let final_failure = quick(4)
            .retry("x", |_| async { Err::<(), _>(Failure(Verdict::Final)) }, &ignore_retries)
            .await
            .unwrap_err();
        assert_eq!(final_failure.attempts, 1);
        let exhausted = quick(3)
            .retry("x", |_| async { Err::<(), _>(Failure(Verdict::Retry { after: None })) }, &ignore_retries)
            .await
            .unwrap_err();
        assert_eq!(exhausted.attempts, 3);
        let too_long = Verdict::Retry { after: Some(MAX_WAIT + Duration::from_secs(1)) };
        let not_waited = quick(3).retry("x", |_| async { Err::<(), _>(Failure(too_long)) }, &ignore_retries).await;
        assert_eq!(not_waited.unwrap_err().attempts, 1, "a wait beyond MAX_WAIT is not waited out");
    }

    #[tokio::test]
    async fn watch_stops_a_silent_transfer_and_lets_a_moving_one_finish() {
        let activity = Activity::new();
        let silent = watch(&activity, Duration::from_millis(50), std::future::pending::<()>()).await;
        assert!(silent.is_err());

        let activity = Activity::new();
        let moving = {
            let activity = activity.clone();
            async move {
                for _ in 0..6 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    activity.touch();
                }
                "done"
            }
        };
        assert_eq!(watch(&activity, Duration::from_millis(200), moving).await.unwrap(), "done");
    }

    /// Paused time: the clock only moves when every task waits, so the instants below are
    /// exact and the test takes no wall-clock time.
    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_request_starts_by_the_interval() {
        use tokio::time::Instant;
        let pacer = Pacer::new(Duration::from_secs(1));
        let start = Instant::now();
        pacer.pace().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "the first request goes at once");
        pacer.pace().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));

        // A request long after the last one goes at once, and books the next slot from now.
        tokio::time::advance(Duration::from_secs(5)).await;
        let later = Instant::now();
        pacer.pace().await;
        assert_eq!(later.elapsed(), Duration::ZERO);
        // Part of the interval already passed: only the rest is waited.
        tokio::time::advance(Duration::from_millis(400)).await;
        pacer.pace().await;
        assert_eq!(later.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_get_one_slot_each_an_interval_apart() {
        use tokio::time::Instant;
        let pacer = Arc::new(Pacer::new(Duration::from_millis(1000)));
        let start = Instant::now();
        let starts = Arc::new(Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let (pacer, starts) = (pacer.clone(), starts.clone());
                tokio::spawn(async move {
                    pacer.pace().await;
                    starts.lock().unwrap().push((i, start.elapsed()));
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let mut starts = starts.lock().unwrap().clone();
        starts.sort_by_key(|(_, at)| *at);
        let offsets: Vec<Duration> = starts.iter().map(|(_, at)| *at).collect();
        assert_eq!(offsets, (0..4).map(Duration::from_secs).collect::<Vec<_>>());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_interval_never_waits_and_a_dropped_waiter_only_leaves_a_gap() {
        use tokio::time::Instant;
        let off = Pacer::new(Duration::ZERO);
        let start = Instant::now();
        for _ in 0..10 {
            off.pace().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);

        let pacer = Pacer::new(Duration::from_secs(1));
        pacer.pace().await;
        // A caller that gives up while waiting for its slot (at 1 s).
        assert!(tokio::time::timeout(Duration::from_millis(10), pacer.pace()).await.is_err());
        // The next one gets the slot after the abandoned one.
        pacer.pace().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[test]
    fn the_policy_takes_the_interval_from_the_config() {
        let policy = NetworkPolicy::default();
        assert_eq!(policy.mutation_interval, Duration::from_secs(1), "GitHub's guidance: about 1 s");
        let off = NetworkConfig { github_mutation_interval_ms: 0, ..NetworkConfig::default() };
        assert_eq!(NetworkPolicy::from(&off).mutation_interval, Duration::ZERO);
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
