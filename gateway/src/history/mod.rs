//! Runs kept on the server, per workspace, for the sync API: in SQLite (a
//! file under `--data-dir`, the default) or PostgreSQL (`--database-url`),
//! with one schema and the same SQL on both, through sqlx's `Any` pool.
//!
//! - [`open`] finds the database, runs the embedded migrations, and refuses
//!   a database a newer gateway has upgraded.
//! - [`merge`] is the merge rule; [`wire`] the JSON of the API.
//! - [`History::upload`] merges a batch in one transaction;
//!   [`History::changes`] reads the changes feed; [`feed`] tells the open
//!   change streams of every commit, from any gateway.
//! - [`experiments`] keeps the experiments run on the gateway and shares
//!   their cells out among the gateways' workers, with leases.
//!
//! **Why the feed never skips a commit.** Each workspace has a counter row
//! (`sync_counter`). An upload's first statement locks it (an upsert that
//! returns `last_seq`), and every run it changes gets the next numbers; the
//! counter moves on in the same transaction. So writers to one workspace take
//! turns, and the numbers are committed in increasing order: a reader that
//! has seen number `n` has seen every commit below it. This holds across
//! gateway processes too, because the lock is PostgreSQL's row lock (SQLite
//! has one writer at a time, taken at `BEGIN IMMEDIATE`). A run's row keeps
//! the number of its latest change only, so the feed holds the current state
//! of each id once.

pub mod backup;
pub mod experiments;
pub mod feed;
pub mod merge;
pub mod open;
pub mod wire;

use merge::Stored;
use prompt_runs::model::{PromptRun, Timestamp};
use serde_json::value::RawValue;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use wire::{Change, ChangesPage, Tombstone, Upload, UploadOutcome};

/// Rows written or read per statement: 100 rows of 5 values stay far below
/// both engines' limits on bound parameters, and save the round trips of
/// one statement per row.
const ROWS_PER_STATEMENT: usize = 100;

/// Which database engine holds the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// The history database: a pool of connections, cheap to clone.
#[derive(Clone)]
pub struct History {
    pool: AnyPool,
    engine: Engine,
    /// Where it is, for messages (a URL without its password).
    location: String,
    /// The commits this gateway knows of, for the change streams.
    feed: Arc<feed::Feed>,
}

/// Why the history could not be read or written.
#[derive(Debug, Clone, PartialEq)]
pub enum HistoryError {
    /// The database cannot be reached, or is busy beyond the timeout: nothing
    /// was changed; try again later (503).
    Unavailable(Fault),
    /// A `since` this server never issued (400).
    BadCursor(String),
    /// Anything else the database said (500); nothing was changed.
    Failed(Fault),
}

/// A failure inside the gateway, told twice: in words to the client (no
/// file path, no database code: issue #21 saw `…/history.sqlite3: error
/// returned from database: (code: 5) database is locked` in a browser),
/// and in full to the gateway's log.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// What the client is answered.
    pub answer: String,
    /// What the log gets: where, what the database said.
    pub detail: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Unavailable(fault) | HistoryError::Failed(fault) => {
                f.write_str(&fault.detail)
            }
            HistoryError::BadCursor(detail) => f.write_str(detail),
        }
    }
}

impl History {
    /// Which engine holds it.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Where it is: a SQLite file's URL, or a PostgreSQL URL without its password.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The commits this gateway knows of, for the change streams.
    pub fn feed(&self) -> &feed::Feed {
        &self.feed
    }

    /// Ends the change streams, then closes every connection (waiting for
    /// those in use to come back).
    pub async fn close(&self) {
        self.feed.close();
        self.pool.close().await;
    }

    /// Merges `upload` into `workspace` (see [`merge`]), in one transaction:
    /// all of it or, on any error, nothing.
    pub async fn upload(
        &self,
        workspace: &str,
        upload: Upload,
    ) -> Result<UploadOutcome, HistoryError> {
        self.upload_by(workspace, upload, None).await
    }

