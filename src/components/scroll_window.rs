//! The arithmetic and wiring of a virtualized list: which of its fixed-height
//! rows are in view of a scrolling element, so that only those (and a few
//! either side) are in the DOM. Shared by [`RunHistory`](super::RunHistory)
//! and [`ExperimentGrid`](super::ExperimentGrid).

use leptos::prelude::*;

/// A list's height when the host gives none.
const DEFAULT_HEIGHT: &str = "70vh";
/// Rows rendered beyond each edge of the viewport, so fast scrolling shows no gap.
const OVERSCAN_ROWS: usize = 4;
/// Viewport height assumed until the real one is measured.
const INITIAL_VIEWPORT_PX: usize = 640;

/// A scrolling element's position and height, kept as signals.
#[derive(Clone, Copy)]
pub(crate) struct ScrollWindow {
    /// The scrolling element: give it `node_ref` and call [`ScrollWindow::scrolled`]
    /// from its `on:scroll`.
    pub(crate) viewport: NodeRef<leptos::html::Div>,
    scroll_top: RwSignal<usize>,
    height: RwSignal<usize>,
}

impl ScrollWindow {
    /// A window measured once its element is mounted, again when the page
    /// resizes, and again when the host changes `height` (the element's
    /// height, as [`viewport_style`] sets it).
    pub(crate) fn new(height: MaybeProp<String>) -> ScrollWindow {
        let window = ScrollWindow {
            viewport: NodeRef::new(),
            scroll_top: RwSignal::new(0),
            height: RwSignal::new(INITIAL_VIEWPORT_PX),
        };
        Effect::new(move |_| {
            height.track();
            if window.viewport.get().is_some() {
                window.measure();
                // A new height reaches the element's style in a render
                // effect that may run after this one: measure again once it
                // has, before the next paint.
                request_animation_frame(move || window.measure());
            }
        });
        let resize = window_event_listener(leptos::ev::resize, move |_| window.measure());
        on_cleanup(move || resize.remove());
        window
    }

    fn measure(&self) {
        // The list may have been unmounted before the next frame.
        if let Some(element) = self.viewport.try_get_untracked().flatten() {
            let height = element.client_height();
            if height > 0 {
                self.height.set(height as usize);
            }
        }
    }

    /// Follows the element's scroll position.
    pub(crate) fn scrolled(&self) {
        if let Some(element) = self.viewport.get_untracked() {
            self.scroll_top.set(element.scroll_top().max(0) as usize);
        }
    }

    /// The rows to render of `len` rows each `row_px` high: `first..end`
    /// (tracked: changes as the element scrolls or resizes).
    pub(crate) fn range(&self, len: usize, row_px: usize) -> (usize, usize) {
        let first = (self.scroll_top.get() / row_px)
            .saturating_sub(OVERSCAN_ROWS)
            .min(len);
        let visible = self.height.get().div_ceil(row_px) + 1;
        let end = (first + visible + 2 * OVERSCAN_ROWS).min(len);
        (first, end)
    }
}

/// The scrolling element's inline style: the host's `height` (any CSS
/// length, 70vh when none; reactive), scrolling within it.
pub(crate) fn viewport_style(
    height: MaybeProp<String>,
) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    move || {
        height.with(|height| {
            let height = height.as_deref().unwrap_or(DEFAULT_HEIGHT);
            format!("height: {height}; overflow-y: auto")
        })
    }
}
