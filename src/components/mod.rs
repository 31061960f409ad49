//! Leptos components that other apps embed: each finds the [`RunsStore`](crate::store::RunsStore)
//! through context or takes it as a prop.
//!
//! - [`PromptComposer`]: write a prompt, pick models, execute.
//! - [`ExecutionProgress`]: progress of the execution in flight, with Cancel.
//! - [`ErrorBanner`]: the store's error, dismissible.
//! - [`RunHistory`]: totals and a virtualized list of runs.
//! - [`RunFilters`]: counts per status and filters for the history.
//! - [`ActiveRunViewer`]: the opened run, its output as text.
//! - [`ModelPerformance`]: per-model figures and one batch side by side.
//! - [`HistoryTransfer`]: export to JSON/CSV, import JSON.
//! - [`HistoryStorage`]: where the history is kept, space, persistence, backups.
//! - [`Settings`]: the server the app talks to.
//! - [`ServerHistory`]: keeping the history on that server too, and how that stands.

mod active_run_viewer;
mod error_banner;
mod execution_progress;
mod filter;
pub mod format;
mod history_storage;
mod history_transfer;
mod model_performance;
mod prompt_composer;
mod run_filters;
mod run_history;
mod server_history;
mod settings;

pub use active_run_viewer::ActiveRunViewer;
pub use error_banner::ErrorBanner;
pub use execution_progress::ExecutionProgress;
pub use filter::{provide_run_filter, use_run_filter, RunFilter};
pub use history_storage::HistoryStorage;
pub use history_transfer::HistoryTransfer;
pub use model_performance::ModelPerformance;
pub use prompt_composer::PromptComposer;
pub use run_filters::RunFilters;
pub use run_history::{RunHistory, ROW_HEIGHT_PX};
pub use server_history::{
    keep_history_on_server, ServerHistory, SyncWorkspace, SYNC_WORKSPACE_KEY,
};
pub use settings::{
    default_server_url, provide_server_connection, with_price_overrides, ServerConnection,
    Settings, PRICE_OVERRIDES_KEY, SERVER_URL_KEY, TOKEN_KEY,
};
