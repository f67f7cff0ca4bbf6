//! An experiment's results: per arm, the units exposed, the units that converted on each goal,
//! the rate with its 95% interval, and the difference from the control with a two-proportion
//! test.

use std::fmt;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::declare::{registry, Cells};
use crate::state::installed_store;
use crate::stores::{ExperimentCounts, FeedbackLog, StoreError};

/// The confidence of every interval: 95%.
pub const CONFIDENCE: f64 = 0.95;

/// An experiment's results, arm by arm in declaration order, the control first among them as
/// declared. Build them from the installed store with [`results`], or from counts a tool read
/// with [`Results::from_counts`].
///
/// Units, not requests: a unit counts once, in the arm it was first exposed to, and converts on
/// a goal once, at or after that exposure. So each arm's conversions are a binomial sample, and
/// the intervals and tests below are the textbook ones for proportions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Results {
    /// The variant toggle's full name.
    pub toggle: String,
    /// The control arm's name.
    pub control: String,
    /// Every goal any unit converted on, in name order.
    pub goals: Vec<String>,
    /// Per arm, in declaration order.
    pub arms: Vec<ArmResult>,
}

/// One arm's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ArmResult {
    /// The arm's name.
    pub arm: String,
    /// Units exposed to it.
    pub exposed: u64,
    /// Per goal, in the order of [`Results::goals`].
    pub goals: Vec<GoalResult>,
    /// Pieces of feedback given on the arm ([`feedback`](crate::feedback)).
    #[serde(default)]
    pub feedback: u64,
}

/// One arm's results on one goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GoalResult {
    /// The goal.
    pub goal: String,
    /// Units of the arm that converted on it.
    pub converted: u64,
    /// `converted / exposed`; `None` when no unit was exposed.
    pub rate: Option<f64>,
    /// The rate's 95% interval (Wilson's score interval, which stays within 0 and 1 and holds
    /// its coverage for small counts and rates near 0 or 1); `None` when no unit was exposed.
    pub interval: Option<(f64, f64)>,
    /// The difference from the control on this goal; `None` for the control itself, and when
    /// either arm has no unit exposed.
    pub versus_control: Option<Comparison>,
}

/// An arm's rate against the control's on one goal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Comparison {
    /// The arm's rate minus the control's.
    pub difference: f64,
    /// The difference's 95% interval (Wald, from each arm's own variance).
    pub interval: (f64, f64),
    /// The difference over the control's rate (the lift); `None` when the control's rate is 0.
    pub relative: Option<f64>,
    /// The two-proportion z statistic, with the pooled rate under the null hypothesis of no
    /// difference.
    pub z: f64,
    /// The two-sided p-value of that test; 1 when both rates are 0 or both 1 (no variance).
    pub p_value: f64,
    /// Whether the p-value is below 0.05. Per arm and goal, with no correction for comparing
    /// several arms or goals, nor for looking at results as they come in: read it as a first
    /// signal, and fix an experiment's length before judging it.
    pub significant: bool,
}

/// Why an experiment's results could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResultsError {
    /// No toggle of this program has the name, or it is not a variant toggle.
    #[error("`{0}` is not a variant toggle of this program")]
    NotAVariant(String),
    /// No store is installed.
    #[error("no store is installed (call `toggles::install` first)")]
    NoStore,
    /// The installed store keeps no exposures (a store of your own that does not implement
    /// them).
    #[error("the installed store ({0}) keeps no experiment counts")]
    NotKept(String),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The results of the experiment of the variant toggle `toggle`, from the counts the installed
/// store keeps (the fleet's, with PostgreSQL; every process's sharing the file, with the file
/// store; this process's, with the memory store).
/// Only a tracked rule's exposures are counted ([`VariantRule::track`](crate::rules::VariantRule::track)).
pub fn results(toggle: &str) -> Result<Results, ResultsError> {
    let info = registry()
        .get(toggle)
        .ok_or_else(|| ResultsError::NotAVariant(toggle.to_owned()))?;
    let Cells::Variant(cells) = info.toggle().cells() else {
        return Err(ResultsError::NotAVariant(toggle.to_owned()));
    };
    let store = installed_store().ok_or(ResultsError::NoStore)?;
    let counts = store.experiment_counts(toggle)?;
    if counts.is_none() && !store.record_exposures(&[])? {
        return Err(ResultsError::NotKept(store.describe()));
    }
    let control = cells.arms[cells.control];
    let results = Results::from_counts(toggle, cells.arms, control, &counts.unwrap_or_default());
    Ok(match store.feedback(toggle, 0)? {
        Some(log) => results.with_feedback(&log),
        None => results,
    })
}

