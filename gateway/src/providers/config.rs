//! The providers file (`--providers FILE`, TOML) and the one-provider
//! shortcut (`--upstream-url`), read into [`ProviderSettings`]. A file
//! that cannot be used is refused at start with its line and the reason.
//!
//! ```toml
//! [[providers]]
//! name = "anthropic"                 # the prefix of its model ids: anthropic/claude-…
//! kind = "anthropic"                 # openai | anthropic | gemini | ollama
//! base_url = "https://api.anthropic.com"   # optional: the kind's public API
//! api_key_env = "ANTHROPIC_API_KEY"  # the variable holding the key; never the key itself
//! models = ["claude-haiku-4-5"]      # optional: else the provider's own model list
//! max_concurrent = 8                 # optional: requests at once (16); more wait for a turn
//! queue_timeout_seconds = 120        # optional: the longest wait for a turn, then 429 (--upstream-queue-timeout)
//! requests_per_minute = 50           # optional: none by default
//! timeout_seconds = 120              # optional: longest silence (--upstream-timeout)
//! retries = 2                        # optional: tries after the first (2)
//! max_tokens = 4096                  # optional: sent when a request sets none (Anthropic needs one)
//! [providers.prices]                 # optional: as a --prices file, for this provider's models
//! "claude-haiku-4-5" = { input_per_million = 1.0, output_per_million = 5.0, cached_input_per_million = 0.10, cache_write_per_million = 1.25 }
//! ```
//!
//! Keys are only ever read from the environment variable the file names:
//! a key written in the file is refused (without repeating it), and the
//! key's value appears in no message, log or answer ([`ApiKey`] prints as
//! `***`).

use crate::prices::PriceTable;
use crate::GatewayConfig;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// Requests at once to one provider when the file does not say.
pub const DEFAULT_MAX_CONCURRENT: usize = 16;
/// Tries after the first, on 429, 5xx and overload, when the file does not say.
pub const DEFAULT_RETRIES: u32 = 2;
/// The `max_tokens` sent when a request sets none: Anthropic's API needs one.
pub const DEFAULT_MAX_TOKENS: u32 = 4_096;
/// The name of the `--upstream-url` shortcut's provider (in logs and
/// `GET /api/v1/providers`; its model ids carry no prefix).
pub const UPSTREAM_NAME: &str = "upstream";
/// Longest provider name: it prefixes every model id.
const MAX_NAME_CHARS: usize = 32;

/// Which API a provider speaks: each is a native adapter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// OpenAI's chat completions, and every server that speaks them (vLLM,
    /// llama.cpp, LM Studio, OpenRouter, Groq, Together, Mistral, DeepSeek).
    Openai,
    /// Anthropic's Messages API.
    Anthropic,
    /// Google's Gemini API (`generateContent`).
    Gemini,
    /// Ollama's own API (`/api/chat`), which reports the server's timings.
    Ollama,
}

impl Kind {
    /// The kind's name, as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Openai => "openai",
            Kind::Anthropic => "anthropic",
            Kind::Gemini => "gemini",
            Kind::Ollama => "ollama",
        }
    }

    /// Where the kind's public API is, when the file gives no `base_url`.
    fn default_base_url(self) -> &'static str {
        match self {
            Kind::Openai => "https://api.openai.com/v1",
            Kind::Anthropic => "https://api.anthropic.com",
            Kind::Gemini => "https://generativelanguage.googleapis.com/v1beta",
            Kind::Ollama => "http://localhost:11434",
        }
    }
}

/// A provider's API key: sent to the provider only. Its `Debug` is `***`,
/// and it has no `Display`, so that no message can carry it by mistake.
#[derive(Clone, PartialEq)]
pub struct ApiKey(String);

