//! The workers that run experiments on the gateway: each gateway runs one,
//! which claims cells with a lease ([`History::claim_cells`]), sends each
//! through the gateway's own path to its model (as the execute endpoint: the
//! same adapters, caps and retries as a browser's request), writes its run
//! into the history (so it reaches every browser of the workspace through
//! the changes feed), and records the cell's end and cost. It renews its
//! leases while it works; a worker that stops (its gateway killed) stops
//! renewing them, and another gateway's worker takes its cells over once
//! they expire. See `docs/server-experiments.md`.

use crate::history::experiments::{CellEnd, CellState, ClaimedCell};
use crate::history::wire::Upload;
use crate::history::History;
use crate::routes::{record_outcome, Gateway};
use crate::GatewayConfig;
use prompt_runs::api::wire::ExecuteParameters;
use prompt_runs::experiment::{plan, Experiment, PlannedCell};
use prompt_runs::model::{Timestamp, COST_SOURCE_KEY, PARAMETERS_KEY, SERVER_RUN_ID_KEY};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};
use tokio::task::{JoinHandle, JoinSet};

/// How a gateway's worker runs cells.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    /// How long a claim holds a cell without being renewed.
    pub lease: Duration,
    /// Most cells in flight at once.
    pub concurrency: usize,
}

impl WorkerOptions {
    /// As `--experiment-lease-seconds` and `--experiment-concurrency` say.
    pub fn from_config(config: &GatewayConfig) -> WorkerOptions {
        WorkerOptions {
            lease: Duration::from_secs(config.experiment_lease_seconds.max(1)),
            concurrency: config.experiment_concurrency.max(1),
        }
    }
}

/// A gateway's running worker; it stops (its cells in flight dropped, their
/// leases left to expire) when this is dropped.
pub struct Workers {
    id: String,
    task: JoinHandle<()>,
}

impl Workers {
    /// Starts the worker of `gateway` on `history`, woken by `wake` when an
    /// experiment is posted to this gateway.
    pub(crate) fn start(
        history: History,
        gateway: Arc<Gateway>,
        options: WorkerOptions,
        wake: Arc<Notify>,
    ) -> Workers {
        let id = worker_id();
        tracing::info!(worker = %id, "experiment worker started");
        let worker = Arc::new(Worker {
            history,
            gateway,
            id: id.clone(),
            options,
            plans: Mutex::default(),
        });
        Workers {
            id,
            task: tokio::spawn(work(worker, wake)),
        }
    }

    /// The id its leases and answered cells carry (an experiment's progress
    /// counts cells by it).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Its cells in flight are tasks of its JoinSet, dropped (aborted) with it.
        self.task.abort();
    }
}

/// Most plans a worker keeps made.
const PLANS_KEPT: usize = 32;

struct Worker {
    history: History,
    gateway: Arc<Gateway>,
    id: String,
    options: WorkerOptions,
    /// Each experiment's plan, made once per worker from its stored definition.
    plans: Mutex<HashMap<String, Arc<Planned>>>,
}

/// An experiment as a worker sends it.
struct Planned {
    workspace: String,
    experiment: Experiment,
    cells: Vec<PlannedCell>,
}

/// Which of its cells in flight each stop signal goes to, by experiment
/// and place in the plan.
type Stops = Arc<Mutex<HashMap<(String, usize), oneshot::Sender<()>>>>;

/// The worker's two loops, in one task (so that stopping it stops both):
/// claiming and renewing, each on its own clock, so that a claim waiting
/// for the database (SQLite's one writer, busy) never delays a renewal.
async fn work(worker: Arc<Worker>, wake: Arc<Notify>) {
    let stops = Stops::default();
    tokio::join!(
        claim(worker.clone(), wake, stops.clone()),
        renew(worker, stops)
    );
}

/// Claims what there is room for, then waits for a cell to end, a post, or
/// the next look.
async fn claim(worker: Arc<Worker>, wake: Arc<Notify>, stops: Stops) {
    let options = worker.options.clone();
    let look = (options.lease / 4).min(Duration::from_secs(1));
    let mut flying: JoinSet<()> = JoinSet::new();
    loop {
        while flying.try_join_next().is_some() {}
        let room = options.concurrency.saturating_sub(flying.len());
        if room > 0 {
            match worker
                .history
                .claim_cells(&worker.id, room, options.lease)
                .await
            {
                Ok(claimed) => {
                    for cell in claimed {
                        let (stop, stopped) = oneshot::channel();
                        let key = (cell.experiment.clone(), cell.cell);
                        stops.lock().expect("not poisoned").insert(key, stop);
                        flying.spawn(run_cell(worker.clone(), cell, stopped));
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, worker = %worker.id, "could not claim experiment cells; trying again")
                }
            }
        }
        tokio::select! {
            Some(_) = flying.join_next(), if !flying.is_empty() => {}
            () = tokio::time::sleep(look) => {}
            () = wake.notified() => {}
        }
    }
}

