//! A judged experiment end to end in a real page (headless Chromium)
//! against the test gateway's offline models: a model-graded check added in
//! the checks editor with the offline judge, the plan counting the judge
//! calls, Run sending answers and then judge calls as ordinary runs linked
//! to the answers they grade, and the grid showing each verdict with its
//! reason: a pass, a fail and an answer that could not be read, all known in
//! advance since the offline judge's verdict is a function of the answer.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use prompt_runs::api::{ClientConfig, NeuroForgeClient};
use prompt_runs::components::{ChecksEditor, ExperimentGrid, RunPlan};
use prompt_runs::experiment::{judge_tag, Check, InputFormat, InputTable, JudgeCheck};
use prompt_runs::model::{PromptRunUpdate, Rating, RunStatus};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;
use support::experiment_page::{settle, Page};
use support::{eventually, eventually_within, gateway_url};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_judged_experiment_shows_each_verdict_with_its_reason() {
    let page =
        Page::mount(|| view! { <ChecksEditor/> <RunPlan/> <ExperimentGrid height="600px"/> });
    let client = NeuroForgeClient::new(ClientConfig::default().base_url(gateway_url()));
    page.store.set_models(client.models().await.unwrap());
    page.store.set_executor(client);
    page.experiments.create("Judged capitals");
    page.experiments.edit(|experiment| {
        experiment.template = "Capital of {{country}}?".into();
        // offline-echo reflects the prompt: it names the country, never the city.
        experiment.inputs = InputTable::parse(
            b"country,expected\nFrance,France\nPeru,Lima\n",
            InputFormat::Csv,
        )
        .unwrap();
        experiment.models = vec!["offline-echo".into()];
    });
    settle().await;

    // The built-in "correct given the expected answer", judged offline.
    page.enter(".checks__kind", "modelGraded", "change");
    settle().await;
    eventually("the offline judge is offered first", || {
        page.find(".checks__judge option[value=offline-judge]")
            .is_some()
    })
    .await;
    page.click(".checks__add");
    settle().await;
    // A rubric that never shows the judge an <answer>: the offline judge
    // answers a sentence that is no verdict.
    page.enter(".checks__rubric", "custom", "change");
    page.enter(".checks__rubric-text", "Grade this: {{output}}", "input");
    page.click(".checks__add");
    settle().await;
    assert_eq!(page.text(".checks__problem"), "", "both added");
    let checks = page.experiments.open().unwrap().checks.clone();
    assert_eq!(
        checks[0],
        Check::Judge(JudgeCheck::built_in(0, "offline-judge"))
    );
    assert!(matches!(&checks[1], Check::Judge(judge) if judge.rubric == "Grade this: {{output}}"));

    assert!(
        page.text(".plan__judge-calls")
            .contains("at most 4 judge calls"),
        "{}",
        page.text(".plan__judge-calls")
    );
    assert_eq!(
        page.all(".plan__judges li[data-model=offline-judge]").len(),
        2
    );

    page.click(".plan__run");
    eventually_within("the answers are sent, then graded", 30, || {
        page.text(".plan__outcome")
            .contains("graded by 4 judge calls")
    })
    .await;
    assert_eq!(
        page.text(".plan__outcome"),
        "2 cells: 2 answered, graded by 4 judge calls."
    );

    // Judge calls are ordinary runs, each linked to the answer it grades.
    let runs = page.store.runs();
    let judges: Vec<_> = runs.iter().filter(|run| judge_tag(run).is_some()).collect();
    assert_eq!(judges.len(), 4);
    for judge in &judges {
        assert_eq!(
            (judge.model_id.as_str(), judge.status),
            ("offline-judge", RunStatus::Success)
        );
        let graded = page
            .store
            .get_run_by_id(judge_tag(judge).unwrap().grades)
            .unwrap();
        assert_eq!(graded.model_id, "offline-echo");
    }

    eventually("the grid shows the verdicts", || {
        page.all(".grid__unreadable").len() == 2
    })
    .await;
    let france = page.text(".grid__cell[aria-label^=France] .grid__pass");
    assert!(
        france.contains("score 1.00: The answer contains the expected \"France\"."),
        "{france}"
    );
    let peru = page.text(".grid__cell[aria-label^=Peru] .grid__fail");
    assert!(
        peru.contains("score 0.00: The answer does not contain the expected \"Lima\"."),
        "{peru}"
    );
    let unreadable = page.text(".grid__cell[aria-label^=France] .grid__unreadable");
    assert!(
        unreadable.starts_with("? Grade this: {{output}} (judged by offline-judge): the judge's answer could not be read"),
        "{unreadable}"
    );
    // An unreadable verdict is no pass: France's answer is not counted as
    // passing, Peru's fails.
    let grid = page.experiments.grid().unwrap();
    assert_eq!(
        (
            grid.models[0].pass_rate.passed,
            grid.models[0].pass_rate.judged
        ),
        (0, 1)
    );
    assert!(page
        .text(".grid__agreements")
        .contains("no answer both graded and rated by a person yet"));

    // A person likes both answers: the judge agrees on France, not on Peru.
    for graded in grid
        .rows
        .iter()
        .map(|row| row.cells[0].answers[0].run.id.clone())
    {
        page.store
            .update_run(&graded, PromptRunUpdate::rate(Some(Rating::Up)))
            .unwrap();
    }
    eventually("the agreement follows the thumbs", || {
        page.text(".grid__agreements")
            .contains("1 of 2 pairs agree")
    })
    .await;
    let agreements: Vec<String> = (page.all(".grid__agreements li").iter())
        .map(|item| item.text_content().unwrap())
        .collect();
    assert_eq!(
        agreements,
        [
            "answers the question correctly given the expected answer (judged by offline-judge): 1 of 2 pairs agree (50%), Cohen's κ 0.00",
            "Grade this: {{output}} (judged by offline-judge): no answer both graded and rated by a person yet",
        ],
        "per rubric; an unreadable verdict makes no pair"
    );
    assert_eq!(
        page.text(".grid__agreement[data-model=offline-echo]"),
        "1 of 2 pairs agree (50%), Cohen's κ 0.00"
    );

    // A check added after the answers: they are graded on request, not sent again.
    page.enter(".checks__rubric", "1", "change");
    page.click(".checks__add");
    eventually("the new check's answers wait for a grade", || {
        page.text(".plan__grade") == "Grade answers (at most 2 judge calls)"
    })
    .await;
    page.click(".plan__grade");
    eventually_within("the answers are graded", 30, || {
        page.text(".plan__outcome") == "Graded by 2 judge calls."
    })
    .await;
    assert_eq!(
        page.store.runs().len(),
        2 + 6,
        "two answers, six judge calls"
    );
    eventually("every answer is graded", || {
        page.text(".plan__grade") == "Grade answers (at most 0 judge calls)"
    })
    .await;
    assert!(page
        .get(".plan__grade")
        .unchecked_into::<web_sys::HtmlButtonElement>()
        .disabled());
}
