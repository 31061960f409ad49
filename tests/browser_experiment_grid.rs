//! The experiment grid as a person reads it, in a real page (headless
//! Chromium) with the app's stylesheet: cells that expand in place to the
//! whole answer, labelled check marks, pass rates per check in a footer
//! under its columns, the filters, judging from a cell, names for screen
//! readers, the diff's labels, and a grid that scrolls sideways in its own
//! box at a phone's width.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use prompt_runs::components::{DiffView, ExperimentGrid, RunJudgement, GRID_ROW_HEIGHT_PX};
use prompt_runs::experiment::{plan, Check, InputFormat, InputTable};
use prompt_runs::model::{PromptRun, Rating, RunStatus};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};

mod support;
use support::eventually;
use support::experiment_page::{settle, Page};

wasm_bindgen_test_configure!(run_in_browser);

/// France's answer on `echo`: longer than a cell shows, with markup that
/// must stay text.
fn long_answer() -> String {
    format!(
        "Paris. In French: Paris.\n{}",
        "<b>More</b> words. ".repeat(30)
    )
}

/// The grid (600 px high) and the diff, on "Capitals": France, Japan, Peru
/// and `filler` more rows, on `echo` and `slow`, with two checks and runs:
///
/// | row | echo | slow |
/// | --- | --- | --- |
/// | France | [`long_answer`]: passes both | "Paris is the capital.": no "French" |
/// | Japan | "Tokyo (in French: Tokyo).": not ^Paris | failed: HTTP 500 |
/// | Peru | "Lima": fails both | not run |
/// | filler | "Filler in French." | not run |
async fn capitals(filler: usize) -> Page {
    stylesheet();
    let page = Page::mount(|| view! { <ExperimentGrid height="600px"/> <DiffView/> });
    page.experiments.create("Capitals");
    let mut csv =
        String::from("country,continent\nFrance,Europe\nJapan,Asia\nPeru,South America\n");
    for row in 0..filler {
        csv += &format!("Filler {row},Nowhere\n");
    }
    page.experiments.edit(|experiment| {
        experiment.template = "Capital of {{country}}?".into();
        experiment.inputs = InputTable::parse(csv.as_bytes(), InputFormat::Csv).unwrap();
        experiment.models = vec!["echo".into(), "slow".into()];
        experiment.checks = vec![
            Check::Contains {
                text: "French".into(),
                case_sensitive: false,
            },
            Check::regex("^Paris").unwrap(),
        ];
    });
    let experiment = page.experiments.open().unwrap();
    let runs: Vec<PromptRun> = (plan(&experiment, &[]).unwrap().cells.iter())
        .filter_map(|cell| {
            let mut run = cell.pending_run(&experiment.id);
            let output = match (cell.row, &*cell.model_id) {
                (0, "echo") => long_answer(),
                (0, _) => "Paris is the capital.".into(),
                (1, "echo") => "Tokyo (in French: Tokyo).".into(),
                (1, _) => {
                    run.status = RunStatus::Error;
                    run.error = Some("HTTP 500: upstream failed".into());
                    return Some(run);
                }
                (_, "echo") if cell.row == 2 => "Lima".into(),
                (_, "echo") => "Filler in French.".into(),
                _ => return None,
            };
            run.status = RunStatus::Success;
            run.output = Some(output);
            run.duration_ms = Some(100);
            Some(run)
        })
        .collect();
    page.store.set_runs(runs).unwrap();
    // Runs reach the grid at most every 150 ms.
    eventually("the grid shows the runs", || {
        page.all(".grid__row[data-row='0'] .grid__cell[data-status=answered]")
            .len()
            == 2
    })
    .await;
    page
}

/// The app's stylesheet, in the page once for every test of this file, as
/// the app has it.
fn stylesheet() {
    let document = web_sys::window().unwrap().document().unwrap();
    if document.get_element_by_id("app-stylesheet").is_none() {
        let sheet = document.create_element("style").unwrap();
        sheet.set_id("app-stylesheet");
        sheet.set_text_content(Some(include_str!("../style/main.css")));
        document.head().unwrap().append_child(&sheet).unwrap();
    }
}

fn cell(row: usize, model: &str) -> String {
    format!(".grid__row[data-row='{row}'] .grid__cell[data-model={model}]")
}

fn texts(elements: Vec<Element>) -> Vec<String> {
    (elements.iter())
        .map(|element| element.text_content().unwrap())
        .collect()
}

