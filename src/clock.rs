//! The monotonic clock runs are timed with: `performance.now()` in the
//! browser, `Instant` natively. Unlike the wall clock (`Date.now()`,
//! [`Timestamp::now`](crate::model::Timestamp::now)), it never jumps when the
//! system's time is set, so a time to first token is never negative or
//! inflated by an NTP correction. And the timer the store waits with.

use futures::future::LocalBoxFuture;
use futures::FutureExt;
use std::time::Duration;

/// Milliseconds since an arbitrary fixed instant (the page's start in the
/// browser, the first call natively), with a fraction: only differences
/// between two readings mean anything.
pub fn monotonic_ms() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        performance_now()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::LazyLock;
        use std::time::Instant;
        static START: LazyLock<Instant> = LazyLock::new(Instant::now);
        START.elapsed().as_secs_f64() * 1_000.0
    }
}

/// Resolves after `wait`: the browser's `setTimeout` (gloo-timers, which the
/// client and persistence bring), a thread natively. A wasm build with
/// neither the `client` nor the `persist` feature has no timer and resolves
/// at once: its own executor must then wait in
/// [`PromptExecutor::pause`](crate::api::PromptExecutor::pause).
pub fn sleep(wait: Duration) -> LocalBoxFuture<'static, ()> {
    #[cfg(all(target_arch = "wasm32", any(feature = "client", feature = "persist")))]
    {
        gloo_timers::future::sleep(wait).boxed_local()
    }
    #[cfg(all(
        target_arch = "wasm32",
        not(any(feature = "client", feature = "persist"))
    ))]
    {
        let _ = wait;
        futures::future::ready(()).boxed_local()
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let (done, slept) = futures::channel::oneshot::channel::<()>();
        std::thread::spawn(move || {
            std::thread::sleep(wait);
            let _ = done.send(());
        });
        slept.map(|_| ()).boxed_local()
    }
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    // A direct binding rather than web-sys's `Window::performance()`: no
    // `Performance` type to bind, and it works in workers as well.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_back() {
        let first = monotonic_ms();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = monotonic_ms();
        assert!(second - first >= 5.0, "{first} then {second}");
    }
}