impl Results {
    /// The results with each arm's count of feedback from `log` (a store's
    /// [`feedback`](crate::store::Store::feedback)), for the arms the results list.
    #[must_use]
    pub fn with_feedback(mut self, log: &FeedbackLog) -> Results {
        for arm in &mut self.arms {
            arm.feedback = log.per_arm.get(&arm.arm).copied().unwrap_or(0);
        }
        self
    }

    /// The results of the counts a store answered for `toggle`, whose arms are `arms` in
    /// declaration order and whose control is `control`. Arms the counts name that `arms` does
    /// not (an arm since removed from the code) are listed after the declared ones.
    ///
    /// ```
    /// use toggles::experiment::{ArmCounts, ExperimentCounts, Results};
    ///
    /// let mut counts = ExperimentCounts::new();
    /// counts.insert("classic".into(), ArmCounts::new(1000, [("purchase", 100)]));
    /// counts.insert("one_page".into(), ArmCounts::new(1000, [("purchase", 130)]));
    /// let results = Results::from_counts("checkout.flow", &["classic", "one_page"], "classic", &counts);
    /// let one_page = &results.arms[1].goals[0];
    /// assert_eq!(one_page.rate, Some(0.13));
    /// let versus = one_page.versus_control.unwrap();
    /// assert!((versus.difference - 0.03).abs() < 1e-12);
    /// assert!(versus.significant, "p = {}", versus.p_value);
    /// ```
    pub fn from_counts(
        toggle: &str,
        arms: &[&str],
        control: &str,
        counts: &ExperimentCounts,
    ) -> Results {
        let mut goals: Vec<String> = counts
            .values()
            .flat_map(|c| c.converted.keys().cloned())
            .collect();
        goals.sort();
        goals.dedup();
        let mut names: Vec<&str> = arms.to_vec();
        names.extend(
            counts
                .keys()
                .map(String::as_str)
                .filter(|arm| !arms.contains(arm)),
        );
        let of = |arm: &str, goal: &str| {
            let c = counts.get(arm);
            let exposed = c.map_or(0, |c| c.exposed);
            let converted = c.and_then(|c| c.converted.get(goal)).copied().unwrap_or(0);
            (exposed, converted)
        };
        let arms = names
            .iter()
            .map(|arm| ArmResult {
                arm: (*arm).to_owned(),
                exposed: counts.get(*arm).map_or(0, |c| c.exposed),
                feedback: 0,
                goals: goals
                    .iter()
                    .map(|goal| {
                        let (n, x) = of(arm, goal);
                        let versus_control = (*arm != control)
                            .then(|| compare(of(control, goal), (n, x)))
                            .flatten();
                        GoalResult {
                            goal: goal.clone(),
                            converted: x,
                            rate: rate(n, x),
                            interval: wilson(n, x),
                            versus_control,
                        }
                    })
                    .collect(),
            })
            .collect();
        Results {
            toggle: toggle.to_owned(),
            control: control.to_owned(),
            goals,
            arms,
        }
    }
}

/// A table per goal: each arm's units exposed and converted, rate, 95% interval, and the
/// difference from the control (in percentage points, with its interval, the lift and the
/// p-value).
///
/// ```text
/// checkout.checkout_flow — units exposed and converted; 95% intervals; against `classic`, the control
/// purchase:
///   arm            exposed converted     rate  95% interval       against the control
///   classic           1000       100   10.00%  [8.29%, 12.02%]    (control)
///   one_page          1000       130   13.00%  [11.06%, 15.23%]   +3.00 pts [+0.21, +5.79], +30.0%, p = 0.035 (significant)
/// ```
impl fmt::Display for Results {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} — units exposed and converted; 95% intervals; against `{}`, the control",
            self.toggle, self.control
        )?;
        self.write_goals(f)?;
        if self.arms.iter().any(|a| a.feedback > 0) {
            let counts: Vec<String> = self
                .arms
                .iter()
                .map(|a| format!("{} {}", a.arm, a.feedback))
                .collect();
            writeln!(f, "feedback: {}", counts.join(", "))?;
        }
        Ok(())
    }
}

