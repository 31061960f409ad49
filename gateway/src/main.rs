//! `prompt-runs-gateway`: serve the app, the offline models and, when
//! configured, an OpenAI-compatible upstream; keep runs for browsers to
//! sync, in SQLite or PostgreSQL.

use clap::Parser;
use prompt_runs_gateway::{logging, start, GatewayConfig};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = GatewayConfig::parse();
    logging::init();
    let listener = match tokio::net::TcpListener::bind(&config.addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "prompt-runs gateway: cannot listen on {}: {error}",
                config.addr
            );
            return ExitCode::from(2);
        }
    };
    // The same start as the tests': a configuration that cannot be used is
    // refused before the history database is touched.
    let server = match start(listener, config).await {
        Ok(server) => server,
        Err(problem) => {
            eprintln!("prompt-runs gateway: {problem}");
            return ExitCode::from(2);
        }
    };
    server.announce();
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match server.run(stopped).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("prompt-runs gateway: {error}");
            ExitCode::FAILURE
        }
    }
}
