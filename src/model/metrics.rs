//! How fast a run answered, and where its cost comes from: figures kept in
//! the run's `metadata`, so that its JSON keeps its shape both ways (older
//! builds and the TypeScript store carry them along as any other metadata,
//! and runs without them read as "not known").
//!
//! | Key | Value |
//! | --- | --- |
//! | [`METRICS_KEY`] `"metrics"` | `{"ttftMs", "generationMs", "outputTokensPerSecond", "promptTokensPerSecond", "cachedInputTokens", "reasoningTokens", "sources": {"<figure>": "measured" \| "reported"}}`, each figure present only when known |
//! | [`COST_SOURCE_KEY`] `"costSource"` | `"reported"` (the server sent the cost), `"estimated"` (a price × tokens), `"local"` (a model on the user's machine: $0) |
//!
//! - `ttftMs`: time to first token, from the request leaving to the first
//!   streamed text, in whole ms.
//! - `generationMs`: from the first streamed text to the last.
//! - `outputTokensPerSecond`: output tokens after the first (and after any
//!   reasoning tokens, which come before the first text) over `generationMs`.
//! - `promptTokensPerSecond`, `cachedInputTokens`, `reasoningTokens`: as the
//!   server reported them (llama.cpp's `timings`, OpenAI-style usage details).
//!
//! Every figure says where it comes from: `measured` here, with the
//! monotonic clock ([`crate::clock`]), or `reported` by the server. A
//! figure that could not be known (a non-streamed answer has no time to
//! first token) is absent, never 0. A figure without a source, written by
//! something else, reads as `reported`: it was not measured here.

use super::PromptRun;
use serde_json::{Map, Value};

/// The `metadata` key of a run's speed figures (see the module's table).
pub const METRICS_KEY: &str = "metrics";

/// The `metadata` key saying where a run's `cost` comes from (see [`CostSource`]).
pub const COST_SOURCE_KEY: &str = "costSource";

/// Where a figure comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FigureSource {
    /// Measured in this app, with the monotonic clock.
    Measured,
    /// Reported by the server with its answer.
    Reported,
}

impl FigureSource {
    /// `"measured"` or `"reported"`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            FigureSource::Measured => "measured",
            FigureSource::Reported => "reported",
        }
    }
}

/// A figure and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figure<T> {
    /// The value.
    pub value: T,
    /// Measured here or reported by the server.
    pub source: FigureSource,
}

impl<T> Figure<T> {
    /// A figure measured here.
    pub fn measured(value: T) -> Figure<T> {
        Figure {
            value,
            source: FigureSource::Measured,
        }
    }

    /// A figure the server reported.
    pub fn reported(value: T) -> Figure<T> {
        Figure {
            value,
            source: FigureSource::Reported,
        }
    }
}

/// A run's speed figures, each present only when known.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunMetrics {
    /// Time to first token, in ms.
    pub ttft_ms: Option<Figure<u64>>,
    /// From the first streamed text to the last, in ms.
    pub generation_ms: Option<Figure<u64>>,
    /// Output tokens per second, the time to first token excluded.
    pub output_tokens_per_second: Option<Figure<f64>>,
    /// Prompt tokens processed per second (reported by llama.cpp).
    pub prompt_tokens_per_second: Option<Figure<f64>>,
    /// Prompt tokens the server took from its cache.
    pub cached_input_tokens: Option<Figure<u64>>,
    /// Tokens the model spent reasoning (part of the output tokens).
    pub reasoning_tokens: Option<Figure<u64>>,
}

/// JSON names of the figures, in [`RunMetrics`]'s order.
const TTFT: &str = "ttftMs";
const GENERATION: &str = "generationMs";
const OUTPUT_SPEED: &str = "outputTokensPerSecond";
const PROMPT_SPEED: &str = "promptTokensPerSecond";
const CACHED: &str = "cachedInputTokens";
const REASONING: &str = "reasoningTokens";
const SOURCES: &str = "sources";

impl RunMetrics {
    /// True when no figure is known.
    pub fn is_empty(&self) -> bool {
        *self == RunMetrics::default()
    }

    /// The figures read from the JSON stored under [`METRICS_KEY`]; a
    /// figure that is not a number of the right kind (negative, fractional
    /// where whole, not finite) is left out rather than guessed.
    pub fn from_json(json: &Value) -> RunMetrics {
        let sources = json.get(SOURCES);
        let source = |name: &str| match sources.and_then(|s| s.get(name)).and_then(Value::as_str) {
            Some("measured") => FigureSource::Measured,
            _ => FigureSource::Reported,
        };
        let whole = |name: &str| {
            let value = json.get(name)?.as_u64()?;
            Some(Figure {
                value,
                source: source(name),
            })
        };
        let rate = |name: &str| {
            let value = json
                .get(name)?
                .as_f64()
                .filter(|v| v.is_finite() && *v >= 0.0)?;
            Some(Figure {
                value,
                source: source(name),
            })
        };
        RunMetrics {
            ttft_ms: whole(TTFT),
            generation_ms: whole(GENERATION),
            output_tokens_per_second: rate(OUTPUT_SPEED),
            prompt_tokens_per_second: rate(PROMPT_SPEED),
            cached_input_tokens: whole(CACHED),
            reasoning_tokens: whole(REASONING),
        }
    }

