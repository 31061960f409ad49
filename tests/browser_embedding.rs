//! The components as a host app embeds them (headless Chromium): two of each
//! list on one page, each with its own store or experiment, class, style
//! and height, and neither touching the other; every component taking the
//! host's class next to its own.
#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use prompt_runs::api::{ClientConfig, NeuroForgeClient};
use prompt_runs::components::{
    keep_history_on_server, provide_diff_selection, provide_experiments, provide_run_filter,
    provide_server_connection, ActiveRunViewer, ChecksEditor, DiffView, ErrorBanner,
    ExecutionProgress, ExperimentEditor, ExperimentGrid, ExperimentPicker, HistoryStorage,
    HistoryTransfer, InputRows, ModelPerformance, PromptComposer, RunFilters, RunHistory,
    RunJudgement, RunPlan, ServerHistory, Settings, GRID_ROW_HEIGHT_PX, ROW_HEIGHT_PX,
};
use prompt_runs::experiment::{plan, Experiment, InputFormat, InputTable};
use prompt_runs::model::{PromptRun, RunStatus};
use prompt_runs::persist::{persist_history, provide_history, HistoryOptions};
use prompt_runs::store::{provide_runs_store, RunsStore};
use std::collections::HashSet;
use std::sync::Arc;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Element, HtmlElement};

mod support;
use support::history::{fresh, run};
use support::mounted::Mounted;
use support::{eventually, gateway_url};

wasm_bindgen_test_configure!(run_in_browser);

/// A view mounted in a container of its own at the end of the page.
struct Page {
    container: HtmlElement,
    _view: Mounted,
}

impl Page {
    fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> Page {
        let view = Mounted::new(view);
        Page {
            container: view.container.clone(),
            _view: view,
        }
    }

    /// Every element matching `selector` under `within` (the page when none).
    fn all(&self, within: Option<&Element>, selector: &str) -> Vec<Element> {
        let found = match within {
            Some(element) => element.query_selector_all(selector),
            None => self.container.query_selector_all(selector),
        }
        .unwrap();
        (0..found.length())
            .map(|index| found.item(index).unwrap().unchecked_into())
            .collect()
    }

    fn one(&self, within: &Element, selector: &str) -> HtmlElement {
        (within.query_selector(selector).unwrap())
            .unwrap_or_else(|| panic!("nothing matches {selector}"))
            .unchecked_into()
    }

    /// The `data-run-id`s of the history rows drawn under `root`.
    fn run_ids(&self, root: &Element) -> Vec<String> {
        (self.all(Some(root), ".history__row").iter())
            .map(|row| row.get_attribute("data-run-id").unwrap())
            .collect()
    }

    /// The `data-model`s of the grid cells drawn under `root`, once each.
    fn grid_models(&self, root: &Element) -> Vec<String> {
        let mut models: Vec<String> = (self.all(Some(root), ".grid__cell").iter())
            .map(|cell| cell.get_attribute("data-model").unwrap())
            .collect();
        models.sort();
        models.dedup();
        models
    }
}

/// The ids on the whole page that more than one element has.
fn duplicate_ids() -> Vec<String> {
    let document = web_sys::window().unwrap().document().unwrap();
    let with_id = document.query_selector_all("[id]").unwrap();
    let mut seen = HashSet::new();
    (0..with_id.length())
        .map(|index| {
            with_id
                .item(index)
                .unwrap()
                .unchecked_into::<Element>()
                .id()
        })
        .filter(|id| !seen.insert(id.clone()))
        .collect()
}

/// A store of its own holding `count` finished runs `{prefix}-0`…, started
/// one second apart, newest first (as a store holds them).
fn store_of(prefix: &str, count: usize) -> RunsStore {
    let store = RunsStore::new();
    let runs = (0..count)
        .rev()
        .map(|n| {
            run(
                &format!("{prefix}-{n}"),
                1_700_000_000_000 + n as i64 * 1_000,
            )
        })
        .collect();
    store.set_runs(runs).unwrap();
    store
}

