//! The arithmetic and wiring of a virtualized list: which of its rows are in
//! view of a scrolling element, so that only those (and a few either side)
//! are in the DOM. Shared by [`RunHistory`](super::RunHistory), whose rows
//! are all as high, and [`ExperimentGrid`](super::ExperimentGrid), whose
//! rows are too but for the few a person expanded ([`RowHeights`]).

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

    /// The rows to render of `len` rows of `heights`, `overscan` more
    /// beyond each edge of the viewport: `first..end` (tracked: changes as
    /// the element scrolls or resizes).
    pub(crate) fn range_of(
        &self,
        len: usize,
        heights: RowHeights,
        overscan: usize,
    ) -> (usize, usize) {
        let (top, viewport) = (self.scroll_top.get(), self.viewport_px.get());
        heights.in_view(len, top, viewport, overscan)
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

/// The heights of a list's rows: all `row_px` high but for a few taller
/// ones (expanded, and measured), so that finding the rows in view costs
/// the number of taller rows, not of rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowHeights<'a> {
    /// The height of an ordinary row, in CSS pixels.
    pub(crate) row_px: usize,
    /// `(position, height)` of each taller row, in position order.
    pub(crate) taller: &'a [(usize, usize)],
}

impl RowHeights<'_> {
    /// Where row `position` starts, in pixels from the top of the list (the
    /// list's height, for its length).
    pub(crate) fn offset(&self, position: usize) -> usize {
        let taller = self.taller.iter().take_while(|(at, _)| *at < position);
        let extra: usize = taller.map(|(_, px)| px.saturating_sub(self.row_px)).sum();
        position * self.row_px + extra
    }

    /// The position of the row at `px` from the top of the list (past the
    /// end, as many as fit).
    pub(crate) fn position_at(&self, px: usize) -> usize {
        let row_px = self.row_px.max(1);
        // Rows from `before` on start at `start` until the next taller one.
        let (mut before, mut start) = (0, 0);
        for &(at, height) in self.taller {
            let its_start = start + (at - before) * row_px;
            if px < its_start {
                break;
            }
            if px < its_start + height.max(row_px) {
                return at;
            }
            (before, start) = (at + 1, its_start + height.max(row_px));
        }
        before + (px - start) / row_px
    }

    /// The rows to draw of `len` to fill a viewport `viewport_px` high
    /// scrolled to `scroll_top`, with `overscan` more either side: `first..end`.
    pub(crate) fn in_view(
        &self,
        len: usize,
        scroll_top: usize,
        viewport_px: usize,
        overscan: usize,
    ) -> (usize, usize) {
        let first = self
            .position_at(scroll_top)
            .saturating_sub(overscan)
            .min(len);
        let last = self.position_at(scroll_top + viewport_px);
        (first, (last + 1 + overscan).min(len))
    }
}

/// The scrolling element's inline style: the host's height (70vh when none),
/// scrolling within it.
fn viewport_style(height: &Option<String>) -> String {
    let height = height.as_deref().unwrap_or(DEFAULT_HEIGHT);
    format!("height: {height}; overflow-y: auto")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_one_height_are_found_by_division() {
        let heights = RowHeights {
            row_px: 100,
            taller: &[],
        };
        assert_eq!(heights.offset(7), 700);
        assert_eq!(heights.position_at(0), 0);
        assert_eq!(heights.position_at(99), 0);
        assert_eq!(heights.position_at(100), 1);
        // 250 px scrolled in a 300 px viewport: rows 2 to 5 show, 1 more either side.
        assert_eq!(heights.in_view(1_000, 250, 300, 1), (1, 7));
        assert_eq!(heights.in_view(1_000, 0, 300, 2), (0, 6));
        assert_eq!(
            heights.in_view(10, 900, 300, 2),
            (7, 10),
            "the end stops at the list's"
        );
    }

    #[test]
    fn taller_rows_push_the_rows_below_them_down() {
        // Rows 2 and 5 are expanded to 350 and 120 px.
        let heights = RowHeights {
            row_px: 100,
            taller: &[(2, 350), (5, 120)],
        };
        let starts: Vec<usize> = (0..8).map(|row| heights.offset(row)).collect();
        assert_eq!(starts, [0, 100, 200, 550, 650, 750, 870, 970]);
        for (row, start) in starts.iter().enumerate() {
            assert_eq!(heights.position_at(*start), row, "at row {row}'s top");
            assert_eq!(heights.position_at(start + 99), row, "inside row {row}");
        }
        assert_eq!(heights.position_at(549), 2, "the bottom of the tall row");
        assert_eq!(heights.position_at(869), 5);
        // In view from 560 px, 300 px high: rows 3 (550–650) to 5 (750–870).
        assert_eq!(heights.in_view(100, 560, 300, 0), (3, 6));
        assert_eq!(heights.in_view(100, 560, 300, 2), (1, 8));
        // A list of 100 rows is its rows plus what the taller ones add.
        assert_eq!(heights.offset(100), 100 * 100 + 250 + 20);
    }
}