impl ApiKey {
    /// The key, to put in the request's header (and nowhere else).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// One provider, checked.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Its name, the prefix of its model ids (`anthropic/claude-…`).
    pub name: String,
    /// Whether its model ids carry the prefix: every provider of the file
    /// does; the `--upstream-url` shortcut does not (its ids stay as they
    /// were before there were providers).
    pub prefixed: bool,
    /// The API it speaks.
    pub kind: Kind,
    /// Where (without a trailing `/`).
    pub base_url: String,
    /// Its key, when it needs one.
    pub key: Option<ApiKey>,
    /// The models to offer; empty: those it lists.
    pub models: Vec<String>,
    /// Its prices: the gateway's table with the provider's own laid over.
    pub prices: PriceTable,
    /// Most requests at once; more wait for a turn, up to `queue_timeout`.
    pub max_concurrent: usize,
    /// The longest wait for a turn; then 429.
    pub queue_timeout: Duration,
    /// Most requests per minute (0: no limit); more are answered 429.
    pub requests_per_minute: u32,
    /// The longest silence allowed, before and during an answer.
    pub timeout: Duration,
    /// Tries after the first, on 429, 5xx and overload.
    pub retries: u32,
    /// `max_tokens` when a request sets none.
    pub max_tokens: u32,
}

/// Why a providers file cannot be used: the file, the line (when the
/// problem has one) and the reason.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvidersFileError {
    /// The file.
    pub path: PathBuf,
    /// The line, from 1.
    pub line: Option<usize>,
    /// What is wrong, and what to do.
    pub reason: String,
}

impl fmt::Display for ProvidersFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "providers file {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    providers: Vec<Spanned<Entry>>,
}

/// One `[[providers]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Spanned<String>,
    kind: Kind,
    base_url: Option<Spanned<String>>,
    api_key_env: Option<Spanned<String>>,
    /// Only to refuse it, by name and line, without repeating it.
    api_key: Option<Spanned<toml::Value>>,
    models: Option<Spanned<Vec<String>>>,
    prices: Option<Spanned<BTreeMap<String, serde_json::Value>>>,
    max_concurrent: Option<Spanned<usize>>,
    queue_timeout_seconds: Option<u64>,
    requests_per_minute: Option<u32>,
    timeout_seconds: Option<Spanned<u64>>,
    retries: Option<Spanned<u32>>,
    max_tokens: Option<Spanned<u32>>,
}

/// Reads the providers of `config`: those of its `--providers` file, then
/// the `--upstream-url` shortcut. `prices` is the gateway's table, under
/// each provider's own. `env` reads an environment variable (the process's,
/// or a test's).
pub fn read(
    config: &GatewayConfig,
    prices: &PriceTable,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ProviderSettings>, ProvidersFileError> {
    let mut providers = match &config.providers {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| ProvidersFileError {
                path: path.clone(),
                line: None,
                reason: format!("cannot be read: {error}"),
            })?;
            parse(path, &text, config, prices, env)?
        }
        None => Vec::new(),
    };
    if let Some(url) = &config.upstream_url {
        providers.push(ProviderSettings {
            name: UPSTREAM_NAME.to_owned(),
            prefixed: false,
            kind: Kind::Openai,
            base_url: url.trim_end_matches('/').to_owned(),
            key: config
                .upstream_key
                .clone()
                .filter(|key| !key.is_empty())
                .map(ApiKey),
            models: config
                .upstream_models
                .iter()
                .filter(|id| !id.is_empty())
                .cloned()
                .collect(),
            prices: prices.clone(),
            max_concurrent: config.max_upstream_requests,
            queue_timeout: Duration::from_secs(config.upstream_queue_timeout),
            requests_per_minute: 0,
            timeout: Duration::from_secs(config.upstream_timeout),
            retries: DEFAULT_RETRIES,
            max_tokens: DEFAULT_MAX_TOKENS,
        });
    }
    Ok(providers)
}

