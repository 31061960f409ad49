//! The experiment file: `docs/experiment.schema.json` accepts what the app
//! exports (the example, every kind of check, a budget, exact pairs, runs as
//! the store records them) and what the command line writes, and refuses
//! what the app refuses; the example under `examples/` is the app's own;
//! and the file goes both ways: what the app exports the command line runs
//! unchanged, what the command line writes the app imports.

mod support;

use prompt_runs::experiment::{
    example, export_experiment, import_experiment, Check, Experiment, Pairing, Pattern,
};
use prompt_runs::model::{PromptRun, RunStatus, Usd};
use serde_json::{json, Value};
use std::fs;
use std::sync::Arc;
use support::{capitals, prompt_runs, run, write, TestGateway};

fn validator() -> jsonschema::Validator {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/experiment.schema.json"
    );
    let schema: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema is a valid draft 2020-12 schema")
}

/// The schema's complaints about `file` (none: valid).
fn problems(file: &str) -> Vec<String> {
    let instance: Value = serde_json::from_str(file).expect("JSON");
    (validator().iter_errors(&instance))
        .map(|error| format!("{} at {}", error, error.instance_path()))
        .collect()
}

/// An experiment using every part of the format, with runs of each status
/// as the store records them.
fn everything() -> (Experiment, Vec<Arc<PromptRun>>) {
    let mut experiment = example();
    experiment.name = "Everything".into();
    experiment.models = vec![
        "offline-echo".into(),
        "gpt-4o".into(),
        "offline-slow".into(),
    ];
    experiment.pairing = Pairing::ExactPairs;
    experiment.repeats = 2;
    experiment.budget = Some(Usd::from_dollars(0.25));
    experiment.parameters.temperature = Some(0.2);
    experiment.parameters.max_tokens = Some(64);
    experiment.parameters.top_p = Some(0.9);
    experiment.checks = vec![
        Check::Contains {
            text: "capital".into(),
            case_sensitive: false,
        },
        Check::NotContains {
            text: "sorry".into(),
            case_sensitive: true,
        },
        Check::Regex {
            pattern: Pattern::new("^[A-Z]", true).unwrap(),
        },
        Check::Equals {
            text: "Paris".into(),
        },
        Check::ValidJson,
        Check::JsonHasKey { path: "a.b".into() },
        Check::MaxLength { characters: 200 },
        Check::MaxLatency { ms: 1_500 },
        Check::MaxCost {
            usd: Usd::from_dollars(0.01),
        },
    ];
    let cells = prompt_runs::experiment::plan(&experiment, &[])
        .unwrap()
        .cells;
    let runs = (cells.iter().zip([
        RunStatus::Success,
        RunStatus::Error,
        RunStatus::Cancelled,
        RunStatus::Success,
    ]))
    .map(|(cell, status)| {
        let mut run = cell.pending_run(&experiment.id);
        run.status = status;
        run.completed_at = Some(run.started_at.clone());
        match status {
            RunStatus::Success => {
                run.output = Some("Paris is the capital.".into());
                (run.input_tokens, run.output_tokens, run.total_tokens) =
                    (Some(12), Some(6), Some(18));
                run.cost = Some(0.000_02);
                run.duration_ms = Some(310);
                let metadata = run.metadata.as_mut().unwrap();
                metadata.insert("serverRunId".into(), "run_1".into());
                metadata.insert("costSource".into(), "estimated".into());
                metadata.insert(
                    "metrics".into(),
                    json!({"ttftMs": 40, "sources": {"ttftMs": "measured"}}),
                );
                metadata.insert(
                    "parameters".into(),
                    json!({"temperature": 0.2, "max_tokens": 64, "top_p": 0.9}),
                );
            }
            _ => run.error = Some("HTTP 500: simulated failure".into()),
        }
        Arc::new(run)
    })
    .collect();
    (experiment, runs)
}

#[test]
fn the_schema_accepts_what_the_app_exports() {
    assert_eq!(
        problems(&export_experiment(&example(), [])),
        Vec::<String>::new()
    );
    let (experiment, runs) = everything();
    let file = export_experiment(&experiment, runs.iter());
    assert_eq!(problems(&file), Vec::<String>::new(), "{file}");
    let draft = prompt_runs::experiment::Experiment::new("exp-draft", "");
    assert_eq!(
        problems(&export_experiment(&draft, [])),
        Vec::<String>::new(),
        "a draft imports too"
    );
}