/// The laid-out width of `element`, in CSS pixels.
fn width(element: &Element) -> f64 {
    element.get_bounding_client_rect().width()
}

/// The rows a virtualized list draws from its top in a viewport
/// `viewport_px` high: those in view, one more, and 4 either side.
fn rows_drawn(viewport_px: usize, row_px: usize, len: usize) -> usize {
    (viewport_px.div_ceil(row_px) + 1 + 2 * 4).min(len)
}

/// The rows an experiment grid draws from its top in a viewport
/// `viewport_px` high: those in view (the last one's top inside it, or on
/// its bottom edge), and 2 more below.
fn grid_rows_drawn(viewport_px: usize, len: usize) -> usize {
    (viewport_px / GRID_ROW_HEIGHT_PX + 1 + 2).min(len)
}

#[wasm_bindgen_test]
async fn two_run_histories_keep_their_own_runs_class_style_and_height() {
    let (first, second) = (store_of("a", 40), store_of("b", 3));
    let first_class = RwSignal::new("host-a".to_owned());
    let first_style = RwSignal::new("width: 500px".to_owned());
    let first_height = RwSignal::new("800px".to_owned());
    let page = Page::mount(move || {
        view! {
            <RunHistory store=first class=first_class style=first_style height=first_height/>
            <RunHistory store=second class="host-b" style="width: 300px" height="300px"/>
        }
    });
    let roots = page.all(None, "section.history");
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0].class_name(), "pr-component history host-a");
    assert_eq!(roots[1].class_name(), "pr-component history host-b");
    let viewports = [&roots[0], &roots[1]].map(|root| page.one(root, ".history__viewport"));

    eventually("each list draws its own runs for its height", || {
        page.run_ids(&roots[0]).len() == rows_drawn(800, ROW_HEIGHT_PX, 40)
            && page.run_ids(&roots[1]).len() == 3
    })
    .await;
    assert!(page
        .run_ids(&roots[0])
        .iter()
        .all(|id| id.starts_with("a-")));
    assert_eq!(page.run_ids(&roots[1]), ["b-2", "b-1", "b-0"]);
    assert_eq!(viewports[0].client_height(), 800);
    assert_eq!(viewports[1].client_height(), 300);

    // A new height resizes that list, and it draws the rows the new height
    // shows; the other keeps its own.
    first_height.set("200px".to_owned());
    eventually("the first list is 200 px high and draws fewer rows", || {
        viewports[0].client_height() == 200
            && page.run_ids(&roots[0]).len() == rows_drawn(200, ROW_HEIGHT_PX, 40)
    })
    .await;
    assert_eq!(viewports[1].client_height(), 300);
    assert_eq!(page.run_ids(&roots[1]).len(), 3);

    // A new class restyles that list only.
    first_class.set("host-a narrow".to_owned());
    eventually("the first list takes its new class", || {
        roots[0].class_name() == "pr-component history host-a narrow"
    })
    .await;
    assert_eq!(roots[1].class_name(), "pr-component history host-b");

    // Each list lays out at the width its style gives, and a new style
    // restyles that list only.
    assert_eq!((width(&roots[0]), width(&roots[1])), (500.0, 300.0));
    first_style.set("width: 420px".to_owned());
    eventually("the first list takes its new style", || {
        width(&roots[0]) == 420.0
    })
    .await;
    assert_eq!(width(&roots[1]), 300.0);

    // Each list's controls act on its own store.
    page.one(&roots[1], ".history__row .history__open").click();
    assert_eq!(second.active_run_id().as_deref(), Some("b-2"));
    assert_eq!(first.active_run_id(), None);
    assert_eq!(duplicate_ids(), Vec::<String>::new());
}

