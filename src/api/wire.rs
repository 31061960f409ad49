//! The HTTP contract with NeuroForge-compatible servers (NeuroForge itself and
//! our gateway): paths, request and response bodies, streaming events.
//!
//! Bodies are snake_case JSON, as NeuroForge's Python API writes them; the
//! [`Model`](crate::model::Model) list is camelCase, as the TypeScript store reads it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where NeuroForge listens by default (as in the TypeScript client); our
/// gateway listens there too.
pub const DEFAULT_BASE_URL: &str = "http://localhost:8000";

/// `POST`: run a prompt, answer with one [`ExecuteResponse`].
pub const EXECUTE_PATH: &str = "/api/v1/workbench/execute";
/// `POST`: run a prompt, answer with Server-Sent Events (our extension).
pub const EXECUTE_STREAM_PATH: &str = "/api/v1/workbench/execute/stream";
/// `POST`: run one prompt on several models, answer with one
/// [`PromptRun`](crate::model::PromptRun) per model (NeuroForge's
/// `executePrompt`); see [`BatchExecuteRequest`].
pub const BATCH_EXECUTE_PATH: &str = "/api/v1/execute";
/// `GET`: the models offered, as [`Model`](crate::model::Model)s; `/{id}` for one.
pub const MODELS_PATH: &str = "/api/v1/models";
/// `GET`: which providers are configured and reachable.
pub const PROVIDERS_PATH: &str = "/api/v1/providers";

/// `GET`: the limits the server holds its clients to, as [`ServerLimits`]
/// (our extension: a server without it answers 404, and nothing is known).
pub const LIMITS_PATH: &str = "/api/v1/limits";

/// The history sync API's root: `POST {SYNC_PATH}/{workspace}/runs` uploads
/// a [`SyncUpload`], `GET {SYNC_PATH}/{workspace}/changes?since=&limit=`
/// answers [`SyncChanges`].
pub const SYNC_PATH: &str = "/api/v1/sync";

/// SSE event of the changes stream carrying a [`SyncChanges`] page (its
/// `id` is the page's cursor).
pub const EVENT_CHANGES: &str = "changes";

/// SSE event carrying a [`StreamDelta`].
pub const EVENT_DELTA: &str = "delta";
/// SSE event carrying the final [`ExecuteResponse`].
pub const EVENT_DONE: &str = "done";
/// SSE event carrying an [`ErrorBody`]; the stream ends with it.
pub const EVENT_ERROR: &str = "error";

/// The body of an execute request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecuteRequest {
    /// The prompt text.
    pub prompt: String,
    /// The model to run it on.
    pub model_id: String,
    /// Context blocks sent with the prompt (optional on the wire).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_blocks: Vec<String>,
    /// Sampling parameters, when not the server's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<ExecuteParameters>,
    /// The workspace the run belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
}

/// The body of a [`BATCH_EXECUTE_PATH`] request, as NeuroForge's TypeScript
/// client (`executePrompt`) sends it. Unknown fields are ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchExecuteRequest {
    /// The prompt text.
    pub prompt: String,
    /// The models to run it on, one run each, in this order.
    pub model_ids: Vec<String>,
    /// Context blocks sent with the prompt (their text).
    #[serde(default)]
    pub context_blocks: Vec<String>,
    /// The workspace the runs belong to.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Whether the client would like a stream. Our gateway answers with the
    /// runs' JSON array either way: that is what the client reads.
    #[serde(default)]
    pub stream: bool,
    /// Sampling parameters, when not the server's defaults (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<ExecuteParameters>,
}

/// Sampling parameters of an execute request; absent ones are the server's choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecuteParameters {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Longest answer, in tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
}

/// The answer to an execute request (NeuroForge's `SimplifiedExecuteResponse`).
/// Unknown extra fields are ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecuteResponse {
    /// The server's id of the run.
    pub run_id: String,
    /// The model that answered.
    pub model_id: String,
    /// The answer text.
    pub output: String,
    /// Tokens used.
    pub usage: Usage,
    /// Time the server took, in milliseconds.
    pub latency_ms: u64,
    /// When the server created the run (ISO 8601).
    pub created_at: String,
    /// Cost in US dollars, when the server knows a price (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    /// Where `cost` comes from: `"reported"` (by the model's provider) or
    /// `"estimated"` (the server's price table × tokens). Absent from
    /// servers that do not say (our extension): their cost counts as reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_source: Option<String>,
    /// Streams only: ms from the server receiving the request to its first
    /// piece of text (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_token_ms: Option<u64>,
    /// llama.cpp's `timings`, as its server sent them, or the offline
    /// models' own (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<Timings>,
}

/// Token usage reported with an answer, in OpenAI's shape (so that an
/// OpenAI-compatible upstream's `usage` passes through as it is).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens of the prompt (and context).
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
    /// What the prompt tokens include, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
    /// What the completion tokens include, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_tokens_details: Option<CompletionTokensDetails>,
}

