//! Opening the history database at start: where it is (a SQLite file under
//! the data directory, or the PostgreSQL of `--database-url`), connecting,
//! and bringing its schema up to date with the embedded migrations. A
//! database upgraded by a newer gateway is refused, untouched.

use super::{Engine, History};
use crate::GatewayConfig;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Connection, SqlSafeStr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The SQLite file's name in the data directory.
pub const DATABASE_FILE: &str = "history.sqlite3";
/// The data directory's name in the platform's per-user data directory.
const DATA_DIR_NAME: &str = "prompt-runs";
/// Connections each gateway keeps. SQLite has one writer anyway; its readers
/// (in WAL mode) run beside it. PostgreSQL: several gateways share a server
/// (100 connections by default), so each takes a modest share.
const SQLITE_CONNECTIONS: u32 = 4;
const POSTGRES_CONNECTIONS: u32 = 8;

/// The schema, version by version: embedded in the binary, run at start in
/// order, each once (sqlx records them in `_sqlx_migrations`). Add new ones
/// at the end; never edit one that has shipped (its checksum is checked).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "sync runs",
        include_str!("migrations/0001_sync_runs.sql"),
    ),
    (2, "trash", include_str!("migrations/0002_trash.sql")),
    (
        3,
        "server experiments",
        include_str!("migrations/0003_server_experiments.sql"),
    ),
];

/// Where the history database is.
#[derive(Clone, Debug, PartialEq)]
pub enum Location {
    /// A SQLite file, created on first start.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its URL.
    Postgres(String),
}

impl Location {
    /// Where `config` says: `--database-url` when given, else the SQLite file
    /// in `--data-dir`, else in the per-user data directory.
    pub fn from_config(config: &GatewayConfig) -> Result<Location, String> {
        if let Some(url) = config
            .database_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
        {
            let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
            return match scheme {
                "postgres" | "postgresql" => Ok(Location::Postgres(url.trim().to_owned())),
                _ => Err(format!(
                    "--database-url {}: only PostgreSQL URLs (postgres://user:password@host/database) are taken; \
                     for SQLite, leave it out and give --data-dir",
                    shown_url(url)
                )),
            };
        }
        let dir = match &config.data_dir {
            Some(dir) => dir.clone(),
            None => default_data_dir(),
        };
        Ok(Location::Sqlite(dir.join(DATABASE_FILE)))
    }

    /// The location as a person should see it: a file's path, a URL without
    /// its password.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => shown_url(url),
        }
    }

    fn engine(&self) -> Engine {
        match self {
            Location::Sqlite(_) => Engine::Sqlite,
            Location::Postgres(_) => Engine::Postgres,
        }
    }

    /// The URL sqlx connects to; a SQLite file is created when missing.
    fn url(&self) -> Result<String, String> {
        match self {
            Location::Postgres(url) => Ok(url.clone()),
            Location::Sqlite(path) => {
                let absolute = std::path::absolute(path)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
                // As a file URL's path, percent-encoded: sqlx decodes it, so a
                // space, `?` or `#` in the path is read back as it was.
                let file = url::Url::from_file_path(&absolute)
                    .map_err(|()| format!("{} is not a file path", absolute.display()))?;
                Ok(format!("sqlite://{}?mode=rwc", file.path()))
            }
        }
    }
}

/// The platform's per-user data directory (`$XDG_DATA_HOME` or
/// `~/.local/share` on Linux) with `prompt-runs` in it; `./data` when the
/// platform has none.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().map_or_else(|| PathBuf::from("data"), |dir| dir.join(DATA_DIR_NAME))
}

/// `url` without its password, for messages and logs.
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// The embedded migrations, ready to run.
pub fn migrator() -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// The newest schema version this gateway knows.
pub fn known_schema() -> i64 {
    MIGRATIONS
        .iter()
        .map(|(version, ..)| *version)
        .max()
        .unwrap_or(0)
}

impl History {
    /// Opens the history database `config` names (see
    /// [`Location::from_config`]), waiting at most `--database-timeout` to
    /// connect. Fails with a message naming the database and what to do.
    pub async fn open(config: &GatewayConfig) -> Result<History, String> {
        let location = Location::from_config(config)?;
        History::open_at(&location, Duration::from_secs(config.database_timeout)).await
    }

