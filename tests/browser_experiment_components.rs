//! The experiment components and the judgement controls mounted in a real
//! page (headless Chromium): what the DOM says, and what their controls do
//! to the store and the experiments. (Running against the gateway:
//! tests/browser_experiment_run.rs.)
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use prompt_runs::api::wire::ServerLimits;
use prompt_runs::components::{
    provide_diff_selection, provide_experiments, provide_run_filter, ActiveRunViewer,
    DiffSelection, DiffView, ExperimentEditor, ExperimentGrid, Experiments, RunFilters, RunHistory,
    RunPlan, GRID_ROW_HEIGHT_PX,
};
use prompt_runs::experiment::{plan, Check, InputFormat, InputTable};
use prompt_runs::model::{Model, PromptRun, Provider, Rating, RunStatus, Timestamp, Usd};
use prompt_runs::store::{provide_runs_store, RunsStore};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};

mod support;
use support::eventually;
use support::mounted::Mounted;

wasm_bindgen_test_configure!(run_in_browser);

/// A mounted view, its store, experiments and diff selection.
struct Page {
    view: Mounted,
    store: RunsStore,
    experiments: Experiments,
    diff: DiffSelection,
}

impl std::ops::Deref for Page {
    type Target = Mounted;

    fn deref(&self) -> &Mounted {
        &self.view
    }
}

impl Page {
    fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> Page {
        let provided = StoredValue::new(None);
        let view = Mounted::new(move || {
            let store = provide_runs_store();
            provide_run_filter();
            provided.set_value(Some((
                store,
                provide_experiments(Some(store)),
                provide_diff_selection(),
            )));
            view()
        });
        let (store, experiments, diff) = provided.get_value().unwrap();
        Page {
            view,
            store,
            experiments,
            diff,
        }
    }
}

async fn settle() {
    for _ in 0..3 {
        leptos::task::tick().await;
    }
}

fn answered(id: &str, model: &str, output: &str) -> PromptRun {
    let mut run = PromptRun::pending(id, model, "prompt");
    run.status = RunStatus::Success;
    run.output = Some(output.into());
    run.completed_at = Some(Timestamp::now());
    run
}

/// A model of an API provider: without a price, its cost is unknown.
fn model(id: &str, price: Option<f64>) -> Model {
    Model {
        id: id.into(),
        name: id.into(),
        provider: Provider::Openai,
        max_tokens: 4_096,
        supports_streaming: true,
        cost_per_1k_tokens: price,
        metadata: None,
    }
}

#[wasm_bindgen_test]
async fn judgements_are_made_in_the_viewer_and_filter_the_history() {
    let page = Page::mount(|| view! { <ActiveRunViewer/> <RunFilters/> <RunHistory/> });
    for id in ["a", "b"] {
        page.store
            .add_run(answered(id, "m", &format!("answer {id}")))
            .unwrap();
    }
    page.store.set_active_run(Some("a")).unwrap();
    settle().await;
    page.click(".judgement__up");
    settle().await;
    assert_eq!(
        page.store.get_run_by_id("a").unwrap().rating(),
        Some(Rating::Up)
    );
    assert_eq!(
        page.get(".judgement__up")
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );
    page.click(".judgement__down");
    settle().await;
    assert_eq!(
        page.store.get_run_by_id("a").unwrap().rating(),
        Some(Rating::Down)
    );
    page.click(".judgement__down");
    settle().await;
    assert_eq!(
        page.store.get_run_by_id("a").unwrap().rating(),
        None,
        "pressed again, cleared"
    );
    page.click(".judgement__star");
    page.enter(".judgement__note input", "<b>not bold</b>", "change");
    settle().await;
    let judged = page.store.get_run_by_id("a").unwrap();
    assert!(judged.is_starred());
    assert_eq!(judged.note(), Some("<b>not bold</b>"));
    assert!(judged.judged_at().is_some());

    page.enter(".filters__judgement", "Starred", "change");
    settle().await;
    let shown: Vec<_> = page
        .all(".history__row")
        .iter()
        .map(|row| row.get_attribute("data-run-id").unwrap())
        .collect();
    assert_eq!(shown, ["a"], "only the starred run");
    page.enter(".filters__judgement", "With a note", "change");
    settle().await;
    assert_eq!(page.all(".history__row").len(), 1);
    page.enter(".filters__judgement", "", "change");
    settle().await;
    assert_eq!(page.all(".history__row").len(), 2);
}

