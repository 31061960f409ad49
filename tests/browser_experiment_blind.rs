//! A blind A/B vote end to end in a real page (headless Chromium) against
//! the test gateway's offline models: an experiment run on two models, the
//! comparison showing their answers as A and B with no model name anywhere
//! in its part of the page (text or attributes) until the vote, the key
//! "1" voting, the names revealed, the vote stored in both runs as a
//! judgement, and the results counting one win for the right model; then
//! the offline judge voting on the same pair, counted apart.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use prompt_runs::api::{ClientConfig, NeuroForgeClient};
use prompt_runs::components::{BlindComparison, RunPlan, VoteResults};
use prompt_runs::experiment::{judge_tag, votes_of, CellStatus, InputFormat, InputTable, Vote};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

mod support;
use support::experiment_page::{settle, Page};
use support::{eventually, eventually_within, gateway_url};

wasm_bindgen_test_configure!(run_in_browser);

const MODELS: [&str; 2] = ["offline-echo", "offline-judge"];

fn press(page: &Page, selector: &str, key: &str) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    let event =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    page.get(selector).dispatch_event(&event).unwrap();
}

#[wasm_bindgen_test]
async fn a_blind_vote_hides_the_names_until_it_is_cast_and_is_stored_as_a_judgement() {
    let page = Page::mount(|| view! { <RunPlan/> <BlindComparison/> <VoteResults/> });
    let client = NeuroForgeClient::new(ClientConfig::default().base_url(gateway_url()));
    page.store.set_models(client.models().await.unwrap());
    page.store.set_executor(client);
    page.experiments.create("Blind capitals");
    page.experiments.edit(|experiment| {
        experiment.template = "Capital of {{country}}?".into();
        experiment.inputs = InputTable::parse(b"country\nFrance\n", InputFormat::Csv).unwrap();
        experiment.models = MODELS.map(String::from).to_vec();
    });
    settle().await;
    assert_eq!(
        page.text(".votes__none"),
        "No votes yet: a blind A/B comparison records them."
    );

    page.click(".plan__run");
    eventually_within("both models answered", 30, || {
        page.experiments.grid().is_some_and(|grid| {
            (grid.rows[0].cells.iter()).all(|cell| cell.status == CellStatus::Answered)
        })
    })
    .await;

    // The picker offers the first two models, and one model twice is no comparison.
    let chosen = |side: usize| {
        page.get(&format!(".blind__contestant-{side}"))
            .unchecked_into::<web_sys::HtmlSelectElement>()
            .value()
    };
    assert_eq!((chosen(1), chosen(2)), ("0".to_owned(), "1".to_owned()));
    page.enter(".blind__contestant-2", "0", "change");
    settle().await;
    let start = || {
        page.get(".blind__start")
            .unchecked_into::<web_sys::HtmlButtonElement>()
    };
    assert!(start().disabled());
    page.enter(".blind__contestant-2", "1", "change");
    settle().await;
    assert!(!start().disabled());

    page.click(".blind__start");
    settle().await;
    eventually("the pair is shown", || {
        page.find(".blind__side-b").is_some()
    })
    .await;
    // Nothing in the comparison's part of the page names a model: its text,
    // and every attribute of every element (the picker is gone).
    let comparison = page.get(".blind");
    let html = comparison.outer_html();
    for model in MODELS {
        assert!(
            !html.contains(model),
            "{model} is in the DOM before the vote: {html}"
        );
    }
    assert!(page.find(".blind__reveal").is_none());
    assert_eq!(page.text(".blind__progress"), "Pair 1 of 1");
    let answer_a = page.text(".blind__side-a .blind__answer");
    let answer_b = page.text(".blind__side-b .blind__answer");
    assert!(
        !answer_a.is_empty() && answer_a != answer_b,
        "{answer_a} / {answer_b}"
    );
    let runs = page.store.runs();
    let run_of = |answer: &str| {
        (runs.iter())
            .find(|run| run.output.as_deref() == Some(answer))
            .cloned()
            .unwrap()
    };
    let (a, b) = (run_of(&answer_a), run_of(&answer_b));

    // Key 1: A is better.
    press(&page, ".blind__stage", "1");
    settle().await;
    assert_eq!(
        page.text(".blind__reveal"),
        format!("A was {}, B was {}", a.model_id, b.model_id)
    );
    assert_eq!(
        page.get(".blind__vote-a")
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );
    // A second key does not vote again.
    press(&page, ".blind__stage", "2");
    settle().await;

    // Stored in both runs as a judgement.
    let voted_a = page.store.get_run_by_id(&a.id).unwrap();
    let voted_b = page.store.get_run_by_id(&b.id).unwrap();
    let on_a: Vec<_> = votes_of(&voted_a).collect();
    assert_eq!(on_a.len(), 1);
    assert_eq!(
        (on_a[0].against, on_a[0].model, on_a[0].vote),
        (&*b.id, &*b.model_id, Vote::Win)
    );
    assert_eq!(votes_of(&voted_b).next().unwrap().vote, Vote::Loss);
    assert!(voted_a.judged_at().is_some() && voted_b.judged_at().is_some());

    // The results: one win for A's model, whichever of the two it was.
    let expected = if a.model_id == MODELS[0] {
        "offline-echo vs offline-judge: offline-echo won 1, lost 0, tied 0 (1 vote); win rate 100% (95% interval 21%–100%)"
    } else {
        "offline-echo vs offline-judge: offline-echo won 0, lost 1, tied 0 (1 vote); win rate 0% (95% interval 0%–79%)"
    };
    eventually("the results count the vote", || {
        page.find(".votes__people .votes__pairs li")
            .is_some_and(|li| li.text_content().unwrap() == expected)
    })
    .await;

    // Next pair: none is left, and a new session has no pair to show.
    page.click(".blind__next");
    settle().await;
    assert!(page
        .text(".blind__done")
        .starts_with("No pair left to vote on"));
    page.click(".blind__stop");
    settle().await;
    page.click(".blind__start");
    settle().await;
    assert_eq!(page.text(".blind__progress"), "");
    assert!(
        page.find(".blind__done").is_some(),
        "the voted pair is not shown again"
    );

    // A judge votes too, on the same pair, and is counted apart. Without an
    // expected answer, the offline judge prefers the longer answer: the
    // echo's demo text over the judge's own one-line answer.
    page.click(".blind__stop");
    settle().await;
    assert_eq!(
        page.get(".blind__judge-model")
            .unchecked_into::<web_sys::HtmlSelectElement>()
            .value(),
        "offline-judge",
        "the offline judge is offered first"
    );
    page.click(".blind__judge-vote");
    eventually_within("the judge voted", 30, || {
        page.text(".blind__judged") == "offline-judge voted on 1 pair."
    })
    .await;
    let calls: Vec<_> = (page.store.runs().iter())
        .filter(|run| judge_tag(run).is_some())
        .cloned()
        .collect();
    assert_eq!(calls.len(), 1, "one judge call, an ordinary run");
    let tag = judge_tag(&calls[0]).unwrap();
    assert_eq!(calls[0].model_id, "offline-judge");
    let versus = calls[0].metadata.as_ref().unwrap()["judge"]["versus"]
        .as_str()
        .unwrap();
    let compared = [tag.grades, versus];
    assert!(
        compared.contains(&&*a.id) && compared.contains(&&*b.id),
        "{compared:?}"
    );
    eventually("the judge's votes are shown apart", || {
        page.find(".votes__judge[data-judge=offline-judge] .votes__pairs li").is_some_and(|li| {
            li.text_content().unwrap()
                == "offline-echo vs offline-judge: offline-echo won 1, lost 0, tied 0 (1 vote); win rate 100% (95% interval 21%–100%)"
        })
    })
    .await;
    assert_eq!(
        page.text(".votes__people .votes__pairs li"),
        expected,
        "people's results are unchanged"
    );
    page.click(".blind__judge-vote");
    eventually("a pair is judged once", || {
        page.text(".blind__judged")
            == "offline-judge has voted on every pair of these two models already."
    })
    .await;
}
