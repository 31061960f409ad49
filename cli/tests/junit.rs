//! The JUnit report, validated by libxml2 against `tests/junit.xsd` (the
//! shape Jenkins and Surefire read): passed, failed, errored and skipped
//! test cases from real runs on a gateway, with counts that agree; and the
//! validator itself refuses a report that breaks the schema, so a pass
//! means something.

mod support;

use libxml::parser::Parser;
use libxml::schemas::{SchemaParserContext, SchemaValidationContext};
use prompt_runs::experiment::{example, export_experiment, Check};
use std::fs;
use support::{prompt_runs, run, write, TestGateway};

/// The problems libxml2 finds in `xml` against tests/junit.xsd (none: valid).
fn problems(xml: &str) -> Vec<String> {
    let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/junit.xsd");
    let mut parser = SchemaParserContext::from_file(schema);
    let mut validator = SchemaValidationContext::from_parser(&mut parser)
        .unwrap_or_else(|errors| panic!("the schema itself is invalid: {errors:?}"));
    let document = Parser::default()
        .parse_string(xml)
        .unwrap_or_else(|error| panic!("not well-formed XML ({error:?}):\n{xml}"));
    match validator.validate_document(&document) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .into_iter()
            .map(|error| error.message.unwrap_or_default())
            .collect(),
    }
}

#[test]
fn the_report_of_passed_failed_errored_and_skipped_cases_is_valid_junit() {
    let gateway = TestGateway::start(2_000, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut experiment = example();
    experiment.name = "Capitals <& \"quotes\">".into();
    experiment.models = vec!["offline-echo".into(), "offline-fail-500".into()];
    experiment.repeats = 2;
    experiment.checks = vec![
        Check::Contains {
            text: "France".into(),
            case_sensitive: true,
        },
        Check::MaxLength { characters: 10_000 },
    ];
    let file = write(
        dir.path(),
        "mixed.json",
        &export_experiment(&experiment, []),
    );
    let report = dir.path().join("report.xml");
    let output = run(prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            file.to_str().unwrap(),
            "--gateway",
            &gateway.url,
            "--junit",
            report.to_str().unwrap(),
        ],
    ));
    assert_eq!(output.status.code(), Some(1), "checks failed");
    let xml = fs::read_to_string(&report).unwrap();
    assert_eq!(problems(&xml), Vec::<String>::new(), "{xml}");
    assert!(xml.contains(r#"<testsuites name="Capitals &lt;&amp; &quot;quotes&quot;&gt;" tests="6" failures="2" errors="3""#), "{xml}");
    assert!(
        xml.contains(
            r#"<testsuite name="offline-echo" tests="3" failures="2" errors="0" skipped="0""#
        ),
        "{xml}"
    );
    assert!(xml.contains(r#"<failure message="repeat 1: contains &quot;France&quot;: not found" type="check">repeat 1: contains &quot;France&quot;: not found&#10;repeat 2: contains"#), "{xml}");
    assert_eq!(
        xml.matches("<testcase ").count(),
        6,
        "one per row and model"
    );
    assert_eq!(xml.matches("<error ").count(), 3);

    // Cancelled before anything ran: every case skipped, still valid.
    experiment.budget = Some(prompt_runs::model::Usd::from_dollars(0.000_000_1));
    experiment.models = vec!["offline-echo".into()];
    let file = write(
        dir.path(),
        "budget.json",
        &export_experiment(&experiment, []),
    );
    let output = run(prompt_runs(
        &dir.path().join("cache"),
        &[
            "eval",
            file.to_str().unwrap(),
            "--gateway",
            &gateway.url,
            "--yes",
            // The first report's answers are in the cache: ask again.
            "--no-cache",
            "--junit",
            report.to_str().unwrap(),
        ],
    ));
    assert_eq!(output.status.code(), Some(2), "the budget stopped it");
    let xml = fs::read_to_string(&report).unwrap();
    assert_eq!(problems(&xml), Vec::<String>::new(), "{xml}");
    assert_eq!(
        xml.matches("<skipped message=\"not run\"/>").count(),
        3,
        "{xml}"
    );
}

#[test]
fn the_validator_refuses_what_breaks_the_schema() {
    let valid = r#"<?xml version="1.0"?><testsuites><testsuite name="m" tests="1" failures="0" errors="0"><testcase name="row 1" classname="e.m" time="0.5"/></testsuite></testsuites>"#;
    assert_eq!(problems(valid), Vec::<String>::new());
    for broken in [
        valid.replace(r#" name="row 1""#, ""),
        valid.replace(r#"tests="1""#, r#"tests="one""#),
        valid.replace(r#"time="0.5""#, r#"time="1,5 s""#),
        valid.replace(
            "/></testsuite>",
            "><failure/><error/></testcase></testsuite>",
        ),
        valid.replace("<testcase", "<case"),
    ] {
        assert!(!problems(&broken).is_empty(), "accepted: {broken}");
    }
}
