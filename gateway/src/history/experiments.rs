//! Experiments run on the gateway, as the history database keeps them: the
//! posted experiment, one row per cell of its plan, and the leases by which
//! the workers of every gateway on the database share the cells out (see
//! `docs/server-experiments.md`).
//!
//! **Why no cell is lost and the budget holds across gateways.** A claim is
//! one transaction: it locks the experiment's row (PostgreSQL: `FOR UPDATE`;
//! SQLite: its one writer, taken at `BEGIN IMMEDIATE`), takes the next
//! queued cells, or leased ones whose lease has expired (PostgreSQL: `FOR
//! UPDATE SKIP LOCKED`, so that no claim waits for a cell another
//! transaction holds), and reserves each cell's estimate against the budget
//! only while what was spent plus what the cells in flight reserved plus
//! it stays within the budget, reading both from the database. The first
//! cell that does not fit stops the experiment (as the app's runner does).
//! A cell ends in one more transaction that records its state and cost,
//! releases its reservation and adds its cost to what was spent; a worker
//! whose lease was taken over meanwhile adds its cost all the same (that
//! answer was paid for) but no longer decides the cell's state.

use super::{placeholders, Engine, History, HistoryError, ROWS_PER_STATEMENT};
use prompt_runs::model::Usd;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;
use std::time::Duration;

/// Where a cell is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CellState {
    /// Waiting for a worker.
    Queued,
    /// Claimed by a worker, until its lease expires.
    Leased,
    /// Answered; its run is in the history.
    Done,
    /// Its request failed; its run (status `error`) is in the history.
    Failed,
    /// Never to be sent: the experiment was cancelled or stopped by its budget.
    Cancelled,
}

impl CellState {
    /// Every state, in the order of a cell's life.
    pub const ALL: [CellState; 5] = [
        CellState::Queued,
        CellState::Leased,
        CellState::Done,
        CellState::Failed,
        CellState::Cancelled,
    ];

    /// The name kept in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            CellState::Queued => "queued",
            CellState::Leased => "leased",
            CellState::Done => "done",
            CellState::Failed => "failed",
            CellState::Cancelled => "cancelled",
        }
    }

    fn parse(name: &str) -> Option<CellState> {
        CellState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
    }
}

/// Where an experiment is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExperimentState {
    /// Cells are queued or in flight.
    Running,
    /// Every cell ended.
    Finished,
    /// Cancelled: no more cells are sent.
    Cancelled,
    /// Stopped by its budget: the next cell's estimate did not fit.
    Budget,
}

impl ExperimentState {
    const ALL: [ExperimentState; 4] = [
        ExperimentState::Running,
        ExperimentState::Finished,
        ExperimentState::Cancelled,
        ExperimentState::Budget,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ExperimentState::Running => "running",
            ExperimentState::Finished => "finished",
            ExperimentState::Cancelled => "cancelled",
            ExperimentState::Budget => "budget",
        }
    }

    fn parse(name: &str) -> Option<ExperimentState> {
        ExperimentState::ALL
            .into_iter()
            .find(|state| state.as_str() == name)
    }
}

/// An experiment to store, planned already.
pub struct NewExperiment<'a> {
    /// The gateway's id for it.
    pub id: &'a str,
    /// The workspace its runs go to.
    pub workspace: &'a str,
    /// The experiment's own id (its runs' `metadata.experiment.id`).
    pub experiment_id: &'a str,
    /// Its definition, as JSON.
    pub definition: &'a str,
    /// Its budget, if any.
    pub budget: Option<Usd>,
    /// Who posted it (a person's token), if known.
    pub created_by: Option<&'a str>,
    /// Its cells, in the plan's order.
    pub cells: Vec<NewCell<'a>>,
}

/// A cell of a plan, to store.
pub struct NewCell<'a> {
    /// The input row, from 0.
    pub row: usize,
    /// The model's id.
    pub model: &'a str,
    /// The repeat, from 0.
    pub repeat: u32,
    /// The plan's estimate of its cost ($0 without a price).
    pub estimate: Usd,
}

/// A cell a worker claimed.
#[derive(Clone, Debug, PartialEq)]
pub struct ClaimedCell {
    /// The gateway's id of its experiment.
    pub experiment: String,
    /// Its place in the plan.
    pub cell: usize,
    /// What it reserved against the budget.
    pub reserved: Usd,
    /// Whether it was claimed before, by a worker whose lease expired: this
    /// sending may be its second (and paid for twice).
    pub resent: bool,
}

