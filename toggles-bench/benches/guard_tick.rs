//! What one guard tick costs the process that ticks: 100 guarded flags among a store of 1,000
//! rules, each flag with outcomes and run times recorded since the last tick, as
//! the guard thread runs it every 10 s (on a clock the bench moves 10 s a tick, so each 5-minute
//! window holds 30 ticks). Only the tick is timed; the recording between ticks is not.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use toggles::rules::{FlagRule, Guard, Timestamp};
use toggles::store::FileStore;
use toggles::{toggle, Flag};

/// Declares the guarded flags, and `GUARDED`, the list of them.
macro_rules! guarded {
    ($($name:ident)*) => {
        $(
            /// A guarded flag of the tick.
            #[toggle(namespace = "tick", life = "permanent", justification = "benchmark")]
            static $name: Flag;
        )*
        static GUARDED: &[&Flag] = &[$(&$name),*];
    };
}

guarded!(G00 G01 G02 G03 G04 G05 G06 G07 G08 G09 G10 G11 G12 G13 G14 G15 G16 G17 G18 G19 G20 G21 G22 G23 G24 G25 G26 G27 G28 G29 G30 G31 G32 G33 G34 G35 G36 G37 G38 G39 G40 G41 G42 G43 G44 G45 G46 G47 G48 G49 G50 G51 G52 G53 G54 G55 G56 G57 G58 G59 G60 G61 G62 G63 G64 G65 G66 G67 G68 G69 G70 G71 G72 G73 G74 G75 G76 G77 G78 G79 G80 G81 G82 G83 G84 G85 G86 G87 G88 G89 G90 G91 G92 G93 G94 G95 G96 G97 G98 G99);

fn tick(c: &mut Criterion) {
    // Limits no outcome below comes near: every guard judges, none trips.
    let guard = Guard::error_rate(50.0)
        .max_margin(50.0)
        .max_slow_share(Duration::from_secs(10), 50.0)
        .max_p95_margin(1000.0)
        .max_traffic_drop(99.0)
        .min_requests(10);
    let guarded = FlagRule::new().percent(50.0).guard(guard);
    let mut flags = serde_json::Map::new();
    for flag in GUARDED {
        let name = flag.meta().full_name().to_owned();
        flags.insert(name, serde_json::to_value(&guarded).unwrap());
    }
    // 900 more rules, of toggles other services declare.
    for i in 0..900 {
        let rule = FlagRule::new().percent(f64::from(i % 100));
        flags.insert(
            format!("other.flag_{i:03}"),
            serde_json::to_value(rule).unwrap(),
        );
    }
    let path = std::env::temp_dir().join(format!("toggles-guard-tick-{}.json", std::process::id()));
    std::fs::write(&path, serde_json::json!({ "flags": flags }).to_string()).unwrap();
    let toggles = toggles::Installer::new(FileStore::open(&path).unwrap())
        .without_guard_thread()
        .install()
        .unwrap();
    let mut at = Timestamp::now().unix_seconds();
    let mut g = c.benchmark_group("guard tick");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function(
        "one tick: 100 guarded flags (200 outcomes and run times each), 1,000 rules",
        |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                // Ticks 10 s apart, as the guard thread's: a 5-minute window holds 30 of them.
                for _ in 0..iters {
                    for flag in GUARDED {
                        for i in 0..100u64 {
                            flag.record_timed(true, i % 50 != 0, Duration::from_micros(900 + i));
                            flag.record_timed(false, true, Duration::from_micros(800 + i));
                        }
                    }
                    at += 10;
                    let start = Instant::now();
                    black_box(toggles.check_guards_at(Timestamp::from_unix_seconds(at)));
                    spent += start.elapsed();
                }
                spent
            });
        },
    );
    g.finish();
    drop(toggles);
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, tick);
criterion_main!(benches);
