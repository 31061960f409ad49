//! The short text checks and rows are labelled with: a grid's column
//! header or tooltip shows at most 40 characters of a check's text, a
//! rubric's name or a row's values.

/// `text` cut to 40 characters, with `…` when cut.
pub(super) fn shortened(text: &str) -> String {
    crate::text::shortened(text, 40)
}
