//! Keeping to the server's pace: a request the server answers 429 (too many
//! requests) or 503 (unavailable) is not a failure but a reason to wait.
//!
//! Every request of the store goes through one [`Pacer`] (the playground's
//! and an experiment's alike): it sends nothing before the time the server
//! asked to wait for (its `Retry-After`, else [`backoff`]), and adapts how
//! many requests go at once the way TCP adapts its window (additive
//! increase, multiplicative decrease): halved when the server refuses one,
//! grown back by one per window of answers, between 1 and
//! [`MAX_CONCURRENT_REQUESTS`]. A request fails only after [`MAX_TRIES`]
//! refusals in a row, saying how many. While it waits its run keeps its
//! place (it is not failed), and [`RunsStore::execution_pause`] says until
//! when.

use super::execute::MAX_CONCURRENT_REQUESTS;
use super::RunsStore;
use crate::api::PromptExecutor;
use crate::clock::monotonic_ms;
use crate::model::Timestamp;
use futures::future::poll_fn;
use leptos::prelude::*;
use std::cell::{Cell, RefCell};
use std::task::{Poll, Waker};
use std::time::Duration;

/// How many times one request is sent before a refusal (429 or 503) counts
/// as its failure. With the waits of [`backoff`] the last try comes about
/// two minutes after the first when the server never says how long to wait.
pub const MAX_TRIES: u32 = 8;

/// The first wait when the server did not say how long, doubled at each
/// try, in ms.
const FIRST_BACKOFF_MS: u64 = 1_000;

/// The longest wait [`backoff`] chooses, in ms.
const MAX_BACKOFF_MS: u64 = 60_000;

/// The wait after `tries` refusals when the server did not say how long:
/// 1 s, 2 s, 4 s, … up to 60 s, of which the second half is random
/// ("equal jitter": `random` is uniform in 0–1), so that clients refused
/// together do not all come back at the same instant, and none comes back
/// sooner than half the schedule.
pub fn backoff(tries: u32, random: f64) -> Duration {
    // In whole ms rather than Duration's float methods, whose panics
    // would bring their messages into the app bundle.
    let full = (FIRST_BACKOFF_MS << tries.saturating_sub(1).min(6)).min(MAX_BACKOFF_MS);
    Duration::from_millis(full / 2 + (full as f64 * random.clamp(0.0, 1.0) / 2.0) as u64)
}

/// A number uniform in 0–1 for the jitter: the browser's `Math.random()`,
/// natively std's randomly keyed hasher (no random-number crate for this).
fn random_unit() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Math::random()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::hash::{BuildHasher, RandomState};
        (RandomState::new().hash_one(monotonic_ms().to_bits()) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How many requests may be in flight at once: halved when the server
/// refuses one, grown back by one per window of answers (AIMD).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Window {
    /// Requests allowed at once, with the fraction grown so far.
    size: f64,
    /// When it was last halved (monotonic ms): requests sent before then
    /// were sent at the larger size, and their refusals are the same news.
    halved_at: f64,
}

impl Window {
    /// The widest window: [`MAX_CONCURRENT_REQUESTS`].
    pub(super) fn new() -> Window {
        Window {
            size: MAX_CONCURRENT_REQUESTS as f64,
            halved_at: f64::NEG_INFINITY,
        }
    }

    /// Requests that may be in flight now (at least one).
    pub(super) fn allowed(&self) -> usize {
        self.size as usize
    }

    /// A request sent at `sent_at` was refused at `now`: halve, once for all
    /// the requests that were in flight together.
    pub(super) fn refused(&mut self, sent_at: f64, now: f64) {
        if sent_at >= self.halved_at {
            self.size = (self.size / 2.0).floor().max(1.0);
            self.halved_at = now;
        }
    }

    /// A request sent at `sent_at` was answered: one more request per
    /// window's worth of answers sent since the last halving (answers to
    /// requests sent before it say nothing of the narrower window).
    pub(super) fn answered(&mut self, sent_at: f64) {
        if sent_at >= self.halved_at {
            self.size = (self.size + 1.0 / self.size).min(MAX_CONCURRENT_REQUESTS as f64);
        }
    }
}

/// When the store's requests may go: the shared [`Window`], and the time
/// before which none is sent.
pub(super) struct Pacer {
    window: Cell<Window>,
    /// Requests in flight now.
    sending: Cell<usize>,
    /// Nothing is sent before this (monotonic ms).
    resume_at: Cell<f64>,
    /// Requests waiting for a place in the window.
    waiting: RefCell<Vec<Waker>>,
}

/// A place in the window, given back when dropped (answered, refused or
/// aborted by Cancel).
pub(super) struct Sending<'a>(&'a Pacer);

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        self.0.sending.set(self.0.sending.get() - 1);
        for waker in self.0.waiting.take() {
            waker.wake();
        }
    }
}

impl Pacer {
    pub(super) fn new() -> Pacer {
        Pacer {
            window: Cell::new(Window::new()),
            sending: Cell::new(0),
            resume_at: Cell::new(f64::NEG_INFINITY),
            waiting: RefCell::new(Vec::new()),
        }
    }

