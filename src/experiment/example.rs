//! The example the Experiments page opens on when there is no experiment
//! yet: small enough to run at once on the gateway's offline demo model
//! (nothing leaves the machine), with a check, so that a person sees the plan, the
//! grid and its checks before writing their own.

use super::checks::Check;
use super::definition::Experiment;
use super::inputs::{InputFormat, InputTable};

/// The example's id: fixed, so that the example made again (once every
/// experiment was deleted) finds its earlier runs. It sorts after the ids of
/// experiments made in the app (`exp-` and the time in hex digits), so a page
/// that opens the first experiment opens a person's own before the example.
pub const EXAMPLE_ID: &str = "exp-example-capitals";

/// "Capitals": the capital of three countries, asked of `offline-echo`,
/// each answer checked to contain "capital" (the demo model reflects the
/// prompt back, so it passes; a real model's sentence passes too).
pub fn example() -> Experiment {
    let mut experiment = Experiment::new(EXAMPLE_ID, "Capitals");
    experiment.template = "What is the capital of {{country}}? Answer in one sentence.".into();
    // Valid CSV (the test below reads it): no error's Debug text in the
    // bundle for a panic that cannot happen.
    experiment.inputs =
        InputTable::parse(b"country\nFrance\nJapan\nKenya\n", InputFormat::Csv).unwrap_or_default();
    experiment.models = vec!["offline-echo".into()];
    experiment.checks = vec![Check::Contains {
        text: "capital".into(),
        case_sensitive: false,
    }];
    experiment
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::plan;
    use crate::model::{Model, Provider};

    #[test]
    fn the_example_runs_three_requests_on_the_offline_model() {
        let offline = Model {
            id: "offline-echo".into(),
            name: "Offline demo (no network)".into(),
            provider: Provider::Local,
            max_tokens: 4_096,
            supports_streaming: true,
            cost_per_1k_tokens: None,
            metadata: None,
        };
        let planned = plan(&example(), &[offline]).expect("the example can run as it is");
        assert_eq!(planned.cells.len(), 3);
        assert_eq!(
            &*planned.cells[2].prompt,
            "What is the capital of Kenya? Answer in one sentence."
        );
    }
}
