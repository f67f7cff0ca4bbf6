//! A staged rollout: the percents a flag's rollout climbs through, how long each is held, and
//! where the climb stands — kept in the flag's rule, so its progress is in the store.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::targeting::bucket::Percent;
use crate::targeting::{FlagRule, Timestamp};

/// A staged rollout: a part of a [`FlagRule`], stored and edited with it.
///
/// The rule's `percent` is the current stage's. Once a stage has been held for its
/// `hold_secs`, the installation's guard tick raises the percent to the next stage's through an
/// ordinary audited write by the actor [`ROLLOUT_ACTOR`](crate::rules::ROLLOUT_ACTOR) —
/// provided the flag's [`Guard`](crate::rules::Guard) holds: it has not tripped, and its window since the stage
/// began holds the guard's `min_requests` outcomes under the "on" arm (a stage too quiet to
/// judge waits until it is not). Each advance is written on the condition that the rule is
/// still the one the tick read, so however many instances tick, one write lands per advance.
/// Reaching the last stage completes the plan.
///
/// A guard that trips turns the flag off and stops the plan, with the trip in `stopped`. A
/// person steers it with [`FlagRule::steer`]: pause, resume (the current stage's hold starts
/// afresh), skip to the next stage, or roll back to the previous one (which pauses). A plan
/// climbs only while its flag is active and within its window (`from`, `until`, a hold
/// counting from `from` at the earliest), but turning the flag off does not stop the stage's
/// clock: pause the plan to hold it.
///
/// ```json
/// { "percent": 1, "guard": { "max_error_rate": 5, "window_secs": 300, "min_requests": 100 },
///   "plan": { "stages": [ { "percent": 1, "hold_secs": 600 }, { "percent": 5, "hold_secs": 1800 },
///                         { "percent": 100 } ],
///             "stage": 0, "since": "2026-12-07T09:00:00Z", "state": "running" } }
/// ```
///
/// ```
/// use std::time::Duration;
/// use toggles::rules::{FlagRule, Plan, PlanState, Stage, Steer, Timestamp};
///
/// let start = Timestamp::from_unix_seconds(1_800_000_000);
/// let plan = Plan::new([
///     Stage::hold(1.0, Duration::from_secs(600)),
///     Stage::hold(25.0, Duration::from_secs(3600)),
///     Stage::last(100.0),
/// ])
/// .since(start);
/// let rule = FlagRule::new().staged(plan);
/// assert_eq!(rule.percent, Some(1.0));
///
/// // Ten minutes on, the first stage is done.
/// let due = rule.plan.as_ref().unwrap().due().unwrap();
/// assert_eq!(due.unix_seconds() - start.unix_seconds(), 600);
/// let next = rule.advanced(due).unwrap();
/// assert_eq!(next.percent, Some(25.0));
///
/// // A person pauses it; a paused plan does not advance.
/// let paused = next.steer(Steer::Pause, due).unwrap();
/// assert_eq!(paused.plan.as_ref().unwrap().state, PlanState::Paused);
/// assert!(paused.advanced(Timestamp::from_unix_seconds(1_900_000_000)).is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Plan {
    /// The stages, in the order the rollout climbs them.
    pub stages: Vec<Stage>,
    /// The current stage, counted from 0.
    #[serde(default)]
    pub stage: usize,
    /// When the current stage began: its hold counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    /// Whether the plan climbs.
    #[serde(default)]
    pub state: PlanState,
    /// Why the plan stopped (a guard's trip), for a stopped plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// One stage of a [`Plan`]: a percent, and how long it is held before the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Stage {
    /// The rollout's percent during the stage, 0 to 100.
    pub percent: f64,
    /// How long the stage is held, in seconds; the last stage has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_secs: Option<u64>,
}

impl Stage {
    /// A stage at `percent`, held for `hold` before the next.
    pub fn hold(percent: f64, hold: Duration) -> Stage {
        Stage {
            percent,
            hold_secs: Some(hold.as_secs()),
        }
    }

    /// The last stage, at `percent`: reaching it completes the plan.
    pub fn last(percent: f64) -> Stage {
        Stage {
            percent,
            hold_secs: None,
        }
    }
}

