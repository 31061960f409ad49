//! Who may use the gateway. Three rules, each against a different caller:
//!
//! - **Host** (against DNS rebinding): a page on `evil.example` whose name is
//!   made to resolve to 127.0.0.1 reaches the gateway as same-origin, so CORS
//!   does not stop it; but its requests say `Host: evil.example`. Only the
//!   names this gateway is really reached by are accepted: `localhost`,
//!   `127.0.0.1`, `[::1]` and the listening address (with the listening
//!   port), and those given with `--allow-host`.
//! - **Origin** (against other web pages): a browser names the page behind
//!   every cross-origin request, and behind any POST. Only the gateway's own
//!   pages and the origins given with `--allow-origin` are answered; others
//!   get 403, preflight or not, so that even requests that need no preflight
//!   (a `text/plain` POST) run nothing. Requests without `Origin` (curl,
//!   scripts, same-origin navigations) pass: no browser omits it when a page
//!   of another origin sends the request.
//! - **Token** (against anything else that can reach the port: other users
//!   of the machine, or of the network when listening beyond loopback): every
//!   `/api` request carries `Authorization: Bearer <token>` when one is
//!   required (see [`GatewayConfig::token_required`]). The static app needs
//!   none: it is public, and it is how a person gets the token into a page
//!   (`/?token=…`, as Jupyter does).

use crate::people::People;
use crate::problem::Problem;
use crate::GatewayConfig;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use url::Url;

/// The rules of one gateway, built from its configuration.
pub struct Access {
    /// Where the gateway listens (its port is the one loopback names need).
    listening: SocketAddr,
    /// The `--allow-host` names.
    extra_hosts: Vec<AllowedHost>,
    /// The `--allow-origin` origins.
    origins: AllowedOrigins,
    /// The access token, when one is required.
    token: Option<String>,
    /// The per-person tokens (`--tokens`).
    people: People,
}

/// Who sent a request, as its token says: a person of the tokens file, or
/// no one in particular (the shared token, or none required). Put in the
/// request's extensions by [`require_token`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Person(pub Option<String>);

/// A name given with `--allow-host`: on any port, or on one.
struct AllowedHost {
    name: String,
    port: Option<u16>,
}

enum AllowedOrigins {
    /// `*`: every origin.
    Any,
    /// These, besides the gateway's own.
    Only(Vec<url::Origin>),
}

impl Access {
    /// The rules for `config`, whose `addr` is the address actually bound
    /// (see [`GatewayConfig::settle`]). Fails, naming the flag, on a value
    /// that is not an origin or a host, on an empty token, and when a token
    /// is required but none was settled.
    pub fn new(config: &GatewayConfig) -> Result<Access, String> {
        let listening: SocketAddr = config.addr.parse().map_err(|_| {
            format!(
                "--addr {} is not an IP address with a port, e.g. 127.0.0.1:8000",
                config.addr
            )
        })?;
        let extra_hosts = config
            .allow_hosts
            .iter()
            .map(|host| parse_allowed_host(host))
            .collect::<Result<_, _>>()?;
        let origins = if config
            .allow_origins
            .iter()
            .any(|origin| origin.trim() == "*")
        {
            AllowedOrigins::Any
        } else {
            AllowedOrigins::Only(
                config
                    .allow_origins
                    .iter()
                    .map(|origin| parse_allowed_origin(origin))
                    .collect::<Result<_, _>>()?,
            )
        };
        let token = match &config.token {
            Some(token) if token.trim().is_empty() => {
                return Err("--token is empty: give a token of at least a few characters, or none to have one generated".to_owned())
            }
            Some(token) => Some(token.clone()),
            None if config.token_required(listening) && config.tokens.is_none() => {
                return Err(format!(
                    "an access token is required when listening on {listening} or with an upstream key: pass --token (the gateway's binary generates one)"
                ))
            }
            None => None,
        };
        let people = match &config.tokens {
            Some(path) => People::read(path)?,
            None => People::default(),
        };
        Ok(Access {
            listening,
            extra_hosts,
            origins,
            token,
            people,
        })
    }

