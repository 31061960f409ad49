//! `prompt-runs eval` as a CI job runs it: the binary, against a real
//! gateway on loopback with its offline models. The example runs and its
//! results import into the app; the exit status says passed (0), checks
//! failed (1) or could not run (2: a bad file, an unreachable gateway, an
//! unknown model, the budget, missing answers); the cache answers a re-run,
//! misses on any change, and is bypassed on request; a gateway's rate limit
//! is waited out, not failed; Ctrl-C cancels and writes what finished.

mod support;

use prompt_runs::experiment::{
    example, export_experiment, import_experiment, Check, Experiment, Grid,
};
use prompt_runs::model::{RunStatus, Usd, SERVER_RUN_ID_KEY};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use support::{capitals, countries, nowhere, prompt_runs, run, said, write, TestGateway};

/// The runs of the experiment file at `path`, read with the app's import.
fn imported(path: &Path) -> prompt_runs::experiment::ImportedExperiment {
    import_experiment(&fs::read_to_string(path).expect("the output was written"))
        .expect("the app imports what the command line wrote")
}

fn server_run_ids(path: &Path) -> BTreeSet<String> {
    (imported(path).runs.iter())
        .filter_map(|run| {
            run.metadata
                .as_ref()?
                .get(SERVER_RUN_ID_KEY)?
                .as_str()
                .map(str::to_owned)
        })
        .collect()
}

fn cached_runs(path: &Path) -> usize {
    (imported(path).runs.iter())
        .filter(|run| {
            run.metadata
                .as_ref()
                .is_some_and(|metadata| metadata.get("cached") == Some(&true.into()))
        })
        .count()
}

/// The example with another check and template: `France` appears in one
/// answer of three (the offline model reflects the prompt back).
fn one_in_three_passes() -> Experiment {
    let mut experiment = example();
    experiment.checks = vec![Check::Contains {
        text: "France".into(),
        case_sensitive: true,
    }];
    experiment
}

