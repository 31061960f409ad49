//! Speed and cost figures natively: per-model percentiles kept by the store
//! through every kind of change, against a sorted reference; cost sources
//! through merge, export and import.
#![cfg(not(target_arch = "wasm32"))]

use leptos::prelude::Owner;
use prompt_runs::model::{
    CostSource, Figure, PromptRun, PromptRunUpdate, RunMetrics, RunStatus, Timestamp,
    COST_SOURCE_KEY, METRICS_KEY,
};
use prompt_runs::persist::{export_json, import_json};
use prompt_runs::store::{ModelStats, RunsStore, Spread};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

const IDS: [&str; 8] = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"];
const MODELS: [&str; 2] = ["gpt-4o", "llama"];

/// Metadata holding `ttft` and `speed` (when given) as measured figures.
fn figures(ttft: Option<u64>, speed: Option<f64>) -> Option<Map<String, Value>> {
    let metrics = RunMetrics {
        ttft_ms: ttft.map(Figure::measured),
        output_tokens_per_second: speed.map(Figure::measured),
        ..RunMetrics::default()
    };
    let mut metadata = Map::new();
    metadata.insert(METRICS_KEY.to_owned(), metrics.to_json());
    Some(metadata)
}

fn speed() -> impl Strategy<Value = f64> {
    // Whole hundredths, as recorded, so the stored value is the value.
    (0_u32..20_000).prop_map(|hundredths| f64::from(hundredths) / 100.0)
}

fn run() -> impl Strategy<Value = PromptRun> {
    (
        prop::sample::select(IDS.to_vec()),
        prop::sample::select(MODELS.to_vec()),
        prop::sample::select(RunStatus::ALL.to_vec()),
        prop::option::of(0_u64..3_000),
        prop::option::of(speed()),
        prop::option::of(0_u64..60_000),
    )
        .prop_map(|(id, model, status, ttft, speed, duration)| {
            let mut run = PromptRun::pending(id, model, "p");
            run.status = status;
            run.started_at = Timestamp::from_unix_millis(1_700_000_000_000);
            run.duration_ms = duration;
            run.metadata = figures(ttft, speed);
            run
        })
}

