//! What an experiment's requests should cost, what that assumes, and the
//! budget that bounds what is sent.
//!
//! An estimate is prompt tokens (counted roughly, [`estimate_tokens`](crate::text::estimate_tokens))
//! plus an assumed answer length, priced at the model's known price. The
//! answer length is the one assumption that moves an estimate most, so each
//! model's says where it comes from ([`AnswerLength`]).
//!
//! The budget holds by reserving: a request is sent only when what was
//! spent, plus the estimates of the requests in flight, plus its own
//! estimate stays within the budget; when it lands, its estimate is
//! released and its actual cost spent ([`Budget`]). So a budget is passed
//! only by what answers cost beyond their estimates.

use super::cell::PlannedCell;
use super::checks::judge_checks;
use super::definition::Experiment;
use super::judge::{rubric_tokens, JUDGE_MAX_TOKENS};
use crate::api::wire::ServerLimits;
use crate::model::{percentile, Model, Usd};
use std::time::Duration;

/// The answer length, in tokens, a cost estimate assumes when the
/// experiment sets no `max_tokens` and the model has answered nothing yet:
/// a few paragraphs.
pub const ASSUMED_OUTPUT_TOKENS: u64 = 500;

/// How many of a model's latest successful answers its assumed answer
/// length is the median of.
pub const RECENT_ANSWERS: usize = 20;

/// The answer length an estimate assumes for one model, and where it
/// comes from, so that the plan can say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnswerLength {
    /// The experiment's `max_tokens`: every answer is assumed to use all of
    /// it, an upper bound.
    MaxTokens(u32),
    /// The median output tokens of the model's latest successful answers.
    Recent {
        /// The median.
        tokens: u64,
        /// How many answers it is the median of (at most [`RECENT_ANSWERS`]).
        answers: usize,
    },
    /// Nothing known: [`ASSUMED_OUTPUT_TOKENS`].
    Default,
}

impl AnswerLength {
    /// The length to assume: `max_tokens` when set; else the median (nearest
    /// rank) of `recent`, the output tokens of the model's latest successful
    /// answers, newest first (the first [`RECENT_ANSWERS`] of them); else
    /// [`ASSUMED_OUTPUT_TOKENS`].
    pub fn of(max_tokens: Option<u32>, recent: &[u64]) -> AnswerLength {
        if let Some(max_tokens) = max_tokens {
            return AnswerLength::MaxTokens(max_tokens);
        }
        let mut latest = recent[..recent.len().min(RECENT_ANSWERS)].to_vec();
        match percentile(&mut latest, 50.0) {
            Some(tokens) => AnswerLength::Recent {
                tokens,
                answers: latest.len(),
            },
            None => AnswerLength::Default,
        }
    }

    /// The tokens assumed per answer.
    pub fn tokens(&self) -> u64 {
        match *self {
            AnswerLength::MaxTokens(tokens) => u64::from(tokens),
            AnswerLength::Recent { tokens, .. } => tokens,
            AnswerLength::Default => ASSUMED_OUTPUT_TOKENS,
        }
    }
}

/// What a set of requests should cost, model by model, and the judge calls
/// of its model-graded checks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostEstimate {
    /// One entry per model, in the experiment's order.
    pub per_model: Vec<ModelEstimate>,
    /// One entry per model-graded check, in the checks' order
    /// ([`judge_checks`]): at most one judge call per answer and check (fewer
    /// when a request's verdict is in the history already, or an answer
    /// fails), each prompt the rubric, the row and the answer at its assumed
    /// length, each verdict at most [`JUDGE_MAX_TOKENS`].
    pub judges: Vec<ModelEstimate>,
}

/// What one model's share of the requests should cost.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEstimate {
    /// The model.
    pub model_id: String,
    /// How many requests go to it.
    pub requests: usize,
    /// Estimated prompt tokens, all requests together.
    pub input_tokens: u64,
    /// Assumed answer tokens, all requests together.
    pub output_tokens: u64,
    /// The answer length assumed for each request, and why.
    pub answer: AnswerLength,
    /// The price per 1,000 tokens the estimate uses
    /// ([`Model::known_price_per_1k`]: $0 for a local model without one), or
    /// `None` when the model has none.
    pub price_per_1k: Option<f64>,
    /// Whether that price is the model's own (`costPer1kTokens`), rather
    /// than a local model's $0: "not priced" either way when it is not.
    pub priced: bool,
    /// The sum of its requests' estimates ([`ModelEstimate::request_cost`]),
    /// or `None` when the model has no price.
    pub cost: Option<Usd>,
}

impl ModelEstimate {
    /// Counts one more request of `prompt_tokens` prompt tokens.
    fn count(&mut self, prompt_tokens: u64) {
        self.requests += 1;
        self.input_tokens += prompt_tokens;
        self.output_tokens += self.answer.tokens();
        let request = self.request_cost(prompt_tokens);
        if let (Some(cost), Some(request)) = (&mut self.cost, request) {
            *cost += request;
        }
    }

