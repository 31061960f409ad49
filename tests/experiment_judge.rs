//! Model-graded checks natively: rubric rendering, the strict verdict
//! parser, the plan's count and estimate of judge calls, the grid grading
//! answers by the judge runs found in the history (the cache); the judge's
//! agreement with people (Cohen's kappa), and the win-rate maths of blind
//! A/B comparisons (Wilson intervals), against published worked examples.
#![cfg(not(target_arch = "wasm32"))]

mod support;
use prompt_runs::experiment::{
    content_hash, judge_tag, parse_verdict, plan, Check, CheckError, Experiment, ExperimentError,
    Grid, InputFormat, InputTable, JudgeCheck, Outcome, RubricError, BUILT_IN_RUBRICS,
};
use prompt_runs::model::{Model, PromptRun, Provider, RunStatus, Timestamp, Usd};
use std::sync::Arc;
use support::csv_table::CsvTable;

/// Capitals with an expected answer, on two models, graded by the first
/// built-in rubric.
fn judged() -> Experiment {
    let mut experiment = Experiment::new("exp-j", "Judged");
    experiment.template = "What is the capital of {{country}}?".into();
    experiment.inputs = InputTable::parse(
        b"country,expected\nFrance,Paris\nPeru,Lima\n",
        InputFormat::Csv,
    )
    .unwrap();
    experiment.models = vec!["m1".into(), "m2".into()];
    experiment.checks = vec![Check::Judge(JudgeCheck::built_in(0, "judge-1"))];
    experiment
}

fn answered(experiment: &Experiment, row: usize, model: usize, output: &str) -> Arc<PromptRun> {
    let plan = plan(experiment, &[]).unwrap();
    let cell = (plan.cells.iter())
        .find(|cell| (cell.row, cell.model) == (row, model))
        .unwrap();
    let mut run = cell.pending_run(&experiment.id);
    run.status = RunStatus::Success;
    run.output = Some(output.into());
    run.started_at = Timestamp::parse("2024-05-01T12:00:00.000Z");
    Arc::new(run)
}

/// The judge's run for `graded` by check 0, answering `verdict`.
fn judge_run(
    experiment: &Experiment,
    graded: &PromptRun,
    verdict: &str,
    cost: Option<f64>,
) -> Arc<PromptRun> {
    let Check::Judge(judge) = &experiment.checks[0] else {
        unreachable!()
    };
    let rubric = judge.prepare(&experiment.inputs).unwrap();
    let row = graded.experiment_cell().unwrap().row;
    let request = rubric.request(&experiment.inputs, row, graded).unwrap();
    let mut run = request.pending_run(&experiment.id, &graded.id);
    run.status = RunStatus::Success;
    run.output = Some(verdict.into());
    run.cost = cost;
    Arc::new(run)
}

#[test]
fn a_rubric_is_filled_with_the_answer_the_prompt_and_the_rows_columns() {
    let experiment = judged();
    let Check::Judge(judge) = &experiment.checks[0] else {
        unreachable!()
    };
    let run = answered(&experiment, 1, 0, "It is Lima.");
    let request = (judge.prepare(&experiment.inputs).unwrap())
        .request(&experiment.inputs, 1, &run)
        .unwrap();
    assert_eq!(request.model_id, "judge-1");
    assert!(request
        .prompt
        .contains("<question>\nWhat is the capital of Peru?\n</question>"));
    assert!(request.prompt.contains("<expected>\nLima\n</expected>"));
    assert!(request.prompt.contains("<answer>\nIt is Lima.\n</answer>"));
    assert!(
        request
            .prompt
            .ends_with("\"reason\": \"one short sentence\"}"),
        "the verdict's form comes last"
    );
    let parameters = request.execute_request().parameters.unwrap();
    assert_eq!(
        (parameters.temperature, parameters.max_tokens),
        (Some(0.0), Some(300))
    );

    // The key is the content: the same answer on the same row is the same
    // request, another answer or judge is not.
    let same = answered(&experiment, 1, 1, "It is Lima.");
    let rubric = judge.prepare(&experiment.inputs).unwrap();
    assert_eq!(
        rubric.request(&experiment.inputs, 1, &same).unwrap().key,
        request.key
    );
    let other = answered(&experiment, 1, 1, "It is Cusco.");
    assert_ne!(
        rubric.request(&experiment.inputs, 1, &other).unwrap().key,
        request.key
    );
    let mut other_judge = judge.clone();
    other_judge.judge = "judge-2".into();
    let by_other = other_judge.prepare(&experiment.inputs).unwrap();
    assert_ne!(
        by_other.request(&experiment.inputs, 1, &run).unwrap().key,
        request.key
    );
    assert_eq!(request.key.len(), 16);
    assert_ne!(request.key, content_hash(["judge-v1", "judge-1"]));

    // A custom rubric reads any column, and `expected` may name another one.
    let mut custom = JudgeCheck {
        rubric: "Is {{output}} the capital of {{country}}? Expect {{expected}}.".into(),
        judge: "judge-1".into(),
        threshold: 0.7,
        expected: Some("country".into()),
    };
    let prompt = (custom.prepare(&experiment.inputs).unwrap())
        .request(&experiment.inputs, 0, &run)
        .unwrap()
        .prompt;
    assert!(prompt.starts_with("Is It is Lima. the capital of France? Expect France."));
    custom.expected = Some("answer".into());
    assert!(
        custom.prepare(&experiment.inputs).is_err(),
        "no column named answer"
    );
}