impl Results {
    fn write_goals(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.arms.iter().all(|a| a.exposed == 0) {
            return writeln!(f, "  no unit exposed yet (is the rule tracked?)");
        }
        if self.goals.is_empty() {
            for arm in &self.arms {
                writeln!(f, "  {:<12} {:>9} exposed", arm.arm, arm.exposed)?;
            }
            return writeln!(f, "  no conversion yet");
        }
        for (g, goal) in self.goals.iter().enumerate() {
            writeln!(f, "{goal}:")?;
            writeln!(
                f,
                "  {:<12} {:>9} {:>9} {:>8}  {:<18} against the control",
                "arm", "exposed", "converted", "rate", "95% interval"
            )?;
            for arm in &self.arms {
                let r = &arm.goals[g];
                let rate = r.rate.map_or_else(|| "—".to_owned(), percent);
                let interval = r.interval.map_or_else(
                    || "—".to_owned(),
                    |(lo, hi)| format!("[{}, {}]", percent(lo), percent(hi)),
                );
                let versus = if arm.arm == self.control {
                    "(control)".to_owned()
                } else {
                    r.versus_control
                        .map_or_else(|| "—".to_owned(), |v| v.to_string())
                };
                writeln!(
                    f,
                    "  {:<12} {:>9} {:>9} {rate:>8}  {interval:<18} {versus}",
                    arm.arm, arm.exposed, r.converted
                )?;
            }
        }
        Ok(())
    }
}

/// `+3.00 pts [+0.21, +5.79], +30.0%, p = 0.035 (significant)`.
impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let points = |d: f64| format!("{:+.2}", d * 100.0);
        let lift = self
            .relative
            .map(|l| format!(", {:+.1}%", l * 100.0))
            .unwrap_or_default();
        write!(
            f,
            "{} pts [{}, {}]{lift}, p = {:.3}{}",
            points(self.difference),
            points(self.interval.0),
            points(self.interval.1),
            self.p_value,
            if self.significant {
                " (significant)"
            } else {
                ""
            }
        )
    }
}

fn percent(p: f64) -> String {
    format!("{:.2}%", p * 100.0)
}

/// The two-sided critical value of the standard normal at [`CONFIDENCE`]: 1.96.
fn critical() -> f64 {
    standard().inverse_cdf(1.0 - (1.0 - CONFIDENCE) / 2.0)
}