/// How a cell ended, for [`History::settle_cell`].
#[derive(Clone, Debug, PartialEq)]
pub struct CellEnd {
    /// Done or failed.
    pub state: CellState,
    /// What its answer cost, when known.
    pub cost: Option<Usd>,
    /// The id of the run written for it.
    pub run_id: String,
}

/// An experiment's progress, as `GET …/experiments/{id}` answers it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The gateway's id for it.
    pub id: String,
    /// The experiment's own id.
    pub experiment_id: String,
    /// Where it is.
    pub state: ExperimentState,
    /// How many cells its plan has.
    pub cells: usize,
    /// How many cells are in each state (every state named, 0 included).
    pub counts: BTreeMap<&'static str, usize>,
    /// Its budget, in dollars, if any.
    pub budget: Option<Usd>,
    /// What its answers cost, in dollars (a cell sent twice counts twice).
    pub spent: Usd,
    /// What the cells in flight reserved, in dollars.
    pub reserved: Usd,
    /// Cells sent again after their lease expired: possibly answered, and
    /// paid for, twice.
    pub resent: usize,
    /// Cells answered (done or failed) by each gateway, by its id.
    pub by_gateway: BTreeMap<String, usize>,
}

const EXPERIMENT_COLUMNS: &str =
    "id, experiment_id, state, cells, budget_nanos, spent_nanos, resent";