/// Renews the leases of the cells the worker is sending, every third of a
/// lease, and stops those of cancelled experiments.
async fn renew(worker: Arc<Worker>, stops: Stops) {
    let lease = worker.options.lease;
    let mut every = tokio::time::interval(lease / 3);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        // The cells still being sent: a task that ended dropped its end of
        // the channel.
        let sending: Vec<(String, usize)> = {
            let mut stops = stops.lock().expect("not poisoned");
            stops.retain(|_, stop| !stop.is_closed());
            stops.keys().cloned().collect()
        };
        if sending.is_empty() {
            continue;
        }
        match worker
            .history
            .renew_leases(&worker.id, lease, &sending)
            .await
        {
            Ok(cancelled) => {
                let mut stops = stops.lock().expect("not poisoned");
                for key in cancelled {
                    // Its task, if still waiting for the answer, drops the
                    // request and records the cell cancelled.
                    if let Some(stop) = stops.remove(&key) {
                        let _ = stop.send(());
                    }
                }
            }
            Err(error) => {
                tracing::warn!(%error, worker = %worker.id, "could not renew experiment leases")
            }
        }
    }
}

/// Sends one claimed cell and records its run and end; or, when `stopped`
/// (its experiment was cancelled) before the answer came, drops the
/// request and records the cell cancelled, with no run.
async fn run_cell(worker: Arc<Worker>, claimed: ClaimedCell, stopped: oneshot::Receiver<()>) {
    let planned = match worker.plan(&claimed.experiment).await {
        Ok(planned) => planned,
        Err(problem) => {
            tracing::error!(experiment = %claimed.experiment, %problem, "an experiment on the database cannot be run here");
            let _ = worker.history.settle_cell(&worker.id, &claimed, None).await;
            return;
        }
    };
    let Some(cell) = planned.cells.get(claimed.cell) else {
        tracing::error!(experiment = %claimed.experiment, cell = claimed.cell, "no such cell in the experiment's plan");
        let _ = worker.history.settle_cell(&worker.id, &claimed, None).await;
        return;
    };
    let experiment = &planned.experiment;
    let request = cell.request(&experiment.parameters);
    let started_at = Timestamp::now();
    let started = Instant::now();
    let outcome = tokio::select! {
        outcome = worker.gateway.answer(&request) => outcome,
        Ok(()) = stopped => {
            if let Err(error) = worker.history.settle_cell(&worker.id, &claimed, None).await {
                tracing::warn!(%error, "could not record a cancelled experiment cell");
            }
            return;
        }
    };

    let mut run = cell.pending_run(&experiment.id);
    // One id per cell: a cell sent twice (its lease expired) writes one run,
    // the later answer replacing the earlier, never two.
    run.id = format!("{}-{}", claimed.experiment, claimed.cell);
    run.started_at = started_at;
    run.completed_at = Some(Timestamp::now());
    run.duration_ms = Some(started.elapsed().as_millis() as u64);
    let metadata = run.metadata.get_or_insert_with(Default::default);
    if experiment.parameters != ExecuteParameters::default() {
        let sent = serde_json::to_value(&experiment.parameters).unwrap_or_default();
        metadata.insert(PARAMETERS_KEY.to_owned(), sent);
    }
    if let Ok(response) = &outcome {
        metadata.insert(SERVER_RUN_ID_KEY.to_owned(), response.run_id.clone().into());
        if let Some(source) = &response.cost_source {
            metadata.insert(COST_SOURCE_KEY.to_owned(), source.clone().into());
        }
    }
    let state = match outcome {
        Ok(_) => CellState::Done,
        Err(_) => CellState::Failed,
    };
    record_outcome(&mut run, outcome);
    let end = CellEnd {
        state,
        cost: run.cost_usd(),
        run_id: run.id.clone(),
    };
    let upload = Upload {
        runs: vec![run],
        ..Upload::default()
    };
    // A run that cannot be written leaves its cell leased: its lease
    // expires and the cell is sent again (counted as resent).
    if let Err(error) = worker.history.upload(&planned.workspace, upload).await {
        tracing::warn!(%error, experiment = %claimed.experiment, cell = claimed.cell, "could not write an experiment's run; its cell will be sent again");
        return;
    }
    if let Err(error) = worker
        .history
        .settle_cell(&worker.id, &claimed, Some(&end))
        .await
    {
        tracing::warn!(%error, experiment = %claimed.experiment, cell = claimed.cell, "could not record an experiment cell's end; it will be sent again");
    }
}

impl Worker {
    /// The plan of stored experiment `id`, made once.
    async fn plan(&self, id: &str) -> Result<Arc<Planned>, String> {
        if let Some(planned) = self.plans.lock().expect("not poisoned").get(id) {
            return Ok(planned.clone());
        }
        let (workspace, definition) = self
            .history
            .experiment_definition(id)
            .await
            .map_err(|error| error.to_string())?
            .ok_or("it is no longer in the database")?;
        let experiment: Experiment =
            serde_json::from_str(&definition).map_err(|error| error.to_string())?;
        // The prices do not change the cells, only the estimate, which was
        // stored with them.
        let cells = plan(&experiment, &[])
            .map_err(|error| error.to_string())?
            .cells;
        let planned = Arc::new(Planned {
            workspace,
            experiment,
            cells,
        });
        let mut plans = self.plans.lock().expect("not poisoned");
        // A long-lived gateway sees many experiments: plans are cheap to
        // make again, so the cache is simply emptied when it grows.
        if plans.len() >= PLANS_KEPT {
            plans.clear();
        }
        plans.insert(id.to_owned(), planned.clone());
        Ok(planned)
    }
}

/// A new worker's id: `gw_` and 16 random hex digits, unique among the
/// gateways on a database.
fn worker_id() -> String {
    format!("gw_{}", &crate::access::generate_token()[..16])
}
