//! Who may use the gateway, and how much: each rule of `access` and `limits`
//! through the real router, allowed and refused, plus the binary generating
//! its token at start.

mod support;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use support::{gateway, send, Answer};

/// The gateway's own address in these tests (the default `--addr`).
const OWN: &str = "127.0.0.1:8000";
/// A page of another origin that was allowed (Trunk's dev server).
const TRUNK: &str = "http://127.0.0.1:8080";
const EVIL: &str = "https://evil.example";

fn execute_body() -> String {
    json!({"prompt": "Spend my key", "model_id": "offline-echo"}).to_string()
}

/// A request as a browser sends it to the gateway at [`OWN`].
fn request(method: Method, path: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, OWN)
}

fn preflight(origin: &str) -> Request<Body> {
    request(Method::OPTIONS, "/api/v1/workbench/execute")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,authorization",
        )
        .body(Body::empty())
        .unwrap()
}

fn json_post(origin: &str) -> Request<Body> {
    request(Method::POST, "/api/v1/workbench/execute")
        .header(header::ORIGIN, origin)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(execute_body()))
        .unwrap()
}

fn allowed_origin(answer: &Answer) -> Option<&str> {
    answer
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|value| value.to_str().unwrap())
}

#[tokio::test]
async fn the_gateways_own_pages_and_allowed_origins_may_call_it() {
    let app = || gateway(&["--allow-origin", TRUNK]);

    let answer = send(app(), preflight(TRUNK)).await;
    assert!(answer.status.is_success(), "{}", answer.status);
    assert_eq!(allowed_origin(&answer), Some(TRUNK));
    let header_list = |name| answer.headers[name].to_str().unwrap().to_ascii_lowercase();
    assert!(header_list(header::ACCESS_CONTROL_ALLOW_METHODS).contains("post"));
    let headers = header_list(header::ACCESS_CONTROL_ALLOW_HEADERS);
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "{headers}"
    );

    let answer = send(app(), json_post(TRUNK)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(allowed_origin(&answer), Some(TRUNK));
    assert!(
        answer.headers[header::ACCESS_CONTROL_EXPOSE_HEADERS]
            .to_str()
            .unwrap()
            .contains("retry-after"),
        "the app can read how long to wait"
    );

    // Its own page: the app the gateway serves, by either loopback name.
    for (origin, host) in [
        ("http://127.0.0.1:8000", OWN),
        ("http://localhost:8000", "localhost:8000"),
    ] {
        let mut own = json_post(origin);
        own.headers_mut()
            .insert(header::HOST, host.parse().unwrap());
        let answer = send(gateway(&[]), own).await;
        assert_eq!(answer.status, StatusCode::OK, "{origin}: {}", answer.body);
    }
}