    /// What a person should know at start: that `*` lets every page in, and
    /// that beyond loopback nothing is encrypted.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let AllowedOrigins::Any = self.origins {
            warnings.push("warning: --allow-origin * lets every web page you open call this gateway (and spend its upstream key); use it only for tests".to_owned());
        }
        if !self.listening.ip().is_loopback() {
            warnings.push(format!(
                "warning: listening on {}, other machines can reach the gateway, and its requests (the token, the prompts) are not encrypted: to share it, put a reverse proxy with TLS in front",
                self.listening
            ));
        }
        warnings
    }

    /// Whether a request with `host` (its Host header) may be answered; a
    /// refusal names the host and the flag that would allow it.
    fn check_host(&self, host: Option<&str>) -> Result<(), Problem> {
        // No Host at all: not a browser (browsers always send it), so not
        // DNS rebinding, which needs one.
        let Some(host) = host else { return Ok(()) };
        let parsed = parse_host(host, "http");
        if let Some((name, port)) = &parsed {
            let loopback_names = ["localhost", "127.0.0.1", "[::1]"];
            let own_name =
                loopback_names.contains(&name.as_str()) || *name == host_name(self.listening);
            if own_name && *port == self.listening.port() {
                return Ok(());
            }
            let extra = self.extra_hosts.iter().any(|allowed| {
                allowed.name == *name && allowed.port.is_none_or(|allowed| allowed == *port)
            });
            if extra {
                return Ok(());
            }
        }
        let why = if self.listening.ip().is_unspecified() {
            format!(
                "the gateway listens on {} and cannot know every name of this machine",
                self.listening
            )
        } else {
            format!("the gateway listens on {}", self.listening)
        };
        Err(Problem::new(
            StatusCode::FORBIDDEN,
            format!(
                "Host {host} is not allowed ({why}; a page reaching it by another name may be a DNS rebinding attack): \
                 if this is a name of this machine, start the gateway with --allow-host {}",
                parsed.map_or(host.to_owned(), |(name, _)| name)
            ),
        ))
    }

    /// Whether a page of `origin` may call the gateway, reached as `host`:
    /// its own pages (same scheme-less authority as `host`) and the allowed
    /// origins may.
    pub fn allows_origin(&self, origin: &HeaderValue, host: Option<&str>) -> bool {
        if let AllowedOrigins::Any = self.origins {
            return true;
        }
        let Some(origin) = origin.to_str().ok().and_then(parse_origin) else {
            return false;
        };
        // The scheme may be https behind a TLS proxy that forwards the Host:
        // the page is then still this gateway's own.
        let own = host
            .and_then(|host| Url::parse(&format!("{}://{host}/", origin.scheme())).ok())
            .is_some_and(|url| url.origin() == origin.origin());
        own || matches!(&self.origins, AllowedOrigins::Only(allowed) if allowed.contains(&origin.origin()))
    }

    /// Whether `authorization` (the header) carries the token, when one is
    /// required; compared in constant time, so that timing does not tell
    /// how much of a guess was right.
    fn check_token(&self, authorization: Option<&HeaderValue>) -> Result<Person, Problem> {
        if self.token.is_none() && self.people.is_empty() {
            return Ok(Person(None));
        }
        let how = "open the address the gateway printed when it started (…/?token=…), paste the token in the app's Settings, \
                   or send it as `Authorization: Bearer <token>`";
        // The scheme's name is case-insensitive (RFC 9110).
        let given = authorization
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .and_then(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer").then_some(token));
        match given {
            None => Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                format!("this gateway needs its access token: {how}"),
            )),
            Some(given)
                if self.token.as_ref().is_some_and(|token| {
                    bool::from(given.trim().as_bytes().ct_eq(token.as_bytes()))
                }) =>
            {
                Ok(Person(None))
            }
            Some(given) if self.people.holder(given.trim()).is_some() => {
                Ok(Person(self.people.holder(given.trim()).map(str::to_owned)))
            }
            Some(_) => Err(Problem::new(
                StatusCode::UNAUTHORIZED,
                format!("the access token is wrong: {how}"),
            )),
        }
    }

    /// Whether `authorization` carries the required access token (false
    /// when none is required: then no one holds it).
    pub fn is_token_holder(&self, authorization: Option<&HeaderValue>) -> bool {
        (self.token.is_some() || !self.people.is_empty()) && self.check_token(authorization).is_ok()
    }
}

/// The Host a request with `headers` was sent to `uri`: its `Host` header
/// (one that is not text reads as U+FFFD, which no rule allows), or, in
/// HTTP/2, the authority of its URI.
pub fn request_host<'r>(headers: &'r HeaderMap, uri: &'r Uri) -> Option<&'r str> {
    headers
        .get(header::HOST)
        .map(|host| host.to_str().unwrap_or("\u{fffd}"))
        .or_else(|| uri.authority().map(|authority| authority.as_str()))
}