#[wasm_bindgen_test]
async fn the_diff_marks_words_as_text_against_the_chosen_baseline() {
    let page = Page::mount(|| view! { <DiffView/> });
    assert!(page.text(".diff__empty").starts_with("Choose two answers"));
    page.store
        .add_run(answered("old", "m1", "The capital is <i>Paris</i>."))
        .unwrap();
    page.store
        .add_run(answered("new", "m2", "The capital is <i>Lyon</i>, France."))
        .unwrap();
    page.store.set_active_run(Some("old")).unwrap();
    settle().await;
    page.click(".diff__use-open");
    page.store.set_active_run(Some("new")).unwrap();
    settle().await;
    assert_eq!(page.diff.baseline.get_untracked().as_deref(), Some("old"));
    let removed: Vec<_> = page
        .all(".diff__text del")
        .iter()
        .map(|mark| mark.text_content().unwrap())
        .collect();
    let added: Vec<_> = page
        .all(".diff__text ins")
        .iter()
        .map(|mark| mark.text_content().unwrap())
        .collect();
    assert_eq!(removed, ["Paris"]);
    assert_eq!(added, ["Lyon", ", France"]);
    assert_eq!(
        page.text(".diff__text"),
        "The capital is <i>ParisLyon</i>, France.",
        "as text, never HTML"
    );
    assert!(page.all(".diff__text i").is_empty());

    page.diff.compared.set(Some("old".into()));
    settle().await;
    assert_eq!(page.text(".diff__same"), "The two answers are the same.");
}

#[wasm_bindgen_test]
async fn the_input_rows_are_paged_twenty_at_a_time() {
    let page = Page::mount(|| view! { <ExperimentEditor/> });
    page.experiments.create("Many rows");
    settle().await;
    let rows: String = (1..=45).map(|n| format!("{{\"n\": \"{n}\"}}\n")).collect();
    page.enter(".inputs__paste", &rows, "input");
    settle().await;
    page.click(".inputs__use");
    settle().await;
    let buttons = page.all(".inputs__pages button");
    let (previous, next) = (&buttons[0], &buttons[1]);
    assert_eq!(next.text_content().unwrap(), "Next");
    let disabled = |button: &Element| {
        button.has_attribute("disabled")
            || js_sys::Reflect::get(button, &"disabled".into())
                .unwrap()
                .as_bool()
                == Some(true)
    };
    assert!(disabled(previous) && !disabled(next));
    assert_eq!(page.text(".inputs__pages span"), "Page 1 of 3");
    assert_eq!(page.all(".inputs__table tbody tr").len(), 20);
    for expected in ["Page 2 of 3", "Page 3 of 3"] {
        next.unchecked_ref::<HtmlElement>().click();
        settle().await;
        assert_eq!(page.text(".inputs__pages span"), expected);
    }
    assert_eq!(
        page.all(".inputs__table tbody tr").len(),
        5,
        "rows 41 to 45"
    );
    assert!(
        disabled(next) && !disabled(previous),
        "the last page has no next"
    );
}

#[wasm_bindgen_test]
async fn rows_and_columns_are_added_and_removed_in_the_table() {
    let page = Page::mount(|| view! { <ExperimentEditor/> });
    page.experiments.create("Edited");
    settle().await;
    page.enter(".inputs__paste", "country\nFrance\nPeru\n", "input");
    settle().await;
    page.click(".inputs__use");
    settle().await;
    let inputs = || page.experiments.open().unwrap().inputs.clone();

    page.enter(".inputs__new-column", "capital", "input");
    page.click(".inputs__add-column");
    settle().await;
    assert_eq!(inputs().columns(), ["country", "capital"]);
    let heads: Vec<String> = (page.all(".inputs__table th").iter())
        .map(|head| head.text_content().unwrap())
        .collect();
    assert_eq!(heads, ["#", "country", "capital", ""]);
    assert_eq!(
        js_sys::Reflect::get(&page.get(".inputs__new-column"), &"value".into()).unwrap(),
        "",
        "the name is cleared once added"
    );

    // A column without a name is refused, with why, and changes nothing.
    page.enter(".inputs__new-column", "  ", "input");
    page.click(".inputs__add-column");
    settle().await;
    assert!(
        page.text(".inputs__problem")
            .contains("a column needs a name"),
        "{}",
        page.text(".inputs__problem")
    );
    assert_eq!(inputs().columns(), ["country", "capital"]);

    page.click(".inputs__add-row");
    settle().await;
    assert_eq!(inputs().rows().len(), 3);
    assert_eq!(page.all(".inputs__table tbody tr").len(), 3);

    page.click(".inputs__remove-row");
    settle().await;
    assert_eq!(inputs().rows().len(), 2);
    assert_eq!(inputs().cell(0, 0), Some("Peru"), "the first row went");
    assert_eq!(
        page.get(".inputs__table tbody tr input")
            .get_attribute("aria-label")
            .unwrap(),
        "Row 1, country"
    );
}

