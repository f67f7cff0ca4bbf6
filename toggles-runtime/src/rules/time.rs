//! Instants for activation windows and audit entries: whole seconds in UTC, written
//! `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 in UTC).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use toggles_vocab::Date;

/// An instant, in whole seconds since 1970-01-01T00:00:00Z.
///
/// ```
/// use toggles::Timestamp;
///
/// let t: Timestamp = "2026-03-01T09:30:00Z".parse().unwrap();
/// assert_eq!(t.to_string(), "2026-03-01T09:30:00Z");
/// assert!("2026-03-01 09:30".parse::<Timestamp>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A string that is not `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(String);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a time written `YYYY-MM-DDTHH:MM:SSZ` (UTC)",
            self.0
        )
    }
}

impl std::error::Error for TimestampError {}

impl Timestamp {
    /// `seconds` after 1970-01-01T00:00:00Z.
    pub const fn from_unix_seconds(seconds: i64) -> Timestamp {
        Timestamp(seconds)
    }

    /// Seconds after 1970-01-01T00:00:00Z.
    pub const fn unix_seconds(self) -> i64 {
        self.0
    }

    /// The system clock, now.
    pub fn now() -> Timestamp {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// The calendar date of this instant, in UTC.
    pub fn date(self) -> Date {
        Date::from_days_since_epoch(self.0.div_euclid(86_400))
    }
}

impl std::str::FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Timestamp, TimestampError> {
        let err = || TimestampError(s.to_owned());
        let (date, time) = s.split_once('T').ok_or_else(err)?;
        let date: Date = date.parse().map_err(|_| err())?;
        let time = time.strip_suffix('Z').ok_or_else(err)?;
        let b = time.as_bytes();
        if b.len() != 8 || b[2] != b':' || b[5] != b':' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, TimestampError> {
            let part = &time[r];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().map_err(|_| err())
            } else {
                Err(err())
            }
        };
        let (h, m, sec) = (num(0..2)?, num(3..5)?, num(6..8)?);
        if h > 23 || m > 59 || sec > 59 {
            return Err(err());
        }
        Ok(Timestamp(
            date.days_since_epoch() * 86_400 + h * 3600 + m * 60 + sec,
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.rem_euclid(86_400);
        write!(
            f,
            "{}T{:02}:{:02}:{:02}Z",
            self.date(),
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
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

    #[test]
    fn round_trips() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2026-11-21T17:11:09Z",
        ] {
            assert_eq!(s.parse::<Timestamp>().unwrap().to_string(), s);
        }
        assert_eq!(
            "1970-01-02T00:00:01Z"
                .parse::<Timestamp>()
                .unwrap()
                .unix_seconds(),
            86_401
        );
        for bad in [
            "2026-11-21",
            "2026-11-21T24:00:00Z",
            "2026-11-21T10:00:00",
            "2026-02-30T00:00:00Z",
            "2026-11-21T1:00:00Z",
        ] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }
}
