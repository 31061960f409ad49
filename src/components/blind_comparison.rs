//! BlindComparison: a blind A/B vote on two models of the open experiment,
//! pair after pair, the names shown only once a pair is voted on.

use super::checks_editor::default_judge;
use super::experiments::{use_experiments, Experiments};
use super::format::{count, thousands};
use super::root_class::root_class;
use crate::experiment::{answer_pairs, blind_pairs, BlindPair, Choice};
use crate::model::Timestamp;
use crate::persist::{use_history, HistoryPersistence};
use leptos::prelude::*;
use leptos::task::spawn_local;

/// A blind A/B comparison of two models of the open experiment (of the
/// [`Experiments`] in context). A person picks the two contestants and
/// starts; each pair is both models' answers to the same input (row and
/// repeat) side by side, as text, labelled **A** and **B** only, in a
/// shuffled order with shuffled sides; pairs a person already voted on are
/// left out. Keys **1**, **2** and **3** (on the comparison) or the buttons
/// vote A, B or a tie; the vote is stored in both runs' metadata
/// ([`votes`](crate::experiment::votes)), then the names are revealed and
/// **Next pair** (or Enter) goes on.
///
/// While a pair waits for its vote, the component holds no model name, in
/// its text or its attributes (the contestant picker is gone while a
/// session runs), so nothing in the page's tree gives the answer away.
/// [`VoteResults`](super::VoteResults) shows what the votes add up to.
///
/// Beside the picker, **Let the judge vote** asks a judge model (the
/// offline judge first when the server has it) to vote on every pair of the
/// two models' answers it has not voted on
/// ([`RunsStore::judge_pairs`](crate::store::RunsStore::judge_pairs));
/// its votes are judge calls, counted apart from people's.
///
/// ```no_run
/// use leptos::prelude::*;
/// use prompt_runs::components::{provide_experiments, BlindComparison, VoteResults};
/// use prompt_runs::store::provide_runs_store;
///
/// #[component]
/// fn Compare() -> impl IntoView {
///     provide_runs_store();
///     provide_experiments(None);
///     view! { <BlindComparison/> <VoteResults/> }
/// }
/// ```
#[component]
pub fn BlindComparison(
    /// Classes the host adds to the root element, after its own `blind`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
    /// Set to whether a session is under way, so that the host can hide
    /// what names the models meanwhile (the Experiments page hides its grid).
    #[prop(optional)]
    comparing: Option<RwSignal<bool>>,
) -> impl IntoView {
    let experiments = use_experiments();
    let comparison = Comparison {
        experiments,
        contestants: RwSignal::new((0, 1)),
        session: RwSignal::new(None),
        error: RwSignal::new(None),
        judge: RwSignal::new(None),
        judged: RwSignal::new(None),
        history: StoredValue::new_local(use_history()),
    };
    // A session belongs to the experiment it started on.
    Effect::new(move |previous: Option<Option<String>>| {
        let open = experiments.open().map(|experiment| experiment.id.clone());
        if previous.is_some_and(|previous| previous != open) {
            comparison.session.set(None);
        }
        open
    });
    // A memo: the picker and the stage are drawn again when a session
    // starts or stops, not at each vote.
    let running = Memo::new(move |_| comparison.session.with(Option::is_some));
    if let Some(comparing) = comparing {
        Effect::new(move |_| comparing.set(running.get()));
        // Leaving with a session under way shows the host's view again.
        on_cleanup(move || {
            comparing.try_set(false);
        });
    }
    let stage = NodeRef::<leptos::html::Div>::new();
    // Focus follows the session (its start, each vote, each pair), so the
    // keys work without a click first, and after a button's.
    Effect::new(move |_| {
        comparison.session.track();
        if running.get_untracked() {
            if let Some(stage) = stage.get() {
                let _ = stage.focus();
            }
        }
    });
    let on_key = move |event: leptos::ev::KeyboardEvent| {
        let key = event.key();
        if let Some(choice) = Choice::of_key(&key) {
            event.prevent_default();
            comparison.vote(choice);
        } else if key == "Enter" && event.target() == event.current_target() {
            // Only on the stage itself: Enter on a focused button is its click.
            event.prevent_default();
            comparison.next();
        }
    };
    view! {
        <section class=root_class("blind", class) aria-label="Blind A/B comparison">
            <h2>"Blind A/B comparison"</h2>
            {move || (!running.get()).then(|| contestant_picker(comparison))}
            <div class="blind__stage" node_ref=stage tabindex="0" on:keydown=on_key>
                {move || running.get().then(|| session_view(comparison))}
            </div>
            {move || comparison.error.get().map(|error| view! { <p class="blind__error" role="alert">{error}</p> })}
        </section>
    }
}

