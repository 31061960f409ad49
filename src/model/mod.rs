//! The run data model.
