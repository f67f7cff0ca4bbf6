//! Exposures of tracked experiments: delivered to every subscriber, only for units the
//! experiment drew, deduplicated per unit and arm within the window (across threads too),
//! dropped and counted when the buffer is full, and shaped as OpenTelemetry's
//! `feature_flag.evaluation` event by the tracing subscriber. The store and the buffer are
//! process-wide, so these tests take turns (`serial`).

#[path = "support/checkout.rs"]
mod checkout;
mod support;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use checkout::{Checkout, CHECKOUT_FLOW, NAME};
use support::store::serial;
use toggles::experiment::{Exposure, TracingSubscriber, EXPOSURE_BUFFER};
use toggles::rules::bucket::draw;
use toggles::rules::VariantRule;
use toggles::store::{MemoryStore, Store as _};
use toggles::{Change, Context, Installer, Step, Variants};

type Seen = Arc<Mutex<Vec<Exposure>>>;

struct Installed {
    toggles: toggles::Installation,
    seen: Seen,
    _serial: MutexGuard<'static, ()>,
}

impl Installed {
    /// Delivers what is buffered, and takes what the subscriber has seen.
    fn delivered(&self) -> Vec<Exposure> {
        self.toggles.drain_exposures();
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

/// Installs a store holding `rule`, a collecting subscriber, no exposure thread (the test
/// drains), and the given window.
fn installed(rule: VariantRule, window: Duration) -> Installed {
    installed_with(rule, |i| {
        i.without_exposure_thread().exposure_window(window)
    })
}

/// Installs a store holding `rule` with a collecting subscriber, as `setup` adds to.
fn installed_with(rule: VariantRule, setup: impl FnOnce(Installer) -> Installer) -> Installed {
    let serial = serial();
    let seen: Seen = Arc::default();
    let sink = Arc::clone(&seen);
    let installer = Installer::new(MemoryStore::new())
        .subscribe(move |batch: &[Exposure]| sink.lock().unwrap().extend_from_slice(batch));
    let toggles = setup(installer).install().unwrap();
    toggles::write(Change::variant(NAME, rule).by("ana").because("experiment")).unwrap();
    Installed {
        toggles,
        seen,
        _serial: serial,
    }
}

fn experiment() -> VariantRule {
    VariantRule::new()
        .coverage(50.0)
        .weight("classic", 5000)
        .weight("one_page", 2500)
        .weight("express", 2500)
        .users("express", ["pinned"])
        .track(true)
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn each_unit_the_experiment_draws_is_delivered_with_its_arm_and_bucket() {
    let g = installed(experiment(), HOUR);
    let mut drawn = Vec::new();
    for i in 0..400 {
        let user = format!("user-{i}");
        let arm = CHECKOUT_FLOW.get(&Context::new().with_user(&user));
        let (bucket, _) = draw(NAME, &user);
        if bucket < 5000 {
            drawn.push((user, arm, bucket));
        }
    }
    // Neither a pinned unit, nor a context without a unit, nor an explanation is an exposure.
    assert_eq!(
        CHECKOUT_FLOW.get(&Context::new().with_user("pinned")),
        Checkout::Express
    );
    CHECKOUT_FLOW.get(&Context::new());
    for i in 0..400 {
        CHECKOUT_FLOW.explain(&Context::new().with_user(&format!("other-{i}")));
    }
    let seen = g.delivered();
    assert_eq!(seen.len(), drawn.len(), "one exposure per drawn unit");
    for (exposure, (user, arm, bucket)) in seen.iter().zip(&drawn) {
        assert_eq!(exposure.toggle, NAME);
        assert_eq!(exposure.unit, *user);
        assert_eq!(exposure.arm, arm.name());
        assert_eq!(
            exposure.step,
            Step::Split {
                bucket: Some(*bucket),
                coverage: 5000,
                stickiness: None
            }
        );
    }
    let now = toggles::Timestamp::now().unix_seconds();
    assert!(
        (now - seen[0].at.unix_seconds()).abs() < 60,
        "stamped about now"
    );
    assert!(toggles::status().exposures.delivered >= drawn.len() as u64);
}

#[test]
fn an_untracked_experiment_exposes_nobody() {
    let g = installed(experiment().track(false), HOUR);
    for i in 0..200 {
        CHECKOUT_FLOW.get(&Context::new().with_user(&format!("user-{i}")));
    }
    assert!(g.delivered().is_empty());
}

#[test]
fn a_unit_is_exposed_once_per_arm_within_the_window_whatever_the_threads() {
    let g = installed(experiment(), HOUR);
    let drawn: Vec<String> = (0..200)
        .map(|i| format!("user-{i}"))
        .filter(|u| draw(NAME, u).0 < 5000)
        .collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..3 {
                    for user in &drawn {
                        CHECKOUT_FLOW.get(&Context::new().with_user(user));
                    }
                }
            });
        }
    });
    let seen = g.delivered();
    assert_eq!(
        seen.len(),
        drawn.len(),
        "once each, from four threads checking three times"
    );
    // Checked again later within the window: nothing new.
    for user in &drawn {
        CHECKOUT_FLOW.get(&Context::new().with_user(user));
    }
    assert!(g.delivered().is_empty());
    assert!(toggles::status().exposures.deduplicated > 0);
}

