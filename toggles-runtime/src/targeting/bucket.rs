//! Percentage bucketing: which units (users, by default) fall inside a rollout.
//!
//! A unit's bucket is the SHA-256 of `salt ":" unit`, its first 8 bytes read as a big-endian
//! `u64`, modulo 10,000: a number of basis points from 0 to 9,999. A unit is in a rollout of
//! `p` basis points when its bucket is below `p`. So the answer is
//!
//! - deterministic: the same salt and unit always give the same bucket, in any process or
//!   language (test vectors in `bucketing-vectors.json` beside this crate's `Cargo.toml`);
//! - monotonic: widening a rollout from 10% to 20% keeps every unit that was in;
//! - independent across toggles: the salt defaults to the toggle's full name, so being in one
//!   toggle's first 10% says nothing about another's.
//!
//! ```
//! use toggles::rules::bucket::{bucket, Percent};
//!
//! let b = bucket("grading.new_grader", "42");
//! assert_eq!(b, 2890);
//! assert!(Percent::from_basis_points(2891).unwrap().contains(b));
//! assert!(!Percent::new(28.9).unwrap().contains(b));
//! ```

use sha2::{Digest, Sha256};

use super::{logarithm, MOST_ARMS};

/// How many buckets there are: one per basis point.
pub const BUCKETS: u16 = 10_000;

/// The bucket of `unit` under `salt`, from 0 to 9,999.
#[inline]
pub fn bucket(salt: &str, unit: &str) -> u16 {
    bucket_of(digest(salt, unit).0)
}

/// A variant toggle's draw for `unit` under `salt`: the bucket that decides whether the unit is
/// in the experiment at all (its coverage: the same bucket a flag's rollout would give) and the
/// seed its arm is drawn from ([`arm`]). Both come from one SHA-256 of `salt ":" unit` — the
/// bucket from its first 8 bytes, the seed from the next 8 — so they are independent: widening
/// the coverage takes in new units without moving any unit's arm.
///
/// ```
/// use toggles::rules::bucket::{bucket, draw};
///
/// let (b, seed) = draw("checkout.checkout_flow", "42");
/// assert_eq!(b, bucket("checkout.checkout_flow", "42"));
/// assert_eq!(seed, 0x6a2b_a5c8_f7cd_6eab);
/// ```
#[inline]
pub fn draw(salt: &str, unit: &str) -> (u16, u64) {
    let (first, second) = digest(salt, unit);
    (bucket_of(first), second)
}

/// The first 16 bytes of SHA-256(`salt:unit`), as two big-endian words.
#[inline]
fn digest(salt: &str, unit: &str) -> (u64, u64) {
    one_block(salt.as_bytes(), unit.as_bytes()).unwrap_or_else(|| {
        let digest = Sha256::new()
            .chain_update(salt.as_bytes())
            .chain_update(b":")
            .chain_update(unit.as_bytes())
            .finalize();
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&digest[at..at + 8]);
            u64::from_be_bytes(bytes)
        };
        (word(0), word(8))
    })
}

#[inline]
fn bucket_of(first: u64) -> u16 {
    // The remainder is below 10,000, so it fits.
    #[allow(clippy::cast_possible_truncation)]
    let b = (first % u64::from(BUCKETS)) as u16;
    b
}

/// An arm's key in the draw: the first 8 bytes of SHA-256 of its name, big-endian. Keyed by
/// name, an arm keeps its units when the enum's variants are reordered or new ones added.
pub fn arm_key(name: &str) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

/// The arm a unit whose draw gave `seed` is assigned, among arms given as `(key, weight)`
/// ([`arm_key`] of the name, and the weight): the position of the winner in `arms`, or `None`
/// when every weight is 0.
///
/// Weighted rendezvous hashing: each arm with a weight `w` above 0 scores `ln(u) × (1 / w)`,
/// where `u` in (0, 1) is the SplitMix64 finalizer of `seed ^ key` (its top 53 bits, plus one
/// half, over 2^53), and the highest score wins (ties to the earlier arm). An arm wins a share
/// of units proportional to its weight, and the scores of the other arms do not depend on it,
/// so raising one arm's weight moves units only into that arm, and lowering it moves units only
/// out of it. (When every arm has one weight, the highest `u` wins and no logarithm is taken;
/// otherwise a close logarithm decides, and IEEE `ln` wherever the close one could err.)
///
/// ```
/// use toggles::rules::bucket::{arm, arm_key, draw};
///
/// let arms = [(arm_key("classic"), 5000), (arm_key("one_page"), 5000)];
/// let (_, seed) = draw("checkout.checkout_flow", "42");
/// assert_eq!(arm(seed, &arms), Some(1));
/// assert_eq!(arm(seed, &[(arm_key("classic"), 0)]), None);
/// ```
pub fn arm(seed: u64, arms: &[(u64, u16)]) -> Option<usize> {
    WeightedArms::new(arms).pick(seed)
}

