//! When to remind a person to back up: a history lives in one browser
//! profile until it is exported, and browsers do lose profiles.

use super::database::BackupRecord;

/// A reminder is due once the last backup is older than this…
pub const BACKUP_MAX_AGE_MILLIS: i64 = 7 * 24 * 60 * 60 * 1_000;
/// …or this many runs were added since.
pub const BACKUP_MAX_NEW_RUNS: u64 = 1_000;

/// Why a backup is due, as a sentence, or `None` when it is not: never
/// backed up (once there is something to lose), a week since the last, or
/// 1,000 runs added since.
pub fn backup_reminder(
    last: Option<BackupRecord>,
    runs_now: u64,
    now_unix_millis: i64,
) -> Option<String> {
    match last {
        None if runs_now >= 20 => Some(format!(
            "These {runs_now} runs exist only in this browser: back them up to a file."
        )),
        None => None,
        Some(last) if runs_now >= last.runs + BACKUP_MAX_NEW_RUNS => Some(format!(
            "{} runs were added since the last backup: back up again.",
            runs_now - last.runs
        )),
        Some(last) if now_unix_millis - last.at_unix_millis >= BACKUP_MAX_AGE_MILLIS => {
            Some(format!(
                "The last backup is {} days old: back up again.",
                (now_unix_millis - last.at_unix_millis) / (24 * 60 * 60 * 1_000)
            ))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60 * 60 * 1_000;

    #[test]
    fn reminds_after_a_week_or_a_thousand_runs_or_when_never_backed_up() {
        assert_eq!(
            backup_reminder(None, 3, 0),
            None,
            "nothing much to lose yet"
        );
        assert!(backup_reminder(None, 20, 0)
            .unwrap()
            .contains("only in this browser"));
        let last = Some(BackupRecord {
            at_unix_millis: 0,
            runs: 500,
        });
        assert_eq!(backup_reminder(last, 1_499, 6 * DAY), None);
        assert!(backup_reminder(last, 1_500, 6 * DAY)
            .unwrap()
            .contains("1000 runs were added"));
        assert!(backup_reminder(last, 600, 7 * DAY)
            .unwrap()
            .contains("7 days old"));
    }
}
