//! A ranking of more than two contestants from pairwise votes: the
//! Bradley–Terry model, fitted by Hunter's (2004) MM algorithm, with 95%
//! intervals from the Fisher information.
//!
//! Bradley–Terry gives each contestant a strength `γ` such that `i` is
//! preferred to `j` with probability `γi / (γi + γj)`; the ranking reports
//! log-strengths `θ = ln γ`, centred so that they average 0. It is chosen
//! over Elo because it uses every vote at once: Elo updates after each vote
//! in turn, so the same votes in another order give another ranking, and a
//! person's session order (shuffled on purpose) should not move the result.
//! Elo is in effect an online approximation of this fit.
//!
//! A tie counts half a win each way, as in [`Tally`](super::Tally). The
//! maximum-likelihood fit does not exist when a contestant won (or lost)
//! everything, which a few dozen votes often produce, so the app adds
//! `prior_ties` virtual ties to every pair that met (a weak pull toward
//! equal strengths, in the spirit of a Bayesian prior); with 0 the fit is
//! the plain MLE, as published worked examples give it.
//!
//! The intervals are `θ ± 1.96 × SE`, the standard errors from the inverse
//! of the Fisher information at the fit (the Moore–Penrose inverse, for the
//! sum-to-zero constraint). They are deterministic, exact for the model,
//! and cost one small matrix inversion, where a bootstrap would refit the
//! model hundreds of times; Agresti (2002, §10.6) and R's `BradleyTerry2`
//! report the same standard errors, which the tests reproduce.
//!
//! Reference: D. R. Hunter, "MM algorithms for generalized Bradley–Terry
//! models", *The Annals of Statistics* 32 (2004) 384–406; A. Agresti,
//! *Categorical Data Analysis*, 2nd ed. (2002), Table 10.11.

use super::win_rate::Z_95;
use thiserror::Error;

/// The MM iterations stop when no log-strength moves more than this.
const TOLERANCE: f64 = 1e-10;

/// And after this many iterations whatever happens (a fit that close to
/// not existing is reported as one).
const MAX_ITERATIONS: usize = 10_000;

/// Why a set of votes gives no ranking.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RankingError {
    /// Fewer than two contestants.
    #[error("a ranking needs at least two contestants")]
    TooFew,
    /// A contestant (a position) that never met the others, directly or
    /// through a common opponent.
    #[error("contestant {} never met the others, directly or through a common opponent", .0 + 1)]
    NotConnected(usize),
    /// Without a prior: a contestant (a position) that won or lost every
    /// vote, or (`None`) a group that won or lost every vote against the rest.
    #[error("{} every vote, so the strengths have no finite estimate", unbounded(*.0))]
    Unbounded(Option<usize>),
    /// A win count that is negative or not a number.
    #[error("the win counts must be finite and not negative")]
    InvalidCounts,
}

/// Who won or lost every vote, for [`RankingError::Unbounded`].
fn unbounded(who: Option<usize>) -> String {
    match who {
        Some(at) => format!("contestant {} won or lost", at + 1),
        None => "a group of contestants won or lost".to_owned(),
    }
}

/// The fitted strengths of some contestants, with their uncertainty.
#[derive(Clone, Debug, PartialEq)]
pub struct BradleyTerry {
    /// Each contestant's log-strength, in the order given, averaging 0.
    pub strengths: Vec<f64>,
    /// The covariance of the log-strengths (sum-to-zero constraint).
    covariance: Vec<Vec<f64>>,
}