/// OpenAI's `usage.prompt_tokens_details` (also sent by vLLM).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptTokensDetails {
    /// Prompt tokens served from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
}

/// OpenAI's `usage.completion_tokens_details`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletionTokensDetails {
    /// Completion tokens spent reasoning before the answer (billed as output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
}

/// llama.cpp server's `timings`: how long it took over the prompt and the
/// answer. Every field is optional; unknown ones are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    /// Prompt tokens processed (those not taken from its cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_n: Option<u64>,
    /// Time spent on them, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_ms: Option<f64>,
    /// Prompt tokens per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_per_second: Option<f64>,
    /// Tokens generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_n: Option<u64>,
    /// Time spent generating them, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_ms: Option<f64>,
    /// Tokens generated per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicted_per_second: Option<f64>,
    /// Prompt tokens taken from its cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_n: Option<u64>,
}

impl Usage {
    /// Counts without details.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            ..Usage::default()
        }
    }

    /// Prompt tokens served from a cache, when reported.
    pub fn cached_tokens(&self) -> Option<u64> {
        self.prompt_tokens_details?.cached_tokens
    }

    /// Completion tokens spent reasoning, when reported.
    pub fn reasoning_tokens(&self) -> Option<u64> {
        self.completion_tokens_details?.reasoning_tokens
    }
}

/// The body of an error answer (any non-2xx status), and of the `error` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub detail: String,
}

/// What `GET /api/v1/limits` answers: the limits a client meets, so that it
/// can plan within them rather than find them by failing. An absent field
/// is a limit the server does not have (or does not say).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerLimits {
    /// API requests a client may send per minute, sustained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    /// Requests a client may send at once before the per-minute pace applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// The largest request body accepted, in bytes (larger ones get 413).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<u64>,
}

/// A piece of streamed answer text (the `delta` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamDelta {
    /// The next piece of the answer.
    pub text: String,
}

/// Whether a provider can serve, as `GET /api/v1/providers` reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderStatus {
    /// Credentials or a URL are configured.
    pub configured: bool,
    /// It can serve now (for the gateway's providers: its model list answered).
    pub available: bool,
    /// `"api"` (hosted) or `"local"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Where it is served, for local providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A configured provider's name (our extension; absent from the
    /// summaries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The API it speaks: `openai`, `anthropic`, `gemini` or `ollama` (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    /// When it was last asked anything, ISO 8601 (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<String>,
    /// How: `listing its models` or `a run` (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_by: Option<String>,
    /// Its last failure, in words (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When that was, ISO 8601 (our extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error_at: Option<String>,
    /// Whether it answered at all when last asked: an error answer is an
    /// answer; a refused connection or a silence past its timeout is none
    /// (our extension; absent before it was first asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reachable: Option<bool>,
}

/// `GET /api/v1/providers`: NeuroForge's `openai`, `anthropic` and `ollama`
/// (and our `google`), each summarising the configured providers of that
/// kind, and beside them (our extension) every configured provider.
///
/// ```json
/// {"anthropic": {"configured": true, "available": true, "type": "api"},
///  "providers": [{"name": "anthropic", "adapter": "anthropic", "configured": true, …}]}
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Providers {
    /// Summaries by NeuroForge's names (a NeuroForge backend sends only these).
    #[serde(flatten)]
    pub summaries: BTreeMap<String, ProviderStatus>,
    /// Every configured provider, in the order configured, each with its
    /// `name` (our extension; empty from a NeuroForge backend).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderStatus>,
}