/// Arms made ready to draw from, once per rule: those with a weight, in declaration order, each
/// with `1 / weight` (a division costs as much as the rest of an arm's score).
#[derive(Debug, Clone, Default)]
pub(crate) struct WeightedArms {
    /// Key, inverse weight, position among the arms given.
    arms: Box<[(u64, f64, usize)]>,
    /// Whether every arm here has one weight: the highest `u` wins, no logarithm taken.
    one_weight: bool,
    /// How far ahead a score from the close logarithm must be to win without the exact one:
    /// the error of the two least precise scores, those of the lightest weight.
    margin: f64,
}

impl WeightedArms {
    /// `arms` as `(key, weight)`, in declaration order.
    pub(crate) fn new(arms: &[(u64, u16)]) -> WeightedArms {
        let weighted: Vec<(u64, u16, usize)> = arms
            .iter()
            .enumerate()
            .filter(|(_, (_, weight))| *weight > 0)
            .map(|(i, &(key, weight))| (key, weight, i))
            .collect();
        let one_weight = weighted.windows(2).all(|w| w[0].1 == w[1].1);
        let lightest = weighted.iter().map(|a| a.1).min().unwrap_or(1);
        let margin = if arms.len() <= MOST_ARMS {
            2.0 * logarithm::ERROR / f64::from(lightest)
        } else {
            f64::INFINITY
        };
        WeightedArms {
            arms: weighted
                .into_iter()
                .map(|(key, weight, i)| (key, 1.0 / f64::from(weight), i))
                .collect(),
            one_weight,
            margin,
        }
    }

    /// The winner's position, as [`arm`] defines it.
    #[inline]
    pub(crate) fn pick(&self, seed: u64) -> Option<usize> {
        if self.one_weight {
            return self.highest(seed);
        }
        // Each score from the close logarithm is within `ERROR × inverse` of its exact score,
        // so a winner ahead of the runner-up by more than the margin wins the exact draw too.
        // Scores are negative, so a higher score has lower bits; an arm's position replaces the
        // lowest eight (a change far inside the bound), so one integer minimum gives the
        // winner. Minimums compile to conditional moves, which keep the arms' chains of steps
        // overlapping where a branch on random scores would be mispredicted half the time. (A
        // `u` within the bound of 1 can score a hair above 0, out of that order; such scores
        // are within the margin of each other, so the exact draw decides among them.)
        let (mut top, mut second) = (u64::MAX, u64::MAX);
        for &(key, inverse, position) in &self.arms[..] {
            let score = logarithm::scaled_ln_unit(top_bits(seed, key), inverse).to_bits();
            let score = score & !POSITION | position as u64;
            second = second.min(top.max(score));
            top = top.min(score);
        }
        // Not one weight, so at least two arms: `second` holds a score.
        if f64::from_bits(top & !POSITION) - f64::from_bits(second & !POSITION) > self.margin {
            #[allow(clippy::cast_possible_truncation)]
            return Some((top & POSITION) as usize);
        }
        self.exact(seed)
    }

    /// The winner's position from IEEE `ln`, every arm scored: the published rule as it reads.
    #[cold]
    fn exact(&self, seed: u64) -> Option<usize> {
        // Every score is finite (`u` is at least 2^-54), so any beats minus infinity; a tie
        // keeps the earlier arm.
        let (mut top, mut winner) = (f64::NEG_INFINITY, None);
        for &(key, inverse, position) in &self.arms[..] {
            let score = unit_interval(top_bits(seed, key)).ln() * inverse;
            if score > top {
                (top, winner) = (score, Some(position));
            }
        }
        winner
    }

    /// The arm with the highest `u` (ties to the earlier).
    #[inline]
    fn highest(&self, seed: u64) -> Option<usize> {
        let (mut high, mut winner) = (0, None);
        for &(key, _, position) in &self.arms[..] {
            let u = top_bits(seed, key);
            if winner.is_none() || u > high {
                (high, winner) = (u, Some(position));
            }
        }
        winner
    }
}

/// The bits of a close score that hold the arm's position instead: enough for [`MOST_ARMS`]. A
/// draw among more arms (only [`arm`] is given that many) takes the exact scores.
const POSITION: u64 = 0xff;

/// The top 53 bits of an arm's mixed draw, which its `u` is made of.
#[inline]
fn top_bits(seed: u64, key: u64) -> u64 {
    splitmix64(seed ^ key) >> 11
}

