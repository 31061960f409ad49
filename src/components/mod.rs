//! Leptos components that other apps embed: each finds the [`RunsStore`](crate::store::RunsStore)
//! through context or takes it as a prop. Each takes a `class` for its root element (beside
//! its own and [`COMPONENT_CLASS`]; a string or a signal), has no fixed ids, and listens to
//! no keys beyond its own elements, so a page may hold two of it; the list-like ones
//! ([`RunHistory`], [`ExperimentGrid`]) take a reactive `height` and `style` too. The stylesheet's
//! `--pr-` CSS variables theme them (docs/components.md, "Theming").
//!
//! - [`PromptComposer`]: write a prompt, pick models, execute.
//! - [`ExecutionProgress`]: progress of the execution in flight, with Cancel.
//! - [`ErrorBanner`]: the store's error, dismissible.
//! - [`RunHistory`]: totals and a virtualized list of runs.
//! - [`RunFilters`]: counts per status and filters for the history.
//! - [`ActiveRunViewer`]: the opened run, its output as text, and its batch side by side.
//! - [`ModelPerformance`]: per-model figures and a chart.
//! - [`HistoryTransfer`]: export to JSON/CSV, import JSON.
//! - [`HistoryStorage`]: where the history is kept, space, persistence, backups.
//! - [`Settings`]: the server the app talks to.
//! - [`ServerHistory`]: keeping the history on that server too, and how that stands.
//! - [`RunJudgement`]: thumbs up/down, a star and a note on a run.
//! - [`DiffView`]: the word diff of two answers.
//! - Experiments ([`provide_experiments`] holds them): [`ExperimentPicker`]
//!   (open, new, delete, export, import), [`ExperimentEditor`] (with
//!   [`InputRows`] and [`ChecksEditor`]), [`RunPlan`] (count, cost, run,
//!   cancel), [`ExperimentGrid`] (rows × models), [`BlindComparison`] (a
//!   blind A/B vote on two models' answers) and [`VoteResults`] (its win
//!   rates and ranking).

mod active_run_viewer;
mod batch_comparison;
mod blind_comparison;
mod checks_editor;
mod diff_view;
mod error_banner;
mod execution_progress;
mod experiment_editor;
mod experiment_grid;
mod experiment_picker;
mod experiments;
mod filter;
pub mod format;
mod history_storage;
mod history_transfer;
mod input_rows;
mod keyed_rows;
mod model_checkboxes;
mod model_performance;
mod number_field;
mod prompt_composer;
mod provider_status;
mod root_class;
mod run_filters;
mod run_history;
mod run_judgement;
mod run_plan;
mod scroll_window;
mod server_history;
mod settings;
mod vote_results;

pub use active_run_viewer::ActiveRunViewer;
pub use blind_comparison::BlindComparison;
pub use checks_editor::ChecksEditor;
pub use diff_view::{provide_diff_selection, use_diff_selection, DiffSelection, DiffView};
pub use error_banner::ErrorBanner;
pub use execution_progress::ExecutionProgress;
pub use experiment_editor::ExperimentEditor;
pub use experiment_grid::{ExperimentGrid, GRID_ROW_HEIGHT_PX};
pub use experiment_picker::ExperimentPicker;
pub use experiments::{provide_experiments, use_experiments, Experiments};
pub use filter::{provide_run_filter, use_run_filter, JudgementFilter, RunFilter};
pub use history_storage::HistoryStorage;
pub use history_transfer::HistoryTransfer;
pub use input_rows::{InputRows, ROWS_PER_PAGE};
pub use model_performance::ModelPerformance;
pub use prompt_composer::PromptComposer;
pub use provider_status::{provide_provider_health, ProviderHealth, ProviderStatuses};
pub use root_class::COMPONENT_CLASS;
pub use run_filters::RunFilters;
pub use run_history::{RunHistory, ROW_HEIGHT_PX};
pub use run_judgement::RunJudgement;
pub use run_plan::RunPlan;
pub(crate) use server_history::sync_notice;
pub use server_history::{
    keep_history_on_server, ServerHistory, SyncWorkspace, SYNC_WORKSPACE_KEY,
};
pub use settings::{
    default_server_url, provide_server_connection, with_price_overrides, ServerConnection,
    Settings, PRICE_OVERRIDES_KEY, SERVER_URL_KEY, TOKEN_KEY,
};
pub use vote_results::VoteResults;
