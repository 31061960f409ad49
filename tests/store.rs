//! The runs store's actions, derived values and refusals, natively.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use leptos::prelude::*;
use prompt_runs::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp, Usd};
use prompt_runs::store::{
    provide_runs_store, use_runs_store, Notice, NoticeSource, RunsStore, StoreError,
};
use support::runs::a_run;

fn run(id: &str, model: &str, status: RunStatus, started_minute: u32) -> PromptRun {
    (a_run(id).model(model).status(status))
        .started_minute(started_minute)
        .build()
}

fn finished(
    id: &str,
    status: RunStatus,
    tokens: Option<u64>,
    cost: Option<f64>,
    duration: Option<u64>,
) -> PromptRun {
    (a_run(id).status(status).started_minute(0))
        .tokens(tokens)
        .cost(cost)
        .duration(duration)
        .build()
}

fn ids(list: &prompt_runs::store::RunList) -> Vec<String> {
    list.iter().map(|run| run.id.clone()).collect()
}

fn store() -> (Owner, RunsStore) {
    let owner = Owner::new();
    let store = owner.with(RunsStore::new);
    (owner, store)
}

#[test]
fn starts_empty_with_all_five_status_groups() {
    let (_owner, store) = store();
    assert!(store.runs().is_empty());
    assert_eq!(store.active_run_id(), None);
    assert!(!store.is_executing());
    assert_eq!(store.execution_progress(), 0.0);
    assert_eq!(store.error(), None);
    assert_eq!(store.active_run(), None);
    assert_eq!(store.latest_run(), None);
    let groups = store.runs_by_status();
    assert_eq!(
        groups.iter().map(|(status, _)| status).collect::<Vec<_>>(),
        RunStatus::ALL
    );
    assert!(groups.iter().all(|(_, runs)| runs.is_empty()));
    assert_eq!(store.total_tokens_used(), 0);
    assert_eq!(store.total_cost(), Usd::ZERO);
    assert_eq!(
        store.average_duration(),
        None,
        "no duration known is not 0 ms"
    );
}

#[test]
fn add_run_puts_the_new_run_first() {
    let (_owner, store) = store();
    store.add_run(run("a", "m", RunStatus::Pending, 0)).unwrap();
    store.add_run(run("b", "m", RunStatus::Pending, 1)).unwrap();
    store.add_run(run("c", "m", RunStatus::Pending, 2)).unwrap();
    assert_eq!(ids(&store.runs()), ["c", "b", "a"]);
    assert_eq!(store.runs().get(0).unwrap().id, "c");
}

#[test]
fn add_run_refuses_a_duplicate_id_and_overwrites_nothing() {
    let (_owner, store) = store();
    store
        .add_run(finished("a", RunStatus::Success, Some(10), None, None))
        .unwrap();
    let refused = store.add_run(finished("a", RunStatus::Error, Some(99), None, None));
    assert_eq!(refused, Err(StoreError::DuplicateId("a".into())));
    assert!(refused.unwrap_err().to_string().contains("already exists"));
    assert_eq!(store.runs().len(), 1);
    assert_eq!(store.get_run_by_id("a").unwrap().status, RunStatus::Success);
    assert_eq!(store.total_tokens_used(), 10);
}

#[test]
fn set_runs_replaces_everything_and_clears_the_error() {
    let (_owner, store) = store();
    store
        .add_run(run("old", "m", RunStatus::Pending, 0))
        .unwrap();
    store.set_error(Some("boom".into()));
    store
        .set_runs(vec![
            run("x", "m", RunStatus::Success, 0),
            run("y", "m", RunStatus::Error, 1),
        ])
        .unwrap();
    assert_eq!(ids(&store.runs()), ["x", "y"]);
    assert_eq!(store.get_run_by_id("old"), None);
    assert_eq!(store.error(), None);
    assert_eq!(store.successful_runs().len(), 1);
    assert_eq!(store.failed_runs().len(), 1);
}

