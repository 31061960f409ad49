//! `prompt-runs eval --providers FILE`: straight to the providers of a
//! gateway's providers file, through the gateway's own code in the
//! command's process. Against a fake OpenAI-compatible provider on
//! loopback (the gateway tests' own, `support::fake_provider`): the answers
//! arrive and are judged, the key from the environment reaches the provider
//! and nothing else (not the output, not a written file, not the cache), a
//! re-run is answered by the cache though the in-process gateway's port
//! changed, and a providers file that cannot be used exits 2 with its line.

mod support;

use prompt_runs::experiment::{example, export_experiment, import_experiment, Check};
use prompt_runs::model::RunStatus;
use std::fs;
use std::path::Path;
use support::fake_provider::{openai, serve, Fake};
use support::{countries, prompt_runs, run, said, write, TestGateway};

const KEY: &str = "sk-fake-cli-0123456789abcdef";
const KEY_ENV: &str = "CLI_TEST_FAKEAI_KEY";

/// A fake OpenAI-compatible provider serving on its own runtime until
/// dropped, and what it was sent.
struct Provider {
    url: String,
    fake: Fake,
    _runtime: tokio::runtime::Runtime,
}

impl Provider {
    fn start() -> Provider {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let fake = Fake::default();
        let url = runtime.block_on(serve(openai(fake.clone(), KEY, &["gpt-fake"])));
        Provider {
            url,
            fake,
            _runtime: runtime,
        }
    }

    /// A providers file naming it (its models as it lists them), priced.
    fn file(&self, dir: &Path) -> String {
        self.file_with(dir, "")
    }

    /// The same, with more of its settings (`requests_per_minute = 60`).
    fn file_with(&self, dir: &Path, settings: &str) -> String {
        let text = format!(
            r#"# the fake, as an OpenAI-compatible provider
[[providers]]
name = "fakeai"
kind = "openai"
base_url = "{}/v1"
api_key_env = "{KEY_ENV}"
{settings}
[providers.prices]
"gpt-fake" = {{ input_per_million = 1.0, output_per_million = 2.0 }}
"#,
            self.url
        );
        path_text(&write(dir, "providers.toml", &text))
    }

    /// The completion requests it was sent.
    fn asked(&self) -> usize {
        self.fake.all().len()
    }
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// The example experiment on the fake's model.
fn experiment_file(dir: &Path, name: &str, checks: Vec<Check>) -> String {
    let mut experiment = example();
    experiment.models = vec!["fakeai/gpt-fake".into()];
    experiment.checks = checks;
    path_text(&write(dir, name, &export_experiment(&experiment, [])))
}

/// Every file under `dir`, as text (lossy), for a key search.
fn every_file(dir: &Path) -> String {
    let mut text = String::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text += &every_file(&path);
        } else {
            text += &String::from_utf8_lossy(&fs::read(&path).unwrap());
        }
    }
    text
}

