//! Outcomes recorded under a flag, for its guard: counters striped across threads, so recording
//! is one uncontended atomic add, and drained by the guard's tick.

use std::ops::{Add, AddAssign};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::declare::{Flag, RunTimes, Runs, Variant, Variants};

/// Stripes per flag: threads spread over them, so two threads rarely add to one cache line.
pub(crate) const STRIPES: usize = 8;

/// One cache line of counters: on/ok, on/err, off/ok, off/err.
#[repr(align(64))]
#[derive(Default)]
struct Stripe([AtomicU64; 4]);

/// A flag's outcome counters since the guard's last tick. Allocated at the flag's first
/// recorded outcome (a flag nobody records for costs one pointer).
#[derive(Default)]
pub(crate) struct Outcomes {
    stripes: [Stripe; STRIPES],
}

impl Outcomes {
    /// The counts since the last take, reset to zero.
    pub(crate) fn take(&self) -> Counts {
        let mut sum = [0u64; 4];
        for stripe in &self.stripes {
            for (total, cell) in sum.iter_mut().zip(&stripe.0) {
                *total += cell.swap(0, Ordering::Relaxed);
            }
        }
        Counts {
            on_ok: sum[0],
            on_err: sum[1],
            off_ok: sum[2],
            off_err: sum[3],
        }
    }
}

/// One arm's counters in one stripe, on a cache line of its own: ok, err.
#[repr(align(64))]
#[derive(Default)]
struct ArmPair([AtomicU64; 2]);

/// A variant toggle's outcome counters per arm since the guard's last tick: a cache line per
/// arm per stripe, allocated at the toggle's first recorded outcome.
pub(crate) struct ArmOutcomes {
    /// `STRIPES` rows of one pair per arm.
    cells: Box<[ArmPair]>,
    arms: usize,
}

impl ArmOutcomes {
    fn new(arms: usize) -> ArmOutcomes {
        ArmOutcomes {
            cells: (0..STRIPES * arms).map(|_| ArmPair::default()).collect(),
            arms,
        }
    }

    #[inline]
    fn record(&self, arm: usize, ok: bool) {
        let pair = &self.cells[stripe() * self.arms + arm];
        pair.0[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
    }

    /// Each arm's successes and failures since the last take, reset to zero.
    pub(crate) fn take(&self) -> Vec<(u64, u64)> {
        let mut sums = vec![(0, 0); self.arms];
        for (i, pair) in self.cells.iter().enumerate() {
            let sum = &mut sums[i % self.arms];
            sum.0 += pair.0[0].swap(0, Ordering::Relaxed);
            sum.1 += pair.0[1].swap(0, Ordering::Relaxed);
        }
        sums
    }
}

/// A variant toggle's counters, allocated on first use.
pub(crate) type ArmOutcomeCells = OnceLock<ArmOutcomes>;

impl<E: Variants> Variant<E> {
    /// Records one outcome of code run under arm `arm` (what [`get`](Variant::get) returned
    /// for the request): `ok` whether the code succeeded. A guard in the toggle's rule
    /// ([`VariantRule::guard`](crate::rules::VariantRule::guard)) drops an arm to the control
    /// when it fails too often.
    ///
    /// Lock-free and allocation-free after the toggle's first outcome: one relaxed atomic add
    /// on a counter of this thread's stripe.
    ///
    /// ```
    /// use toggles::{toggle, Context, Variant, Variants};
    ///
    /// #[derive(Clone, Copy, Debug, PartialEq, Variants)]
    /// enum Checkout { Classic, OnePage }
    ///
    /// /// Try the one-page checkout against the classic one.
    /// #[toggle(namespace = "checkout", life = "temporary", remove_by = "2030-03-01")]
    /// static CHECKOUT_FLOW: Variant<Checkout> = Checkout::Classic;
    ///
    /// # fn pay(flow: Checkout) -> Result<(), String> { Ok(()) }
    /// let arm = CHECKOUT_FLOW.get(&Context::new().with_user("42"));
    /// let paid = pay(arm);
    /// CHECKOUT_FLOW.record(arm, paid.is_ok());
    /// ```
    #[inline]
    pub fn record(&self, arm: E, ok: bool) {
        let outcomes = self
            .outcomes
            .get_or_init(|| ArmOutcomes::new(E::ARMS.len()));
        outcomes.record(arm.index(), ok);
    }

