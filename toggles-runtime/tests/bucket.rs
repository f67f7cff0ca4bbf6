//! Bucketing against the published vectors, and its properties.

use proptest::prelude::*;
use toggles_runtime::rules::bucket::{arm, arm_key, bucket, draw, Percent, BUCKETS};

#[test]
fn matches_the_published_vectors() {
    let text = include_str!("../bucketing-vectors.json");
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 50);
    for v in vectors {
        let (salt, unit) = (v["salt"].as_str().unwrap(), v["unit"].as_str().unwrap());
        let expected = u16::try_from(v["bucket"].as_u64().unwrap()).unwrap();
        assert_eq!(bucket(salt, unit), expected, "salt {salt:?}, unit {unit:?}");
    }
}

#[test]
fn arms_match_the_published_vectors() {
    let text = include_str!("../bucketing-vectors.json");
    let doc: serde_json::Value = serde_json::from_str(text).unwrap();
    let vectors = doc["arm_vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 40);
    let mut winners = std::collections::BTreeSet::new();
    for v in vectors {
        let (salt, unit) = (v["salt"].as_str().unwrap(), v["unit"].as_str().unwrap());
        let (b, seed) = draw(salt, unit);
        assert_eq!(
            u64::from(b),
            v["bucket"].as_u64().unwrap(),
            "bucket of {unit:?}"
        );
        assert_eq!(
            format!("{seed:016x}"),
            v["seed"].as_str().unwrap(),
            "seed of {unit:?}"
        );
        let names: Vec<&str> = v["arms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let arms: Vec<(u64, u16)> = names
            .iter()
            .map(|n| {
                let weight = v["weights"][*n].as_u64().unwrap();
                (arm_key(n), u16::try_from(weight).unwrap())
            })
            .collect();
        let won = names[arm(seed, &arms).unwrap()];
        assert_eq!(
            won,
            v["arm"].as_str().unwrap(),
            "arm of {unit:?} under {salt:?}"
        );
        winners.insert(won);
    }
    assert!(
        winners.len() >= 4,
        "the vectors exercise several arms: {winners:?}"
    );
}

#[test]
fn percent_bounds() {
    assert_eq!(Percent::new(12.5).unwrap().basis_points(), 1250);
    assert_eq!(Percent::new(0.0).unwrap(), Percent::NONE);
    assert_eq!(Percent::new(100.0).unwrap(), Percent::ALL);
    assert!(Percent::new(100.01).is_err());
    assert!(Percent::new(-1.0).is_err());
    assert!(Percent::new(f64::NAN).is_err());
    assert!(Percent::from_basis_points(10_001).is_err());
    assert!(!Percent::NONE.contains(0));
    assert!(Percent::ALL.contains(BUCKETS - 1));
}

/// Units in the rollout, out of `n`, with users named `user-0` .. `user-{n-1}`.
fn count_in(salt: &str, percent: Percent, n: u32) -> u32 {
    (0..n)
        .map(|i| u32::from(percent.contains(bucket(salt, &format!("user-{i}")))))
        .sum()
}

#[test]
fn uniform_over_many_units() {
    // 100,000 units into 100 equal slices: chi-square with 99 degrees of freedom. The 0.999
    // quantile is about 148.2, so a correct bucketing fails this one time in a thousand salts;
    // the salt is fixed, so the test is deterministic.
    let n = 100_000u32;
    let mut slices = [0u32; 100];
    for i in 0..n {
        slices[usize::from(bucket("grading.new_grader", &i.to_string()) / 100)] += 1;
    }
    let expected = f64::from(n) / 100.0;
    let chi2: f64 = slices
        .iter()
        .map(|&c| (f64::from(c) - expected).powi(2) / expected)
        .sum();
    assert!(
        chi2 < 148.2,
        "chi-square {chi2:.1} over 100 slices: not uniform"
    );

    // And a 10% rollout holds close to 10% of users (3 standard deviations: ±0.28 points).
    let share = f64::from(count_in(
        "catalog.recommendations",
        Percent::new(10.0).unwrap(),
        n,
    )) / f64::from(n);
    assert!(
        (share - 0.10).abs() < 0.0029,
        "10% rollout holds {:.2}%",
        share * 100.0
    );
}

#[test]
fn independent_across_salts() {
    // Being in one toggle's 50% says nothing about another's: of the users in A's half, about
    // half are in B's half (binomial, 3 standard deviations).
    let half = Percent::new(50.0).unwrap();
    let (mut in_a, mut in_both) = (0u32, 0u32);
    for i in 0..40_000 {
        let unit = i.to_string();
        if half.contains(bucket("grading.new_grader", &unit)) {
            in_a += 1;
            in_both += u32::from(half.contains(bucket("catalog.recommendations", &unit)));
        }
    }
    let share = f64::from(in_both) / f64::from(in_a);
    let sd = (0.25 / f64::from(in_a)).sqrt();
    assert!(
        (share - 0.5).abs() < 3.0 * sd,
        "{share:.4} of A's half is in B's half"
    );
}

proptest! {
    #[test]
    fn deterministic(salt in ".{0,40}", unit in ".{0,40}") {
        let b = bucket(&salt, &unit);
        prop_assert!(b < BUCKETS);
        prop_assert_eq!(b, bucket(&salt, &unit));
    }

    #[test]
    fn monotonic(salt in "[a-z._]{1,30}", unit in ".{0,30}", p in 0u16..=10_000, q in 0u16..=10_000) {
        let (lo, hi) = (p.min(q), p.max(q));
        let b = bucket(&salt, &unit);
        let (lo, hi) = (Percent::from_basis_points(lo).unwrap(), Percent::from_basis_points(hi).unwrap());
        // Every unit in at the smaller size is in at the larger one.
        prop_assert!(!lo.contains(b) || hi.contains(b));
    }
}

/// The formula as written, with the streaming hasher: what `bucket` must equal whatever path it
/// takes (one padded block up to 55 bytes, the streaming hasher beyond).
fn reference(salt: &str, unit: &str) -> u16 {
    reference_draw(salt, unit).0
}

/// The bucket and the seed of an arm's draw, by the streaming hasher.
fn reference_draw(salt: &str, unit: &str) -> (u16, u64) {
    use sha2::{Digest, Sha256};
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
    (u16::try_from(word(0) % 10_000).unwrap(), word(8))
}

#[test]
fn every_message_length_around_one_block_matches_the_formula() {
    for len in 0..80 {
        let unit = "u".repeat(len);
        assert_eq!(
            bucket("grading.new_grader", &unit),
            reference("grading.new_grader", &unit),
            "{len}"
        );
        assert_eq!(bucket("", &unit), reference("", &unit), "{len}");
        assert_eq!(
            draw("checkout.checkout_flow", &unit),
            reference_draw("checkout.checkout_flow", &unit),
            "{len}"
        );
    }
}

proptest! {
    #[test]
    fn matches_the_formula(salt in ".{0,40}", unit in ".{0,40}") {
        prop_assert_eq!(bucket(&salt, &unit), reference(&salt, &unit));
        prop_assert_eq!(draw(&salt, &unit), reference_draw(&salt, &unit));
    }
}
