//! `prompt-runs-gateway`: serve the app, the offline models and, when
//! configured, an OpenAI-compatible upstream.

use clap::Parser;
use prompt_runs_gateway::{router, GatewayConfig};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = GatewayConfig::parse();
    // Refuse to start on a configuration that cannot be used, before listening.
    let app = match router(config.clone()) {
        Ok(app) => app,
        Err(problem) => {
            eprintln!("prompt-runs gateway: {problem}");
            return ExitCode::from(2);
        }
    };
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
    match listener.local_addr() {
        Ok(address) => println!("prompt-runs gateway listening on http://{address}"),
        Err(error) => eprintln!("prompt-runs gateway: {error}"),
    }
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match axum::serve(listener, app)
        .with_graceful_shutdown(stopped)
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("prompt-runs gateway: {error}");
            ExitCode::FAILURE
        }
    }
}