/// Whether a [`Plan`] climbs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanState {
    /// Climbing: the next stage comes when the current one's hold has passed.
    #[default]
    Running,
    /// Held by a person at the current stage.
    Paused,
    /// Stopped by a guard's trip (`stopped` says which).
    Stopped,
    /// At the last stage.
    Done,
}

impl fmt::Display for PlanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlanState::Running => "running",
            PlanState::Paused => "paused",
            PlanState::Stopped => "stopped",
            PlanState::Done => "done",
        })
    }
}

/// What a person does to a staged rollout: see [`FlagRule::steer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Steer {
    /// Holds the plan at its current stage.
    Pause,
    /// Climbs again from the current stage, whose hold starts afresh; a stopped plan's flag is
    /// turned back on.
    Resume,
    /// Goes to the next stage now.
    Skip,
    /// Goes back to the previous stage, and pauses there.
    Rollback,
}

impl std::str::FromStr for Steer {
    type Err = String;

    fn from_str(s: &str) -> Result<Steer, String> {
        match s {
            "pause" => Ok(Steer::Pause),
            "resume" => Ok(Steer::Resume),
            "skip" => Ok(Steer::Skip),
            "rollback" => Ok(Steer::Rollback),
            other => Err(format!(
                "`{other}` is not a step of a staged rollout: `pause`, `resume`, `skip` or `rollback`"
            )),
        }
    }
}

impl Plan {
    /// A plan through `stages`, at the first, running from now. Writing it restarts the
    /// rollout at its first stage: a program that writes its staged rule at start-up starts
    /// over on every deploy, so write it once (a person, a migration), and steer it after.
    pub fn new(stages: impl IntoIterator<Item = Stage>) -> Plan {
        Plan {
            stages: stages.into_iter().collect(),
            stage: 0,
            since: Some(Timestamp::now()),
            state: PlanState::Running,
            stopped: None,
        }
    }

    /// Sets when the current stage began.
    #[must_use]
    pub fn since(mut self, at: Timestamp) -> Plan {
        self.since = Some(at);
        self
    }

    /// When the current stage's hold ends: `None` for a plan that does not climb (paused,
    /// stopped, done) or at its last stage.
    pub fn due(&self) -> Option<Timestamp> {
        if self.state != PlanState::Running {
            return None;
        }
        let hold = self.stages.get(self.stage)?.hold_secs?;
        let since = self.since?;
        let hold = i64::try_from(hold).unwrap_or(i64::MAX);
        Some(Timestamp::from_unix_seconds(
            since.unix_seconds().saturating_add(hold),
        ))
    }

    /// The current stage in words: `stage 2 of 5 (5%)`.
    pub fn position(&self) -> String {
        let percent = self
            .stages
            .get(self.stage)
            .map_or(String::new(), |s| format!(" ({}%)", s.percent));
        format!("stage {} of {}{percent}", self.stage + 1, self.stages.len())
    }

    /// Where the plan stands, in words: `stage 2 of 3 (5%), running: stage 3 (100%) is due at
    /// 2026-12-07T10:40:00Z`, `… paused`, `… stopped: guard tripped: …`, `… done`.
    pub fn status(&self) -> String {
        let position = self.position();
        match self.state {
            PlanState::Running => match (self.due(), self.stages.get(self.stage + 1)) {
                (Some(due), Some(next)) => format!(
                    "{position}, running: stage {} ({}%) is due at {due}",
                    self.stage + 2,
                    next.percent
                ),
                _ => format!("{position}, running"),
            },
            PlanState::Stopped => match &self.stopped {
                Some(why) => format!("{position}, stopped: {why}"),
                None => format!("{position}, stopped"),
            },
            state => format!("{position}, {state}"),
        }
    }

    /// The stages in words: `1% for 10m, 5% for 30m, 100%`.
    pub fn outline(&self) -> String {
        let stages: Vec<String> = self
            .stages
            .iter()
            .map(|s| match s.hold_secs {
                Some(hold) => format!("{}% for {}", s.percent, in_units(hold)),
                None => format!("{}%", s.percent),
            })
            .collect();
        stages.join(", ")
    }

