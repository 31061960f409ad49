//! Reading a server's `Retry-After`: how long it asked a client to wait
//! before trying again, in seconds (`120`) or as an HTTP date
//! (`Wed, 21 Oct 2015 07:28:00 GMT`).

use std::time::Duration;

/// The wait a `Retry-After` value asks for, read at `now_unix_ms` (the wall
/// clock, as the server's date is): seconds as they are; an HTTP date as the
/// time left until it (none when it has passed). `None` when the value is
/// neither, so that the caller backs off on its own.
///
/// Dates are read in the one form servers send today (RFC 9110's
/// IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`); the two obsolete forms are
/// taken as no value. Written out rather than parsed with chrono's RFC 2822
/// reader, which would bring its generic format parser into the app bundle
/// for this one header.
pub fn retry_after(value: &str, now_unix_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // More digits than u64 holds is a wait longer than anyone means.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let until = imf_fixdate_unix_ms(value)?;
    Some(Duration::from_millis(
        until.saturating_sub(now_unix_ms).max(0) as u64,
    ))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` as ms since the Unix epoch.
fn imf_fixdate_unix_ms(value: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut parts = value.split(' ');
    let (_weekday, day, month, year, time, zone) = (
        parts.next()?.strip_suffix(',')?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if zone != "GMT" || parts.next().is_some() || day.len() != 2 || year.len() != 4 {
        return None;
    }
    let number = |text: &str| -> Option<i64> {
        (!text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let month = MONTHS.iter().position(|name| *name == month)? as i64 + 1;
    let (day, year) = (number(day)?, number(year)?);
    let mut clock = time.split(':').map(number);
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if clock.next().is_some() || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some((((days * 24 + hour) * 60 + minute) * 60 + second) * 1_000)
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2015-10-21T07:28:00Z.
    const OCT_21_2015: i64 = 1_445_412_480_000;

    #[test]
    fn seconds_are_taken_as_they_are() {
        assert_eq!(retry_after("12", 0), Some(Duration::from_secs(12)));
        assert_eq!(retry_after(" 0 ", 0), Some(Duration::ZERO));
        assert_eq!(
            retry_after("99999999999999999999999", 0),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn a_date_is_the_time_left_until_it() {
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(imf_fixdate_unix_ms(date), Some(OCT_21_2015));
        assert_eq!(
            retry_after(date, OCT_21_2015 - 12_500),
            Some(Duration::from_millis(12_500))
        );
        assert_eq!(
            retry_after(date, OCT_21_2015 + 1),
            Some(Duration::ZERO),
            "a date passed means now"
        );
        assert_eq!(
            imf_fixdate_unix_ms("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(0)
        );
        assert_eq!(
            imf_fixdate_unix_ms("Tue, 29 Feb 2000 23:59:59 GMT"),
            Some(951_868_799_000)
        );
    }

    #[test]
    fn anything_else_is_no_value() {
        for value in [
            "",
            "-5",
            "1.5",
            "soon",
            "Wed, 21 Oct 2015 07:28:00 UTC",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
            "Wed, 21 Okt 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 25:28:00 GMT",
            "Wed, 21 Oct 2015 07:28 GMT",
        ] {
            assert_eq!(retry_after(value, 0), None, "{value:?}");
        }
    }
}