    /// The estimate of one request with `prompt_tokens` prompt tokens: the
    /// rule every figure of an estimate and every reservation of a budget
    /// uses. `None` without a price.
    pub fn request_cost(&self, prompt_tokens: u64) -> Option<Usd> {
        Some(Usd::for_tokens(
            self.price_per_1k?,
            prompt_tokens + self.answer.tokens(),
        ))
    }
}

impl CostEstimate {
    /// The estimated cost of `cells` of `experiment`, each model priced with
    /// its known price from `prices` ([`Model::known_price_per_1k`]: a local
    /// model costs $0; a model not listed, or listed without a price, has no
    /// estimate), each answer assumed as long as [`AnswerLength::of`] says
    /// from the experiment's `max_tokens` and `recent(model_id)`.
    pub fn of<'a>(
        cells: impl IntoIterator<Item = &'a PlannedCell>,
        experiment: &Experiment,
        prices: &[Model],
        recent: &dyn Fn(&str) -> Vec<u64>,
    ) -> CostEstimate {
        let max_tokens = experiment.parameters.max_tokens;
        let entry = |model_id: &str, answer: AnswerLength| {
            let model = prices.iter().find(|model| model.id == model_id);
            let price_per_1k = model.and_then(Model::known_price_per_1k);
            ModelEstimate {
                model_id: model_id.to_owned(),
                requests: 0,
                input_tokens: 0,
                output_tokens: 0,
                answer,
                price_per_1k,
                priced: model.is_some_and(|model| model.cost_per_1k_tokens.is_some()),
                cost: price_per_1k.map(|_| Usd::ZERO),
            }
        };
        let mut per_model: Vec<ModelEstimate> = (experiment.models.iter())
            .map(|model_id| {
                // Asked only when no max tokens are set.
                let answer = match max_tokens {
                    Some(tokens) => AnswerLength::MaxTokens(tokens),
                    None => AnswerLength::of(None, &recent(model_id)),
                };
                entry(model_id, answer)
            })
            .collect();
        let mut judges: Vec<(u64, ModelEstimate)> = judge_checks(&experiment.checks)
            .map(|(_, judge)| {
                let answer = AnswerLength::MaxTokens(JUDGE_MAX_TOKENS);
                (rubric_tokens(judge), entry(&judge.judge, answer))
            })
            .collect();
        for cell in cells {
            if let Some(estimate) = per_model.get_mut(cell.model) {
                estimate.count(cell.prompt_tokens);
                let answer_tokens = estimate.answer.tokens();
                for (rubric, judge) in &mut judges {
                    judge.count(*rubric + cell.prompt_tokens + answer_tokens);
                }
            }
        }
        CostEstimate {
            per_model,
            judges: judges.into_iter().map(|(_, judge)| judge).collect(),
        }
    }

    /// Every entry: the models', then the judges'.
    pub fn all(&self) -> impl Iterator<Item = &ModelEstimate> {
        self.per_model.iter().chain(&self.judges)
    }

    /// How many judge calls at most.
    pub fn judge_calls(&self) -> usize {
        self.judges.iter().map(|judge| judge.requests).sum()
    }

    /// The estimate of one `cell` (as its model's entry prices it), `None`
    /// when its model has no price.
    pub fn of_cell(&self, cell: &PlannedCell) -> Option<Usd> {
        self.per_model
            .get(cell.model)?
            .request_cost(cell.prompt_tokens)
    }

    /// The sum of the estimates that are known, judge calls included.
    pub fn known(&self) -> Usd {
        self.all().filter_map(|model| model.cost).sum()
    }

    /// The whole estimate, or `None` when some model with requests has no price.
    pub fn total(&self) -> Option<Usd> {
        self.unpriced_models().is_empty().then(|| self.known())
    }

    /// The models (judges included) with requests but no price, whose cost
    /// is unknown; each once.
    pub fn unpriced_models(&self) -> Vec<&str> {
        let mut unpriced: Vec<&str> = Vec::new();
        for model in self.all() {
            if model.requests > 0 && model.cost.is_none() && !unpriced.contains(&&*model.model_id) {
                unpriced.push(&model.model_id);
            }
        }
        unpriced
    }
}

/// How a number of requests meets a server's rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// The server's limits are not known (it does not say them).
    Unknown,
    /// The server has no rate limit.
    Unlimited,
    /// Within the server's burst: no waiting for its rate limit.
    Within {
        /// Its requests per minute.
        per_minute: u32,
    },
    /// More than its burst: the rest go at its pace, so sending them all
    /// takes at least `at_least`.
    Paced {
        /// Its requests per minute.
        per_minute: u32,
        /// What it lets through at once.
        burst: u32,
        /// The least time the whole takes at that pace.
        at_least: Duration,
    },
}

