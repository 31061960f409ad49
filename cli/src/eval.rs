//! `prompt-runs eval`: from the experiment file to the exit status.
//!
//! 1. Read the file with the app's own import ([`import_experiment`]): what
//!    the app exports runs unchanged, and a file it would refuse is refused
//!    with the same words. Its runs join the store, as in the app.
//! 2. Plan it ([`plan()`]); look each cell up in the cache.
//! 3. For the cells to send: ask the gateway (`--gateway`, or the one this
//!    process starts for `--providers`, [`InProcessGateway`]) for its
//!    models (prices, and whether it has them) and its limits; print the
//!    plan; when the estimate passes the budget, or a model is not priced
//!    under a budget, ask (or, without a terminal, refuse unless `--yes`).
//! 4. Run them with the store's runner, [`RunsStore::run_experiment`], on a
//!    current-thread tokio runtime: pacing, budget reservations and Cancel
//!    are the app's. Ctrl-C cancels (a second one quits at once).
//! 5. Add the cached answers as runs, keep the new answers in the cache,
//!    build the grid, write `--out`, `--csv`, `--junit`, print the outcome,
//!    and return the exit status ([`Verdict::exit_status`]).

use crate::args::{EvalArgs, Target, TOKEN_ENV};
use crate::cache::{cached_run, is_cached, KeyParts, RequestCache};
use crate::gateway::Gateway;
use crate::junit::junit_xml;
use crate::plan_text::{confirmation_text, count, plan_text, PlanFigures};
use crate::progress::{Counts, Progress};
use crate::providers::InProcessGateway;
use crate::verdict::{ExitStatus, Verdict};
use leptos::prelude::Owner;
use prompt_runs::api::ApiError;
use prompt_runs::experiment::{
    export_experiment, grid_csv, import_experiment, plan, Budget, Experiment, Grid, Pace,
    PlannedCell,
};
use prompt_runs::model::{PromptRun, RunStatus};
use prompt_runs::store::{ExperimentReport, ExperimentStop, RunsStore};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Runs `prompt-runs eval` with `args` and returns how the process ends.
/// Everything it says goes to standard output (the plan, the outcome) and
/// standard error (progress, problems).
pub fn eval(args: EvalArgs) -> ExitStatus {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("prompt-runs: cannot start: {error}");
            return ExitStatus::Error;
        }
    };
    // The store is not Send (its executor and pacer are `Rc`s): it lives on
    // this thread, its futures on a LocalSet.
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let _ = any_spawner::Executor::init_tokio();
        let owner = Owner::new();
        let store = owner.with(RunsStore::new);
        match evaluate(&args, store).await {
            Ok(status) => status,
            Err(problem) => {
                eprintln!("prompt-runs: {problem}");
                ExitStatus::Error
            }
        }
    })
}

