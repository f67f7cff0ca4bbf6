//! A flag rule's guard: the error rate and the run times at which a rollout turns itself off,
//! and the pure decision from outcome counts and run times.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::declare::{Counts, Timings};

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
/// It can also judge how long the code under the flag takes, from run times the code records
/// ([`Flag::outcome`](crate::Flag::outcome) times itself from its creation to its end;
/// [`Flag::record_timed`](crate::Flag::record_timed) takes a duration): it trips when more than
/// `max_slow_share` percent of the "on" arm's runs took longer than `latency_baseline_ms` (the
/// classic performance monitor's rule), or when the "on" arm's 95th-percentile run time is more
/// than `max_p95_margin` percent above the "off" arm's (each arm needing `min_requests` timed
/// runs). The 95th percentile rather than the mean, because a regression users feel is mostly
/// in the slow tail, and one stalled request moves a mean over a small window but not a p95.
/// Run times are kept to within 1/32 of themselves, so a run within that of the baseline may
/// count on either side of it.
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
///
/// ```
/// use std::time::Duration;
/// use toggles::rules::{Guard, Timings};
/// use toggles::store::Counts;
///
/// // Off when more than 10% of the on arm's runs take over 250 ms.
/// let guard = Guard::slow_share(Duration::from_millis(250), 10.0).min_requests(100);
/// let (mut on, off) = (Timings::new(), Timings::new());
/// for i in 0..100 {
///     on.record(Duration::from_millis(if i < 10 { 400 } else { 100 }));
/// }
/// assert!(guard.judge(&Counts::default(), &on, &off).is_none(), "10% is not above 10%");
/// on.record(Duration::from_millis(400));
/// let trip = guard.judge(&Counts::default(), &on, &off).unwrap();
/// assert_eq!(
///     trip.to_string(),
///     "the on arm's runs slower than 250 ms were 10.89% (11 of 101), above the limit of 10%"
/// );
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
    /// How many outcomes an arm needs in the window before its rate counts (and how many
    /// timed runs before its run times count).
    pub min_requests: u64,
    /// Trip when more than this share of the "on" arm's runs, in percent, took longer than
    /// `latency_baseline_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_slow_share: Option<f64>,
    /// The run time `max_slow_share` counts runs against, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_baseline_ms: Option<f64>,
    /// Trip when the "on" arm's 95th-percentile run time is more than this many percent above
    /// the "off" arm's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_p95_margin: Option<f64>,
    /// Trip when the "on" arm's traffic (its outcomes) is more than this many percent below what
    /// the "off" arm's traffic predicts at the rule's split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_traffic_drop: Option<f64>,
}

impl Guard {
    /// A guard tripping above `percent` errors on the "on" arm, over 5 minutes, from 100
    /// outcomes.
    pub fn error_rate(percent: f64) -> Guard {
        Guard::without_limits().max_error_rate(percent)
    }

    /// A guard tripping when the "on" arm's error rate is more than `points` above the "off"
    /// arm's, over 5 minutes, from 100 outcomes per arm.
    pub fn margin(points: f64) -> Guard {
        Guard::without_limits().max_margin(points)
    }

    /// A guard tripping when more than `percent` of the "on" arm's runs take longer than
    /// `baseline`, over 5 minutes, from 100 timed runs.
    pub fn slow_share(baseline: Duration, percent: f64) -> Guard {
        Guard::without_limits().max_slow_share(baseline, percent)
    }

    /// A guard tripping when the "on" arm's 95th-percentile run time is more than `percent`
    /// above the "off" arm's, over 5 minutes, from 100 timed runs per arm.
    pub fn p95_margin(percent: f64) -> Guard {
        Guard::without_limits().max_p95_margin(percent)
    }

    /// Whether it has a run-time limit: what makes outcomes time themselves.
    pub(crate) fn times_runs(&self) -> bool {
        self.max_slow_share.is_some() || self.max_p95_margin.is_some()
    }

