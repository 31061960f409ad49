//! How much one client may ask: API requests per minute per client, and how
//! long one request may take. (The cap on concurrent upstream requests lives
//! with the upstream, which owns them.)
//!
//! The per-minute limit is a token bucket: each client may send up to the
//! limit at once, then one more each `60 / limit` seconds. Its default, 600
//! a minute, is ten a second sustained: far above what a person clicking
//! Execute on a handful of models sends (a few requests each), far below
//! what a runaway script spending a paid upstream account would. It is a
//! backstop; the origin, host and token rules are what keep strangers out.
//! It is counted before the token is checked, so that requests with a wrong
//! token are limited too (per address): guessing a short `--token` is slow.
//!
//! The gateway says its limits (`GET /api/v1/limits`, [`describe`]), so that
//! a client plans within them (an experiment's plan warns and estimates how
//! long the pace makes it) instead of finding them by failing.

use crate::access::Access;
use crate::problem::Problem;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Json;
use prompt_runs::api::wire::ServerLimits;
pub use prompt_runs::api::wire::LIMITS_PATH;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most clients remembered at once. Full buckets are forgotten first (a
/// full bucket is what a new client gets anyway); past this many busy ones,
/// new clients wait, so that a flood of addresses cannot grow memory.
const MAX_CLIENTS: usize = 10_000;

/// Who is counted: the token's holder (the one identity the gateway knows),
/// or else the peer's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// Whoever holds the access token.
    TokenHolder,
    /// A peer address.
    Address(IpAddr),
    /// A request that came without a peer address (in-process, in tests).
    Unknown,
}

/// Requests per minute per client.
pub struct RateLimit {
    per_minute: u32,
    /// Who holds the token.
    access: Arc<Access>,
    buckets: Mutex<HashMap<Client, Bucket>>,
}

/// What is left of one allowance of `per_minute` requests a minute: up to
/// that many at once, then one more each `60 / per_minute` seconds. Used
/// per client here, and per provider (`providers`).
#[derive(Clone, Copy, Debug)]
pub struct Bucket {
    /// Requests that may be sent now (fractions accrue).
    available: f64,
    /// When `available` was last brought up to date.
    at: Instant,
}

impl Bucket {
    /// A full allowance of `per_minute` at `now`.
    pub fn full(per_minute: u32, now: Instant) -> Bucket {
        Bucket {
            available: f64::from(per_minute),
            at: now,
        }
    }

    /// What is available at `now`.
    fn refilled(&self, per_minute: u32, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        (self.available + elapsed * f64::from(per_minute) / 60.0).min(f64::from(per_minute))
    }

    /// Whether it is full again at `now` (and so may be forgotten).
    pub fn is_full(&self, per_minute: u32, now: Instant) -> bool {
        self.refilled(per_minute, now) >= f64::from(per_minute)
    }

    /// Takes one request at `now`: `Err` with how long until one is
    /// available when none is.
    pub fn take(&mut self, per_minute: u32, now: Instant) -> Result<(), Duration> {
        self.available = self.refilled(per_minute, now);
        self.at = self.at.max(now);
        if self.available >= 1.0 {
            self.available -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - self.available) * 60.0 / f64::from(per_minute),
            ))
        }
    }
}