#[test]
fn set_runs_refuses_repeated_ids_and_changes_nothing() {
    let (_owner, store) = store();
    store
        .add_run(run("keep", "m", RunStatus::Pending, 0))
        .unwrap();
    store.set_error(Some("still shown".into()));
    let refused = store.set_runs(vec![
        run("x", "m", RunStatus::Success, 0),
        run("x", "m", RunStatus::Error, 1),
    ]);
    assert_eq!(refused, Err(StoreError::DuplicateId("x".into())));
    assert_eq!(ids(&store.runs()), ["keep"]);
    assert_eq!(store.error().as_deref(), Some("still shown"));
}

#[test]
fn set_runs_keeps_the_active_run_only_if_it_is_still_there() {
    let (_owner, store) = store();
    store
        .set_runs(vec![run("a", "m", RunStatus::Success, 0)])
        .unwrap();
    store.set_active_run(Some("a")).unwrap();
    store
        .set_runs(vec![
            run("a", "m", RunStatus::Success, 0),
            run("b", "m", RunStatus::Success, 1),
        ])
        .unwrap();
    assert_eq!(store.active_run_id().as_deref(), Some("a"));
    store
        .set_runs(vec![run("b", "m", RunStatus::Success, 1)])
        .unwrap();
    assert_eq!(store.active_run_id(), None);
}

#[test]
fn update_run_changes_the_run_and_every_derived_value() {
    let (_owner, store) = store();
    store.add_run(run("a", "m", RunStatus::Pending, 0)).unwrap();
    store
        .update_run("a", PromptRunUpdate::status(RunStatus::Running))
        .unwrap();
    assert_eq!(store.runs_by_status().count(RunStatus::Running), 1);
    assert_eq!(store.runs_by_status().count(RunStatus::Pending), 0);
    store
        .update_run(
            "a",
            PromptRunUpdate {
                status: Some(RunStatus::Success),
                total_tokens: Some(150),
                cost: Some(0.0025),
                duration_ms: Some(800),
                output: Some("done".into()),
                ..PromptRunUpdate::default()
            },
        )
        .unwrap();
    let updated = store.get_run_by_id("a").unwrap();
    assert_eq!(updated.status, RunStatus::Success);
    assert_eq!(updated.output.as_deref(), Some("done"));
    assert_eq!(ids(&store.successful_runs()), ["a"]);
    assert_eq!(store.total_tokens_used(), 150);
    assert_eq!(store.total_cost().to_string(), "$0.0025");
    assert_eq!(store.average_duration(), Some(800));
}

#[test]
fn update_run_reports_an_unknown_id_and_changes_nothing() {
    let (_owner, store) = store();
    store.add_run(run("a", "m", RunStatus::Pending, 0)).unwrap();
    let before = store.runs();
    let refused = store.update_run("nope", PromptRunUpdate::status(RunStatus::Running));
    assert_eq!(refused, Err(StoreError::UnknownId("nope".into())));
    assert!(store.runs().is_same_as(&before));
}

#[test]
fn update_run_refuses_to_move_a_finished_run_back() {
    let (_owner, store) = store();
    store
        .add_run(finished("a", RunStatus::Success, Some(5), None, None))
        .unwrap();
    for backwards in [
        RunStatus::Pending,
        RunStatus::Running,
        RunStatus::Error,
        RunStatus::Cancelled,
    ] {
        let refused = store.update_run(
            "a",
            PromptRunUpdate {
                status: Some(backwards),
                total_tokens: Some(1),
                ..PromptRunUpdate::default()
            },
        );
        assert!(
            matches!(refused, Err(StoreError::InvalidTransition(_))),
            "{backwards}: {refused:?}"
        );
    }
    let unchanged = store.get_run_by_id("a").unwrap();
    assert_eq!(
        (unchanged.status, unchanged.total_tokens),
        (RunStatus::Success, Some(5))
    );
    store.add_run(run("r", "m", RunStatus::Running, 1)).unwrap();
    assert!(store
        .update_run("r", PromptRunUpdate::status(RunStatus::Pending))
        .is_err());
}

