//! Run times recorded under a toggle's arms, for a latency guard: per stripe and arm, counters
//! over log-linear buckets of microseconds (16 to each power of two, so a run time is kept to
//! within 1/32 of itself: its bucket's middle), so recording is one uncontended atomic add, drained by the guard's
//! tick into [`Timings`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::declare::outcomes::{stripe, STRIPES};
use crate::declare::Timings;

/// Runs below this many microseconds each have a bucket of their own.
const EXACT: u64 = 32;
/// Buckets to each power of two above [`EXACT`].
const PER_OCTAVE: u64 = 16;
/// Buckets in all: exact ones, then 16 to each power of two up to 2^32 µs (71 minutes); a
/// longer run counts in the last.
const BUCKETS: usize = 32 + 27 * 16;

/// A toggle's run-time counters since the guard's last tick: `BUCKETS` per arm per stripe
/// (1.8 KiB each; 29 KiB for a flag's two arms), allocated at its first timed outcome. 32 bits
/// a counter: a bucket would need four billion runs in one stripe between two ticks to wrap.
pub(crate) struct RunTimes {
    cells: Box<[AtomicU32]>,
    arms: usize,
}

/// A toggle's run-time counters, allocated on first use.
pub(crate) type RunTimeCells = OnceLock<RunTimes>;

impl RunTimes {
    pub(crate) fn new(arms: usize) -> RunTimes {
        RunTimes {
            cells: (0..STRIPES * arms * BUCKETS)
                .map(|_| AtomicU32::new(0))
                .collect(),
            arms,
        }
    }

    #[inline]
    pub(crate) fn record(&self, arm: usize, took: Duration) {
        let row = stripe() * self.arms + arm;
        self.cells[row * BUCKETS + bucket(micros(took))].fetch_add(1, Ordering::Relaxed);
    }

    /// Each arm's run times since the last take, the counters reset to zero.
    pub(crate) fn take(&self) -> Vec<Runs> {
        let mut arms = vec![[0u64; BUCKETS]; self.arms];
        for (row, buckets) in self.cells.chunks(BUCKETS).enumerate() {
            let sums = &mut arms[row % self.arms];
            for (sum, cell) in sums.iter_mut().zip(buckets) {
                // Most buckets are empty: reading one costs far less than resetting it.
                if cell.load(Ordering::Relaxed) != 0 {
                    *sum += u64::from(cell.swap(0, Ordering::Relaxed));
                }
            }
        }
        arms.iter()
            .map(|sums| {
                // Bucket indexes are below `BUCKETS`, so they fit.
                #[allow(clippy::cast_possible_truncation)]
                let counted = sums
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| **n > 0)
                    .map(|(i, n)| (i as u16, *n));
                Runs(counted.collect())
            })
            .collect()
    }
}

/// One arm's run times over a tick, as the buckets counted them: what a guard's window keeps
/// per tick (a few bytes a bucket in use, where a histogram takes kilobytes), read as
/// [`Timings`] when judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Runs(Vec<(u16, u64)>);

impl Runs {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The counts per bucket in use, by increasing bucket: what a store keeps.
    pub(crate) fn buckets(&self) -> &[(u16, u64)] {
        &self.0
    }

    /// Runs from counts per bucket, as a store answers them; a bucket past the last (a
    /// newer version's scale) counts in the last.
    pub(crate) fn from_buckets(buckets: &[(u16, u64)]) -> Runs {
        let mut runs = Runs::default();
        let last = u16::try_from(BUCKETS - 1).unwrap_or(u16::MAX);
        runs.merge(&Runs(
            buckets.iter().map(|&(b, n)| (b.min(last), n)).collect(),
        ));
        runs
    }

    /// Adds `other`'s runs to these, bucket by bucket.
    pub(crate) fn merge(&mut self, other: &Runs) {
        let mut sums: std::collections::BTreeMap<u16, u64> = self.0.iter().copied().collect();
        for &(bucket, n) in &other.0 {
            *sums.entry(bucket).or_default() += n;
        }
        self.0 = sums.into_iter().filter(|(_, n)| *n > 0).collect();
    }

