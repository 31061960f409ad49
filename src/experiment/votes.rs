//! People's votes of a blind A/B comparison, as judgements in the history,
//! and what they add up to: per pair of contestants a [`Tally`], and with
//! more than two a [`BradleyTerry`] ranking.
//!
//! A vote on two answers is written into the `metadata.votes` of **both**
//! runs, keyed by the other run's id, each seen from its own side:
//!
//! ```json
//! {"votes": {"<the other run's id>": {"model": "gpt-4o", "result": "win", "at": "2026-12-07T20:00:00.000Z"}},
//!  "judgedAt": "2026-12-07T20:00:00.000Z"}
//! ```
//!
//! `result` is `"win"`, `"loss"` or `"tie"` for the run holding it; `model`
//! is the other run's model, so the vote still counts when that run is
//! deleted; `at` is when the vote was cast, and a later vote on the same two
//! runs replaces an earlier one. Voting sets `judgedAt`, as any judgement
//! does, so a copy of a run with the vote supersedes an older copy without
//! it (an old export, a stale tab, another browser's upload). Writing it
//! into both runs is what keeps a vote when two copies of one run meet
//! with different votes: with two contestants each run is in one pair only,
//! and with more, a vote is lost only if both its runs are replaced by
//! copies voted elsewhere meanwhile. Votes travel as run updates, so they
//! sync, export and import with the runs.

use super::ranking::{BradleyTerry, RankingError};
use super::win_rate::{Tally, Vote};
use crate::model::{PromptRun, PromptRunUpdate, Timestamp, JUDGED_AT_KEY};
use serde_json::{Map, Value};
use std::sync::Arc;

/// The `metadata` key of the votes on a run (see the module's docs).
pub const VOTES_KEY: &str = "votes";

/// The virtual ties the ranking adds to each pair of contestants that met
/// (see [`BradleyTerry::fit`]): one, half a win each way.
pub const PRIOR_TIES: f64 = 1.0;

impl Vote {
    /// `"win"`, `"loss"` or `"tie"`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Win => "win",
            Vote::Loss => "loss",
            Vote::Tie => "tie",
        }
    }

    /// The vote a stored word names, if it names one.
    pub fn parse(word: &str) -> Option<Vote> {
        match word {
            "win" => Some(Vote::Win),
            "loss" => Some(Vote::Loss),
            "tie" => Some(Vote::Tie),
            _ => None,
        }
    }

    /// The same vote seen from the other side.
    pub fn reversed(self) -> Vote {
        match self {
            Vote::Win => Vote::Loss,
            Vote::Loss => Vote::Win,
            Vote::Tie => Vote::Tie,
        }
    }
}

/// One vote stored in a run: against which run (and its model), the
/// result for the run holding it, and when.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredVote<'a> {
    /// The other run's id.
    pub against: &'a str,
    /// The other run's model.
    pub model: &'a str,
    /// The result for the run holding the vote.
    pub vote: Vote,
    /// When it was cast.
    pub at: Timestamp,
}

/// The votes `run` holds; entries written by something else (no model, an
/// unknown result) are passed over.
pub fn votes_of(run: &PromptRun) -> impl Iterator<Item = StoredVote<'_>> {
    let votes = (run.metadata.as_ref())
        .and_then(|metadata| metadata.get(VOTES_KEY))
        .and_then(Value::as_object);
    votes.into_iter().flatten().filter_map(|(against, entry)| {
        Some(StoredVote {
            against,
            model: entry.get("model")?.as_str()?,
            vote: Vote::parse(entry.get("result")?.as_str()?)?,
            at: Timestamp::parse(entry.get("at")?.as_str()?),
        })
    })
}

/// Whether a person voted on `run` against `other` (as either holds it).
pub fn voted(run: &PromptRun, other: &PromptRun) -> bool {
    votes_of(run).any(|vote| vote.against == other.id)
        || votes_of(other).any(|vote| vote.against == run.id)
}

