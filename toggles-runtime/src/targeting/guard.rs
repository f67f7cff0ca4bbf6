//! A flag rule's guard: the error rate at which a rollout turns itself off, and the pure
//! decision from outcome counts.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::declare::Counts;

/// When a flag turns itself off: a part of its [`FlagRule`](crate::rules::FlagRule), stored and edited
/// with it.
///
/// Code under the flag records outcomes ([`Flag::record`](crate::Flag::record),
/// [`Flag::outcome`](crate::Flag::outcome)), each counted for the arm the flag answered. Once the
/// "on" arm has `min_requests` outcomes within the last `window_secs`, the guard trips when the
/// arm's error rate is *above* `max_error_rate` (percent), or *more than* `max_margin` points
/// above the "off" arm's (which then needs `min_requests` of its own). A tripped guard turns
/// the flag off (`active: false`) through an ordinary audited write by the actor `guard`; it
/// trips once, and turning the flag back on is a person's write. A window never reaches back
/// past the rule's last change: a rule changed or turned back on starts with no outcomes (for
/// fleet-wide counts, the change's time in the audit log; for a process's own, when the process
/// first saw the rule).
///
/// ```json
/// { "percent": 20, "guard": { "max_error_rate": 5, "window_secs": 300, "min_requests": 200 } }
/// ```
///
/// ```
/// use toggles::rules::{FlagRule, Guard};
/// use toggles::store::Counts;
///
/// let guard = Guard::error_rate(10.0).window_secs(60).min_requests(100);
/// let rule = FlagRule::new().percent(20.0).guard(guard.clone());
/// assert!(rule.guard.is_some());
///
/// let at_the_limit = Counts::new(90, 10, 0, 0);
/// assert!(guard.verdict(&at_the_limit).is_none(), "10% is not above 10%");
/// let above = Counts::new(90, 11, 0, 0);
/// assert!(guard.verdict(&above).is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Guard {
    /// Trip when the "on" arm's error rate is above this, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_error_rate: Option<f64>,
    /// Trip when the "on" arm's error rate is more than this many percentage points above the
    /// "off" arm's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_margin: Option<f64>,
    /// The window outcomes are counted over, in seconds.
    pub window_secs: u64,
    /// How many outcomes an arm needs in the window before its rate counts.
    pub min_requests: u64,
}

impl Guard {
    /// A guard tripping above `percent` errors on the "on" arm, over 5 minutes, from 100
    /// outcomes.
    pub fn error_rate(percent: f64) -> Guard {
        Guard {
            max_error_rate: Some(percent),
            max_margin: None,
            window_secs: 300,
            min_requests: 100,
        }
    }

    /// A guard tripping when the "on" arm's error rate is more than `points` above the "off"
    /// arm's, over 5 minutes, from 100 outcomes per arm.
    pub fn margin(points: f64) -> Guard {
        Guard {
            max_error_rate: None,
            max_margin: Some(points),
            window_secs: 300,
            min_requests: 100,
        }
    }

    /// Also trips above `percent` errors on the "on" arm.
    #[must_use]
    pub fn max_error_rate(mut self, percent: f64) -> Guard {
        self.max_error_rate = Some(percent);
        self
    }

    /// Also trips when the "on" arm's error rate is more than `points` above the "off" arm's.
    #[must_use]
    pub fn max_margin(mut self, points: f64) -> Guard {
        self.max_margin = Some(points);
        self
    }

    /// Sets the window, in seconds.
    #[must_use]
    pub fn window_secs(mut self, secs: u64) -> Guard {
        self.window_secs = secs;
        self
    }

    /// Sets the outcomes an arm needs before its rate counts.
    #[must_use]
    pub fn min_requests(mut self, n: u64) -> Guard {
        self.min_requests = n;
        self
    }

    /// Whether `counts` (over the window) trip the guard, and why.
    pub fn verdict(&self, counts: &Counts) -> Option<Trip> {
        let on_total = counts.on_ok + counts.on_err;
        if on_total < self.min_requests.max(1) {
            return None;
        }
        let on_rate = rate(counts.on_err, on_total);
        if let Some(limit) = self.max_error_rate {
            if on_rate > limit {
                return Some(Trip {
                    counts: *counts,
                    on_rate,
                    off_rate: None,
                    limit: Limit::ErrorRate(limit),
                });
            }
        }
        if let Some(margin) = self.max_margin {
            let off_total = counts.off_ok + counts.off_err;
            if off_total >= self.min_requests.max(1) {
                let off_rate = rate(counts.off_err, off_total);
                if on_rate - off_rate > margin {
                    return Some(Trip {
                        counts: *counts,
                        on_rate,
                        off_rate: Some(off_rate),
                        limit: Limit::Margin(margin),
                    });
                }
            }
        }
        None
    }

    /// What is wrong with the guard on its own.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_error_rate.is_none() && self.max_margin.is_none() {
            problems.push("`guard` needs `max_error_rate` or `max_margin`".to_owned());
        }
        for (field, value) in [
            ("max_error_rate", self.max_error_rate),
            ("max_margin", self.max_margin),
        ] {
            if let Some(v) = value.filter(|v| !(0.0..100.0).contains(v)) {
                problems.push(format!(
                    "`guard.{field}` is from 0 (inclusive) to 100 (exclusive), not {v}"
                ));
            }
        }
        if self.window_secs == 0 {
            problems.push("`guard.window_secs` must be at least 1".to_owned());
        }
        if self.min_requests == 0 {
            problems.push("`guard.min_requests` must be at least 1".to_owned());
        }
        problems
    }
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn rate(errors: u64, total: u64) -> f64 {
    errors as f64 * 100.0 / total as f64
}

/// Which limit a guard tripped on.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Limit {
    /// `max_error_rate`, percent.
    ErrorRate(f64),
    /// `max_margin`, percentage points.
    Margin(f64),
}

/// A tripped guard's figures: what the audit entry's reason says.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Trip {
    /// The counts over the window.
    pub counts: Counts,
    /// The "on" arm's error rate, percent.
    pub on_rate: f64,
    /// The "off" arm's, for a margin trip.
    pub off_rate: Option<f64>,
    /// The limit passed.
    pub limit: Limit,
}

impl fmt::Display for Trip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, "the on arm's", "the off arm's")
    }
}

impl Trip {
    /// The trip of a variant toggle's `arm`, judged against the `control`, in words:
    /// ``arm `one_page`'s error rate 12.00% (12 of 100) is more than 5 points above the control
    /// `classic`'s 2.00% (2 of 100)``.
    pub fn of_arm(&self, arm: &str, control: &str) -> String {
        struct Words<'a>(&'a Trip, &'a str, &'a str);
        impl fmt::Display for Words<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write(f, self.1, self.2)
            }
        }
        let (arm, control) = (
            format!("arm `{arm}`'s"),
            format!("the control `{control}`'s"),
        );
        Words(self, &arm, &control).to_string()
    }

    fn write(&self, f: &mut fmt::Formatter<'_>, on: &str, off: &str) -> fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "{on} error rate {:.2}% ({} of {})",
            self.on_rate,
            c.on_err,
            c.on_ok + c.on_err
        )?;
        match (self.limit, self.off_rate) {
            (Limit::Margin(margin), Some(rate)) => write!(
                f,
                " is more than {margin} points above {off} {rate:.2}% ({} of {})",
                c.off_err,
                c.off_ok + c.off_err
            ),
            (Limit::ErrorRate(limit), _) | (Limit::Margin(limit), None) => {
                write!(f, " is above the limit of {limit}%")
            }
        }
    }
}