fn standard() -> Normal {
    Normal::standard()
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^53
fn rate(n: u64, x: u64) -> Option<f64> {
    (n > 0).then(|| x as f64 / n as f64)
}

/// Wilson's score interval for `x` successes in `n` trials.
#[allow(clippy::cast_precision_loss)]
fn wilson(n: u64, x: u64) -> Option<(f64, f64)> {
    let p = rate(n, x)?;
    let every = x == n;
    let (n, z) = (n as f64, critical());
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    // At 0 or every success the bound is exactly 0 or 1, which rounding would miss.
    let lower = if x == 0 {
        0.0
    } else {
        (centre - half).max(0.0)
    };
    let upper = if every { 1.0 } else { (centre + half).min(1.0) };
    Some((lower, upper))
}

/// The arm `(n, x)` against the control `(n, x)`.
#[allow(clippy::cast_precision_loss)]
fn compare(control: (u64, u64), arm: (u64, u64)) -> Option<Comparison> {
    let (p0, p1) = (rate(control.0, control.1)?, rate(arm.0, arm.1)?);
    let (n0, n1) = (control.0 as f64, arm.0 as f64);
    let difference = p1 - p0;
    let spread = (p0 * (1.0 - p0) / n0 + p1 * (1.0 - p1) / n1).sqrt();
    let z_crit = critical();
    let pooled = (control.1 + arm.1) as f64 / (n0 + n1);
    let null_spread = (pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1)).sqrt();
    let (z, p_value) = if null_spread > 0.0 {
        let z = difference / null_spread;
        // The upper tail itself, not one minus the CDF, which rounds to 0 past |z| of about 8.
        (z, 2.0 * standard().sf(z.abs()))
    } else {
        (0.0, 1.0)
    };
    Some(Comparison {
        difference,
        interval: (difference - z_crit * spread, difference + z_crit * spread),
        relative: (p0 > 0.0).then(|| difference / p0),
        z,
        p_value,
        significant: p_value < 1.0 - CONFIDENCE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::ArmCounts;

    fn counts(arms: &[(&str, u64, u64)]) -> ExperimentCounts {
        arms.iter()
            .map(|(arm, n, x)| ((*arm).to_owned(), ArmCounts::new(*n, [("purchase", *x)])))
            .collect()
    }

    #[track_caller]
    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-9,
            "{actual} is not {expected}"
        );
    }

    /// Against figures worked by hand (and checked with Python's `math.erf`): 100 of 1,000
    /// against 130 of 1,000.
    #[test]
    fn a_two_proportion_example_worked_by_hand() {
        let results = Results::from_counts(
            "checkout.flow",
            &["classic", "one_page"],
            "classic",
            &counts(&[("classic", 1000, 100), ("one_page", 1000, 130)]),
        );
        assert_eq!(results.goals, ["purchase"]);
        let control = &results.arms[0].goals[0];
        assert_eq!(control.rate, Some(0.1));
        let (lo, hi) = control.interval.unwrap();
        close(lo, 0.082_909_443_593_095_71);
        close(hi, 0.120_151_963_195_348_4);
        assert!(control.versus_control.is_none());
        let arm = &results.arms[1].goals[0];
        let (lo, hi) = arm.interval.unwrap();
        close(lo, 0.110_563_774_624_841_93);
        close(hi, 0.152_268_026_654_468_9);
        let versus = arm.versus_control.unwrap();
        close(versus.difference, 0.03);
        close(versus.z, 2.102_740_605_622_114);
        close(versus.p_value, 0.035_488_450_466_474_75);
        close(versus.interval.0, 0.002_067_934_439_376_365_6);
        close(versus.interval.1, 0.057_932_065_560_623_636);
        close(versus.relative.unwrap(), 0.3);
        assert!(versus.significant);
    }

    #[test]
    fn the_table_shows_each_arm_against_the_control() {
        let results = Results::from_counts(
            "checkout.flow",
            &["classic", "one_page"],
            "classic",
            &counts(&[("classic", 1000, 100), ("one_page", 1000, 130)]),
        );
        let table = results.to_string();
        assert!(
            table.contains(
                "  classic           1000       100   10.00%  [8.29%, 12.02%]    (control)"
            ),
            "{table}"
        );
        assert!(
            table.contains("13.00%  [11.06%, 15.23%]   +3.00 pts [+0.21, +5.79], +30.0%, p = 0.035 (significant)"),
            "{table}"
        );
    }

    #[test]
    fn a_difference_within_the_noise_is_not_significant() {
        let results = Results::from_counts(
            "checkout.flow",
            &["classic", "one_page"],
            "classic",
            &counts(&[("classic", 500, 50), ("one_page", 500, 60)]),
        );
        let versus = results.arms[1].goals[0].versus_control.unwrap();
        close(versus.z, 1.010_668_323_265_702);
        close(versus.p_value, 0.312_175_202_965_051_3);
        assert!(!versus.significant);
    }

    #[test]
    fn arms_without_units_and_rates_without_variance() {
        let results = Results::from_counts(
            "checkout.flow",
            &["classic", "one_page", "express"],
            "classic",
            &counts(&[("classic", 10, 0), ("one_page", 10, 0), ("retired", 3, 1)]),
        );
        let names: Vec<&str> = results.arms.iter().map(|a| a.arm.as_str()).collect();
        assert_eq!(names, ["classic", "one_page", "express", "retired"]);
        let express = &results.arms[2].goals[0];
        assert_eq!(
            (express.rate, express.interval, express.versus_control),
            (None, None, None)
        );
        let one_page = results.arms[1].goals[0].versus_control.unwrap();
        assert_eq!(one_page.p_value.to_bits(), 1.0f64.to_bits());
        assert_eq!(one_page.relative, None);
        // Exactly 0, not a rounding error above it: no success, no lower bound.
        assert_eq!(results.arms[0].goals[0].interval.unwrap().0.to_bits(), 0);
    }
}