    /// [`History::upload`], sent by `by` (recorded as who put a run in the
    /// trash).
    pub async fn upload_by(
        &self,
        workspace: &str,
        upload: Upload,
        by: Option<&str>,
    ) -> Result<UploadOutcome, HistoryError> {
        let failed = |error| self.error("storing the upload", error);
        let mut tx = self
            .pool
            .begin_with(self.engine.begin_writing())
            .await
            .map_err(failed)?;
        // First, so that it waits for (and then excludes) any other writer
        // to this workspace, and the rows read below cannot change under us.
        let last_seq: i64 = sqlx::query_scalar(
            "INSERT INTO sync_counter (workspace, last_seq) VALUES ($1, 0) \
             ON CONFLICT (workspace) DO UPDATE SET last_seq = sync_counter.last_seq \
             RETURNING last_seq",
        )
        .bind(workspace)
        .fetch_one(&mut *tx)
        .await
        .map_err(failed)?;

        let mut stored = HashMap::new();
        for ids in upload.ids().chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {COLUMNS} FROM sync_runs WHERE workspace = $1 AND id IN ({})",
                placeholders(2, ids.len())
            );
            // Not kept prepared: see `persistent(false)` in `changes`.
            let mut query = sqlx::query(AssertSqlSafe(sql))
                .persistent(false)
                .bind(workspace);
            for id in ids {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *tx).await.map_err(failed)? {
                let (id, state) = self.stored(workspace, &row)?;
                stored.insert(id, state);
            }
        }

        let incoming = merge::Incoming {
            deleted: upload.deleted,
            runs: upload.runs,
            trash: upload.trash,
            by: by.map(str::to_owned),
        };
        let plan = merge::plan(stored, incoming);
        let mut rows = Vec::with_capacity(plan.writes.len());
        for (offset, (id, state)) in plan.writes.into_iter().enumerate() {
            let seq = last_seq + 1 + offset as i64;
            let (run, deleted_at, trash) = match state {
                Stored::Run(run, trash) => {
                    let json = serde_json::to_string(&run).map_err(|error| {
                        HistoryError::Failed(Fault {
                            answer: format!(
                                "run {id} cannot be written as JSON; nothing was changed"
                            ),
                            detail: format!("run {id} cannot be written as JSON: {error}"),
                        })
                    })?;
                    (Some(json), None, trash)
                }
                Stored::Deleted(tombstone) => (
                    None,
                    Some(tombstone.deleted_at.to_string()),
                    merge::Trash::default(),
                ),
            };
            rows.push((id, seq, run, deleted_at, trash));
        }
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let values = (0..chunk.len())
                .map(|row| format!("({})", placeholders(1 + row * 8, 8)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO sync_runs \
                 (workspace, id, seq, run, deleted_at, trashed_at, restored_at, trashed_by) VALUES {values} \
                 ON CONFLICT (workspace, id) DO UPDATE \
                 SET seq = excluded.seq, run = excluded.run, deleted_at = excluded.deleted_at, \
                 trashed_at = excluded.trashed_at, restored_at = excluded.restored_at, \
                 trashed_by = excluded.trashed_by"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (id, seq, run, deleted_at, trash) in chunk {
                query = query
                    .bind(workspace)
                    .bind(id.as_str())
                    .bind(*seq)
                    .bind(run.as_deref())
                    .bind(deleted_at.as_deref())
                    .bind(trash.trashed_at.as_ref().map(Timestamp::as_str))
                    .bind(trash.restored_at.as_ref().map(Timestamp::as_str))
                    .bind(trash.trashed_by.as_deref());
            }
            query.execute(&mut *tx).await.map_err(failed)?;
        }
        let cursor = last_seq + rows.len() as i64;
        if !rows.is_empty() {
            sqlx::query("UPDATE sync_counter SET last_seq = $2 WHERE workspace = $1")
                .bind(workspace)
                .bind(cursor)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            if self.engine == Engine::Postgres {
                // Delivered to every gateway's listener when (and only if)
                // this transaction commits. (`IS NULL`: the `Any` driver
                // reads no column of pg_notify's type, `void`.)
                sqlx::query("SELECT pg_notify($1, $2) IS NULL")
                    .bind(feed::CHANNEL)
                    .bind(feed::notification(workspace, cursor))
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
            }
        }
        tx.commit().await.map_err(failed)?;
        if !rows.is_empty() {
            self.feed.committed(self, workspace, cursor);
        }
        Ok(UploadOutcome {
            accepted: plan.accepted,
            unchanged: plan.unchanged,
            cursor: cursor.to_string(),
        })
    }

    /// Empties the trash of what was put there before `before` (and not
    /// restored since), in every workspace: each such run becomes a
    /// tombstone, as if someone had emptied the trash, through the same
    /// upload (so the feed and every browser learn it). How many runs.
    pub async fn expire_trash(&self, before: Timestamp) -> Result<usize, HistoryError> {
        let failed = |error| self.error("reading the trash", error);
        let cutoff = before.unix_millis().unwrap_or(i64::MIN);
        let rows = sqlx::query(
            "SELECT workspace, id, trashed_at, restored_at FROM sync_runs \
             WHERE trashed_at IS NOT NULL AND deleted_at IS NULL",
        )
        .persistent(false)
        .fetch_all(&self.pool)
        .await
        .map_err(failed)?;
        let mut expired: HashMap<String, Vec<Tombstone>> = HashMap::new();
        for row in rows {
            let instant = |column: &str| -> Result<Option<Timestamp>, HistoryError> {
                let text: Option<String> = row.try_get(column).map_err(failed)?;
                Ok(text.map(Timestamp::parse))
            };
            let trash = merge::Trash {
                trashed_at: instant("trashed_at")?,
                restored_at: instant("restored_at")?,
                trashed_by: None,
            };
            let old = trash
                .trashed_at
                .as_ref()
                .and_then(Timestamp::unix_millis)
                .is_some_and(|at| at < cutoff);
            if trash.holds() && old {
                let workspace: String = row.try_get("workspace").map_err(failed)?;
                expired.entry(workspace).or_default().push(Tombstone {
                    id: row.try_get("id").map_err(failed)?,
                    deleted_at: Timestamp::now(),
                });
            }
        }
        let mut emptied = 0;
        for (workspace, tombstones) in expired {
            for chunk in tombstones.chunks(wire::MAX_UPLOAD_ITEMS) {
                let upload = Upload {
                    deleted: chunk.to_vec(),
                    ..Upload::default()
                };
                emptied += self.upload(&workspace, upload).await?.accepted;
            }
        }
        Ok(emptied)
    }

    /// The changes to `workspace` committed after `since` (a cursor this
    /// server issued; `None` or empty: from the beginning), at most `limit`.
    pub async fn changes(
        &self,
        workspace: &str,
        since: Option<&str>,
        limit: usize,
    ) -> Result<ChangesPage, HistoryError> {
        let failed = |error| self.error("reading the changes", error);
        let since = parse_cursor(since)?;
        let last_seq: i64 =
            sqlx::query_scalar("SELECT last_seq FROM sync_counter WHERE workspace = $1")
                .bind(workspace)
                .fetch_optional(&self.pool)
                .await
                .map_err(failed)?
                .unwrap_or(0);
        if since > last_seq {
            return Err(HistoryError::BadCursor(format!(
                "since={since} is ahead of this workspace's changes (the last is {last_seq}): \
                 the server's database may have been replaced; read the changes again from the beginning (no since)"
            )));
        }
        // One more than asked, to know whether more follow. Planned afresh
        // each time rather than kept prepared: PostgreSQL may keep a generic
        // plan made while the table was nearly empty (a scan of the whole
        // table), until it next analyzes it; during a first sync of 100,000
        // runs that made every lookup slower than the last (measured: 62 s
        // instead of 7 s).
        let rows = sqlx::query(
            "SELECT seq, id, run, deleted_at, trashed_at, restored_at, trashed_by FROM sync_runs \
             WHERE workspace = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .persistent(false)
        .bind(workspace)
        .bind(since)
        .bind(limit as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(failed)?;
        let more = rows.len() > limit;
        let mut cursor = since;
        let mut changes = Vec::with_capacity(rows.len().min(limit));
        for row in rows.iter().take(limit) {
            cursor = row.try_get("seq").map_err(failed)?;
            let (id, state) = self.stored(workspace, row)?;
            changes.push(match state {
                Stored::Deleted(tombstone) => Change {
                    deleted: Some(tombstone),
                    ..Change::default()
                },
                Stored::Run(_, trash) => {
                    let text: String = row.try_get("run").map_err(failed)?;
                    let run = RawValue::from_string(text)
                        .map_err(|error| self.corrupt(workspace, &id, error))?;
                    change_of(id, run, trash)
                }
            });
        }
        Ok(ChangesPage {
            changes,
            cursor: cursor.to_string(),
            more,
        })
    }

    /// The id and state a `sync_runs` row holds.
    fn stored(&self, workspace: &str, row: &AnyRow) -> Result<(String, Stored), HistoryError> {
        let failed = |error| self.error("reading stored runs", error);
        let id: String = row.try_get("id").map_err(failed)?;
        let run: Option<String> = row.try_get("run").map_err(failed)?;
        let deleted_at: Option<String> = row.try_get("deleted_at").map_err(failed)?;
        let instant = |column: &str| -> Result<Option<Timestamp>, HistoryError> {
            let text: Option<String> = row.try_get(column).map_err(failed)?;
            Ok(text.map(Timestamp::parse))
        };
        let trash = merge::Trash {
            trashed_at: instant("trashed_at")?,
            restored_at: instant("restored_at")?,
            trashed_by: row.try_get("trashed_by").map_err(failed)?,
        };
        let state = match (run, deleted_at) {
            (_, Some(deleted_at)) => Stored::Deleted(Tombstone {
                id: id.clone(),
                deleted_at: Timestamp::parse(deleted_at),
            }),
            (Some(json), None) => Stored::Run(
                Box::new(
                    serde_json::from_str::<PromptRun>(&json)
                        .map_err(|error| self.corrupt(workspace, &id, error))?,
                ),
                trash,
            ),
            (None, None) => {
                return Err(self.corrupt(workspace, &id, "neither a run nor a deletion"))
            }
        };
        Ok((id, state))
    }

    fn corrupt(&self, workspace: &str, id: &str, error: impl fmt::Display) -> HistoryError {
        HistoryError::Failed(Fault {
            answer: format!(
                "the stored run {id} of workspace {workspace} cannot be read; it was left as it is, and the gateway's log has the details"
            ),
            detail: format!(
                "the stored run {id} of workspace {workspace} in {} cannot be read ({error}); it was left as it is",
                self.location
            ),
        })
    }

    /// `error`, met while `doing` something: in words for the client (with
    /// the PostgreSQL server's address, which a person can act on, and
    /// never a SQLite file's path), in full for the log.
    fn error(&self, doing: &str, error: sqlx::Error) -> HistoryError {
        let detail = format!(
            "{doing} in the history database at {}: {error}",
            self.location
        );
        let server = match self.engine {
            Engine::Sqlite => String::new(),
            Engine::Postgres => url::Url::parse(&self.location)
                .ok()
                .and_then(|url| {
                    Some(format!(
                        " (PostgreSQL at {}:{})",
                        url.host_str()?,
                        url.port_or_known_default()?
                    ))
                })
                .unwrap_or_default(),
        };
        if is_unavailable(self.engine, &error) {
            HistoryError::Unavailable(Fault {
                answer: format!(
                    "the history database cannot be reached or is busy{server}; nothing was changed: try again later"
                ),
                detail: format!(
                    "the history database cannot be reached or is busy ({detail}); nothing was changed"
                ),
            })
        } else {
            HistoryError::Failed(Fault {
                answer: format!(
                    "the history database failed while {doing}; nothing was changed, and the gateway's log has the details"
                ),
                detail: format!("{detail}; nothing was changed"),
            })
        }
    }
}

impl Engine {
    /// How a writing transaction starts: SQLite takes its one writer's lock
    /// at once (waiting up to its busy timeout), rather than at the first
    /// write, when a reader's snapshot may already be out of date and the
    /// upgrade would fail without waiting.
    fn begin_writing(self) -> &'static str {
        match self {
            Engine::Sqlite => "BEGIN IMMEDIATE",
            Engine::Postgres => "BEGIN",
        }
    }

    /// How a transaction that only reads, but reads several statements as
    /// one moment, begins: figures from one snapshot (PostgreSQL's repeatable
    /// read; SQLite's deferred transaction, whose snapshot is taken at its
    /// first read and held), not each from its own, which could show a
    /// write's half (a cell counted done whose cost is not yet spent).
    fn begin_reading(self) -> &'static str {
        match self {
            Engine::Sqlite => "BEGIN",
            Engine::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }
}