#[test]
fn a_judge_check_that_could_never_grade_is_refused_with_why() {
    let base = JudgeCheck::built_in(1, "judge-1");
    assert_eq!(base.validate(), Ok(()));
    assert_eq!(base.name(), BUILT_IN_RUBRICS[1].0);
    let refused = |change: &dyn Fn(&mut JudgeCheck)| {
        let mut check = base.clone();
        change(&mut check);
        check.validate().unwrap_err()
    };
    assert_eq!(
        refused(&|check| check.judge = " ".into()),
        RubricError::NoJudge
    );
    assert!(matches!(
        refused(&|check| check.threshold = 1.5),
        RubricError::Threshold(_)
    ));
    assert!(matches!(
        refused(&|check| check.threshold = f64::NAN),
        RubricError::Threshold(_)
    ));
    assert_eq!(
        refused(&|check| check.rubric = "Is it right? {{prompt}}".into()),
        RubricError::NoOutput
    );
    assert!(matches!(
        refused(&|check| check.rubric = "{{output".into()),
        RubricError::Template(_)
    ));

    // A rubric reading a column the inputs lack stops the plan, like the
    // template would.
    let mut experiment = judged();
    experiment.checks = vec![Check::Judge(JudgeCheck {
        rubric: "{{output}} vs {{reference}}".into(),
        ..base
    })];
    let problems = plan(&experiment, &[]).unwrap_err().0;
    assert!(
        matches!(
            &problems[..],
            [ExperimentError::Check {
                number: 1,
                error: CheckError::Rubric(RubricError::Variable(why))
            }] if why.contains("reference")
        ),
        "{problems:?}"
    );
}

