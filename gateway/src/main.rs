//! `prompt-runs-gateway`: serve the app, the offline models and, when
//! configured, an OpenAI-compatible upstream; keep runs for browsers to
//! sync, in SQLite or PostgreSQL.

use clap::Parser;
use prompt_runs_gateway::{logging, start, GatewayConfig};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("token") => return token_command(&args[1..]),
        Some(command @ ("backup" | "restore")) => return backup_command(command, &args[1..]).await,
        _ => {}
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

/// `backup --out FILE [flags]` and `restore FILE [flags]`: the history
/// database the flags name (`--database-url`, `--data-dir`, as when
/// serving) written to FILE, or FILE restored into it (which must be empty).
async fn backup_command(command: &str, args: &[String]) -> ExitCode {
    let usage = "usage: prompt-runs-gateway backup --out FILE [--database-url URL | --data-dir DIR]\n       prompt-runs-gateway restore FILE [--database-url URL | --data-dir DIR]";
    let mut rest: Vec<String> = vec!["prompt-runs-gateway".to_owned()];
    let mut file = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match (command, arg.as_str()) {
            ("backup", "--out") => file = args.next().cloned(),
            ("restore", path) if file.is_none() && !path.starts_with('-') => {
                file = Some(path.to_owned())
            }
            _ => rest.push(arg.clone()),
        }
    }
    let Some(file) = file else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let config = match GatewayConfig::try_parse_from(rest) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}\n{usage}");
            return ExitCode::from(2);
        }
    };
    logging::init();
    let history = match prompt_runs_gateway::History::open(&config).await {
        Ok(history) => history,
        Err(error) => {
            eprintln!("prompt-runs gateway: {error}");
            return ExitCode::from(2);
        }
    };
    let done = match command {
        "backup" => match std::fs::File::create(&file) {
            Ok(out) => {
                let mut out = std::io::BufWriter::new(out);
                history.backup(&mut out).await
            }
            Err(error) => Err(format!("{file} cannot be created: {error}")),
        },
        _ => match std::fs::File::open(&file) {
            Ok(input) => history.restore(std::io::BufReader::new(input)).await,
            Err(error) => Err(format!("{file} cannot be read: {error}")),
        },
    };
    history.close().await;
    match done {
        Ok(summary) => {
            let verb = if command == "backup" {
                "backed up to"
            } else {
                "restored from"
            };
            println!(
                "{} workspace(s), {} run(s) and deletions {verb} {file}",
                summary.workspaces, summary.rows
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("prompt-runs gateway: {error}");
            ExitCode::FAILURE
        }
    }
}