    /// What is wrong with the plan on its own, and against the rest of `rule`.
    pub(crate) fn problems(&self, rule: &FlagRule) -> Vec<String> {
        let (percent, everyone) = (rule.percent, rule.everyone);
        let mut problems = Vec::new();
        if self.stages.len() < 2 {
            problems.push(
                "`plan.stages` needs at least two stages: a plan climbs from one percent to another"
                    .to_owned(),
            );
        }
        for (i, stage) in self.stages.iter().enumerate() {
            let n = i + 1;
            if let Err(e) = Percent::new(stage.percent) {
                problems.push(format!("`plan.stages` stage {n}'s `percent` {e}"));
            }
            let last = n == self.stages.len();
            match (stage.hold_secs, last) {
                (None, false) => problems.push(format!(
                    "`plan.stages` stage {n} needs a `hold_secs`: how long it is held before stage {}",
                    n + 1
                )),
                (Some(0), false) => problems.push(format!(
                    "`plan.stages` stage {n}'s `hold_secs` must be at least 1"
                )),
                (Some(_), true) => problems.push(format!(
                    "`plan.stages` stage {n} is the last and takes no `hold_secs`: reaching it completes the plan"
                )),
                _ => {}
            }
            if let Some(before) = i.checked_sub(1).and_then(|b| self.stages.get(b)) {
                if stage.percent <= before.percent {
                    problems.push(format!(
                        "`plan.stages` climb: stage {n}'s {}% is not above stage {i}'s {}%",
                        stage.percent, before.percent
                    ));
                }
            }
        }
        match self.stages.get(self.stage) {
            None => problems.push(format!(
                "`plan.stage` is {}, but the plan has {} stages (counted from 0)",
                self.stage,
                self.stages.len()
            )),
            Some(current) if percent != Some(current.percent) => {
                problems.push(format!(
                    "`percent` is the current stage's: {}% for {}, not {} (the plan moves the percent: skip or roll back a stage, or remove the `plan`)",
                    current.percent,
                    self.position(),
                    percent.map_or("none".to_owned(), |p| format!("{p}%"))
                ));
            }
            Some(_) => {}
        }
        if self.state == PlanState::Running && self.since.is_none() {
            problems.push(
                "`plan.since` is missing: a running plan holds each stage from when it began"
                    .to_owned(),
            );
        }
        let at_last = self.stage + 1 == self.stages.len();
        match self.state {
            PlanState::Done if !at_last => {
                problems.push("`plan.state` is `done` before the last stage".to_owned());
            }
            PlanState::Running | PlanState::Paused if at_last => problems.push(format!(
                "`plan.state` is `{}` at the last stage: a plan there is `done`",
                self.state
            )),
            _ => {}
        }
        if everyone.is_some() {
            problems.push(
                "`everyone` decides before `percent`, so a staged rollout would climb unseen: remove one of them"
                    .to_owned(),
            );
        }
        if rule.active && self.state == PlanState::Stopped {
            problems.push(
                "`active` with a `stopped` plan would serve the stage's percent and never climb: resume the plan (`toggles rollout NAME resume`) to turn the flag back on"
                    .to_owned(),
            );
        }
        let traffic = rule
            .guard
            .as_ref()
            .is_some_and(|g| g.max_traffic_drop.is_some());
        if let Some((n, stage)) = self
            .stages
            .iter()
            .enumerate()
            .find(|(_, s)| traffic && (s.percent <= 0.0 || s.percent >= 100.0))
        {
            problems.push(format!(
                "`guard.max_traffic_drop` compares the arms at every stage, and stage {} at {}% leaves one arm empty: end the plan between 0 and 100%, or drop the traffic limit",
                n + 1,
                stage.percent
            ));
        }
        problems
    }
}

impl FlagRule {
    /// Rolls out in `plan`'s stages: sets the plan, and the percent to its current stage's.
    #[must_use]
    pub fn staged(mut self, plan: Plan) -> FlagRule {
        self.percent = plan.stages.get(plan.stage).map(|s| s.percent);
        self.plan = Some(plan);
        self
    }

