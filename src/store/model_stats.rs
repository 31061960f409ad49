//! How each model has performed, kept up to date run by run.

use crate::model::{PromptRun, RunStatus, Usd};

/// One model's record: counts, averages over its successful runs, and what
/// all its runs cost. Adjusted per added or removed run, never by a rescan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelStats {
    /// The model.
    pub model_id: String,
    /// All its runs, in any status.
    pub runs: usize,
    /// Its runs that finished (success, error or cancelled).
    pub finished_runs: usize,
    /// Its successful runs.
    pub successful_runs: usize,
    /// What all its runs cost, where a cost is known.
    pub total_cost: Usd,
    priced_runs: usize,
    successful_tokens: u64,
    successful_with_tokens: usize,
    successful_duration_ms: u64,
    successful_with_duration: usize,
}

impl ModelStats {
    pub(crate) fn new(model_id: &str) -> ModelStats {
        ModelStats {
            model_id: model_id.to_owned(),
            ..ModelStats::default()
        }
    }

    /// Mean `totalTokens` of its successful runs that report one (whole tokens, half up).
    pub fn average_tokens(&self) -> Option<u64> {
        rounded_mean(self.successful_tokens, self.successful_with_tokens)
    }

    /// Mean `durationMs` of its successful runs that report one (whole ms, half up).
    pub fn average_duration_ms(&self) -> Option<u64> {
        rounded_mean(self.successful_duration_ms, self.successful_with_duration)
    }

    /// What its runs cost, or `None` when none of them had a known price
    /// (rather than claiming they cost $0).
    pub fn known_cost(&self) -> Option<Usd> {
        (self.priced_runs > 0).then_some(self.total_cost)
    }

    /// Successful runs as a share (0–1) of finished runs; `None` before any finished.
    pub fn success_rate(&self) -> Option<f64> {
        (self.finished_runs > 0).then(|| self.successful_runs as f64 / self.finished_runs as f64)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.runs == 0
    }

    pub(crate) fn add(&mut self, run: &PromptRun) {
        self.apply(run, 1);
    }

    pub(crate) fn subtract(&mut self, run: &PromptRun) {
        self.apply(run, -1);
    }

    fn apply(&mut self, run: &PromptRun, sign: i64) {
        let step = |count: &mut usize| *count = count.wrapping_add_signed(sign as isize);
        let step_sum =
            |sum: &mut u64, value: u64| *sum = sum.wrapping_add_signed(sign * value as i64);
        step(&mut self.runs);
        if let Some(cost) = run.cost_usd() {
            step(&mut self.priced_runs);
            self.total_cost += Usd::from_nanos(sign * cost.nanos());
        }
        if run.status.is_finished() {
            step(&mut self.finished_runs);
        }
        if run.status == RunStatus::Success {
            step(&mut self.successful_runs);
            if let Some(tokens) = run.total_tokens {
                step_sum(&mut self.successful_tokens, tokens);
                step(&mut self.successful_with_tokens);
            }
            if let Some(duration) = run.duration_ms {
                step_sum(&mut self.successful_duration_ms, duration);
                step(&mut self.successful_with_duration);
            }
        }
    }
}

/// Mean of `count` values summing to `sum`, rounded half up; `None` for no values.
pub(crate) fn rounded_mean(sum: u64, count: usize) -> Option<u64> {
    let count = count as u64;
    (count > 0).then(|| (sum + count / 2) / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        status: RunStatus,
        tokens: Option<u64>,
        duration: Option<u64>,
        cost: Option<f64>,
    ) -> PromptRun {
        let mut run = PromptRun::pending("r", "m", "p");
        run.status = status;
        run.total_tokens = tokens;
        run.duration_ms = duration;
        run.cost = cost;
        run
    }

    #[test]
    fn averages_successful_runs_and_rates_finished_ones() {
        let mut stats = ModelStats::new("m");
        assert_eq!((stats.average_tokens(), stats.success_rate()), (None, None));
        stats.add(&run(RunStatus::Success, Some(100), Some(1_000), Some(0.01)));
        stats.add(&run(RunStatus::Success, Some(51), None, None));
        stats.add(&run(RunStatus::Error, Some(9_999), Some(9_999), Some(0.02)));
        stats.add(&run(RunStatus::Running, None, None, None));
        assert_eq!(stats.runs, 4);
        assert_eq!(
            stats.average_tokens(),
            Some(76),
            "mean of 100 and 51, half up"
        );
        assert_eq!(stats.average_duration_ms(), Some(1_000));
        assert_eq!(stats.success_rate(), Some(2.0 / 3.0));
        assert_eq!(stats.total_cost.to_string(), "$0.0300");
        assert_eq!(stats.known_cost(), Some(stats.total_cost));
        let mut unpriced = ModelStats::new("free");
        unpriced.add(&run(RunStatus::Success, Some(1), None, None));
        assert_eq!(unpriced.known_cost(), None, "no price is not $0");
        stats.subtract(&run(RunStatus::Error, Some(9_999), Some(9_999), Some(0.02)));
        assert_eq!(stats.success_rate(), Some(1.0));
        assert_eq!(stats.total_cost.to_string(), "$0.0100");
    }
}