impl Pace {
    /// How `requests` requests meet `limits` (`None`: not known). The
    /// server's other clients, and its other limits, can only make it slower.
    pub fn of(requests: usize, limits: Option<ServerLimits>) -> Pace {
        let Some(limits) = limits else {
            return Pace::Unknown;
        };
        let Some(per_minute) = limits.requests_per_minute.filter(|rate| *rate > 0) else {
            return Pace::Unlimited;
        };
        let burst = limits.burst.unwrap_or(0);
        let beyond = (requests as u64).saturating_sub(u64::from(burst));
        if beyond == 0 {
            return Pace::Within { per_minute };
        }
        Pace::Paced {
            per_minute,
            burst,
            at_least: Duration::from_millis(beyond * 60_000 / u64::from(per_minute)),
        }
    }
}

/// How long answering `estimate`'s requests takes, `at_once` at a time, at
/// each model's median latency (`p50_ms(model_id)`, from its earlier runs):
/// the sum of their latencies spread over the requests in flight. `None`
/// when a model with requests has answered nothing yet. The server's rate
/// limit can only add to it ([`Pace`]).
pub fn answering_time(
    estimate: &CostEstimate,
    p50_ms: &dyn Fn(&str) -> Option<u64>,
    at_once: usize,
) -> Option<Duration> {
    let mut total_ms = 0u64;
    for model in estimate.per_model.iter().filter(|model| model.requests > 0) {
        total_ms += p50_ms(&model.model_id)? * model.requests as u64;
    }
    Some(Duration::from_millis(total_ms / at_once.max(1) as u64))
}

/// Why a plan should be confirmed before it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// What has been spent plus the estimate exceeds the budget.
    OverBudget {
        /// Spent so far plus the known estimate.
        expected: Usd,
        /// The budget.
        budget: Usd,
    },
    /// Within the budget as far as known, but some models have no price:
    /// their cost is not in the estimate.
    PartlyUnknown {
        /// Spent so far plus the known estimate.
        expected: Usd,
        /// The budget.
        budget: Usd,
        /// The models without a price.
        unpriced_models: Vec<String>,
    },
}

/// An experiment's spending against its budget, as requests are sent and
/// answered.
///
/// A request is sent only when [`Budget::reserve`] takes its estimate:
/// spent, plus what the requests in flight reserved, plus its estimate, stays
/// within the limit. When it lands [`Budget::settle`] releases its
/// reservation and spends its actual cost. So the total passes the limit
/// only by what answers cost beyond their estimates. A request of a model
/// without a price reserves nothing, and adds nothing when its cost is not
/// known either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    limit: Usd,
    spent: Usd,
    reserved: Usd,
}

impl Budget {
    /// A budget of `limit`, nothing spent or reserved yet.
    pub fn new(limit: Usd) -> Budget {
        Budget {
            limit,
            spent: Usd::ZERO,
            reserved: Usd::ZERO,
        }
    }

    /// The budget with `spent` already spent (an experiment resumed).
    pub fn with_spent(self, spent: Usd) -> Budget {
        Budget { spent, ..self }
    }

    /// The limit.
    pub fn limit(&self) -> Usd {
        self.limit
    }

    /// What has been spent.
    pub fn spent(&self) -> Usd {
        self.spent
    }

    /// What the requests in flight reserved.
    pub fn reserved(&self) -> Usd {
        self.reserved
    }

    /// Reserves `estimate` for a request about to be sent, when spent plus
    /// reserved plus it stays within the limit (and the limit is not reached
    /// already); otherwise reserves nothing and says no.
    pub fn reserve(&mut self, estimate: Usd) -> bool {
        let fits = self.may_send() && self.spent + self.reserved + estimate <= self.limit;
        if fits {
            self.reserved += estimate;
        }
        fits
    }

    /// A request that reserved `reserved` landed (answered, failed or
    /// cancelled): its reservation is released and its cost, when known,
    /// spent.
    pub fn settle(&mut self, reserved: Usd, cost: Option<Usd>) {
        self.reserved = Usd::from_nanos((self.reserved.nanos() - reserved.nanos()).max(0));
        self.spent += cost.unwrap_or(Usd::ZERO);
    }

    /// Counts a finished run's cost, when known, with no reservation.
    pub fn record(&mut self, cost: Option<Usd>) {
        self.settle(Usd::ZERO, cost);
    }

    /// Whether anything more may be sent: spent and reserved are under the limit.
    pub fn may_send(&self) -> bool {
        self.spent + self.reserved < self.limit
    }

    /// Whether sending `estimate` should be confirmed first, and why.
    pub fn confirmation(&self, estimate: &CostEstimate) -> Option<Confirmation> {
        let expected = self.spent + estimate.known();
        let unpriced_models = estimate.unpriced_models();
        if expected > self.limit {
            Some(Confirmation::OverBudget {
                expected,
                budget: self.limit,
            })
        } else if !unpriced_models.is_empty() {
            Some(Confirmation::PartlyUnknown {
                expected,
                budget: self.limit,
                unpriced_models: unpriced_models.into_iter().map(str::to_owned).collect(),
            })
        } else {
            None
        }
    }
}