    fn without_limits() -> Guard {
        Guard {
            max_error_rate: None,
            max_margin: None,
            window_secs: 300,
            min_requests: 100,
            max_slow_share: None,
            latency_baseline_ms: None,
            max_p95_margin: None,
            max_traffic_drop: None,
        }
    }

    /// A guard tripping when the "on" arm's traffic falls more than `percent` below what the
    /// "off" arm's predicts at the rule's split, over 5 minutes, from 100 outcomes of the "off"
    /// arm.
    pub fn traffic_drop(percent: f64) -> Guard {
        Guard::without_limits().max_traffic_drop(percent)
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

    /// Also trips when more than `percent` of the "on" arm's runs take longer than `baseline`.
    #[must_use]
    pub fn max_slow_share(mut self, baseline: Duration, percent: f64) -> Guard {
        self.latency_baseline_ms = Some(baseline.as_secs_f64() * 1000.0);
        self.max_slow_share = Some(percent);
        self
    }

    /// Also trips when the "on" arm's 95th-percentile run time is more than `percent` above
    /// the "off" arm's.
    #[must_use]
    pub fn max_p95_margin(mut self, percent: f64) -> Guard {
        self.max_p95_margin = Some(percent);
        self
    }

    /// Also trips when the "on" arm's traffic falls more than `percent` below what the "off"
    /// arm's predicts at the rule's split.
    #[must_use]
    pub fn max_traffic_drop(mut self, percent: f64) -> Guard {
        self.max_traffic_drop = Some(percent);
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

    /// Whether `counts` and the arms' run times (over the window) trip the guard, and why: the
    /// error limits first, then the run times'.
    pub fn judge(&self, counts: &Counts, on: &Timings, off: &Timings) -> Option<Trip> {
        self.verdict(counts)
            .or_else(|| self.run_time_verdict(counts, on, off))
    }

    /// Whether the arms' run times trip the guard's run-time limits; `counts` go in the trip.
    pub(crate) fn run_time_verdict(
        &self,
        counts: &Counts,
        on: &Timings,
        off: &Timings,
    ) -> Option<Trip> {
        let least = self.min_requests.max(1);
        let figures = || Latency {
            on_runs: on.len(),
            off_runs: off.len(),
            on_slow: 0,
            on_p95: on.quantile(0.95),
            off_p95: off.quantile(0.95),
        };
        let trip = |limit, latency| Trip {
            counts: *counts,
            on_rate: rate(counts.on_err, (counts.on_ok + counts.on_err).max(1)),
            off_rate: None,
            limit,
            latency: Some(latency),
            traffic: None,
        };
        if let (Some(percent), Some(baseline_ms)) = (self.max_slow_share, self.latency_baseline_ms)
        {
            if on.len() >= least {
                // Validated to at most 71 minutes, and a rule from elsewhere saturates.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let baseline = Duration::from_micros((baseline_ms * 1000.0) as u64);
                let slow = on.slower_than(baseline);
                if rate(slow, on.len()) > percent {
                    let limit = Limit::SlowShare {
                        baseline_ms,
                        percent,
                    };
                    return Some(trip(
                        limit,
                        Latency {
                            on_slow: slow,
                            ..figures()
                        },
                    ));
                }
            }
        }
        if let Some(margin) = self.max_p95_margin {
            if on.len() >= least && off.len() >= least {
                let latency = figures();
                // At least a microsecond: below it the off arm's p95 reads as zero, and any
                // run would be infinitely slower.
                let floor = latency.off_p95.max(Duration::from_micros(1));
                let allowed = floor.as_secs_f64() * (1.0 + margin / 100.0);
                if latency.on_p95.as_secs_f64() > allowed {
                    return Some(trip(Limit::P95Margin(margin), latency));
                }
            }
        }
        None
    }

    /// Whether `counts` (over the window) trip the guard's traffic limit, and why, for arms that
    /// serve traffic in the proportion `split` = (on, off) when nothing is wrong ((20, 80) for a
    /// 20% rollout). Once the "off" arm has `min_requests` outcomes, it predicts the "on" arm's,
    /// `off × on / off`; the guard trips when the "on" arm has more than `max_traffic_drop`
    /// percent (to a basis point) fewer, compared in whole numbers so the boundary is exact.
    /// Both arms see the same hours, so a quiet night lowers both and the prediction with them:
    /// only traffic that leaves the "on" arm alone trips it.
    ///
    /// ```
    /// use toggles::rules::Guard;
    /// use toggles::store::Counts;
    ///
    /// let guard = Guard::traffic_drop(30.0).min_requests(10);
    /// // An 80% rollout: the on arm should see four times what the off arm sees.
    /// assert!(guard.traffic_verdict(&Counts::new(280, 0, 100, 0), (80, 20)).is_none(), "30% down");
    /// assert!(guard.traffic_verdict(&Counts::new(279, 0, 100, 0), (80, 20)).is_some());
    /// // A quiet night: both arms down 90%, no drop.
    /// assert!(guard.traffic_verdict(&Counts::new(40, 0, 10, 0), (80, 20)).is_none());
    /// ```
    pub fn traffic_verdict(&self, counts: &Counts, split: (u64, u64)) -> Option<Trip> {
        let limit = self.max_traffic_drop?;
        let (on, off) = (counts.on_ok + counts.on_err, counts.off_ok + counts.off_err);
        if off < self.min_requests.max(1) || split.0 == 0 || split.1 == 0 {
            return None;
        }
        // Validated to 0..100, so 0 to 10,000 basis points.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let limit_bp = (limit * 100.0).round().clamp(0.0, 10_000.0) as u128;
        // on < off × split.0 / split.1 × (1 − limit), multiplied out.
        let kept = u128::from(on) * u128::from(split.1) * 10_000;
        let predicted = u128::from(off) * u128::from(split.0) * (10_000 - limit_bp);
        if kept >= predicted {
            return None;
        }
        Some(Trip {
            counts: *counts,
            on_rate: rate(counts.on_err, on.max(1)),
            off_rate: None,
            limit: Limit::TrafficDrop(limit),
            latency: None,
            traffic: Some(Traffic { on, off, split }),
        })
    }

    /// Whether `counts` (over the window) trip the guard's error limits, and why.
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
                    latency: None,
                    traffic: None,
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
                        latency: None,
                        traffic: None,
                    });
                }
            }
        }
        None
    }

    /// What is wrong with the guard on its own.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.max_error_rate.is_none()
            && self.max_margin.is_none()
            && self.max_slow_share.is_none()
            && self.max_p95_margin.is_none()
            && self.max_traffic_drop.is_none()
        {
            problems.push(
                "`guard` needs a limit: `max_error_rate`, `max_margin`, `max_slow_share`, `max_p95_margin` or `max_traffic_drop`"
                    .to_owned(),
            );
        }
        for (field, value) in [
            ("max_error_rate", self.max_error_rate),
            ("max_margin", self.max_margin),
            ("max_slow_share", self.max_slow_share),
            ("max_traffic_drop", self.max_traffic_drop),
        ] {
            if let Some(v) = value.filter(|v| !(0.0..100.0).contains(v)) {
                problems.push(format!(
                    "`guard.{field}` is from 0 (inclusive) to 100 (exclusive), not {v}"
                ));
            }
        }
        match (self.max_slow_share, self.latency_baseline_ms) {
            (Some(_), None) => problems.push(
                "`guard.max_slow_share` counts runs slower than `guard.latency_baseline_ms`, which is missing"
                    .to_owned(),
            ),
            (None, Some(_)) => problems.push(
                "`guard.latency_baseline_ms` is read only with `guard.max_slow_share`, which is missing"
                    .to_owned(),
            ),
            _ => {}
        }
        if let Some(ms) = self
            .latency_baseline_ms
            .filter(|ms| !(*ms > 0.0 && *ms <= LONGEST_BASELINE_MS))
        {
            problems.push(format!(
                "`guard.latency_baseline_ms` is a run time above 0 and up to {LONGEST_BASELINE_MS} milliseconds (71 minutes), not {ms}"
            ));
        }
        if let Some(v) = self
            .max_p95_margin
            .filter(|v| !(v.is_finite() && *v >= 0.0))
        {
            problems.push(format!(
                "`guard.max_p95_margin` is a percentage of the off arm's 95th percentile, 0 or more, not {v}"
            ));
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

/// The longest baseline a slow share may count against: 2^32 µs, the run-time counters' last
/// bucket.
const LONGEST_BASELINE_MS: f64 = 4_294_967.296;

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
    /// `max_slow_share` (percent) of runs slower than `latency_baseline_ms`.
    SlowShare {
        /// The baseline, in milliseconds.
        baseline_ms: f64,
        /// The share, in percent.
        percent: f64,
    },
    /// `max_p95_margin`, percent above the "off" arm's 95th percentile.
    P95Margin(f64),
    /// `max_traffic_drop`, percent below the "on" arm's predicted traffic.
    TrafficDrop(f64),
}

