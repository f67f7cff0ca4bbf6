//! Each toggle's lifecycle stage, judged from what the fleet evaluates: never evaluated, live
//! (its answers vary), launched (one answer for everyone for a while), unused (nobody evaluated
//! it for a while), or expired (past its `remove_by`); and, for a stale one, the fix.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::declare::Kind;
use crate::stores::{Declared, Usage};
use crate::targeting::Timestamp;

/// How long a toggle must give one answer, or go unevaluated, before it counts as launched or
/// unused, per life; `None`: a toggle of that life never turns stale that way (its
/// `justification` is why it stays), though its stage is still shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Staleness {
    /// For temporary toggles: 30 days unless set.
    pub temporary: Option<Duration>,
    /// For permanent toggles: never unless set.
    pub permanent: Option<Duration>,
}

/// The window stages are judged over for a life that never turns stale: 30 days.
pub const STAGE_WINDOW: Duration = Duration::from_secs(30 * 86_400);

impl Default for Staleness {
    fn default() -> Staleness {
        Staleness {
            temporary: Some(STAGE_WINDOW),
            permanent: None,
        }
    }
}

impl Staleness {
    /// Temporary toggles turn stale after `window`.
    #[must_use]
    pub fn temporary(mut self, window: Option<Duration>) -> Staleness {
        self.temporary = window;
        self
    }

    /// Permanent toggles turn stale after `window` (`None`: never).
    #[must_use]
    pub fn permanent(mut self, window: Option<Duration>) -> Staleness {
        self.permanent = window;
        self
    }

    fn window(&self, life: &str) -> Option<Duration> {
        match life {
            "permanent" => self.permanent,
            _ => self.temporary,
        }
    }
}

/// Where a toggle is in its life, from the fleet's evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// No instance ever reported evaluating it.
    NeverEvaluated,
    /// Evaluated recently, with answers that vary (or too recently launched to tell).
    Live,
    /// One answer for everyone for the whole window: `on` (or `off`) for all, one arm.
    Launched,
    /// Not evaluated by any instance for the whole window.
    Unused,
    /// Past its `remove_by`.
    Expired,
}

impl Stage {
    /// The stage as the JSON writes it: `never_evaluated`, `live`, `launched`, `unused`,
    /// `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::NeverEvaluated => "never_evaluated",
            Stage::Live => "live",
            Stage::Launched => "launched",
            Stage::Unused => "unused",
            Stage::Expired => "expired",
        }
    }
}

/// A toggle's stage and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Lifecycle {
    /// Where the toggle is.
    pub stage: Stage,
    /// Whether the stage is one to act on for the toggle's life: expired, or launched or unused
    /// for a life with a staleness window.
    pub stale: bool,
    /// When any service last evaluated it.
    pub last_evaluated: Option<Timestamp>,
    /// The one answer of a launched toggle.
    pub answer: Option<String>,
    /// Since when it has been launched or unused.
    pub since: Option<Timestamp>,
    /// For a stale toggle, the change that removes it.
    pub fix: Option<String>,
}

