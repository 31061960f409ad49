//! Hostile input through the real router: whatever the body of an execute
//! request, the answer is a 2xx or a 4xx with a `detail`, never a 5xx, never
//! a panic; a streamed 200 ends with `done` or `error`.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use proptest::prelude::*;
use serde_json::{json, Map, Value};
use support::{gateway, send, Answer};

const PATHS: [&str; 3] = [
    "/api/v1/workbench/execute",
    "/api/v1/workbench/execute/stream",
    "/api/v1/execute",
];

/// Posts `body` to `path` as JSON to a gateway with only the demo models
/// (no test model fails on purpose).
fn answer(path: &str, body: Vec<u8>) -> Answer {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(send(gateway(&[]), request))
}

/// The answer is acceptable: a 4xx with a `detail`, or a 2xx (a stream
/// that finished with `done` or `error`).
fn well_behaved(path: &str, answer: &Answer) -> Result<(), TestCaseError> {
    let status = answer.status;
    prop_assert!(
        status.is_success() || status.is_client_error(),
        "{path} → {status}: {}",
        answer.body
    );
    if status.is_client_error() {
        let detail = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| body["detail"].as_str().map(str::to_owned));
        prop_assert!(
            detail.is_some_and(|detail| !detail.is_empty()),
            "{path} → {status} without a detail: {}",
            answer.body
        );
    } else if path.ends_with("/stream") {
        prop_assert!(
            answer.body.contains("event: done") || answer.body.contains("event: error"),
            "{}",
            answer.body
        );
    } else {
        prop_assert!(
            serde_json::from_str::<Value>(&answer.body).is_ok(),
            "{}",
            answer.body
        );
    }
    Ok(())
}

/// Any JSON value, nested a little.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|x| json!(x)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// A field's value: mostly a plausible one (so that many requests get
/// through to the models), else anything, or nothing.
fn field(plausible: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        8 => plausible.prop_map(Some),
        1 => any_json().prop_map(Some),
        1 => Just(None),
    ]
    .boxed()
}

/// Request-shaped objects: each known field plausible, hostile or missing,
/// plus stray fields.
fn request_like() -> impl Strategy<Value = Value> {
    let model = prop_oneof![
        2 => Just("offline-echo".to_owned()),
        2 => Just("offline-slow".to_owned()),
        1 => ".{0,10}",
    ];
    let models = proptest::collection::vec(model.clone(), 0..18);
    let parameters = (
        field(any::<f64>().prop_map(|x| json!(x))),
        field(any::<u32>().prop_map(Value::from)),
        field(any::<i64>().prop_map(Value::from)),
    )
        .prop_map(|(temperature, max_tokens, top_p)| {
            json!({"temperature": temperature, "max_tokens": max_tokens, "top_p": top_p})
        });
    (
        field(".{0,200}".prop_map(Value::from)),
        field(model.prop_map(Value::from)),
        field(models.prop_map(Value::from)),
        field(proptest::collection::vec(".{0,20}", 0..4).prop_map(Value::from)),
        field(parameters),
        field(any::<bool>().prop_map(Value::from)),
        proptest::collection::btree_map("[a-z_]{1,8}", any_json(), 0..3),
    )
        .prop_map(
            |(prompt, model_id, model_ids, context_blocks, parameters, stream, stray)| {
                let mut object: Map<String, Value> = stray.into_iter().collect();
                for (name, value) in [
                    ("prompt", prompt),
                    ("model_id", model_id),
                    ("model_ids", model_ids),
                    ("context_blocks", context_blocks),
                    ("parameters", parameters),
                    ("stream", stream),
                ] {
                    if let Some(value) = value {
                        object.insert(name.to_owned(), value);
                    }
                }
                Value::Object(object)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn arbitrary_bytes_get_a_4xx_with_a_detail(
        body in proptest::collection::vec(any::<u8>(), 0..300),
        path in proptest::sample::select(&PATHS[..]),
    ) {
        well_behaved(path, &answer(path, body))?;
    }

    #[test]
    fn arbitrary_json_gets_a_4xx_with_a_detail_or_an_answer(
        body in prop_oneof![1 => any_json(), 3 => request_like()],
        path in proptest::sample::select(&PATHS[..]),
    ) {
        well_behaved(path, &answer(path, body.to_string().into_bytes()))?;
    }
}

#[test]
fn plausible_requests_do_reach_the_models() {
    // The strategies above are only worth something if some of what they
    // make gets past the checks: the same shapes, written out, succeed.
    for (path, body) in [
        (
            PATHS[0],
            json!({"prompt": "x", "model_id": "offline-echo", "parameters": {"max_tokens": 0}}),
        ),
        (
            PATHS[1],
            json!({"prompt": "x", "model_id": "offline-slow", "context_blocks": [], "parameters": {"temperature": null}}),
        ),
        (
            PATHS[2],
            json!({"prompt": "x", "model_ids": ["offline-echo", "nope"], "stream": true}),
        ),
    ] {
        let answer = answer(path, body.to_string().into_bytes());
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    }
}