/// An experiment over `rows` inputs on `models`, every cell answered (one
/// run each, in the returned list).
fn answered(id: &str, rows: usize, models: &[&str]) -> (Arc<Experiment>, Vec<PromptRun>) {
    let mut experiment = Experiment::new(id, id);
    experiment.template = "Say {{n}}".into();
    let csv: String = std::iter::once("n\n".to_owned())
        .chain((0..rows).map(|row| format!("{row}\n")))
        .collect();
    experiment.inputs = InputTable::parse(csv.as_bytes(), InputFormat::Csv).unwrap();
    experiment.models = models.iter().map(|model| model.to_string()).collect();
    let runs = (plan(&experiment, &[]).unwrap().cells.iter())
        .map(|cell| {
            let mut run = cell.pending_run(&experiment.id);
            run.status = RunStatus::Success;
            run.output = Some(format!("{} on {}", cell.prompt, cell.model_id));
            run
        })
        .collect();
    (Arc::new(experiment), runs)
}

#[wasm_bindgen_test]
async fn two_experiment_grids_keep_their_own_experiment_class_style_and_height() {
    let (large, mut runs) = answered("large", 30, &["m1", "m2"]);
    let (small, small_runs) = answered("small", 4, &["m3"]);
    runs.extend(small_runs);
    let store = RunsStore::new();
    store.set_runs(runs).unwrap();
    let large_height = RwSignal::new("700px".to_owned());
    let large_style = RwSignal::new("width: 640px".to_owned());
    let page = Page::mount(move || {
        let (large, small) = (Signal::stored(Some(large)), Signal::stored(Some(small)));
        view! {
            <ExperimentGrid store experiment=large class="host-large" style=large_style height=large_height/>
            <ExperimentGrid store experiment=small class="host-small" style="width: 360px" height="300px"/>
        }
    });
    let roots = page.all(None, "section.grid");
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0].class_name(), "pr-component grid host-large");
    assert_eq!(roots[1].class_name(), "pr-component grid host-small");
    let viewports = [&roots[0], &roots[1]].map(|root| page.one(root, ".grid__viewport"));
    let rows = |root: &Element| page.all(Some(root), ".grid__row").len();

    // Runs reach a grid at most every 150 ms.
    eventually("each grid draws its own experiment for its height", || {
        rows(&roots[0]) == grid_rows_drawn(700, 30) && rows(&roots[1]) == 4
    })
    .await;
    assert_eq!(page.grid_models(&roots[0]), ["m1", "m2"]);
    assert_eq!(page.grid_models(&roots[1]), ["m3"]);
    let count = |root: &Element| page.one(root, ".grid__count").text_content().unwrap();
    assert_eq!(count(&roots[0]), "30 rows");
    assert_eq!(count(&roots[1]), "4 rows");
    assert_eq!(viewports[0].client_height(), 700);
    assert_eq!(viewports[1].client_height(), 300);

    large_height.set("336px".to_owned());
    eventually("the large grid is 336 px high and draws fewer rows", || {
        viewports[0].client_height() == 336 && rows(&roots[0]) == grid_rows_drawn(336, 30)
    })
    .await;
    assert_eq!(viewports[1].client_height(), 300);
    assert_eq!(rows(&roots[1]), 4);

    assert_eq!((width(&roots[0]), width(&roots[1])), (640.0, 360.0));
    large_style.set("width: 560px".to_owned());
    eventually("the large grid takes its new style", || {
        width(&roots[0]) == 560.0
    })
    .await;
    assert_eq!(width(&roots[1]), 360.0);
    assert_eq!(duplicate_ids(), Vec::<String>::new());
}

/// Ctrl+Enter, as a keyboard sends it (bubbling).
fn ctrl_enter() -> web_sys::KeyboardEvent {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Enter");
    init.set_ctrl_key(true);
    init.set_bubbles(true);
    web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap()
}

