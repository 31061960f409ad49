//! `prompt-runs-gateway`: serve the app, the offline models and, when
//! configured, an OpenAI-compatible upstream; keep runs for browsers to
//! sync, in SQLite or PostgreSQL.

use clap::Parser;
use prompt_runs_gateway::{logging, start, GatewayConfig};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("token") {
        return token_command(&args[1..]);
    }
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

/// `token add NAME`: prints a new token for NAME (to give them) and the
/// line to add to the `--tokens` file (which holds only its hash).
fn token_command(args: &[String]) -> ExitCode {
    let [add, name] = args else {
        eprintln!("usage: prompt-runs-gateway token add NAME");
        return ExitCode::from(2);
    };
    if add != "add" {
        eprintln!("usage: prompt-runs-gateway token add NAME");
        return ExitCode::from(2);
    }
    match prompt_runs_gateway::people::new_token_line(name) {
        Ok((token, line)) => {
            println!("token for {name} (give it to them; it is not stored): {token}");
            println!("line for the --tokens file:\n{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("prompt-runs gateway: {error}");
            ExitCode::from(2)
        }
    }
}
