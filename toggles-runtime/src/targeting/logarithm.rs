//! The natural logarithm of a draw's `u`, never further than [`ERROR`] from the exact one, in
//! a fraction of the time libm takes: a weighted draw takes one per arm, in a chain of
//! dependent steps that adds to a check's latency. The draw only needs to know which score is
//! highest; where two scores are closer than the bound lets it tell, it takes libm's `ln`, so
//! the arm it picks is always the arm the published rule (IEEE `ln`) picks.
//!
//! `u = (top + ½) / 2^53 = 2^e × m` with `m` in [1, 2), read from the integer without a
//! conversion. The top eight bits of `m`'s fraction choose a table entry `c` (the middle of its
//! 1/256-wide interval), and `ln u = e ln 2 + ln c + ln(m / c)`, where `r = m / c − 1` is within
//! ±1/512, so two terms of `ln(1 + r)`'s series leave out less than `r³ / 3 < 2.5e-9`.

/// How far [`scaled_ln_unit`] may be, per unit of its scale, from the exact natural logarithm: the series' truncation (below
/// 2.5e-9) plus rounding (below 1e-14), with room to spare. The tests check it holds three
/// times over.
pub(crate) const ERROR: f64 = 1e-8;

/// Entries in the table: one per value of the fraction's top eight bits.
const ENTRIES: usize = 256;

/// Per entry, `1 / c` (as stored, rounded) and `−ln` of that stored value less 3/2, so that
/// `ln m = ln(m × (1/c)) − ln(1/c)` holds whatever the rounding of `1 / c`.
static TABLE: [(f64, f64); ENTRIES] = table();

const fn table() -> [(f64, f64); ENTRIES] {
    let mut table = [(0.0, 0.0); ENTRIES];
    let mut i = 0;
    while i < ENTRIES {
        // Below 256, so exact.
        #[allow(clippy::cast_precision_loss)]
        let c = 1.0 + (i as f64 + 0.5) / ENTRIES as f64;
        let inverse = 1.0 / c;
        table[i] = (inverse, -series_ln(inverse) - 1.5);
        i += 1;
    }
    table
}

/// `ln x` for `x` in [1/2, 1], at compile time: `2 atanh((x − 1) / (x + 1))`, whose terms shrink
/// by at least 1/9 each, so 40 of them are exact to the last bit.
const fn series_ln(x: f64) -> f64 {
    let z = (x - 1.0) / (x + 1.0);
    let z2 = z * z;
    let (mut power, mut sum, mut k) = (z, 0.0, 0);
    while k < 40 {
        sum += power / (2 * k + 1) as f64;
        power *= z2;
        k += 1;
    }
    2.0 * sum
}

/// `ln((top + ½) / 2^53) × scale` for `top` below 2^53 and `scale` above 0, within
/// [`ERROR`]` × scale` of the exact product.
///
/// It is written for the length of its chain of dependent steps, which a check waits on: with
/// `s = m / c = 1 + r`, `r − r²/2 = ½ s (4 − s) − 3/2`, so the scaled series is one product of
/// two factors computed side by side, and the constant `3/2` joins `ln c` in the table.
#[inline]
pub(crate) fn scaled_ln_unit(top: u64, scale: f64) -> f64 {
    debug_assert!(top < 1 << 53);
    // u = t / 2^54, with t odd and below 2^54.
    let t = 2 * top + 1;
    let shift = t.leading_zeros();
    // n's top bit is set: u = (n / 2^63) × 2^(9 − shift).
    let n = t << shift;
    #[allow(clippy::cast_possible_truncation)]
    let entry = (n >> 55) as usize & (ENTRIES - 1);
    // The fraction's top 52 of its 53 bits: the one dropped moves `ln` by at most 2^-53.
    let m = f64::from_bits(0x3ff0_0000_0000_0000 | ((n << 1) >> 12));
    let (inverse, ln_c_less) = TABLE[entry];
    let s = m * inverse;
    // `shift` is 10 to 63, so the exponent is exact.
    #[allow(clippy::cast_possible_wrap)]
    let exponent = 9 - shift as i32;
    let constant = f64::from(exponent) * std::f64::consts::LN_2 + ln_c_less;
    (s * (0.5 * scale)) * (4.0 - s) + constant * scale
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// libm's logarithm of the draw's `u` for `top`, as the published rule takes it.
    fn exact(top: u64) -> f64 {
        crate::targeting::bucket::unit_interval(top).ln()
    }

    fn distance(top: u64) -> f64 {
        (scaled_ln_unit(top, 1.0) - exact(top)).abs()
    }

    #[test]
    fn the_table_is_ln_of_its_entries() {
        for &(inverse, ln_c) in &TABLE {
            assert!(
                (ln_c + 1.5 + inverse.ln()).abs() < 1e-15,
                "{inverse}: {ln_c}"
            );
        }
    }

    #[test]
    fn the_ends_of_every_entry_in_every_binade_are_within_the_bound() {
        // Where `r` is largest: either side of each entry's edges, for each power of two `u`
        // reaches (`top` from 0 to 2^53 − 1).
        for bits in 0..53 {
            for i in 0..=ENTRIES as u64 {
                let edge = (1u64 << bits) + ((i << bits) >> 8);
                for top in [edge.saturating_sub(1), edge, edge + 1] {
                    if top < 1 << 53 {
                        assert!(distance(top) < ERROR / 3.0, "top {top}");
                    }
                }
            }
        }
        for top in [
            0,
            1,
            2,
            3,
            (1 << 52) - 1,
            1 << 52,
            (1 << 53) - 2,
            (1 << 53) - 1,
        ] {
            assert!(distance(top) < ERROR / 3.0, "top {top}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100_000))]

        #[test]
        fn within_the_bound_of_libm(top in 0u64..1 << 53) {
            prop_assert!(distance(top) < ERROR / 3.0, "top {top}");
        }

        #[test]
        fn scaled_within_the_scaled_bound(top in 0u64..1 << 53, weight in 1u16..=10_000) {
            let scale = 1.0 / f64::from(weight);
            let distance = (scaled_ln_unit(top, scale) - exact(top) * scale).abs();
            prop_assert!(distance < ERROR / 3.0 * scale, "top {top}, weight {weight}");
        }

        #[test]
        fn within_the_bound_in_every_binade(bits in 0u32..53, below in any::<u64>()) {
            // Uniform within the power of two, so small `u` are tried as often as large.
            let top = (1u64 << bits) | (below & ((1u64 << bits) - 1));
            prop_assert!(distance(top) < ERROR / 3.0, "top {top}");
        }
    }
}