/// The columns a stored run is read from (see [`History::stored`]).
const COLUMNS: &str = "id, run, deleted_at, trashed_at, restored_at, trashed_by";

/// A run's entry in the changes feed: as it is, or (in the trash) as a
/// deletion that carries it (see [`Change`]).
fn change_of(id: String, run: Box<RawValue>, trash: merge::Trash) -> Change {
    let in_trash = trash.holds();
    let Some(trashed_at) = trash.trashed_at else {
        return Change {
            run: Some(run),
            ..Change::default()
        };
    };
    let (run, carried) = match in_trash {
        true => (None, Some(run)),
        false => (Some(run), None),
    };
    Change {
        deleted: in_trash.then(|| Tombstone {
            id,
            deleted_at: trashed_at.clone(),
        }),
        run,
        trash: Some(wire::TrashState {
            trashed_at,
            restored_at: trash.restored_at,
            trashed_by: trash.trashed_by,
            run: carried,
        }),
    }
}

/// A `since` as the sequence number it stands for: empty or absent is 0;
/// anything but a number this server writes is refused.
fn parse_cursor(since: Option<&str>) -> Result<i64, HistoryError> {
    let since = since.unwrap_or_default();
    if since.is_empty() {
        return Ok(0);
    }
    let canonical = since.bytes().all(|byte| byte.is_ascii_digit())
        && (since == "0" || !since.starts_with('0'));
    match since.parse::<i64>() {
        Ok(number) if canonical => Ok(number),
        _ => Err(HistoryError::BadCursor(format!(
            "since={since:?} is not a cursor this server issued: pass the `cursor` of the previous answer, or nothing to start from the beginning"
        ))),
    }
}

