//! The floor under every row: what the evaluation would cost with no library at all.
//!
//! - on/off: one relaxed load of an `AtomicBool` (the least a flag that can change at run time
//!   costs);
//! - rollout: SHA-256 of `salt:user` through the `sha2` crate's streaming hasher, its first
//!   8 bytes modulo 10,000, compared with 5,000 (toggles' bucketing formula, as anyone would
//!   write it);
//! - experiment: the same bucket, its arm the third it falls in.
//!
//! "Fresh" and "reused" rows are the same work here: there is no context to build.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use harness::{measure, users, Counting, Row};
use sha2::{Digest, Sha256};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

static ON: AtomicBool = AtomicBool::new(true);

fn bucket(salt: &str, user: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(b":")
        .chain_update(user.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % 10_000
}

fn in_rollout(salt: &str, user: &str) -> bool {
    bucket(salt, user) < 5_000
}

fn main() {
    let users = users();
    // The experiment: the same bucket, cut in thirds, the middle third `one_page`.
    for row in Row::ARMS {
        measure("baseline", "raw SHA-256 bucket, arm by thirds", row, |i| {
            (3_334..6_667).contains(&bucket(black_box("bench.experiment"), &users[i]))
        });
    }
    for row in Row::ALL {
        if row.is_rollout() {
            measure("baseline", "raw SHA-256 bucket", row, |i| {
                in_rollout(black_box("bench.rollout"), &users[i])
            });
        } else {
            measure("baseline", "raw atomic load", row, |_| {
                ON.load(Ordering::Relaxed)
            });
        }
    }
}