/// SplitMix64's finalizer: a bijection of 64-bit words that mixes every input bit into every
/// output bit.
#[inline]
const fn splitmix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A word's top 53 bits (`top`) as a number strictly between 0 and 1: plus one half, over 2^53.
#[inline]
pub(super) fn unit_interval(top: u64) -> f64 {
    // 53 bits convert exactly.
    #[allow(clippy::cast_precision_loss)]
    let top = top as f64;
    // Times 2^-53, exactly the division by 2^53 at a fraction of its cost.
    (top + 0.5) * (1.0 / 9_007_199_254_740_992.0)
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const INITIAL: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// The first 16 bytes of SHA-256(`salt:unit`), big-endian, when the message fits one block
/// (55 bytes or fewer, as salts and user ids nearly always do): the block is padded in place
/// and compressed once, without the streaming hasher's buffering, which costs as much again.
#[inline]
fn one_block(salt: &[u8], unit: &[u8]) -> Option<(u64, u64)> {
    let len = salt.len() + 1 + unit.len();
    if len > 55 {
        return None;
    }
    let mut block = [0u8; 64];
    block[..salt.len()].copy_from_slice(salt);
    block[salt.len()] = b':';
    block[salt.len() + 1..len].copy_from_slice(unit);
    block[len] = 0x80;
    // At most 55 bytes, so the length in bits fits.
    block[56..].copy_from_slice(&(len as u64 * 8).to_be_bytes());
    let mut state = INITIAL;
    sha2::compress256(&mut state, &[block.into()]);
    let word = |i: usize| u64::from(state[i]) << 32 | u64::from(state[i + 1]);
    Some((word(0), word(2)))
}

/// A rollout size, in basis points (hundredths of a percent): 0 is nobody, 10,000 everybody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Percent(u16);

/// A number that is not a rollout size.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum PercentError {
    /// Outside 0–100%.
    OutOfRange(f64),
    /// Finer than a basis point (0.01%), which a rollout cannot tell apart: rounding it would
    /// silently give some other size.
    TooFine(f64),
}

impl std::fmt::Display for PercentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            PercentError::OutOfRange(p) => write!(f, "is from 0 to 100, not {p}"),
            PercentError::TooFine(p) => {
                let bp = p * 100.0;
                write!(
                    f,
                    "is held in whole basis points (0.01%): {p} is finer; write {} or {}",
                    bp.floor() / 100.0,
                    bp.ceil() / 100.0
                )
            }
        }
    }
}

impl std::error::Error for PercentError {}

impl Percent {
    /// Nobody.
    pub const NONE: Percent = Percent(0);
    /// Everybody.
    pub const ALL: Percent = Percent(BUCKETS);

    /// `percent`% (0 to 100), which must be a whole number of basis points: `12.34` is, `12.344`
    /// is refused rather than rounded.
    ///
    /// ```
    /// use toggles::rules::bucket::Percent;
    ///
    /// assert_eq!(Percent::new(12.34).unwrap().basis_points(), 1234);
    /// assert!(Percent::new(12.344).is_err());
    /// assert!(Percent::new(100.5).is_err());
    /// ```
    pub fn new(percent: f64) -> Result<Percent, PercentError> {
        if !(0.0..=100.0).contains(&percent) {
            return Err(PercentError::OutOfRange(percent));
        }
        let basis_points = percent * 100.0;
        // A decimal like 12.34 is not exact in binary; anything this close is that decimal.
        let whole = basis_points.round();
        if (basis_points - whole).abs() > 1e-6 {
            return Err(PercentError::TooFine(percent));
        }
        // In range, so the rounded value is 0..=10,000.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Percent(whole as u16))
    }

    /// `basis_points` hundredths of a percent (0 to 10,000).
    pub fn from_basis_points(basis_points: u16) -> Result<Percent, PercentError> {
        if basis_points <= BUCKETS {
            Ok(Percent(basis_points))
        } else {
            Err(PercentError::OutOfRange(f64::from(basis_points) / 100.0))
        }
    }

    /// The size in basis points.
    pub const fn basis_points(self) -> u16 {
        self.0
    }

    /// The size in percent.
    pub fn as_percent(self) -> f64 {
        f64::from(self.0) / 100.0
    }

    /// Whether a unit in `bucket` is inside the rollout.
    #[inline]
    pub const fn contains(self, bucket: u16) -> bool {
        bucket < self.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// The close logarithm (and the highest `u`, for one weight) picks the arm that scoring
        /// every arm with IEEE `ln` picks.
        #[test]
        fn the_draw_picks_what_every_exact_score_picks(
            seed in any::<u64>(),
            weights in proptest::collection::vec(
                prop::sample::select(vec![0u16, 1, 2, 2500, 3333, 5000, 10_000]),
                1..12,
            ),
        ) {
            let arms: Vec<(u64, u16)> = weights
                .iter()
                .enumerate()
                .map(|(i, weight)| (arm_key(&format!("arm-{i}")), *weight))
                .collect();
            // Every arm scored, ties to the earlier: the rule as first published.
            let mut every = (f64::NEG_INFINITY, None);
            for (i, &(key, weight)) in arms.iter().enumerate() {
                if weight == 0 {
                    continue;
                }
                let score = unit_interval(splitmix64(seed ^ key) >> 11).ln() * (1.0 / f64::from(weight));
                if score > every.0 {
                    every = (score, Some(i));
                }
            }
            prop_assert_eq!(arm(seed, &arms), every.1);
            // The draw the close logarithm falls back on, which the cases above almost never
            // reach.
            prop_assert_eq!(WeightedArms::new(&arms).exact(seed), every.1);
        }
    }
}
