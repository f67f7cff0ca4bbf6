//! Usage through a real installation: what the checks answered is noted on their cold paths,
//! sent with the heartbeat, kept by the store per toggle and service, and judged by the fleet
//! report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use toggles::fleet::{FleetReport, Stage, LIVE_WITHIN};
use toggles::rules::{FlagRule, VariantRule};
use toggles::store::{MemoryStore, Store, Usage};
use toggles::{toggle, Change, Context, Date, Flag, Installer, Service, Switch, Timestamp};
use toggles::{Variant, Variants};

/// Off: the compiled default, never set.
#[toggle(namespace = "usage", life = "permanent", justification = "tests")]
static SWITCH: Switch;

/// On for everyone once the test sets its rule.
#[toggle(namespace = "usage", life = "temporary", remove_by = "2030-01-01")]
static CONSTANT: Flag;

/// Half of the users.
#[toggle(namespace = "usage", life = "temporary", remove_by = "2030-01-01")]
static ROLLOUT: Flag;

/// Declared, never checked.
#[toggle(namespace = "usage", life = "temporary", remove_by = "2030-01-01")]
static NEVER: Flag;

#[derive(Clone, Copy, Debug, PartialEq, Variants)]
enum Flow {
    Classic,
    OnePage,
}

/// `one_page` for everyone once the test sets its rule.
#[toggle(namespace = "usage", life = "temporary", remove_by = "2030-01-01")]
static FLOW: Variant<Flow> = Flow::Classic;

fn answers<'u>(usage: &'u [Usage], toggle: &str) -> Option<Vec<&'u str>> {
    usage
        .iter()
        .find(|u| u.toggle == toggle)
        .map(|u| u.answers.keys().map(String::as_str).collect())
}

#[test]
fn the_heartbeat_carries_what_each_toggle_answered() {
    let store = Arc::new(MemoryStore::new());
    let _installation = Installer::new(Arc::clone(&store))
        .service(Service::new("web", "1.0.0"))
        .heartbeat(Duration::from_millis(20))
        .install()
        .unwrap();
    let write = |change: Change| toggles::write(change.by("test").because("usage")).unwrap();
    write(Change::flag(
        "usage.constant",
        FlagRule::new().everyone(true),
    ));
    write(Change::flag("usage.rollout", FlagRule::new().percent(50.0)));
    write(Change::variant(
        "usage.flow",
        VariantRule::new().everyone("one_page"),
    ));

    let deadline = Instant::now() + Duration::from_secs(20);
    let usage = loop {
        for user in 0..200 {
            let user = user.to_string();
            let ctx = Context::new().with_user(&user);
            let _ = (SWITCH.is_enabled(), CONSTANT.is_enabled(&ctx));
            let _ = (ROLLOUT.is_enabled(&ctx), FLOW.get(&ctx));
        }
        let usage = store.usage().unwrap().expect("a memory store keeps usage");
        let everything = [
            "usage.switch",
            "usage.constant",
            "usage.rollout",
            "usage.flow",
        ]
        .iter()
        .all(|t| answers(&usage, t).is_some());
        if everything && answers(&usage, "usage.rollout").unwrap().len() == 2 {
            break usage;
        }
        assert!(Instant::now() < deadline, "usage so far: {usage:?}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(answers(&usage, "usage.switch"), Some(vec!["off"]));
    assert_eq!(answers(&usage, "usage.constant"), Some(vec!["on"]));
    assert_eq!(answers(&usage, "usage.rollout"), Some(vec!["off", "on"]));
    assert_eq!(answers(&usage, "usage.flow"), Some(vec!["one_page"]));
    assert_eq!(answers(&usage, "usage.never"), None, "never checked");
    assert!(usage.iter().all(|u| u.service == "web"));

    let report = FleetReport::of(&*store, Date::today(), Timestamp::now(), LIVE_WITHIN).unwrap();
    let stage = |name: &str| {
        report
            .toggles
            .iter()
            .find(|t| t.full_name == name)
            .and_then(|t| t.lifecycle.as_ref())
            .map(|l| l.stage)
    };
    assert_eq!(stage("usage.rollout"), Some(Stage::Live));
    assert_eq!(stage("usage.never"), Some(Stage::NeverEvaluated));
    // One answer so far, but for seconds, not the 30 days that make it launched.
    assert_eq!(stage("usage.constant"), Some(Stage::Live));
    assert!(report.stale.is_empty());
}