#[test]
fn remove_run_returns_the_run_and_reports_an_unknown_id() {
    let (_owner, store) = store();
    store
        .add_run(finished(
            "a",
            RunStatus::Success,
            Some(7),
            Some(0.5),
            Some(100),
        ))
        .unwrap();
    store
        .add_run(finished("b", RunStatus::Error, Some(3), None, None))
        .unwrap();
    assert_eq!(store.remove_run("a").unwrap().id, "a");
    assert_eq!(ids(&store.runs()), ["b"]);
    assert_eq!(store.total_tokens_used(), 3);
    assert_eq!(store.total_cost(), Usd::ZERO);
    assert_eq!(
        store.average_duration(),
        None,
        "the only duration went with a"
    );
    assert!(store.successful_runs().is_empty());
    assert_eq!(
        store.remove_run("a").unwrap_err(),
        StoreError::UnknownId("a".into())
    );
    assert_eq!(ids(&store.runs()), ["b"]);
}

#[test]
fn removing_or_clearing_the_active_run_clears_the_active_id() {
    let (_owner, store) = store();
    store.add_run(run("a", "m", RunStatus::Success, 0)).unwrap();
    store.add_run(run("b", "m", RunStatus::Success, 1)).unwrap();
    store.set_active_run(Some("b")).unwrap();
    store.remove_run("a").unwrap();
    assert_eq!(
        store.active_run_id().as_deref(),
        Some("b"),
        "removing another run keeps it"
    );
    store.remove_run("b").unwrap();
    assert_eq!(store.active_run_id(), None);
    assert_eq!(store.active_run(), None);

    store.add_run(run("c", "m", RunStatus::Success, 2)).unwrap();
    store.set_active_run(Some("c")).unwrap();
    store.clear_runs();
    assert_eq!(store.active_run_id(), None);
    assert!(store.runs().is_empty());
    assert_eq!(store.total_tokens_used(), 0);
    assert!(store
        .runs_by_status()
        .iter()
        .all(|(_, runs)| runs.is_empty()));
}

#[test]
fn set_active_run_follows_the_run_and_refuses_unknown_ids() {
    let (_owner, store) = store();
    store.add_run(run("a", "m", RunStatus::Pending, 0)).unwrap();
    store.set_active_run(Some("a")).unwrap();
    assert_eq!(store.active_run().unwrap().status, RunStatus::Pending);
    store
        .update_run("a", PromptRunUpdate::status(RunStatus::Running))
        .unwrap();
    assert_eq!(
        store.active_run().unwrap().status,
        RunStatus::Running,
        "active_run reflects updates"
    );

    assert_eq!(
        store.set_active_run(Some("ghost")),
        Err(StoreError::UnknownId("ghost".into()))
    );
    assert_eq!(store.active_run_id(), None);
    assert_eq!(store.active_run(), None);

    store.set_active_run(Some("a")).unwrap();
    store.set_active_run(None).unwrap();
    assert_eq!(store.active_run(), None);
}