/// What the comparison's parts share.
#[derive(Clone, Copy)]
struct Comparison {
    experiments: Experiments,
    /// The two models chosen (positions in the experiment's models).
    contestants: RwSignal<(usize, usize)>,
    session: RwSignal<Option<Session>>,
    error: RwSignal<Option<String>>,
    /// The judge model picked, if a person picked one.
    judge: RwSignal<Option<String>>,
    /// How the judge's last votes went.
    judged: RwSignal<Option<String>>,
    history: StoredValue<Option<HistoryPersistence>, LocalStorage>,
}

/// A comparison under way: its pairs, the one shown, and the vote on it.
#[derive(Clone, Debug, PartialEq)]
struct Session {
    /// The pairs, shuffled by the session's seed when it started.
    pairs: Vec<BlindPair>,
    /// The pair shown (`pairs.len()` when all are voted on).
    at: usize,
    /// The vote on the pair shown, once cast: then the names are shown.
    voted: Option<Choice>,
}

impl Comparison {
    /// Starts a session on the chosen contestants, over the grid's answers
    /// now, shuffled by the clock.
    fn start(self) {
        let (Some(experiment), Some(grid)) = (self.experiments.open(), self.experiments.grid())
        else {
            return;
        };
        let seed = Timestamp::now().unix_millis().unwrap_or_default() as u64;
        let pairs = blind_pairs(&experiment, &grid, self.contestants.get_untracked(), seed);
        self.error.set(None);
        self.session.set(Some(Session {
            pairs,
            at: 0,
            voted: None,
        }));
        self.warm();
    }

    /// The pair shown, if any (tracked).
    fn pair(&self) -> Option<BlindPair> {
        self.session
            .with(|session| session.as_ref()?.pairs.get(session.as_ref()?.at).cloned())
    }

    /// Stores `choice` on the pair shown, once, and reveals the names.
    fn vote(self, choice: Choice) {
        let Some(pair) = self.pair() else { return };
        if self
            .session
            .with_untracked(|session| session.as_ref().is_none_or(|s| s.voted.is_some()))
        {
            return;
        }
        // The runs as the store holds them now: an update carries the run's
        // whole set of votes, so it must start from the latest.
        let store = self.experiments.store();
        let current = |run: &std::sync::Arc<crate::model::PromptRun>| {
            store.get_run_by_id(&run.id).unwrap_or_else(|| run.clone())
        };
        let pair = BlindPair {
            left: current(&pair.left),
            right: current(&pair.right),
            ..pair
        };
        for (id, update) in pair.vote(choice, &Timestamp::now()) {
            if let Err(error) = store.update_run(&id, update) {
                self.error
                    .set(Some(format!("The vote was not saved: {error}")));
                return;
            }
        }
        self.session.update(|session| {
            if let Some(session) = session {
                session.voted = Some(choice);
            }
        });
    }

    /// The judge shown: the one picked, else the offline judge, else the
    /// server's first model (tracked).
    fn chosen_judge(&self) -> Option<String> {
        let store = self.experiments.store();
        self.judge.get().or_else(|| {
            let ids: Vec<String> = store.models().into_iter().map(|model| model.id).collect();
            default_judge(&ids)
        })
    }

