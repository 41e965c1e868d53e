//! UTC days and months as numbers, from a clock in Unix milliseconds passed
//! in: counts are kept per day and per month, and a cap resets at the next
//! UTC midnight or the first of the next month. (Unix time has no leap
//! seconds, so a day is always 86,400,000 ms.)

use serde::{Deserialize, Serialize};

/// Milliseconds in a UTC day.
pub const DAY_MS: u64 = 86_400_000;

/// A UTC day: days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Day(pub u32);

/// A UTC month: months since January 1970.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Month(pub u32);

/// The period a count or a cap is kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Period {
    /// The UTC day.
    Day,
    /// The UTC month.
    Month,
}

impl Day {
    /// The day `now_ms` falls in.
    pub fn of(now_ms: u64) -> Day {
        Day((now_ms / DAY_MS) as u32)
    }

    /// The month this day falls in.
    pub fn month(self) -> Month {
        let (year, month, _) = civil(self);
        Month(((year - 1970) * 12) as u32 + month - 1)
    }

    /// The day as `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        let (year, month, day) = civil(self);
        format!("{year:04}-{month:02}-{day:02}")
    }
}

impl Month {
    /// The month `now_ms` falls in.
    pub fn of(now_ms: u64) -> Month {
        Day::of(now_ms).month()
    }

    /// The month's first day.
    pub fn first_day(self) -> Day {
        let year = 1970 + i64::from(self.0 / 12);
        Day(days_from_civil(year, self.0 % 12 + 1, 1) as u32)
    }
}

impl Period {
    /// Whole seconds from `now_ms` until the period it falls in ends (at
    /// least 1), rounded up: what `Retry-After` says.
    pub fn seconds_left(self, now_ms: u64) -> u64 {
        let end = match self {
            Period::Day => u64::from(Day::of(now_ms).0 + 1) * DAY_MS,
            Period::Month => u64::from(Month(Month::of(now_ms).0 + 1).first_day().0) * DAY_MS,
        };
        (end - now_ms).div_ceil(1000)
    }
}

/// The calendar date of a day: (year, month 1-12, day 1-31), by Howard
/// Hinnant's `civil_from_days` (exact for every Gregorian date).
fn civil(day: Day) -> (i64, u32, u32) {
    let z = i64::from(day.0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Days since 1970-01-01 of a calendar date (`days_from_civil`, the inverse
/// of [`civil`]).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Unix milliseconds of a UTC date and time.
    pub(crate) fn at(year: i64, month: u32, day: u32, hms: (u64, u64, u64)) -> u64 {
        days_from_civil(year, month, day) as u64 * DAY_MS
            + (hms.0 * 3600 + hms.1 * 60 + hms.2) * 1000
    }

    #[test]
    fn days_and_months_of_known_dates() {
        assert_eq!(Day::of(0).iso(), "1970-01-01");
        assert_eq!(Month::of(0), Month(0));
        let leap = at(2028, 2, 29, (12, 0, 0));
        assert_eq!(Day::of(leap).iso(), "2028-02-29");
        assert_eq!(Month::of(leap), Month((2028 - 1970) * 12 + 1));
        assert_eq!(Month::of(leap).first_day().iso(), "2028-02-01");
        assert_eq!(Day::of(at(2026, 12, 31, (23, 59, 59))).iso(), "2026-12-31");
        assert_eq!(Day::of(at(2027, 1, 1, (0, 0, 0))).iso(), "2027-01-01");
        assert_eq!(Day::of(at(2100, 3, 1, (0, 0, 0))).iso(), "2100-03-01");
        assert_eq!(Day::of(at(2000, 2, 29, (0, 0, 0))).iso(), "2000-02-29");
    }

    #[test]
    fn every_day_for_three_centuries_round_trips() {
        let mut month = Month(0);
        for n in 0..110_000u32 {
            let day = Day(n);
            let (y, m, d) = civil(day);
            assert_eq!(days_from_civil(y, m, d), i64::from(n));
            // Months follow one another and begin on the first.
            if d == 1 && n > 0 {
                month = Month(month.0 + 1);
                assert_eq!(month.first_day(), day);
            }
            assert_eq!(day.month(), month);
        }
    }

    #[test]
    fn a_period_ends_at_utc_midnight_or_the_first_of_the_month() {
        let evening = at(2028, 2, 28, (23, 0, 0));
        assert_eq!(Period::Day.seconds_left(evening), 3600);
        // 2028 is a leap year: February has a 29th.
        assert_eq!(Period::Month.seconds_left(evening), 3600 + 86_400);
        assert_eq!(
            Period::Month.seconds_left(at(2027, 2, 28, (23, 0, 0))),
            3600
        );
        assert_eq!(
            Period::Month.seconds_left(at(2026, 12, 31, (23, 59, 59))),
            1
        );
        // Rounded up: 1 ms before midnight waits a whole second.
        assert_eq!(Period::Day.seconds_left(at(2026, 12, 1, (0, 0, 0)) - 1), 1);
        assert_eq!(Period::Day.seconds_left(at(2026, 12, 1, (0, 0, 0))), 86_400);
        assert_eq!(
            Period::Day.seconds_left(at(2026, 12, 1, (0, 0, 0)) + 1),
            86_400
        );
    }
}