#[test]
fn latest_run_is_the_latest_start_not_the_first_or_last_in_the_list() {
    let (_owner, store) = store();
    store
        .set_runs(vec![
            run("early", "m", RunStatus::Success, 1),
            run("latest", "m", RunStatus::Success, 30),
            run("mid", "m", RunStatus::Success, 10),
        ])
        .unwrap();
    assert_eq!(store.latest_run().unwrap().id, "latest");
    store
        .add_run(run("added-but-older", "m", RunStatus::Success, 5))
        .unwrap();
    assert_eq!(store.latest_run().unwrap().id, "latest");
    store
        .update_run(
            "mid",
            PromptRunUpdate {
                started_at: Some(Timestamp::parse("2024-05-01T13:00:00.000Z")),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(store.latest_run().unwrap().id, "mid");
    store.remove_run("mid").unwrap();
    assert_eq!(store.latest_run().unwrap().id, "latest");
}

#[test]
fn runs_by_model_lists_each_models_runs_most_recent_first() {
    let (_owner, store) = store();
    store
        .add_run(run("a", "gpt-4o", RunStatus::Success, 0))
        .unwrap();
    store
        .add_run(run("b", "claude", RunStatus::Success, 1))
        .unwrap();
    store
        .add_run(run("c", "gpt-4o", RunStatus::Error, 2))
        .unwrap();
    assert_eq!(ids(&store.get_runs_by_model("gpt-4o")), ["c", "a"]);
    assert_eq!(ids(&store.get_runs_by_model("claude")), ["b"]);
    assert!(store.get_runs_by_model("unknown").is_empty());
    store
        .update_run(
            "a",
            PromptRunUpdate {
                model_id: Some("claude".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ids(&store.get_runs_by_model("claude")), ["b", "a"]);
}

#[test]
fn totals_count_missing_usage_as_nothing_and_average_only_known_durations() {
    let (_owner, store) = store();
    store
        .add_run(finished(
            "a",
            RunStatus::Success,
            Some(100),
            Some(0.01),
            Some(1000),
        ))
        .unwrap();
    store
        .add_run(finished("b", RunStatus::Success, None, None, None))
        .unwrap();
    store
        .add_run(finished(
            "c",
            RunStatus::Error,
            Some(50),
            Some(0.02),
            Some(2001),
        ))
        .unwrap();
    assert_eq!(store.total_tokens_used(), 150);
    assert_eq!(store.total_cost().to_string(), "$0.0300");
    assert_eq!(
        store.average_duration(),
        Some(1501),
        "mean of 1000 and 2001 rounds 1500.5 up"
    );
    assert!(
        store.get_run_by_id("b").unwrap().total_tokens.is_none(),
        "unknown usage stays unknown"
    );
}

#[test]
fn ten_thousand_runs_of_a_hundredth_of_a_cent_total_exactly_one_dollar() {
    let (_owner, store) = store();
    for i in 0..10_000 {
        store
            .add_run(finished(
                &format!("r{i}"),
                RunStatus::Success,
                Some(1),
                Some(0.0001),
                None,
            ))
            .unwrap();
    }
    assert_eq!(store.total_cost().to_string(), "$1.0000");
    assert_eq!(store.total_cost().dollars(), 1.0);
}

#[test]
fn execution_lifecycle() {
    let (_owner, store) = store();
    store.set_error(Some("old failure".into()));
    store.start_execution();
    assert!(store.is_executing());
    assert_eq!(store.execution_progress(), 0.0);
    assert_eq!(store.error(), None);

    store.update_execution_progress(42.5);
    assert_eq!(store.execution_progress(), 42.5);
    store.update_execution_progress(150.0);
    assert_eq!(store.execution_progress(), 100.0);
    store.update_execution_progress(-3.0);
    assert_eq!(store.execution_progress(), 0.0);
    store.update_execution_progress(37.0);
    store.update_execution_progress(f64::NAN);
    assert_eq!(store.execution_progress(), 37.0, "NaN is ignored");

    store.complete_execution();
    assert!(!store.is_executing());
    assert_eq!(store.execution_progress(), 100.0);
}

#[test]
fn set_error_ends_the_execution_and_clearing_it_does_not_start_one() {
    let (_owner, store) = store();
    store.start_execution();
    store.set_error(Some("HTTP 500: upstream failed".into()));
    assert!(!store.is_executing());
    assert_eq!(store.error().as_deref(), Some("HTTP 500: upstream failed"));
    store.set_error(None);
    assert_eq!(store.error(), None);
    assert!(!store.is_executing());
}

#[test]
fn cancel_execution_cancels_in_flight_runs_and_leaves_finished_ones() {
    let (_owner, store) = store();
    store
        .add_run(run("pending", "m", RunStatus::Pending, 0))
        .unwrap();
    store
        .add_run(run("running", "m", RunStatus::Running, 1))
        .unwrap();
    let mut done = run("done", "m", RunStatus::Success, 2);
    done.completed_at = Some(Timestamp::parse("2024-05-01T12:02:05.000Z"));
    store.add_run(done.clone()).unwrap();
    store.start_execution();
    store.update_execution_progress(60.0);

    store.cancel_execution();

    assert!(!store.is_executing());
    assert_eq!(store.execution_progress(), 0.0);
    for id in ["pending", "running"] {
        let cancelled = store.get_run_by_id(id).unwrap();
        assert_eq!(cancelled.status, RunStatus::Cancelled, "{id}");
        let completed_at = cancelled.completed_at.as_ref().expect("completedAt set");
        assert!(completed_at.unix_millis().unwrap() >= cancelled.started_at.unix_millis().unwrap());
        assert_eq!(cancelled.total_tokens, None, "no invented token count");
    }
    assert_eq!(*store.get_run_by_id("done").unwrap(), done);
    assert_eq!(store.runs_by_status().count(RunStatus::Cancelled), 2);
    assert_eq!(store.runs_by_status().count(RunStatus::Running), 0);
}

#[test]
fn derived_values_are_tracked_and_only_notify_on_change() {
    let (owner, store) = store();
    owner.with(|| {
        let cost_reads = RwSignal::new(0_u32);
        let shown_cost = Memo::new(move |_| {
            cost_reads.update_untracked(|n| *n += 1);
            store.total_cost().to_string()
        });
        assert_eq!(shown_cost.get(), "$0.0000");
        store
            .add_run(finished("a", RunStatus::Success, Some(1), Some(0.25), None))
            .unwrap();
        assert_eq!(
            shown_cost.get(),
            "$0.2500",
            "a reader of total_cost sees the new total"
        );
        let reads = cost_reads.get_untracked();
        store
            .update_run(
                "a",
                PromptRunUpdate {
                    output: Some("text".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(shown_cost.get(), "$0.2500");
        assert_eq!(
            cost_reads.get_untracked(),
            reads,
            "a change that leaves the total alone does not re-run its readers"
        );
    });
}

#[test]
fn the_store_is_found_through_context() {
    let owner = Owner::new();
    owner.with(|| {
        let provided = provide_runs_store();
        provided
            .add_run(run("a", "m", RunStatus::Pending, 0))
            .unwrap();
        let child = owner.child();
        child.with(|| {
            let found = use_runs_store();
            assert_eq!(ids(&found.runs()), ["a"]);
        });
    });
}

#[test]
fn a_store_outlives_nothing_of_its_owner() {
    let (owner, store) = store();
    drop(owner);
    assert_eq!(
        store.add_run(run("a", "m", RunStatus::Pending, 0)),
        Err(StoreError::Disposed)
    );
}

#[test]
fn a_batch_is_found_from_any_of_its_runs_and_only_its_runs() {
    let (_owner, store) = store();
    let in_batch = |id: &str, batch: &str| {
        let mut run = run(id, id, RunStatus::Success, 0);
        run.metadata = Some(serde_json::Map::from_iter([(
            prompt_runs::model::BATCH_ID_KEY.to_owned(),
            batch.into(),
        )]));
        run
    };
    store.add_run(in_batch("old-1", "old")).unwrap();
    store.add_run(in_batch("old-2", "old")).unwrap();
    store
        .add_run(run("alone", "m", RunStatus::Success, 0))
        .unwrap();
    for id in ["b-1", "b-2", "b-3"] {
        store.add_run(in_batch(id, "new")).unwrap();
    }
    store
        .add_run(run("later", "m", RunStatus::Success, 0))
        .unwrap();

    for member in ["b-1", "b-2", "b-3"] {
        assert_eq!(ids(&store.batch_runs(member)), ["b-3", "b-2", "b-1"]);
    }
    assert_eq!(ids(&store.batch_runs("old-2")), ["old-2", "old-1"]);
    assert_eq!(store.get_run_by_id("b-1").unwrap().batch_id(), Some("new"));
    assert!(
        store.batch_runs("alone").is_empty(),
        "a run executed alone has no batch"
    );
    assert!(store.batch_runs("missing").is_empty());
}

#[test]
fn a_part_takes_back_only_its_own_notice() {
    let (_owner, store) = store();
    store.report(NoticeSource::Saving, "Browser storage is full");
    assert_eq!(
        store.notice(),
        Some(Notice {
            source: NoticeSource::Saving,
            message: "Browser storage is full".into(),
        })
    );
    assert_eq!(store.error().as_deref(), Some("Browser storage is full"));
    // Another part's problem being over leaves it shown.
    store.clear_notice(NoticeSource::Server);
    assert_eq!(store.error().as_deref(), Some("Browser storage is full"));
    store.clear_notice(NoticeSource::Saving);
    assert_eq!(store.notice(), None);

    // A failed run replaces a saving problem's notice; saving working again
    // does not take the run's failure away.
    store.report(NoticeSource::Saving, "Runs could not be saved");
    store.set_error(Some("HTTP 500: upstream failed".into()));
    store.clear_notice(NoticeSource::Saving);
    assert_eq!(
        store.notice().map(|notice| notice.source),
        Some(NoticeSource::Execution)
    );
    assert_eq!(store.error().as_deref(), Some("HTTP 500: upstream failed"));
}
