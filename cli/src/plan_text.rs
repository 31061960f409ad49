//! The plan as printed before anything is sent: what runs, what it should
//! cost and what that assumes, the budget, the gateway's rate limit, what
//! the cache answers; and the question asked when the estimate passes the
//! budget. The figures are the library's (the app's plan shows the same).

use prompt_runs::experiment::{AnswerLength, Confirmation, CostEstimate, Experiment, Pace};
use prompt_runs::model::Usd;
use prompt_runs::text::thousands;
use std::time::Duration;

/// What the plan says.
pub struct PlanFigures<'a> {
    /// The experiment.
    pub experiment: &'a Experiment,
    /// The cells the plan has.
    pub cells: usize,
    /// Those the cache answers.
    pub cached: usize,
    /// The estimate of those to send.
    pub estimate: &'a CostEstimate,
    /// What the experiment's runs have cost so far (those in the file).
    pub spent: Usd,
    /// How the requests to send meet the gateway's rate limit; `None`
    /// straight to the providers (`--providers`), where each provider's own
    /// limits hold.
    pub pace: Option<Pace>,
}

/// `count` `thing`s: `1 request`, `2,000 requests`.
pub fn count(count: usize, thing: &str) -> String {
    let plural = if count == 1 { "" } else { "s" };
    format!("{} {thing}{plural}", thousands(count as u64))
}

/// The plan, a few lines.
pub fn plan_text(figures: &PlanFigures) -> String {
    let experiment = figures.experiment;
    let rows = experiment.inputs.rows().len();
    let mut text = format!(
        "{} ({}): {} × {} × {} = {}\n",
        if experiment.name.is_empty() {
            "an experiment"
        } else {
            &experiment.name
        },
        experiment.id,
        count(rows, "row"),
        count(experiment.models.len(), "model"),
        count(experiment.repeats as usize, "repeat"),
        count(figures.cells, "request"),
    );
    let to_send = figures.cells - figures.cached;
    if figures.cached > 0 {
        text += &format!(
            "  {} answered from the cache; {} to send\n",
            count(figures.cached, "request"),
            thousands(to_send as u64)
        );
    }
    for model in figures
        .estimate
        .per_model
        .iter()
        .filter(|model| model.requests > 0)
    {
        let cost = match model.cost {
            Some(cost) if model.priced => format!("about {cost}"),
            Some(_) => "not priced (a local model)".to_owned(),
            None => "not priced: its cost is not known".to_owned(),
        };
        text += &format!(
            "  {}: {}, {cost}, assuming answers of {}\n",
            model.model_id,
            count(model.requests, "request"),
            answer_length(&model.answer),
        );
    }
    if to_send > 0 {
        let total = match figures.estimate.total() {
            Some(total) => format!("about {total}"),
            None => format!(
                "at least {} (some models are not priced)",
                figures.estimate.known()
            ),
        };
        text += &format!("  Estimated cost: {total}\n");
    }
    match experiment.budget {
        Some(budget) => {
            text += &format!("  Budget: {budget} ({} spent so far)\n", figures.spent);
        }
        None => text += "  No budget: nothing stops the sending but the plan's end\n",
    }
    if to_send > 0 {
        text += &format!("  {}\n", pace_text(figures.pace, to_send));
    }
    text
}

/// The answer length an estimate assumes, and where it comes from.
fn answer_length(answer: &AnswerLength) -> String {
    let tokens = thousands(answer.tokens());
    match answer {
        AnswerLength::MaxTokens(_) => format!("{tokens} tokens (max tokens)"),
        AnswerLength::Recent { answers, .. } => {
            format!("{tokens} tokens (the median of its last {answers} answers)")
        }
        AnswerLength::Default => format!("{tokens} tokens (no max tokens set)"),
    }
}

fn pace_text(pace: Option<Pace>, requests: usize) -> String {
    let Some(pace) = pace else {
        return "Straight to the providers: each keeps to its own limits (max_concurrent, requests_per_minute in the providers file).".to_owned();
    };
    match pace {
        Pace::Unknown => "Nothing is known of this gateway's rate limit.".to_owned(),
        Pace::Unlimited => "This gateway has no rate limit.".to_owned(),
        Pace::Within { per_minute } => format!(
            "Within this gateway's rate limit ({} a minute).",
            thousands(u64::from(per_minute))
        ),
        Pace::Paced {
            per_minute,
            burst,
            at_least,
        } => format!(
            "{} is more than this gateway lets through at once ({}, then {} a minute): they wait for its rate limit and take at least {}.",
            count(requests, "request"),
            thousands(u64::from(burst)),
            thousands(u64::from(per_minute)),
            duration(at_least)
        ),
    }
}

/// A duration as a person reads it: `45 s`, `2 min 20 s`, `1 h 5 min`.
pub fn duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3_600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3_600, seconds % 3_600 / 60),
    }
}

/// Why the plan asks before sending.
pub fn confirmation_text(confirmation: &Confirmation) -> String {
    match confirmation {
        Confirmation::OverBudget { expected, budget } => format!(
            "The estimate ({expected} with what was spent) passes the budget of {budget}: the sending stops once the budget is reached."
        ),
        Confirmation::PartlyUnknown {
            budget,
            unpriced_models,
            ..
        } => format!(
            "{} not priced, so the budget of {budget} cannot know what {} cost: {}.",
            if unpriced_models.len() == 1 { "A model is" } else { "Some models are" },
            if unpriced_models.len() == 1 { "its answers" } else { "their answers" },
            unpriced_models.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_read_as_a_person_writes_them() {
        assert_eq!(count(1, "request"), "1 request");
        assert_eq!(count(2_000, "request"), "2,000 requests");
        assert_eq!(duration(Duration::from_secs(45)), "45 s");
        assert_eq!(duration(Duration::from_secs(140)), "2 min 20 s");
        assert_eq!(duration(Duration::from_secs(3_900)), "1 h 5 min");
    }
}
