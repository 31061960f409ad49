//! Backups in the gateway's own format, the same from SQLite and PostgreSQL
//! (so a backup of one restores into the other): JSON lines, versioned.
//!
//! ```text
//! {"format":"prompt-runs-history","version":1}
//! {"counter":{"workspace":"team","lastSeq":42}}            one per workspace
//! {"row":{"workspace","id","seq","run"?,"deletedAt"?,"trashedAt"?,"restoredAt"?,"trashedBy"?}}
//! {"end":{"workspaces":1,"rows":40}}                       a cut file is refused
//! ```
//!
//! Every workspace's runs, trash and tombstones, with their numbers in the
//! changes feed, read in one transaction: a consistent snapshot taken while
//! uploads go on (PostgreSQL: `REPEATABLE READ`; SQLite: one read
//! transaction). A browser that synced before the backup resumes from its
//! cursor after a restore: the numbers are the same.

use super::History;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::io::{BufRead, Write};

/// The first line's `format`.
const FORMAT: &str = "prompt-runs-history";
/// The version of the format this gateway writes and reads.
const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Line {
    Counter { workspace: String, last_seq: i64 },
    Row(RowLine),
    End { workspaces: u64, rows: u64 },
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RowLine {
    workspace: String,
    id: String,
    seq: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    run: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trashed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    restored_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trashed_by: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
}

/// What a backup or a restore held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackupSummary {
    /// Workspaces.
    pub workspaces: u64,
    /// Stored runs, in and out of the trash, and tombstones.
    pub rows: u64,
}

impl History {
    /// Writes every workspace to `out` (see the module's format), read in
    /// one transaction.
    pub async fn backup(&self, out: &mut impl Write) -> Result<BackupSummary, String> {
        let failed = |error: sqlx::Error| self.error("reading for a backup", error).to_string();
        let written = |error: std::io::Error| format!("the backup cannot be written: {error}");
        let begin = match self.engine {
            super::Engine::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            super::Engine::Sqlite => "BEGIN",
        };
        let mut tx = self.pool.begin_with(begin).await.map_err(failed)?;
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
        };
        let mut line = |value: &dyn erased::Line| -> Result<(), String> {
            out.write_all(value.json().as_bytes()).map_err(written)?;
            out.write_all(b"\n").map_err(written)
        };
        line(&header)?;
        let counters =
            sqlx::query("SELECT workspace, last_seq FROM sync_counter ORDER BY workspace")
                .fetch_all(&mut *tx)
                .await
                .map_err(failed)?;
        let mut summary = BackupSummary::default();
        for row in counters {
            line(&Line::Counter {
                workspace: row.try_get("workspace").map_err(failed)?,
                last_seq: row.try_get("last_seq").map_err(failed)?,
            })?;
            summary.workspaces += 1;
        }
        let rows = sqlx::query(
            "SELECT workspace, id, seq, run, deleted_at, trashed_at, restored_at, trashed_by \
             FROM sync_runs ORDER BY workspace, seq",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
        for row in rows {
            line(&Line::Row(RowLine {
                workspace: row.try_get("workspace").map_err(failed)?,
                id: row.try_get("id").map_err(failed)?,
                seq: row.try_get("seq").map_err(failed)?,
                run: row.try_get("run").map_err(failed)?,
                deleted_at: row.try_get("deleted_at").map_err(failed)?,
                trashed_at: row.try_get("trashed_at").map_err(failed)?,
                restored_at: row.try_get("restored_at").map_err(failed)?,
                trashed_by: row.try_get("trashed_by").map_err(failed)?,
            }))?;
            summary.rows += 1;
        }
        tx.commit().await.map_err(failed)?;
        line(&Line::End {
            workspaces: summary.workspaces,
            rows: summary.rows,
        })?;
        out.flush().map_err(written)?;
        Ok(summary)
    }

    /// Restores a backup written by [`History::backup`] into this database,
    /// which must hold no history yet; in one transaction, so a backup that
    /// is cut short or unreadable restores nothing.
    pub async fn restore(&self, input: impl BufRead) -> Result<BackupSummary, String> {
        let failed = |error: sqlx::Error| self.error("restoring a backup", error).to_string();
        let mut lines = input.lines().enumerate();
        let mut next = || -> Result<Option<(usize, String)>, String> {
            match lines.next() {
                None => Ok(None),
                Some((index, Ok(text))) => Ok(Some((index + 1, text))),
                Some((index, Err(error))) => Err(format!("line {}: {error}", index + 1)),
            }
        };
        let header: Header = match next()? {
            Some((_, text)) => serde_json::from_str(&text).map_err(|_| {
                "this is not a prompt-runs history backup (its first line is not its header)"
                    .to_owned()
            })?,
            None => return Err("the backup is empty".to_owned()),
        };
        if header.format != FORMAT || header.version != VERSION {
            return Err(format!(
                "this backup is {} version {}; this gateway reads {FORMAT} version {VERSION}",
                header.format, header.version
            ));
        }
        let mut tx = self
            .pool
            .begin_with(self.engine.begin_writing())
            .await
            .map_err(failed)?;
        let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sync_counter")
            .fetch_one(&mut *tx)
            .await
            .map_err(failed)?;
        if held > 0 {
            return Err(format!(
                "the history database at {} already holds {held} workspace(s): restore into an empty one",
                self.location
            ));
        }
        let mut summary = BackupSummary::default();
        let mut ended = None;
        while let Some((number, text)) = next()? {
            if ended.is_some() {
                return Err(format!("line {number}: something follows the backup's end"));
            }
            let line: Line = serde_json::from_str(&text)
                .map_err(|error| format!("line {number}: {error}; nothing was restored"))?;
            match line {
                Line::Counter {
                    workspace,
                    last_seq,
                } => {
                    sqlx::query("INSERT INTO sync_counter (workspace, last_seq) VALUES ($1, $2)")
                        .bind(workspace)
                        .bind(last_seq)
                        .execute(&mut *tx)
                        .await
                        .map_err(failed)?;
                    summary.workspaces += 1;
                }
                Line::Row(row) => {
                    sqlx::query(
                        "INSERT INTO sync_runs \
                         (workspace, id, seq, run, deleted_at, trashed_at, restored_at, trashed_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(row.workspace)
                    .bind(row.id)
                    .bind(row.seq)
                    .bind(row.run)
                    .bind(row.deleted_at)
                    .bind(row.trashed_at)
                    .bind(row.restored_at)
                    .bind(row.trashed_by)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                    summary.rows += 1;
                }
                Line::End { workspaces, rows } => ended = Some((workspaces, rows)),
            }
        }
        if ended != Some((summary.workspaces, summary.rows)) {
            return Err(format!(
                "the backup is cut short or altered (its end says {ended:?}, it holds {} workspace(s) and {} row(s)); nothing was restored",
                summary.workspaces, summary.rows
            ));
        }
        tx.commit().await.map_err(failed)?;
        Ok(summary)
    }
}

/// Anything written as one line of JSON.
mod erased {
    pub trait Line {
        fn json(&self) -> String;
    }

    impl<T: serde::Serialize> Line for T {
        fn json(&self) -> String {
            serde_json::to_string(self).expect("a backup line always serializes")
        }
    }
}