/// The updates that record `vote` (the result for `run`) on `run` and
/// `other`, cast `at`: one per run, each keeping its other votes.
pub fn vote_updates(
    run: &PromptRun,
    other: &PromptRun,
    vote: Vote,
    at: &Timestamp,
) -> [(String, PromptRunUpdate); 2] {
    [
        (run.id.clone(), vote_update(run, other, vote, at)),
        (
            other.id.clone(),
            vote_update(other, run, vote.reversed(), at),
        ),
    ]
}

/// The update adding one vote to `run`'s votes, and setting `judgedAt`.
fn vote_update(run: &PromptRun, other: &PromptRun, vote: Vote, at: &Timestamp) -> PromptRunUpdate {
    let mut votes = (run.metadata.as_ref())
        .and_then(|metadata| metadata.get(VOTES_KEY))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut entry = Map::new();
    entry.insert("model".to_owned(), other.model_id.clone().into());
    entry.insert("result".to_owned(), vote.as_str().into());
    entry.insert("at".to_owned(), at.as_str().into());
    votes.insert(other.id.clone(), Value::Object(entry));
    let mut changes = Map::new();
    changes.insert(VOTES_KEY.to_owned(), Value::Object(votes));
    changes.insert(JUDGED_AT_KEY.to_owned(), at.as_str().into());
    PromptRunUpdate::default().with_metadata_changes(changes)
}

/// One vote on two runs, counted once whichever run (or both) holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct CastVote {
    /// The run whose id sorts first, and its model.
    pub first: (String, String),
    /// The other run, and its model.
    pub second: (String, String),
    /// The result for `first`.
    pub vote: Vote,
    /// When it was cast.
    pub at: Timestamp,
}

/// The people's votes among `runs` (each pair of runs once, its latest
/// vote), in the order `runs` first hold them. Not sorted: each sort
/// instantiated costs the Experiments page a few kilobytes, and the
/// standings do not depend on the order.
pub fn cast_votes<'a>(runs: impl IntoIterator<Item = &'a Arc<PromptRun>>) -> Vec<CastVote> {
    let mut cast: Vec<CastVote> = Vec::new();
    for run in runs {
        for stored in votes_of(run) {
            let this = (run.id.clone(), run.model_id.clone());
            let that = (stored.against.to_owned(), stored.model.to_owned());
            let (first, second, vote) = if this.0 <= that.0 {
                (this, that, stored.vote)
            } else {
                (that, this, stored.vote.reversed())
            };
            match cast
                .iter_mut()
                .find(|held| held.first.0 == first.0 && held.second.0 == second.0)
            {
                Some(held) if held.at.unix_millis() < stored.at.unix_millis() => {
                    held.vote = vote;
                    held.at = stored.at;
                }
                Some(_) => {}
                None => cast.push(CastVote {
                    first,
                    second,
                    vote,
                    at: stored.at,
                }),
            }
        }
    }
    cast
}

/// What the votes add up to: each pair of contestants' tally and, with
/// more than two contestants, their ranking.
#[derive(Clone, Debug, PartialEq)]
pub struct Standings {
    /// The contestants (models) that have votes, in the order given, then
    /// in order of appearance.
    pub contestants: Vec<String>,
    /// Per pair of contestants `(i, j)` with `i < j` and votes: `i`'s tally
    /// against `j`.
    pub pairs: Vec<(usize, usize, Tally)>,
    /// The ranking, with more than two contestants: the fit, or why there is
    /// none.
    pub ranking: Option<Result<BradleyTerry, RankingError>>,
}

