//! Win rates of a blind A/B comparison, and how sure they are: wins, losses
//! and ties of one contestant (a model, or a prompt version) against
//! another, its win rate, and a 95% Wilson score interval around it.
//!
//! A tie counts half a win and half a loss (the usual convention of
//! pairwise preference tallies, e.g. Chatbot Arena's win rates), so the
//! win rate is `(wins + ties / 2) / votes`, and two contestants' rates add
//! up to 1. The interval is Wilson's (1927), as Newcombe (1998) recommends
//! over the textbook `p ± z·√(p(1−p)/n)`, which collapses to a point at 0 or
//! n wins and strays outside 0–1 on small samples, the usual case of a
//! person voting on a few dozen pairs.

/// The normal quantile of a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// One vote on a pair of answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vote {
    /// The contestant won.
    Win,
    /// The other one won.
    Loss,
    /// Neither.
    Tie,
}

/// One contestant's votes against another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Votes it won.
    pub wins: usize,
    /// Votes it lost.
    pub losses: usize,
    /// Votes tied.
    pub ties: usize,
}

impl Tally {
    /// Counts one vote.
    pub fn count(&mut self, vote: Vote) {
        match vote {
            Vote::Win => self.wins += 1,
            Vote::Loss => self.losses += 1,
            Vote::Tie => self.ties += 1,
        }
    }

    /// How many votes.
    pub fn votes(&self) -> usize {
        self.wins + self.losses + self.ties
    }

    /// The same votes seen from the other contestant.
    pub fn reversed(&self) -> Tally {
        Tally {
            wins: self.losses,
            losses: self.wins,
            ties: self.ties,
        }
    }

    /// Its win rate (0–1), a tie counting half; `None` before any vote.
    pub fn win_rate(&self) -> Option<f64> {
        let votes = self.votes();
        (votes > 0).then(|| (self.wins as f64 + self.ties as f64 / 2.0) / votes as f64)
    }

    /// The 95% Wilson interval of its win rate; `None` before any vote.
    pub fn interval(&self) -> Option<(f64, f64)> {
        wilson(
            self.wins as f64 + self.ties as f64 / 2.0,
            self.votes() as f64,
            Z_95,
        )
    }
}

/// The Wilson score interval of `successes` out of `trials` at normal
/// quantile `z` (e.g. [`Z_95`]), clamped to 0–1; `None` without trials.
pub fn wilson(successes: f64, trials: f64, z: f64) -> Option<(f64, f64)> {
    if trials <= 0.0 || !trials.is_finite() || !successes.is_finite() {
        return None;
    }
    let share = (successes / trials).clamp(0.0, 1.0);
    let z2 = z * z;
    let denominator = 1.0 + z2 / trials;
    let centre = (share + z2 / (2.0 * trials)) / denominator;
    let half =
        z * (share * (1.0 - share) / trials + z2 / (4.0 * trials * trials)).sqrt() / denominator;
    Some(((centre - half).max(0.0), (centre + half).min(1.0)))
}
