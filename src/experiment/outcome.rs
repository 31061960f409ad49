//! What a check says of one run: pass, fail, not applicable, or a judge's
//! answer that could not be read. Its own module because the checks and the
//! judge both give outcomes, and neither should reach into the other for it.

/// What a check says of one run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The answer passes.
    Pass,
    /// The answer passes, and why: a judge's score and reason.
    PassBecause(String),
    /// The answer fails, and why, in a few words that follow the check's
    /// label (`no match`, `1,200 ms`).
    Fail(String),
    /// The check cannot judge this run, and why.
    NotApplicable(String),
    /// The judge answered something that is not a verdict, and what was
    /// wrong with it: neither a pass nor a fail.
    Unreadable(String),
}

impl Outcome {
    /// Whether it passes (`Some(true)`), fails (`Some(false)`), or says
    /// neither.
    pub fn passed(&self) -> Option<bool> {
        match self {
            Outcome::Pass | Outcome::PassBecause(_) => Some(true),
            Outcome::Fail(_) => Some(false),
            Outcome::NotApplicable(_) | Outcome::Unreadable(_) => None,
        }
    }
}
