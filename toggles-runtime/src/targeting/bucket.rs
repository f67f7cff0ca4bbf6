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

/// How many buckets there are: one per basis point.
pub const BUCKETS: u16 = 10_000;

/// The bucket of `unit` under `salt`, from 0 to 9,999.
#[inline]
pub fn bucket(salt: &str, unit: &str) -> u16 {
    let first = one_block(salt.as_bytes(), unit.as_bytes()).unwrap_or_else(|| {
        let digest = Sha256::new()
            .chain_update(salt.as_bytes())
            .chain_update(b":")
            .chain_update(unit.as_bytes())
            .finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    });
    // The remainder is below 10,000, so it fits.
    #[allow(clippy::cast_possible_truncation)]
    let b = (first % u64::from(BUCKETS)) as u16;
    b
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

/// The first 8 bytes of SHA-256(`salt:unit`), big-endian, when the message fits one block
/// (55 bytes or fewer, as salts and user ids nearly always do): the block is padded in place
/// and compressed once, without the streaming hasher's buffering, which costs as much again.
#[inline]
fn one_block(salt: &[u8], unit: &[u8]) -> Option<u64> {
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
    Some(u64::from(state[0]) << 32 | u64::from(state[1]))
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
