//! Benchmarks of `toggles` live in `benches/`; run them with
//! `cargo bench -p toggles-bench`. See BENCHMARKS.md for the figures and how to read them.