#[wasm_bindgen_test]
async fn two_prompt_composers_execute_only_from_their_own_prompt() {
    let client = NeuroForgeClient::new(ClientConfig::default().base_url(gateway_url()));
    let models = client.models().await.unwrap();
    let stores = [RunsStore::new(), RunsStore::new()];
    for store in stores {
        store.set_models(models.clone());
        store.set_executor(client.clone());
    }
    let page = Page::mount(move || {
        let [first, second] = stores;
        view! {
            <PromptComposer store=first class="host-first"/>
            <PromptComposer store=second class="host-second"/>
        }
    });
    let prompts = page.all(None, ".composer__prompt");
    assert_eq!(prompts.len(), 2);
    for (prompt, text) in prompts.iter().zip(["first prompt", "second prompt"]) {
        let prompt: web_sys::HtmlTextAreaElement = prompt.clone().unchecked_into();
        prompt.set_value(text);
        let input = web_sys::Event::new("input").unwrap();
        prompt.dispatch_event(&input).unwrap();
    }
    eventually("both can execute (a model is chosen)", || {
        (page.all(None, ".composer__execute").iter()).all(|button| {
            !button
                .clone()
                .unchecked_into::<web_sys::HtmlButtonElement>()
                .disabled()
        })
    })
    .await;

    // The page's own keys are the host's: Ctrl+Enter outside a prompt runs nothing.
    let body = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .body()
        .unwrap();
    body.dispatch_event(&ctrl_enter()).unwrap();
    page.container.dispatch_event(&ctrl_enter()).unwrap();
    leptos::task::tick().await;
    leptos::task::tick().await;
    assert!(stores
        .iter()
        .all(|store| store.runs().is_empty() && !store.is_executing()));

    // In the second prompt, it runs the second composer's prompt only.
    prompts[1].dispatch_event(&ctrl_enter()).unwrap();
    eventually("the second composer's run ends", || {
        stores[1].runs().len() == 1 && !stores[1].is_executing()
    })
    .await;
    let run = stores[1].runs().get(0).cloned().unwrap();
    assert_eq!(run.prompt_snapshot, "second prompt");
    assert_eq!(run.status, RunStatus::Success);
    assert!(
        stores[0].runs().is_empty(),
        "the first composer ran nothing"
    );
    assert_eq!(duplicate_ids(), Vec::<String>::new());
}

#[wasm_bindgen_test]
fn a_host_themes_the_components_inside_its_wrapper_only() {
    // The app's stylesheet, as a host includes it. Added and removed with no
    // await between: the other tests of this page never see it.
    let document = web_sys::window().unwrap().document().unwrap();
    let sheet = document.create_element("style").unwrap();
    sheet.set_text_content(Some(include_str!("../style/main.css")));
    document.head().unwrap().append_child(&sheet).unwrap();
    let page = Page::mount(|| {
        provide_runs_store();
        view! {
            <div style="--pr-accent: rgb(1, 2, 3); --pr-font: monospace">
                <PromptComposer/>
            </div>
            <PromptComposer/>
        }
    });
    let style = |element: &Element| {
        let style = web_sys::window().unwrap().get_computed_style(element);
        style.unwrap().unwrap()
    };
    let [themed, plain] = [0, 1].map(|index| page.all(None, ".composer")[index].clone());
    let execute = |root: &Element| {
        let button = page.one(root, ".composer__execute");
        style(&button)
            .get_property_value("background-color")
            .unwrap()
    };
    let font = |root: &Element| style(root).get_property_value("font-family").unwrap();
    let prompt_font = |root: &Element| {
        let prompt = page.one(root, ".composer__prompt");
        style(&prompt).get_property_value("font-family").unwrap()
    };
    let seen = (
        [execute(&themed), font(&themed), prompt_font(&themed)],
        [execute(&plain), font(&plain)],
    );
    sheet.remove();
    let ([themed_accent, themed_font, themed_prompt], [plain_accent, plain_font]) = seen;
    assert_eq!(themed_accent, "rgb(1, 2, 3)");
    assert_eq!(themed_font, "monospace");
    assert_eq!(themed_prompt, "monospace", "the fields inherit the font");
    assert!(
        !plain_accent.is_empty() && plain_accent != themed_accent,
        "{plain_accent}"
    );
    assert!(plain_font.starts_with("system-ui"), "{plain_font}");
}

