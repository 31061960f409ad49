//! The reactive runs store.