/// The evaluation, up to its exit status; an error (exit 2) before anything
/// was sent, or when outputs cannot be written.
async fn evaluate(args: &EvalArgs, store: RunsStore) -> Result<ExitStatus, String> {
    let started = Instant::now();
    let path = &args.experiment;
    let text = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    let imported =
        import_experiment(&text).map_err(|error| format!("{}: {error}", path.display()))?;
    let experiment = imported.experiment;
    let earlier: HashSet<String> = imported.runs.iter().map(|run| run.id.clone()).collect();
    store.merge_runs(imported.runs);
    let planned = plan(&experiment, &[]).map_err(|error| format!("{}: {error}", path.display()))?;

    let timeout = Duration::from_secs(args.timeout);
    // Kept to the end: the providers' gateway serves while it lives.
    let mut in_process = None;
    let gateway = match args.target(&|name| std::env::var(name).ok())? {
        Target::Gateway(url) => Gateway::new(
            &url,
            std::env::var(TOKEN_ENV).ok(),
            timeout,
            !args.no_stream,
        )?,
        Target::Providers(file) => {
            let started = InProcessGateway::start(&file, timeout, !args.no_stream).await?;
            in_process.insert(started).client().clone()
        }
    };
    let cache = if args.no_cache {
        None
    } else {
        let dir = args
            .cache_dir
            .clone()
            .unwrap_or_else(RequestCache::default_dir);
        Some(RequestCache::open(&dir)?)
    };
    let scope = gateway.cache_scope();
    let mut hits: Vec<PromptRun> = Vec::new();
    let mut to_send: Vec<PlannedCell> = Vec::new();
    for cell in &planned.cells {
        let kept = (cache.as_ref())
            .and_then(|cache| cache.get(&KeyParts::of(&scope, cell, &experiment.parameters)));
        match kept {
            Some(kept) => hits.push(cached_run(cell, &experiment.id, &kept)),
            None => to_send.push(cell.clone()),
        }
    }

    // Only a plan that sends anything needs the gateway: a re-run the cache
    // answers whole works without it.
    let mut pace = Pace::Unknown;
    if !to_send.is_empty() {
        let models = gateway
            .models()
            .await
            .map_err(|error| gateway_problem(&gateway, error))?;
        let offered: HashSet<&str> = models.iter().map(|model| model.id.as_str()).collect();
        let missing: Vec<&str> = (experiment.models.iter())
            .map(String::as_str)
            .filter(|model| !offered.contains(model))
            .collect();
        if !missing.is_empty() {
            let mut offered: Vec<&str> = offered.into_iter().collect();
            offered.sort_unstable();
            return Err(format!(
                "{} does not offer {}; it offers {}{}",
                gateway.who(),
                missing.join(", "),
                offered.join(", "),
                unavailable_providers(&gateway).await
            ));
        }
        store.set_models(models);
        let limits = gateway
            .limits()
            .await
            .map_err(|error| gateway_problem(&gateway, error))?;
        store.set_server_limits(limits);
        pace = Pace::of(to_send.len(), limits);
    }
    // Straight to the providers, the limits that hold are each provider's own.
    let pace = in_process.is_none().then_some(pace);
    let estimate = store.estimate(&experiment, &to_send);
    let spent_before = store.experiment_spent(&experiment.id);
    println!(
        "{}",
        plan_text(&PlanFigures {
            experiment: &experiment,
            cells: planned.cells.len(),
            cached: hits.len(),
            estimate: &estimate,
            spent: spent_before,
            pace,
        })
    );
    let budget = experiment
        .budget
        .map(|limit| Budget::new(limit).with_spent(spent_before));
    if let Some(confirmation) = budget
        .filter(|_| !to_send.is_empty())
        .and_then(|budget| budget.confirmation(&estimate))
    {
        let why = confirmation_text(&confirmation);
        if !args.yes && !confirmed(&why)? {
            return Err(format!(
                "nothing was sent. {why} Pass --yes to send anyway (the budget still stops the sending once it is reached)."
            ));
        }
    }

    // Cells answered by the cache count as done from the start.
    let terminal = io::stderr().is_terminal();
    let progress = Rc::new(RefCell::new(Progress::start(
        planned.cells.len(),
        hits.len(),
        terminal,
    )));
    store.set_executor(gateway.clone());
    store.set_max_concurrent_requests(usize::from(args.max_concurrency));
    let interrupted = Rc::new(Cell::new(false));
    let watcher = watch_interrupts(store, interrupted.clone());
    let report = if to_send.is_empty() {
        ExperimentReport::default()
    } else {
        if !terminal {
            eprintln!("Sending {}…", count(to_send.len(), "request"));
        }
        let cached = hits.len();
        let shown = progress.clone();
        let experiment_id = experiment.id.clone();
        store
            .run_experiment(&experiment, to_send, move |report| {
                let mut progress = shown.borrow_mut();
                if progress.wants_update() {
                    progress.update(Counts {
                        done: cached + report.finished(),
                        answered: report.succeeded,
                        failed: report.failed,
                        spent: store.experiment_spent(&experiment_id) - spent_before,
                    });
                }
            })
            .await
            .map_err(|error| format!("nothing was sent: {error}"))?
    };
    {
        let mut progress = progress.borrow_mut();
        progress.update(Counts {
            done: hits.len() + report.finished(),
            answered: report.succeeded,
            failed: report.failed,
            spent: store.experiment_spent(&experiment.id) - spent_before,
        });
        progress.finish();
    }

    // After the run: a cached answer is no spending of this run's budget.
    let cached = hits.len();
    let _ = store.merge_runs(hits);
    // Read once, outside any reactive effect: nothing is to track.
    let runs = leptos::prelude::untrack(|| store.runs());
    if let Some(cache) = &cache {
        keep_answers(cache, &scope, &experiment, &planned.cells, &runs, &earlier);
    }
    let grid = Grid::build(&experiment, runs.iter());
    let verdict = Verdict::of(&experiment, &grid);
    write_outputs(args, &experiment, &runs, &grid, &verdict, started.elapsed())?;
    watcher.abort();
    drop(in_process);

    let spent = store.experiment_spent(&experiment.id) - spent_before;
    println!(
        "{}: {} answered ({} from the cache), {} failed, {} not sent · {} of {} passed ({:.1}%) · {spent} spent",
        count(verdict.runs, "run"),
        report.succeeded + cached,
        cached,
        report.failed + report.cancelled,
        report.not_sent,
        verdict.passed,
        verdict.runs,
        verdict.pass_rate() * 100.0,
    );
    let status = if interrupted.get() {
        println!("Interrupted: the runs that finished were written.");
        ExitStatus::Interrupted
    } else if let Some(ExperimentStop::BudgetSpent {
        spent,
        budget,
        next,
    }) = report.stopped
    {
        println!(
            "Stopped by the budget: {spent} spent of {budget}, and the next request was estimated at {next}."
        );
        ExitStatus::Error
    } else {
        verdict.exit_status(args.fail_under)
    };
    match status {
        ExitStatus::Passed if verdict.passed == verdict.runs => {
            println!("Passed: every run passed its checks.")
        }
        ExitStatus::Passed => println!(
            "Passed: {:.1}% of the runs passed, at least the {:.1}% asked for.",
            verdict.pass_rate() * 100.0,
            args.fail_under.unwrap_or(1.0) * 100.0
        ),
        ExitStatus::ChecksFailed => println!(
            "Failed: {} failed a check.",
            count(verdict.failed_checks, "run")
        ),
        ExitStatus::Error if report.stopped.is_none() => {
            println!(
                "Error: {} no answer.",
                if verdict.unanswered == 1 {
                    "1 run has".to_owned()
                } else {
                    format!("{} runs have", verdict.unanswered)
                }
            )
        }
        _ => {}
    }
    Ok(status)
}