/// Middleware: refuses a request whose Host or Origin is not allowed, with
/// 403 and a `detail` naming it and the flag that would allow it. Runs
/// first, so that a refused request reaches nothing else.
pub async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let host = request_host(request.headers(), request.uri());
    if let Err(problem) = access.check_host(host) {
        return problem.into_response();
    }
    let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
        return next.run(request).await;
    };
    if access.allows_origin(&origin, host) {
        return next.run(request).await;
    }
    let shown = origin.to_str().unwrap_or("(not text)");
    let mut refusal = Problem::new(
        StatusCode::FORBIDDEN,
        format!(
            "pages of {shown} may not call this gateway: if you trust that origin, start the gateway with --allow-origin {shown}"
        ),
    )
    .into_response();
    // A request that needed no preflight is refused all the same; letting
    // the refused page read why (and only why) costs nothing and turns a
    // silent network error into a message a person can act on.
    if request.method() != Method::OPTIONS {
        refusal
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
    refusal
}

/// Middleware for `/api`: refuses a request without the access token (when
/// one is required) with 401 and a `detail` saying how to get it.
pub async fn require_token(
    State(access): State<Arc<Access>>,
    request: Request,
    next: Next,
) -> Response {
    let mut request = request;
    match access.check_token(request.headers().get(header::AUTHORIZATION)) {
        Ok(person) => {
            request.extensions_mut().insert(person);
            next.run(request).await
        }
        Err(problem) => problem.into_response(),
    }
}

/// A fresh access token: 128 random bits from the operating system, as 32
/// hex digits (easy to paste, and safe in a URL).
pub fn generate_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).expect("the operating system's random number generator");
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// How `listening` appears in a Host header: `127.0.0.1`, `[::1]`.
fn host_name(listening: SocketAddr) -> String {
    match listening {
        SocketAddr::V4(address) => address.ip().to_string(),
        SocketAddr::V6(address) => format!("[{}]", address.ip()),
    }
}

/// A Host header as (lower-case name, port), the port defaulting to the
/// scheme's; `None` for anything that is not a bare `name[:port]`.
fn parse_host(host: &str, scheme: &str) -> Option<(String, u16)> {
    let bare = host
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b".-_:[]".contains(&byte));
    if !bare || host.is_empty() {
        return None;
    }
    let url = Url::parse(&format!("{scheme}://{host}/")).ok()?;
    Some((url.host_str()?.to_owned(), url.port_or_known_default()?))
}

/// An `Origin` header as a URL, if it is one (`null` is not).
fn parse_origin(origin: &str) -> Option<Url> {
    let url = Url::parse(origin).ok()?;
    matches!(url.scheme(), "http" | "https")
        .then_some(())
        .and(url.host_str())
        .map(|_| url.clone())
}

fn parse_allowed_origin(origin: &str) -> Result<url::Origin, String> {
    let origin = origin.trim();
    match parse_origin(origin) {
        Some(url) if url.path() == "/" && url.query().is_none() && url.fragment().is_none() => {
            Ok(url.origin())
        }
        _ => Err(format!(
            "--allow-origin {origin} is not an origin: write it as scheme://host[:port], e.g. http://127.0.0.1:8080"
        )),
    }
}