/// `$first, $first+1, …`: `count` numbered placeholders, as both engines
/// read them.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `error`, from `engine`, means the database is out of reach or too
/// busy right now (worth trying again later), rather than that the request
/// itself failed.
fn is_unavailable(engine: Engine, error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(error) => {
            let code = error.code().unwrap_or_default();
            match engine {
                // Connection exceptions (class 08), the server shutting down
                // or starting (57P01-57P03), too many connections (53300), a
                // lock not granted in time (55P03).
                Engine::Postgres => {
                    code.starts_with("08")
                        || ["57P01", "57P02", "57P03", "53300", "55P03"].contains(&code.as_ref())
                }
                // The extended result code's low byte is the primary one:
                // busy or locked beyond the busy timeout (5, 6), a failing
                // disk (10), a full one (13), a file that cannot be opened (14).
                Engine::Sqlite => code
                    .parse::<u32>()
                    .is_ok_and(|code| [5, 6, 10, 13, 14].contains(&(code & 0xff))),
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_the_numbers_this_server_writes() {
        assert_eq!(parse_cursor(None), Ok(0));
        assert_eq!(parse_cursor(Some("")), Ok(0));
        assert_eq!(parse_cursor(Some("0")), Ok(0));
        assert_eq!(parse_cursor(Some("42")), Ok(42));
        for garbage in [
            "-1",
            "+1",
            "007",
            "1.5",
            "abc",
            " 1",
            "99999999999999999999",
        ] {
            assert!(
                matches!(parse_cursor(Some(garbage)), Err(HistoryError::BadCursor(detail)) if detail.contains("not a cursor this server issued")),
                "{garbage}"
            );
        }
    }

    #[test]
    fn placeholders_are_numbered_from_the_first() {
        assert_eq!(placeholders(2, 3), "$2, $3, $4");
    }
}