    /// Asks the chosen judge to vote on every pair of the chosen models'
    /// answers it has not voted on, people's votes or not, and says how
    /// that went.
    fn let_judge_vote(self) {
        let (Some(experiment), Some(grid), Some(judge)) = (
            self.experiments.open(),
            self.experiments.grid(),
            untrack(|| self.chosen_judge()),
        ) else {
            return;
        };
        let seed = Timestamp::now().unix_millis().unwrap_or_default() as u64;
        let pairs = answer_pairs(&experiment, &grid, self.contestants.get_untracked(), seed);
        let (store, judged) = (self.experiments.store(), self.judged);
        judged.set(Some(format!("{judge} is voting…")));
        spawn_local(async move {
            let report = store.judge_pairs(&experiment, &pairs, &judge, |_| {}).await;
            let outcome = match report {
                Err(error) => format!("The judge could not vote: {error}"),
                Ok(report) if report.judge_calls + report.judges_not_sent == 0 => {
                    format!("{judge} has voted on every pair of these two models already.")
                }
                Ok(report) => {
                    let mut text = format!(
                        "{judge} voted on {}",
                        count(report.judge_calls as u64, "pair")
                    );
                    if report.judge_failed > 0 {
                        text += &format!(" ({} failed)", thousands(report.judge_failed as u64));
                    }
                    if report.judges_not_sent > 0 {
                        text += &format!(
                            "; {} not sent (cancelled, or over the budget)",
                            thousands(report.judges_not_sent as u64)
                        );
                    }
                    text + "."
                }
            };
            judged.try_set(Some(outcome));
        });
    }

    /// Shows the next pair, once the one shown is voted on.
    fn next(self) {
        self.session.update(|session| {
            if let Some(session) = session.as_mut().filter(|session| session.voted.is_some()) {
                session.at += 1;
                session.voted = None;
            }
        });
        self.warm();
    }

    /// Reads the shown pair's whole answers back from the history, if they
    /// are held cold (past the newest runs, only an answer's start is in
    /// memory).
    fn warm(self) {
        if let (Some(history), Some(pair)) = (self.history.get_value(), self.pair()) {
            spawn_local(history.warm(vec![pair.left.id.clone(), pair.right.id.clone()]));
        }
    }
}

/// The two models to compare, and Start.
fn contestant_picker(comparison: Comparison) -> impl IntoView {
    let models = move || {
        (comparison.experiments.open())
            .map_or_else(Vec::new, |experiment| experiment.models.clone())
    };
    let choice = move |side: usize| {
        let current = move || {
            let (first, second) = comparison.contestants.get();
            if side == 0 {
                first
            } else {
                second
            }
        };
        // Each option says whether it is chosen: a select's value set before
        // its options are drawn would fall back to the first one.
        let options = move || {
            (models().into_iter().enumerate())
                .map(|(at, model)| view! { <option value=at.to_string() prop:selected=move || current() == at>{model}</option> })
                .collect_view()
        };
        let change = move |event: leptos::ev::Event| {
            if let Ok(at) = event_target_value(&event).parse::<usize>() {
                comparison.contestants.update(|pair| match side {
                    0 => pair.0 = at,
                    _ => pair.1 = at,
                });
            }
        };
        view! {
            <select class=format!("blind__contestant blind__contestant-{}", side + 1) on:change=change>
                {options}
            </select>
        }
    };
    let same = move || {
        let (first, second) = comparison.contestants.get();
        first == second || models().len() <= first.max(second)
    };
    view! {
        <div class="blind__picker">
            <label>"Compare " {choice(0)}</label>
            <label>" with " {choice(1)}</label>
            <button type="button" class="blind__start" disabled=same on:click=move |_| comparison.start()>"Start"</button>
            <p class="blind__hint">"Pairs of their answers to the same input, names hidden until you vote: keys 1 (A), 2 (B), 3 (tie)."</p>
            {judge_controls(comparison, same)}
        </div>
    }
}