    /// The JSON stored under [`METRICS_KEY`]: the known figures, rates to a
    /// hundredth, and a source for each.
    pub fn to_json(&self) -> Value {
        // Built by insert, as the rest of the metadata (no Value serializer
        // in the bundle for this).
        let mut figures = Map::new();
        let mut sources = Map::new();
        let mut put = |name: &str, value: Option<(Value, FigureSource)>| {
            if let Some((value, source)) = value {
                figures.insert(name.to_owned(), value);
                sources.insert(name.to_owned(), source.as_str().into());
            }
        };
        let whole = |figure: Option<Figure<u64>>| figure.map(|f| (f.value.into(), f.source));
        let rate = |figure: Option<Figure<f64>>| {
            figure.map(|f| (((f.value * 100.0).round() / 100.0).into(), f.source))
        };
        put(TTFT, whole(self.ttft_ms));
        put(GENERATION, whole(self.generation_ms));
        put(OUTPUT_SPEED, rate(self.output_tokens_per_second));
        put(PROMPT_SPEED, rate(self.prompt_tokens_per_second));
        put(CACHED, whole(self.cached_input_tokens));
        put(REASONING, whole(self.reasoning_tokens));
        figures.insert(SOURCES.to_owned(), Value::Object(sources));
        Value::Object(figures)
    }
}

/// Where a run's cost comes from. A run with a cost and no source (from an
/// older history) shows its cost as it always did, but is counted as neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CostSource {
    /// The server sent the cost with its answer.
    Reported,
    /// Computed here, or by the server from a price table: a price × tokens.
    Estimated,
    /// A model served on the user's machine, with no price set: $0 by its
    /// provider ([`Provider::Local`](super::Provider::Local)), whatever its name.
    Local,
}

impl CostSource {
    /// `"reported"`, `"estimated"` or `"local"`, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Reported => "reported",
            CostSource::Estimated => "estimated",
            CostSource::Local => "local",
        }
    }

    /// The source stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<CostSource> {
        match text {
            "reported" => Some(CostSource::Reported),
            "estimated" => Some(CostSource::Estimated),
            "local" => Some(CostSource::Local),
            _ => None,
        }
    }
}

impl PromptRun {
    /// The run's speed figures (its `metadata.metrics`); all absent when it
    /// has none.
    pub fn metrics(&self) -> RunMetrics {
        self.metadata
            .as_ref()
            .and_then(|metadata| metadata.get(METRICS_KEY))
            .map(RunMetrics::from_json)
            .unwrap_or_default()
    }

    /// Where the run's cost comes from (its `metadata.costSource`); `None`
    /// when it has no cost, or a cost from before sources were recorded.
    pub fn cost_source(&self) -> Option<CostSource> {
        self.cost?;
        CostSource::parse(self.metadata.as_ref()?.get(COST_SOURCE_KEY)?.as_str()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn figures_round_trip_with_their_sources_and_absent_ones_stay_absent() {
        let metrics = RunMetrics {
            ttft_ms: Some(Figure::measured(412)),
            generation_ms: Some(Figure::measured(1_830)),
            output_tokens_per_second: Some(Figure::measured(48.236)),
            prompt_tokens_per_second: Some(Figure::reported(1_200.5)),
            cached_input_tokens: Some(Figure::reported(1_024)),
            reasoning_tokens: None,
        };
        let json = metrics.to_json();
        assert_eq!(
            json,
            json!({
                "ttftMs": 412, "generationMs": 1830, "outputTokensPerSecond": 48.24,
                "promptTokensPerSecond": 1200.5, "cachedInputTokens": 1024,
                "sources": {"ttftMs": "measured", "generationMs": "measured",
                    "outputTokensPerSecond": "measured", "promptTokensPerSecond": "reported",
                    "cachedInputTokens": "reported"}
            })
        );
        let read = RunMetrics::from_json(&json);
        assert_eq!(read.ttft_ms, metrics.ttft_ms);
        assert_eq!(
            read.output_tokens_per_second,
            Some(Figure::measured(48.24)),
            "to a hundredth"
        );
        assert_eq!(read.reasoning_tokens, None);
        assert!(RunMetrics::from_json(&json!({})).is_empty());
    }

    #[test]
    fn bad_or_unlabelled_figures_are_not_passed_off_as_measured() {
        let read = RunMetrics::from_json(&json!({
            "ttftMs": 300, "generationMs": -5, "cachedInputTokens": 1.5,
            "outputTokensPerSecond": "fast", "sources": {"ttftMs": "guessed"}
        }));
        assert_eq!(
            read.ttft_ms,
            Some(Figure::reported(300)),
            "not measured here"
        );
        assert_eq!(read.generation_ms, None);
        assert_eq!(read.cached_input_tokens, None);
        assert_eq!(read.output_tokens_per_second, None);
    }

    #[test]
    fn a_runs_figures_and_cost_source_are_read_from_its_metadata() {
        let mut run = PromptRun::pending("r", "m", "p");
        assert!(run.metrics().is_empty());
        assert_eq!(run.cost_source(), None);
        run.cost = Some(0.002);
        assert_eq!(run.cost_source(), None, "an older run's cost has no source");
        run.metadata = json!({"costSource": "estimated", "metrics": {"ttftMs": 90, "sources": {"ttftMs": "measured"}}})
            .as_object()
            .cloned();
        assert_eq!(run.cost_source(), Some(CostSource::Estimated));
        assert_eq!(run.metrics().ttft_ms, Some(Figure::measured(90)));
        run.cost = None;
        assert_eq!(run.cost_source(), None, "no cost, no source");
        for source in [
            CostSource::Reported,
            CostSource::Estimated,
            CostSource::Local,
        ] {
            assert_eq!(CostSource::parse(source.as_str()), Some(source));
        }
    }
}