impl Standings {
    /// The standings of `votes`, contestants listed in the order of
    /// `models` first (those without a vote left out).
    pub fn of(votes: &[CastVote], models: &[String]) -> Standings {
        let mut contestants: Vec<String> = (models.iter())
            .filter(|model| {
                (votes.iter()).any(|vote| vote.first.1 == **model || vote.second.1 == **model)
            })
            .cloned()
            .collect();
        for vote in votes {
            for model in [&vote.first.1, &vote.second.1] {
                if !contestants.contains(model) {
                    contestants.push(model.clone());
                }
            }
        }
        let position = |model: &str| contestants.iter().position(|held| held == model);
        // A k × k table of tallies, read out in order: no sort needed.
        let k = contestants.len();
        let mut table = vec![Tally::default(); k * k];
        for vote in votes {
            let (Some(a), Some(b)) = (position(&vote.first.1), position(&vote.second.1)) else {
                continue;
            };
            // Two answers of one model compared is no evidence between models.
            if a == b {
                continue;
            }
            let (i, j, result) = if a < b {
                (a, b, vote.vote)
            } else {
                (b, a, vote.vote.reversed())
            };
            table[i * k + j].count(result);
        }
        let pairs: Vec<(usize, usize, Tally)> = (0..k)
            .flat_map(|i| (i + 1..k).map(move |j| (i, j)))
            .map(|(i, j)| (i, j, table[i * k + j]))
            .filter(|(_, _, tally)| tally.votes() > 0)
            .collect();
        let ranking = (k > 2).then(|| {
            let mut wins = vec![vec![0.0; k]; k];
            for (i, j, tally) in &pairs {
                let half = tally.ties as f64 / 2.0;
                wins[*i][*j] += tally.wins as f64 + half;
                wins[*j][*i] += tally.losses as f64 + half;
            }
            BradleyTerry::fit(&wins, PRIOR_TIES)
        });
        Standings {
            contestants,
            pairs,
            ranking,
        }
    }

