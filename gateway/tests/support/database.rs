//! Real databases for the sync tests: a SQLite file in a temporary
//! directory, or a fresh database on the PostgreSQL server that `cargo xtask
//! test` starts (its URL in `PROMPT_RUNS_TEST_POSTGRES_URL`). Never a mock.

use prompt_runs_gateway::history::open::Location;
use prompt_runs_gateway::History;
use sqlx::Connection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Where `cargo xtask test` says its PostgreSQL server is.
pub const POSTGRES_URL_ENV: &str = "PROMPT_RUNS_TEST_POSTGRES_URL";

/// Which engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The URL of the tests' PostgreSQL server. Fails, saying how to get one,
/// when there is none: a PostgreSQL test never passes without PostgreSQL.
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_URL_ENV).unwrap_or_else(|_| {
        panic!(
            "{POSTGRES_URL_ENV} is not set, and the PostgreSQL tests need a real server: run with `cargo xtask test` \
             (it starts PostgreSQL), or `cargo xtask with-postgres cargo test -p prompt-runs-gateway --test sync`"
        )
    })
}

/// A database of one test's own, empty until a [`History`] opens it.
pub struct TestDatabase {
    pub location: Location,
    /// The SQLite file's directory, deleted when dropped.
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A fresh database on `engine`.
    pub async fn new(engine: Engine) -> TestDatabase {
        match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                TestDatabase {
                    location: Location::Sqlite(dir.path().join("history.sqlite3")),
                    _dir: Some(dir),
                }
            }
            Engine::Postgres => TestDatabase {
                location: Location::Postgres(fresh_postgres_database().await),
                _dir: None,
            },
        }
    }

    /// Opens it as a gateway does at start (migrations and all), waiting at
    /// most `timeout` for the database.
    pub async fn open_within(&self, timeout: Duration) -> Result<History, String> {
        History::open_at(&self.location, timeout).await
    }

    /// Opens it as a gateway does at start.
    pub async fn open(&self) -> History {
        self.open_within(Duration::from_secs(5))
            .await
            .expect("the test database opens")
    }

    /// The gateway's flags that name this database.
    pub fn flags(&self) -> Vec<String> {
        match &self.location {
            Location::Sqlite(path) => vec![
                "--data-dir".to_owned(),
                path.parent().unwrap().display().to_string(),
            ],
            Location::Postgres(url) => vec!["--database-url".to_owned(), url.clone()],
        }
    }

    /// A connection of the test's own, to look behind the gateway's back.
    pub async fn connect(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match &self.location {
            Location::Sqlite(path) => format!("sqlite://{}", path.display()),
            Location::Postgres(url) => url.clone(),
        };
        sqlx::AnyConnection::connect(&url)
            .await
            .expect("a connection to the test database")
    }
}

/// A new, empty database on the tests' PostgreSQL server; its URL.
async fn fresh_postgres_database() -> String {
    static CREATED: AtomicUsize = AtomicUsize::new(0);
    let server = postgres_url();
    sqlx::any::install_default_drivers();
    let name = format!(
        "sync_test_{}_{}",
        std::process::id(),
        CREATED.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::AnyConnection::connect(&server)
        .await
        .unwrap_or_else(|error| panic!("cannot reach the tests' PostgreSQL at {server}: {error}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("a new database");
    let _ = admin.close().await;
    let mut url = url::Url::parse(&server).expect("the server's URL");
    url.set_path(&name);
    url.to_string()
}

/// Each case, once on each engine: `on_both_engines!(case, …)` makes the
/// tests `sqlite::case` and `postgres::case`, calling `case(Engine::…)` of
/// the test file (which imports `Engine`).
#[allow(unused_macros)] // test files that run on one engine do not use it
macro_rules! on_both_engines {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Engine::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Engine::Postgres).await
                }
            )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_engines;