#[test]
fn an_experiment_runs_straight_against_the_providers_with_the_key_from_the_environment() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().unwrap();
    let providers = provider.file(dir.path());
    let file = experiment_file(dir.path(), "fake.json", example().checks);
    let cache = dir.path().join("cache");
    let outputs = dir.path().join("outputs");
    fs::create_dir(&outputs).unwrap();
    let (out, csv, junit) = (
        outputs.join("out.json"),
        outputs.join("grid.csv"),
        outputs.join("report.xml"),
    );
    let output = run(prompt_runs(
        &cache,
        &[
            "eval",
            &file,
            "--providers",
            &providers,
            "--out",
            out.to_str().unwrap(),
            "--csv",
            csv.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
    )
    .env(KEY_ENV, KEY));
    assert_eq!(output.status.code(), Some(0), "every check passes");
    let text = said(&output);
    assert!(
        text.contains("fakeai/gpt-fake: 3 requests, about $"),
        "priced by the file: {text}"
    );
    assert!(text.contains("Straight to the providers: each keeps to its own limits"));
    assert!(text.contains("Passed: every run passed its checks."));

    let results = import_experiment(&fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(results.runs.len(), 3);
    for run in &results.runs {
        assert_eq!(run.status, RunStatus::Success, "{:?}", run.error);
        assert!(
            (run.output.as_deref().unwrap_or_default())
                .starts_with("You said: What is the capital of "),
            "the provider's answer: {:?}",
            run.output
        );
        assert!(run.cost.is_some_and(|cost| cost > 0.0), "priced");
    }
    let junit_text = fs::read_to_string(&junit).unwrap();
    assert!(
        junit_text.contains(r#"<testsuites name="Capitals" tests="3" failures="0" errors="0""#),
        "{junit_text}"
    );
    assert!(junit_text.contains(r#"classname="exp-example-capitals.fakeai/gpt-fake""#));

    // The key went to the provider, in its header, on every request…
    assert_eq!(provider.asked(), 3);
    for (path, headers, body) in provider.fake.all() {
        assert_eq!(path, "/v1/chat/completions");
        assert_eq!(headers["authorization"], format!("Bearer {KEY}").as_str());
        assert_eq!(body["model"], "gpt-fake", "its own id, without the prefix");
        assert_eq!(body["stream"], true, "streamed");
    }
    // …and nowhere else.
    assert!(!text.contains(KEY), "the key in the output");
    assert!(
        !every_file(&outputs).contains(KEY),
        "the key in a written file"
    );
    assert!(!every_file(&cache).contains(KEY), "the key in the cache");

    // A re-run: the in-process gateway listens elsewhere now, but the
    // cache knows the providers by name, kind and address. The file from
    // the gateway's own variable this time.
    let again = run(prompt_runs(&cache, &["eval", &file])
        .env("PROMPT_RUNS_PROVIDERS", &providers)
        .env(KEY_ENV, KEY));
    assert_eq!(again.status.code(), Some(0));
    assert!(
        said(&again).contains("3 requests answered from the cache; 0 to send"),
        "{}",
        said(&again)
    );
    assert_eq!(provider.asked(), 3, "nothing sent again");
}

#[test]
fn a_providers_own_rate_limit_is_waited_out_and_every_cell_is_answered() {
    // 60 a minute, the provider's own cap in the file: 60 at once, then one
    // a second. 66 cells are 6 over: the gateway in the process answers
    // those 429 with Retry-After, and the store's pacer waits them out, as
    // against a gateway elsewhere.
    let provider = Provider::start();
    let dir = tempfile::tempdir().unwrap();
    let providers = provider.file_with(dir.path(), "requests_per_minute = 60");
    let mut experiment = example();
    experiment.models = vec!["fakeai/gpt-fake".into()];
    let names: String = (1..=22).map(|n| format!("Country {n}\n")).collect();
    experiment.inputs = countries(&names);
    experiment.repeats = 3;
    let file = path_text(&write(
        dir.path(),
        "limited.json",
        &export_experiment(&experiment, []),
    ));
    let junit = dir.path().join("report.xml");
    let started = std::time::Instant::now();
    let output = run(prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            &file,
            "--providers",
            &providers,
            "--junit",
            junit.to_str().unwrap(),
        ],
    )
    .env(KEY_ENV, KEY));
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "every cell answered");
    assert!(said(&output).contains("66 runs: 66 answered (0 from the cache), 0 failed, 0 not sent"));
    assert!(
        took >= std::time::Duration::from_secs(4),
        "the cap held: 6 requests over it at one a second, yet it took {took:?}"
    );
    assert_eq!(
        provider.asked(),
        66,
        "the provider saw each cell once, never a refused one"
    );
    let junit = fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains(r#"<testsuites name="Capitals" tests="22" failures="0" errors="0""#),
        "{junit}"
    );
}

#[test]
fn failed_checks_and_whole_answers_straight_against_the_providers() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().unwrap();
    let providers = provider.file(dir.path());
    let france = Check::Contains {
        text: "France".into(),
        case_sensitive: true,
    };
    let file = experiment_file(dir.path(), "france.json", vec![france]);
    let junit = dir.path().join("report.xml");
    let output = run(prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            &file,
            "--providers",
            &providers,
            "--no-stream",
            "--junit",
            junit.to_str().unwrap(),
        ],
    )
    .env(KEY_ENV, KEY));
    assert_eq!(output.status.code(), Some(1), "two answers of three fail");
    assert!(said(&output).contains("Failed: 2 runs failed a check."));
    let junit = fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains(r#"<testsuites name="Capitals" tests="3" failures="2" errors="0""#),
        "{junit}"
    );
    assert!(
        provider
            .fake
            .all()
            .iter()
            .all(|(_, _, body)| body["stream"] != true),
        "--no-stream asks for whole answers"
    );
}