#[wasm_bindgen_test]
async fn editing_a_cell_keeps_the_tables_fields_and_the_one_moved_to() {
    let page = Page::mount(|| view! { <ExperimentEditor/> });
    page.experiments.create("Tabbing");
    settle().await;
    page.enter(
        ".inputs__paste",
        "country,capital\nFrance,\nPeru,\n",
        "input",
    );
    settle().await;
    page.click(".inputs__use");
    settle().await;
    let fields = page.all(".inputs__table tbody input");
    assert_eq!(fields.len(), 4);
    let value = |field: &Element| js_sys::Reflect::get(field, &"value".into()).unwrap();

    // France's capital is typed, then the person moves on to Peru's: the
    // edit is committed as the field is left.
    let moved_to: HtmlElement = fields[3].clone().unchecked_into();
    moved_to.focus().unwrap();
    let field = &fields[1];
    js_sys::Reflect::set(field, &"value".into(), &"Paris".into()).unwrap();
    field
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    settle().await;
    let inputs = || page.experiments.open().unwrap().inputs.clone();
    assert_eq!(inputs().cell(0, 1), Some("Paris"));
    let now = page.all(".inputs__table tbody input");
    assert!(
        now.iter().zip(&fields).all(|(now, before)| now == before),
        "the same fields, not drawn again"
    );
    let focused = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .active_element();
    assert_eq!(
        focused.as_ref(),
        Some(&fields[3]),
        "still where the person moved to"
    );
    assert_eq!(value(&fields[1]), "Paris");

    // Removing France's row shows Peru's values in the first row's fields.
    page.click(".inputs__remove-row");
    settle().await;
    let now = page.all(".inputs__table tbody input");
    assert_eq!(now.len(), 2);
    assert_eq!((value(&now[0]), value(&now[1])), ("Peru".into(), "".into()));
}

#[wasm_bindgen_test]
async fn the_editor_reads_pasted_inputs_refuses_bad_ones_and_the_plan_follows() {
    let page = Page::mount(|| view! { <ExperimentEditor/> <RunPlan/> });
    page.store
        .set_models(vec![model("priced", Some(0.002)), model("free-ish", None)]);
    page.experiments.create("Capitals");
    settle().await;
    page.enter(".editor__template", "Capital of {{country}}?", "input");
    settle().await;
    assert_eq!(
        page.text(".editor__variables"),
        "Variables: country (not a column of the inputs)"
    );
    assert!(page
        .text(".plan__problems")
        .contains("the inputs have no rows"));

    page.enter(".inputs__paste", "country,code\nFrance,FR\nPeru\n", "input");
    settle().await; // the button is enabled once something is pasted
    page.click(".inputs__use");
    settle().await;
    let refused = page.text(".inputs__problem");
    assert!(
        refused.contains("row 2 (line 3) has 1 cells, but the header names 2 columns"),
        "{refused}"
    );
    assert!(
        page.all(".inputs__table tbody tr").is_empty(),
        "nothing was taken"
    );

    page.enter(
        ".inputs__paste",
        "{\"country\": \"France\"}\n{\"country\": \"Peru\"}\n",
        "input",
    );
    settle().await; // the button is enabled once something is pasted
    page.click(".inputs__use");
    settle().await;
    assert_eq!(
        page.text(".inputs__problem"),
        "The pasted text: 2 rows read."
    );
    assert_eq!(page.all(".inputs__table tbody tr").len(), 2);
    assert_eq!(page.text(".editor__variables"), "Variables: country");
    page.enter(".inputs__table tbody tr input", "Chile", "change");
    settle().await;
    assert_eq!(
        page.experiments.open().unwrap().inputs.cell(0, 0),
        Some("Chile")
    );

    page.click(".editor__model[data-model=priced] input");
    page.click(".editor__model[data-model=free-ish] input");
    page.enter(".editor__repeats", "3", "change");
    page.enter(".checks__value", "(unclosed", "input");
    page.enter(".checks__kind", "regex", "change");
    page.click(".checks__add");
    settle().await;
    assert!(page.text(".checks__problem").contains("is not valid"));
    assert!(page.experiments.open().unwrap().checks.is_empty());
    page.enter(".checks__value", "^Chile", "input");
    page.click(".checks__add");
    settle().await;
    assert_eq!(
        page.experiments.open().unwrap().checks,
        [Check::regex("^Chile").unwrap()]
    );

    assert_eq!(
        page.text(".plan__count"),
        "12 requests = 2 rows × 2 models × 3 repeats"
    );
    assert_eq!(page.all(".plan__models li").len(), 2);
    assert!(page
        .text(".plan__models li[data-model=free-ish]")
        .contains(", not priced, "));
    assert!(page.text(".plan__total").contains("not priced: free-ish"));

    // Over the budget: asked first; without a server, nothing is sent.
    page.enter(".editor__budget", "0.000001", "change");
    settle().await;
    assert_eq!(
        page.experiments.open().unwrap().budget,
        Some(Usd::from_dollars(0.000_001))
    );
    page.click(".plan__run");
    settle().await;
    assert!(
        page.text(".plan__confirm")
            .contains("over the budget of $0.000001"),
        "{}",
        page.text(".plan__confirm")
    );
    page.click(".plan__confirm-run");
    settle().await;
    eventually("the refusal is shown", || {
        page.text(".plan__outcome").starts_with("Nothing was sent")
    })
    .await;
    assert!(page.store.runs().is_empty());
}