/// Asks on the terminal whether to send anyway; `false` without a terminal
/// (nothing to ask).
fn confirmed(why: &str) -> Result<bool, String> {
    if !(io::stdin().is_terminal() && io::stderr().is_terminal()) {
        return Ok(false);
    }
    eprint!("{why}\nSend anyway? [y/N] ");
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| format!("cannot read the answer: {error}"))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// An error talking to the gateway before anything was sent, in words.
fn gateway_problem(gateway: &Gateway, error: ApiError) -> String {
    match error {
        ApiError::Unauthorized => format!(
            "{} needs its access token: set {TOKEN_ENV} to the token it printed when it started",
            gateway.who()
        ),
        ApiError::Unreachable { .. } => format!(
            "could not reach {}: is it running? (--gateway sets where)",
            gateway.who()
        ),
        error => format!("{} answered: {error}", gateway.who()),
    }
}

/// Why some of its models may be missing: each provider that could not
/// list them, and its last error (`; provider openai cannot be used now:
/// …`); nothing when all could, or the gateway does not say.
async fn unavailable_providers(gateway: &Gateway) -> String {
    let Ok(Some(providers)) = gateway.providers().await else {
        return String::new();
    };
    (providers.providers.iter())
        .filter(|provider| !provider.available)
        .map(|provider| {
            format!(
                "; provider {} cannot be used now: {}",
                provider.name.as_deref().unwrap_or("?"),
                provider
                    .last_error
                    .as_deref()
                    .unwrap_or("it did not list its models")
            )
        })
        .collect()
}

