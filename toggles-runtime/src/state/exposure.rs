//! Exposures: each unit a tracked experiment draws, handed off the hot path to the subscribers
//! the host registered on its installation.
//!
//! A check that draws a unit into a tracked experiment appends what the exposure needs (the
//! toggle's registry id, the arm, the unit, the bucket, the time) to a bounded ring of its own
//! thread and goes on: no lock, no shared write, no allocation, no clock read (the time is a
//! coarse clock the drain keeps). A record is as long as its unit id, so a typical exposure is
//! half a cache line and the ring's lines cross to the drain's core a few exposures at a time.
//! When the ring is full the exposure is dropped and counted, so a subscriber that falls behind
//! costs the check nothing more. A unit is exposed to an arm once per window, windows aligned
//! to the clock (each hour on the hour by default): a small table per thread remembers the
//! units it handed over in the current window, so a repeat is not handed over again, and the
//! drain deduplicates exactly across threads. Conversions travel the same rings and are never
//! held back: the store keeps each unit's latest per goal.
//!
//! The installation drains every thread's ring each tick (and at shutdown, before it lets go of
//! the store): it deduplicates per toggle, arm and unit in each window, turns each record into an
//! [`Exposure`], hands the batch to every subscriber on its own thread, and records exposures
//! and conversions in the store.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use crate::compile::Compiled;
use crate::declare::{registry, Cells};
use crate::state::{installed_store, retained};
use crate::stores::{Converted, Exposed};
use crate::targeting::{Step, Timestamp};

/// The bytes of exposures each checking thread holds for the drain at most; past that its
/// exposures are dropped and counted. An exposure takes 20 bytes and its unit id's: a thread
/// holds about 4,000 exposures of 12-byte ids, or 2,300 of UUIDs, between two drains.
pub const EXPOSURE_BUFFER: usize = 128 * 1024;

/// How often an installation hands exposures to its subscribers, unless told otherwise
/// ([`Installer::exposure_tick`](crate::Installer::exposure_tick)).
pub const EXPOSURE_TICK: Duration = Duration::from_millis(250);

/// How long a unit's exposure to one arm is not repeated, unless told otherwise
/// ([`Installer::exposure_window`](crate::Installer::exposure_window)).
pub const EXPOSURE_WINDOW: Duration = Duration::from_secs(3600);

/// The longest unit id an exposure carries, in bytes: a longer one is dropped and counted.
pub const UNIT_ROOM: usize = 96;

/// One unit drawn into a tracked experiment: who, which arm, why, when.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Exposure {
    /// The variant toggle's full name.
    pub toggle: &'static str,
    /// The arm the unit got.
    pub arm: &'static str,
    /// The unit: the user id, or the rule's `stickiness` attribute.
    pub unit: String,
    /// The step that decided: the experiment's draw ([`Step::Split`]), with the unit's bucket.
    pub step: Step,
    /// When, to the drain's tick ([`EXPOSURE_TICK`] by default).
    pub at: Timestamp,
}

/// Receives exposures, a batch per drain, on the installation's exposure thread: a host's
/// analytics, [`TracingSubscriber`], a test's collector. A closure taking `&[Exposure]` is one.
/// A subscriber that panics loses its batch, not the thread or the other subscribers' batches.
pub trait Subscriber: Send + Sync + 'static {
    /// Handles one batch of exposures, oldest first.
    fn exposed(&self, exposures: &[Exposure]);
}

impl<F: Fn(&[Exposure]) + Send + Sync + 'static> Subscriber for F {
    fn exposed(&self, exposures: &[Exposure]) {
        self(exposures);
    }
}

/// Emits each exposure as a `tracing` event at `INFO`, target `toggles::exposure`, named and
/// shaped as OpenTelemetry's `feature_flag.evaluation` event: the fields are the semantic
/// conventions' `feature_flag.key`, `feature_flag.result.variant`, `feature_flag.result.reason`
/// (`split`), `feature_flag.context.id` and `feature_flag.provider.name` (`toggles`). A host
/// exporting `tracing` to OpenTelemetry (`tracing-opentelemetry`) sends them on as such.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingSubscriber;

