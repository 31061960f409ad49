//! What the evaluation says: each run judged (passed, failed a check, not
//! answered), each row × model as a test case, the pass rate, and the exit
//! status a CI pipeline reads.
//!
//! The rules (docs/command-line.md, "Exit status"):
//! - a run **passes** when it answered and no check failed (an experiment
//!   without checks passes every answer);
//! - the **pass rate** is the runs that passed over every run the plan asked
//!   for, so an answer that never came counts against it;
//! - a **test case** (row × model) fails when a check failed on any of its
//!   repeats, errs when none failed but a repeat has no answer, is skipped
//!   when none of its repeats ran, and passes otherwise.

use prompt_runs::experiment::{row_values, Experiment, Grid, Outcome};
use prompt_runs::model::RunStatus;

/// How the process ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Every run passed, or at least `--fail-under` of them: 0.
    Passed,
    /// Checks failed: 1.
    ChecksFailed,
    /// The evaluation could not be made, or not whole: a bad file, an
    /// unreachable gateway, the budget reached, answers missing: 2.
    Error,
    /// Interrupted (Ctrl-C): 130, as a shell reports a process ended by SIGINT.
    Interrupted,
}

impl ExitStatus {
    /// The process's exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Passed => 0,
            ExitStatus::ChecksFailed => 1,
            ExitStatus::Error => 2,
            ExitStatus::Interrupted => 130,
        }
    }
}

/// How a test case (one row on one model) came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseOutcome {
    /// Every repeat answered and passed.
    Passed,
    /// A check failed: each failed check, with its repeat and reason.
    Failed(Vec<String>),
    /// No check failed, but a repeat has no answer: why, per repeat.
    Errored(Vec<String>),
    /// None of its repeats ran (cancelled, or the budget stopped first).
    Skipped,
}

/// One row on one model.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The input row, from 0.
    pub row: usize,
    /// The model.
    pub model_id: String,
    /// The row's values, shortened, for a test's name.
    pub inputs: Option<String>,
    /// How it came out.
    pub outcome: CaseOutcome,
    /// The time its answers took, in seconds.
    pub seconds: f64,
}

/// The evaluation of an experiment's grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// Every row × model, row by row.
    pub cases: Vec<Case>,
    /// Runs the plan asked for.
    pub runs: usize,
    /// Runs that answered and passed.
    pub passed: usize,
    /// Runs on which a check failed.
    pub failed_checks: usize,
    /// Runs with no answer: failed, cancelled or never sent.
    pub unanswered: usize,
}

impl Verdict {
    /// Judges every cell of `grid`, the grid of `experiment`.
    pub fn of(experiment: &Experiment, grid: &Grid) -> Verdict {
        let mut verdict = Verdict {
            cases: Vec::new(),
            runs: 0,
            passed: 0,
            failed_checks: 0,
            unanswered: 0,
        };
        for row in &grid.rows {
            for cell in &row.cells {
                let mut failures = Vec::new();
                let mut errors = Vec::new();
                let mut ran = 0;
                let mut milliseconds = 0;
                for (repeat, run) in cell.runs.iter().enumerate() {
                    verdict.runs += 1;
                    let name = if cell.runs.len() > 1 {
                        format!("repeat {}: ", repeat + 1)
                    } else {
                        String::new()
                    };
                    let Some(run) = run else {
                        verdict.unanswered += 1;
                        errors.push(format!("{name}not run"));
                        continue;
                    };
                    ran += 1;
                    milliseconds += run.duration_ms.unwrap_or(0);
                    if run.status != RunStatus::Success {
                        verdict.unanswered += 1;
                        let error = run.error.as_deref().unwrap_or("no answer");
                        errors.push(format!("{name}{error}"));
                        continue;
                    }
                    let outcomes = cell.checks.get(repeat).map_or(&[][..], Vec::as_slice);
                    let failed: Vec<String> = (experiment.checks.iter().zip(outcomes))
                        .filter(|(_, outcome)| matches!(outcome, Outcome::Fail(_)))
                        .map(|(check, outcome)| format!("{name}{}", check.describe(outcome)))
                        .collect();
                    if failed.is_empty() {
                        verdict.passed += 1;
                    } else {
                        verdict.failed_checks += 1;
                        failures.extend(failed);
                    }
                }
                let outcome = if !failures.is_empty() {
                    failures.extend(errors);
                    CaseOutcome::Failed(failures)
                } else if ran == 0 {
                    CaseOutcome::Skipped
                } else if !errors.is_empty() {
                    CaseOutcome::Errored(errors)
                } else {
                    CaseOutcome::Passed
                };
                verdict.cases.push(Case {
                    row: row.row,
                    model_id: experiment
                        .models
                        .get(cell.model)
                        .cloned()
                        .unwrap_or_default(),
                    inputs: row_values(experiment, row.row),
                    outcome,
                    seconds: milliseconds as f64 / 1_000.0,
                });
            }
        }
        verdict
    }

