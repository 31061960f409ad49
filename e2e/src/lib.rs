//! The harness that the end-to-end tests (`tests/`) and the start-up
//! benchmark (`benches/startup.rs`) share: a built app served by the gateway
//! on loopback, chromedriver, and a headless Chromium session driven through
//! WebDriver (fantoccini), with Chrome DevTools commands where WebDriver has
//! none. This package exists so that these heavy dependencies stay out of
//! the app and the gateway.

pub mod history;
mod page;

pub use page::{
    assert_fits_sideways, assert_headings_in_order, click, evaluate, find, save_screenshot,
    set_viewport, viewport, wait_for_answer, wait_for_text,
};

use clap::Parser;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use prompt_runs_gateway::GatewayConfig;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The workspace's root directory (where `dist/` is built).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e package sits in the workspace")
        .to_path_buf()
}

/// Serves the built app in `static_dir` and the API with the offline models
/// on a free loopback port, with the gateway's extra command-line `flags`;
/// returns its URL. Each call is its own origin (its own port), so its own
/// localStorage and IndexedDB.
pub async fn start_gateway(static_dir: &Path, flags: &[&str]) -> String {
    let config = gateway_config(static_dir, flags);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free loopback port");
    let url = format!("http://{}", listener.local_addr().expect("a bound address"));
    tokio::spawn(prompt_runs_gateway::serve(listener, config));
    url
}

/// The gateway's configuration for [`start_gateway`] and [`Gateway::start`].
fn gateway_config(static_dir: &Path, flags: &[&str]) -> GatewayConfig {
    assert!(
        static_dir.join("index.html").is_file(),
        "{} has no built app: run `trunk build --release` (cargo xtask test and bench do)",
        static_dir.display()
    );
    let static_dir = static_dir.to_str().expect("a UTF-8 path");
    // `serve` opens the history database too: one of this gateway's own, not
    // the person's (a few kilobytes left in the temporary directory), unless
    // the flags name one.
    static GATEWAYS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let data = std::env::temp_dir().join(format!(
        "prompt-runs-e2e-{}-{}",
        std::process::id(),
        GATEWAYS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let data = data.to_str().expect("a UTF-8 path").to_owned();
    let mut args = vec!["prompt-runs-gateway", "--static-dir", static_dir];
    if !flags
        .iter()
        .any(|flag| *flag == "--data-dir" || *flag == "--database-url")
    {
        args.extend(["--data-dir", &data]);
    }
    GatewayConfig::parse_from(args.iter().chain(flags))
}

/// A gateway a test stops, as a person stops the server: [`start_gateway`]'s
/// serves until the test process ends.
pub struct Gateway {
    /// Where it listens.
    pub url: String,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Serves `static_dir` as [`start_gateway`] does, the same way as the
    /// binary (`prompt_runs_gateway::serve`), but with a way to stop.
    pub async fn start(static_dir: &Path, flags: &[&str]) -> Gateway {
        let config = gateway_config(static_dir, flags);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free loopback port");
        let address = listener.local_addr().expect("a bound address");
        let server = prompt_runs_gateway::start(listener, config)
            .await
            .expect("a valid configuration and history database");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Gateway {
            url: format!("http://{address}"),
            stop,
            serving,
        }
    }

    /// Stops listening and closes its connections (a kept-alive one would
    /// go on answering); returns once nothing answers on its port.
    pub async fn stop(self) {
        let Gateway {
            url,
            stop,
            mut serving,
        } = self;
        let _ = stop.send(());
        // Idle connections close at once, open ones when their answer ends.
        if tokio::time::timeout(Duration::from_secs(5), &mut serving)
            .await
            .is_err()
        {
            serving.abort();
            eprintln!("the gateway did not stop within 5 s: an answer was still open");
        }
        let port = url.rsplit(':').next().expect("a port");
        assert!(
            tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
                .await
                .is_err(),
            "the stopped gateway still accepts connections"
        );
    }
}

/// A running chromedriver; killed when dropped.
pub struct Chromedriver {
    _process: Child,
    /// Where it listens.
    pub url: String,
}

/// Starts chromedriver (`CHROMEDRIVER`, else the one on `PATH`) on a free
/// port and waits until it listens.
pub async fn start_chromedriver() -> Chromedriver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    let program = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned());
    let process = Command::new(&program)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("could not start {program}: {error}"));
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Chromedriver {
                _process: process,
                url,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start listening on {url}");
}

/// A WebDriver session with headless Chromium, its profile in `profile`,
/// with Chromium's extra command-line `flags`.
pub async fn headless_chromium(driver_url: &str, profile: &Path, flags: &[&str]) -> Client {
    // The workspace enables two rustls crypto backends (the gateway's reqwest
    // and fantoccini pick different ones), so rustls cannot choose: pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--no-first-run".to_owned(),
        "--window-size=1280,1100".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    args.extend(flags.iter().map(|flag| flag.to_string()));
    let capabilities = serde_json::json!({ "goog:chromeOptions": { "args": args } });
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(capabilities.as_object().expect("an object").clone())
        .connect(driver_url)
        .await
        .expect("WebDriver session with headless Chromium")
}

/// An end-to-end test's browser: headless Chromium through a chromedriver
/// of its own, with a fresh profile under the test's work directory
/// (`prompt-runs-e2e-<name>-<pid>` in the temporary directory, emptied first).
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    _driver: Chromedriver,
    work: PathBuf,
}

impl Browser {
    /// Starts one for test `name`, with Chromium's extra command-line `flags`.
    pub async fn start(name: &str, flags: &[&str]) -> Browser {
        let work =
            std::env::temp_dir().join(format!("prompt-runs-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).expect("a work directory in the temporary directory");
        let driver = start_chromedriver().await;
        let client = headless_chromium(&driver.url, &work.join("profile"), flags).await;
        Browser {
            client,
            _driver: driver,
            work,
        }
    }

    /// The test's work directory, for files it writes beside the profile.
    pub fn work_dir(&self) -> &Path {
        &self.work
    }

    /// Ends the session and removes the work directory.
    pub async fn close(self) {
        // A handle to the same session; Drop then finds nothing left to stop.
        let _ = self.client.clone().close().await;
    }
}

/// A test that fails never reaches [`Browser::close`]; its chromedriver is
/// killed, but the Chromium it started would outlive it, orphaned, busy on a
/// machine shared by the next tests. Best effort: Chromium is found by its
/// profile directory, which is this test's own.
impl Drop for Browser {
    fn drop(&mut self) {
        let profile = self.work.join("profile");
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(profile.as_os_str())
            .status();
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// Sends a Chrome DevTools Protocol command (`method`, e.g.
/// `"Runtime.getHeapUsage"`, with `params`) to the session's page through
/// chromedriver, which WebDriver itself cannot do; returns its result.
pub async fn devtools(
    browser: &Client,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value, fantoccini::error::CmdError> {
    browser
        .issue_cmd(DevToolsCommand(
            serde_json::json!({ "cmd": method, "params": params }),
        ))
        .await
}

/// chromedriver's `goog/cdp/execute` endpoint, with its body.
#[derive(Debug)]
struct DevToolsCommand(serde_json::Value);

impl WebDriverCompatibleCommand for DevToolsCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session.unwrap_or_default();
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}
