//! What experiments do differently in a real page (headless Chromium): the
//! regex check runs on the page's own `RegExp` (JavaScript syntax and
//! Unicode case folding), and "ignore case" on JavaScript's `toLowerCase`.
//! Everything else is the same Rust as natively (tests/experiment.rs).
#![cfg(target_arch = "wasm32")]

use prompt_runs::experiment::{
    plan, Check, CheckError, Experiment, Grid, InputFormat, InputTable, Outcome,
};
use prompt_runs::model::{PromptRun, RunStatus};
use std::sync::Arc;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn answered(output: &str) -> PromptRun {
    let mut run = PromptRun::pending("r", "m", "p");
    run.status = RunStatus::Success;
    run.output = Some(output.to_owned());
    run
}

fn regex(json: serde_json::Value) -> Result<Check, String> {
    serde_json::from_value(json).map_err(|error| error.to_string())
}

#[wasm_bindgen_test]
fn the_regex_check_speaks_javascript() {
    let year = Check::regex(r"\b\d{4}\b").unwrap();
    assert_eq!(year.evaluate(&answered("In 1969.")), Outcome::Pass);
    assert!(matches!(
        year.evaluate(&answered("In the sixties.")),
        Outcome::Fail(_)
    ));
    // Lookahead is JavaScript's (regex-lite, natively, has none).
    let price = Check::regex(r"\d+(?=\s?€)").unwrap();
    assert_eq!(price.evaluate(&answered("It costs 12 €")), Outcome::Pass);
    assert!(matches!(
        price.evaluate(&answered("It costs 12 $")),
        Outcome::Fail(_)
    ));
    // Ignoring case folds beyond ASCII in the browser.
    let greek = regex(serde_json::json!({"kind": "regex", "pattern": "σοφία", "ignoreCase": true}))
        .unwrap();
    assert_eq!(greek.evaluate(&answered("ΣΟΦΊΑ")), Outcome::Pass);
}

#[wasm_bindgen_test]
fn an_invalid_javascript_pattern_is_refused_with_the_reason() {
    let error = Check::regex("(unclosed").unwrap_err();
    let CheckError::InvalidRegex { pattern, message } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(pattern, "(unclosed");
    assert!(message.contains("Unterminated group"), "{message}");
    assert!(!message.contains("Invalid regular expression"), "{message}");
    let refused = regex(serde_json::json!({"kind": "regex", "pattern": "a{2,1}"})).unwrap_err();
    assert!(refused.contains("/a{2,1}/ is not valid"), "{refused}");
}

#[wasm_bindgen_test]
fn contains_ignores_case_by_the_browsers_rules() {
    let check = Check::Contains {
        text: "STRASSE".into(),
        case_sensitive: false,
    };
    assert!(matches!(
        check.evaluate(&answered("Die Straße")),
        Outcome::Fail(_)
    ));
    let check = Check::Contains {
        text: "ÉTÉ".into(),
        case_sensitive: false,
    };
    assert_eq!(check.evaluate(&answered("un bel été")), Outcome::Pass);
}

#[wasm_bindgen_test]
fn a_plan_and_its_grid_work_in_the_page() {
    let mut experiment = Experiment::new("exp-b", "Browser");
    experiment.template = "Say {{word}}".into();
    experiment.inputs = InputTable::parse(b"word\nhi\nbye\n", InputFormat::Csv).unwrap();
    experiment.models = vec!["offline-echo".into()];
    experiment.repeats = 2;
    experiment.checks = vec![Check::regex("^say").unwrap()];
    let plan = plan(&experiment, &[]).unwrap();
    assert_eq!(plan.requests(), 4);
    let runs: Vec<Arc<PromptRun>> = (plan.cells.iter())
        .map(|cell| {
            let mut run = cell.pending_run(&experiment.id);
            run.status = RunStatus::Success;
            run.output = Some(cell.prompt.to_string());
            Arc::new(run)
        })
        .collect();
    let ids: std::collections::HashSet<&str> = runs.iter().map(|run| run.id.as_str()).collect();
    assert_eq!(ids.len(), 4, "fresh local ids");
    let grid = Grid::build(&experiment, &runs);
    assert_eq!(grid.rows[0].cells[0].answers[0].repeats, [0, 1]);
    assert_eq!(grid.models[0].pass_rate.judged, 4);
    assert_eq!(
        grid.models[0].pass_rate.passed, 0,
        "case kept: \"Say\" is not \"say\""
    );
}
