//! Instants for activation windows and audit entries: microseconds in UTC, read from RFC 3339
//! as clients write it and written back in UTC.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use toggles_vocab::Date;

/// An instant, to the microsecond (PostgreSQL's precision), in UTC.
///
/// Parsed from RFC 3339 as JavaScript, most tools and most languages write it — fractions of a
/// second and offsets included — and written back in UTC, with a fraction only when there is
/// one. A time finer than a microsecond (Go's `RFC3339Nano`) is taken to the microsecond
/// before it.
///
/// ```
/// use toggles::Timestamp;
///
/// let t: Timestamp = "2026-03-01T09:30:00Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2026-03-01T09:30:00Z");
/// let js: Timestamp = "2026-03-01T09:30:00.250Z".parse().unwrap();
/// assert_eq!(js.to_string(), "2026-03-01T09:30:00.25Z");
/// let paris: Timestamp = "2026-03-01T10:30:00+01:00".parse().unwrap();
/// assert_eq!(paris, t);
/// assert!("2026-03-01 09:30".parse::<Timestamp>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

const MICROS: i64 = 1_000_000;

/// A string that is not an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(String);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an RFC 3339 time: write `2026-03-01T09:30:00Z` (a fraction of a second and an offset such as `+01:00` may follow the seconds)",
            self.0
        )
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// `seconds` after 1970-01-01T00:00:00Z.
    pub const fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds.saturating_mul(MICROS))
    }

    /// `micros` microseconds after 1970-01-01T00:00:00Z.
    pub const fn from_unix_micros(micros: i64) -> Timestamp {
        Timestamp(micros)
    }

    /// Whole seconds after 1970-01-01T00:00:00Z, rounded down.
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(MICROS)
    }

    /// Microseconds after 1970-01-01T00:00:00Z.
    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// The system clock, now.
    pub fn now() -> Timestamp {
        Timestamp::from(SystemTime::now())
    }

    /// The calendar date of this instant, in UTC.
    pub fn date(self) -> Date {
        Date::from_days_since_epoch(self.unix_seconds().div_euclid(86_400))
    }
}

impl From<SystemTime> for Timestamp {
    /// The instant, to the microsecond before it; clamped to what an `i64` of microseconds
    /// holds (some 292,000 years either side of 1970).
    fn from(time: SystemTime) -> Timestamp {
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp(micros(after)),
            Err(before) => {
                let before = before.duration();
                // Rounded down: one microsecond further back when a fraction of one is left.
                let extra = i64::from(before.subsec_nanos() % 1000 != 0);
                Timestamp(micros(before).saturating_neg().saturating_sub(extra))
            }
        }
    }
}

impl From<Timestamp> for SystemTime {
    /// The instant; clamped to what the platform's `SystemTime` holds, never a panic.
    fn from(t: Timestamp) -> SystemTime {
        let magnitude = Duration::from_micros(t.0.unsigned_abs());
        let moved = if t.0 >= 0 {
            UNIX_EPOCH.checked_add(magnitude)
        } else {
            UNIX_EPOCH.checked_sub(magnitude)
        };
        moved.unwrap_or_else(|| {
            // The farthest the platform reaches that way, found by halving.
            let mut reach = magnitude;
            loop {
                reach /= 2;
                let step = if t.0 >= 0 {
                    UNIX_EPOCH.checked_add(reach)
                } else {
                    UNIX_EPOCH.checked_sub(reach)
                };
                if let Some(time) = step {
                    break time;
                }
            }
        })
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        let err = || TimestampError(s.to_owned());
        let parsed = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| err())?;
        let micros = parsed.unix_timestamp_nanos().div_euclid(1000);
        i64::try_from(micros).map(Timestamp).map_err(|_| err())
    }
}

impl fmt::Display for Timestamp {
    // Written out here rather than through `time`'s formatter, which builds a `String` each
    // time: a report writes two times per toggle.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.unix_seconds().rem_euclid(86_400);
        write!(
            f,
            "{}T{:02}:{:02}:{:02}",
            self.date(),
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )?;
        let micros = self.0.rem_euclid(MICROS);
        if micros != 0 {
            // Six digits, less the trailing zeros: `.25`, `.123456`.
            let mut digits = micros;
            let mut width = 6;
            while digits % 10 == 0 {
                digits /= 10;
                width -= 1;
            }
            write!(f, ".{digits:0width$}")?;
        }
        f.write_str("Z")
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn round_trips() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2026-11-21T17:11:09Z",
            "2026-11-21T17:11:09.5Z",
            "2026-11-21T17:11:09.123456Z",
            "1969-12-31T23:59:59.999999Z",
        ] {
            assert_eq!(t(s).to_string(), s);
        }
        assert_eq!(t("1970-01-02T00:00:01Z").unix_seconds(), 86_401);
        assert_eq!(t("1969-12-31T23:59:59.5Z").unix_seconds(), -1);
        assert_eq!(t("1969-12-31T23:59:59.5Z").unix_micros(), -500_000);
    }

    #[test]
    fn reads_times_as_clients_write_them() {
        let utc = t("2026-03-01T09:30:00Z");
        assert_eq!(
            t("2026-03-01T09:30:00.000Z"),
            utc,
            "JavaScript's toISOString"
        );
        assert_eq!(t("2026-03-01T10:30:00+01:00"), utc);
        assert_eq!(t("2026-03-01T04:00:00-05:30"), utc);
        assert_eq!(t("2026-03-01t09:30:00z"), utc, "RFC 3339 allows lower case");
        assert_eq!(
            t("2026-03-01T09:30:00.123456789Z").to_string(),
            "2026-03-01T09:30:00.123456Z",
            "to the microsecond before"
        );
    }

    #[test]
    fn refuses_what_is_not_rfc_3339() {
        for bad in [
            "2026-11-21",
            "2026-11-21T24:00:00Z",
            "2026-11-21T10:00:00",
            "2026-02-30T00:00:00Z",
            "2026-11-21T1:00:00Z",
            "2026-11-21 10:00",
            "",
        ] {
            let err = bad.parse::<Timestamp>().unwrap_err();
            assert!(err.to_string().contains("is not an RFC 3339 time"), "{bad}");
        }
    }

    #[test]
    fn converts_to_and_from_the_system_clock() {
        for s in ["2026-03-01T09:30:00.25Z", "1969-07-20T20:17:40Z"] {
            let stamp = t(s);
            assert_eq!(Timestamp::from(SystemTime::from(stamp)), stamp);
        }
        let before = UNIX_EPOCH - Duration::from_nanos(1);
        assert_eq!(Timestamp::from(before).unix_micros(), -1, "rounded down");
    }
}