    /// `a`'s tally against `b` (contestant positions), reversed as needed.
    pub fn tally(&self, a: usize, b: usize) -> Tally {
        (self.pairs.iter())
            .find_map(|(i, j, tally)| match (*i, *j) {
                (i, j) if (i, j) == (a, b) => Some(*tally),
                (i, j) if (i, j) == (b, a) => Some(tally.reversed()),
                _ => None,
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunStatus;
    use serde_json::json;

    fn answered(id: &str, model: &str) -> PromptRun {
        let mut run = PromptRun::pending(id, model, "p");
        run.status = RunStatus::Success;
        run.output = Some(format!("answer of {model}"));
        run
    }

    fn vote_on(a: &PromptRun, b: &PromptRun, vote: Vote, at_ms: i64) -> (PromptRun, PromptRun) {
        let at = Timestamp::from_unix_millis(at_ms);
        let [(_, on_a), (_, on_b)] = vote_updates(a, b, vote, &at);
        (on_a.apply_to(a).unwrap(), on_b.apply_to(b).unwrap())
    }

    #[test]
    fn a_vote_is_stored_in_both_runs_each_from_its_side() {
        let (a, b) = (answered("a", "m1"), answered("b", "m2"));
        let (a, b) = vote_on(&a, &b, Vote::Win, 1_000);
        let at = Timestamp::from_unix_millis(1_000);
        assert_eq!(
            serde_json::to_value(&a).unwrap()["metadata"],
            json!({"votes": {"b": {"model": "m2", "result": "win", "at": at.as_str()}}, "judgedAt": at.as_str()})
        );
        assert_eq!(votes_of(&b).next().unwrap().vote, Vote::Loss);
        assert_eq!(a.judged_at(), Some(at), "a vote is a judgement");
        assert!(voted(&a, &b) && voted(&b, &a));
        // A later vote on the same runs, and another against a third run.
        let c = answered("c", "m3");
        let (a, _) = vote_on(&a, &c, Vote::Tie, 2_000);
        assert_eq!(votes_of(&a).count(), 2, "each vote is kept");
    }

    #[test]
    fn two_copies_of_a_run_voted_apart_keep_both_votes_through_the_other_runs() {
        let (a, b, c) = (
            answered("a", "m1"),
            answered("b", "m2"),
            answered("c", "m3"),
        );
        // Two browsers, before they synced: one votes a vs b, the other a vs c.
        let (a_here, b_here) = vote_on(&a, &b, Vote::Win, 1_000);
        let (a_there, c_there) = vote_on(&a, &c, Vote::Loss, 2_000);
        // Their copies of `a` meet: the one judged later replaces the other whole.
        assert!(a_there.supersedes(&a_here) && !a_here.supersedes(&a_there));
        let merged = [a_there, b_here, c_there].map(Arc::new);
        let cast = cast_votes(merged.iter());
        let results: Vec<(&str, &str, Vote)> = (cast.iter())
            .map(|vote| (vote.first.0.as_str(), vote.second.0.as_str(), vote.vote))
            .collect();
        assert_eq!(
            results,
            [("a", "c", Vote::Loss), ("a", "b", Vote::Win)],
            "a vs b is still read from b"
        );
    }

    #[test]
    fn votes_count_once_per_pair_the_latest_winning_even_from_one_side() {
        let (a, b) = (answered("a", "m1"), answered("b", "m2"));
        let (old_a, old_b) = vote_on(&a, &b, Vote::Loss, 1_000);
        let (new_a, _) = vote_on(&old_a, &old_b, Vote::Win, 2_000);
        // `b`'s copy still holds the older vote: the newer one counts.
        let runs = [Arc::new(new_a), Arc::new(old_b)];
        let cast = cast_votes(runs.iter());
        assert_eq!(cast.len(), 1);
        assert_eq!((cast[0].first.0.as_str(), cast[0].vote), ("a", Vote::Win));
        // With one run deleted, the other still carries the vote.
        let cast = cast_votes(runs[1..].iter());
        assert_eq!((cast[0].first.1.as_str(), cast[0].vote), ("m1", Vote::Loss));
    }

    #[test]
    fn standings_tally_each_pair_and_rank_three_contestants() {
        let models: Vec<String> = ["m1", "m2", "m3"].map(String::from).to_vec();
        let mut runs = Vec::new();
        let mut id = 0;
        let mut pair = |x: &str, y: &str, vote: Vote| {
            id += 2;
            let (a, b) = (
                answered(&format!("r{id:03}"), x),
                answered(&format!("r{:03}", id + 1), y),
            );
            let (a, b) = vote_on(&a, &b, vote, 1_000);
            runs.push(Arc::new(a));
            runs.push(Arc::new(b));
        };
        for vote in [Vote::Win, Vote::Win, Vote::Tie, Vote::Loss] {
            pair("m1", "m2", vote);
        }
        for vote in [Vote::Win, Vote::Win, Vote::Win] {
            pair("m1", "m3", vote);
        }
        for vote in [Vote::Loss, Vote::Win] {
            pair("m3", "m2", vote);
        }
        let standings = Standings::of(&cast_votes(runs.iter()), &models);
        assert_eq!(standings.contestants, models);
        let (wins, losses, ties) = (2, 1, 1);
        assert_eq!(standings.tally(0, 1), Tally { wins, losses, ties });
        assert_eq!(standings.tally(1, 0).wins, 1);
        assert_eq!(standings.tally(0, 2).wins, 3);
        assert_eq!(
            standings.tally(1, 2),
            Tally {
                wins: 1,
                losses: 1,
                ties: 0
            }
        );
        let ranking = standings.ranking.unwrap().unwrap();
        assert_eq!(
            ranking.order(),
            [0, 1, 2],
            "m1 swept m3, and beat m2 more often"
        );
    }

    #[test]
    fn two_contestants_have_no_ranking_and_unreadable_votes_are_ignored() {
        let (a, b) = vote_on(&answered("a", "m1"), &answered("b", "m2"), Vote::Tie, 5);
        let mut odd = answered("c", "m3");
        odd.metadata = json!({"votes": {"a": {"result": "win"}, "b": {"model": "m2", "result": "yes", "at": "x"}}})
            .as_object()
            .cloned();
        let runs = [Arc::new(a), Arc::new(b), Arc::new(odd)];
        let standings = Standings::of(&cast_votes(runs.iter()), &[]);
        assert_eq!(standings.contestants, ["m1", "m2"]);
        assert_eq!(standings.tally(0, 1).ties, 1);
        assert!(standings.ranking.is_none());
    }
}
