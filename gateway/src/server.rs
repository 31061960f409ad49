//! Starting the gateway: the one path the binary and the tests take, from a
//! bound listener and a configuration to a running server. In order:
//! settle what only listening tells (the port, a generated token), check
//! the settings ([`Settings::from_config`]) before anything is created, open
//! the history database (a first start creates it), build the app.

use crate::experiment_workers::Workers;
use crate::history::History;
use crate::routes::router_with_workers;
use crate::settings::{ConfigError, Settings};
use crate::GatewayConfig;
use axum::Router;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// A gateway ready to serve: checked, with its database open.
pub struct Server {
    listener: TcpListener,
    app: Router,
    /// Its history, whose change streams end when it stops.
    history: History,
    /// Days a run stays in the trash (`--trash-days`).
    trash_days: u32,
    /// Its experiment worker, started with it and stopped with it.
    workers: Workers,
    /// Where it listens.
    pub address: SocketAddr,
    /// The access token generated at start, when one was required and none
    /// was given: shown once, to the person who started it.
    pub generated_token: Option<String>,
    /// Whether a token was given (`--token`), so the API needs it.
    pub token_given: bool,
    /// What a person should know (see [`Settings::warnings`]).
    pub warnings: Vec<String>,
    /// Where synced runs are kept (a path or a URL without its password).
    pub history_location: String,
}

/// Why the gateway did not start. Its `Display` is the message a person
/// reads at the terminal.
#[derive(Debug)]
pub enum StartError {
    /// The configuration cannot be served: nothing was created.
    Config(ConfigError),
    /// The history database cannot be opened.
    History(String),
    /// The listener failed.
    Io(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Config(error) => error.fmt(f),
            StartError::History(message) => f.write_str(message),
            StartError::Io(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for StartError {}

impl From<ConfigError> for StartError {
    fn from(error: ConfigError) -> StartError {
        StartError::Config(error)
    }
}

/// Checks `config` for serving on `listener` and opens its history
/// database; the server is not answering yet (see [`Server::run`]).
pub async fn start(listener: TcpListener, mut config: GatewayConfig) -> Result<Server, StartError> {
    let address = listener.local_addr().map_err(StartError::Io)?;
    // Only now are the port (when 0 was asked for), and so the allowed
    // Host, known.
    let generated_token = config.settle(address);
    let token_given = config.token.is_some() && generated_token.is_none();
    // Every setting checked before the database is touched: a first start
    // creates it, and a refused start should leave nothing behind.
    let trash_days = config.trash_days;
    let settings = Settings::from_config(config)?;
    let history = History::open(settings.config())
        .await
        .map_err(StartError::History)?;
    let warnings = settings.warnings();
    let (app, workers) = router_with_workers(settings, history.clone());
    Ok(Server {
        listener,
        address,
        generated_token,
        token_given,
        warnings,
        history_location: history.location().to_owned(),
        app,
        history,
        trash_days,
        workers,
    })
}

impl Server {
    /// Prints what a person starting it needs: on stdout, first, the line
    /// tools read the address from (`prompt-runs gateway listening on
    /// http://ADDR`), then how to open it with its token; on stderr, the
    /// warnings and where synced runs are kept.
    pub fn announce(&self) {
        let address = self.address;
        println!("prompt-runs gateway listening on http://{address}");
        for warning in &self.warnings {
            eprintln!("prompt-runs gateway: {warning}");
        }
        // From everywhere (0.0.0.0), this machine still reaches it on loopback.
        let open = if address.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], address.port())).to_string()
        } else {
            address.to_string()
        };
        if let Some(token) = &self.generated_token {
            println!("the API needs an access token: open http://{open}/?token={token}");
        } else if self.token_given {
            println!("the API needs the access token given with --token: open http://{open}/?token=<that token>");
        }
        // On stderr: tools that read the address may close stdout after it.
        eprintln!(
            "prompt-runs gateway: runs synced to this gateway are kept in {}",
            self.history_location
        );
    }

    /// Answers until `stopped` completes (then finishes the requests under
    /// way) or the listener fails.
    pub async fn run(
        self,
        stopped: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The peer's address identifies clients for the per-minute limit.
        let service = self.app.into_make_service_with_connect_info::<SocketAddr>();
        let history = self.history;
        // Kept until the server stops; dropping it stops the worker.
        let _workers = self.workers;
        tokio::spawn(empty_expired_trash(history.clone(), self.trash_days));
        // Change streams never end by themselves: they are ended, so that
        // the requests under way can finish.
        let stopped = async move {
            stopped.await;
            history.feed().close();
        };
        axum::serve(self.listener, service)
            .with_graceful_shutdown(stopped)
            .await
    }
}

/// Empties the trash of runs put there more than `days` ago, at start and
/// every hour, while the gateway runs. Every gateway on a database does it;
/// a second emptying of the same run changes nothing.
async fn empty_expired_trash(history: History, days: u32) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3_600));
    loop {
        every_hour.tick().await;
        let now = prompt_runs::model::Timestamp::now()
            .unix_millis()
            .unwrap_or(0);
        let before = prompt_runs::model::Timestamp::from_unix_millis(
            now - i64::from(days) * 24 * 3_600 * 1_000,
        );
        match history.expire_trash(before).await {
            Ok(0) => {}
            Ok(emptied) => tracing::info!(emptied, days, "emptied the trash of expired runs"),
            Err(error) => {
                tracing::warn!(%error, "could not empty the expired trash; trying again in an hour")
            }
        }
    }
}

/// Starts, announces and serves `config` on `listener` until the process
/// ends, as the binary does (without its Ctrl-C handling); an error at once
/// if the configuration cannot be used or the database cannot be opened.
pub async fn serve(listener: TcpListener, config: GatewayConfig) -> std::io::Result<()> {
    let server = start(listener, config)
        .await
        .map_err(std::io::Error::other)?;
    server.announce();
    server.run(std::future::pending()).await
}