#[test]
fn a_providers_file_that_cannot_be_used_exits_2_with_its_line_and_never_the_key() {
    let provider = Provider::start();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let file = experiment_file(dir.path(), "fake.json", example().checks);
    let eval = |providers: &str, key: Option<&str>| {
        let mut command = prompt_runs(&cache, &["eval", &file, "--providers", providers]);
        if let Some(key) = key {
            command.env(KEY_ENV, key);
        }
        run(command)
    };

    let written = path_text(&write(
        dir.path(),
        "key-written.toml",
        "[[providers]]\nname = \"fakeai\"\nkind = \"openai\"\napi_key = \"sk-in-the-file-0123456789\"\n",
    ));
    let output = eval(&written, Some(KEY));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        said(&output).contains(&format!(
            "prompt-runs: providers file {written}, line 4: provider fakeai has an api_key: keys are never written in the file"
        )),
        "{}",
        said(&output)
    );
    assert!(!said(&output).contains("sk-in-the-file-0123456789"));

    let providers = provider.file(dir.path());
    let output = eval(&providers, None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        said(&output).contains(&format!("providers file {providers}, line 6: the environment variable {KEY_ENV}, which should hold the key of provider fakeai, is not set")),
        "{}",
        said(&output)
    );

    let output = eval(&path_text(&dir.path().join("missing.toml")), Some(KEY));
    assert_eq!(output.status.code(), Some(2));
    assert!(said(&output).contains("missing.toml: cannot be read"));

    // A wrong key: the provider refuses to list its models; the model is
    // not offered, and why is said, without either key.
    let output = eval(&providers, Some("sk-wrong-0123456789"));
    assert_eq!(output.status.code(), Some(2));
    let text = said(&output);
    assert!(
        text.contains(&format!(
            "the providers file {providers} does not offer fakeai/gpt-fake; it offers offline-"
        )),
        "{text}"
    );
    assert!(
        text.contains("; provider fakeai cannot be used now: provider fakeai answered 401"),
        "{text}"
    );
    assert!(!text.contains("sk-wrong-0123456789") && !text.contains(KEY));
    assert_eq!(provider.asked(), 0, "nothing was sent to run");
}

#[test]
fn gateway_and_providers_are_one_or_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let example = support::capitals();
    let example = example.to_str().unwrap();
    let output = run(prompt_runs(
        &cache,
        &[
            "eval",
            example,
            "--gateway",
            "http://127.0.0.1:9",
            "--providers",
            "providers.toml",
        ],
    ));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        said(&output).contains("cannot be used with"),
        "{}",
        said(&output)
    );

    let output = run(prompt_runs(&cache, &["eval", example])
        .env("PROMPT_RUNS_GATEWAY", "http://127.0.0.1:9")
        .env("PROMPT_RUNS_PROVIDERS", "providers.toml"));
    assert_eq!(output.status.code(), Some(2));
    assert!(said(&output).contains(
        "both PROMPT_RUNS_GATEWAY and PROMPT_RUNS_PROVIDERS are set: pass --gateway or --providers"
    ));

    // --gateway on the command line wins over a providers file exported
    // for a gateway (one that does not exist here).
    let gateway = TestGateway::start(2_000, &[]);
    let output = run(
        prompt_runs(&cache, &["eval", example, "--gateway", &gateway.url])
            .env("PROMPT_RUNS_PROVIDERS", "no/such/providers.toml"),
    );
    assert_eq!(output.status.code(), Some(0), "{}", said(&output));
}
