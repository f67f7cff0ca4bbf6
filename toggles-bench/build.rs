//! Writes 10,000 toggle declarations for the rebuild benchmark: as source they would be a
//! megabyte in the repository.

use std::fmt::Write as _;

fn main() {
    let mut src = String::new();
    for i in 0..10_000 {
        let _ = writeln!(
            src,
            "/// Benchmark toggle {i}.\n#[toggle(namespace = \"bench\", name = \"t{i}\", life = \"permanent\", justification = \"benchmark\")]\npub static T{i}: Flag;"
        );
    }
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{out}/many_toggles.rs"), src).expect("OUT_DIR is writable");
}