    /// Records one outcome under arm `arm` as [`record`](Variant::record) does, and how long
    /// the code took, for a guard's run-time limits
    /// ([`Guard::max_slow_share`](crate::rules::Guard::max_slow_share),
    /// [`Guard::max_p95_margin`](crate::rules::Guard::max_p95_margin)): one more relaxed atomic
    /// add, on a counter of this thread's stripe.
    #[inline]
    pub fn record_timed(&self, arm: E, ok: bool, took: Duration) {
        self.record(arm, ok);
        self.run_times
            .get_or_init(|| RunTimes::new(E::ARMS.len()))
            .record(arm.index(), took);
    }

    /// A guard that records a failure under `arm` when dropped, unless
    /// [`ArmOutcome::ok`] was called first: an early return or a panic counts as a failure.
    /// While the rule in force has a guard with a run-time limit, it is timed from here to its
    /// end, and the run time recorded with the outcome (a failure's too: it is time a user
    /// waited).
    #[inline]
    pub fn outcome(&self, arm: E) -> ArmOutcome<'_, E> {
        ArmOutcome {
            variant: self,
            arm,
            ok: false,
            started: self.timed.load(Ordering::Relaxed).then(Instant::now),
        }
    }
}

/// An outcome under an arm not yet known: a failure when dropped, unless marked
/// [`ok`](ArmOutcome::ok). From [`Variant::outcome`].
#[must_use = "dropping it at once records a failure"]
pub struct ArmOutcome<'a, E: Variants> {
    variant: &'a Variant<E>,
    arm: E,
    ok: bool,
    started: Option<Instant>,
}

impl<E: Variants> ArmOutcome<'_, E> {
    /// Records a success.
    #[inline]
    pub fn ok(mut self) {
        self.ok = true;
    }
}

impl<E: Variants> Drop for ArmOutcome<'_, E> {
    #[inline]
    fn drop(&mut self) {
        match self.started {
            Some(started) => self
                .variant
                .record_timed(self.arm, self.ok, started.elapsed()),
            None => self.variant.record(self.arm, self.ok),
        }
    }
}

impl<E: Variants> std::fmt::Debug for ArmOutcome<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmOutcome")
            .field("variant", &self.variant.meta().full_name())
            .field("arm", &self.arm.name())
            .finish_non_exhaustive()
    }
}

/// This thread's stripe.
pub(crate) fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

/// The flag's counters, allocated on first use.
pub(crate) type OutcomeCells = OnceLock<Box<Outcomes>>;

impl Flag {
    /// Records one outcome of code run under this flag: `on` is the answer the flag gave (what
    /// [`is_enabled`](Flag::is_enabled) returned for the request), `ok` whether the code
    /// succeeded. A guard in the flag's rule ([`Guard`](crate::rules::Guard)) turns the flag off when
    /// the "on" arm fails too often.
    ///
    /// Lock-free and allocation-free after the flag's first outcome: one relaxed atomic add on
    /// a counter of this thread's stripe.
    ///
    /// ```
    /// use toggles::{toggle, Context, Flag};
    ///
    /// /// Grade problems with the rewritten engine.
    /// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
    /// static NEW_GRADER: Flag;
    ///
    /// # fn grade(new: bool) -> Result<u32, String> { Ok(if new { 2 } else { 1 }) }
    /// let on = NEW_GRADER.is_enabled(&Context::new().with_user("42"));
    /// let graded = grade(on);
    /// NEW_GRADER.record(on, graded.is_ok());
    /// ```
    #[inline]
    pub fn record(&self, on: bool, ok: bool) {
        let outcomes = self.outcomes.get_or_init(Box::default);
        let cell = (usize::from(!on) << 1) | usize::from(!ok);
        outcomes.stripes[stripe()].0[cell].fetch_add(1, Ordering::Relaxed);
    }