#[test]
fn the_schema_accepts_judge_calls_and_blind_ab_votes() {
    use prompt_runs::experiment::judge_vote::pending_pairwise_run;
    use prompt_runs::experiment::{blind_pairs, pairwise_request, Choice, Grid, JudgeCheck};
    use prompt_runs::model::Timestamp;
    let mut experiment = example();
    experiment.models = vec!["offline-echo".into(), "offline-slow".into()];
    experiment.checks = vec![Check::Judge(JudgeCheck::built_in(1, "offline-judge"))];
    let cells = prompt_runs::experiment::plan(&experiment, &[])
        .unwrap()
        .cells;
    let mut runs: Vec<Arc<PromptRun>> = (cells.iter())
        .map(|cell| {
            let mut run = cell.pending_run(&experiment.id);
            run.status = RunStatus::Success;
            run.output = Some("Paris.".into());
            Arc::new(run)
        })
        .collect();
    // A person's vote on the first pair, in both runs.
    let grid = Grid::build(&experiment, runs.iter());
    let pair = blind_pairs(&experiment, &grid, (0, 1), 1).remove(0);
    for (id, update) in pair.vote(Choice::Tie, &Timestamp::from_unix_millis(1_000)) {
        let at = runs.iter().position(|run| run.id == id).unwrap();
        runs[at] = Arc::new(update.apply_to(&runs[at]).unwrap());
    }
    // A judge's vote on it, and a model-graded check's judge call.
    let mut vote = pending_pairwise_run(
        &pairwise_request("offline-judge", &pair, None),
        &experiment.id,
        &pair,
    );
    vote.status = RunStatus::Success;
    vote.output = Some(r#"{"winner": "tie", "reason": "Both say Paris."}"#.into());
    let Check::Judge(check) = &experiment.checks[0] else {
        unreachable!()
    };
    let graded = &runs[0];
    let request = (check.prepare(&experiment.inputs).unwrap())
        .request(&experiment.inputs, 0, graded)
        .unwrap();
    let grading = request.pending_run(&experiment.id, &graded.id);
    runs.extend([Arc::new(vote), Arc::new(grading)]);
    let file = export_experiment(&experiment, runs.iter());
    assert!(
        file.contains("\"votes\"") && file.contains("\"versus\""),
        "{file}"
    );
    assert_eq!(problems(&file), Vec::<String>::new(), "{file}");
}

#[test]
fn the_schema_refuses_what_the_app_refuses() {
    let good: Value = serde_json::from_str(&export_experiment(&example(), [])).unwrap();
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut file = good.clone();
        change(&mut file);
        file.to_string()
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "another kind",
            broken(&|file| file["kind"] = json!("prompt-runs history")),
        ),
        (
            "a newer schema",
            broken(&|file| file["experiment"]["schema"] = json!(2)),
        ),
        (
            "no models",
            broken(&|file| {
                file["experiment"].as_object_mut().unwrap().remove("models");
            }),
        ),
        (
            "a check of no known kind",
            broken(&|file| file["experiment"]["checks"][0]["kind"] = json!("judge")),
        ),
        (
            "a field of another kind",
            broken(&|file| file["experiment"]["checks"][0]["path"] = json!("a")),
        ),
        (
            "a contains check without text",
            broken(&|file| {
                file["experiment"]["checks"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("text");
            }),
        ),
        (
            "an unknown pairing",
            broken(&|file| file["experiment"]["pairing"] = json!("zip")),
        ),
        (
            "a run without its cell",
            broken(
                &|file| file["runs"] = json!([{"id": "r", "modelId": "m", "status": "success", "startedAt": "2024-01-01T00:00:00.000Z", "metadata": {}}]),
            ),
        ),
        (
            "a run of no known status",
            broken(
                &|file| file["runs"] = json!([{"id": "r", "modelId": "m", "status": "done", "startedAt": "2024-01-01T00:00:00.000Z", "metadata": {"experiment": {"id": "exp-example-capitals", "row": 0, "model": "m", "repeat": 0}}}]),
            ),
        ),
        (
            "a ragged input column list",
            broken(&|file| file["experiment"]["inputs"]["columns"] = json!("country")),
        ),
    ];
    for (what, file) in cases {
        assert!(!problems(&file).is_empty(), "the schema accepts {what}");
        assert!(
            import_experiment(&file).is_err(),
            "the app accepts {what}, which the schema refuses"
        );
    }
}

#[test]
fn the_example_is_the_apps_own_and_valid() {
    let text = fs::read_to_string(capitals()).unwrap();
    assert_eq!(problems(&text), Vec::<String>::new());
    assert_eq!(
        text.trim_end(),
        export_experiment(&example(), []),
        "exactly what the app exports"
    );
}

#[test]
fn what_the_app_exports_the_command_line_runs_and_what_it_writes_the_app_imports() {
    let gateway = TestGateway::start(2_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    // An app export with a run already in it: a failed cell, re-run here.
    let experiment = example();
    let cells = prompt_runs::experiment::plan(&experiment, &[])
        .unwrap()
        .cells;
    let mut failed = cells[0].pending_run(&experiment.id);
    failed.status = RunStatus::Error;
    failed.error = Some("HTTP 500: simulated failure".into());
    let exported = export_experiment(&experiment, [&Arc::new(failed.clone())]);
    let file = write(dir.path(), "from-the-app.json", &exported);
    let out = dir.path().join("to-the-app.json");
    let output = run(prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            file.to_str().unwrap(),
            "--gateway",
            &gateway.url,
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(output.status.code(), Some(0));

    let written = fs::read_to_string(&out).unwrap();
    assert_eq!(
        problems(&written),
        Vec::<String>::new(),
        "the schema accepts what the command line writes"
    );
    let imported = import_experiment(&written).expect("the app imports it");
    assert_eq!(
        imported.experiment, experiment,
        "the definition comes back unchanged"
    );
    assert_eq!(
        imported.runs.len(),
        4,
        "the earlier run kept, and one run per cell"
    );
    assert!(imported
        .runs
        .iter()
        .any(|run| run.id == failed.id && run.status == RunStatus::Error));
    let runs: Vec<Arc<PromptRun>> = imported.runs.into_iter().map(Arc::new).collect();
    let grid = prompt_runs::experiment::Grid::build(&experiment, runs.iter());
    assert_eq!(
        grid.models[0].succeeded, 3,
        "the re-run shows over the failed attempt"
    );
    assert!(runs
        .iter()
        .all(|run| run.experiment_cell().unwrap().experiment_id == experiment.id));
}
