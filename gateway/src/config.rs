//! What the gateway is told on its command line (or in the environment).

use clap::Parser;
use std::path::PathBuf;

/// Command-line flags, each also readable from the environment.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "prompt-runs-gateway",
    about = "Serves the prompt-runs app and an offline model over the NeuroForge API"
)]
pub struct GatewayConfig {
    /// Address to listen on (the client's default base URL is http://localhost:8000).
    #[arg(long, env = "PROMPT_RUNS_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: String,
    /// Directory of the built static app (Trunk's `dist/`), served at `/`.
    #[arg(long, env = "PROMPT_RUNS_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,
    /// How fast the offline demo model streams, in tokens per second.
    #[arg(
        long,
        env = "PROMPT_RUNS_OFFLINE_TOKENS_PER_SECOND",
        default_value_t = 200.0
    )]
    pub offline_tokens_per_second: f64,
    /// Also list the models that simulate failures (for the client's tests).
    #[arg(long, env = "PROMPT_RUNS_TEST_MODELS")]
    pub test_models: bool,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig::parse_from(["prompt-runs-gateway"])
    }
}
