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
    /// A JSON file of prices laid over the built-in table:
    /// `{"<model id or prefix>": {"input_per_million": 0.5, "output_per_million": 1.5} | null}`.
    #[arg(long, env = "PROMPT_RUNS_PRICES")]
    pub prices: Option<PathBuf>,
    /// An OpenAI-compatible API to forward other models to, e.g.
    /// `http://localhost:11434/v1` (Ollama) or `https://api.openai.com/v1`.
    #[arg(long, env = "PROMPT_RUNS_UPSTREAM_URL")]
    pub upstream_url: Option<String>,
    /// The upstream's API key, sent to it as a bearer token; it never reaches the browser.
    #[arg(long, env = "PROMPT_RUNS_UPSTREAM_KEY", hide_env_values = true)]
    pub upstream_key: Option<String>,
    /// The upstream models to offer, comma-separated; by default, those its
    /// `/models` endpoint lists.
    #[arg(long, env = "PROMPT_RUNS_UPSTREAM_MODELS", value_delimiter = ',')]
    pub upstream_models: Vec<String>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig::parse_from(["prompt-runs-gateway"])
    }
}