impl History {
    /// Stores `experiment` and its queued cells, in one transaction.
    pub async fn create_experiment(
        &self,
        experiment: NewExperiment<'_>,
    ) -> Result<(), HistoryError> {
        let failed = |error| self.error("storing the experiment", error);
        let mut tx = self
            .pool
            .begin_with(self.engine.begin_writing())
            .await
            .map_err(failed)?;
        sqlx::query(
            "INSERT INTO server_experiments (id, workspace, experiment_id, definition, state, cells, \
             budget_nanos, spent_nanos, resent, created_at, created_by) \
             VALUES ($1, $2, $3, $4, 'running', $5, $6, 0, 0, $7, $8)",
        )
        .bind(experiment.id)
        .bind(experiment.workspace)
        .bind(experiment.experiment_id)
        .bind(experiment.definition)
        .bind(experiment.cells.len() as i64)
        .bind(experiment.budget.map(Usd::nanos))
        .bind(now_millis())
        .bind(experiment.created_by)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        let numbered: Vec<(usize, &NewCell)> = experiment.cells.iter().enumerate().collect();
        for chunk in numbered.chunks(ROWS_PER_STATEMENT) {
            let values = (0..chunk.len())
                .map(|row| format!("({}, 'queued', 0, 0)", placeholders(1 + row * 6, 6)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO server_experiment_cells \
                 (experiment, cell, input_row, model, repetition, estimate_nanos, state, attempts, reserved_nanos) \
                 VALUES {values}"
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for (index, cell) in chunk {
                query = query
                    .bind(experiment.id)
                    .bind(*index as i64)
                    .bind(cell.row as i64)
                    .bind(cell.model)
                    .bind(i64::from(cell.repeat))
                    .bind(cell.estimate.nanos());
            }
            query.execute(&mut *tx).await.map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    /// The workspace and definition (JSON) of experiment `id`, if stored.
    pub async fn experiment_definition(
        &self,
        id: &str,
    ) -> Result<Option<(String, String)>, HistoryError> {
        let failed = |error| self.error("reading an experiment", error);
        let row = sqlx::query("SELECT workspace, definition FROM server_experiments WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(failed)?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some((
                row.try_get("workspace").map_err(failed)?,
                row.try_get("definition").map_err(failed)?,
            ))),
        }
    }

    /// The progress of experiment `id` of `workspace`; `None` when it has
    /// no such experiment.
    pub async fn experiment_progress(
        &self,
        workspace: &str,
        id: &str,
    ) -> Result<Option<Progress>, HistoryError> {
        let failed = |error| self.error("reading an experiment's progress", error);
        // One snapshot: the figures of one moment, as a cell settles in one
        // transaction (its state and its cost spent together).
        let mut tx = self
            .pool
            .begin_with(self.engine.begin_reading())
            .await
            .map_err(failed)?;
        let sql = format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM server_experiments WHERE id = $1 AND workspace = $2"
        );
        let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(id)
            .bind(workspace)
            .fetch_optional(&mut *tx)
            .await
            .map_err(failed)?
        else {
            return Ok(None);
        };
        let state: String = row.try_get("state").map_err(failed)?;
        let budget: Option<i64> = row.try_get("budget_nanos").map_err(failed)?;
        let mut progress = Progress {
            id: row.try_get("id").map_err(failed)?,
            experiment_id: row.try_get("experiment_id").map_err(failed)?,
            state: ExperimentState::parse(&state).unwrap_or(ExperimentState::Running),
            cells: row.try_get::<i64, _>("cells").map_err(failed)? as usize,
            counts: BTreeMap::new(),
            budget: budget.map(Usd::from_nanos),
            spent: Usd::from_nanos(row.try_get("spent_nanos").map_err(failed)?),
            reserved: Usd::ZERO,
            resent: row.try_get::<i64, _>("resent").map_err(failed)? as usize,
            by_gateway: BTreeMap::new(),
        };
        for state in CellState::ALL {
            progress.counts.insert(state.as_str(), 0);
        }
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS cells, CAST(COALESCE(SUM(reserved_nanos), 0) AS BIGINT) AS reserved \
             FROM server_experiment_cells WHERE experiment = $1 GROUP BY state",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
        for row in rows {
            let state: String = row.try_get("state").map_err(failed)?;
            let cells: i64 = row.try_get("cells").map_err(failed)?;
            if let Some(state) = CellState::parse(&state) {
                progress.counts.insert(state.as_str(), cells as usize);
                if state == CellState::Leased {
                    progress.reserved = Usd::from_nanos(row.try_get("reserved").map_err(failed)?);
                }
            }
        }
        let rows = sqlx::query(
            "SELECT owner, COUNT(*) AS cells FROM server_experiment_cells \
             WHERE experiment = $1 AND state IN ('done', 'failed') AND owner IS NOT NULL GROUP BY owner",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
        for row in rows {
            let owner: String = row.try_get("owner").map_err(failed)?;
            let cells: i64 = row.try_get("cells").map_err(failed)?;
            progress.by_gateway.insert(owner, cells as usize);
        }
        tx.commit().await.map_err(failed)?;
        Ok(Some(progress))
    }

    /// The progress of `workspace`'s latest `most` experiments, newest first.
    pub async fn experiments(
        &self,
        workspace: &str,
        most: usize,
    ) -> Result<Vec<Progress>, HistoryError> {
        let failed = |error| self.error("listing experiments", error);
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM server_experiments WHERE workspace = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(workspace)
        .bind(most as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(failed)?;
        let mut listed = Vec::with_capacity(ids.len());
        for id in ids {
            // Gone meanwhile: nothing deletes experiments yet, but a list
            // should not fail for it.
            if let Some(progress) = self.experiment_progress(workspace, &id).await? {
                listed.push(progress);
            }
        }
        Ok(listed)
    }

    /// Cancels experiment `id` of `workspace`: no more of its cells are
    /// sent (its queued cells become cancelled; those in flight end as they
    /// do). `None` when it has no such experiment; an experiment that ended
    /// already is left as it is.
    pub async fn cancel_experiment(
        &self,
        workspace: &str,
        id: &str,
    ) -> Result<Option<Progress>, HistoryError> {
        let failed = |error| self.error("cancelling an experiment", error);
        let mut tx = self
            .pool
            .begin_with(self.engine.begin_writing())
            .await
            .map_err(failed)?;
        let cancelled = sqlx::query(
            "UPDATE server_experiments SET state = 'cancelled' \
             WHERE id = $1 AND workspace = $2 AND state = 'running'",
        )
        .bind(id)
        .bind(workspace)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        if cancelled.rows_affected() > 0 {
            stop_queued(&mut tx, id, now_millis())
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)?;
        self.experiment_progress(workspace, id).await
    }

    /// Claims at most `most` cells for worker `owner`, leased for `lease`,
    /// from the running experiments, oldest first (see the module's notes).
    pub async fn claim_cells(
        &self,
        owner: &str,
        most: usize,
        lease: Duration,
    ) -> Result<Vec<ClaimedCell>, HistoryError> {
        let failed = |error| self.error("claiming experiment cells", error);
        let now = now_millis();
        let expires = now + lease.as_millis() as i64;
        // Read first, outside a writing transaction: an idle gateway looks
        // every second, and SQLite has one writer for every gateway.
        let running: Option<String> =
            sqlx::query_scalar("SELECT id FROM server_experiments WHERE state = 'running' LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(failed)?;
        let expired: Option<String> = sqlx::query_scalar(
            "SELECT experiment FROM server_experiment_cells \
             WHERE state = 'leased' AND lease_expires < $1 LIMIT 1",
        )
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(failed)?;
        if expired.is_some() {
            // The leases a gone worker held on cells of a stopped
            // experiment: nobody is to send them again. A statement of its
            // own, holding no lock while the claim below waits for one.
            sqlx::query(
                "UPDATE server_experiment_cells SET state = 'cancelled', reserved_nanos = 0, lease_expires = NULL \
                 WHERE state = 'leased' AND lease_expires < $1 AND experiment IN \
                 (SELECT id FROM server_experiments WHERE state IN ('cancelled', 'budget'))",
            )
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
        }
        if running.is_none() {
            return Ok(Vec::new());
        }
        let mut tx = self
            .pool
            .begin_with(self.engine.begin_writing())
            .await
            .map_err(failed)?;
        let running: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM server_experiments WHERE state = 'running' ORDER BY created_at, id",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(failed)?;
        let (lock, skip_locked) = match self.engine {
            Engine::Postgres => (" FOR UPDATE", " FOR UPDATE SKIP LOCKED"),
            Engine::Sqlite => ("", ""),
        };
        let mut claimed = Vec::new();
        for experiment in running {
            if claimed.len() >= most {
                break;
            }
            // Locked, then read again: another gateway may have ended it.
            let sql = format!(
                "SELECT state, budget_nanos, spent_nanos FROM server_experiments WHERE id = $1{lock}"
            );
            let row = sqlx::query(AssertSqlSafe(sql))
                .bind(&experiment)
                .fetch_one(&mut *tx)
                .await
                .map_err(failed)?;
            let state: String = row.try_get("state").map_err(failed)?;
            if state != "running" {
                continue;
            }
            let budget: Option<i64> = row.try_get("budget_nanos").map_err(failed)?;
            let spent: i64 = row.try_get("spent_nanos").map_err(failed)?;
            let sql = format!(
                "SELECT cell, state, estimate_nanos, reserved_nanos FROM server_experiment_cells \
                 WHERE experiment = $1 AND (state = 'queued' OR (state = 'leased' AND lease_expires < $2)) \
                 ORDER BY cell LIMIT $3{skip_locked}"
            );
            let cells = sqlx::query(AssertSqlSafe(sql))
                .persistent(false)
                .bind(&experiment)
                .bind(now)
                .bind((most - claimed.len()) as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(failed)?;
            if cells.is_empty() {
                finish_if_ended(&mut tx, &experiment)
                    .await
                    .map_err(failed)?;
                continue;
            }
            let mut reserved: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(reserved_nanos), 0) AS BIGINT) FROM server_experiment_cells \
                 WHERE experiment = $1 AND state = 'leased'",
            )
            .bind(&experiment)
            .fetch_one(&mut *tx)
            .await
            .map_err(failed)?;
            let mut resent = 0;
            for row in cells {
                let cell: i64 = row.try_get("cell").map_err(failed)?;
                let was: String = row.try_get("state").map_err(failed)?;
                let estimate: i64 = row.try_get("estimate_nanos").map_err(failed)?;
                let held: i64 = row.try_get("reserved_nanos").map_err(failed)?;
                let again = was == "leased";
                if again {
                    // The expired lease's reservation passes to this one.
                    reserved -= held;
                }
                let fits = budget.is_none_or(|budget| {
                    spent + reserved < budget && spent + reserved + estimate <= budget
                });
                if !fits {
                    sqlx::query(
                        "UPDATE server_experiments SET state = 'budget' WHERE id = $1 AND state = 'running'",
                    )
                    .bind(&experiment)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
                    stop_queued(&mut tx, &experiment, now)
                        .await
                        .map_err(failed)?;
                    break;
                }
                reserved += estimate;
                resent += i64::from(again);
                sqlx::query(
                    "UPDATE server_experiment_cells SET state = 'leased', owner = $3, lease_expires = $4, \
                     attempts = attempts + 1, reserved_nanos = estimate_nanos \
                     WHERE experiment = $1 AND cell = $2",
                )
                .bind(&experiment)
                .bind(cell)
                .bind(owner)
                .bind(expires)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
                claimed.push(ClaimedCell {
                    experiment: experiment.clone(),
                    cell: cell as usize,
                    reserved: Usd::from_nanos(estimate),
                    resent: again,
                });
            }
            if resent > 0 {
                sqlx::query("UPDATE server_experiments SET resent = resent + $2 WHERE id = $1")
                    .bind(&experiment)
                    .bind(resent)
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?;
            }
        }
        tx.commit().await.map_err(failed)?;
        Ok(claimed)
    }

    /// Renews the leases worker `owner` holds on `cells` (those it is
    /// still sending, by experiment and place in the plan), to `lease` from
    /// now, except on cells of cancelled experiments: those it returns, for
    /// it to abandon. (The cells in flight when the budget stopped an
    /// experiment were reserved within it, and end as they do.) A cell it
    /// holds but no longer sends (its run could not be written) is not
    /// renewed: its lease expires, and the cell is sent again.
    pub async fn renew_leases(
        &self,
        owner: &str,
        lease: Duration,
        cells: &[(String, usize)],
    ) -> Result<Vec<(String, usize)>, HistoryError> {
        let failed = |error| self.error("renewing experiment leases", error);
        let expires = now_millis() + lease.as_millis() as i64;
        let mut by_experiment: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for (experiment, cell) in cells {
            by_experiment
                .entry(experiment)
                .or_default()
                .push(*cell as i64);
        }
        let mut cancelled = Vec::new();
        for (experiment, cells) in by_experiment {
            for chunk in cells.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "UPDATE server_experiment_cells SET lease_expires = $3 \
                     WHERE owner = $1 AND experiment = $2 AND state = 'leased' AND cell IN ({}) \
                     AND EXISTS (SELECT 1 FROM server_experiments WHERE id = $2 AND state <> 'cancelled')",
                    placeholders(4, chunk.len())
                );
                let mut query = sqlx::query(AssertSqlSafe(sql))
                    .persistent(false)
                    .bind(owner)
                    .bind(experiment)
                    .bind(expires);
                for cell in chunk {
                    query = query.bind(*cell);
                }
                query.execute(&self.pool).await.map_err(failed)?;
            }
            let state: Option<String> =
                sqlx::query_scalar("SELECT state FROM server_experiments WHERE id = $1")
                    .bind(experiment)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(failed)?;
            if state.as_deref() == Some(ExperimentState::Cancelled.as_str()) {
                cancelled.extend(
                    cells
                        .iter()
                        .map(|cell| (experiment.to_owned(), *cell as usize)),
                );
            }
        }
        Ok(cancelled)
    }

    /// Records how `claimed`, sent by worker `owner`, ended (`None`: it was
    /// abandoned, unsent or unanswered, as its experiment stopped): its
    /// reservation released, its cost spent, and its state (when `owner`
    /// still holds it); the experiment finishes with its last cell.
    pub async fn settle_cell(
        &self,
        owner: &str,
        claimed: &ClaimedCell,
        end: Option<&CellEnd>,
    ) -> Result<(), HistoryError> {
        let failed = |error| self.error("recording an experiment cell", error);
        let mut tx = self
            .pool
            .begin_with(self.engine.begin_writing())
            .await
            .map_err(failed)?;
        let (state, cost, run_id) = match end {
            Some(end) => (end.state, end.cost, Some(end.run_id.as_str())),
            None => (CellState::Cancelled, None, None),
        };
        sqlx::query(
            "UPDATE server_experiment_cells SET state = $4, cost_nanos = $5, run_id = $6, \
             reserved_nanos = 0, lease_expires = NULL \
             WHERE experiment = $1 AND cell = $2 AND owner = $3 AND state = 'leased'",
        )
        .bind(&claimed.experiment)
        .bind(claimed.cell as i64)
        .bind(owner)
        .bind(state.as_str())
        .bind(cost.map(Usd::nanos))
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
        sqlx::query("UPDATE server_experiments SET spent_nanos = spent_nanos + $2 WHERE id = $1")
            .bind(&claimed.experiment)
            .bind(cost.unwrap_or(Usd::ZERO).nanos())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        finish_if_ended(&mut tx, &claimed.experiment)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)
    }
}

