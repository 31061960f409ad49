//! `prompt-runs-gateway`: serve the app, the offline models and, when
//! configured, an OpenAI-compatible upstream; keep runs for browsers to
//! sync, in SQLite or PostgreSQL.

use clap::Parser;
use prompt_runs_gateway::access::Access;
use prompt_runs_gateway::{router, GatewayConfig, History};
use std::net::SocketAddr;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = GatewayConfig::parse();
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
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(error) => {
            eprintln!("prompt-runs gateway: {error}");
            return ExitCode::from(2);
        }
    };
    // Only now are the port (when 0 was asked for) and so the allowed Host
    // known; a generated token is shown once, below.
    let generated = config.settle(address);
    let given_token = config.token.is_some() && generated.is_none();
    // Refuse to start on a configuration that cannot be used, before serving
    // and before touching the history database (a first start creates it):
    // building the app without it checks every flag.
    let warnings = match Access::new(&config)
        .and_then(|access| router(config.clone(), None).map(|_| access.warnings()))
    {
        Ok(warnings) => warnings,
        Err(problem) => {
            eprintln!("prompt-runs gateway: {problem}");
            return ExitCode::from(2);
        }
    };
    let history = match History::open(&config).await {
        Ok(history) => history,
        Err(problem) => {
            eprintln!("prompt-runs gateway: {problem}");
            return ExitCode::from(2);
        }
    };
    let location = history.location().to_owned();
    let app = match router(config.clone(), Some(history)) {
        Ok(app) => app,
        Err(problem) => {
            eprintln!("prompt-runs gateway: {problem}");
            return ExitCode::from(2);
        }
    };
    // Tools read the address from this first line (xtask's test gateway).
    println!("prompt-runs gateway listening on http://{address}");
    for warning in warnings {
        eprintln!("prompt-runs gateway: {warning}");
    }
    // From everywhere (0.0.0.0), this machine still reaches it on loopback.
    let open = if address.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], address.port())).to_string()
    } else {
        address.to_string()
    };
    if let Some(token) = generated {
        println!("the API needs an access token: open http://{open}/?token={token}");
    } else if given_token {
        println!("the API needs the access token given with --token: open http://{open}/?token=<that token>");
    }
    // On stderr: tools that read the address may close stdout after it.
    eprintln!("prompt-runs gateway: runs synced to this gateway are kept in {location}");
    let stopped = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    // The peer's address identifies clients for the per-minute limit.
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    match axum::serve(listener, service)
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
