//! Counts and sums over a whole history, kept run by run.

use crate::model::{CostSource, PromptRun, RunStatus, Usd};
use serde::{Deserialize, Serialize};

/// How many runs a history holds, per status, and what they add up to.
///
/// The store keeps one over the runs it holds, adjusted per change. Storage
/// keeps a copy of it beside the runs, so that a large history's first screen
/// can show its counts and totals before the older runs are loaded (see
/// [`RunsStore::history_loading`](super::RunsStore::history_loading)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HistorySummary {
    runs: u64,
    by_status: [u64; 5],
    tokens: u64,
    cost_nanos: i64,
    priced_runs: u64,
    /// Priced runs whose cost is an estimate ([`CostSource::Estimated`]):
    /// kept here so that a total can say "≈" in O(1).
    estimated_costs: u64,
    duration_ms_sum: u64,
    runs_with_duration: u64,
}

impl HistorySummary {
    /// The summary of `runs`.
    pub fn of<'r>(runs: impl IntoIterator<Item = &'r PromptRun>) -> HistorySummary {
        let mut summary = HistorySummary::default();
        for run in runs {
            summary.add(run);
        }
        summary
    }

    /// A summary that knows only how many runs there are (its other
    /// figures are zero): for a history counted but not yet summed.
    pub fn counting(runs: u64) -> HistorySummary {
        HistorySummary {
            runs,
            ..HistorySummary::default()
        }
    }

    /// Number of runs.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Number of runs with `status`.
    pub fn count(&self, status: RunStatus) -> u64 {
        self.by_status[status.index()]
    }

    /// Sum of `totalTokens`; runs without a count add 0.
    pub fn tokens(&self) -> u64 {
        self.tokens
    }

    /// Sum of the known costs, exact to the nanodollar ($0 when none is known).
    pub fn cost(&self) -> Usd {
        Usd::from_nanos(self.cost_nanos)
    }

    /// Number of runs whose cost is known.
    pub fn priced_runs(&self) -> u64 {
        self.priced_runs
    }

    /// Number of runs whose cost is an estimate (a price × tokens): when
    /// any is, the total cost is approximate. Costs recorded before sources
    /// were (older histories) are not counted as estimates.
    pub fn estimated_costs(&self) -> u64 {
        self.estimated_costs
    }

    /// The sum of the known costs, or `None` when no run has one (rather
    /// than claiming the history cost $0).
    pub fn known_cost(&self) -> Option<Usd> {
        (self.priced_runs > 0).then(|| self.cost())
    }

    /// Mean `durationMs` in whole milliseconds (half up) over the runs that
    /// have one; `None` when none does.
    pub fn average_duration_ms(&self) -> Option<u64> {
        super::model_stats::rounded_mean(self.duration_ms_sum, self.runs_with_duration as usize)
    }

    /// Counts `run` in.
    pub fn add(&mut self, run: &PromptRun) {
        self.apply(run, 1);
    }

    /// Counts `run` out (it must have been counted in).
    pub fn subtract(&mut self, run: &PromptRun) {
        self.apply(run, -1);
    }

    /// This summary minus `other`, each figure stopping at zero: what is left
    /// of a stored history once `other`'s runs are loaded. A summary written
    /// before another tab's last save may be off by that save; it never goes
    /// negative, and the loaded runs replace it once all are in.
    pub fn saturating_sub(&self, other: &HistorySummary) -> HistorySummary {
        let mut by_status = self.by_status;
        for (left, taken) in by_status.iter_mut().zip(other.by_status) {
            *left = left.saturating_sub(taken);
        }
        HistorySummary {
            runs: self.runs.saturating_sub(other.runs),
            by_status,
            tokens: self.tokens.saturating_sub(other.tokens),
            cost_nanos: (self.cost_nanos - other.cost_nanos).max(0),
            priced_runs: self.priced_runs.saturating_sub(other.priced_runs),
            estimated_costs: self.estimated_costs.saturating_sub(other.estimated_costs),
            duration_ms_sum: self.duration_ms_sum.saturating_sub(other.duration_ms_sum),
            runs_with_duration: self
                .runs_with_duration
                .saturating_sub(other.runs_with_duration),
        }
    }

    /// Both summaries together.
    pub fn plus(&self, other: &HistorySummary) -> HistorySummary {
        let mut by_status = self.by_status;
        for (sum, more) in by_status.iter_mut().zip(other.by_status) {
            *sum += more;
        }
        HistorySummary {
            runs: self.runs + other.runs,
            by_status,
            tokens: self.tokens + other.tokens,
            cost_nanos: self.cost_nanos + other.cost_nanos,
            priced_runs: self.priced_runs + other.priced_runs,
            estimated_costs: self.estimated_costs + other.estimated_costs,
            duration_ms_sum: self.duration_ms_sum + other.duration_ms_sum,
            runs_with_duration: self.runs_with_duration + other.runs_with_duration,
        }
    }

    fn apply(&mut self, run: &PromptRun, sign: i64) {
        // Wrapping steps: a subtraction always follows the matching addition,
        // so the figures never actually go below zero.
        let step =
            |figure: &mut u64, by: u64| *figure = figure.wrapping_add_signed(sign * by as i64);
        step(&mut self.runs, 1);
        step(&mut self.by_status[run.status.index()], 1);
        step(&mut self.tokens, run.total_tokens.unwrap_or(0));
        if let Some(cost) = run.cost_usd() {
            self.cost_nanos += sign * cost.nanos();
            step(&mut self.priced_runs, 1);
            if run.cost_source() == Some(CostSource::Estimated) {
                step(&mut self.estimated_costs, 1);
            }
        }
        if let Some(duration) = run.duration_ms {
            step(&mut self.duration_ms_sum, duration);
            step(&mut self.runs_with_duration, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        status: RunStatus,
        tokens: Option<u64>,
        cost: Option<f64>,
        ms: Option<u64>,
    ) -> PromptRun {
        let mut run = PromptRun::pending("r", "m", "p");
        run.status = status;
        run.total_tokens = tokens;
        run.cost = cost;
        run.duration_ms = ms;
        run
    }

    #[test]
    fn unknown_figures_stay_unknown_rather_than_zero() {
        let mut summary = HistorySummary::default();
        summary.add(&run(RunStatus::Cancelled, None, None, None));
        assert_eq!(summary.runs(), 1);
        assert_eq!(summary.known_cost(), None);
        assert_eq!(summary.average_duration_ms(), None);
        summary.add(&run(RunStatus::Success, Some(10), Some(0.5), Some(3)));
        summary.add(&run(RunStatus::Success, Some(5), None, Some(4)));
        assert_eq!(summary.count(RunStatus::Success), 2);
        assert_eq!(summary.tokens(), 15);
        assert_eq!(summary.known_cost(), Some(Usd::from_dollars(0.5)));
        assert_eq!(summary.priced_runs(), 1);
        assert_eq!(summary.average_duration_ms(), Some(4), "3.5 rounds half up");
    }

    #[test]
    fn subtracting_what_was_added_gives_back_the_summary() {
        let runs = [
            run(RunStatus::Success, Some(10), Some(0.25), Some(100)),
            run(RunStatus::Error, None, None, Some(7)),
            run(RunStatus::Pending, None, None, None),
        ];
        let whole = HistorySummary::of(&runs);
        let first = HistorySummary::of(&runs[..1]);
        let rest = HistorySummary::of(&runs[1..]);
        assert_eq!(whole.saturating_sub(&first), rest);
        assert_eq!(first.plus(&rest), whole);
        let mut undone = whole;
        undone.subtract(&runs[2]);
        undone.subtract(&runs[1]);
        assert_eq!(undone, first);
    }

    #[test]
    fn a_stale_summary_never_goes_below_zero() {
        let small = HistorySummary::of(&[run(RunStatus::Success, Some(1), Some(0.1), None)]);
        let large = HistorySummary::of(&[
            run(RunStatus::Success, Some(5), Some(1.0), Some(1)),
            run(RunStatus::Error, Some(5), None, None),
        ]);
        assert_eq!(small.saturating_sub(&large), HistorySummary::default());
    }

    #[test]
    fn estimated_costs_are_counted_and_older_costs_without_a_source_are_not() {
        let mut estimated = run(RunStatus::Success, Some(3), Some(0.002), None);
        estimated.metadata = serde_json::json!({"costSource": "estimated"})
            .as_object()
            .cloned();
        let mut reported = estimated.clone();
        reported.metadata = serde_json::json!({"costSource": "reported"})
            .as_object()
            .cloned();
        let older = run(RunStatus::Success, Some(3), Some(0.002), None);
        let mut unpriced = estimated.clone();
        unpriced.cost = None;
        let summary = HistorySummary::of([&estimated, &reported, &older, &unpriced]);
        assert_eq!((summary.priced_runs(), summary.estimated_costs()), (3, 1));
        let mut undone = summary;
        undone.subtract(&estimated);
        assert_eq!(undone.estimated_costs(), 0);
        assert_eq!(
            summary.saturating_sub(&HistorySummary::of([&estimated])),
            undone
        );
        let json = serde_json::to_string(&summary).unwrap();
        assert!(json.contains("\"estimatedCosts\":1"), "{json}");
        assert_eq!(
            serde_json::from_str::<HistorySummary>(&json).unwrap(),
            summary
        );
    }

    #[test]
    fn round_trips_through_json() {
        let summary = HistorySummary::of(&[run(RunStatus::Success, Some(3), Some(0.002), Some(9))]);
        let json = serde_json::to_string(&summary).unwrap();
        assert!(json.contains("\"byStatus\""), "{json}");
        assert_eq!(
            serde_json::from_str::<HistorySummary>(&json).unwrap(),
            summary
        );
        assert_eq!(
            serde_json::from_str::<HistorySummary>("{}").unwrap(),
            HistorySummary::default(),
            "fields added later default to zero"
        );
    }
}
