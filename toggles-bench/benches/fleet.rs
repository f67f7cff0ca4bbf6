//! Reading a large fleet from the PostgreSQL store: 1,000 instances of 4 services, each
//! publishing its 200 toggles' declarations — what every fleet report and every validated
//! write to a fleet's store (`WriteRequest::to`: the CLI, the admin page) reads first — beside the raw query that fetches
//! every instance's declarations unparsed.
//!
//! Needs the PostgreSQL server at `$TOGGLES_TEST_POSTGRES` (default: 127.0.0.1:5432, user
//! `postgres`, database `test`); says so and stops when there is none. Run:
//! `cargo bench -p toggles-bench --bench fleet`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::json;
use toggles::fleet::Declared;
use toggles::fleet::FleetReport;
use toggles::postgres::PostgresStore;
use toggles::store::{Declarations, Service, Store, Use};
use toggles::{Date, Timestamp};

const SCHEMA: &str = "bench_fleet";
const INSTANCES: usize = 1_000;
const SERVICES: usize = 4;
const TOGGLES: usize = 200;

fn url() -> String {
    std::env::var("TOGGLES_TEST_POSTGRES")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// Service `s`'s declarations, as instance `i`: the same toggles for every instance of a
/// service, as instances of one build publish.
fn declarations(s: usize, i: usize) -> Declarations {
    let toggles = (0..TOGGLES)
        .map(|t| {
            serde_json::from_value::<Declared>(json!({
                "full_name": format!("service{s}.toggle_{t}"),
                "kind": "flag",
                "value_type": "bool",
                "default": false,
                "description": "Show learners the redesigned course outline, with sections collapsed by default and progress shown per subsection.",
                "life": "temporary",
                "remove_by": "2027-06-01",
                "justification": null,
                "created": "2026-01-15",
                "owner": format!("team-{s}"),
                "use_cases": ["incremental_release"],
                "tickets": "https://tickets.example.com/browse/LEARNER-1234",
                "warning": null,
                "source": {
                    "crate": format!("service{s}"),
                    "crate_version": "1.4.2",
                    "module_path": format!("service{s}::courseware::outline"),
                    "file": "src/courseware/outline.rs",
                    "line": 10 + t,
                    "column": 1
                }
            }))
            .expect("a declaration")
        })
        .collect();
    let mut service = Service::new(format!("service{s}"), "1.4.2");
    service.instance = format!("host-{i}:{}", 1000 + i);
    Declarations::new(service, toggles)
}

fn fleet(c: &mut Criterion) {
    let mut raw = match postgres::Client::connect(&url(), postgres::NoTls) {
        Ok(client) => client,
        Err(e) => {
            eprintln!(
                "no PostgreSQL server at `{}` ({e}): nothing measured",
                url()
            );
            return;
        }
    };
    raw.batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .unwrap();
    let store = PostgresStore::new(&url(), SCHEMA).unwrap();
    let now = Timestamp::now();
    for i in 0..INSTANCES {
        store.publish(&declarations(i % SERVICES, i), now).unwrap();
    }

    let mut group = c.benchmark_group("fleet of 1,000 instances x 200 toggles");
    group.sample_size(10);
    group.bench_function(
        "baseline: SELECT every instance's declarations, unparsed",
        |b| {
            b.iter(|| {
                let rows = raw
                    .query(
                        &format!("SELECT declarations::text FROM {SCHEMA}.instances"),
                        &[],
                    )
                    .unwrap();
                black_box(rows.len())
            });
        },
    );
    group.bench_function("PostgresStore::published", |b| {
        b.iter(|| black_box(store.published().unwrap().len()));
    });
    group.bench_function("FleetReport::of", |b| {
        let as_of: Date = "2026-11-22".parse().unwrap();
        b.iter(|| {
            let report =
                FleetReport::of(&store, as_of, Timestamp::now(), Duration::from_secs(90)).unwrap();
            black_box(report.toggles.len())
        });
    });
    // Every instance reports one heartbeat's usage: each of its service's toggles evaluated,
    // giving both answers. The store keeps it per toggle and service, so the report reads
    // 800 usage rows and 1,600 answers, and judges each toggle's stage.
    for i in 0..INSTANCES {
        let s = i % SERVICES;
        let used: Vec<Use> = (0..TOGGLES)
            .map(|t| {
                Use::new(
                    format!("service{s}.toggle_{t}"),
                    vec!["off".to_owned(), "on".to_owned()],
                )
            })
            .collect();
        store
            .record_usage(&format!("service{s}"), now, &used)
            .unwrap();
    }
    group.bench_function("FleetReport::of, with the usage of 1,000 instances", |b| {
        let as_of: Date = "2026-11-22".parse().unwrap();
        b.iter(|| {
            let report =
                FleetReport::of(&store, as_of, Timestamp::now(), Duration::from_secs(90)).unwrap();
            assert!(report.toggles[0].lifecycle.is_some());
            black_box(report.toggles.len())
        });
    });
    group.finish();
}

criterion_group!(benches, fleet);
criterion_main!(benches);
