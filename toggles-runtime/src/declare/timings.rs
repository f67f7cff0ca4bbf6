//! Run times of the code under one arm of a toggle, over a guard's window.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Run times of the code under one arm of a toggle (a flag's on or off, a variant's arm) over a
/// guard's window: a histogram in microseconds, to two significant digits (HdrHistogram), which
/// merges across threads and ticks by adding. Code records them with
/// [`Flag::outcome`](crate::Flag::outcome) (timed from its creation to its end) or
/// [`Flag::record_timed`](crate::Flag::record_timed); a [`Guard`](crate::rules::Guard) judges them.
///
/// ```
/// use std::time::Duration;
/// use toggles::rules::Timings;
///
/// let mut runs = Timings::new();
/// for ms in 1..=100 {
///     runs.record(Duration::from_millis(ms));
/// }
/// assert_eq!(runs.len(), 100);
/// assert_eq!(runs.slower_than(Duration::from_millis(90)), 10);
/// let p95 = runs.quantile(0.95).as_millis();
/// assert!((94..=96).contains(&p95), "{p95}");
/// ```
#[derive(Clone, PartialEq)]
pub struct Timings(Histogram<u64>);

impl std::fmt::Debug for Timings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timings")
            .field("runs", &self.len())
            .field("p50", &self.quantile(0.5))
            .field("p95", &self.quantile(0.95))
            .field("max", &Duration::from_micros(self.0.max()))
            .finish()
    }
}

/// The longest run time kept apart from shorter ones, in microseconds: 2^33 (2.4 hours), past
/// the run-time counters' last bucket; a longer one counts as this.
const LONGEST: u64 = 1 << 33;

impl Default for Timings {
    fn default() -> Timings {
        Timings::new()
    }
}

impl Timings {
    /// No runs.
    pub fn new() -> Timings {
        // Two significant digits is within the resolution the runs are recorded at. Bounded,
        // so recording never resizes, and adding two never runs out of room.
        Timings(
            Histogram::new_with_bounds(1, LONGEST, 2)
                .expect("1 µs to 2^33 µs at 2 significant digits is a valid histogram"),
        )
    }

    /// One run that took `took`.
    pub fn record(&mut self, took: Duration) {
        self.record_micros(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), 1);
    }

    /// `n` runs of `micros` microseconds each.
    pub(crate) fn record_micros(&mut self, micros: u64, n: u64) {
        self.0.saturating_record_n(micros.min(LONGEST), n);
    }

    /// How many runs.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The run time at quantile `q` (0.95 for the 95th percentile); zero with no runs.
    pub fn quantile(&self, q: f64) -> Duration {
        // The lowest value of the histogram's bin: where the run-time counters' bucket middles
        // fall, so a run reads back as its bucket kept it.
        Duration::from_micros(self.0.lowest_equivalent(self.0.value_at_quantile(q)))
    }

    /// The mean run time; zero with no runs.
    pub fn mean(&self) -> Duration {
        Duration::from_secs_f64(self.0.mean() / 1_000_000.0)
    }

    /// How many runs took longer than `baseline`.
    pub fn slower_than(&self, baseline: Duration) -> u64 {
        let baseline = u64::try_from(baseline.as_micros()).unwrap_or(u64::MAX);
        self.0
            .iter_recorded()
            .filter(|v| self.0.lowest_equivalent(v.value_iterated_to()) > baseline)
            .map(|v| v.count_at_value())
            .sum()
    }

    /// Adds `other`'s runs to these.
    pub fn add(&mut self, other: &Timings) {
        self.0
            .add(&other.0)
            .expect("two histograms of the same bounds add");
    }
}