#[derive(Clone, Debug)]
enum Action {
    Add(PromptRun),
    /// Finishes a run with new figures (an update from the executor).
    Finish(&'static str, Option<u64>, Option<f64>, Option<u64>),
    Remove(&'static str),
    /// A copy of a run from elsewhere (an import, another tab).
    Merge(PromptRun),
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => run().prop_map(Action::Add),
        3 => (
            prop::sample::select(IDS.to_vec()),
            prop::option::of(0_u64..3_000),
            prop::option::of(speed()),
            prop::option::of(0_u64..60_000),
        )
            .prop_map(|(id, ttft, speed, duration)| Action::Finish(id, ttft, speed, duration)),
        2 => prop::sample::select(IDS.to_vec()).prop_map(Action::Remove),
        2 => run().prop_map(Action::Merge),
    ]
}

/// The `percent`-th percentile of `values` read off a sorted copy: the
/// nearest-rank definition, written out.
fn sorted_percentile<T: PartialOrd + Copy>(values: &[T], percent: f64) -> Option<T> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let rank = ((percent / 100.0 * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied()
}

fn spread<T: PartialOrd + Copy>(values: &[T]) -> Option<Spread<T>> {
    Some(Spread {
        p50: sorted_percentile(values, 50.0)?,
        p95: sorted_percentile(values, 95.0)?,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn per_model_percentiles_follow_every_add_update_remove_and_merge(
        actions in proptest::collection::vec(action(), 1..60),
    ) {
        let owner = Owner::new();
        let store = owner.with(RunsStore::new);
        let mut reference: BTreeMap<String, PromptRun> = BTreeMap::new();
        for action in actions {
            match action {
                Action::Add(run) => {
                    let accepted = store.add_run(run.clone()).is_ok();
                    prop_assert_eq!(accepted, !reference.contains_key(&run.id));
                    reference.entry(run.id.clone()).or_insert(run);
                }
                Action::Finish(id, ttft, speed, duration) => {
                    let update = PromptRunUpdate {
                        status: Some(RunStatus::Success),
                        duration_ms: duration,
                        metadata: figures(ttft, speed),
                        ..PromptRunUpdate::default()
                    };
                    let expected = reference.get(id).and_then(|run| update.clone().apply_to(run).ok());
                    prop_assert_eq!(store.update_run(id, update).is_ok(), expected.is_some());
                    if let Some(updated) = expected {
                        reference.insert(id.to_owned(), updated);
                    }
                }
                Action::Remove(id) => {
                    prop_assert_eq!(store.remove_run(id).is_ok(), reference.remove(id).is_some());
                }
                Action::Merge(run) => {
                    store.merge_runs(vec![run.clone()]);
                    let replaces = reference.get(&run.id).is_none_or(|held| run.supersedes(held));
                    if replaces {
                        reference.insert(run.id.clone(), run);
                    }
                }
            }
            let kept = store.model_stats();
            for model in MODELS {
                let successful: Vec<&PromptRun> = reference
                    .values()
                    .filter(|run| run.model_id == model && run.status == RunStatus::Success)
                    .collect();
                let ttfts: Vec<u64> = successful.iter().filter_map(|run| Some(run.metrics().ttft_ms?.value)).collect();
                let speeds: Vec<f64> = successful.iter().filter_map(|run| Some(run.metrics().output_tokens_per_second?.value)).collect();
                let latencies: Vec<u64> = successful.iter().filter_map(|run| run.duration_ms).collect();
                let stats = kept.iter().find(|stats| stats.model_id == model);
                prop_assert_eq!(stats.and_then(|s| s.ttft_ms), spread(&ttfts), "{} ttft", model);
                prop_assert_eq!(stats.and_then(|s| s.output_tokens_per_second), spread(&speeds), "{} speed", model);
                prop_assert_eq!(stats.and_then(|s| s.latency_ms), spread(&latencies), "{} latency", model);
            }
            // The same records built in one pass over the runs (what a
            // filtered view shows) agree with those kept per change.
            prop_assert_eq!(&ModelStats::of(store.runs().iter().map(|run| &**run)), &kept);
        }
    }
}

/// A finished run on `model` costing `cost`, with `source` recorded when given.
fn priced(id: &str, model: &str, cost: f64, source: Option<CostSource>) -> PromptRun {
    let mut run = PromptRun::pending(id, model, "p");
    run.status = RunStatus::Success;
    run.completed_at = Some(Timestamp::from_unix_millis(1_700_000_060_000));
    run.cost = Some(cost);
    run.metadata = source
        .map(|source| Map::from_iter([(COST_SOURCE_KEY.to_owned(), Value::from(source.as_str()))]));
    run
}

#[test]
fn cost_sources_survive_export_and_import_and_merges_recount_them() {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    for run in [
        priced("reported", "gpt-4o", 0.002, Some(CostSource::Reported)),
        priced("estimated", "gpt-4o", 0.001, Some(CostSource::Estimated)),
        priced("local", "llama", 0.0, Some(CostSource::Local)),
        priced("older", "gpt-4o", 0.003, None),
    ] {
        store.add_run(run).unwrap();
    }
    assert_eq!((store.priced_runs(), store.estimated_costs()), (4, 1));
    let gpt = |store: &RunsStore| {
        store
            .model_stats()
            .into_iter()
            .find(|stats| stats.model_id == "gpt-4o")
            .unwrap()
    };
    assert_eq!(gpt(&store).estimated_costs(), 1);
    assert_eq!(
        gpt(&store).cost_per_1k_runs().unwrap().to_string(),
        "$2.0000",
        "$0.006 over 3 runs, per 1,000"
    );

    let exported = export_json(&store.runs());
    let copy = owner.with(RunsStore::new);
    import_json(&copy, &exported).unwrap();
    for id in ["reported", "estimated", "local", "older"] {
        let (here, there) = (
            store.get_run_by_id(id).unwrap(),
            copy.get_run_by_id(id).unwrap(),
        );
        assert_eq!(here.cost_source(), there.cost_source(), "{id}");
        assert_eq!(*here, *there);
    }
    assert_eq!(copy.history_summary(), store.history_summary());
    assert_eq!(
        copy.get_run_by_id("older").unwrap().cost_source(),
        None,
        "a cost from before sources stays without one: not claimed reported"
    );

    // A copy further along replaces the run held, and the counts follow it.
    let mut running = PromptRun::pending("late", "gpt-4o", "p");
    running.status = RunStatus::Running;
    copy.add_run(running).unwrap();
    assert_eq!(copy.estimated_costs(), 1);
    let report = copy.merge_runs(vec![
        priced("late", "gpt-4o", 0.004, Some(CostSource::Estimated)),
        priced("estimated", "gpt-4o", 0.001, Some(CostSource::Reported)),
    ]);
    assert_eq!(
        report.updated, 2,
        "one finished, one completed as late: both replace"
    );
    assert_eq!(
        copy.get_run_by_id("estimated").unwrap().cost_source(),
        Some(CostSource::Reported)
    );
    assert_eq!(copy.estimated_costs(), 1, "one estimate more, one less");
    assert_eq!(gpt(&copy).estimated_costs(), 1);
    copy.remove_run("late").unwrap();
    assert_eq!(copy.estimated_costs(), 0);
    assert_eq!(gpt(&copy).estimated_costs(), 0);

    // An older build's export (no sources, no metrics) reads as unknown, never 0.
    let older = json!([{"id": "ts", "modelId": "m", "status": "success",
        "startedAt": "2024-01-01T00:00:00.000Z", "cost": 0.5, "durationMs": 900}]);
    let plain = owner.with(RunsStore::new);
    import_json(&plain, &older.to_string()).unwrap();
    let run = plain.get_run_by_id("ts").unwrap();
    assert!(run.metrics().is_empty());
    assert_eq!((run.cost_source(), plain.estimated_costs()), (None, 0));
    let stats = &plain.model_stats()[0];
    assert_eq!(
        stats.ttft_ms, None,
        "no time to first token recorded, none shown"
    );
    assert_eq!(stats.latency_ms, Some(Spread { p50: 900, p95: 900 }));
}