/// A traffic trip's figures: the arms' outcomes over the window, and the proportion the arms
/// serve in when nothing is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Traffic {
    /// Outcomes under the "on" arm.
    pub on: u64,
    /// Outcomes under the "off" arm (the control, for an arm).
    pub off: u64,
    /// The proportion (on, off) the arms serve in when nothing is wrong.
    pub split: (u64, u64),
}

impl Traffic {
    /// The "on" arm's share of the two arms' traffic when nothing is wrong.
    #[allow(clippy::cast_precision_loss)] // weights far below 2^52
    pub fn on_share(&self) -> f64 {
        self.split.0 as f64 / (self.split.0 + self.split.1) as f64
    }

    /// The "on" arm's outcomes the "off" arm's predict.
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    pub fn expected(&self) -> f64 {
        self.off as f64 * self.split.0 as f64 / self.split.1 as f64
    }
}

/// A run-time trip's figures: the arms' timed runs over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Latency {
    /// Runs timed under the "on" arm.
    pub on_runs: u64,
    /// Runs timed under the "off" arm (the control, for an arm).
    pub off_runs: u64,
    /// Of the "on" arm's runs, those slower than the baseline (for a slow-share trip).
    pub on_slow: u64,
    /// The "on" arm's 95th-percentile run time.
    pub on_p95: Duration,
    /// The "off" arm's.
    pub off_p95: Duration,
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
    /// The run times, for a run-time trip.
    pub latency: Option<Latency>,
    /// The traffic, for a traffic trip.
    pub traffic: Option<Traffic>,
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
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        match (self.limit, self.latency) {
            (
                Limit::SlowShare {
                    baseline_ms,
                    percent,
                },
                Some(l),
            ) => {
                return write!(
                    f,
                    "{on} runs slower than {baseline_ms} ms were {:.2}% ({} of {}), above the limit of {percent}%",
                    rate(l.on_slow, l.on_runs.max(1)),
                    l.on_slow,
                    l.on_runs
                );
            }
            (Limit::P95Margin(margin), Some(l)) => {
                return write!(
                    f,
                    "{on} 95th-percentile run time {:.1} ms ({} runs) is more than {margin}% above {off} {:.1} ms ({} runs)",
                    ms(l.on_p95),
                    l.on_runs,
                    ms(l.off_p95),
                    l.off_runs
                );
            }
            (Limit::TrafficDrop(limit), _) => {
                if let Some(t) = self.traffic {
                    let expected = t.expected();
                    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
                    let drop = (1.0 - t.on as f64 / expected) * 100.0;
                    return write!(
                        f,
                        "{on} traffic of {} outcomes is {drop:.2}% below the {expected:.1} that {off} {} predict at a {:.2}% share, more than the limit of {limit}%",
                        t.on,
                        t.off,
                        t.on_share() * 100.0
                    );
                }
            }
            _ => {}
        }
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
            (
                Limit::ErrorRate(limit)
                | Limit::SlowShare { percent: limit, .. }
                | Limit::P95Margin(limit)
                | Limit::TrafficDrop(limit),
                _,
            )
            | (Limit::Margin(limit), None) => {
                write!(f, " is above the limit of {limit}%")
            }
        }
    }
}