    /// The rule one stage further, as of `now`: `None` unless the flag is active, within its
    /// window (`from`, `until`), and its plan running and due by `now`. The guard's verdict is
    /// the caller's to add.
    pub fn advanced(&self, now: Timestamp) -> Option<FlagRule> {
        let plan = self.plan.as_ref()?;
        let outside = self.from.is_some_and(|from| now < from)
            || self.until.is_some_and(|until| now >= until);
        if !self.active || outside || plan.due()? > now {
            return None;
        }
        // A stage held before the window opened was held by nobody: its hold counts from
        // the window's start.
        if let (Some(from), Some(since), Some(hold)) = (
            self.from,
            plan.since,
            plan.stages.get(plan.stage).and_then(|s| s.hold_secs),
        ) {
            let held_from = since.unix_seconds().max(from.unix_seconds());
            if now.unix_seconds()
                < held_from.saturating_add(i64::try_from(hold).unwrap_or(i64::MAX))
            {
                return None;
            }
        }
        Some(self.at_stage(plan.stage + 1, PlanState::Running, now))
    }

    /// The rule with its plan at `stage` (the percent with it) from `now`, in `then` unless
    /// that is the last stage.
    fn at_stage(&self, stage: usize, then: PlanState, now: Timestamp) -> FlagRule {
        let mut rule = self.clone();
        if let Some(plan) = rule.plan.as_mut() {
            plan.stage = stage;
            plan.since = Some(now);
            plan.stopped = None;
            plan.state = if stage + 1 == plan.stages.len() {
                PlanState::Done
            } else {
                then
            };
            rule.percent = plan.stages.get(stage).map(|s| s.percent);
        }
        rule
    }

    /// The rule after a person's `step` on its staged rollout at `now`, or why the step does
    /// not apply (no plan; pausing a plan that is not running; resuming one that is; skipping
    /// past the last stage; rolling back from the first).
    ///
    /// ```
    /// use std::time::Duration;
    /// use toggles::rules::{FlagRule, Plan, PlanState, Stage, Steer, Timestamp};
    ///
    /// let now = Timestamp::from_unix_seconds(1_800_000_000);
    /// let plan = Plan::new([Stage::hold(5.0, Duration::from_secs(60)), Stage::last(100.0)]);
    /// let rule = FlagRule::new().staged(plan);
    /// let done = rule.steer(Steer::Skip, now).unwrap();
    /// assert_eq!((done.percent, done.plan.as_ref().unwrap().state), (Some(100.0), PlanState::Done));
    /// assert_eq!(
    ///     done.steer(Steer::Skip, now).unwrap_err(),
    ///     "the plan is done: it is at its last stage"
    /// );
    /// ```
    pub fn steer(&self, step: Steer, now: Timestamp) -> Result<FlagRule, String> {
        let plan = self
            .plan
            .as_ref()
            .ok_or("the flag's rule has no staged rollout (`plan`)")?;
        let state = plan.state;
        let refuse = |why: &str| Err(format!("the plan is {state}: {why}"));
        match step {
            Steer::Pause if state == PlanState::Running => {
                let mut rule = self.clone();
                if let Some(plan) = rule.plan.as_mut() {
                    plan.state = PlanState::Paused;
                }
                Ok(rule)
            }
            Steer::Pause => refuse("only a running plan pauses"),
            Steer::Resume if matches!(state, PlanState::Paused | PlanState::Stopped) => {
                let mut rule = self.at_stage(plan.stage, PlanState::Running, now);
                // The guard turned a stopped plan's flag off; a paused one's is as a person
                // left it.
                rule.active |= state == PlanState::Stopped;
                Ok(rule)
            }
            Steer::Resume => refuse("only a paused or stopped plan resumes"),
            Steer::Skip if state == PlanState::Done => refuse("it is at its last stage"),
            Steer::Skip if state == PlanState::Stopped => {
                refuse("resume it before skipping a stage")
            }
            Steer::Skip => Ok(self.at_stage(plan.stage + 1, state, now)),
            Steer::Rollback if plan.stage == 0 => {
                refuse("it is at its first stage; turn the flag off to roll back further")
            }
            Steer::Rollback => Ok(self.at_stage(plan.stage - 1, PlanState::Paused, now)),
        }
    }
}

/// `secs` in the largest whole unit: `10m`, `1h`, `90s`.
pub(crate) fn in_units(secs: u64) -> String {
    match secs {
        0 => "0s".to_owned(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
