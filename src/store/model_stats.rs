//! How each model has performed, kept up to date run by run: counts, sums
//! and, for its successful runs, the percentiles of its speed figures.

use super::ranked::Ranked;
use crate::model::{CostSource, PromptRun, RunStatus, Usd};

/// The 50th and 95th percentiles of a figure (nearest rank: each is a
/// value that was recorded).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spread<T> {
    /// Half the runs were at most this.
    pub p50: T,
    /// 95% of the runs were at most this.
    pub p95: T,
}

/// One model's record: counts, averages and percentiles over its successful
/// runs, and what all its runs cost. Adjusted per added or removed run,
/// never by a rescan.
#[derive(Clone, Debug, Default, PartialEq)]
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
    /// Time to first token of its successful runs that recorded one, in ms.
    pub ttft_ms: Option<Spread<u64>>,
    /// Output tokens per second of its successful runs that recorded them.
    pub output_tokens_per_second: Option<Spread<f64>>,
    /// Total latency (`durationMs`) of its successful runs, in ms.
    pub latency_ms: Option<Spread<u64>>,
    priced_runs: usize,
    estimated_costs: usize,
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

    /// What 1,000 runs cost at the mean of its priced runs (to the
    /// nanodollar, half up); `None` when none was priced.
    pub fn cost_per_1k_runs(&self) -> Option<Usd> {
        let priced = self.priced_runs as i64;
        (priced > 0).then(|| {
            let nanos = i128::from(self.total_cost.nanos()) * 1_000;
            Usd::from_nanos(((nanos + i128::from(priced) / 2) / i128::from(priced)) as i64)
        })
    }

    /// How many of its runs have a cost that is an estimate (price × tokens):
    /// when any has, its cost figures are approximate.
    pub fn estimated_costs(&self) -> usize {
        self.estimated_costs
    }

    /// Each model's record over `runs` (any runs: a filtered history),
    /// ordered by model id; built with the same steps as the store's
    /// records, in one pass.
    pub fn of<'r>(runs: impl IntoIterator<Item = &'r PromptRun>) -> Vec<ModelStats> {
        // A list searched from the end rather than a map: a history has a
        // handful of models, and runs of one model come together.
        let mut models: Vec<ModelRecord> = Vec::new();
        for run in runs {
            let held = models
                .iter()
                .rposition(|record| record.stats.model_id == run.model_id);
            let at = held.unwrap_or_else(|| {
                models.push(ModelRecord::new(&run.model_id));
                models.len() - 1
            });
            models[at].add(run);
        }
        let mut stats: Vec<ModelStats> = models.iter().map(ModelRecord::stats).collect();
        // Model ids are unique, so an unstable sort orders them the same (with less code).
        stats.sort_unstable_by(|a, b| a.model_id.cmp(&b.model_id));
        stats
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
            if run.cost_source() == Some(CostSource::Estimated) {
                step(&mut self.estimated_costs);
            }
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

/// A model's counts and sums ([`ModelStats`]) with the figures of its
/// successful runs kept in order ([`Ranked`]), so that its percentiles
/// follow every change. The figures stay here, out of [`ModelStats`]:
/// readers get a copy of the stats, which must not copy every value.
#[derive(Clone, Debug, Default)]
pub(crate) struct ModelRecord {
    stats: ModelStats,
    ttft_ms: Ranked,
    /// Tokens per second as the bits of their `f64`: for numbers ≥ 0 the
    /// bits order as the numbers do, so one integer structure serves all.
    output_tokens_per_second: Ranked,
    latency_ms: Ranked,
}

impl ModelRecord {
    pub(crate) fn new(model_id: &str) -> ModelRecord {
        ModelRecord {
            stats: ModelStats::new(model_id),
            ..ModelRecord::default()
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.stats.is_empty()
    }

    pub(crate) fn add(&mut self, run: &PromptRun) {
        self.stats.add(run);
        self.change_figures(run, Ranked::insert);
    }

    pub(crate) fn subtract(&mut self, run: &PromptRun) {
        self.stats.subtract(run);
        self.change_figures(run, |ranked, value| {
            ranked.remove(value);
        });
    }

    fn change_figures(&mut self, run: &PromptRun, change: impl Fn(&mut Ranked, u64)) {
        if run.status != RunStatus::Success {
            return;
        }
        let metrics = run.metrics();
        if let Some(ttft) = metrics.ttft_ms {
            change(&mut self.ttft_ms, ttft.value);
        }
        if let Some(rate) = metrics.output_tokens_per_second {
            change(&mut self.output_tokens_per_second, rate.value.to_bits());
        }
        if let Some(duration) = run.duration_ms {
            change(&mut self.latency_ms, duration);
        }
    }

    /// The model's record with its current percentiles.
    pub(crate) fn stats(&self) -> ModelStats {
        let spread = |ranked: &Ranked| {
            Some(Spread {
                p50: ranked.percentile(50.0)?,
                p95: ranked.percentile(95.0)?,
            })
        };
        ModelStats {
            ttft_ms: spread(&self.ttft_ms),
            output_tokens_per_second: spread(&self.output_tokens_per_second).map(|bits| Spread {
                p50: f64::from_bits(bits.p50),
                p95: f64::from_bits(bits.p95),
            }),
            latency_ms: spread(&self.latency_ms),
            ..self.stats.clone()
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