/// A judge model, and "Let the judge vote" on the chosen models' pairs; its
/// votes are counted apart from people's.
fn judge_controls(
    comparison: Comparison,
    same: impl Fn() -> bool + Send + Sync + 'static,
) -> impl IntoView {
    let store = comparison.experiments.store();
    let ids = move || {
        store
            .models()
            .into_iter()
            .map(|model| model.id)
            .collect::<Vec<_>>()
    };
    let busy = move || same() || store.is_executing() || comparison.chosen_judge().is_none();
    view! {
        <div class="blind__judge">
            <label>
                "Judge "
                <select class="blind__judge-model" on:change=move |event| comparison.judge.set(Some(event_target_value(&event)))>
                    {move || ids().into_iter().map(|id| {
                        let chosen = id.clone();
                        view! { <option value=id.clone() prop:selected=move || comparison.chosen_judge().as_ref() == Some(&chosen)>{id.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <button type="button" class="blind__judge-vote" disabled=busy on:click=move |_| comparison.let_judge_vote()>"Let the judge vote"</button>
            <p class="blind__judged" role="status">{move || comparison.judged.get()}</p>
        </div>
    }
}

/// The pair shown, its buttons, and after the vote the names; or the end.
fn session_view(comparison: Comparison) -> impl IntoView {
    let progress = move || {
        comparison.session.with(|session| {
            let session = session.as_ref()?;
            let total = session.pairs.len();
            (session.at < total).then(|| format!("Pair {} of {total}", session.at + 1))
        })
    };
    let stop = move |_| comparison.session.set(None);
    // A memo: the pair is drawn again when the next one comes, not when the
    // vote on it reveals the names (that part follows the vote itself).
    let pair = Memo::new(move |_| comparison.pair());
    view! {
        <p class="blind__progress">{progress}</p>
        {move || match pair.get() {
            Some(pair) => pair_view(comparison, pair).into_any(),
            None => view! { <p class="blind__done">"No pair left to vote on: every pair of answers these two models gave to the same input has a vote, counted in the A/B results."</p> }.into_any(),
        }}
        <button type="button" class="blind__stop" on:click=stop>"Stop"</button>
    }
}

/// One pair: the input, answers A and B as text, the vote buttons, and once
/// voted the names and Next pair. The names are not in the tree before.
fn pair_view(comparison: Comparison, pair: BlindPair) -> impl IntoView {
    let store = comparison.experiments.store();
    let answer = move |id: String| {
        move || {
            store
                .get_run_by_id(&id)
                .and_then(|run| run.output.clone())
                .unwrap_or_default()
        }
    };
    let voted = move || {
        comparison
            .session
            .with(|session| session.as_ref().and_then(|s| s.voted))
    };
    let button = move |choice: Choice, class: &'static str, text: &'static str| {
        view! {
            <button type="button" class=class aria-pressed=move || (voted() == Some(choice)).to_string() disabled=move || voted().is_some() on:click=move |_| comparison.vote(choice)>{text}</button>
        }
    };
    let names = (pair.left.model_id.clone(), pair.right.model_id.clone());
    let reveal = move || {
        voted().map(|_| {
            let (a, b) = names.clone();
            view! {
                <p class="blind__reveal" role="status">
                    <span class="blind__name-a">{format!("A was {a}")}</span>", "
                    <span class="blind__name-b">{format!("B was {b}")}</span>
                </p>
                <button type="button" class="blind__next" on:click=move |_| comparison.next()>"Next pair"</button>
            }
        })
    };
    view! {
        <p class="blind__input">{format!("Input (row {}): {}", pair.row + 1, pair.left.prompt_snapshot)}</p>
        <div class="blind__answers">
            <figure class="blind__side blind__side-a"><figcaption>"A"</figcaption><p class="blind__answer">{answer(pair.left.id.clone())}</p></figure>
            <figure class="blind__side blind__side-b"><figcaption>"B"</figcaption><p class="blind__answer">{answer(pair.right.id.clone())}</p></figure>
        </div>
        <div class="blind__votes" role="group" aria-label="Which answer is better?">
            {button(Choice::A, "blind__vote-a", "A is better (1)")}
            {button(Choice::B, "blind__vote-b", "B is better (2)")}
            {button(Choice::Tie, "blind__vote-tie", "Tie (3)")}
        </div>
        {reveal}
    }
}