/// Read key by key, rather than derived with `flatten`: serde's `flatten`
/// buffers the whole answer first, and that code cost the Experiments
/// page's bundle 4,310 bytes of gzip more than this.
impl<'de> Deserialize<'de> for Providers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Providers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of provider statuses")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Providers, A::Error> {
                let mut providers = Providers::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "providers" {
                        providers.providers = map.next_value()?;
                    } else {
                        let status = map.next_value()?;
                        providers.summaries.insert(key, status);
                    }
                }
                Ok(providers)
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_omits_what_it_does_not_set() {
        let request = ExecuteRequest {
            prompt: "Hi".into(),
            model_id: "gpt-4o".into(),
            ..ExecuteRequest::default()
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"prompt": "Hi", "model_id": "gpt-4o"})
        );
        let full: ExecuteRequest = serde_json::from_value(json!({
            "prompt": "Hi", "model_id": "m", "context_blocks": ["a"],
            "parameters": {"temperature": 0.2, "max_tokens": 64}, "workspace_id": "w"
        }))
        .unwrap();
        assert_eq!(full.parameters.unwrap().max_tokens, Some(64));
    }

    #[test]
    fn a_response_ignores_unknown_fields_and_cost_is_optional() {
        let answer = json!({
            "run_id": "run_1", "model_id": "m", "output": "Hello",
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            "latency_ms": 12, "created_at": "2024-01-01T00:00:00.000Z", "provider": "openai"
        });
        let response: ExecuteResponse = serde_json::from_value(answer).unwrap();
        assert_eq!((response.usage.total_tokens, response.cost), (5, None));
        let written = serde_json::to_value(&response).unwrap();
        for absent in ["cost", "cost_source", "first_token_ms", "timings"] {
            assert!(written.get(absent).is_none(), "{absent}");
        }
        assert!(written["usage"].get("prompt_tokens_details").is_none());
    }

    #[test]
    fn usage_details_and_timings_read_as_openai_and_llama_cpp_write_them() {
        let answer = json!({
            "run_id": "r", "model_id": "m", "output": "Hi", "latency_ms": 9,
            "created_at": "2024-01-01T00:00:00.000Z", "first_token_ms": 120,
            "usage": {"prompt_tokens": 2000, "completion_tokens": 300, "total_tokens": 2300,
                "prompt_tokens_details": {"cached_tokens": 1536, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 256}},
            "timings": {"prompt_n": 464, "prompt_ms": 80.5, "prompt_per_second": 5763.9,
                "predicted_n": 300, "predicted_ms": 6000.0, "predicted_per_second": 50.0, "cache_n": 1536}
        });
        let response: ExecuteResponse = serde_json::from_value(answer).unwrap();
        assert_eq!(response.usage.cached_tokens(), Some(1536));
        assert_eq!(response.usage.reasoning_tokens(), Some(256));
        assert_eq!(response.first_token_ms, Some(120));
        let timings = response.timings.unwrap();
        assert_eq!(
            (timings.predicted_per_second, timings.cache_n),
            (Some(50.0), Some(1536))
        );
        assert_eq!(Usage::new(3, 4).total_tokens, 7);
        assert_eq!(Usage::new(3, 4).cached_tokens(), None);
    }

    #[test]
    fn provider_status_names_its_kind_type() {
        let providers: Providers = serde_json::from_value(json!({
            "ollama": {"configured": true, "available": false, "type": "local", "url": "http://127.0.0.1:11434"}
        }))
        .unwrap();
        assert_eq!(providers.summaries["ollama"].kind, "local");
        assert!(
            providers.providers.is_empty(),
            "a NeuroForge backend's answer"
        );
        assert_eq!(
            serde_json::to_value(&providers.summaries["ollama"]).unwrap()["type"],
            "local"
        );
    }

    #[test]
    fn providers_keep_the_summaries_and_the_list_apart() {
        let answer = json!({
            "anthropic": {"configured": true, "available": true, "type": "api"},
            "providers": [{"configured": true, "available": false, "type": "api", "name": "anthropic",
                "adapter": "anthropic", "reachable": true, "last_error": "provider anthropic answered 401: invalid x-api-key"}]
        });
        let providers: Providers = serde_json::from_value(answer.clone()).unwrap();
        assert_eq!(
            providers.summaries.keys().collect::<Vec<_>>(),
            ["anthropic"]
        );
        assert_eq!(providers.providers.len(), 1);
        assert_eq!(providers.providers[0].reachable, Some(true));
        assert_eq!(serde_json::to_value(&providers).unwrap(), answer);
    }
}

/// A run deleted from a synced history: it stays deleted (a later upload of
/// it is ignored), so a removed run does not come back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tombstone {
    /// The run's id.
    pub id: String,
    /// When it was deleted (an RFC 3339 instant).
    pub deleted_at: crate::model::Timestamp,
}

/// The body of `POST {SYNC_PATH}/{workspace}/runs`: runs to merge by id
/// (the later state along the status flow wins, see
/// [`PromptRun::supersedes`](crate::model::PromptRun::supersedes)) and runs
/// deleted. At most [`SYNC_BATCH_MAX`] items in all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncUpload {
    /// Runs, in the model's camelCase JSON.
    #[serde(default)]
    pub runs: Vec<crate::model::PromptRun>,
    /// Runs deleted.
    #[serde(default)]
    pub deleted: Vec<Tombstone>,
}

/// Most runs and deletions one upload or one page of changes may carry.
pub const SYNC_BATCH_MAX: usize = 1_000;

/// The answer to an upload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncUploadAnswer {
    /// Items that changed what the server holds.
    pub accepted: u64,
    /// Items it already held as new or newer (or deleted).
    pub unchanged: u64,
    /// Where the changes feed stands after this upload.
    pub cursor: String,
}

/// One id's current state in the changes feed: a run or its deletion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncChange {
    /// The run as the server now holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<crate::model::PromptRun>,
    /// Or its deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Tombstone>,
}

/// A page of `GET {SYNC_PATH}/{workspace}/changes`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncChanges {
    /// What changed after the cursor asked for, in commit order.
    pub changes: Vec<SyncChange>,
    /// The cursor to ask with next.
    pub cursor: String,
    /// More changes follow.
    pub more: bool,
}