    /// The runs that passed over every run asked for (1 when none was).
    pub fn pass_rate(&self) -> f64 {
        if self.runs == 0 {
            1.0
        } else {
            self.passed as f64 / self.runs as f64
        }
    }

    /// The exit status of a run that went to its end: 0 when every run
    /// passed or at least `fail_under` of them; else 1 when a check failed,
    /// 2 when answers are missing and no check failed.
    pub fn exit_status(&self, fail_under: Option<f64>) -> ExitStatus {
        let all_passed = self.passed == self.runs;
        if all_passed || fail_under.is_some_and(|least| self.pass_rate() >= least) {
            ExitStatus::Passed
        } else if self.failed_checks > 0 {
            ExitStatus::ChecksFailed
        } else {
            ExitStatus::Error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prompt_runs::experiment::{example, plan, Check, Grid};
    use prompt_runs::model::PromptRun;
    use std::sync::Arc;

    /// The example's three rows on offline-echo, answered with `answers`
    /// (`None`: failed; absent rows: not run).
    fn graded(answers: &[Option<&str>]) -> Verdict {
        let experiment = example();
        let cells = plan(&experiment, &[]).unwrap().cells;
        let runs: Vec<Arc<PromptRun>> = (cells.iter().zip(answers))
            .map(|(cell, answer)| {
                let mut run = cell.pending_run(&experiment.id);
                match answer {
                    Some(text) => {
                        run.status = RunStatus::Success;
                        run.output = Some(text.to_string());
                        run.duration_ms = Some(250);
                    }
                    None => {
                        run.status = RunStatus::Error;
                        run.error = Some("HTTP 500: simulated failure".into());
                    }
                }
                Arc::new(run)
            })
            .collect();
        Verdict::of(&experiment, &Grid::build(&experiment, runs.iter()))
    }

    #[test]
    fn every_run_passing_exits_0() {
        let verdict = graded(&[Some("The capital"), Some("capital"), Some("CAPITAL")]);
        assert_eq!((verdict.runs, verdict.passed), (3, 3));
        assert!(verdict
            .cases
            .iter()
            .all(|case| case.outcome == CaseOutcome::Passed));
        assert_eq!(verdict.cases[2].inputs.as_deref(), Some("Kenya"));
        assert_eq!(verdict.cases[0].seconds, 0.25);
        assert_eq!(verdict.exit_status(None), ExitStatus::Passed);
    }

    #[test]
    fn a_failed_check_exits_1_unless_the_rate_is_high_enough() {
        let verdict = graded(&[Some("capital"), Some("Tokyo"), Some("capital")]);
        assert_eq!((verdict.passed, verdict.failed_checks), (2, 1));
        let CaseOutcome::Failed(reasons) = &verdict.cases[1].outcome else {
            panic!("{:?}", verdict.cases[1]);
        };
        assert_eq!(reasons, &[r#"contains "capital" (any case): not found"#]);
        assert_eq!(verdict.exit_status(None), ExitStatus::ChecksFailed);
        assert_eq!(verdict.exit_status(Some(0.9)), ExitStatus::ChecksFailed);
        assert_eq!(verdict.exit_status(Some(0.6)), ExitStatus::Passed);
    }

    #[test]
    fn missing_answers_exit_2_and_count_against_the_rate() {
        let verdict = graded(&[Some("capital"), None]);
        assert_eq!((verdict.passed, verdict.unanswered), (1, 2));
        assert_eq!(
            verdict.cases[1].outcome,
            CaseOutcome::Errored(vec!["HTTP 500: simulated failure".into()])
        );
        assert_eq!(verdict.cases[2].outcome, CaseOutcome::Skipped);
        assert!((verdict.pass_rate() - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(verdict.exit_status(None), ExitStatus::Error);
        assert_eq!(verdict.exit_status(Some(0.3)), ExitStatus::Passed);
    }

    #[test]
    fn without_checks_every_answer_passes() {
        let mut experiment = example();
        experiment.checks = Vec::<Check>::new();
        let cells = plan(&experiment, &[]).unwrap().cells;
        let mut run = cells[0].pending_run(&experiment.id);
        run.status = RunStatus::Success;
        run.output = Some("anything".into());
        let runs = [Arc::new(run)];
        let verdict = Verdict::of(&experiment, &Grid::build(&experiment, runs.iter()));
        assert_eq!((verdict.passed, verdict.unanswered), (1, 2));
    }
}