#[test]
fn after_the_window_a_unit_is_exposed_again() {
    let g = installed(experiment(), Duration::from_millis(100));
    let user = (0..10_000)
        .map(|i| format!("user-{i}"))
        .find(|u| draw(NAME, u).0 < 5000)
        .unwrap();
    let check = || CHECKOUT_FLOW.get(&Context::new().with_user(&user));
    check();
    check();
    assert_eq!(g.delivered().len(), 1);
    std::thread::sleep(Duration::from_millis(150));
    // The drain moves the clock exposures are stamped with.
    g.delivered();
    check();
    assert_eq!(
        g.delivered().len(),
        1,
        "exposed again once the window passed"
    );
}

#[test]
fn a_full_buffer_drops_and_counts_and_checks_go_on() {
    let g = installed(experiment().coverage(100.0), HOUR);
    let before = toggles::status().exposures;
    let extra = 1000;
    // As documented: an exposure takes 20 bytes and its unit id's (11 here).
    let fit = EXPOSURE_BUFFER / (20 + "unit-000000".len());
    for i in 0..fit + extra {
        CHECKOUT_FLOW.get(&Context::new().with_user(&format!("unit-{i:06}")));
    }
    let long = "x".repeat(200);
    CHECKOUT_FLOW.get(&Context::new().with_user(&long));
    let after = toggles::status().exposures;
    assert_eq!(after.dropped - before.dropped, extra as u64);
    assert_eq!(after.unit_too_long - before.unit_too_long, 1);
    assert_eq!(g.delivered().len(), fit, "what fit is delivered");
}

#[test]
fn each_thread_has_a_buffer_of_its_own() {
    let g = installed(experiment().coverage(100.0), HOUR);
    let before = toggles::status().exposures;
    let fit = EXPOSURE_BUFFER / (20 + "t0-unit-000000".len());
    std::thread::scope(|s| {
        for t in 0..2 {
            s.spawn(move || {
                for i in 0..fit {
                    CHECKOUT_FLOW.get(&Context::new().with_user(&format!("t{t}-unit-{i:06}")));
                }
            });
        }
    });
    let after = toggles::status().exposures;
    assert_eq!(
        after.dropped, before.dropped,
        "each thread's buffer held its own"
    );
    assert_eq!(g.delivered().len(), 2 * fit);
}

#[test]
fn a_panicking_subscriber_loses_its_batch_only() {
    let g = installed_with(experiment().coverage(100.0), |i| {
        i.subscribe(|_: &[Exposure]| panic!("analytics is down"))
            .without_exposure_thread()
    });
    CHECKOUT_FLOW.get(&Context::new().with_user("42"));
    assert_eq!(g.delivered().len(), 1, "the other subscriber has its batch");
    CHECKOUT_FLOW.get(&Context::new().with_user("43"));
    assert_eq!(g.delivered().len(), 1, "the drain goes on after a panic");
}