fn parse_allowed_host(host: &str) -> Result<AllowedHost, String> {
    let host = host.trim();
    let refused = || {
        format!("--allow-host {host} is not a host name: write it as name or name:port, e.g. my-laptop.local or 192.168.1.20:8000")
    };
    let (name, _) = parse_host(host, "http").ok_or_else(refused)?;
    // An explicit port limits the name to it; without one, any port: behind
    // a proxy the Host is the proxy's, whose port the gateway cannot know,
    // and the name is what DNS rebinding cannot fake.
    let port = match host.rsplit_once(':') {
        Some((before, port)) if !before.contains(':') || before.ends_with(']') => {
            Some(port.parse::<u16>().map_err(|_| refused())?)
        }
        _ => None,
    };
    Ok(AllowedHost { name, port })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn access(args: &[&str]) -> Access {
        let mut all = vec!["gw"];
        all.extend_from_slice(args);
        Access::new(&GatewayConfig::parse_from(all)).unwrap()
    }

    #[test]
    fn loopback_names_with_the_listening_port_and_allowed_hosts_pass() {
        let access = access(&[
            "--addr",
            "127.0.0.1:8000",
            "--allow-host",
            "box.local,10.0.0.5:9000",
        ]);
        for host in [
            "localhost:8000",
            "127.0.0.1:8000",
            "[::1]:8000",
            "LOCALHOST:8000",
            "box.local",
            "box.local:1234",
            "10.0.0.5:9000",
        ] {
            assert!(access.check_host(Some(host)).is_ok(), "{host}");
        }
        for host in [
            "localhost:8001",
            "evil.example:8000",
            "10.0.0.5:8000",
            "localhost",
            "a/b",
            "",
            "evil.example",
        ] {
            let refused = access.check_host(Some(host)).unwrap_err();
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{host}");
            assert!(
                refused.detail.contains("--allow-host"),
                "{}",
                refused.detail
            );
        }
        assert!(access.check_host(None).is_ok());
    }

    #[test]
    fn port_80_may_be_left_out() {
        let access = access(&["--addr", "127.0.0.1:80"]);
        assert!(access.check_host(Some("localhost")).is_ok());
        assert!(access.check_host(Some("localhost:80")).is_ok());
    }

    #[test]
    fn listening_everywhere_needs_names_to_be_allowed_and_says_so() {
        let access = access(&["--addr", "0.0.0.0:8000", "--token", "t"]);
        assert!(access.check_host(Some("127.0.0.1:8000")).is_ok());
        let refused = access.check_host(Some("192.168.1.20:8000")).unwrap_err();
        assert!(
            refused
                .detail
                .contains("cannot know every name of this machine")
                && refused.detail.contains("--allow-host 192.168.1.20"),
            "{}",
            refused.detail
        );
    }

    #[test]
    fn own_and_allowed_origins_pass_others_do_not() {
        let access = access(&["--allow-origin", "http://127.0.0.1:8080/"]);
        let allows = |origin: &str, host: Option<&str>| {
            access.allows_origin(&HeaderValue::from_str(origin).unwrap(), host)
        };
        assert!(allows("http://127.0.0.1:8000", Some("127.0.0.1:8000")));
        assert!(allows("http://localhost:8000", Some("localhost:8000")));
        assert!(
            allows("https://localhost:8000", Some("localhost:8000")),
            "behind a TLS proxy"
        );
        assert!(allows("http://127.0.0.1:8080", Some("127.0.0.1:8000")));
        assert!(!allows("http://127.0.0.1:8081", Some("127.0.0.1:8000")));
        assert!(!allows("https://evil.example", Some("127.0.0.1:8000")));
        assert!(
            !allows("http://localhost:8000", Some("127.0.0.1:8000")),
            "another origin, same machine"
        );
        assert!(!allows("null", Some("127.0.0.1:8000")));
        assert!(!allows("http://127.0.0.1:8000", None));
    }

    #[test]
    fn bad_flags_are_refused_naming_them() {
        let refused = |args: &[&str]| {
            let mut all = vec!["gw"];
            all.extend_from_slice(args);
            Access::new(&GatewayConfig::parse_from(all)).err().unwrap()
        };
        assert!(refused(&["--allow-origin", "127.0.0.1:8080"])
            .starts_with("--allow-origin 127.0.0.1:8080 is not an origin"));
        assert!(refused(&["--allow-origin", "http://x.test/app"]).contains("is not an origin"));
        assert!(
            refused(&["--allow-host", "x/y"]).starts_with("--allow-host x/y is not a host name")
        );
        assert!(refused(&["--token", " "]).starts_with("--token is empty"));
        assert!(refused(&["--addr", "0.0.0.0:8000"]).contains("an access token is required"));
    }

    #[test]
    fn the_token_is_checked_exactly() {
        let access = access(&["--token", "s3cret"]);
        let header = |value: &str| HeaderValue::from_str(value).unwrap();
        assert!(access.check_token(Some(&header("Bearer s3cret"))).is_ok());
        assert!(access.check_token(Some(&header("bearer s3cret"))).is_ok());
        assert!(access.is_token_holder(Some(&header("Bearer s3cret"))));
        assert!(!access.is_token_holder(Some(&header("Bearer nope"))));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
        ] {
            let refused = access.check_token(Some(&header(wrong))).unwrap_err();
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{wrong}");
        }
        assert!(access
            .check_token(None)
            .unwrap_err()
            .detail
            .contains("needs its access token"));
    }

    #[test]
    fn generated_tokens_are_32_hex_digits_and_differ() {
        let (one, two) = (generate_token(), generate_token());
        assert_eq!(one.len(), 32);
        assert!(one.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_ne!(one, two);
    }
}