#[wasm_bindgen_test]
async fn every_component_puts_the_host_class_beside_its_own() {
    let keys = fresh("embedding-classes").await;
    let page = Page::mount(move || {
        let store = provide_runs_store();
        provide_run_filter();
        provide_experiments(Some(store));
        provide_diff_selection();
        let history = provide_history(persist_history(store, HistoryOptions::default().keys(keys)));
        keep_history_on_server(history, provide_server_connection(store));
        // The banner is there only while there is an error.
        store.set_error(Some("shown".to_owned()));
        view! {
            <ActiveRunViewer class="host"/>
            <ExecutionProgress class="host"/>
            <ErrorBanner class="host"/>
            <RunHistory class="host"/>
            <RunFilters class="host"/>
            <ModelPerformance class="host"/>
            <HistoryTransfer class="host"/>
            <HistoryStorage class="host"/>
            <Settings class="host"/>
            <ServerHistory class="host"/>
            <PromptComposer class="host"/>
            <RunJudgement class="host"/>
            <DiffView class="host"/>
            <ExperimentPicker class="host"/>
            <ExperimentEditor class="host"/>
            <RunPlan class="host"/>
            <ExperimentGrid class="host"/>
            <InputRows class="host"/>
            <ChecksEditor class="host"/>
        }
    });
    let hosted: Vec<String> = (page.all(None, ".host").iter())
        .map(|root| root.class_name())
        .collect();
    assert_eq!(
        hosted,
        [
            "pr-component viewer host",
            "pr-component progress host",
            "pr-component error-banner host",
            "pr-component history host",
            "pr-component filters host",
            "pr-component performance host",
            "pr-component transfer host",
            "pr-component storage host",
            "pr-component settings host",
            "pr-component server-history host",
            "pr-component composer host",
            "pr-component judgement host",
            "pr-component diff host",
            "pr-component picker host",
            "pr-component editor host",
            "pr-component plan host",
            "pr-component grid host",
            "pr-component inputs host",
            "pr-component checks host",
        ],
        "each root, in page order: its own class, then the host's"
    );
    let roots = page.container.children();
    assert_eq!(roots.length(), 19, "the host's class is on each root");
    assert!((0..roots.length()).all(|index| roots
        .item(index)
        .unwrap()
        .class_list()
        .contains("host")));
}

#[wasm_bindgen_test]
async fn a_list_sized_by_its_host_follows_the_hosts_layout_without_a_window_resize() {
    let store = store_of("h", 60);
    let page = Page::mount(move || {
        view! {
            <div class="host-panel" style="--list-height: 900px">
                <RunHistory store height="var(--list-height)"/>
            </div>
        }
    });
    let panel: HtmlElement = page.all(None, ".host-panel")[0].clone().unchecked_into();
    let root = page.all(None, "section.history")[0].clone();
    let viewport = page.one(&root, ".history__viewport");
    eventually("the list is as high as its host says", || {
        viewport.client_height() == 900
            && page.run_ids(&root).len() == rows_drawn(900, ROW_HEIGHT_PX, 60)
    })
    .await;

    // The host's stylesheet changes the list's height (a panel opening
    // beside it, say): no prop changes and the window does not resize. The
    // list draws the rows its new height shows.
    panel
        .style()
        .set_property("--list-height", "250px")
        .unwrap();
    eventually("the list draws the rows of its new height", || {
        viewport.client_height() == 250
            && page.run_ids(&root).len() == rows_drawn(250, ROW_HEIGHT_PX, 60)
    })
    .await;
}
