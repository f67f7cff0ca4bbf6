//! Writes the toggle declarations for the rebuild benchmark: 10,000 for the benchmark (a
//! megabyte of source, so generated rather than committed), and 10 of the same shape for
//! clippy, which lints what the generator writes without expanding 10,000 attributes each run.

use std::fmt::Write as _;

fn declarations(count: usize) -> String {
    let mut src = String::new();
    for i in 0..count {
        let _ = writeln!(
            src,
            "/// Benchmark toggle {i}.\n#[toggle(namespace = \"bench\", name = \"t{i}\", life = \"permanent\", justification = \"benchmark\")]\npub static T{i}: Flag;"
        );
    }
    // Every one of them, for the benchmark of one usage interval's cold paths.
    let _ = write!(src, "pub(crate) static ALL: [&Flag; {count}] = [");
    for i in 0..count {
        let _ = write!(src, "&T{i}, ");
    }
    src.push_str("];\n");
    src
}

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(format!("{out}/many_toggles.rs"), declarations(10_000))
        .expect("OUT_DIR is writable");
    std::fs::write(format!("{out}/few_toggles.rs"), declarations(10)).expect("OUT_DIR is writable");
    println!("cargo::rerun-if-changed=build.rs");
}