#[tokio::test]
async fn other_origins_are_refused_preflight_or_not_and_told_how_to_be_allowed() {
    for app in [gateway(&[]), gateway(&["--allow-origin", TRUNK])] {
        let answer = send(app, preflight(EVIL)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert_eq!(allowed_origin(&answer), None);
        let detail = answer.detail();
        assert!(
            detail.contains(EVIL) && detail.contains(&format!("--allow-origin {EVIL}")),
            "{detail}"
        );
    }

    // Trunk's dev server only when allowed.
    let answer = send(gateway(&[]), preflight(TRUNK)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // A POST that needs no preflight (text/plain) runs nothing either.
    let simple = request(Method::POST, "/api/v1/workbench/execute")
        .header(header::ORIGIN, EVIL)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(execute_body()))
        .unwrap();
    let answer = send(gateway(&[]), simple).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert!(!answer.body.contains("output"), "{}", answer.body);
    // The refused page may read why, and only that.
    assert_eq!(allowed_origin(&answer), Some(EVIL));

    // Even a JSON POST sent without asking first.
    let answer = send(gateway(&[]), json_post(EVIL)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);

    // `null` (sandboxed frames, files) is not an origin anyone allowed.
    let answer = send(gateway(&[]), json_post("null")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn every_origin_only_when_explicitly_given_with_a_warning() {
    let answer = send(gateway(&["--allow-origin", "*"]), json_post(EVIL)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(allowed_origin(&answer), Some(EVIL));

    let config = clap::Parser::parse_from(["gw", "--allow-origin", "*"]);
    let access = prompt_runs_gateway::access::Access::new(&config).unwrap();
    let warnings = access.warnings();
    assert!(
        warnings.len() == 1 && warnings[0].contains("every web page"),
        "{warnings:?}"
    );
    let config = clap::Parser::parse_from(["gw", "--addr", "0.0.0.0:8000", "--token", "t"]);
    let warnings = prompt_runs_gateway::access::Access::new(&config)
        .unwrap()
        .warnings();
    assert!(warnings[0].contains("not encrypted"), "{warnings:?}");
}

#[tokio::test]
async fn requests_for_another_host_are_refused_as_dns_rebinding() {
    let to = |host: &str, path: &str| {
        Request::get(path)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap()
    };
    for path in ["/api/v1/models", "/"] {
        let answer = send(gateway(&[]), to("evil.example:8000", path)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
        let detail = answer.detail();
        assert!(
            detail.contains("Host evil.example:8000 is not allowed")
                && detail.contains("DNS rebinding")
                && detail.contains("--allow-host evil.example"),
            "{detail}"
        );
    }
    for host in ["127.0.0.1:8000", "localhost:8000", "[::1]:8000"] {
        let answer = send(gateway(&[]), to(host, "/api/v1/models")).await;
        assert_eq!(answer.status, StatusCode::OK, "{host}: {}", answer.body);
    }
    let answer = send(gateway(&[]), to("localhost:9999", "/api/v1/models")).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "another port");

    let named = gateway(&["--allow-host", "prompts.lan"]);
    let answer = send(named, to("prompts.lan", "/api/v1/models")).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

fn with_token(token: Option<&str>, path: &str) -> Request<Body> {
    let mut builder = request(Method::GET, path);
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn with_a_token_every_api_request_needs_it_and_the_app_itself_does_not() {
    let app = || gateway(&["--token", "s3cret-token"]);

    let missing = send(app(), with_token(None, "/api/v1/models")).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert!(
        missing.detail().contains("needs its access token") && missing.detail().contains("?token="),
        "{}",
        missing.detail()
    );
    let wrong = send(app(), with_token(Some("s3cret-tokeN"), "/api/v1/models")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.detail().contains("wrong"), "{}", wrong.detail());
    let right = send(app(), with_token(Some("s3cret-token"), "/api/v1/models")).await;
    assert_eq!(right.status, StatusCode::OK, "{}", right.body);

    let answer = send(app(), json_post("http://127.0.0.1:8000")).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let mut execute = json_post("http://127.0.0.1:8000");
    execute.headers_mut().insert(
        header::AUTHORIZATION,
        "Bearer s3cret-token".parse().unwrap(),
    );
    assert_eq!(send(app(), execute).await.status, StatusCode::OK);

    // The app is served without one: it is how the token gets into a page.
    let page = send(app(), with_token(None, "/")).await;
    assert_ne!(page.status, StatusCode::UNAUTHORIZED);
    // Browsers send no token with a preflight.
    let answer = send(
        gateway(&["--token", "s3cret-token", "--allow-origin", TRUNK]),
        preflight(TRUNK),
    )
    .await;
    assert!(answer.status.is_success(), "{}", answer.status);

    // Loopback without an upstream key: none needed.
    let open = send(gateway(&[]), with_token(None, "/api/v1/models")).await;
    assert_eq!(open.status, StatusCode::OK);
}

#[test]
fn a_token_is_required_with_an_upstream_key_or_beyond_loopback() {
    for args in [
        vec![
            "gw",
            "--upstream-url",
            "http://127.0.0.1:9/v1",
            "--upstream-key",
            "sk-1",
        ],
        vec!["gw", "--addr", "0.0.0.0:8000"],
        vec!["gw", "--addr", "192.168.1.20:8000"],
    ] {
        let refused = prompt_runs_gateway::Settings::from_config(clap::Parser::parse_from(&args))
            .err()
            .map(|error| error.to_string())
            .unwrap_or_else(|| panic!("{args:?} started without a token"));
        assert!(refused.contains("access token is required"), "{refused}");
    }
}

#[tokio::test]
async fn the_binary_generates_a_token_prints_the_url_to_open_and_requires_it() {
    let data = tempfile::tempdir().unwrap();
    let mut gateway = Command::new(env!("CARGO_BIN_EXE_prompt-runs-gateway"))
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "--addr",
            "127.0.0.1:0",
            "--upstream-url",
            "http://127.0.0.1:9/v1",
            "--upstream-key",
            "sk-never-sent",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(gateway.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    let base = first.rsplit(' ').next().unwrap().to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{first}");
    let open = second.rsplit(' ').next().unwrap();
    let token = open
        .strip_prefix(&format!("{base}/?token="))
        .unwrap_or_else(|| panic!("{second}"))
        .to_owned();
    assert_eq!(token.len(), 32, "{second}");

    let http = reqwest::Client::new();
    let models = format!("{base}/api/v1/models");
    let refused = http.get(&models).send().await.unwrap();
    let accepted = http.get(&models).bearer_auth(&token).send().await.unwrap();
    let _ = gateway.kill();
    let _ = gateway.wait();
    assert_eq!(refused.status(), 401);
    assert_eq!(accepted.status(), 200);
}

/// A GET from `peer`, as the real server records it.
fn from_peer(peer: [u8; 4]) -> Request<Body> {
    let mut request = with_token(None, "/api/v1/health");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 50_000))));
    request
}

#[tokio::test]
async fn a_client_over_its_rate_is_told_to_retry_after_a_while() {
    let app = gateway(&["--requests-per-minute", "2"]);
    for _ in 0..2 {
        let answer = send(app.clone(), from_peer([127, 0, 0, 1])).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let refused = send(app.clone(), from_peer([127, 0, 0, 1])).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=30).contains(&retry_after),
        "2 a minute: one more in 30 s at most, got {retry_after}"
    );
    let detail = refused.detail();
    assert!(
        detail.contains("--requests-per-minute")
            && detail.contains(&format!("try again in {retry_after} s")),
        "{detail}"
    );
    // Another client is counted apart.
    let other = send(app.clone(), from_peer([127, 0, 0, 2])).await;
    assert_eq!(other.status, StatusCode::OK);
    // The app itself is not counted.
    let page = send(app, with_token(None, "/")).await;
    assert_ne!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn with_a_token_its_holder_is_the_client_counted() {
    let app = gateway(&["--requests-per-minute", "1", "--token", "t0ken"]);
    let mut first = from_peer([127, 0, 0, 1]);
    let mut second = from_peer([127, 0, 0, 2]);
    for request in [&mut first, &mut second] {
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, "Bearer t0ken".parse().unwrap());
    }
    assert_eq!(send(app.clone(), first).await.status, StatusCode::OK);
    assert_eq!(
        send(app.clone(), second).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "one token, one allowance, whatever the address"
    );
    // Guesses are counted per address, so guessing is slow.
    let guess = || {
        let mut request = from_peer([127, 0, 0, 3]);
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, "Bearer guess".parse().unwrap());
        request
    };
    assert_eq!(
        send(app.clone(), guess()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(app, guess()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn execute_endpoints_take_only_json() {
    for path in [
        "/api/v1/workbench/execute",
        "/api/v1/workbench/execute/stream",
        "/api/v1/execute",
    ] {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            None,
        ] {
            let mut builder = request(Method::POST, path);
            if let Some(content_type) = content_type {
                builder = builder.header(header::CONTENT_TYPE, content_type);
            }
            let answer = send(
                gateway(&[]),
                builder.body(Body::from(execute_body())).unwrap(),
            )
            .await;
            assert_eq!(
                answer.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{path} {content_type:?}"
            );
            assert!(
                answer.detail().contains("Content-Type: application/json"),
                "{}",
                answer.detail()
            );
        }
    }
    let with_charset = request(Method::POST, "/api/v1/workbench/execute")
        .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(Body::from(execute_body()))
        .unwrap();
    assert_eq!(
        send(gateway(&[]), with_charset).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_given_up_with_504() {
    let hang = json!({"prompt": "x", "model_id": "offline-hang"}).to_string();
    let started = std::time::Instant::now();
    let answer = support::post(
        support::gateway(&["--test-models", "--request-timeout", "1"]),
        "/api/v1/workbench/execute",
        hang,
    )
    .await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        answer.detail().contains("--request-timeout"),
        "{}",
        answer.detail()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn the_gateway_says_its_limits_so_clients_can_plan_within_them() {
    let limits = |flags: &'static [&'static str]| async move {
        let answer = send(
            gateway(flags),
            with_token(None, prompt_runs::api::wire::LIMITS_PATH),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK);
        answer.json()
    };
    assert_eq!(
        limits(&["--requests-per-minute", "6"]).await,
        json!({"requests_per_minute": 6, "burst": 6, "max_request_bytes": 1_048_576})
    );
    assert_eq!(
        limits(&["--requests-per-minute", "0"]).await,
        json!({"max_request_bytes": prompt_runs_gateway::MAX_BODY_BYTES}),
        "no rate limit: none said"
    );
    // It is an API request like any other: counted against the rate.
    let app = gateway(&["--requests-per-minute", "1"]);
    let path = prompt_runs::api::wire::LIMITS_PATH;
    assert_eq!(
        send(app.clone(), with_token(None, path)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        send(app, with_token(None, path)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}