impl BradleyTerry {
    /// Fits the model to `wins`, a square matrix where `wins[i][j]` counts
    /// the votes `i` won against `j` (a tie adds 0.5 to both), adding
    /// `prior_ties` virtual ties to every pair that met.
    pub fn fit(wins: &[Vec<f64>], prior_ties: f64) -> Result<BradleyTerry, RankingError> {
        let k = wins.len();
        if k < 2 {
            return Err(RankingError::TooFew);
        }
        let valid = |count: f64| count.is_finite() && count >= 0.0;
        if wins
            .iter()
            .any(|row| row.len() != k || !row.iter().copied().all(valid))
            || !valid(prior_ties)
        {
            return Err(RankingError::InvalidCounts);
        }
        // With the virtual ties added where two contestants met.
        let wins: Vec<Vec<f64>> = (0..k)
            .map(|i| {
                (0..k)
                    .map(|j| {
                        let met = i != j && wins[i][j] + wins[j][i] > 0.0;
                        if met {
                            wins[i][j] + prior_ties / 2.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect();
        let games = |i: usize, j: usize| wins[i][j] + wins[j][i];
        if let Some(alone) = unreachable(k, |i, j| games(i, j) > 0.0) {
            return Err(RankingError::NotConnected(alone));
        }
        let won: Vec<f64> = wins.iter().map(|row| row.iter().sum()).collect();
        let lost: Vec<f64> = (0..k).map(|j| (0..k).map(|i| wins[i][j]).sum()).collect();
        if let Some(sweeping) = (0..k).find(|&i| won[i] == 0.0 || lost[i] == 0.0) {
            return Err(RankingError::Unbounded(Some(sweeping)));
        }
        // The MLE exists when every contestant can be reached from every
        // other through wins (Hunter 2004, Assumption 1), in both directions.
        let beaten = unreachable(k, |i, j| wins[i][j] > 0.0);
        let beating = unreachable(k, |i, j| wins[j][i] > 0.0);
        if beaten.or(beating).is_some() {
            return Err(RankingError::Unbounded(None));
        }
        let mut gamma = vec![1.0; k];
        for _ in 0..MAX_ITERATIONS {
            let mut next: Vec<f64> = (0..k)
                .map(|i| {
                    let denominator: f64 = (0..k)
                        .filter(|&j| j != i)
                        .map(|j| games(i, j) / (gamma[i] + gamma[j]))
                        .sum();
                    won[i] / denominator
                })
                .collect();
            // Only ratios matter: scaled to a geometric mean of 1.
            let centre = next.iter().map(|g| g.ln()).sum::<f64>() / k as f64;
            for g in &mut next {
                *g /= centre.exp();
            }
            let moved = (gamma.iter().zip(&next))
                .map(|(old, new)| (new.ln() - old.ln()).abs())
                .fold(0.0, f64::max);
            gamma = next;
            if moved < TOLERANCE {
                break;
            }
        }
        let strengths: Vec<f64> = gamma.iter().map(|g| g.ln()).collect();
        // The Fisher information of θ: a weighted graph Laplacian, whose
        // null space is the all-ones vector. Its Moore–Penrose inverse is
        // (L + J/k)⁻¹ − J/k for a connected graph.
        let mut information = vec![vec![0.0; k]; k];
        for i in 0..k {
            for j in (0..k).filter(|&j| j != i) {
                let p = gamma[i] / (gamma[i] + gamma[j]);
                let weight = games(i, j) * p * (1.0 - p);
                information[i][j] -= weight;
                information[i][i] += weight;
            }
        }
        let shift = 1.0 / k as f64;
        for row in &mut information {
            for cell in row.iter_mut() {
                *cell += shift;
            }
        }
        // Connected, so the shifted information is invertible; a matrix
        // too ill-conditioned to invert reads as a fit that does not exist.
        let mut covariance = invert(information).ok_or(RankingError::Unbounded(None))?;
        for row in &mut covariance {
            for cell in row.iter_mut() {
                *cell -= shift;
            }
        }
        Ok(BradleyTerry {
            strengths,
            covariance,
        })
    }

    /// The standard error of contestant `i`'s log-strength (as centred).
    pub fn standard_error(&self, i: usize) -> f64 {
        self.covariance[i][i].max(0.0).sqrt()
    }

    /// The standard error of the difference of two log-strengths: that of
    /// `i`'s estimate when `reference` is fixed at 0, as Agresti reports them.
    pub fn difference_error(&self, i: usize, reference: usize) -> f64 {
        let c = &self.covariance;
        (c[i][i] + c[reference][reference] - 2.0 * c[i][reference])
            .max(0.0)
            .sqrt()
    }

    /// The 95% interval of contestant `i`'s log-strength.
    pub fn interval(&self, i: usize) -> (f64, f64) {
        let half = Z_95 * self.standard_error(i);
        (self.strengths[i] - half, self.strengths[i] + half)
    }

    /// The probability the model gives `i` of being preferred to `j`.
    pub fn preference(&self, i: usize, j: usize) -> f64 {
        1.0 / (1.0 + (self.strengths[j] - self.strengths[i]).exp())
    }

    /// The contestants' positions, strongest first (ties in the order given).
    pub fn order(&self) -> Vec<usize> {
        // An insertion sort: a ranking has a handful of contestants, and a
        // library sort instantiated here costs the page kilobytes.
        let mut order: Vec<usize> = (0..self.strengths.len()).collect();
        for next in 1..order.len() {
            let mut at = next;
            while at > 0 && self.strengths[order[at - 1]] < self.strengths[order[at]] {
                order.swap(at - 1, at);
                at -= 1;
            }
        }
        order
    }
}

/// A node that node 0 cannot reach along `edge(from, to)`, if any.
fn unreachable(k: usize, edge: impl Fn(usize, usize) -> bool) -> Option<usize> {
    let mut reached = vec![false; k];
    reached[0] = true;
    let mut stack = vec![0];
    while let Some(from) = stack.pop() {
        for (to, reached) in reached.iter_mut().enumerate() {
            if !*reached && edge(from, to) {
                *reached = true;
                stack.push(to);
            }
        }
    }
    reached.iter().position(|reached| !reached)
}

/// The inverse of a square matrix by Gauss–Jordan elimination with partial
/// pivoting; `None` when it is singular.
fn invert(mut matrix: Vec<Vec<f64>>) -> Option<Vec<Vec<f64>>> {
    let k = matrix.len();
    let mut inverse: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for column in 0..k {
        let pivot = (column..k)
            .max_by(|&a, &b| matrix[a][column].abs().total_cmp(&matrix[b][column].abs()))?;
        if matrix[pivot][column].abs() < 1e-12 {
            return None;
        }
        matrix.swap(column, pivot);
        inverse.swap(column, pivot);
        let scale = matrix[column][column];
        for j in 0..k {
            matrix[column][j] /= scale;
            inverse[column][j] /= scale;
        }
        for row in (0..k).filter(|&row| row != column) {
            let factor = matrix[row][column];
            if factor != 0.0 {
                for j in 0..k {
                    matrix[row][j] -= factor * matrix[column][j];
                    inverse[row][j] -= factor * inverse[column][j];
                }
            }
        }
    }
    Some(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Agresti (2002), Table 10.10: the 1987 American League East, wins of
    /// the row's team against the column's (13 games a pair), in the order
    /// Milwaukee, Detroit, Toronto, New York, Boston, Cleveland, Baltimore.
    fn baseball() -> Vec<Vec<f64>> {
        [
            [0, 7, 9, 7, 7, 9, 11],
            [6, 0, 7, 5, 11, 9, 9],
            [4, 6, 0, 7, 7, 8, 12],
            [6, 8, 6, 0, 6, 7, 10],
            [6, 2, 6, 7, 0, 7, 12],
            [4, 4, 5, 6, 6, 0, 6],
            [2, 4, 1, 3, 1, 7, 0],
        ]
        .iter()
        .map(|row| row.iter().map(|&wins| f64::from(wins)).collect())
        .collect()
    }

    #[test]
    fn agresti_baseball_estimates_and_standard_errors() {
        let fit = BradleyTerry::fit(&baseball(), 0.0).unwrap();
        // Table 10.11: log-strengths relative to Baltimore's, to 2 places.
        let relative: Vec<f64> = (0..7)
            .map(|team| {
                let value = fit.strengths[team] - fit.strengths[6];
                (value * 100.0).round() / 100.0
            })
            .collect();
        assert_eq!(relative, [1.58, 1.44, 1.29, 1.25, 1.11, 0.68, 0.0]);
        // "The standard errors are about 0.3" (relative to Baltimore).
        for team in 0..6 {
            let error = fit.difference_error(team, 6);
            assert!((error - 0.3).abs() < 0.05, "team {team}: {error}");
        }
        assert_eq!(fit.order(), [0, 1, 2, 3, 4, 5, 6]);
        let mean = fit.strengths.iter().sum::<f64>() / 7.0;
        assert!(mean.abs() < 1e-9, "centred");
        let (low, high) = fit.interval(0);
        assert!(low < fit.strengths[0] && fit.strengths[0] < high);
    }

    #[test]
    fn two_contestants_match_the_win_share_by_hand() {
        // 3 wins to 1: p = γ1/(γ1+γ2) = 3/4, so θ1 − θ2 = ln 3. The
        // information is n·p(1−p) = 4·3/16 = 3/4, so the difference's
        // variance is 4/3, and each centred θ has a quarter of it.
        let fit = BradleyTerry::fit(&[vec![0.0, 3.0], vec![1.0, 0.0]], 0.0).unwrap();
        assert!((fit.strengths[0] - fit.strengths[1] - 3f64.ln()).abs() < 1e-9);
        assert!((fit.preference(0, 1) - 0.75).abs() < 1e-9);
        assert!((fit.difference_error(0, 1) - (4.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert!((fit.standard_error(0) - (1.0f64 / 3.0).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn a_clean_sweep_needs_the_prior_and_stays_finite_with_it() {
        let sweep = [
            vec![0.0, 2.0, 2.0],
            vec![0.0, 0.0, 1.0],
            vec![0.0, 1.0, 0.0],
        ];
        assert_eq!(
            BradleyTerry::fit(&sweep, 0.0),
            Err(RankingError::Unbounded(Some(0)))
        );
        let fit = BradleyTerry::fit(&sweep, 1.0).unwrap();
        assert_eq!(fit.order()[0], 0);
        assert!(fit.strengths.iter().all(|s| s.is_finite()));
        // 1 and 2 beat each other once and lost to 0 alike: equally strong.
        assert!((fit.strengths[1] - fit.strengths[2]).abs() < 1e-9);
    }

    #[test]
    fn contestants_that_never_met_are_refused() {
        let apart = [
            vec![0.0, 1.0, 0.0],
            vec![1.0, 0.0, 0.0],
            vec![0.0, 0.0, 0.0],
        ];
        assert_eq!(
            BradleyTerry::fit(&apart, 1.0),
            Err(RankingError::NotConnected(2))
        );
        assert_eq!(
            BradleyTerry::fit(&[vec![0.0]], 1.0),
            Err(RankingError::TooFew)
        );
        // Each won and lost, but {0, 1} never lost to {2, 3}.
        let groups = [
            vec![0.0, 1.0, 1.0, 1.0],
            vec![1.0, 0.0, 1.0, 1.0],
            vec![0.0, 0.0, 0.0, 1.0],
            vec![0.0, 0.0, 1.0, 0.0],
        ];
        assert_eq!(
            BradleyTerry::fit(&groups, 0.0),
            Err(RankingError::Unbounded(None))
        );
        assert!(BradleyTerry::fit(&groups, 1.0).is_ok());
        assert_eq!(
            BradleyTerry::fit(&[vec![0.0, -1.0], vec![1.0, 0.0]], 0.0),
            Err(RankingError::InvalidCounts)
        );
    }
}