impl RateLimit {
    /// `per_minute` requests a minute per client (0: no limit): the token
    /// holder (as `access` knows the token), and each address without it.
    pub fn new(per_minute: u32, access: Arc<Access>) -> RateLimit {
        RateLimit {
            per_minute,
            access,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `client` at `now`: `Err` with how long to wait
    /// when it is over the limit.
    pub fn admit(&self, client: Client, now: Instant) -> Result<(), Duration> {
        let per_minute = self.per_minute;
        if per_minute == 0 {
            return Ok(());
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&client) {
            buckets.retain(|_, bucket| !bucket.is_full(per_minute, now));
            if buckets.len() >= MAX_CLIENTS {
                return Err(Duration::from_secs(1));
            }
        }
        buckets
            .entry(client)
            .or_insert(Bucket::full(per_minute, now))
            .take(per_minute, now)
    }

    fn client_of(&self, request: &Request) -> Client {
        if self
            .access
            .is_token_holder(request.headers().get(header::AUTHORIZATION))
        {
            return Client::TokenHolder;
        }
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(Client::Unknown, |ConnectInfo(peer)| {
                Client::Address(peer.ip())
            })
    }
}

/// `GET /api/v1/limits`: `config`'s per-minute limit and its burst (the same
/// figure: a full bucket), absent when there is none (`0`), and the largest
/// request body (`crate::MAX_BODY_BYTES`). The route sits behind the same
/// rules as the rest of the API, rate and token included.
pub fn describe<S: Clone + Send + Sync + 'static>(
    config: &crate::GatewayConfig,
) -> MethodRouter<S> {
    let per_minute = config.requests_per_minute;
    let per_minute = (per_minute > 0).then_some(per_minute);
    let limits = ServerLimits {
        requests_per_minute: per_minute,
        burst: per_minute,
        max_request_bytes: Some(crate::MAX_BODY_BYTES as u64),
    };
    get(move || async move { Json(limits) })
}

/// Middleware for `/api`: answers 429, with `Retry-After` in whole seconds
/// and a `detail`, to a client over its limit.
pub async fn limit_rate(
    State(limit): State<Arc<RateLimit>>,
    request: Request,
    next: Next,
) -> Response {
    match limit.admit(limit.client_of(&request), Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => Problem::too_many_requests(
            format!(
                "too many requests: this gateway answers {} a minute per client (--requests-per-minute)",
                limit.per_minute
            ),
            wait,
        )
        .into_response(),
    }
}

/// Middleware for `/api`: gives up on a request whose answer has not started
/// within `limit`, with 504 and a `detail`. A streamed answer has started
/// with its first event; the upstream timeout watches it from there.
pub async fn limit_time(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "no answer within {} s: the gateway gave up (--request-timeout)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn limit(per_minute: u32) -> RateLimit {
        let config = crate::GatewayConfig::parse_from(["gw"]);
        RateLimit::new(per_minute, Arc::new(Access::new(&config).unwrap()))
    }

    #[test]
    fn a_burst_up_to_the_limit_then_one_per_interval() {
        let limit = limit(60);
        let start = Instant::now();
        let client = Client::Address([127, 0, 0, 1].into());
        for _ in 0..60 {
            assert!(limit.admit(client, start).is_ok());
        }
        let wait = limit.admit(client, start).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1), "one a second at 60 a minute");
        assert!(limit
            .admit(client, start + Duration::from_millis(500))
            .is_err());
        assert!(limit
            .admit(client, start + Duration::from_millis(1000))
            .is_ok());
        let other = Client::Address([127, 0, 0, 2].into());
        assert!(limit.admit(other, start).is_ok(), "each client has its own");
    }

    #[test]
    fn zero_means_no_limit() {
        let limit = limit(0);
        let now = Instant::now();
        assert!((0..10_000).all(|_| limit.admit(Client::TokenHolder, now).is_ok()));
    }

    #[test]
    fn idle_clients_are_forgotten_so_memory_stays_bounded() {
        let limit = limit(60);
        let start = Instant::now();
        for n in 0..MAX_CLIENTS as u32 {
            assert!(limit
                .admit(Client::Address(IpAddr::from(n.to_be_bytes())), start)
                .is_ok());
        }
        let newcomer = Client::Address([10, 255, 255, 255].into());
        assert!(
            limit.admit(newcomer, start).is_err(),
            "every bucket is busy"
        );
        let later = start + Duration::from_secs(2);
        assert!(
            limit.admit(newcomer, later).is_ok(),
            "refilled buckets are dropped"
        );
        assert_eq!(limit.buckets.lock().unwrap().len(), 1);
    }
}
