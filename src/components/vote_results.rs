//! VoteResults: what people's blind A/B votes on the open experiment add up
//! to: per pair of models, and with more than two, a ranking.

use super::experiments::use_experiments;
use super::format::{count, percent, thousands};
use super::root_class::root_class;
use crate::experiment::{cast_votes, judge_votes, BradleyTerry, RankingError, Standings, Tally};
use leptos::prelude::*;

/// The results of the blind A/B votes on the open experiment's answers (of
/// the [`Experiments`](super::Experiments) in context), people's votes
/// first, then each judge model's apart: for each pair of models that has votes, the first one's wins,
/// losses and ties, its win rate (a tie counts half) and that rate's 95%
/// Wilson interval; with more than two models, a Bradley–Terry ranking,
/// each model's strength given as how often it would be preferred to a
/// model of average strength, with a 95% interval (docs/evaluations.md).
#[component]
pub fn VoteResults(
    /// Classes the host adds to the root element, after its own `votes`
    /// (reactive: a signal restyles it while mounted).
    #[prop(optional, into)]
    class: MaybeProp<String>,
) -> impl IntoView {
    let experiments = use_experiments();
    // From the grid's runs: rebuilt at most every 150 ms while runs stream,
    // and only the open experiment's answers.
    let standings = Memo::new(move |_| {
        let grid = experiments.grid()?;
        let experiment = experiments.open()?;
        let answers = || {
            (grid.rows.iter())
                .flat_map(|row| &row.cells)
                .flat_map(|cell| cell.runs.iter().flatten())
        };
        let people = Standings::of(&cast_votes(answers()), &experiment.models);
        let judges: Vec<(String, Standings)> = judge_votes(grid.judges.runs())
            .into_iter()
            .map(|(judge, votes)| (judge, Standings::of(&votes, &experiment.models)))
            .collect();
        Some((people, judges))
    });
    let judges = move || {
        standings.get().map(|(_, judges)| {
            (judges.iter())
                .map(|(judge, standings)| {
                    view! {
                        <section class="votes__judge" data-judge=judge.clone() aria-label=format!("Votes of the judge {judge}")>
                            <h3>{format!("Judge {judge}'s votes (not counted with people's)")}</h3>
                            {results(standings)}
                        </section>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <section class=root_class("votes", class) aria-label="Blind A/B results">
            <h2>"A/B results"</h2>
            <div class="votes__people">{move || standings.get().map(|(people, _)| results(&people))}</div>
            {judges}
        </section>
    }
}

/// The pairs' lines and the ranking, or that no one voted yet.
fn results(standings: &Standings) -> impl IntoView {
    if standings.pairs.is_empty() {
        return view! { <p class="votes__none">"No votes yet: a blind A/B comparison records them."</p> }
            .into_any();
    }
    let name = |at: usize| standings.contestants[at].clone();
    let pairs = (standings.pairs.iter())
        .map(|(a, b, tally)| {
            let text = pair_text(&name(*a), &name(*b), *tally);
            view! { <li data-first=name(*a) data-second=name(*b)>{text}</li> }
        })
        .collect_view();
    let ranking = standings.ranking.as_ref().map(|ranking| match ranking {
        Ok(fit) => {
            let items = (fit.order().into_iter())
                .map(|at| view! { <li data-model=name(at)>{rank_text(&name(at), fit, at)}</li> })
                .collect_view();
            view! { <ol class="votes__ranking" aria-label="Ranking (Bradley–Terry)">{items}</ol> }
                .into_any()
        }
        Err(why) => {
            view! { <p class="votes__no-ranking">{no_ranking(standings, why)}</p> }.into_any()
        }
    });
    view! {
        <ul class="votes__pairs" aria-label="Per pair of models">{pairs}</ul>
        {ranking}
    }
    .into_any()
}

/// `a vs b: a won 3, lost 1, tied 0 (4 votes); win rate 75% (95% interval 30%–95%)`.
fn pair_text(a: &str, b: &str, tally: Tally) -> String {
    let (Some(rate), Some((low, high))) = (tally.win_rate(), tally.interval()) else {
        return format!("{a} vs {b}: no votes");
    };
    format!(
        "{a} vs {b}: {a} won {}, lost {}, tied {} ({}); win rate {} (95% interval {}–{})",
        thousands(tally.wins as u64),
        thousands(tally.losses as u64),
        thousands(tally.ties as u64),
        count(tally.votes() as u64, "vote"),
        percent(rate),
        percent(low),
        percent(high)
    )
}

/// `m: preferred to an average model 63% of the time (95% interval 48%–76%)`:
/// the log-strength as the chance of beating a model of strength 0.
fn rank_text(model: &str, fit: &BradleyTerry, at: usize) -> String {
    let share = |strength: f64| 1.0 / (1.0 + (-strength).exp());
    let (low, high) = fit.interval(at);
    format!(
        "{model}: preferred to an average model {} of the time (95% interval {}–{})",
        percent(share(fit.strengths[at])),
        percent(share(low)),
        percent(share(high))
    )
}

/// Why there is no ranking, naming the model in question.
fn no_ranking(standings: &Standings, why: &RankingError) -> String {
    let name = |at: usize| standings.contestants.get(at).cloned().unwrap_or_default();
    match why {
        RankingError::NotConnected(at) => format!(
            "No ranking yet: {} was never compared with the others, directly or through a common opponent.",
            name(*at)
        ),
        other => format!("No ranking yet: {other}."),
    }
}
