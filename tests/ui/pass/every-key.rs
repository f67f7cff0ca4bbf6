//! Every key of the attribute at once, and every value type a setting takes.
#![deny(warnings)]
use toggles::{toggle, Life, Setting, Switch, UseCase};

/// Show the new dashboard
/// to beta testers.
#[toggle(
    namespace = "courseware.dashboard",
    name = "beta_view",
    life = "temporary",
    remove_by = "2026-02-28",
    created = "2025-02-28",
    owner = "learner-team",
    use_cases = "beta_testing, monitored_rollout",
    tickets = "https://tickets.example/DASH-1",
    warning = "needs the new API deployed first",
    crate = "toggles",
)]
pub static DASHBOARD: Switch;

/// Greeting shown on the home page.
#[toggle(namespace = "home", life = "permanent", justification = "per deployment")]
static GREETING: Setting<&'static str> = "Welcome";

/// Share of traffic to sample for tracing.
#[toggle(namespace = "tracing", life = "permanent", justification = "tuned per deployment")]
static SAMPLE_RATE: Setting<f64> = 0.25;

/// Offset applied to the queue priority.
#[toggle(namespace = "queue", life = "permanent", justification = "tuned per deployment")]
static PRIORITY_OFFSET: Setting<i32> = -3;

/// Whether to compress responses.
#[toggle(namespace = "http", life = "permanent", justification = "some proxies break on gzip")]
static COMPRESS: Setting<bool> = true;

const DEFAULT_WORKERS: usize = 4;

/// Workers in the grading pool.
#[toggle(namespace = "grading", life = "permanent", justification = "sized per machine")]
static WORKERS: Setting<usize> = DEFAULT_WORKERS * 2;

fn main() {
    let m = DASHBOARD.meta();
    assert_eq!(m.full_name(), "courseware.dashboard.beta_view");
    assert_eq!(m.description(), "Show the new dashboard\nto beta testers.");
    assert_eq!(m.life(), Life::Temporary { remove_by: "2026-02-28".parse().unwrap() });
    assert_eq!(m.created(), Some("2025-02-28".parse().unwrap()));
    assert_eq!(m.owner(), Some("learner-team"));
    assert_eq!(m.use_cases(), [UseCase::BetaTesting, UseCase::MonitoredRollout]);
    assert_eq!(m.tickets(), Some("https://tickets.example/DASH-1"));
    assert_eq!(m.warning(), Some("needs the new API deployed first"));
    assert_eq!(GREETING.get(), "Welcome");
    assert_eq!(SAMPLE_RATE.get(), 0.25);
    assert_eq!(PRIORITY_OFFSET.get(), -3);
    assert!(COMPRESS.get());
    assert_eq!(WORKERS.get(), 8);
    assert_eq!(toggles::registry().len(), 6);
}