    /// Adds these runs, each at its bucket's middle, to `timings`.
    pub(crate) fn add_to(&self, timings: &mut Timings) {
        for &(bucket, n) in &self.0 {
            timings.record_micros(middle(usize::from(bucket)), n);
        }
    }
}

/// `took` in whole microseconds, saturating.
fn micros(took: Duration) -> u64 {
    u64::try_from(took.as_micros()).unwrap_or(u64::MAX)
}

/// The bucket of a run of `micros` microseconds.
#[inline]
fn bucket(micros: u64) -> usize {
    if micros < EXACT {
        // Below 32, so it fits.
        #[allow(clippy::cast_possible_truncation)]
        return micros as usize;
    }
    // The power of two at or below `micros`: 5 or more here.
    let power = u64::from(micros.ilog2());
    let within = (micros >> (power - 4)) & (PER_OCTAVE - 1);
    // Bounded by `BUCKETS`, so it fits.
    #[allow(clippy::cast_possible_truncation)]
    let index = (EXACT + (power - 5) * PER_OCTAVE + within) as usize;
    index.min(BUCKETS - 1)
}

/// The shortest run time bucket `index` counts, and its width.
fn range(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < EXACT {
        return (index, 1);
    }
    let power = 5 + (index - EXACT) / PER_OCTAVE;
    let within = (index - EXACT) % PER_OCTAVE;
    ((PER_OCTAVE + within) << (power - 4), 1 << (power - 4))
}

/// The run time a bucket's runs are taken to have had: the middle of its range.
fn middle(index: usize) -> u64 {
    let (low, width) = range(index);
    low + width / 2
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn buckets_follow_one_another_without_gaps() {
        // Each bucket starts where the one before ends: every value up to 2^22, then each
        // bucket's first value up to the last bucket.
        let mut previous = 0;
        for micros in 1..1 << 22 {
            let b = bucket(micros);
            assert!(
                b == previous || b == previous + 1,
                "{micros}: {previous} then {b}"
            );
            previous = b;
        }
        for i in 1..BUCKETS {
            let (first, _) = range(i);
            assert_eq!((bucket(first - 1), bucket(first)), (i - 1, i), "bucket {i}");
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket((1 << 32) - 1), BUCKETS - 1);
    }

    proptest! {
        #[test]
        fn a_bucket_keeps_a_run_to_within_a_32nd(micros in 0u64..1 << 32) {
            let kept = middle(bucket(micros));
            let off = kept.abs_diff(micros);
            prop_assert!(off * 32 <= micros, "{micros} kept as {kept}");
        }

        /// Through the counters and the histogram, as a guard reads them: a lone run's
        /// percentile and its side of a baseline are still within a 32nd.
        #[test]
        fn a_run_read_back_is_within_a_32nd(micros in 1u64..1 << 32) {
            let times = RunTimes::new(1);
            times.record(0, Duration::from_micros(micros));
            let mut timings = Timings::new();
            times.take()[0].add_to(&mut timings);
            let read = u64::try_from(timings.quantile(0.95).as_micros()).unwrap();
            prop_assert!(read.abs_diff(micros) * 32 <= micros, "{micros} read as {read}");
            let margin = micros / 32 + 1;
            let below = Duration::from_micros(micros.saturating_sub(margin));
            prop_assert_eq!(timings.slower_than(below), 1);
            prop_assert_eq!(timings.slower_than(Duration::from_micros(micros + margin)), 0);
        }
    }

    #[test]
    fn take_hands_each_arm_its_runs_and_resets() {
        let times = RunTimes::new(3);
        for ms in [10, 20, 30, 40] {
            times.record(2, Duration::from_millis(ms));
        }
        times.record(0, Duration::from_micros(7));
        let taken: Vec<Timings> = times
            .take()
            .iter()
            .map(|runs| {
                let mut t = Timings::new();
                runs.add_to(&mut t);
                t
            })
            .collect();
        assert_eq!(
            taken.iter().map(Timings::len).collect::<Vec<_>>(),
            [1, 0, 4]
        );
        assert_eq!(taken[0].quantile(0.5), Duration::from_micros(7));
        let median = taken[2].quantile(0.5).as_secs_f64() * 1000.0;
        assert!((19.0..=21.0).contains(&median), "{median} ms");
        assert!(times.take().iter().all(Runs::is_empty));
    }
}
