//! The gateway's settings, checked once: [`Settings::from_config`] turns
//! what it was told ([`GatewayConfig`]: flags, the environment, the files
//! they name) into what it runs on, or into a [`ConfigError`] that says
//! what is wrong and how to fix it. Everything after this (the router, the
//! server) takes `Settings` and cannot fail on configuration.

use crate::access::Access;
use crate::prices::PriceTable;
use crate::providers::config::{self as providers_file, ProviderSettings, ProvidersFileError};
use crate::GatewayConfig;
use std::fmt;
use std::sync::Arc;

/// A configuration that was checked and can be served.
#[derive(Clone)]
pub struct Settings {
    /// What the gateway was told, with the address it listens on settled.
    config: GatewayConfig,
    /// Who may use it.
    access: Arc<Access>,
    /// The price table: built in, with the price file laid over it.
    prices: PriceTable,
    /// The model providers: the providers file's, then `--upstream-url`'s.
    providers: Vec<ProviderSettings>,
}

/// Why a configuration cannot be served. Its `Display` is the message a
/// person reads: what is wrong, where, and the flag or file to fix.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    /// A flag about who may use the gateway (`--addr`, `--allow-origin`,
    /// `--allow-host`, `--token`) has a value that cannot be used, or a
    /// token is required and none was given.
    Access(String),
    /// The price file cannot be read or understood.
    Prices(String),
    /// The providers file cannot be read or used: its line and the reason.
    Providers(ProvidersFileError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Access(message) | ConfigError::Prices(message) => f.write_str(message),
            ConfigError::Providers(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Names only: the configuration holds the access token and keys.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let providers: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
        f.debug_struct("Settings")
            .field("addr", &self.config.addr)
            .field("providers", &providers)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Checks every part of `config` that can be wrong, in the order a
    /// person would fix them. `config.addr` must be the address actually
    /// listened on (see [`GatewayConfig::settle`]); nothing is opened or
    /// created here, so a refused configuration leaves no trace.
    pub fn from_config(config: GatewayConfig) -> Result<Settings, ConfigError> {
        let access = Access::new(&config).map_err(ConfigError::Access)?;
        let prices = match &config.prices {
            Some(path) => PriceTable::builtin_with_overrides(path).map_err(ConfigError::Prices)?,
            None => PriceTable::builtin(),
        };
        let env = |name: &str| std::env::var(name).ok();
        let providers =
            providers_file::read(&config, &prices, &env).map_err(ConfigError::Providers)?;
        Ok(Settings {
            config,
            access: Arc::new(access),
            prices,
            providers,
        })
    }

    /// What it was told.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Who may use it.
    pub(crate) fn access(&self) -> &Arc<Access> {
        &self.access
    }

    /// The price table.
    pub(crate) fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// The model providers, checked.
    pub fn providers(&self) -> &[ProviderSettings] {
        &self.providers
    }

    /// What a person should know at start (an origin rule that lets every
    /// page in, a listening address beyond loopback).
    pub fn warnings(&self) -> Vec<String> {
        self.access.warnings()
    }
}
