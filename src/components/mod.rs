//! Leptos components that other apps embed: each finds the [`RunsStore`](crate::store::RunsStore)
//! through context or takes it as a prop.

mod prompt_composer;
mod settings;

pub use prompt_composer::PromptComposer;
pub use settings::provide_server_connection;
pub use settings::{default_server_url, ServerConnection, Settings, SERVER_URL_KEY};