#[test]
fn a_verdict_is_read_alone_fenced_or_among_prose() {
    let verdict = parse_verdict(r#"{"pass": true, "score": 0.9, "reason": "Correct."}"#).unwrap();
    assert_eq!(
        (verdict.pass, verdict.score, &*verdict.reason),
        (true, 0.9, "Correct.")
    );
    let fenced = "Here is my verdict:\n```json\n{\"pass\": false, \"score\": 0, \"reason\": \"Wrong city.\"}\n```\n";
    let verdict = parse_verdict(fenced).unwrap();
    assert_eq!((verdict.pass, verdict.score), (false, 0.0));
    let prose = "The answer names {the city}. Verdict: {\"pass\": true, \"score\": 1, \"reason\": \"ok\"} Thanks.";
    assert!(
        parse_verdict(prose).unwrap().pass,
        "past a brace that is not JSON"
    );
    assert_eq!(
        parse_verdict(r#"{"pass": true, "score": 1}"#)
            .unwrap()
            .reason,
        "",
        "a reason is optional"
    );
    let long = format!(
        r#"{{"pass": true, "score": 1, "reason": "{}"}}"#,
        "why ".repeat(400)
    );
    let reason = parse_verdict(&long).unwrap().reason;
    assert_eq!(reason.chars().count(), 501, "cut to 500 characters and …");
    assert!(reason.ends_with('…'));
}

#[test]
fn an_answer_that_is_not_a_verdict_is_unreadable_and_says_why() {
    let unreadable = |answer: &str| {
        let why = parse_verdict(answer).unwrap_err();
        assert!(
            why.starts_with("the judge's answer could not be read"),
            "{why}"
        );
        why
    };
    assert!(unreadable("").contains("empty"));
    assert!(unreadable("  \n ").contains("empty"));
    assert!(unreadable("Yes, it passes.").contains("no JSON object"));
    assert!(unreadable(r#"{"pass": "yes", "score": 1}"#).contains("\"pass\" is \"yes\""));
    assert!(unreadable(r#"{"pass": true}"#).contains("no \"score\""));
    assert!(unreadable(r#"{"pass": true, "score": 7}"#).contains("not from 0 to 1"));
    assert!(unreadable(r#"{"pass": true, "score": "high"}"#).contains("not a number"));
    assert!(unreadable(r#"{"pass": true, "score": 1, "reason": 3}"#).contains("not text"));
    assert!(unreadable("[true, 1]").contains("no JSON object"));
    assert!(
        unreadable(r#"{"pass": true, "score": 1"#).contains("no JSON object"),
        "cut off"
    );
    // Hostile: markup and script are only text to it, never a verdict.
    unreadable("<script>alert(1)</script>{\"pass\": 1, \"score\": 1}");
    // Enormous: refused by its length, before it is searched.
    let enormous = format!("{}{}", "{".repeat(50_000), r#"{"pass": true, "score": 1}"#);
    assert!(unreadable(&enormous).contains("more than a verdict can be"));
    // Many braces that are not JSON, then a verdict: only a few are tried.
    let braces = format!("{}{}", "{x} ".repeat(20), r#"{"pass": true, "score": 1}"#);
    unreadable(&braces);
}

#[test]
fn the_plan_counts_and_prices_the_judge_calls_before_anything_is_sent() {
    let mut experiment = judged();
    experiment.parameters.max_tokens = Some(100);
    let prices = [Model {
        id: "judge-1".into(),
        name: "judge".into(),
        provider: Provider::Openai,
        max_tokens: 4096,
        supports_streaming: true,
        cost_per_1k_tokens: Some(1.0),
        metadata: None,
    }];
    let plan = plan(&experiment, &prices).unwrap();
    assert_eq!(plan.requests(), 4);
    let estimate = &plan.estimate;
    assert_eq!(estimate.judge_calls(), 4, "one per answer");
    let judge = &estimate.judges[0];
    assert_eq!(judge.model_id, "judge-1");
    assert_eq!(
        judge.output_tokens,
        4 * 300,
        "each verdict at most 300 tokens"
    );
    assert!(
        judge.input_tokens > 4 * 100,
        "each judge prompt holds the answer at its assumed length, and the rubric"
    );
    let judge_cost = judge.cost.unwrap();
    assert_eq!(
        judge_cost,
        Usd::from_dollars((judge.input_tokens + judge.output_tokens) as f64 / 1000.0)
    );
    assert_eq!(
        estimate.unpriced_models(),
        ["m1", "m2"],
        "the answering models have no price"
    );
    assert_eq!(
        estimate.known(),
        judge_cost,
        "the judges' cost is in the total"
    );
}

#[test]
fn the_grid_grades_by_the_judge_runs_and_an_unreadable_verdict_is_neither() {
    let experiment = judged();
    let paris = answered(&experiment, 0, 0, "Paris.");
    let lyon = answered(&experiment, 0, 1, "Lyon.");
    let lima = answered(&experiment, 1, 0, "Lima.");
    let cusco = answered(&experiment, 1, 1, "Cusco.");
    let mut runs = vec![paris.clone(), lyon.clone(), lima.clone(), cusco.clone()];

    // Not graded yet: not applicable, out of the pass rates.
    let grid = Grid::build(&experiment, runs.iter());
    assert_eq!(
        grid.rows[0].cells[0].checks[0][0],
        Outcome::NotApplicable("not graded yet".into())
    );
    assert_eq!(grid.models[0].pass_rate.judged, 0);

    runs.push(judge_run(
        &experiment,
        &paris,
        r#"{"pass": true, "score": 0.9, "reason": "Paris is right."}"#,
        Some(0.002),
    ));
    runs.push(judge_run(
        &experiment,
        &lyon,
        r#"{"pass": true, "score": 0.3, "reason": "Close."}"#,
        Some(0.002),
    ));
    runs.push(judge_run(&experiment, &lima, "I think it is fine.", None));
    let tag = judge_tag(runs.last().unwrap()).unwrap();
    assert_eq!((tag.experiment_id, tag.grades), ("exp-j", &*lima.id));
    assert!(
        runs.last().unwrap().experiment_cell().is_none(),
        "a judge call is no cell of the grid"
    );

    let grid = Grid::build(&experiment, runs.iter());
    let outcome = |row: usize, model: usize| grid.rows[row].cells[model].checks[0][0].clone();
    assert_eq!(
        outcome(0, 0),
        Outcome::PassBecause("score 0.90: Paris is right.".into())
    );
    assert_eq!(
        outcome(0, 1),
        Outcome::Fail("score 0.30, below 0.50: Close.".into()),
        "the judge said pass, but under the threshold it fails"
    );
    assert!(matches!(outcome(1, 0), Outcome::Unreadable(why) if why.contains("no JSON object")));
    assert_eq!(
        grid.rows[1].cells[0].pass_rate.judged, 0,
        "an unreadable verdict is no pass and no fail"
    );
    assert_eq!(
        outcome(1, 1),
        Outcome::NotApplicable("not graded yet".into())
    );
    assert_eq!(
        (
            grid.models[0].pass_rate.passed,
            grid.models[0].pass_rate.judged
        ),
        (1, 1)
    );
    assert_eq!(
        (
            grid.models[1].pass_rate.passed,
            grid.models[1].pass_rate.judged
        ),
        (0, 1)
    );
    assert_eq!(grid.judges.len(), 3);
    assert_eq!(
        grid.total_cost().known,
        Usd::from_dollars(0.004),
        "judge calls count in the totals"
    );
    assert!(experiment.checks[0]
        .describe(&outcome(0, 0))
        .contains("Paris is right."));

    // A rebuild after a verdict lands grades again what it grades.
    let mut more = runs.clone();
    more.push(judge_run(
        &experiment,
        &cusco,
        r#"{"pass": false, "score": 0, "reason": "Not the capital."}"#,
        None,
    ));
    let rebuilt = grid.rebuild(&experiment, more.iter());
    assert_eq!(
        rebuilt.rows[1].cells[1].checks[0][0],
        Outcome::Fail("score 0.00: Not the capital.".into())
    );
}

#[test]
fn kappa_matches_textbook_worked_examples() {
    use prompt_runs::experiment::Agreement;
    let table = |both_pass, person_only, judge_only, both_fail| Agreement {
        both_pass,
        person_only,
        judge_only,
        both_fail,
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-4;
    // Wikipedia, "Cohen's kappa", simple example: 50 proposals, yes/yes 20,
    // yes/no 5, no/yes 10, no/no 15: po = 0.7, pe = 0.5, κ = 0.4.
    let example = table(20, 5, 10, 15);
    assert_eq!((example.pairs(), example.agreed()), (50, 35));
    assert!(close(example.share().unwrap(), 0.7));
    assert!(close(example.kappa().unwrap(), 0.4));
    // The same article's pair with equal agreement (60 of 100) and
    // different kappas: 0.1304 and 0.2593.
    assert!(close(table(45, 15, 25, 15).kappa().unwrap(), 0.1304));
    assert!(close(table(25, 35, 5, 35).kappa().unwrap(), 0.2593));
    // Perfect agreement is 1; as many agreements as chance gives, 0.
    assert!(close(table(3, 0, 0, 2).kappa().unwrap(), 1.0));
    assert!(close(table(1, 1, 1, 1).kappa().unwrap(), 0.0));
    // Undefined when both said "pass" to everything; none without pairs.
    assert_eq!(table(4, 0, 0, 0).kappa(), None);
    assert_eq!(table(4, 0, 0, 0).share(), Some(1.0));
    assert_eq!(Agreement::default().share(), None);
    assert_eq!(Agreement::default().kappa(), None);
    let mut sum = table(1, 2, 3, 4);
    sum += table(1, 1, 1, 1);
    assert_eq!(sum, table(2, 3, 4, 5));
}

#[test]
fn the_grid_sets_each_judges_verdicts_beside_peoples_thumbs() {
    use prompt_runs::model::{PromptRunUpdate, Rating};
    let experiment = judged();
    let rated = |run: Arc<PromptRun>, rating: Option<Rating>| match rating {
        Some(rating) => Arc::new(PromptRunUpdate::rate(Some(rating)).apply_to(&run).unwrap()),
        None => run,
    };
    let paris = rated(answered(&experiment, 0, 0, "Paris."), Some(Rating::Up));
    let lyon = rated(answered(&experiment, 0, 1, "Lyon."), Some(Rating::Up));
    let lima = rated(answered(&experiment, 1, 0, "Lima."), Some(Rating::Down));
    let cusco = rated(answered(&experiment, 1, 1, "Cusco."), None);
    let verdict = |pass: bool| format!(r#"{{"pass": {pass}, "score": {}}}"#, u8::from(pass));
    let runs = [
        judge_run(&experiment, &paris, &verdict(true), None),
        judge_run(&experiment, &lyon, &verdict(false), None),
        judge_run(&experiment, &lima, &verdict(false), None),
        judge_run(&experiment, &cusco, &verdict(false), None),
        paris,
        lyon,
        lima,
        cusco,
    ];
    let grid = Grid::build(&experiment, runs.iter());
    // m1: Paris up/pass, Lima down/fail: 2 agree. m2: Lyon up/fail: 1
    // disagrees; Cusco has no thumbs, so no pair.
    assert_eq!(
        (
            grid.models[0].agreement[0].pairs(),
            grid.models[0].agreement[0].agreed()
        ),
        (2, 2)
    );
    assert_eq!(
        (
            grid.models[1].agreement[0].pairs(),
            grid.models[1].agreement[0].agreed()
        ),
        (1, 0)
    );
    let all = grid.agreement(0);
    assert_eq!((all.pairs(), all.agreed()), (3, 2));
    // person pass 2/3, judge pass 1/3: pe = 2/9 + 2/9 = 4/9, κ = (2/3 − 4/9) / (5/9) = 0.4.
    assert!((all.kappa().unwrap() - 0.4).abs() < 1e-9);
}

#[test]
fn wilson_intervals_match_newcombes_worked_examples() {
    use prompt_runs::experiment::{wilson, Z_95};
    // Newcombe (1998), "Two-sided confidence intervals for the single
    // proportion", Statistics in Medicine 17: 857–872, Table I, method 3.
    let close = |(low, high): (f64, f64), (want_low, want_high): (f64, f64)| {
        (low - want_low).abs() < 5e-5 && (high - want_high).abs() < 5e-5
    };
    let cases = [
        (81.0, 263.0, (0.2553, 0.3662)),
        (15.0, 148.0, (0.0624, 0.1605)),
        (0.0, 20.0, (0.0, 0.1611)),
        (1.0, 29.0, (0.0061, 0.1718)),
        (29.0, 29.0, (0.8830, 1.0)),
    ];
    for (successes, trials, want) in cases {
        let got = wilson(successes, trials, Z_95).unwrap();
        assert!(
            close(got, want),
            "{successes}/{trials}: {got:?}, not {want:?}"
        );
    }
    assert_eq!(wilson(0.0, 0.0, Z_95), None);
    assert_eq!(wilson(f64::NAN, 3.0, Z_95), None);
}

#[test]
fn a_win_rate_counts_a_tie_as_half_and_reads_the_same_from_either_side() {
    use prompt_runs::experiment::{Tally, Vote};
    let mut tally = Tally::default();
    assert_eq!((tally.win_rate(), tally.interval()), (None, None));
    for vote in [Vote::Win, Vote::Win, Vote::Win, Vote::Loss, Vote::Tie] {
        tally.count(vote);
    }
    assert_eq!(
        (tally.wins, tally.losses, tally.ties, tally.votes()),
        (3, 1, 1, 5)
    );
    assert_eq!(tally.win_rate(), Some(0.7));
    let other = tally.reversed();
    assert_eq!(other.win_rate(), Some(0.3));
    let (low, high) = tally.interval().unwrap();
    let (other_low, other_high) = other.interval().unwrap();
    assert!((low - (1.0 - other_high)).abs() < 1e-12 && (high - (1.0 - other_low)).abs() < 1e-12);
    assert!(low < 0.7 && 0.7 < high && low > 0.0 && high < 1.0);
}

#[test]
fn verdicts_travel_with_the_experiment_in_its_file() {
    use prompt_runs::experiment::{export_experiment, import_experiment};
    let experiment = judged();
    let paris = answered(&experiment, 0, 0, "Paris.");
    let verdict = judge_run(
        &experiment,
        &paris,
        r#"{"pass": true, "score": 1, "reason": "Right."}"#,
        None,
    );
    let mut stranger = (*judge_run(&experiment, &paris, "{}", None)).clone();
    stranger.metadata.as_mut().unwrap()["judge"]["experiment"] = "exp-other".into();
    let runs = [paris, verdict, Arc::new(stranger.clone())];
    let file = export_experiment(&experiment, runs.iter());
    let imported = import_experiment(&file).unwrap();
    assert_eq!(
        imported.experiment, experiment,
        "the judge check comes back"
    );
    assert_eq!(
        imported.runs.len(),
        2,
        "the answer and its judge call, not another experiment's"
    );
    let runs: Vec<Arc<PromptRun>> = imported.runs.into_iter().map(Arc::new).collect();
    let grid = Grid::build(&experiment, runs.iter());
    assert_eq!(
        grid.rows[0].cells[0].checks[0][0],
        Outcome::PassBecause("score 1.00: Right.".into())
    );

    // Another experiment's judge call in the file is refused, saying whose.
    let mut value: serde_json::Value = serde_json::from_str(&file).unwrap();
    value["runs"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::to_value(&stranger).unwrap());
    let refused = import_experiment(&value.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("is a judge call of experiment exp-other"),
        "{refused}"
    );
}

#[test]
fn the_grid_csv_has_each_answers_verdict_and_the_judges_reason() {
    use prompt_runs::experiment::grid_csv;
    let experiment = judged();
    let paris = answered(&experiment, 0, 0, "Paris.");
    let lyon = answered(&experiment, 0, 1, "Lyon.");
    let lima = answered(&experiment, 1, 0, "Lima.");
    let runs = [
        paris.clone(),
        lyon.clone(),
        lima.clone(),
        judge_run(
            &experiment,
            &paris,
            r#"{"pass": true, "score": 0.9, "reason": "Paris is right."}"#,
            None,
        ),
        judge_run(
            &experiment,
            &lyon,
            r#"{"pass": false, "score": 0, "reason": "Lyon is not the capital."}"#,
            None,
        ),
        judge_run(&experiment, &lima, "I think it is fine.", None),
    ];
    let grid = Grid::build(&experiment, runs.iter());
    let csv = grid_csv(&experiment, &grid);
    let table = CsvTable::read(&csv);
    let fields = |row: usize, model: &str| {
        (
            table.cell(row, &format!("{model} verdict")).to_owned(),
            table.cell(row, &format!("{model} reason")).to_owned(),
        )
    };
    assert_eq!(
        fields(0, "m1"),
        ("pass".into(), "score 0.90: Paris is right.".into())
    );
    assert_eq!(
        fields(0, "m2"),
        ("fail".into(), "score 0.00: Lyon is not the capital.".into())
    );
    let (verdict, reason) = fields(1, "m1");
    assert_eq!(verdict, "unreadable");
    assert!(reason.contains("no JSON object"), "{reason}");
    assert_eq!(fields(1, "m2"), (String::new(), String::new()), "not run");
}