fn shown_rows(page: &Page) -> Vec<usize> {
    (page.all(".grid__row").iter())
        .map(|row| row.get_attribute("data-row").unwrap().parse().unwrap())
        .collect()
}

fn run_at(page: &Page, row: usize, model: &str) -> std::sync::Arc<PromptRun> {
    let runs = page.store.runs();
    let found = runs.iter().find(|run| {
        run.experiment_cell()
            .is_some_and(|tag| tag.row == row && tag.model_id == model)
    });
    found.unwrap().clone()
}

fn focused() -> Option<Element> {
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .active_element()
}

fn rect(element: &Element) -> web_sys::DomRect {
    element.get_bounding_client_rect()
}

#[wasm_bindgen_test]
async fn check_marks_say_which_check_passed_or_failed_and_why() {
    let page = capitals(0).await;
    let marks = |row, model| texts(page.all(&format!("{} .grid__checks li", cell(row, model))));
    assert_eq!(
        marks(0, "echo"),
        ["✓ contains \"French\" (any case)", "✓ matches /^Paris/"]
    );
    assert_eq!(
        marks(1, "echo"),
        [
            "✓ contains \"French\" (any case)",
            "✗ matches /^Paris/: no match"
        ]
    );
    assert_eq!(
        marks(0, "slow"),
        [
            "✗ contains \"French\" (any case): not found",
            "✓ matches /^Paris/"
        ]
    );
    assert!(marks(1, "slow").is_empty(), "a failed run is not judged");
    assert_eq!(
        page.text(&format!("{} .grid__answer", cell(1, "slow"))),
        "Failed: HTTP 500: upstream failed"
    );
    // Visible without hovering: drawn in the cell, the whole text in its title.
    let mark = page.get(&format!("{} .grid__fail", cell(1, "echo")));
    assert!(rect(&mark).width() > 20.0, "{}", rect(&mark).width());
    assert_eq!(
        mark.get_attribute("title").as_deref(),
        Some("✗ matches /^Paris/: no match")
    );
}

#[wasm_bindgen_test]
async fn the_footer_gives_each_checks_pass_rate_under_each_models_column() {
    let page = capitals(0).await;
    let figures = |class: &str, model: &str| {
        texts(page.all(&format!(".grid__footer .{class}[data-model={model}]")))
    };
    // echo: France passes both, Japan "French" only, Peru neither.
    assert_eq!(figures("grid__pass-rate", "echo"), ["1/3 (33%)"]);
    assert_eq!(
        figures("grid__check-rate", "echo"),
        ["2/3 (67%)", "1/3 (33%)"]
    );
    // slow: France fails "French" and passes ^Paris; the failed run is not judged.
    assert_eq!(figures("grid__pass-rate", "slow"), ["0/1 (0%)"]);
    assert_eq!(
        figures("grid__check-rate", "slow"),
        ["0/1 (0%)", "1/1 (100%)"]
    );
    assert_eq!(
        figures("grid__counts", "slow"),
        ["1 answered, 1 failed, 1 not run"]
    );
    let names = texts(page.all(".grid__footer [role=rowheader]"));
    assert_eq!(
        names,
        [
            "Pass rate, all checks",
            "contains \"French\" (any case)",
            "matches /^Paris/",
            "Total cost",
            "p50 latency",
            "Runs"
        ]
    );
}

#[wasm_bindgen_test]
async fn the_heads_the_cells_and_the_footer_line_up_beside_a_scrollbar() {
    // Enough rows that the rows scroll, with a scrollbar beside them.
    let page = capitals(10).await;
    let viewport: HtmlElement = page.get(".grid__viewport").unchecked_into();
    let scrollbar = viewport.offset_width() - viewport.client_width() - 2;
    assert!(scrollbar > 0, "no scrollbar to line up with");
    // Each model's figures sit under its column: the column head, the
    // cells and the footer share their left edge and width.
    let heads = page.all(".grid__columns span");
    for (model, head) in ["echo", "slow"].iter().zip(&heads[1..]) {
        let cell = page.get(&cell(0, model));
        let footer = page.get(&format!(".grid__pass-rate[data-model={model}]"));
        for part in [&cell, &footer] {
            assert!(
                (rect(part).left() - rect(head).left()).abs() < 1.0
                    && (rect(part).width() - rect(head).width()).abs() < 1.0,
                "{model}: {} at {}+{}, the head at {}+{}",
                part.class_name(),
                rect(part).left(),
                rect(part).width(),
                rect(head).left(),
                rect(head).width()
            );
        }
    }
}

