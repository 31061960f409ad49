//! `prompt-runs-gateway`: serve the app and the offline models.

use clap::Parser;
use prompt_runs_gateway::{serve, GatewayConfig};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = GatewayConfig::parse();
    let listener = tokio::net::TcpListener::bind(&config.addr).await?;
    println!(
        "prompt-runs gateway listening on http://{}",
        listener.local_addr()?
    );
    serve(listener, config).await
}
