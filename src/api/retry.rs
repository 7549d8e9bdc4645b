//! When and how long to wait before trying a request again.
//!
//! Idempotent calls (GET, PUT, DELETE) are retried on connection errors, 429 and 5xx, with exponential
//! backoff and full jitter, bounded in attempts and in total time; a 429's `Retry-After` is honoured.
//! A POST is never retried here: the executor first finds out whether the create happened.

use std::time::Duration;

use rand::Rng;

use super::ApiError;

/// Told before each retry: what failed, and how long vapp waits now and at most in all.
#[derive(Clone, Debug)]
pub struct RetryNotice {
    pub url: String,
    /// The attempt that failed, from 1.
    pub attempt: u32,
    pub delay: Duration,
    /// How long retries of one call may take in all.
    pub budget: Duration,
    /// The failure, in words.
    pub cause: String,
}

/// Hears of retries (to tell a person that vapp is waiting, and why).
pub type RetryObserver = std::sync::Arc<dyn Fn(&RetryNotice) + Send + Sync>;

#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// No retry starts after this much time since the first attempt.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(90),
        }
    }
}

impl RetryPolicy {
    /// The longest all retries of one call can wait, together.
    pub fn worst_case(&self) -> Duration {
        let waits: Duration = (1..self.max_attempts)
            .map(|attempt| self.base_delay.saturating_mul(1 << attempt.min(16)).min(self.max_delay))
            .sum();
        waits.min(self.max_elapsed)
    }

    /// The wait before attempt `attempt + 1` (attempts count from 1) after `error`, or `None` to give up.
    pub fn delay(&self, attempt: u32, error: &ApiError, elapsed: Duration) -> Option<Duration> {
        if attempt >= self.max_attempts || !is_transient(error) {
            return None;
        }
        let delay = match error {
            ApiError::Status { retry_after: Some(after), .. } => (*after).min(self.max_delay),
            _ => {
                let ceiling = self.base_delay.saturating_mul(1 << attempt.min(16)).min(self.max_delay);
                // Full jitter: concurrent clients that failed together do not retry together.
                ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
            }
        };
        (elapsed + delay <= self.max_elapsed).then_some(delay)
    }
}

/// Whether trying again may succeed: no answer, throttled, or a server error.
pub fn is_transient(error: &ApiError) -> bool {
    match error {
        ApiError::Transport { .. } => true,
        ApiError::Status { status, .. } => *status == 429 || (500..=599).contains(status),
        ApiError::Decode { .. }
        | ApiError::List { .. }
        | ApiError::Encode(_)
        | ApiError::Protocol { .. }
        | ApiError::BadUrl(_)
        | ApiError::TooLarge { .. } => false,
    }
}

/// Whether a failed create certainly did not create anything: the API refused it before acting
/// (4xx), or the request never left.
pub fn create_certainly_failed(error: &ApiError) -> bool {
    match error {
        ApiError::Status { status, .. } => (400..=499).contains(status),
        ApiError::Transport { maybe_sent, .. } => !maybe_sent,
        ApiError::Decode { .. } | ApiError::List { .. } | ApiError::Protocol { .. } | ApiError::TooLarge { .. } => {
            false
        }
        ApiError::Encode(_) | ApiError::BadUrl(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Problem;

    fn status(code: u16, retry_after: Option<Duration>) -> ApiError {
        ApiError::Status { status: code, problem: Box::default(), retry_after }
    }

    #[test]
    fn retries_only_what_may_succeed() {
        let policy = RetryPolicy::default();
        assert!(policy.delay(1, &status(503, None), Duration::ZERO).is_some());
        assert_eq!(
            policy.delay(1, &status(429, Some(Duration::from_secs(2))), Duration::ZERO),
            Some(Duration::from_secs(2))
        );
        assert!(policy.delay(1, &status(400, None), Duration::ZERO).is_none());
        assert!(policy.delay(1, &status(404, None), Duration::ZERO).is_none());
        assert!(policy.delay(policy.max_attempts, &status(503, None), Duration::ZERO).is_none());
        assert!(policy.delay(1, &status(503, None), policy.max_elapsed).is_none());
        let transport = ApiError::Transport { url: "u".into(), maybe_sent: true, source: "reset".into() };
        assert!(policy.delay(1, &transport, Duration::ZERO).is_some());
        let _ = Problem::default();
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        let d1 = policy.delay(1, &status(500, None), Duration::ZERO).unwrap();
        let d6 = policy.delay(6, &status(500, None), Duration::ZERO).unwrap();
        assert!(d1 <= Duration::from_millis(200) && d1 >= Duration::from_millis(100));
        assert!(d6 <= policy.max_delay && d6 >= Duration::from_millis(3200));
    }

    #[test]
    fn only_refusals_and_unsent_requests_certainly_created_nothing() {
        assert!(create_certainly_failed(&status(400, None)));
        assert!(create_certainly_failed(&status(429, None)));
        assert!(!create_certainly_failed(&status(502, None)));
        assert!(!create_certainly_failed(&ApiError::Transport {
            url: "u".into(),
            maybe_sent: true,
            source: "m".into()
        }));
        assert!(create_certainly_failed(&ApiError::Transport {
            url: "u".into(),
            maybe_sent: false,
            source: "m".into()
        }));
    }
}