    /// Opens the database at `location`: creates a SQLite file (and its
    /// directory) when missing, brings the schema up to date, and keeps a
    /// pool whose requests wait at most `timeout` for a connection.
    pub async fn open_at(location: &Location, timeout: Duration) -> Result<History, String> {
        sqlx::any::install_default_drivers();
        let shown = location.shown();
        let cannot = |error: &dyn std::fmt::Display| {
            format!("cannot open the history database at {shown}: {error}")
        };
        if let Location::Sqlite(path) = location {
            if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|error| {
                    format!(
                        "cannot create the data directory {}: {error} (choose another with --data-dir)",
                        dir.display()
                    )
                })?;
            }
        }
        let url = location.url().map_err(|error| cannot(&error))?;
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|error| cannot(&error))?
            .disable_statement_logging();
        // One connection first: its error says why (refused, wrong password,
        // no such database), where a pool would only say it timed out.
        let connection = tokio::time::timeout(timeout, AnyConnection::connect_with(&options))
            .await
            .map_err(|_| {
                cannot(&format!(
                    "no answer within {} s (--database-timeout)",
                    timeout.as_secs()
                ))
            })?
            .map_err(|error| cannot(&error))?;
        let _ = connection.close().await;
        let engine = location.engine();
        let connections = match engine {
            Engine::Sqlite => SQLITE_CONNECTIONS,
            Engine::Postgres => POSTGRES_CONNECTIONS,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(timeout)
            .connect_lazy_with(options);
        let mut prepared = migrate(&pool, &shown).await;
        if prepared.is_ok() && engine == Engine::Sqlite {
            // Readers beside the writer; set once, the file keeps it.
            prepared = sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map(drop)
                .map_err(|error| cannot(&error));
        }
        if let Err(problem) = prepared {
            pool.close().await;
            return Err(problem);
        }
        let history = History {
            pool,
            engine,
            location: shown,
            feed: Default::default(),
        };
        if let Location::Postgres(url) = location {
            // Other gateways' commits, on a connection of its own.
            tokio::spawn(super::feed::listen_postgres(history.clone(), url.clone()));
        }
        Ok(history)
    }
}

/// Runs the migrations this gateway does not find applied; refuses, changing
/// nothing, a database with migrations it does not know.
async fn migrate(pool: &AnyPool, shown: &str) -> Result<(), String> {
    let known = known_schema();
    match migrator().run(pool).await {
        Ok(()) => Ok(()),
        Err(MigrateError::VersionMissing(_)) => {
            let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
                .fetch_one(pool)
                .await
                .unwrap_or_default();
            let newest = newest.map_or_else(|| "unknown".to_owned(), |version| version.to_string());
            Err(format!(
                "the database at {shown} was upgraded by a newer prompt-runs gateway (schema {newest}, this one knows {known}); \
                 use that version or another database"
            ))
        }
        Err(MigrateError::VersionMismatch(version)) => Err(format!(
            "the database at {shown} has a schema version {version} that differs from this gateway's: \
             it was written by another build of prompt-runs; use that build or another database"
        )),
        Err(error) => Err(format!(
            "cannot bring the history database at {shown} up to date: {error}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn location(args: &[&str]) -> Result<Location, String> {
        let mut all = vec!["gw"];
        all.extend_from_slice(args);
        Location::from_config(&GatewayConfig::parse_from(all))
    }

    #[test]
    fn sqlite_in_the_data_dir_unless_a_postgres_url_is_given() {
        assert_eq!(
            location(&["--data-dir", "/srv/runs"]),
            Ok(Location::Sqlite(PathBuf::from("/srv/runs/history.sqlite3")))
        );
        assert_eq!(
            location(&[
                "--data-dir",
                "/srv/runs",
                "--database-url",
                "postgres://u:p@db/runs"
            ]),
            Ok(Location::Postgres("postgres://u:p@db/runs".to_owned()))
        );
        assert!(location(&[]).is_ok_and(|location| matches!(location, Location::Sqlite(path) if path.ends_with("prompt-runs/history.sqlite3") || path.ends_with("data/history.sqlite3"))));
    }

    #[test]
    fn other_urls_are_refused_and_passwords_never_shown() {
        let refused = location(&["--database-url", "mysql://root:hunter2@db/runs"]).unwrap_err();
        assert!(refused.contains("only PostgreSQL URLs"), "{refused}");
        assert!(!refused.contains("hunter2"), "{refused}");
        let shown = Location::Postgres("postgres://u:hunter2@db:5432/runs".to_owned()).shown();
        assert_eq!(shown, "postgres://u:***@db:5432/runs");
    }

    #[test]
    fn a_sqlite_path_becomes_a_url_sqlx_reads_back() {
        let url = Location::Sqlite(PathBuf::from("/tmp/a b#?/history.sqlite3"))
            .url()
            .unwrap();
        assert_eq!(url, "sqlite:///tmp/a%20b%23%3F/history.sqlite3?mode=rwc");
    }

    #[test]
    fn the_migrations_are_numbered_in_order() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|(version, ..)| *version).collect();
        assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>());
        assert_eq!(known_schema(), versions.len() as i64);
    }
}