/// Marks `experiment` finished when it runs and no cell is queued or in
/// flight.
async fn finish_if_ended(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    experiment: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE server_experiments SET state = 'finished' WHERE id = $1 AND state = 'running' \
         AND NOT EXISTS (SELECT 1 FROM server_experiment_cells \
         WHERE experiment = $1 AND state IN ('queued', 'leased'))",
    )
    .bind(experiment)
    .execute(&mut **tx)
    .await
    .map(drop)
}

/// The cells of a stopped `experiment` that are not to be sent: the queued
/// ones, and those whose lease expired at `now` (their worker is gone).
async fn stop_queued(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    experiment: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE server_experiment_cells SET state = 'cancelled', reserved_nanos = 0, lease_expires = NULL \
         WHERE experiment = $1 AND (state = 'queued' OR (state = 'leased' AND lease_expires < $2))",
    )
    .bind(experiment)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map(drop)
}

/// Now, in milliseconds since 1970, on this gateway's clock.
fn now_millis() -> i64 {
    prompt_runs::model::Timestamp::now()
        .unix_millis()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_as_written() {
        for state in CellState::ALL {
            assert_eq!(CellState::parse(state.as_str()), Some(state));
        }
        for state in ExperimentState::ALL {
            assert_eq!(ExperimentState::parse(state.as_str()), Some(state));
        }
        assert_eq!(CellState::parse("paused"), None);
    }
}
