//! The arithmetic and wiring of a virtualized list: which of its fixed-height
//! rows are in view of a scrolling element, so that only those (and a few
//! either side) are in the DOM. Shared by [`RunHistory`](super::RunHistory)
//! and [`ExperimentGrid`](super::ExperimentGrid).

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{ResizeObserver, ResizeObserverEntry};

/// A list's height when the host gives none.
const DEFAULT_HEIGHT: &str = "70vh";
/// Rows rendered beyond each edge of the viewport, so fast scrolling shows no gap.
const OVERSCAN_ROWS: usize = 4;
/// Viewport height assumed until the real one is measured.
const INITIAL_VIEWPORT_PX: usize = 640;

/// A scrolling element's position and height, kept as signals.
#[derive(Clone, Copy)]
pub(crate) struct ScrollWindow {
    /// The scrolling element: give it `node_ref`, `style` from
    /// [`ScrollWindow::style`], and call [`ScrollWindow::scrolled`] from its
    /// `on:scroll`.
    pub(crate) viewport: NodeRef<leptos::html::Div>,
    /// The height the host asked for, any CSS length (70vh when none).
    height: MaybeProp<String>,
    scroll_top: RwSignal<usize>,
    /// The element's measured height in pixels.
    viewport_px: RwSignal<usize>,
}

impl ScrollWindow {
    /// A window of the height the host asks for (reactive), measured
    /// whenever its element changes size: mounted, a new `height`, the page
    /// resized, or the host's layout around it changed (a panel opened
    /// beside it), which no page-wide `resize` event tells.
    pub(crate) fn new(height: MaybeProp<String>) -> ScrollWindow {
        let window = ScrollWindow {
            viewport: NodeRef::new(),
            height,
            scroll_top: RwSignal::new(0),
            viewport_px: RwSignal::new(INITIAL_VIEWPORT_PX),
        };
        Effect::new(move |_| {
            let style = window.height.with(viewport_style);
            if let Some(element) = window.viewport.get() {
                let _ = element.set_attribute("style", &style);
            }
        });
        // A ResizeObserver reports sizes once the browser has laid the page
        // out for its next frame: reading `clientHeight` here instead would
        // make it lay the page out early, before the first paint.
        let viewport_px = window.viewport_px;
        let resized = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            let entry: ResizeObserverEntry = entries.get(0).unchecked_into();
            let height = entry.content_rect().height().round();
            if height > 0.0 {
                viewport_px.set(height as usize);
            }
        });
        if let Ok(observer) = ResizeObserver::new(resized.into_js_value().unchecked_ref()) {
            let observer = SendWrapper::new(observer);
            window.viewport.on_load({
                let observer = observer.clone();
                move |element| observer.observe(&element)
            });
            on_cleanup(move || observer.disconnect());
        }
        window
    }

    /// The element's inline style as it is mounted (later heights are
    /// written by the window itself).
    pub(crate) fn style(&self) -> String {
        self.height.with_untracked(viewport_style)
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
        let visible = self.viewport_px.get().div_ceil(row_px) + 1;
        let end = (first + visible + 2 * OVERSCAN_ROWS).min(len);
        (first, end)
    }
}

/// The scrolling element's inline style: the host's height (70vh when none),
/// scrolling within it.
fn viewport_style(height: &Option<String>) -> String {
    let height = height.as_deref().unwrap_or(DEFAULT_HEIGHT);
    format!("height: {height}; overflow-y: auto")
}