#[wasm_bindgen_test]
async fn numbers_a_field_does_not_take_are_refused_there_and_change_nothing() {
    let page = Page::mount(|| view! { <ExperimentEditor/> <RunPlan/> });
    page.experiments.create("Numbers");
    settle().await;
    page.enter(".editor__budget", "0.5", "change");
    page.enter(".editor__repeats", "3", "change");
    settle().await;
    let open = || page.experiments.open().unwrap();
    assert_eq!(
        (open().budget, open().repeats),
        (Some(Usd::from_dollars(0.5)), 3)
    );

    let input =
        |selector: &str| -> web_sys::HtmlInputElement { page.get(selector).unchecked_into() };
    for (field, typed, why) in [
        (
            ".editor__budget",
            "ten dollars",
            "“ten dollars” is not an amount in dollars",
        ),
        (
            ".editor__repeats",
            "50",
            "Repeats are a whole number from 1 to 10, not “50”.",
        ),
        (
            ".editor__max-tokens",
            "lots",
            "Max tokens is a whole number from 1, not “lots”",
        ),
    ] {
        page.enter(field, typed, "change");
        settle().await;
        assert_eq!(input(field).value(), typed, "{field} keeps what was typed");
        assert_eq!(
            input(field).get_attribute("aria-invalid").as_deref(),
            Some("true")
        );
        let shown = page.text(&format!("{field}-why"));
        assert!(shown.starts_with(why), "{field}: {shown}");
    }
    assert_eq!(
        (open().budget, open().repeats, open().parameters.max_tokens),
        (Some(Usd::from_dollars(0.5)), 3, None),
        "the experiment keeps its last valid values"
    );
    // Typed again, valid: taken, and the reason goes.
    page.enter(".editor__repeats", "10", "change");
    settle().await;
    assert_eq!(open().repeats, 10);
    assert_eq!(page.text(".editor__repeats-why"), "");
    assert_eq!(
        input(".editor__repeats").get_attribute("aria-invalid"),
        None
    );
    // Emptied on purpose: no budget.
    page.enter(".editor__budget", "", "change");
    settle().await;
    assert_eq!(open().budget, None);
}

