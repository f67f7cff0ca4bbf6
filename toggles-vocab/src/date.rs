//! Calendar dates for `remove_by` and `created`, without a date-time dependency: the runtime only
//! needs whole days in UTC and an order between them.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A proleptic Gregorian calendar date, as written in a toggle's `remove_by` or `created`.
///
/// Dates order chronologically and display as `YYYY-MM-DD`.
///
/// ```
/// use toggles_vocab::Date;
///
/// let d: Date = "2025-06-01".parse().unwrap();
/// assert_eq!(d.to_string(), "2025-06-01");
/// assert!(d < Date::new(2025, 6, 2).unwrap());
/// assert!("2025-02-29".parse::<Date>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    // Field order gives the derived `Ord` its chronological meaning.
    year: u16,
    month: u8,
    day: u8,
}

/// Why a string is not a [`Date`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DateError {
    /// Not of the form `YYYY-MM-DD`.
    Format,
    /// The month is not 1 to 12.
    Month(u8),
    /// The day does not exist in that month.
    Day {
        /// The year asked for.
        year: u16,
        /// The month asked for.
        month: u8,
        /// The day asked for.
        day: u8,
        /// How many days the month has in that year.
        days_in_month: u8,
    },
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DateError::Format => f.write_str("a date is written `YYYY-MM-DD`"),
            DateError::Month(m) => write!(f, "there is no month {m}"),
            DateError::Day {
                year,
                month,
                days_in_month,
                ..
            } => write!(
                f,
                "{} {year} has {days_in_month} days",
                MONTH_NAMES[usize::from(month) - 1]
            ),
        }
    }
}

impl std::error::Error for DateError {}

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Date {
    /// The date `year-month-day`, if it exists in the calendar.
    pub const fn new(year: u16, month: u8, day: u8) -> Result<Date, DateError> {
        if month < 1 || month > 12 {
            return Err(DateError::Month(month));
        }
        let days_in_month = days_in_month(year, month);
        if day < 1 || day > days_in_month {
            return Err(DateError::Day {
                year,
                month,
                day,
                days_in_month,
            });
        }
        Ok(Date { year, month, day })
    }

    /// A date the `#[toggle]` macro has already checked.
    #[doc(hidden)]
    pub const fn __checked(year: u16, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    /// Today's date in UTC, from the system clock.
    pub fn today() -> Date {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Date::from_days_since_epoch(i64::try_from(secs / 86_400).unwrap_or(i64::MAX))
    }

    /// The date `days` days after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date {
            year: year.clamp(0, 9999) as u16,
            month,
            day,
        }
    }

    /// Days from 1970-01-01 to this date (Howard Hinnant's `days_from_civil`).
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The year.
    pub const fn year(self) -> u16 {
        self.year
    }

    /// The month, 1 to 12.
    pub const fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, from 1.
    pub const fn day(self) -> u8 {
        self.day
    }
}

const fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl std::str::FromStr for Date {
    type Err = DateError;

    fn from_str(s: &str) -> Result<Date, DateError> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape_ok {
            return Err(DateError::Format);
        }
        let num = |r: std::ops::Range<usize>| s[r].parse::<u16>().map_err(|_| DateError::Format);
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        // Two digits always fit in a u8.
        #[allow(clippy::cast_possible_truncation)]
        Date::new(year, month as u8, day as u8)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Date {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(
            "2024-02-29".parse::<Date>(),
            Ok(Date::__checked(2024, 2, 29))
        );
        assert_eq!("2000-02-29".parse::<Date>().map(super::Date::day), Ok(29));
        assert!(matches!(
            "1900-02-29".parse::<Date>(),
            Err(DateError::Day { .. })
        ));
        assert_eq!("2025-13-01".parse::<Date>(), Err(DateError::Month(13)));
        assert_eq!(
            "2025-04-31".parse::<Date>().unwrap_err().to_string(),
            "April 2025 has 30 days"
        );
        for bad in [
            "2023-10",
            "None",
            "2025-6-01",
            "2025/06/01",
            " 2025-06-01",
            "२०२५-06-01",
        ] {
            assert_eq!(bad.parse::<Date>(), Err(DateError::Format), "{bad}");
        }
    }

    #[test]
    fn civil_from_days_matches_known_dates() {
        assert_eq!(Date::from_days_since_epoch(0).to_string(), "1970-01-01");
        assert_eq!(
            Date::from_days_since_epoch(11_016).to_string(),
            "2000-02-29"
        );
        assert_eq!(
            Date::from_days_since_epoch(20_413).to_string(),
            "2025-11-21"
        );
        assert_eq!(Date::from_days_since_epoch(-1).to_string(), "1969-12-31");
        for days in [-700_000, -1, 0, 59, 11_016, 20_413, 2_932_896] {
            assert_eq!(Date::from_days_since_epoch(days).days_since_epoch(), days);
        }
    }
}