fn file_of(dir: &Path, name: &str, experiment: &Experiment) -> String {
    write(dir, name, &export_experiment(experiment, []))
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_example_passes_on_the_gateway_and_its_results_import_into_the_app() {
    let gateway = TestGateway::start(2_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (out, csv, junit) = (
        dir.path().join("out.json"),
        dir.path().join("grid.csv"),
        dir.path().join("report.xml"),
    );
    let output = run(prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            capitals().to_str().unwrap(),
            "--gateway",
            &gateway.url,
            "--out",
            out.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    ));
    assert_eq!(output.status.code(), Some(0), "every check passes");
    let text = said(&output);
    assert!(
        text.contains("Capitals (exp-example-capitals): 3 rows × 1 model × 1 repeat = 3 requests"),
        "the plan"
    );
    assert!(text.contains("Passed: every run passed its checks."));

    let results = imported(&out);
    assert_eq!(results.experiment, example(), "the definition, unchanged");
    assert_eq!(results.runs.len(), 3);
    assert!(results
        .runs
        .iter()
        .all(|run| run.status == RunStatus::Success));
    assert_eq!(cached_runs(&out), 0, "nothing was in the cache");
    let runs: Vec<_> = results.runs.into_iter().map(std::sync::Arc::new).collect();
    let grid = Grid::build(&example(), runs.iter());
    assert_eq!(grid.models[0].pass_rate.passed, 3);
    assert!(
        grid.total_cost().known > Usd::ZERO,
        "offline-echo has a made-up price"
    );

    let csv = fs::read_to_string(&csv).unwrap();
    assert!(
        csv.starts_with("country,offline-echo answer,offline-echo pass"),
        "{csv}"
    );
    assert_eq!(
        csv,
        prompt_runs::experiment::grid_csv(&example(), &grid),
        "the app's CSV of the grid it imports"
    );
    for country in ["\nFrance,", "\nJapan,", "\nKenya,"] {
        assert!(csv.contains(country), "a row for {country:?}: {csv}");
    }
    let junit = fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains(r#"<testsuites name="Capitals" tests="3" failures="0" errors="0""#),
        "{junit}"
    );
    assert!(
        junit.contains(
            r#"<testcase name="row 3: Kenya" classname="exp-example-capitals.offline-echo""#
        ),
        "{junit}"
    );
}

#[test]
fn a_re_run_is_answered_by_the_cache_misses_what_changed_and_no_cache_sends_all() {
    let gateway = TestGateway::start(2_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let eval = |file: &str, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "eval",
            file,
            "--gateway",
            &gateway.url,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        run(prompt_runs(&cache, &args))
    };
    let example = capitals();
    let example = example.to_str().unwrap();
    let first = dir.path().join("first.json");
    assert_eq!(eval(example, &first, &[]).status.code(), Some(0));

    let again = dir.path().join("again.json");
    let output = eval(example, &again, &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        said(&output).contains("3 requests answered from the cache; 0 to send"),
        "the plan says so"
    );
    assert_eq!(cached_runs(&again), 3, "every cell marked cached");
    assert_eq!(
        server_run_ids(&again),
        server_run_ids(&first),
        "the same answers, not new ones"
    );
    let kept = imported(&first);
    let served = imported(&again);
    for run in &served.runs {
        let cell = run.experiment_cell().unwrap();
        let original = kept
            .runs
            .iter()
            .find(|kept| kept.experiment_cell().unwrap().row == cell.row)
            .unwrap();
        assert_eq!((&run.output, run.cost), (&original.output, original.cost));
        assert_ne!(run.id, original.id, "a run of its own");
    }

    // A changed row misses; the others are still answered.
    let mut changed = prompt_runs::experiment::example();
    changed.inputs = countries("France\nJapan\nChile\n");
    let changed_file = file_of(dir.path(), "changed.json", &changed);
    let third = dir.path().join("third.json");
    let output = eval(&changed_file, &third, &[]);
    assert_eq!(output.status.code(), Some(0));
    assert!(said(&output).contains("2 requests answered from the cache; 1 to send"));
    assert_eq!(cached_runs(&third), 2);

    // Other parameters: every cell is a new question.
    let mut parameters = prompt_runs::experiment::example();
    parameters.parameters.temperature = Some(0.3);
    let parameters_file = file_of(dir.path(), "parameters.json", &parameters);
    let fourth = dir.path().join("fourth.json");
    assert_eq!(eval(&parameters_file, &fourth, &[]).status.code(), Some(0));
    assert_eq!(cached_runs(&fourth), 0, "a parameter changed: no hit");

    // Another gateway is another scope.
    let other = TestGateway::start(2_000, &[]);
    let fifth = dir.path().join("fifth.json");
    let mut args = vec![
        "eval",
        example,
        "--gateway",
        &other.url,
        "--out",
        fifth.to_str().unwrap(),
    ];
    args.push("--yes");
    assert_eq!(run(prompt_runs(&cache, &args)).status.code(), Some(0));
    assert_eq!(cached_runs(&fifth), 0, "another gateway: no hit");

    let bypassed = dir.path().join("bypassed.json");
    let output = eval(example, &bypassed, &["--no-cache"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(cached_runs(&bypassed), 0);
    assert!(
        server_run_ids(&bypassed).is_disjoint(&server_run_ids(&first)),
        "sent again"
    );
}

#[test]
fn a_fully_cached_re_run_needs_no_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let example = capitals();
    let example = example.to_str().unwrap();
    let url = {
        let gateway = TestGateway::start(2_000, &[]);
        assert_eq!(
            run(prompt_runs(
                &cache,
                &["eval", example, "--gateway", &gateway.url]
            ))
            .status
            .code(),
            Some(0)
        );
        gateway.url.clone()
    };
    // That gateway has stopped: its scope stays in the cache.
    let out = dir.path().join("out.json");
    let output = run(prompt_runs(
        &cache,
        &[
            "eval",
            example,
            "--gateway",
            &url,
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        output.status.code(),
        Some(0),
        "answered from the cache alone"
    );
    assert_eq!(cached_runs(&out), 3);
}

#[test]
fn failed_checks_exit_1_unless_the_pass_rate_reaches_fail_under() {
    let gateway = TestGateway::start(2_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = file_of(dir.path(), "france.json", &one_in_three_passes());
    let cache = dir.path().join("cache");
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", file.as_str(), "--gateway", gateway.url.as_str()];
        args.extend(extra);
        run(prompt_runs(&cache, &args))
    };
    let output = eval(&[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(said(&output).contains("Failed: 2 runs failed a check."));
    assert_eq!(
        eval(&["--fail-under", "0.5"]).status.code(),
        Some(1),
        "1 in 3 is under a half"
    );
    let output = eval(&["--fail-under", "30%"]);
    assert_eq!(output.status.code(), Some(0), "1 in 3 is over 30%");
    assert!(
        said(&output).contains("Passed: 33.3% of the runs passed, at least the 30.0% asked for.")
    );
}

#[test]
fn a_bad_file_exits_2_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let cases = [
        ("not-json.json", "{\"kind\": ", "it is not valid JSON"),
        ("history.json", "[]", "it is a history export"),
        (
            "newer.json",
            &fs::read_to_string(capitals()).unwrap().replacen(
                "\"schema\": 1,\n    \"id\"",
                "\"schema\": 2,\n    \"id\"",
                1,
            ),
            "saved by a newer version of the app",
        ),
        (
            "no-models.json",
            &fs::read_to_string(capitals())
                .unwrap()
                .replace("\"offline-echo\"", ""),
            "choose at least one model",
        ),
    ];
    for (name, text, why) in cases {
        let path = write(dir.path(), name, text);
        let output = run(prompt_runs(
            &cache,
            &["eval", path.to_str().unwrap(), "--gateway", &nowhere()],
        ));
        assert_eq!(output.status.code(), Some(2), "{name}");
        assert!(said(&output).contains(why), "{name}: {}", said(&output));
    }
    let output = run(prompt_runs(&cache, &["eval", "no/such/file.json"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(said(&output).contains("cannot read no/such/file.json"));
    let output = run(prompt_runs(
        &cache,
        &["eval", "x.json", "--fail-under", "2"],
    ));
    assert_eq!(output.status.code(), Some(2), "a bad flag");
}

#[test]
fn an_unreachable_gateway_or_an_unknown_model_exits_2_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let example = capitals();
    let nowhere = nowhere();
    let output = run(prompt_runs(
        &cache,
        &["eval", example.to_str().unwrap(), "--gateway", &nowhere],
    ));
    assert_eq!(output.status.code(), Some(2));
    assert!(said(&output).contains(&format!(
        "could not reach the gateway at {nowhere}: is it running?"
    )));

    let gateway = TestGateway::start(2_000, &[]);
    let mut experiment = example_on(&["offline-echo", "gpt-imaginary"]);
    experiment.name = "Two".into();
    let file = file_of(dir.path(), "unknown.json", &experiment);
    let output = run(prompt_runs(
        &cache,
        &["eval", &file, "--gateway", &gateway.url],
    ));
    assert_eq!(output.status.code(), Some(2));
    assert!(said(&output).contains("does not offer gpt-imaginary; it offers"));

    let guarded = TestGateway::start(2_000, &["--token", "let-me-in"]);
    let output = run(prompt_runs(
        &cache,
        &["eval", example.to_str().unwrap(), "--gateway", &guarded.url],
    ));
    assert_eq!(output.status.code(), Some(2));
    assert!(said(&output).contains("needs its access token: set PROMPT_RUNS_TOKEN"));
    let output = run(prompt_runs(
        &cache,
        &["eval", example.to_str().unwrap(), "--gateway", &guarded.url],
    )
    .env("PROMPT_RUNS_TOKEN", "let-me-in"));
    assert_eq!(
        output.status.code(),
        Some(0),
        "with the token from the environment"
    );
}

fn example_on(models: &[&str]) -> Experiment {
    let mut experiment = example();
    experiment.models = models.iter().map(|model| model.to_string()).collect();
    experiment
}

#[test]
fn missing_answers_exit_2_and_are_errors_in_the_report() {
    let gateway = TestGateway::start(2_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = file_of(
        dir.path(),
        "fails.json",
        &example_on(&["offline-echo", "offline-fail-500"]),
    );
    let junit = dir.path().join("report.xml");
    let output = run(prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            &file,
            "--gateway",
            &gateway.url,
            "--junit",
            junit.to_str().unwrap(),
        ],
    ));
    assert_eq!(output.status.code(), Some(2));
    assert!(said(&output).contains("Error: 3 runs have no answer."));
    let junit = fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains(
            r#"<testsuite name="offline-fail-500" tests="3" failures="0" errors="3" skipped="0""#
        ),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<error message="HTTP 500: simulated failure" type="no answer">"#),
        "{junit}"
    );
    assert!(junit.contains(r#"<testsuite name="offline-echo" tests="3" failures="0" errors="0""#));
}

#[test]
fn the_budget_is_held_before_sending_and_stops_the_sending() {
    let gateway = TestGateway::start(2_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mut experiment = example();
    // Less than one request's estimate on offline-echo's made-up price.
    experiment.budget = Some(Usd::from_dollars(0.000_000_1));
    let file = file_of(dir.path(), "budget.json", &experiment);
    let out = dir.path().join("out.json");
    let output = run(prompt_runs(
        &cache,
        &[
            "eval",
            &file,
            "--gateway",
            &gateway.url,
            "--out",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(
        output.status.code(),
        Some(2),
        "no terminal, no --yes: refused"
    );
    assert!(
        said(&output).contains("nothing was sent. The estimate"),
        "{}",
        said(&output)
    );
    assert!(said(&output).contains("Pass --yes to send anyway"));
    assert!(!out.exists(), "nothing run, nothing written");

    let output = run(prompt_runs(
        &cache,
        &[
            "eval",
            &file,
            "--gateway",
            &gateway.url,
            "--out",
            out.to_str().unwrap(),
            "--yes",
        ],
    ));
    assert_eq!(output.status.code(), Some(2), "the budget stopped it");
    assert!(said(&output).contains("Stopped by the budget"));
    assert!(imported(&out).runs.is_empty(), "not one request fitted");
}

#[test]
fn a_rate_limited_gateway_is_waited_out_and_every_cell_is_answered() {
    // 60 a minute: 60 at once, then one a second. 66 cells and the plan's
    // two questions (models, limits) are 8 over the burst: about 8 s of
    // 429s with Retry-After, which the store's pacer waits out.
    let gateway = TestGateway::start(100_000, &["--requests-per-minute", "60"]);
    let dir = tempfile::tempdir().unwrap();
    let mut experiment = example();
    let names: String = (1..=22).map(|n| format!("Country {n}\n")).collect();
    experiment.inputs = countries(&names);
    experiment.repeats = 3;
    let file = file_of(dir.path(), "limited.json", &experiment);
    let (out, junit) = (dir.path().join("out.json"), dir.path().join("report.xml"));
    let started = Instant::now();
    let output = run(prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            &file,
            "--gateway",
            &gateway.url,
            "--out",
            out.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    ));
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "every cell answered");
    let text = said(&output);
    assert!(
        text.contains(
            "66 requests is more than this gateway lets through at once (60, then 60 a minute)"
        ),
        "the plan says it will wait: {text}"
    );
    assert!(text.contains("66 runs: 66 answered (0 from the cache), 0 failed, 0 not sent"));
    assert!(
        took >= Duration::from_secs(5),
        "the limit held: 8 requests over the burst at one a second, yet it took {took:?}"
    );
    let runs = imported(&out).runs;
    assert_eq!(runs.len(), 66);
    assert!(
        runs.iter().all(|run| run.status == RunStatus::Success),
        "no run failed on a 429: {:?}",
        runs.iter()
            .map(|run| (&run.status, &run.error))
            .collect::<Vec<_>>()
    );
    let junit = fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains(r#"<testsuites name="Capitals" tests="22" failures="0" errors="0""#),
        "{junit}"
    );
    assert!(
        !junit.contains("<error") && !junit.contains("<skipped"),
        "{junit}"
    );
}

/// The most runs of the experiment file at `path` that were in flight at
/// one moment, from their start and end times: at each run's start, the
/// runs started by then and not yet ended.
fn most_at_once(path: &Path) -> usize {
    let millis = |time: &prompt_runs::model::Timestamp| time.unix_millis().expect("a valid time");
    let spans: Vec<(i64, i64)> = (imported(path).runs.iter())
        .map(|run| {
            (
                millis(&run.started_at),
                millis(run.completed_at.as_ref().expect("ended")),
            )
        })
        .collect();
    (spans.iter())
        .map(|&(at, _)| {
            (spans.iter())
                .filter(|&&(start, end)| start <= at && at < end)
                .count()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn max_concurrency_is_how_many_requests_go_at_once() {
    // offline-slow answers in about a second at this rate, so requests
    // sent together overlap by far more than a clock's millisecond.
    let gateway = TestGateway::start(1_000, &["--requests-per-minute", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let mut experiment = example_on(&["offline-slow"]);
    experiment.repeats = 8;
    experiment.inputs = countries("France\n");
    let file = file_of(dir.path(), "slow.json", &experiment);
    let at_once = |most: &str| {
        let out = dir.path().join(format!("at-once-{most}.json"));
        let output = run(prompt_runs(
            &dir.path().join("cache"),
            &[
                "eval",
                &file,
                "--gateway",
                &gateway.url,
                "--no-cache",
                "--max-concurrency",
                most,
                "--out",
                out.to_str().unwrap(),
            ],
        ));
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(imported(&out).runs.len(), 8);
        most_at_once(&out)
    };
    assert_eq!(at_once("1"), 1, "one at a time");
    assert_eq!(at_once("3"), 3, "three at a time, not the browser's four");
    assert_eq!(
        at_once("8"),
        8,
        "all eight at once, over the browser's four"
    );
}

#[test]
fn ctrl_c_cancels_the_requests_in_flight_and_writes_what_finished() {
    // offline-echo answers in a fraction of a second, offline-slow in about
    // eight: the echo cells finish, the slow ones are in flight or unsent.
    let gateway = TestGateway::start(200, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut experiment = example_on(&["offline-echo", "offline-slow"]);
    experiment.inputs = countries("France\nJapan\nKenya\nChile\nPeru\nNepal\n");
    let file = file_of(dir.path(), "slow.json", &experiment);
    let (out, junit) = (
        dir.path().join("partial.json"),
        dir.path().join("partial.xml"),
    );
    let child = prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            &file,
            "--gateway",
            &gateway.url,
            "--out",
            out.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // The first cells go out at once; the echo ones are answered well
    // within this, the slow ones are not.
    std::thread::sleep(Duration::from_millis(2_500));
    let interrupted = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    eprintln!("{}", said(&output));
    assert_eq!(output.status.code(), Some(130));
    assert!(
        interrupted.elapsed() < Duration::from_secs(5),
        "it did not wait for the slow answers"
    );
    assert!(said(&output).contains("Interrupted: the runs that finished were written."));

    let partial = imported(&out);
    let status_of = |model: &str, status: RunStatus| {
        (partial.runs.iter())
            .filter(|run| run.model_id == model && run.status == status)
            .count()
    };
    assert!(
        status_of("offline-echo", RunStatus::Success) >= 2,
        "{:?}",
        partial.runs
    );
    assert_eq!(status_of("offline-slow", RunStatus::Success), 0);
    assert!(
        status_of("offline-slow", RunStatus::Cancelled) >= 1,
        "the slow ones in flight were cancelled"
    );
    assert!(partial.runs.len() < 12, "the rest was never sent");
    let junit = fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains(r#"<testsuites name="Capitals" tests="12""#),
        "{junit}"
    );
}