impl Subscriber for TracingSubscriber {
    fn exposed(&self, exposures: &[Exposure]) {
        for e in exposures {
            tracing::event!(
                name: "feature_flag.evaluation",
                target: "toggles::exposure",
                tracing::Level::INFO,
                feature_flag.key = e.toggle,
                feature_flag.result.variant = e.arm,
                feature_flag.result.reason = "split",
                feature_flag.context.id = e.unit.as_str(),
                feature_flag.provider.name = "toggles",
                at = %e.at,
            );
        }
    }
}

/// What became of the exposures this process handed over: in [`Status`](crate::Status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ExposureCounts {
    /// Handed to the subscribers (each counted once, however many subscribers).
    pub delivered: u64,
    /// Left out by the drain as repeats within the window.
    pub deduplicated: u64,
    /// Dropped because the buffer was full: the subscribers, or the drain, did not keep up.
    pub dropped: u64,
    /// Dropped because the unit id was longer than [`UNIT_ROOM`] bytes.
    pub unit_too_long: u64,
}

/// One exposure (or, with a `goal`, one conversion) as the drain reads it from a ring.
struct Slot<'a> {
    header: Header,
    goal: Option<&'static str>,
    unit: Cow<'a, str>,
}

/// A record's bytes before its unit id's: the toggle's registry id (4), the arm (1), the unit
/// id's length (1), the bucket, or a conversion's goal (2), the coverage (2), the installation's
/// epoch (1), the kind (1), the time (8), all little-endian.
const HEADER: usize = 20;
const EXPOSED: u8 = 0;
const CONVERTED: u8 = 1;

impl Slot<'_> {
    /// Reads the record at the start of `bytes`: the slot, and the bytes after it.
    fn read(bytes: &[u8]) -> Option<(Slot<'_>, &[u8])> {
        let (header, rest) = bytes.split_at_checked(HEADER)?;
        let header = Header::read(header);
        let (unit, rest) = rest.split_at_checked(usize::from(header.len))?;
        let goal = match header.kind {
            // Goals are never let go, so the index is always found.
            CONVERTED => Some(goal_named(header.bucket).unwrap_or_default()),
            _ => None,
        };
        let unit = String::from_utf8_lossy(unit);
        Some((Slot { header, goal, unit }, rest))
    }
}

/// The goals conversions were recorded on, by the index their records carry.
static GOALS: RwLock<Vec<&'static str>> = RwLock::new(Vec::new());

/// The index of `goal` in [`GOALS`], added if new; `None` past 65,536 goals.
fn goal_index(goal: &'static str) -> Option<u16> {
    let position = |goals: &[&'static str]| goals.iter().position(|g| *g == goal);
    if let Some(i) = position(&GOALS.read().unwrap_or_else(PoisonError::into_inner)) {
        return u16::try_from(i).ok();
    }
    let mut goals = GOALS.write().unwrap_or_else(PoisonError::into_inner);
    let i = position(&goals).unwrap_or_else(|| {
        goals.push(goal);
        goals.len() - 1
    });
    u16::try_from(i).ok()
}

fn goal_named(index: u16) -> Option<&'static str> {
    let goals = GOALS.read().unwrap_or_else(PoisonError::into_inner);
    goals.get(usize::from(index)).copied()
}

struct Buffer {
    /// Unix microseconds, as of the last drain: the time a check stamps its exposure with.
    clock: AtomicI64,
    /// The deduplication window, in microseconds.
    window: AtomicI64,
    /// The window `clock` falls in (the clock over the window), kept beside it so a check
    /// divides nothing.
    window_index: AtomicU64,
    dropped: [Stripe; STRIPES],
    unit_too_long: AtomicU64,
}

/// Whether an installation drains the rings: without one, a check hands nothing over.
static DRAINING: AtomicBool = AtomicBool::new(false);
/// Changed by each installation that starts draining, so what threads remember of the units
/// they handed over before does not hold back the new installation's exposures, and what a
/// check handed over as the last installation stopped is not delivered to the next.
static EPOCH: AtomicU64 = AtomicU64::new(0);
static BUFFER: OnceLock<Buffer> = OnceLock::new();

/// The reading ends of every thread's ring; a ring whose thread has ended goes once it is read.
static RINGS: Mutex<Vec<rtrb::Consumer<u8>>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's ring, the writing end; made at its first exposure.
    static RING: RefCell<Option<rtrb::Producer<u8>>> = const { RefCell::new(None) };
}