/// Ctrl-C cancels the run: the requests in flight are aborted, nothing more
/// is sent, and what finished is written. A second Ctrl-C quits at once,
/// writing nothing.
fn watch_interrupts(store: RunsStore, interrupted: Rc<Cell<bool>>) -> tokio::task::JoinHandle<()> {
    tokio::task::spawn_local(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        interrupted.set(true);
        eprintln!("\nInterrupted: cancelling the requests in flight and writing what finished (Ctrl-C again to quit at once)…");
        store.cancel_execution();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(ExitStatus::Interrupted.code()));
        }
    })
}

/// Keeps this run's new answers in the cache (not those it read from the
/// file or from the cache). A write that fails is said, and changes nothing
/// else: the next run sends that request again.
fn keep_answers(
    cache: &RequestCache,
    scope: &str,
    experiment: &Experiment,
    cells: &[PlannedCell],
    runs: &prompt_runs::store::RunList,
    earlier: &HashSet<String>,
) {
    // Each run finds its cell by its tag, at once: a plan has thousands.
    let by_tag: HashMap<(usize, &str, u32), &PlannedCell> = (cells.iter())
        .map(|cell| ((cell.row, &*cell.model_id, cell.repeat), cell))
        .collect();
    let mut failed = 0;
    for run in runs.iter() {
        if run.status != RunStatus::Success || earlier.contains(&run.id) || is_cached(run) {
            continue;
        }
        let Some(tag) = run.experiment_cell() else {
            continue;
        };
        if tag.experiment_id != experiment.id {
            continue;
        }
        if let Some(cell) = by_tag.get(&(tag.row, tag.model_id, tag.repeat)) {
            if cache
                .put(&KeyParts::of(scope, cell, &experiment.parameters), run)
                .is_err()
            {
                failed += 1;
            }
        }
    }
    if failed > 0 {
        eprintln!(
            "prompt-runs: {} could not be kept in the cache at {}",
            count(failed, "answer"),
            cache.dir().display()
        );
    }
}

/// Writes the files asked for: the experiment and its runs (`--out`), the
/// grid as CSV (`--csv`), the JUnit report (`--junit`).
fn write_outputs(
    args: &EvalArgs,
    experiment: &Experiment,
    runs: &prompt_runs::store::RunList,
    grid: &Grid,
    verdict: &Verdict,
    took: Duration,
) -> Result<(), String> {
    if let Some(path) = &args.out {
        write_whole(path, &export_experiment(experiment, runs.iter()))?;
    }
    if let Some(path) = &args.csv {
        write_whole(path, &grid_csv(experiment, grid))?;
    }
    if let Some(path) = &args.junit {
        write_whole(path, &junit_xml(experiment, verdict, took.as_secs_f64()))?;
    }
    Ok(())
}

/// Writes `text` to `path` through a temporary file beside it, renamed into
/// place: a reader never sees half a file, and an earlier file stays whole
/// when the write fails.
fn write_whole(path: &Path, text: &str) -> Result<(), String> {
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} is not a file name", path.display()))?;
    let partial = path.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    fs::write(&partial, text)
        .and_then(|()| fs::rename(&partial, path))
        .map_err(|error| {
            let _ = fs::remove_file(&partial);
            format!("cannot write {}: {error}", path.display())
        })
}