#[wasm_bindgen_test]
async fn the_plan_names_its_assumptions_and_counts_re_runs_apart() {
    let page = Page::mount(|| view! { <RunPlan/> });
    page.store
        .set_models(vec![model("priced", Some(0.002)), model("free-ish", None)]);
    page.experiments.create("Assumptions");
    page.experiments.edit(|experiment| {
        experiment.template = "Say {{n}}".into();
        experiment.inputs = InputTable::parse(b"n\n1\n2\n3\n", InputFormat::Csv).unwrap();
        experiment.models = vec!["priced".into(), "free-ish".into()];
    });
    settle().await;
    let line = |model: &str| page.text(&format!(".plan__models li[data-model={model}]"));
    assert!(
        line("priced")
            .ends_with("assuming answers of 500 tokens (no max tokens set, no earlier answers)"),
        "{}",
        line("priced")
    );
    assert_eq!(
        page.text(".plan__pace"),
        "Nothing is known of this server's rate limit."
    );

    // Answers of the model in the store: the estimate assumes their median.
    let experiment = page.experiments.open().unwrap();
    let cells = plan(&experiment, &[]).unwrap().cells;
    let runs: Vec<PromptRun> = (cells.iter().enumerate())
        .map(|(index, cell)| {
            let mut run = cell.pending_run(&experiment.id);
            run.status = [RunStatus::Success, RunStatus::Error, RunStatus::Cancelled][index % 3];
            run.output_tokens = Some(40 + index as u64);
            run
        })
        .collect();
    page.store.set_runs(runs).unwrap();
    // Planned again as an execution ends; one that is refused will do.
    page.store.start_execution();
    page.store.complete_execution();
    eventually("the grid follows the runs", || {
        page.text(".plan__rerun") == "Re-run failed (2) and cancelled (2)"
    })
    .await;
    assert!(
        line("priced").ends_with("assuming answers of 40 tokens (the median of its last 1 answer)"),
        "{}",
        line("priced")
    );

    page.experiments
        .edit(|experiment| experiment.parameters.max_tokens = Some(64));
    settle().await;
    assert!(line("free-ish").ends_with("assuming answers of 64 tokens (max tokens)"));
    assert!(line("free-ish").contains(", not priced, "));

    // The server's limits: a warning with the least time, and oversize refused.
    page.store.set_server_limits(Some(ServerLimits {
        requests_per_minute: Some(2),
        burst: Some(2),
        max_request_bytes: Some(120),
    }));
    settle().await;
    assert_eq!(
        page.text(".plan__pace"),
        "6 requests is more than this server lets through at once (2, then 2 a minute): they wait for its rate limit and take at least 2 min."
    );
    page.experiments
        .edit(|experiment| experiment.template = format!("{} {{{{n}}}}", "long ".repeat(30)));
    settle().await;
    let problems = page.text(".plan__problems");
    assert!(
        problems.contains("row 1: this request is") && problems.contains("up to 120 bytes"),
        "{problems}"
    );
}

#[wasm_bindgen_test]
async fn a_grid_of_1000_rows_on_4_models_stays_small_and_scrolls_to_the_end() {
    let page = Page::mount(|| view! { <ExperimentGrid height="800px"/> });
    page.experiments.create("Large");
    let mut csv = String::from("n\n");
    for row in 0..1_000 {
        csv += &format!("{row}\n");
    }
    page.experiments.edit(|experiment| {
        experiment.template = "Count {{n}}".into();
        experiment.inputs = InputTable::parse(csv.as_bytes(), InputFormat::Csv).unwrap();
        experiment.models = ["a", "b", "c", "d"].map(str::to_owned).to_vec();
        experiment.checks = vec![Check::Contains {
            text: "7".into(),
            case_sensitive: false,
        }];
    });
    let experiment = page.experiments.open().unwrap();
    let runs: Vec<PromptRun> = plan(&experiment, &[])
        .unwrap()
        .cells
        .iter()
        .map(|cell| {
            let mut run = cell.pending_run(&experiment.id);
            run.status = RunStatus::Success;
            // Odd rows name their model, so the models differ there only.
            run.output = Some(if cell.row % 2 == 1 {
                format!("{} on {}", cell.prompt, cell.model_id)
            } else {
                cell.prompt.to_string()
            });
            run.duration_ms = Some(100 + cell.row as u64);
            run
        })
        .collect();
    page.store.set_runs(runs).unwrap();
    // Runs reach the grid at most every 150 ms.
    eventually("the grid shows the runs", || {
        page.all(".grid__row[data-row='0'] .grid__cell[data-status=answered]")
            .len()
            == 4
    })
    .await;
    let elements = page.container.get_elements_by_tag_name("*").length();
    assert!(elements < 2_000, "{elements} elements for 1,000 × 4 cells");
    assert_eq!(page.all(".grid__row[data-row='0'] .grid__cell").len(), 4);
    assert_eq!(page.text(".grid__count"), "1,000 rows");
    let footer: Vec<_> = page
        .all(".grid__pass-rate")
        .iter()
        .map(|dd| dd.text_content().unwrap())
        .collect();
    assert_eq!(
        footer,
        vec!["Pass rate 271/1000 (27%)"; 4],
        "rows holding a 7"
    );

    let viewport: HtmlElement = page.get(".grid__viewport").unchecked_into();
    viewport.set_scroll_top((1_000 * GRID_ROW_HEIGHT_PX) as i32);
    viewport
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    settle().await;
    assert!(
        page.all(".grid__row[data-row='999']").len() == 1,
        "the last row is drawn at the end"
    );

    let checkbox: web_sys::HtmlInputElement = page.get(".grid__differing input").unchecked_into();
    checkbox.set_checked(true);
    checkbox
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    settle().await;
    assert_eq!(
        page.text(".grid__count"),
        "500 of 1,000 rows",
        "only rows where models differ"
    );
    viewport.set_scroll_top(0);
    viewport
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    settle().await;
    assert_eq!(
        page.all(".grid__row")[0]
            .get_attribute("data-row")
            .as_deref(),
        Some("1")
    );
}