impl Buffer {
    /// Moves the clock checks stamp their exposures with, and the window it falls in.
    fn set_clock(&self, now: i64) {
        let window = self.window.load(Ordering::Relaxed);
        self.clock.store(now, Ordering::Relaxed);
        #[allow(clippy::cast_sign_loss)]
        let index = now.checked_div(window).unwrap_or(now) as u64;
        self.window_index.store(index, Ordering::Relaxed);
    }

    fn dropped(&self) -> u64 {
        self.dropped
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }
}

fn buffer() -> &'static Buffer {
    BUFFER.get_or_init(|| Buffer {
        clock: AtomicI64::new(Timestamp::now().unix_micros()),
        window: AtomicI64::new(micros(EXPOSURE_WINDOW)),
        window_index: AtomicU64::new(0),
        dropped: Default::default(),
        unit_too_long: AtomicU64::new(0),
    })
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Sets in a thread's table of the exposures it handed over lately, and ways per set: 4,096
/// entries of 8 bytes.
const SETS: usize = 1024;
const WAYS: usize = 4;
/// The low bits of an entry: the window it was handed over in (its clock over the window).
const WINDOW_BITS: u32 = 12;

thread_local! {
    /// Per set, the exposures this thread handed over lately, newest first: the high bits of
    /// the exposure's key, and the low [`WINDOW_BITS`] of the window it was handed over in. A
    /// repeat in the same window needs no handing over, for the drain's exact deduplication
    /// would leave it out anyway.
    static RECENT_UNITS: [Cell<u64>; SETS * WAYS] = const { [const { Cell::new(0) }; SETS * WAYS] };
}

/// Stripes of the dropped count: threads spread over them, so dropping under load is one
/// uncontended add.
const STRIPES: usize = 8;

#[repr(align(64))]
#[derive(Default)]
struct Stripe(AtomicU64);

fn stripe() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|s| *s)
}

/// Hands the exposure of the unit `unit` (whose draw gave `seed`) to arm `arm` of the toggle at
/// registry id `toggle` to the drain, unless this thread handed the same over within the
/// window. Never blocks, never allocates (but for the thread's ring, at its first exposure): a
/// full ring drops it and counts.
#[inline]
pub(crate) fn offer(toggle: u32, arm: u8, unit: &str, seed: u64, (bucket, coverage): (u16, u16)) {
    hand_over(toggle, None, arm, unit, seed, (bucket, coverage));
}

/// Hands the conversion of `unit` (whose draw gave `seed`) on `goal` of the toggle at registry
/// id `toggle` to the drain, as [`offer`] hands an exposure.
pub(crate) fn convert(toggle: u32, goal: &'static str, unit: &str, seed: u64) {
    hand_over(toggle, Some(goal), 0, unit, seed, (0, 0));
}

