//! Straight to the providers (`--providers FILE`): the gateway itself,
//! started inside this process on a loopback port of its own, with that
//! providers file and nothing else, and talked to by the same client as a
//! gateway elsewhere ([`Gateway`]).
//!
//! Why the gateway and not a second way to the providers: its adapters,
//! its reading of keys from the environment, its caps per provider
//! (`max_concurrent`, `requests_per_minute`), its retries and its answers
//! (usage, cost, timings, errors in words) are then the very code a gateway
//! runs, and the store's runner paces on its 429s as on any gateway's. The
//! price is a loopback connection per request, well under a provider's
//! answer time.
//!
//! What only this process may reach: the gateway listens on 127.0.0.1
//! only, its API needs a token made up at start and known to this process
//! alone, and it serves no pages. It keeps no history (no database is
//! opened) and holds this process to no per-minute limit of its own (the
//! providers' own limits still hold). Its other settings are the gateway's
//! defaults: no `PROMPT_RUNS_*` variable but the providers file's applies
//! (the keys are read from the variables the file names).

use crate::gateway::Gateway;
use clap::{CommandFactory, FromArgMatches};
use prompt_runs_gateway::providers::ProviderSettings;
use prompt_runs_gateway::{router, GatewayConfig, Settings};
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The gateway serving a providers file inside this process, until dropped.
pub struct InProcessGateway {
    client: Gateway,
    server: JoinHandle<()>,
}

impl InProcessGateway {
    /// Checks the providers file at `file` as the gateway checks it at
    /// start (the file's line and the reason when it cannot be used; every
    /// key's variable must be set) and serves it on a free loopback port.
    /// Its client waits at most `timeout` for an answer to start and asks
    /// for streamed answers when `streaming`. Nothing is sent to a provider
    /// here.
    pub async fn start(
        file: &Path,
        timeout: Duration,
        streaming: bool,
    ) -> Result<InProcessGateway, String> {
        let token = prompt_runs_gateway::access::generate_token();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|error| format!("cannot listen on loopback: {error}"))?;
        let address = listener
            .local_addr()
            .map_err(|error| format!("cannot listen on loopback: {error}"))?;
        let mut config = config(file, &token)?;
        // The Host the client sends is this address: settled as the
        // gateway's start settles it.
        config.settle(address);
        let settings = Settings::from_config(config).map_err(|error| error.to_string())?;
        let scope = cache_scope(settings.providers());
        let app = router(settings, None);
        let server = tokio::spawn(async move {
            let service = app.into_make_service_with_connect_info::<SocketAddr>();
            // It ends with the process; a listener that fails makes the
            // requests fail, and they say so.
            let _ = axum::serve(listener, service).await;
        });
        let client = Gateway::new(
            &format!("http://{address}"),
            Some(token),
            timeout,
            streaming,
        )?
        .named(format!("the providers file {}", file.display()), scope);
        Ok(InProcessGateway { client, server })
    }

    /// The client to it: the store's executor, and where prices and limits
    /// come from.
    pub fn client(&self) -> &Gateway {
        &self.client
    }
}

impl Drop for InProcessGateway {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The gateway's configuration for `file`: its flags' defaults (none read
/// from the environment), the providers file, the token, no per-minute
/// limit, and no pages.
fn config(file: &Path, token: &str) -> Result<GatewayConfig, String> {
    let no_pages = no_pages(file);
    let flags: [OsString; 11] = [
        "prompt-runs-gateway".into(),
        "--addr".into(),
        "127.0.0.1:0".into(),
        "--providers".into(),
        file.into(),
        "--token".into(),
        token.into(),
        "--requests-per-minute".into(),
        "0".into(),
        "--static-dir".into(),
        no_pages.into(),
    ];
    // Without the environment: only the providers file was asked for, not
    // whatever else a shell exported for a gateway (another upstream, a
    // per-minute limit, the test models).
    let command = GatewayConfig::command().mut_args(|arg| arg.env(None::<&str>));
    let matches = command
        .try_get_matches_from(flags)
        .map_err(|error| format!("the gateway's settings: {error}"))?;
    GatewayConfig::from_arg_matches(&matches)
        .map_err(|error| format!("the gateway's settings: {error}"))
}

/// A directory that cannot exist, for the gateway's pages: under the
/// providers file itself, which is a file (a directory named there is
/// refused when it is read). The gateway then serves no page, and so none
/// of this directory's files.
fn no_pages(file: &Path) -> std::path::PathBuf {
    file.join("no-pages")
}

/// What the request cache keys answers by: each provider by name, kind and
/// address, which decide who answers a model id. Not the port, which
/// changes from run to run, nor the key, which must not reach the disk.
fn cache_scope(providers: &[ProviderSettings]) -> String {
    let mut scope = "providers".to_owned();
    for provider in providers {
        scope += &format!(
            " {}={}@{}",
            provider.name,
            provider.kind.as_str(),
            provider.base_url
        );
    }
    scope
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_is_told_only_the_file_whatever_the_environment_says() {
        // What a shell might export for a gateway. Only this test reads
        // these variables, so setting them races with no other.
        std::env::set_var("PROMPT_RUNS_UPSTREAM_URL", "http://127.0.0.1:9/v1");
        std::env::set_var("PROMPT_RUNS_REQUESTS_PER_MINUTE", "5");
        std::env::set_var("PROMPT_RUNS_TEST_MODELS", "true");
        let config = config(Path::new("providers.toml"), "t0ken").unwrap();
        assert_eq!(
            config.providers.as_deref(),
            Some(Path::new("providers.toml"))
        );
        assert_eq!(config.token.as_deref(), Some("t0ken"));
        assert_eq!(config.requests_per_minute, 0, "no limit of its own");
        assert!(config.upstream_url.is_none(), "no other upstream");
        assert!(!config.test_models, "no test models");
        assert_eq!(config.static_dir, Path::new("providers.toml/no-pages"));
    }
}