    /// Waits until a request may go (the pause is over and the window has
    /// room), pausing with `executor`'s timer, and takes its place.
    pub(super) async fn admit<'a>(
        &'a self,
        executor: &dyn PromptExecutor,
        store: RunsStore,
    ) -> Sending<'a> {
        let mut waited_for = None;
        loop {
            let resume_at = self.resume_at.get();
            let left = resume_at - monotonic_ms();
            // Once per pause: a timer that ends early (a test's) must not
            // make this spin; a later pause is waited for in its turn.
            if left > 0.0 && waited_for != Some(resume_at.to_bits()) {
                waited_for = Some(resume_at.to_bits());
                executor
                    .pause(Duration::from_millis(left.ceil() as u64))
                    .await;
                continue;
            }
            store.end_pause();
            poll_fn(|context| {
                if self.sending.get() < self.window.get().allowed() {
                    Poll::Ready(())
                } else {
                    self.waiting.borrow_mut().push(context.waker().clone());
                    Poll::Pending
                }
            })
            .await;
            // Another request may have been refused while this one waited
            // for room: then it waits for that pause too.
            let resume_at = self.resume_at.get();
            if resume_at <= monotonic_ms() || waited_for == Some(resume_at.to_bits()) {
                self.sending.set(self.sending.get() + 1);
                return Sending(self);
            }
        }
    }

    /// The request sent at `sent_at` was refused: the window narrows, and
    /// nothing is sent for `wait` (the server's, else [`backoff`] after
    /// `tries`); the store shows until when.
    pub(super) fn refused(
        &self,
        sent_at: f64,
        asked: Option<Duration>,
        tries: u32,
        status: u16,
        store: RunsStore,
    ) {
        let now = monotonic_ms();
        let wait = asked.unwrap_or_else(|| backoff(tries, random_unit()));
        let mut window = self.window.get();
        window.refused(sent_at, now);
        self.window.set(window);
        let resume_at = now + wait.as_millis() as f64;
        if resume_at > self.resume_at.get() {
            self.resume_at.set(resume_at);
            let until =
                Timestamp::now().unix_millis().unwrap_or_default() + wait.as_millis() as i64;
            store.pause.set(Some(Pause { until, status }));
        }
    }

    /// A request sent at `sent_at` was answered: the window widens.
    pub(super) fn answered(&self, sent_at: f64) {
        let mut window = self.window.get();
        window.answered(sent_at);
        self.window.set(window);
        for waker in self.waiting.take() {
            waker.wake();
        }
    }
}

/// The store's requests wait because the server asked them to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pause {
    /// When sending resumes, in ms since the Unix epoch (the wall clock, as
    /// a view's clock reads it).
    pub until: i64,
    /// What the server answered: 429 (its rate limit) or 503 (unavailable).
    pub status: u16,
}

impl RunsStore {
    /// While the store's requests wait because the server asked them to
    /// (HTTP 429 or 503): until when, and why. `None` when nothing waits.
    pub fn execution_pause(&self) -> Option<Pause> {
        self.pause.get()
    }

    /// The pause is over (or the execution ended).
    pub(super) fn end_pause(&self) {
        if self.pause.get_untracked().is_some() {
            self.pause.set(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_to_a_minute_with_half_of_it_random() {
        let schedule: Vec<u64> = (1..=8).map(|tries| backoff(tries, 1.0).as_secs()).collect();
        assert_eq!(schedule, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(3, 0.0), Duration::from_secs(2), "half is fixed");
        assert_eq!(backoff(3, 0.5), Duration::from_secs(3));
        assert_eq!(backoff(u32::MAX, 0.0), Duration::from_secs(30));
        assert_eq!(backoff(1, 7.0), Duration::from_secs(1), "clamped");
        let total: Duration = (1..MAX_TRIES).map(|tries| backoff(tries, 1.0)).sum();
        assert_eq!(
            total,
            Duration::from_secs(123),
            "the longest a request waits"
        );
    }

    #[test]
    fn random_jitter_stays_within_0_and_1() {
        let draws: Vec<f64> = (0..200).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|draw| (0.0..1.0).contains(draw)));
        assert!(
            draws.windows(2).any(|pair| pair[0] != pair[1]),
            "not one value"
        );
    }

    #[test]
    fn the_window_halves_once_per_refusal_and_grows_back_by_one_per_window() {
        let mut window = Window::new();
        assert_eq!(window.allowed(), 4);
        window.refused(10.0, 20.0);
        assert_eq!(window.allowed(), 2);
        window.refused(11.0, 21.0);
        assert_eq!(
            window.allowed(),
            2,
            "sent before the halving: the same news, not halved again"
        );
        window.refused(25.0, 30.0);
        window.refused(31.0, 40.0);
        assert_eq!(window.allowed(), 1, "never below one");
        window.answered(39.0);
        assert_eq!(window.allowed(), 1, "sent before the halving: no news");
        window.answered(41.0);
        assert_eq!(window.allowed(), 2, "one window of one answer");
        window.answered(42.0);
        window.answered(43.0);
        assert_eq!(window.allowed(), 2, "most of the next window");
        window.answered(44.0);
        assert_eq!(window.allowed(), 3);
        for _ in 0..10 {
            window.answered(50.0);
        }
        assert_eq!(window.allowed(), 4, "never above the most at once");
    }
}
