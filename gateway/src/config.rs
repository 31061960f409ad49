//! What the gateway is told on its command line (or in the environment).

use clap::Parser;
use std::net::SocketAddr;
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
    /// Answer each API request only once its answer is complete, as a
    /// reverse proxy that buffers does (so a change stream never reaches
    /// the browser): for the browser's tests of its fallback to polling.
    #[arg(long, hide = true)]
    pub test_buffering: bool,
    /// A JSON file of prices laid over the built-in table:
    /// `{"<model id or prefix>": {"input_per_million": 0.5, "output_per_million": 1.5} | null}`.
    #[arg(long, env = "PROMPT_RUNS_PRICES")]
    pub prices: Option<PathBuf>,
    /// A TOML file of the model providers to forward to (OpenAI, Anthropic,
    /// Gemini, Ollama and compatible servers), each with the name of the
    /// environment variable holding its key: see docs/providers.md.
    #[arg(long, env = "PROMPT_RUNS_PROVIDERS", value_name = "FILE")]
    pub providers: Option<PathBuf>,
    /// An OpenAI-compatible API to forward other models to (a one-provider
    /// shortcut for `--providers`), e.g.
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
    /// Another origin whose pages may call the API (repeatable, or
    /// comma-separated in the environment), e.g. Trunk's dev server
    /// `http://127.0.0.1:8080`. The gateway's own pages always may. `*` lets
    /// every web page use the gateway, and its upstream key: only for tests.
    #[arg(
        long = "allow-origin",
        env = "PROMPT_RUNS_ALLOW_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGIN"
    )]
    pub allow_origins: Vec<String>,
    /// Another name this gateway may be reached by (repeatable, or
    /// comma-separated in the environment): `name` on any port, or
    /// `name:port`. `localhost`, `127.0.0.1`, `[::1]` and the listening
    /// address always may; every other Host is refused (DNS rebinding).
    #[arg(
        long = "allow-host",
        env = "PROMPT_RUNS_ALLOW_HOSTS",
        value_delimiter = ',',
        value_name = "HOST"
    )]
    pub allow_hosts: Vec<String>,
    /// The access token every API request must carry, as
    /// `Authorization: Bearer <token>`. When listening on a non-loopback
    /// address or with an upstream key, one is required: without this flag,
    /// one is generated at start and printed with the address to open.
    #[arg(long, env = "PROMPT_RUNS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Per-person access tokens: a file of `name = "sha256:<hex>"` lines
    /// (`prompt-runs-gateway token add NAME` prints one). A person's token
    /// lets them in as themselves: the history records them as the author
    /// of what they upload. `--token`, if also given, still works, as no one
    /// in particular.
    #[arg(long, env = "PROMPT_RUNS_TOKENS", value_name = "FILE")]
    pub tokens: Option<std::path::PathBuf>,
    /// Most requests to the upstream at once; more wait for a turn
    /// (`--upstream-queue-timeout`), then are answered 429.
    #[arg(long, env = "PROMPT_RUNS_MAX_UPSTREAM_REQUESTS", default_value_t = 16)]
    pub max_upstream_requests: usize,
    /// API requests per minute per client (the token's holder, and each IP
    /// address without it), in bursts of up to as many; more are answered
    /// 429. 0: no limit.
    #[arg(long, env = "PROMPT_RUNS_REQUESTS_PER_MINUTE", default_value_t = 600)]
    pub requests_per_minute: u32,
    /// Seconds an API request may take until its answer starts (a stream's
    /// first byte, a plain answer whole); then 504.
    #[arg(
        long,
        env = "PROMPT_RUNS_REQUEST_TIMEOUT",
        default_value_t = 300,
        value_name = "SECONDS"
    )]
    pub request_timeout: u64,
    /// Seconds the upstream may stay silent: before it answers, and between
    /// two pieces of a streamed answer; then 504.
    #[arg(
        long,
        env = "PROMPT_RUNS_UPSTREAM_TIMEOUT",
        default_value_t = 120,
        value_name = "SECONDS"
    )]
    pub upstream_timeout: u64,
    /// Seconds a request may wait for a turn when its provider is already
    /// running as many requests as it may (`--max-upstream-requests`,
    /// `max_concurrent`); then 429. The default of `queue_timeout_seconds`
    /// in the providers file.
    #[arg(
        long,
        env = "PROMPT_RUNS_UPSTREAM_QUEUE_TIMEOUT",
        default_value_t = 120,
        value_name = "SECONDS"
    )]
    pub upstream_queue_timeout: u64,
    /// Where the history database lives when no `--database-url` is given:
    /// the SQLite file `history.sqlite3` in this directory, created on first
    /// start. By default the platform's per-user data directory
    /// (`~/.local/share/prompt-runs` on Linux), or `./data` without one.
    #[arg(long, env = "PROMPT_RUNS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database to keep the history in instead, shared by every
    /// gateway given the same URL: `postgres://user:password@host/database`.
    #[arg(
        long,
        env = "PROMPT_RUNS_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Days a deleted run stays in the trash, restorable from any browser of
    /// its workspace, before it is deleted for good.
    #[arg(
        long,
        env = "PROMPT_RUNS_TRASH_DAYS",
        default_value_t = 30,
        value_name = "DAYS"
    )]
    pub trash_days: u32,
    /// Seconds a request waits for the database (a connection, or another
    /// writer's lock) before it is answered 503; also the time allowed to
    /// connect at start.
    #[arg(
        long,
        env = "PROMPT_RUNS_DATABASE_TIMEOUT",
        default_value_t = 5,
        value_name = "SECONDS"
    )]
    pub database_timeout: u64,
    /// Seconds a gateway's claim on an experiment's cell lasts without being
    /// renewed: when its gateway dies, another sends the cell again after
    /// this long (see docs/server-experiments.md).
    #[arg(
        long,
        env = "PROMPT_RUNS_EXPERIMENT_LEASE_SECONDS",
        default_value_t = 60,
        value_name = "SECONDS"
    )]
    pub experiment_lease_seconds: u64,
    /// Most cells of experiments run on the gateway that this gateway sends
    /// at once (each provider's own limit applies too).
    #[arg(long, env = "PROMPT_RUNS_EXPERIMENT_CONCURRENCY", default_value_t = 8)]
    pub experiment_concurrency: usize,
}

impl GatewayConfig {
    /// Whether API requests need the access token: when the gateway is
    /// reachable from other machines (`listening` is not a loopback address),
    /// when it holds a provider's key (any page or process on this machine
    /// could otherwise spend it: `--upstream-key`, or a providers file that
    /// names one), or when a token was given anyway.
    pub fn token_required(&self, listening: SocketAddr) -> bool {
        let has_key = self
            .upstream_key
            .as_ref()
            .is_some_and(|key| !key.is_empty())
            || self
                .providers
                .as_deref()
                .is_some_and(crate::providers::config::names_a_key);
        self.token.is_some() || self.tokens.is_some() || has_key || !listening.ip().is_loopback()
    }

    /// Settles what can only be known once listening: records the address
    /// actually bound (the port, when 0 was asked for) and, when a token is
    /// required but none was given, generates one. Returns the generated
    /// token, for the caller to print.
    pub fn settle(&mut self, listening: SocketAddr) -> Option<String> {
        self.addr = listening.to_string();
        if self.token.is_none() && self.tokens.is_none() && self.token_required(listening) {
            let token = crate::access::generate_token();
            self.token = Some(token.clone());
            return Some(token);
        }
        None
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig::parse_from(["prompt-runs-gateway"])
    }
}