/// Judges a toggle declared as `declaration` (its `expired` as the report found it) from every
/// service's `usage` of it, at `now`.
pub(crate) fn judge(
    declaration: Option<&Declared>,
    expired: bool,
    usage: &[&Usage],
    now: Timestamp,
    staleness: &Staleness,
) -> Lifecycle {
    let life = declaration.map_or("temporary", |d| d.life.as_str());
    let kind = declaration.map(|d| d.kind);
    let stale_window = staleness.window(life);
    let window = stale_window.unwrap_or(STAGE_WINDOW);
    let cutoff = now.unix_micros() - i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
    let last_evaluated = usage.iter().map(|u| u.last_evaluated).max();
    let mut lifecycle = Lifecycle {
        stage: Stage::Live,
        stale: false,
        last_evaluated,
        answer: None,
        since: None,
        fix: None,
    };
    if expired {
        lifecycle.stage = Stage::Expired;
        lifecycle.stale = true;
        lifecycle.fix = Some(
            "remove the toggle and the code it guards, keeping the behaviour in force".to_owned(),
        );
        return lifecycle;
    }
    let Some(last) = last_evaluated else {
        lifecycle.stage = Stage::NeverEvaluated;
        return lifecycle;
    };
    let days = window.as_secs() / 86_400;
    if last.unix_micros() < cutoff {
        lifecycle.stage = Stage::Unused;
        lifecycle.since = Some(last);
        lifecycle.stale = stale_window.is_some();
        lifecycle.fix = Some(format!(
            "remove the toggle and the code that reads it: no service evaluated it for {days} days"
        ));
        return lifecycle;
    }
    if kind == Some(Kind::Setting) {
        return lifecycle;
    }
    // The answers given within the window, and when the others were last given.
    let mut recent: Vec<&str> = Vec::new();
    let mut others_until = usage
        .iter()
        .map(|u| u.first_evaluated)
        .min()
        .unwrap_or(last);
    for u in usage {
        for (answer, at) in &u.answers {
            if at.unix_micros() >= cutoff {
                if !recent.contains(&answer.as_str()) {
                    recent.push(answer);
                }
            } else {
                others_until = others_until.max(*at);
            }
        }
    }
    let [answer] = recent.as_slice() else {
        return lifecycle;
    };
    if now.unix_micros() - others_until.unix_micros()
        < i64::try_from(window.as_micros()).unwrap_or(i64::MAX)
    {
        return lifecycle;
    }
    lifecycle.stage = Stage::Launched;
    lifecycle.answer = Some((*answer).to_owned());
    lifecycle.since = Some(others_until);
    lifecycle.stale = stale_window.is_some();
    lifecycle.fix = Some(match (kind, *answer) {
        (Some(Kind::Variant), arm) => format!("remove the toggle, keep the arm `{arm}`"),
        (_, "off") => "remove the toggle and the code it guards: everyone gets `off`".to_owned(),
        _ => "remove the toggle and its `else` branch: everyone gets `on`".to_owned(),
    });
    lifecycle
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    const DAY: i64 = 86_400;

    fn at(day: i64) -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000 + day * DAY)
    }

    fn declared(kind: &str, life: &str) -> Declared {
        serde_json::from_value(json!({
            "full_name": "t.t", "kind": kind, "value_type": "bool", "default": false,
            "arms": if kind == "variant" { json!(["classic", "one_page"]) } else { json!([]) },
            "description": "", "life": life,
            "remove_by": if life == "temporary" { json!("2099-01-01") } else { json!(null) },
            "justification": if life == "permanent" { json!("x") } else { json!(null) },
            "created": null, "owner": null, "use_cases": [], "tickets": null, "warning": null,
            "source": { "crate": "c", "crate_version": "1", "module_path": "c", "file": "f.rs",
                        "line": 1, "column": 1 }
        }))
        .unwrap()
    }

    fn usage(first: i64, last: i64, answers: &[(&str, i64)]) -> Usage {
        Usage {
            toggle: "t.t".into(),
            service: "lms".into(),
            first_evaluated: at(first),
            last_evaluated: at(last),
            answers: answers
                .iter()
                .map(|(a, d)| ((*a).to_owned(), at(*d)))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn stage(kind: &str, life: &str, used: &[Usage], now: i64) -> Lifecycle {
        let d = declared(kind, life);
        let used: Vec<&Usage> = used.iter().collect();
        judge(Some(&d), false, &used, at(now), &Staleness::default())
    }

    #[test]
    fn each_stage_on_a_controlled_clock() {
        assert_eq!(
            stage("flag", "temporary", &[], 100).stage,
            Stage::NeverEvaluated
        );
        // Both answers within 30 days.
        let live = stage(
            "flag",
            "temporary",
            &[usage(0, 100, &[("on", 99), ("off", 100)])],
            100,
        );
        assert_eq!((live.stage, live.stale), (Stage::Live, false));
        // `off` last given 40 days ago, `on` since: launched on `on`.
        let launched = stage(
            "flag",
            "temporary",
            &[usage(0, 100, &[("on", 100), ("off", 60)])],
            100,
        );
        assert_eq!(launched.stage, Stage::Launched);
        assert!(launched.stale);
        assert_eq!(launched.answer.as_deref(), Some("on"));
        assert_eq!(launched.since, Some(at(60)));
        assert_eq!(
            launched.fix.as_deref(),
            Some("remove the toggle and its `else` branch: everyone gets `on`")
        );
        // One answer, but only for 20 days so far: still live.
        let young = stage("flag", "temporary", &[usage(80, 100, &[("on", 100)])], 100);
        assert_eq!(young.stage, Stage::Live);
        // Nobody evaluated it for 31 days.
        let unused = stage("flag", "temporary", &[usage(0, 69, &[("on", 69)])], 100);
        assert_eq!((unused.stage, unused.stale), (Stage::Unused, true));
        assert_eq!(unused.since, Some(at(69)));
        let d = declared("flag", "temporary");
        let expired = judge(Some(&d), true, &[], at(100), &Staleness::default());
        assert_eq!((expired.stage, expired.stale), (Stage::Expired, true));
    }

    #[test]
    fn a_launched_arm_says_which_arm_to_keep() {
        let one_arm = stage(
            "variant",
            "temporary",
            &[usage(0, 100, &[("one_page", 100)])],
            100,
        );
        assert_eq!(one_arm.stage, Stage::Launched);
        assert_eq!(
            one_arm.fix.as_deref(),
            Some("remove the toggle, keep the arm `one_page`")
        );
        let off = stage(
            "switch",
            "temporary",
            &[usage(0, 100, &[("off", 100)])],
            100,
        );
        assert_eq!(
            off.fix.as_deref(),
            Some("remove the toggle and the code it guards: everyone gets `off`")
        );
    }

    #[test]
    fn a_permanent_toggle_is_staged_but_never_stale_unless_asked() {
        let used = [usage(0, 100, &[("on", 100)])];
        let permanent = stage("switch", "permanent", &used, 100);
        assert_eq!((permanent.stage, permanent.stale), (Stage::Launched, false));
        let d = declared("switch", "permanent");
        let strict = Staleness::default().permanent(Some(Duration::from_secs(7 * 86_400)));
        let judged = judge(Some(&d), false, &[&used[0]], at(100), &strict);
        assert!(judged.stale);
    }

    #[test]
    fn services_are_judged_together() {
        // lms gives only `on`, cms gave `off` yesterday: the toggle's answers vary.
        let mut cms = usage(0, 99, &[("off", 99)]);
        cms.service = "cms".into();
        let both = stage(
            "flag",
            "temporary",
            &[usage(0, 100, &[("on", 100)]), cms],
            100,
        );
        assert_eq!(both.stage, Stage::Live);
    }
}