#[inline]
fn hand_over(
    toggle: u32,
    goal: Option<&'static str>,
    arm: u8,
    unit: &str,
    seed: u64,
    (bucket, coverage): (u16, u16),
) {
    if !DRAINING.load(Ordering::Relaxed) {
        return;
    }
    let Some(buffer) = BUFFER.get() else {
        return;
    };
    let at = buffer.clock.load(Ordering::Relaxed);
    // The seed is a hash of the unit under the toggle's salt; the toggle, the arm and the goal
    // (by address: a literal's) go in too.
    let epoch = EPOCH.load(Ordering::Relaxed);
    let goal_key = goal.map_or(0, |g| g.as_ptr() as u64);
    let key = seed
        ^ (epoch << 40 | u64::from(toggle) << 8 | u64::from(arm))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ^ goal_key.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    let window = buffer.window.load(Ordering::Relaxed);
    // Which window `at` falls in, to the low bits: a repeat in the same one was handed over.
    // (Read apart from the clock, it may lag it by a drain: a repeat is then handed over once
    // more, and the drain leaves it out.)
    let entry = (key & !((1 << WINDOW_BITS) - 1))
        | (buffer.window_index.load(Ordering::Relaxed) & ((1 << WINDOW_BITS) - 1));
    // The remainder is below `SETS`.
    #[allow(clippy::cast_possible_truncation)]
    let set = (key % SETS as u64) as usize * WAYS;
    // Conversions are rare and each may be the one after the exposure: never held back.
    let repeat = window > 0
        && goal.is_none()
        && RECENT_UNITS.with(|r| r[set..set + WAYS].iter().any(|way| way.get() == entry));
    if repeat {
        return;
    }
    if unit.len() > UNIT_ROOM {
        buffer.unit_too_long.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let (kind, bucket) = match goal {
        Some(goal) => match goal_index(goal) {
            Some(index) => (CONVERTED, index),
            None => return,
        },
        None => (EXPOSED, bucket),
    };
    // The unit's length is at most `UNIT_ROOM`, and the epoch's low byte is enough to tell
    // the installation before from this one.
    #[allow(clippy::cast_possible_truncation)]
    let header = Header {
        toggle,
        arm,
        len: unit.len() as u8,
        bucket,
        coverage,
        epoch: epoch as u8,
        kind,
        at,
    };
    if push(&header, unit.as_bytes()) {
        if goal.is_none() {
            RECENT_UNITS.with(|r| {
                let ways = &r[set..set + WAYS];
                for i in (1..WAYS).rev() {
                    ways[i].set(ways[i - 1].get());
                }
                ways[0].set(entry);
            });
        }
    } else {
        buffer.dropped[stripe()].0.fetch_add(1, Ordering::Relaxed);
    }
}

/// What a record holds before its unit id, as [`HEADER`] lays it out.
struct Header {
    toggle: u32,
    arm: u8,
    len: u8,
    bucket: u16,
    coverage: u16,
    epoch: u8,
    kind: u8,
    at: i64,
}

impl Header {
    /// The header at the start of `from`, which holds at least [`HEADER`] bytes.
    fn read(from: &[u8]) -> Header {
        let mut at = [0; 8];
        at.copy_from_slice(&from[12..20]);
        Header {
            toggle: u32::from_le_bytes([from[0], from[1], from[2], from[3]]),
            arm: from[4],
            len: from[5],
            bucket: u16::from_le_bytes([from[6], from[7]]),
            coverage: u16::from_le_bytes([from[8], from[9]]),
            epoch: from[10],
            kind: from[11],
            at: i64::from_le_bytes(at),
        }
    }

    fn write(&self, to: &mut [u8]) {
        to[0..4].copy_from_slice(&self.toggle.to_le_bytes());
        to[4] = self.arm;
        to[5] = self.len;
        to[6..8].copy_from_slice(&self.bucket.to_le_bytes());
        to[8..10].copy_from_slice(&self.coverage.to_le_bytes());
        to[10] = self.epoch;
        to[11] = self.kind;
        to[12..20].copy_from_slice(&self.at.to_le_bytes());
    }
}

/// Appends a record whole to this thread's ring, made and handed to the drain at the thread's
/// first record; `false` when the ring has no room for it (or the thread is ending).
fn push(header: &Header, unit: &[u8]) -> bool {
    RING.try_with(|ring| {
        let mut ring = ring.borrow_mut();
        let producer = ring.get_or_insert_with(|| {
            let (producer, consumer) = rtrb::RingBuffer::new(EXPOSURE_BUFFER);
            RINGS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(consumer);
            producer
        });
        let Ok(mut chunk) = producer.write_chunk(HEADER + unit.len()) else {
            return false;
        };
        match chunk.as_mut_slices() {
            // Mostly the record lies in one piece: written in place.
            (whole, []) => {
                header.write(whole);
                whole[HEADER..].copy_from_slice(unit);
            }
            // At the ring's end it is written aside and split.
            (first, second) => {
                let mut record = [0u8; HEADER + UNIT_ROOM];
                header.write(&mut record);
                record[HEADER..HEADER + unit.len()].copy_from_slice(unit);
                let (a, b) = record[..HEADER + unit.len()].split_at(first.len());
                first.copy_from_slice(a);
                second.copy_from_slice(b);
            }
        }
        chunk.commit_all();
        true
    })
    .unwrap_or(false)
}

/// Everything the rings hold, read whole: each ring's records end to end. A ring whose thread
/// has ended is let go once read.
fn read_rings() -> Vec<u8> {
    // Taken out while read, so a thread making its ring waits for a push, not for the reading.
    let mut rings = std::mem::take(&mut *RINGS.lock().unwrap_or_else(PoisonError::into_inner));
    let mut bytes = Vec::new();
    rings.retain_mut(|ring| {
        // Asked before reading, so nothing written after the answer is lost.
        let ended = ring.is_abandoned();
        if let Ok(chunk) = ring.read_chunk(ring.slots()) {
            let (a, b) = chunk.as_slices();
            bytes.extend_from_slice(a);
            bytes.extend_from_slice(b);
            chunk.commit_all();
        }
        !ended
    });
    RINGS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .append(&mut rings);
    bytes
}

/// The most exposures, and the most conversions, kept for a store that is down; past that the
/// oldest are let go (and a warning says so).
const UNRECORDED: usize = 100_000;

/// The drain's side: the subscribers, the exact deduplication, the counts.
#[derive(Default)]
struct Drain {
    subscribers: Vec<Arc<dyn Subscriber>>,
    /// When each `(toggle, arm, unit)` was last delivered, in unix microseconds.
    delivered_at: HashMap<(u32, u8, Box<str>), i64>,
    /// What the installed store has not accepted yet (it was down): recorded at the next drain.
    unrecorded: (Vec<Exposed>, Vec<Converted>),
    /// When `delivered_at` last let go of what fell out of the window.
    pruned_at: i64,
    delivered: u64,
    deduplicated: u64,
    /// Drops already reported in a warning.
    dropped_reported: u64,
}

static DRAIN: Mutex<Option<Drain>> = Mutex::new(None);

fn drain_state() -> std::sync::MutexGuard<'static, Option<Drain>> {
    DRAIN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts draining for an installation: its subscribers and window replace any before, and its
/// window starts afresh.
pub(crate) fn start(subscribers: Vec<Arc<dyn Subscriber>>, window: Duration) {
    let buffer = buffer();
    buffer.window.store(micros(window), Ordering::Relaxed);
    buffer.set_clock(Timestamp::now().unix_micros());
    let mut state = drain_state();
    let drain = state.get_or_insert_with(Drain::default);
    drain.subscribers = subscribers;
    drain.delivered_at.clear();
    // Another store's backlog is not this one's to record.
    drain.unrecorded = (Vec::new(), Vec::new());
    EPOCH.fetch_add(1, Ordering::Relaxed);
    DRAINING.store(true, Ordering::Relaxed);
}

/// Stops draining: checks hand nothing over from now on, and what they handed over before is
/// delivered and recorded in the store (the caller still has it installed).
pub(crate) fn stop() {
    DRAINING.store(false, Ordering::Relaxed);
    drain();
    if let Some(drain) = drain_state().as_mut() {
        drain.subscribers.clear();
    }
}

/// Delivers what the buffer holds to the subscribers; returns how many exposures were
/// delivered. Also moves the clock checks stamp their exposures with.
///
/// Drains take turns, delivery included: when one returns, everything handed over before it
/// began has reached the subscribers, whichever thread drained it (a test's, or the
/// installation's thread mid-tick).
pub(crate) fn drain() -> usize {
    static TURN: Mutex<()> = Mutex::new(());
    let _turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(buffer) = BUFFER.get() else {
        return 0;
    };
    let now = Timestamp::now().unix_micros();
    buffer.set_clock(now);
    let window = buffer.window.load(Ordering::Relaxed);
    let mut state = drain_state();
    let Some(drain) = state.as_mut() else {
        return 0;
    };
    let mut batch = Vec::new();
    let mut converted = Vec::new();
    let bytes = read_rings();
    let compiled = retained::newest();
    #[allow(clippy::cast_possible_truncation)]
    let epoch = EPOCH.load(Ordering::Relaxed) as u8;
    let mut rest = &bytes[..];
    while let Some((slot, after)) = Slot::read(rest) {
        rest = after;
        if slot.header.epoch != epoch {
            continue;
        }
        if slot.goal.is_none() {
            // Once per unit and arm in each window (windows aligned to the clock, as each
            // thread's table of recent units counts them, so the two agree).
            let key = (
                slot.header.toggle,
                slot.header.arm,
                Box::<str>::from(slot.unit.as_ref()),
            );
            let same_window = |last: i64| {
                window > 0 && last.checked_div(window) == slot.header.at.checked_div(window)
            };
            if drain
                .delivered_at
                .get(&key)
                .is_some_and(|last| same_window(*last))
            {
                drain.deduplicated += 1;
                continue;
            }
            drain.delivered_at.insert(key, slot.header.at);
        }
        match slot.goal {
            Some(goal) => {
                if let Some(toggle) = registry().by_id(slot.header.toggle) {
                    let at = Timestamp::from_unix_micros(slot.header.at);
                    converted.push(Converted::new(toggle.full_name(), slot.unit, goal, at));
                }
            }
            None => {
                if let Some(exposure) = exposure_of(&slot, compiled.as_deref()) {
                    batch.push(exposure);
                }
            }
        }
    }
    if now.saturating_sub(drain.pruned_at) > window / 4 {
        let current = now.checked_div(window);
        drain
            .delivered_at
            .retain(|_, at| window > 0 && at.checked_div(window) == current);
        drain.pruned_at = now;
    }
    let dropped = buffer.dropped();
    if dropped > drain.dropped_reported {
        tracing::warn!(
            dropped = dropped - drain.dropped_reported,
            "toggles: exposures dropped: a thread's buffer of {EXPOSURE_BUFFER} bytes was full (subscribers or the drain tick too slow for the traffic)"
        );
        drain.dropped_reported = dropped;
    }
    drain.delivered += batch.len() as u64;
    let subscribers = drain.subscribers.clone();
    let (mut exposed, mut conversions) = std::mem::take(&mut drain.unrecorded);
    drop(state);
    exposed.extend(
        batch
            .iter()
            .map(|e| Exposed::new(e.toggle, e.unit.clone(), e.arm, e.at)),
    );
    conversions.extend(converted);
    record(exposed, conversions);
    if !batch.is_empty() {
        for subscriber in &subscribers {
            let delivered = catch_unwind(AssertUnwindSafe(|| subscriber.exposed(&batch)));
            if delivered.is_err() {
                tracing::error!("toggles: an exposure subscriber panicked; its batch is lost");
            }
        }
    }
    batch.len()
}

/// Records exposures and conversions in the installed store, for results; what it does not
/// accept waits for the next drain.
fn record(exposed: Vec<Exposed>, conversions: Vec<Converted>) {
    if exposed.is_empty() && conversions.is_empty() {
        return;
    }
    let Some(store) = installed_store() else {
        return;
    };
    let exposed = match store.record_exposures(&exposed) {
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "toggles: exposures not recorded in the store yet; retried at the next drain");
            exposed
        }
    };
    let conversions = match store.record_conversions(&conversions) {
        Ok(_) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "toggles: conversions not recorded in the store yet; retried at the next drain");
            conversions
        }
    };
    if let Some(drain) = drain_state().as_mut() {
        let (late_exposed, late_converted) = std::mem::take(&mut drain.unrecorded);
        drain.unrecorded = (
            newest(exposed, late_exposed),
            newest(conversions, late_converted),
        );
    }
}