#[test]
fn the_exposure_thread_delivers_by_itself_and_shutdown_delivers_the_rest() {
    let Installed {
        toggles,
        seen,
        _serial,
    } = installed_with(experiment().coverage(100.0), |i| {
        i.exposure_tick(Duration::from_millis(20))
    });
    CHECKOUT_FLOW.get(&Context::new().with_user("42"));
    support::store::wait_for("the exposure thread's delivery", || {
        seen.lock().unwrap().len() == 1
    });
    CHECKOUT_FLOW.get(&Context::new().with_user("43"));
    toggles.shutdown();
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "delivered at shutdown at the latest"
    );
    // No installation drains now: a check hands nothing over.
    CHECKOUT_FLOW.get(&Context::new().with_user("44"));
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// An event as the test keeps it: its name, its target, its fields as text.
type Event = (String, String, Vec<(String, String)>);

/// A `tracing` subscriber that keeps each event's name, target and fields.
#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl tracing::Subscriber for Events {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let meta = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((meta.name().to_owned(), meta.target().to_owned(), fields));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn the_tracing_subscriber_emits_opentelemetrys_feature_flag_evaluation() {
    let events = Arc::new(Events::default());
    let exposure = {
        let g = installed(experiment().coverage(100.0), HOUR);
        CHECKOUT_FLOW.get(&Context::new().with_user("42"));
        g.delivered().pop().unwrap()
    };
    tracing::subscriber::with_default(Arc::clone(&events), || {
        toggles::experiment::Subscriber::exposed(
            &TracingSubscriber,
            std::slice::from_ref(&exposure),
        );
    });
    let events = events.0.lock().unwrap();
    let (name, target, fields) = &events[0];
    assert_eq!(
        (name.as_str(), target.as_str()),
        ("feature_flag.evaluation", "toggles::exposure")
    );
    let field = |key: &str| {
        let found = fields.iter().find(|(k, _)| k == key);
        found.map_or_else(
            || panic!("no field {key} in {fields:?}"),
            |(_, v)| v.as_str(),
        )
    };
    assert_eq!(field("feature_flag.key"), NAME);
    assert_eq!(field("feature_flag.result.variant"), exposure.arm);
    assert_eq!(field("feature_flag.result.reason"), "split");
    assert_eq!(field("feature_flag.context.id"), "42");
    assert_eq!(field("feature_flag.provider.name"), "toggles");
}

/// A drawn unit (its bucket below the 50% coverage) of the experiment, by index.
fn drawn(n: usize) -> Vec<String> {
    (0..100_000)
        .map(|i| format!("user-{i}"))
        .filter(|u| draw(NAME, u).0 < 5000)
        .take(n)
        .collect()
}

#[test]
fn results_count_units_once_in_their_first_arm_and_conversions_after_exposure() {
    let g = installed(experiment(), HOUR);
    let users = drawn(300);
    let mut arms = std::collections::BTreeMap::<&str, (u64, u64)>::new();
    for (i, user) in users.iter().enumerate() {
        let ctx = Context::new().with_user(user);
        let arm = CHECKOUT_FLOW.get(&ctx).name();
        let entry = arms.entry(arm).or_default();
        entry.0 += 1;
        if i % 3 == 0 {
            CHECKOUT_FLOW.convert(&ctx, "purchase");
            CHECKOUT_FLOW.convert(&ctx, "purchase");
            entry.1 += 1;
        }
    }
    // A unit outside the coverage converts: it was never exposed, so it counts nowhere.
    let outside = (0..)
        .map(|i| format!("user-{i}"))
        .take(100_000)
        .find(|u| draw(NAME, u).0 >= 5000)
        .unwrap();
    CHECKOUT_FLOW.convert(&Context::new().with_user(&outside), "purchase");
    g.delivered();
    let results = toggles::experiment::results(NAME).unwrap();
    assert_eq!(results.control, "classic");
    assert_eq!(results.goals, ["purchase"]);
    for arm in &results.arms {
        let (exposed, converted) = arms.get(arm.arm.as_str()).copied().unwrap_or_default();
        assert_eq!(arm.exposed, exposed, "{}", arm.arm);
        assert_eq!(
            arm.goals[0].converted, converted,
            "{}: once per unit",
            arm.arm
        );
    }
    // The weights moved everyone to express: a unit keeps the arm it was first exposed to.
    toggles::write(
        Change::variant(
            NAME,
            experiment()
                .weight("classic", 0)
                .weight("one_page", 0)
                .weight("express", 1),
        )
        .by("ana")
        .because("all in on express"),
    )
    .unwrap();
    for user in &users {
        assert_eq!(
            CHECKOUT_FLOW.get(&Context::new().with_user(user)),
            Checkout::Express
        );
    }
    g.delivered();
    let again = toggles::experiment::results(NAME).unwrap();
    let exposed: Vec<u64> = again.arms.iter().map(|a| a.exposed).collect();
    let before: Vec<u64> = results.arms.iter().map(|a| a.exposed).collect();
    assert_eq!(exposed, before, "first exposures stand");
}