/// Whether the providers file at `path` names a key: then the gateway
/// holds one, and its API needs the access token. A file that cannot be
/// read counts as naming one (it will be refused at start anyway).
pub fn names_a_key(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return true;
    };
    match toml::from_str::<File>(&text) {
        Ok(file) => file
            .providers
            .iter()
            .any(|entry| entry.get_ref().api_key_env.is_some()),
        Err(_) => true,
    }
}

/// The providers of the file at `path` whose text is `text`.
fn parse(
    path: &Path,
    text: &str,
    config: &GatewayConfig,
    prices: &PriceTable,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ProviderSettings>, ProvidersFileError> {
    let refuse = |at: Option<std::ops::Range<usize>>, reason: String| ProvidersFileError {
        path: path.to_owned(),
        line: at.map(|span| line_of(text, span.start)),
        reason,
    };
    let file: File =
        toml::from_str(text).map_err(|error| refuse(error.span(), error.message().to_owned()))?;
    if file.providers.is_empty() {
        return Err(refuse(
            None,
            "lists no providers: add a [[providers]] table with a name and a kind".to_owned(),
        ));
    }
    let mut checked: Vec<ProviderSettings> = Vec::with_capacity(file.providers.len());
    for entry in file.providers {
        let entry = entry.into_inner();
        let name_span = entry.name.span();
        let name = entry.name.into_inner();
        let name_ok = !name.is_empty()
            && name.chars().count() <= MAX_NAME_CHARS
            && name.bytes().all(|byte| {
                byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"-_.".contains(&byte)
            });
        if !name_ok {
            return Err(refuse(
                Some(name_span),
                format!("name {name:?} must be 1 to {MAX_NAME_CHARS} of a-z 0-9 - _ . (it prefixes model ids: {name}/model)"),
            ));
        }
        if name == UPSTREAM_NAME && config.upstream_url.is_some() {
            return Err(refuse(
                Some(name_span),
                format!("a provider is named {UPSTREAM_NAME:?}, the name of --upstream-url's provider, which is given too: rename it, or drop --upstream-url (PROMPT_RUNS_UPSTREAM_URL) and keep the file's"),
            ));
        }
        if checked.iter().any(|other| other.name == name) {
            return Err(refuse(
                Some(name_span),
                format!("two providers are named {name:?}: each name prefixes its model ids, so names must differ"),
            ));
        }
        if let Some(written) = entry.api_key {
            return Err(refuse(
                Some(written.span()),
                format!("provider {name} has an api_key: keys are never written in the file; put it in an environment variable and name that with api_key_env (e.g. api_key_env = \"{}_API_KEY\")", name.to_ascii_uppercase().replace(['-', '.'], "_")),
            ));
        }
        let base_url = match entry.base_url {
            Some(url) => {
                let span = url.span();
                let url = url.into_inner();
                match reqwest::Url::parse(&url) {
                    Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {}
                    _ => {
                        return Err(refuse(
                            Some(span),
                            format!(
                            "base_url {url:?} of provider {name} is not an http:// or https:// URL"
                        ),
                        ))
                    }
                }
                url
            }
            None => entry.kind.default_base_url().to_owned(),
        };
        let key = match entry.api_key_env {
            None => None,
            Some(variable) => {
                let span = variable.span();
                let variable = variable.into_inner();
                match env(&variable).filter(|value| !value.trim().is_empty()) {
                    Some(value) => Some(ApiKey(value.trim().to_owned())),
                    None => {
                        return Err(refuse(
                            Some(span),
                            format!("the environment variable {variable}, which should hold the key of provider {name}, is not set (or is empty)"),
                        ))
                    }
                }
            }
        };
        let models = match entry.models {
            None => Vec::new(),
            Some(models) if models.get_ref().iter().any(|model| model.trim().is_empty()) => {
                return Err(refuse(
                    Some(models.span()),
                    format!("provider {name} lists an empty model name"),
                ))
            }
            Some(models) => models.into_inner(),
        };
        let prices = match entry.prices {
            None => prices.clone(),
            Some(own) => {
                let span = own.span();
                prices.with_overrides(own.into_inner()).map_err(|problem| {
                    refuse(Some(span), format!("prices of provider {name}: {problem}"))
                })?
            }
        };
        let positive = |value: Option<Spanned<usize>>, what: &str, default: usize| match value {
            None => Ok(default),
            Some(value) if *value.get_ref() > 0 => Ok(value.into_inner()),
            Some(value) => Err(refuse(
                Some(value.span()),
                format!("{what} of provider {name} must be 1 or more"),
            )),
        };
        let max_concurrent = positive(
            entry.max_concurrent,
            "max_concurrent",
            DEFAULT_MAX_CONCURRENT,
        )?;
        let timeout = positive(
            entry
                .timeout_seconds
                .map(|value| Spanned::new(value.span(), *value.get_ref() as usize)),
            "timeout_seconds",
            config.upstream_timeout as usize,
        )?;
        let max_tokens = positive(
            entry
                .max_tokens
                .map(|value| Spanned::new(value.span(), *value.get_ref() as usize)),
            "max_tokens",
            DEFAULT_MAX_TOKENS as usize,
        )?;
        let retries = match entry.retries {
            Some(retries) if *retries.get_ref() > 10 => {
                return Err(refuse(
                    Some(retries.span()),
                    format!("retries of provider {name} is at most 10"),
                ))
            }
            Some(retries) => retries.into_inner(),
            None => DEFAULT_RETRIES,
        };
        checked.push(ProviderSettings {
            name,
            prefixed: true,
            kind: entry.kind,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            models,
            prices,
            max_concurrent,
            queue_timeout: Duration::from_secs(
                entry
                    .queue_timeout_seconds
                    .unwrap_or(config.upstream_queue_timeout),
            ),
            requests_per_minute: entry.requests_per_minute.unwrap_or(0),
            timeout: Duration::from_secs(timeout as u64),
            retries,
            max_tokens: max_tokens as u32,
        });
    }
    Ok(checked)
}

/// The line (from 1) holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const SECRET: &str = "sk-ant-very-secret";

    fn env(name: &str) -> Option<String> {
        (name == "ANTHROPIC_API_KEY").then(|| SECRET.to_owned())
    }

    fn parsed(text: &str) -> Result<Vec<ProviderSettings>, ProvidersFileError> {
        let config = GatewayConfig::parse_from(["gw"]);
        parse(
            Path::new("providers.toml"),
            text,
            &config,
            &PriceTable::builtin(),
            &env,
        )
    }

    #[test]
    fn a_file_of_four_providers_is_read_with_defaults() {
        let providers = parsed(
            r#"
[[providers]]
name = "openai"
kind = "openai"

[[providers]]
name = "anthropic"
kind = "anthropic"
api_key_env = "ANTHROPIC_API_KEY"
models = ["claude-haiku-4-5"]
max_concurrent = 4
requests_per_minute = 50
retries = 3

[[providers]]
name = "google"
kind = "gemini"

[[providers]]
name = "local"
kind = "ollama"
base_url = "http://127.0.0.1:11434/"
timeout_seconds = 600
"#,
        )
        .unwrap();
        let names: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["openai", "anthropic", "google", "local"]);
        let anthropic = &providers[1];
        assert_eq!(anthropic.kind, Kind::Anthropic);
        assert_eq!(anthropic.base_url, "https://api.anthropic.com");
        assert_eq!(anthropic.key.as_ref().map(ApiKey::expose), Some(SECRET));
        assert_eq!(anthropic.models, ["claude-haiku-4-5"]);
        assert_eq!(
            (
                anthropic.max_concurrent,
                anthropic.requests_per_minute,
                anthropic.retries
            ),
            (4, 50, 3)
        );
        assert_eq!(
            providers[2].base_url,
            "https://generativelanguage.googleapis.com/v1beta"
        );
        assert_eq!(providers[3].base_url, "http://127.0.0.1:11434");
        assert_eq!(providers[3].timeout, Duration::from_secs(600));
        assert_eq!(providers[0].max_concurrent, DEFAULT_MAX_CONCURRENT);
        assert_eq!(
            providers[0].queue_timeout,
            Duration::from_secs(120),
            "--upstream-queue-timeout's default"
        );
        assert!(providers.iter().all(|p| p.prefixed));
        assert!(
            !format!("{providers:?}").contains(SECRET),
            "the key never prints"
        );
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line_and_reason() {
        let cases = [
            ("[[providers]]\nname = \"a\"\nkind = \"cohere\"\n", 3, "unknown variant `cohere`"),
            ("[[providers]]\nname = \"a\"\n", 1, "missing field `kind`"),
            ("[[providers]]\nname = \"a\"\nkind = \"openai\"\nmodel = [\"x\"]\n", 4, "unknown field `model`"),
            ("[[providers]]\nname = \"A b\"\nkind = \"openai\"\n", 2, "must be 1 to 32 of a-z"),
            ("[[providers]]\nname = \"a\"\nkind = \"openai\"\n[[providers]]\nname = \"a\"\nkind = \"gemini\"\n", 5, "two providers are named \"a\""),
            ("[[providers]]\nname = \"a\"\nkind = \"openai\"\napi_key_env = \"NOT_SET_ANYWHERE\"\n", 4, "NOT_SET_ANYWHERE, which should hold the key of provider a, is not set"),
            ("[[providers]]\nname = \"a\"\nkind = \"openai\"\nbase_url = \"ftp://x\"\n", 4, "is not an http:// or https:// URL"),
            ("[[providers]]\nname = \"a\"\nkind = \"openai\"\nmax_concurrent = 0\n", 4, "max_concurrent of provider a must be 1 or more"),
            ("[[providers]]\nname = \"a\"\nkind = \"openai\"\n[providers.prices]\nm = { input_per_million = -1.0, output_per_million = 1.0 }\n", 4, "prices of provider a: the price of m must be 0 or more"),
            ("[[providers]\nname = \"a\"\n", 1, ""),
        ];
        for (text, line, reason) in cases {
            let error = parsed(text).unwrap_err();
            assert_eq!(error.line, Some(line), "{text}: {error}");
            assert!(error.reason.contains(reason), "{text}: {error}");
            assert!(
                error
                    .to_string()
                    .starts_with(&format!("providers file providers.toml, line {line}: ")),
                "{error}"
            );
        }
        assert!(parsed("")
            .unwrap_err()
            .reason
            .contains("lists no providers"));
    }

    #[test]
    fn a_provider_named_upstream_is_refused_only_beside_upstream_url() {
        let text =
            "[[providers]]\nname = \"upstream\"\nkind = \"openai\"\nqueue_timeout_seconds = 5\n";
        let alone = parsed(text).unwrap();
        assert_eq!(alone[0].queue_timeout, Duration::from_secs(5));
        let config = GatewayConfig::parse_from(["gw", "--upstream-url", "http://127.0.0.1:9/v1"]);
        let error = parse(
            Path::new("providers.toml"),
            text,
            &config,
            &PriceTable::builtin(),
            &env,
        )
        .unwrap_err();
        assert_eq!(error.line, Some(2), "{error}");
        assert!(
            error
                .reason
                .contains("the name of --upstream-url's provider"),
            "{error}"
        );
    }

    #[test]
    fn a_key_written_in_the_file_is_refused_without_repeating_it() {
        let error = parsed(&format!(
            "[[providers]]\nname = \"anthropic\"\nkind = \"anthropic\"\napi_key = \"{SECRET}\"\n"
        ))
        .unwrap_err();
        assert_eq!(error.line, Some(4));
        assert!(
            error.reason.contains("api_key_env = \"ANTHROPIC_API_KEY\""),
            "{error}"
        );
        assert!(!error.to_string().contains(SECRET), "{error}");
    }
}
