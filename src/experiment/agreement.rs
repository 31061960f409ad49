//! How often a judge model agrees with the people who rated the same
//! answers: the share of pairs where both said the same, and Cohen's kappa,
//! which discounts the agreement two raters would reach by chance.
//!
//! A pair is one answer a person rated (thumbs up: passes, thumbs down:
//! fails) and a judge graded (its check passed or failed; a verdict that
//! could not be read, or a run not graded yet, makes no pair). The counts
//! are a 2 × 2 table, so agreements add up (across models, or runs).
//!
//! Kappa is `(po − pe) / (1 − pe)`: `po` the observed agreement, `pe` the
//! agreement expected by chance from each rater's own pass rate
//! (Cohen, 1960). 1 is perfect agreement, 0 no better than chance, below 0
//! worse. It is undefined when `pe` is 1 (both raters said "pass" to
//! everything, or "fail" to everything): no kappa is given then, only the
//! percentage.

/// A 2 × 2 table of a person's and a judge's verdicts on the same answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Agreement {
    /// Both said it passes.
    pub both_pass: usize,
    /// The person said pass, the judge fail.
    pub person_only: usize,
    /// The judge said pass, the person fail.
    pub judge_only: usize,
    /// Both said it fails.
    pub both_fail: usize,
}

impl Agreement {
    /// Counts one pair: the person's verdict (`true`: thumbs up) and the
    /// judge's.
    pub fn count(&mut self, person: bool, judge: bool) {
        match (person, judge) {
            (true, true) => self.both_pass += 1,
            (true, false) => self.person_only += 1,
            (false, true) => self.judge_only += 1,
            (false, false) => self.both_fail += 1,
        }
    }

    /// How many pairs.
    pub fn pairs(&self) -> usize {
        self.both_pass + self.person_only + self.judge_only + self.both_fail
    }

    /// How many pairs agree.
    pub fn agreed(&self) -> usize {
        self.both_pass + self.both_fail
    }

    /// The share of pairs that agree (0–1); `None` without pairs.
    pub fn share(&self) -> Option<f64> {
        let pairs = self.pairs();
        (pairs > 0).then(|| self.agreed() as f64 / pairs as f64)
    }

    /// Cohen's kappa; `None` without pairs, or when chance alone would
    /// agree on every pair (each rater gave one verdict to all).
    pub fn kappa(&self) -> Option<f64> {
        let pairs = self.pairs() as f64;
        let observed = self.share()?;
        let person_pass = (self.both_pass + self.person_only) as f64 / pairs;
        let judge_pass = (self.both_pass + self.judge_only) as f64 / pairs;
        let chance = person_pass * judge_pass + (1.0 - person_pass) * (1.0 - judge_pass);
        (chance < 1.0).then(|| (observed - chance) / (1.0 - chance))
    }
}

impl std::ops::AddAssign for Agreement {
    fn add_assign(&mut self, other: Agreement) {
        self.both_pass += other.both_pass;
        self.person_only += other.person_only;
        self.judge_only += other.judge_only;
        self.both_fail += other.both_fail;
    }
}