#[test]
fn shutdown_records_what_was_drawn_in_the_store() {
    let _serial = serial();
    let store = Arc::new(MemoryStore::new());
    let toggles = Installer::new(Arc::clone(&store))
        .without_exposure_thread()
        .install()
        .unwrap();
    toggles::write(
        Change::variant(NAME, experiment().coverage(100.0))
            .by("ana")
            .because("experiment"),
    )
    .unwrap();
    let ctx = Context::new().with_user("42");
    CHECKOUT_FLOW.get(&ctx);
    CHECKOUT_FLOW.convert(&ctx, "purchase");
    toggles.shutdown();
    let counts = store.experiment_counts(NAME).unwrap().unwrap();
    let exposed: u64 = counts.values().map(|c| c.exposed).sum();
    let converted: u64 = counts
        .values()
        .map(|c| c.converted.get("purchase").copied().unwrap_or(0))
        .sum();
    assert_eq!(
        (exposed, converted),
        (1, 1),
        "recorded before the store was let go"
    );
}

#[test]
fn a_conversion_after_the_exposure_counts_when_one_came_before_it() {
    let g = installed(experiment().coverage(100.0), HOUR);
    // Converted before the experiment took the unit in (a purchase before the page changed),
    // then exposed, then converted again.
    toggles::write(
        Change::variant(NAME, experiment().coverage(0.0).weight("classic", 1))
            .by("ana")
            .because("not yet"),
    )
    .unwrap();
    CHECKOUT_FLOW.convert(&Context::new().with_user("42"), "purchase");
    g.delivered();
    std::thread::sleep(Duration::from_millis(5));
    toggles::write(
        Change::variant(NAME, experiment().coverage(100.0))
            .by("ana")
            .because("now"),
    )
    .unwrap();
    let ctx2 = Context::new().with_user("42");
    CHECKOUT_FLOW.get(&ctx2);
    g.delivered();
    std::thread::sleep(Duration::from_millis(5));
    CHECKOUT_FLOW.convert(&ctx2, "purchase");
    g.delivered();
    let results = toggles::experiment::results(NAME).unwrap();
    let converted: u64 = results.arms.iter().map(|a| a.goals[0].converted).sum();
    assert_eq!(converted, 1, "{results:?}");
}

/// The file store keeps exposures and conversions in a file beside its own, so every process
/// sharing the file counts together, and a torn line (a crash mid-append) is set aside.
#[test]
fn the_file_store_keeps_experiments_beside_its_file() {
    use toggles::experiment::{Converted, Exposed};
    use toggles::store::FileStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toggles.json");
    let (one, two) = (
        FileStore::open(&path).unwrap(),
        FileStore::open(&path).unwrap(),
    );
    let t = |s: i64| toggles::Timestamp::from_unix_seconds(1_800_000_000 + s);
    one.record_exposures(&[
        Exposed::new(NAME, "1", "classic", t(0)),
        Exposed::new(NAME, "2", "one_page", t(0)),
    ])
    .unwrap();
    let experiments = dir.path().join("toggles.json.experiments");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&experiments)
        .unwrap();
    std::io::Write::write_all(&mut file, br#"{"exposed": {"toggle": "#).unwrap();
    two.record_exposures(&[Exposed::new(NAME, "1", "express", t(5))])
        .unwrap();
    two.record_conversions(&[
        Converted::new(NAME, "1", "purchase", t(10)),
        Converted::new(NAME, "2", "purchase", t(-1)),
    ])
    .unwrap();
    let counts = one.experiment_counts(NAME).unwrap().unwrap();
    assert_eq!(counts["classic"].exposed, 1, "unit 1's earliest exposure");
    assert_eq!(counts["classic"].converted["purchase"], 1);
    assert_eq!(counts["one_page"].exposed, 1);
    assert_eq!(
        counts["one_page"].converted.get("purchase"),
        None,
        "before its exposure"
    );
    assert!(!counts.contains_key("express"));
}
