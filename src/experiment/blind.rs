//! The pairs of a blind A/B comparison: two contestants' answers to the
//! same input (the same row and repeat), in a shuffled order, each with its
//! sides shuffled, so that a person cannot tell which model is A.
//!
//! The shuffle is seeded (SplitMix64): the session keeps its seed, the pair
//! keeps which side is whose, so the reveal after a vote names the right
//! model and the same seed gives the same session again (as tests need).

use super::definition::Experiment;
use super::grid::Grid;
use super::votes::{vote_updates, voted};
use super::win_rate::Vote;
use crate::model::{PromptRun, PromptRunUpdate, RunStatus, Timestamp};
use std::sync::Arc;

/// A person's answer to a pair: the left answer (A), the right one (B), or
/// neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// A, the left answer, is better (key 1).
    A,
    /// B, the right answer, is better (key 2).
    B,
    /// They are as good (key 3).
    Tie,
}

impl Choice {
    /// The choice a key gives: `1`, `2` or `3`.
    pub fn of_key(key: &str) -> Option<Choice> {
        match key {
            "1" => Some(Choice::A),
            "2" => Some(Choice::B),
            "3" => Some(Choice::Tie),
            _ => None,
        }
    }
}

/// Two answers to the same input shown side by side without their names.
#[derive(Clone, Debug, PartialEq)]
pub struct BlindPair {
    /// The input row, from 0.
    pub row: usize,
    /// The repeat, from 0.
    pub repeat: u32,
    /// The answer shown as A, on the left.
    pub left: Arc<PromptRun>,
    /// The answer shown as B, on the right.
    pub right: Arc<PromptRun>,
}

impl BlindPair {
    /// The updates that store `choice` as a vote on both runs, cast `at`.
    pub fn vote(&self, choice: Choice, at: &Timestamp) -> [(String, PromptRunUpdate); 2] {
        let for_left = match choice {
            Choice::A => Vote::Win,
            Choice::B => Vote::Loss,
            Choice::Tie => Vote::Tie,
        };
        vote_updates(&self.left, &self.right, for_left, at)
    }
}

/// The pairs of models `first` and `second` (positions in the experiment's
/// models) that no person voted on yet: [`answer_pairs`] less those.
pub fn blind_pairs(
    experiment: &Experiment,
    grid: &Grid,
    contestants: (usize, usize),
    seed: u64,
) -> Vec<BlindPair> {
    let mut pairs = answer_pairs(experiment, grid, contestants, seed);
    pairs.retain(|pair| !voted(&pair.left, &pair.right));
    pairs
}

/// Every pair of answers of models `first` and `second` (positions in the
/// experiment's models): for each row both run on and each repeat where
/// both answered, the runs the grid shows, in an order and with sides
/// shuffled by `seed`. What a judge is asked about, people's votes or not.
pub fn answer_pairs(
    experiment: &Experiment,
    grid: &Grid,
    (first, second): (usize, usize),
    seed: u64,
) -> Vec<BlindPair> {
    let mut random = SplitMix64(seed);
    let answered = |row: usize, model: usize, repeat: u32| {
        (grid.run_of(row, model, repeat)).filter(|run| run.status == RunStatus::Success)
    };
    let mut pairs = Vec::new();
    for row in 0..experiment.inputs.rows().len() {
        let models = experiment.models_of_row(row);
        if first == second || !models.contains(&first) || !models.contains(&second) {
            continue;
        }
        for repeat in 0..experiment.repeats {
            let (Some(a), Some(b)) = (answered(row, first, repeat), answered(row, second, repeat))
            else {
                continue;
            };
            let (left, right) = match random.next() & 1 {
                0 => (a.clone(), b.clone()),
                _ => (b.clone(), a.clone()),
            };
            pairs.push(BlindPair {
                row,
                repeat,
                left,
                right,
            });
        }
    }
    // Fisher–Yates: the rows' order is no hint either.
    for at in (1..pairs.len()).rev() {
        let other = (random.next() % (at as u64 + 1)) as usize;
        pairs.swap(at, other);
    }
    pairs
}

/// Steele, Lea and Flood's SplitMix64: small, fast, and good enough to
/// shuffle a few hundred pairs (no cryptographic claim is made).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_gives_its_published_first_values() {
        // The reference implementation's output from seed 1234567
        // (https://prng.di.unimi.it/splitmix64.c), as quoted by many ports.
        let mut random = SplitMix64(1_234_567);
        assert_eq!(random.next(), 6_457_827_717_110_365_317);
        assert_eq!(random.next(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn keys_choose() {
        assert_eq!(Choice::of_key("1"), Some(Choice::A));
        assert_eq!(Choice::of_key("2"), Some(Choice::B));
        assert_eq!(Choice::of_key("3"), Some(Choice::Tie));
        assert_eq!(Choice::of_key("4"), None);
    }
}
