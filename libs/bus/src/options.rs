//! The bus's limits and timings.

use std::time::Duration;

/// How the bus connects, and the limits of its streams and consumers.
#[derive(Clone, Debug, PartialEq)]
pub struct BusOptions {
    /// The name the connection shows in the server's monitoring.
    pub client_name: Option<String>,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long any request to the server may wait for its answer: a JetStream API call,
    /// a publish acknowledgement, an acknowledgement of a delivery.
    pub request_timeout: Duration,
    /// How long a consumer may hold a delivery before it is delivered again; a consumer
    /// that needs longer sends `in_progress` heartbeats.
    pub ack_wait: Duration,
    /// How often a work-queue message is delivered before the bus gives up on it.
    pub max_deliver: i64,
    /// How long the bus remembers a dedupe id. A message published again within the
    /// window (by an outbox relay that died before marking it sent) is dropped, so this
    /// must outlast the longest outage of a relay between publishing and marking.
    pub duplicate_window: Duration,
    /// How long mission events are kept for watchers.
    pub event_max_age: Duration,
    /// The largest message, headers included, a stream takes.
    pub max_message_size: usize,
    /// Copies of each stream in a NATS cluster.
    pub replicas: usize,
    /// The first delay of [`crate::Delivery::deliver`]'s retry; it doubles with each delivery.
    pub retry_delay: Duration,
    /// The longest retry delay.
    pub max_retry_delay: Duration,
}

impl Default for BusOptions {
    fn default() -> Self {
        Self {
            client_name: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            ack_wait: Duration::from_secs(60),
            max_deliver: 20,
            duplicate_window: Duration::from_secs(10 * 60),
            event_max_age: Duration::from_secs(24 * 60 * 60),
            max_message_size: 1024 * 1024,
            replicas: 1,
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(60),
        }
    }
}

/// The delay before a failed delivery is tried again: doubling from `initial`, up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryBackoff {
    pub initial: Duration,
    pub max: Duration,
}

impl RetryBackoff {
    /// The delay after the `delivered`-th delivery (counted from 1) failed.
    pub fn delay(self, delivered: u64) -> Duration {
        let doublings = u32::try_from(delivered.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(30);
        self.initial
            .saturating_mul(2_u32.saturating_pow(doublings))
            .min(self.max)
    }
}

impl From<&BusOptions> for RetryBackoff {
    fn from(options: &BusOptions) -> Self {
        Self {
            initial: options.retry_delay,
            max: options.max_retry_delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_delay_doubles_up_to_its_cap() {
        let backoff = RetryBackoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=6)
            .map(|delivered| backoff.delay(delivered).as_secs())
            .collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(backoff.delay(0), Duration::from_secs(1));
        assert_eq!(backoff.delay(u64::MAX), Duration::from_secs(10));
    }
}