/// `kept` and then `late`, the oldest let go past [`UNRECORDED`].
fn newest<T>(mut kept: Vec<T>, mut late: Vec<T>) -> Vec<T> {
    kept.append(&mut late);
    if kept.len() > UNRECORDED {
        let over = kept.len() - UNRECORDED;
        tracing::warn!(
            let_go = over,
            "toggles: the store has been down too long: the oldest unrecorded exposures or conversions are let go"
        );
        kept.drain(..over);
    }
    kept
}

/// The exposure a slot describes; `None` for a toggle the registry no longer has at its id.
fn exposure_of(slot: &Slot<'_>, compiled: Option<&Compiled>) -> Option<Exposure> {
    let info = registry().by_id(slot.header.toggle)?;
    let Cells::Variant(cells) = info.toggle().cells() else {
        return None;
    };
    let stickiness = compiled.and_then(|compiled| {
        compiled
            .entry(slot.header.toggle)
            .and_then(|entry| entry.stickiness().map(str::to_owned))
    });
    Some(Exposure {
        toggle: info.full_name(),
        arm: cells.arms.get(usize::from(slot.header.arm)).copied()?,
        unit: slot.unit.clone().into_owned(),
        step: Step::Split {
            bucket: Some(slot.header.bucket),
            coverage: slot.header.coverage,
            stickiness,
        },
        at: Timestamp::from_unix_micros(slot.header.at),
    })
}

/// This process's exposure counts.
pub(crate) fn counts() -> ExposureCounts {
    let (dropped, unit_too_long) = BUFFER.get().map_or((0, 0), |b| {
        (b.dropped(), b.unit_too_long.load(Ordering::Relaxed))
    });
    let state = drain_state();
    let (delivered, deduplicated) = state
        .as_ref()
        .map_or((0, 0), |d| (d.delivered, d.deduplicated));
    ExposureCounts {
        delivered,
        deduplicated,
        dropped,
        unit_too_long,
    }
}
