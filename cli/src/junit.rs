//! The JUnit XML report, the format CI servers read test results in
//! (Jenkins, GitLab, GitHub's test reporters): one `<testsuite>` per model,
//! one `<testcase>` per row on that model, a `<failure>` carrying the failed
//! checks' reasons, an `<error>` for a row whose answers are missing, a
//! `<skipped>` for one never run.
//!
//! The shape is the one Jenkins' xunit plugin and Maven Surefire read;
//! `tests/junit.xsd` states it, and a test validates the report against it.
//! Every text is escaped, and characters XML 1.0 cannot hold are dropped:
//! reasons quote server errors and check texts, which are untrusted.

use crate::verdict::{Case, CaseOutcome, Verdict};
use prompt_runs::experiment::Experiment;
use std::fmt::Write;

/// The report of `verdict`, the evaluation of `experiment`, which took
/// `seconds`.
pub fn junit_xml(experiment: &Experiment, verdict: &Verdict, seconds: f64) -> String {
    let mut models: Vec<&str> = Vec::new();
    for case in &verdict.cases {
        if !models.contains(&case.model_id.as_str()) {
            models.push(&case.model_id);
        }
    }
    let name = if experiment.name.trim().is_empty() {
        &experiment.id
    } else {
        &experiment.name
    };
    let totals = Counts::of(verdict.cases.iter());
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{seconds:.3}\">",
        escape(name),
        totals.tests,
        totals.failures,
        totals.errors,
    );
    for model in models {
        let cases: Vec<&Case> = (verdict.cases.iter())
            .filter(|case| case.model_id == model)
            .collect();
        let counts = Counts::of(cases.iter().copied());
        let time: f64 = cases.iter().map(|case| case.seconds).sum();
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\">",
            escape(model),
            counts.tests,
            counts.failures,
            counts.errors,
            counts.skipped,
        );
        for case in cases {
            push_case(&mut xml, experiment, case);
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn push_case(xml: &mut String, experiment: &Experiment, case: &Case) {
    let name = match &case.inputs {
        Some(inputs) => format!("row {}: {inputs}", case.row + 1),
        None => format!("row {}", case.row + 1),
    };
    let _ = write!(
        xml,
        "    <testcase name=\"{}\" classname=\"{}.{}\" time=\"{:.3}\"",
        escape(&name),
        escape(&experiment.id),
        escape(&case.model_id),
        case.seconds,
    );
    let (element, kind, reasons) = match &case.outcome {
        CaseOutcome::Passed => {
            xml.push_str("/>\n");
            return;
        }
        CaseOutcome::Skipped => {
            xml.push_str(">\n      <skipped message=\"not run\"/>\n    </testcase>\n");
            return;
        }
        CaseOutcome::Failed(reasons) => ("failure", "check", reasons),
        CaseOutcome::Errored(reasons) => ("error", "no answer", reasons),
    };
    let message = reasons.first().map_or("", String::as_str);
    let _ = write!(
        xml,
        ">\n      <{element} message=\"{}\" type=\"{kind}\">{}</{element}>\n    </testcase>\n",
        escape(message),
        escape(&reasons.join("\n")),
    );
}

/// A suite's counts, as JUnit's attributes name them.
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn of<'a>(cases: impl Iterator<Item = &'a Case>) -> Counts {
        let mut counts = Counts {
            tests: 0,
            failures: 0,
            errors: 0,
            skipped: 0,
        };
        for case in cases {
            counts.tests += 1;
            match case.outcome {
                CaseOutcome::Passed => {}
                CaseOutcome::Failed(_) => counts.failures += 1,
                CaseOutcome::Errored(_) => counts.errors += 1,
                CaseOutcome::Skipped => counts.skipped += 1,
            }
        }
        counts
    }
}

/// `text` for an XML attribute or element: markup escaped, characters XML
/// 1.0 cannot hold (most control characters, unpaired surrogates cannot
/// occur in a `str`, U+FFFE, U+FFFF) dropped.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            // Kept as character references, so that an attribute keeps its
            // line breaks (a parser turns literal ones into spaces).
            '\n' => escaped.push_str("&#10;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' => escaped.push_str("&#9;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_and_what_xml_cannot_hold_is_dropped() {
        assert_eq!(
            escape("<a href=\"x\">&'\u{7}\u{ffff}b\nc"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;b&#10;c"
        );
    }
}
