//! The models a prompt can run on, as the backend's `GET /api/v1/models` lists them.

use serde::{Deserialize, Serialize};

/// Who serves a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Anthropic's API.
    Anthropic,
    /// OpenAI's API.
    Openai,
    /// A model served on the user's machine (Ollama, llama.cpp, the offline demo model).
    Local,
    /// Routed by the NeuroForge backend.
    Neuroforge,
    /// Google's Gemini API.
    Google,
}

impl Provider {
    /// Its name, as serialised (`"anthropic"`, `"google"`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::Openai => "openai",
            Provider::Local => "local",
            Provider::Neuroforge => "neuroforge",
            Provider::Google => "google",
        }
    }
}

/// A model a prompt can run on (the TypeScript store's `Model`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Model {
    /// Id sent as `model_id` when executing.
    pub id: String,
    /// Name shown to people.
    pub name: String,
    /// Who serves it.
    pub provider: Provider,
    /// Largest number of tokens it accepts.
    pub max_tokens: u64,
    /// Whether it can stream its answer.
    pub supports_streaming: bool,
    /// US dollars per 1,000 tokens, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_1k_tokens: Option<f64>,
    /// Any other facts the server reports, kept as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Model {
    /// What 1,000 tokens of this model cost, as far as can be known before
    /// it answers: its price; else $0 for a local provider's model, whatever
    /// its name (it runs on the person's machine); else unknown. Estimates
    /// before a run (an experiment's plan) and after it use this one rule.
    pub fn known_price_per_1k(&self) -> Option<f64> {
        match (self.cost_per_1k_tokens, self.provider) {
            (Some(price), _) => Some(price),
            (None, Provider::Local) => Some(0.0),
            (None, _) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_the_typescript_model_json() {
        let listed = json!([
            {"id": "claude-3-5-sonnet", "name": "Claude 3.5 Sonnet", "provider": "anthropic",
             "maxTokens": 200000, "supportsStreaming": true, "costPer1kTokens": 0.003},
            {"id": "offline-echo", "name": "Offline demo", "provider": "local",
             "maxTokens": 4096, "supportsStreaming": true, "metadata": {"offline": true}}
        ]);
        let models: Vec<Model> = serde_json::from_value(listed.clone()).unwrap();
        assert_eq!(models[0].provider, Provider::Anthropic);
        assert_eq!(models[0].cost_per_1k_tokens, Some(0.003));
        assert_eq!(models[1].cost_per_1k_tokens, None);
        assert_eq!(serde_json::to_value(&models).unwrap(), listed);
        for (provider, name) in [
            (Provider::Openai, "openai"),
            (Provider::Neuroforge, "neuroforge"),
        ] {
            assert_eq!(serde_json::to_value(provider).unwrap(), json!(name));
        }
    }
}
