//! Progress while the cells run, on standard error: a bar with counts,
//! spent cost and the time left on a terminal (indicatif), plain lines
//! elsewhere (a CI log), at most one every few seconds.

use crate::plan_text::{count, duration};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use prompt_runs::model::Usd;
use std::time::{Duration, Instant};

/// How often a plain line is written, at most.
const LINE_EVERY: Duration = Duration::from_secs(2);

/// Where the cells stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Cells done, answered from the cache included.
    pub done: usize,
    /// Cells answered (sent and answered).
    pub answered: usize,
    /// Cells that failed.
    pub failed: usize,
    /// What this run has spent.
    pub spent: Usd,
}

/// The progress of `total` cells.
pub struct Progress {
    total: usize,
    started: Instant,
    shown: Shown,
}

enum Shown {
    Bar(ProgressBar),
    Lines { last: Option<Instant> },
}

impl Progress {
    /// Progress of `total` cells, of which `cached` are answered already:
    /// a bar when `terminal`, else lines.
    pub fn start(total: usize, cached: usize, terminal: bool) -> Progress {
        let shown = if terminal {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} cells {msg} · {elapsed} elapsed, about {eta} left",
                )
                .expect("a valid template"),
            );
            bar.set_position(cached as u64);
            Shown::Bar(bar)
        } else {
            Shown::Lines { last: None }
        };
        Progress {
            total,
            started: Instant::now(),
            shown,
        }
    }

    /// Whether an update now would be shown: a bar always (it draws at its
    /// own pace), lines every few seconds. Spent cost is summed only then.
    pub fn wants_update(&self) -> bool {
        match &self.shown {
            Shown::Bar(_) => true,
            Shown::Lines { last } => last.is_none_or(|last| last.elapsed() >= LINE_EVERY),
        }
    }

    /// Shows `counts`.
    pub fn update(&mut self, counts: Counts) {
        let text = format!(
            "({} answered, {} failed) · {} spent",
            thousands(counts.answered),
            thousands(counts.failed),
            counts.spent
        );
        match &mut self.shown {
            Shown::Bar(bar) => {
                bar.set_position(counts.done as u64);
                bar.set_message(text);
            }
            Shown::Lines { last } => {
                *last = Some(Instant::now());
                let left = self.total - counts.done.min(self.total);
                let eta = (counts.done > 0 && left > 0).then(|| {
                    let per_cell = self.started.elapsed() / counts.done as u32;
                    format!(", about {} left", duration(per_cell * left as u32))
                });
                eprintln!(
                    "{} of {} done {text}{}",
                    thousands(counts.done),
                    count(self.total, "cell"),
                    eta.unwrap_or_default()
                );
            }
        }
    }

    /// Ends the bar, leaving its last state on screen.
    pub fn finish(&self) {
        if let Shown::Bar(bar) = &self.shown {
            bar.abandon();
        }
    }
}

fn thousands(value: usize) -> String {
    prompt_runs::text::thousands(value as u64)
}