    /// A guard that records a failure under the answer `on` when dropped, unless
    /// [`Outcome::ok`] was called first: an early return or a panic counts as a failure. While
    /// the rule in force has a guard with a run-time limit, it is timed from here to its end
    /// (`ok` or the drop), and the run time recorded with the outcome
    /// ([`record_timed`](Flag::record_timed); a failure's too: it is time a user waited): two
    /// readings of the clock, which cost more than the rest, so nobody else pays them.
    ///
    /// ```
    /// use toggles::{toggle, Context, Flag};
    ///
    /// /// Grade problems with the rewritten engine.
    /// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
    /// static NEW_GRADER: Flag;
    ///
    /// # fn grade(new: bool) -> Result<u32, String> { Ok(if new { 2 } else { 1 }) }
    /// fn handle() -> Result<u32, String> {
    ///     let on = NEW_GRADER.is_enabled(&Context::new().with_user("42"));
    ///     let outcome = NEW_GRADER.outcome(on);
    ///     let score = grade(on)?; // an error here is recorded as a failure
    ///     outcome.ok();
    ///     Ok(score)
    /// }
    /// # handle().unwrap();
    /// ```
    #[inline]
    pub fn outcome(&self, on: bool) -> Outcome<'_> {
        Outcome {
            flag: self,
            on,
            ok: false,
            started: self.timed.load(Ordering::Relaxed).then(Instant::now),
        }
    }

    /// Records one outcome as [`record`](Flag::record) does, and how long the code took, for
    /// a guard's run-time limits ([`Guard::max_slow_share`](crate::rules::Guard::max_slow_share),
    /// [`Guard::max_p95_margin`](crate::rules::Guard::max_p95_margin)): one more relaxed
    /// atomic add, on a counter of this thread's stripe. Allocation-free after the flag's first
    /// timed outcome, which allocates its run-time counters (29 KiB).
    ///
    /// ```
    /// use std::time::Instant;
    /// use toggles::{toggle, Context, Flag};
    ///
    /// /// Grade problems with the rewritten engine.
    /// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
    /// static NEW_GRADER: Flag;
    ///
    /// # fn grade(new: bool) -> Result<u32, String> { Ok(if new { 2 } else { 1 }) }
    /// let on = NEW_GRADER.is_enabled(&Context::new().with_user("42"));
    /// let started = Instant::now();
    /// let graded = grade(on);
    /// NEW_GRADER.record_timed(on, graded.is_ok(), started.elapsed());
    /// ```
    #[inline]
    pub fn record_timed(&self, on: bool, ok: bool, took: Duration) {
        self.record(on, ok);
        self.run_times
            .get_or_init(|| RunTimes::new(2))
            .record(usize::from(!on), took);
    }

    /// The counts recorded since the last call, reset: for the guard's tick.
    pub(crate) fn take_outcomes(&self) -> Counts {
        self.outcomes.get().map(|o| o.take()).unwrap_or_default()
    }

    /// The run times recorded since the last call under on, and off, reset.
    pub(crate) fn take_run_times(&self) -> [Runs; 2] {
        self.run_times
            .get()
            .map(RunTimes::take)
            .and_then(|arms| <[Runs; 2]>::try_from(arms).ok())
            .unwrap_or_default()
    }
}

/// An outcome not yet known: a failure when dropped, unless marked [`ok`](Outcome::ok). From
/// [`Flag::outcome`].
#[must_use = "dropping it at once records a failure"]
pub struct Outcome<'a> {
    flag: &'a Flag,
    on: bool,
    ok: bool,
    started: Option<Instant>,
}

impl Outcome<'_> {
    /// Records a success.
    #[inline]
    pub fn ok(mut self) {
        self.ok = true;
    }
}

impl Drop for Outcome<'_> {
    #[inline]
    fn drop(&mut self) {
        match self.started {
            Some(started) => self.flag.record_timed(self.on, self.ok, started.elapsed()),
            None => self.flag.record(self.on, self.ok),
        }
    }
}

impl std::fmt::Debug for Outcome<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field("flag", &self.flag.meta().full_name())
            .field("on", &self.on)
            .finish_non_exhaustive()
    }
}

/// Outcomes counted per arm: successes and failures while the flag answered on, and off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// Successes under "on".
    pub on_ok: u64,
    /// Failures under "on".
    pub on_err: u64,
    /// Successes under "off".
    pub off_ok: u64,
    /// Failures under "off".
    pub off_err: u64,
}

impl Counts {
    /// These counts: successes and failures under "on", then under "off".
    pub const fn new(on_ok: u64, on_err: u64, off_ok: u64, off_err: u64) -> Counts {
        Counts {
            on_ok,
            on_err,
            off_ok,
            off_err,
        }
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

impl Add for Counts {
    type Output = Counts;
    fn add(self, other: Counts) -> Counts {
        Counts {
            on_ok: self.on_ok + other.on_ok,
            on_err: self.on_err + other.on_err,
            off_ok: self.off_ok + other.off_ok,
            off_err: self.off_err + other.off_err,
        }
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        *self = *self + other;
    }
}