#[wasm_bindgen_test]
async fn a_cell_expands_in_place_to_its_whole_answer_and_stays_counted_when_scrolled_away() {
    let page = capitals(40).await;
    let france = cell(0, "echo");
    let answer = page.get(&format!("{france} .grid__answer"));
    let shown = answer.text_content().unwrap();
    assert_eq!(shown.chars().count(), 201, "the first 200 characters and …");
    assert!(shown.ends_with('…'));
    let (clipped, whole) = {
        let answer: &HtmlElement = answer.unchecked_ref();
        (answer.client_height(), answer.scroll_height())
    };
    assert!(
        clipped < whole,
        "cut after three lines: {clipped} of {whole} px"
    );
    let row = page.get(".grid__row[data-row='0']");
    let row_height = |row: &Element| row.unchecked_ref::<HtmlElement>().offset_height() as usize;
    assert_eq!(row_height(&row), GRID_ROW_HEIGHT_PX);

    let expand = page.get(&format!("{france} .grid__expand"));
    assert_eq!(expand.tag_name(), "BUTTON", "reached with the keyboard");
    assert_eq!(
        expand.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    expand.unchecked_ref::<HtmlElement>().focus().unwrap();
    expand.unchecked_ref::<HtmlElement>().click();
    settle().await;
    assert_eq!(
        expand.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert_eq!(expand.text_content().as_deref(), Some("Collapse"));
    assert_eq!(focused().as_ref(), Some(&expand), "the focus stays on it");
    assert_eq!(
        page.text(&format!("{france} .grid__answer--whole")),
        long_answer(),
        "the whole answer"
    );
    assert!(
        page.find(&format!("{france} .grid__answer b")).is_none(),
        "as text, never HTML"
    );
    let expanded = row_height(&row);
    assert!(expanded > GRID_ROW_HEIGHT_PX + 100, "{expanded} px");

    // Scrolled to the end, the expanded row is no longer drawn, but the
    // space above the rows drawn still counts its height.
    let viewport: HtmlElement = page.get(".grid__viewport").unchecked_into();
    let rows = 43;
    let expected = expanded + (rows - 1) * GRID_ROW_HEIGHT_PX;
    assert_eq!(viewport.scroll_height() as usize, expected);
    // Its size is reported with the next frame's layout.
    support::sleep(100).await;
    viewport.set_scroll_top(expected as i32);
    viewport
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    settle().await;
    assert!(
        page.find(".grid__row[data-row='0']").is_none(),
        "virtualized"
    );
    let last = page.get(".grid__row[data-row='42']");
    assert_eq!(viewport.scroll_height() as usize, expected);
    let content_top = rect(&viewport).top() + f64::from(viewport.client_top());
    let last_end = rect(&last).bottom() - content_top + f64::from(viewport.scroll_top());
    assert!(
        (last_end - expected as f64).abs() < 1.0,
        "the last row ends where the list does: {last_end} of {expected} px"
    );
    let elements = page.container.get_elements_by_tag_name("*").length();
    assert!(elements < 700, "{elements} elements");

    // Back at the top, the cell is still expanded; collapsed, it is cut again.
    viewport.set_scroll_top(0);
    viewport
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    settle().await;
    let expand = page.get(&format!("{france} .grid__expand"));
    assert_eq!(
        expand.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    expand.unchecked_ref::<HtmlElement>().click();
    settle().await;
    assert!(page
        .find(&format!("{france} .grid__answer--whole"))
        .is_none());
    assert_eq!(
        row_height(&page.get(".grid__row[data-row='0']")),
        GRID_ROW_HEIGHT_PX
    );
    eventually("the list is as high as before", || {
        viewport.scroll_height() as usize == rows * GRID_ROW_HEIGHT_PX
    })
    .await;
}

#[wasm_bindgen_test]
async fn filters_keep_the_rows_with_a_failed_run_a_failed_check_or_a_judgement() {
    let page = capitals(0).await;
    let options = texts(page.all(".grid__filter option"));
    assert_eq!(
        options,
        [
            "All cells",
            "A run failed",
            "A check failed",
            "Failed: contains \"French\" (any case)",
            "Failed: matches /^Paris/",
            "Judged",
            "Thumbs up",
            "Thumbs down",
            "Starred",
            "With a note"
        ]
    );
    let filter = |name: &str| {
        let at = options.iter().position(|option| option == name).unwrap();
        page.enter(".grid__filter select", &at.to_string(), "change");
    };
    let cases: [(&str, &[usize]); 8] = [
        ("A run failed", &[1]),
        ("A check failed", &[0, 1, 2]),
        ("Failed: contains \"French\" (any case)", &[0, 2]),
        ("Failed: matches /^Paris/", &[1, 2]),
        ("Judged", &[]),
        ("Starred", &[]),
        ("With a note", &[]),
        ("All cells", &[0, 1, 2]),
    ];
    for (name, rows) in cases {
        filter(name);
        settle().await;
        assert_eq!(shown_rows(&page), rows, "{name}");
    }
    filter("A run failed");
    settle().await;
    assert_eq!(page.text(".grid__count"), "1 of 3 rows");

    // Judged in the store (as from the viewer or another tab): the filters follow.
    let peru = run_at(&page, 2, "echo");
    page.store
        .update_run(
            &peru.id,
            prompt_runs::model::PromptRunUpdate::rate(Some(Rating::Down)),
        )
        .unwrap();
    let japan = run_at(&page, 1, "echo");
    page.store
        .update_run(&japan.id, prompt_runs::model::PromptRunUpdate::star(true))
        .unwrap();
    let expected: [(&str, &[usize]); 5] = [
        ("Judged", &[1, 2]),
        ("Thumbs down", &[2]),
        ("Thumbs up", &[]),
        ("Starred", &[1]),
        ("With a note", &[]),
    ];
    for (name, rows) in expected {
        filter(name);
        eventually(name, || shown_rows(&page) == rows).await;
    }

    // With "Only rows where models differ" too: both must hold.
    filter("A check failed");
    page.click(".grid__differing input");
    settle().await;
    assert_eq!(
        shown_rows(&page),
        [0],
        "France differs (Peru's slow never ran)"
    );
}

#[wasm_bindgen_test]
async fn a_cell_is_judged_where_it_is_and_keeps_the_focus() {
    let page = capitals(0).await;
    let japan = cell(1, "echo");
    let up = page.get(&format!("{japan} .judgement__up"));
    assert_eq!(
        up.text_content().as_deref(),
        Some(""),
        "drawn, not an emoji"
    );
    up.unchecked_ref::<HtmlElement>().focus().unwrap();
    up.unchecked_ref::<HtmlElement>().click();
    settle().await;
    let id = run_at(&page, 1, "echo").id.clone();
    assert_eq!(
        page.store.get_run_by_id(&id).unwrap().rating(),
        Some(Rating::Up)
    );
    assert_eq!(up.get_attribute("aria-pressed").as_deref(), Some("true"));
    // The grid is rebuilt with the judged run (within 150 ms); the row's
    // elements stay, and so does the focus on the button pressed.
    support::sleep(400).await;
    let now = page.get(&format!("{japan} .judgement__up"));
    assert!(now.is_same_node(Some(&up)), "the row was not drawn again");
    assert_eq!(focused().as_ref(), Some(&up));

    page.click(&format!("{japan} .judgement__star"));
    settle().await;
    assert!(page.store.get_run_by_id(&id).unwrap().is_starred());
    assert_eq!(
        page.get(&format!("{japan} .judgement__star"))
            .get_attribute("aria-pressed")
            .as_deref(),
        Some("true")
    );
    assert!(page.find(&format!("{japan} .grid__note")).is_none());

    // The note is written in the expanded cell, and shown in the collapsed one.
    assert!(page.find(&format!("{japan} .judgement__note")).is_none());
    page.click(&format!("{japan} .grid__expand"));
    settle().await;
    let field = page.get(&format!("{japan} .grid__note-field"));
    assert_eq!(
        field.get_attribute("aria-label").as_deref(),
        Some("Note on Japan, Asia × echo"),
        "the field's group is named for the cell"
    );
    page.enter(
        &format!("{japan} .judgement__note input"),
        "<i>right city</i>",
        "change",
    );
    settle().await;
    assert_eq!(
        page.store.get_run_by_id(&id).unwrap().note(),
        Some("<i>right city</i>")
    );
    page.click(&format!("{japan} .grid__expand"));
    settle().await;
    assert_eq!(
        page.text(&format!("{japan} .grid__note")),
        "Note: <i>right city</i>"
    );
    assert!(page.find(&format!("{japan} .grid__note i")).is_none());

    // Pressed again, thumbs up is cleared: the same logic as the viewer's.
    page.click(&format!("{japan} .judgement__up"));
    settle().await;
    assert_eq!(page.store.get_run_by_id(&id).unwrap().rating(), None);
}

#[wasm_bindgen_test]
async fn every_button_of_a_cell_is_named_for_it_and_the_thumbs_need_no_emoji_font() {
    let page = capitals(0).await;
    let names: Vec<String> = (page.all(&format!("{} button", cell(0, "echo"))).iter())
        .map(|button| button.get_attribute("aria-label").unwrap_or_default())
        .collect();
    let of = "France, Europe × echo";
    assert_eq!(
        names,
        [
            format!("Open {of}"),
            format!("Baseline {of}"),
            format!("Compare {of}"),
            format!("Thumbs up {of}"),
            format!("Thumbs down {of}"),
            format!("Star {of}"),
            format!("Expand {of}"),
        ]
    );
    assert_eq!(
        page.get(&cell(0, "echo"))
            .get_attribute("aria-label")
            .as_deref(),
        Some(of),
        "the cell is a group of that name"
    );
    let expand = page.get(&format!("{} .grid__expand", cell(0, "echo")));
    expand.unchecked_ref::<HtmlElement>().click();
    settle().await;
    assert_eq!(
        expand.get_attribute("aria-label"),
        Some(format!("Collapse {of}"))
    );

    // The viewer's judgement and the cells' are drawn by the stylesheet: no
    // text, an SVG mask of a size on each button.
    let viewer = support::mounted::Mounted::new({
        let store = page.store;
        let id = run_at(&page, 0, "echo").id.clone();
        move || view! { <RunJudgement store run_id=Signal::stored(Some(id))/> }
    });
    let window = web_sys::window().unwrap();
    for button in viewer
        .all(".judgement button")
        .into_iter()
        .chain(page.all(&format!(
            "{} .grid__actions [aria-pressed]",
            cell(0, "echo")
        )))
    {
        assert_eq!(button.text_content().as_deref(), Some(""));
        let drawn = window
            .get_computed_style_with_pseudo_elt(&button, "::before")
            .unwrap()
            .unwrap();
        let mask = drawn.get_property_value("mask-image").unwrap();
        assert!(mask.contains("data:image/svg+xml"), "{mask}");
        let width = drawn.get_property_value("width").unwrap();
        assert!(width.ends_with("px") && width != "0px", "{width}");
    }
}

#[wasm_bindgen_test]
async fn the_diff_names_the_row_its_input_and_the_model_on_each_side() {
    let page = capitals(0).await;
    page.click(&format!("{} .grid__baseline", cell(0, "echo")));
    page.click(&format!("{} .grid__compare", cell(1, "echo")));
    settle().await;
    let baseline = page.text(".diff__baseline");
    let compared = page.text(".diff__compared");
    assert!(
        baseline.starts_with("Row 1: France, Europe · echo · "),
        "{baseline}"
    );
    assert!(
        compared.starts_with("Row 2: Japan, Asia · echo · "),
        "{compared}"
    );
    assert!(page.text(".diff__text").contains("Tokyo"));
}

#[wasm_bindgen_test]
async fn at_a_phones_width_the_grid_scrolls_sideways_in_its_own_box() {
    let page = capitals(0).await;
    page.container
        .style()
        .set_property("width", "390px")
        .unwrap();
    page.experiments.edit(|experiment| {
        experiment.models = ["echo", "slow", "third", "fourth"]
            .map(str::to_owned)
            .to_vec();
    });
    settle().await;
    support::sleep(300).await; // the grid follows at most every 150 ms
    let scroll: HtmlElement = page.get(".grid__scroll").unchecked_into();
    assert!(
        page.container.scroll_width() <= 390,
        "the page around it does not scroll: {}",
        page.container.scroll_width()
    );
    assert!(
        scroll.scroll_width() > scroll.client_width() + 300,
        "the grid's box does: {} in {}",
        scroll.scroll_width(),
        scroll.client_width()
    );
    let last = page.get(".grid__row[data-row='0'] .grid__cell:last-child");
    assert!(
        rect(&last).right() > rect(&page.container).right(),
        "cut off at first"
    );
    scroll.set_scroll_left(scroll.scroll_width());
    settle().await;
    assert!(
        rect(&last).right() <= rect(&page.container).right() + 1.0,
        "and reached by scrolling: {} of {}",
        rect(&last).right(),
        rect(&page.container).right()
    );
}
