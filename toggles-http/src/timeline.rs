//! A toggle's state over time, drawn from its audit log: the share of units a flag or a switch
//! answers on (an experiment's coverage, a setting's value), step by step, as server-rendered
//! SVG a person reads at a glance.

use std::fmt::Write as _;

use serde_json::Value as Json;
use toggles_runtime::rules::{FlagRule, VariantRule};
use toggles_runtime::store::AuditEntry;
use toggles_runtime::{Kind, Timestamp, ToggleInfo};

use crate::experiment::escape;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 150.0;
/// Room for the axis labels.
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;

/// What the chart's height means.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// 0 to 100% of units.
    Share,
    /// A setting's values, from the least to the greatest.
    Values { low: f64, high: f64 },
}

impl Scale {
    /// A level as the chart writes it: `30%`, or a setting's `5000`.
    fn label(self, level: f64) -> String {
        match self {
            Scale::Share => format!("{}%", number(level)),
            Scale::Values { .. } => number(level),
        }
    }
}

/// What `entry` (the store's entry, `None` for none) amounts to for `info`, on its chart:
/// a share in percent, or a setting's number; `None` where it is neither (a text setting, an
/// entry this version cannot read).
fn level(info: &ToggleInfo, entry: Option<&Json>) -> Option<f64> {
    let default_on = info.default_value() == toggles_runtime::Value::Bool(true);
    let on = |yes: bool| if yes { 100.0 } else { 0.0 };
    match info.kind() {
        Kind::Switch => Some(on(entry.map_or(Some(default_on), Json::as_bool)?)),
        Kind::Flag => {
            let Some(entry) = entry else {
                return Some(on(default_on));
            };
            let rule: FlagRule = serde_json::from_value(entry.clone()).ok()?;
            Some(if !rule.active {
                0.0
            } else if let Some(everyone) = rule.everyone {
                on(everyone)
            } else {
                rule.percent.unwrap_or_else(|| on(default_on))
            })
        }
        Kind::Variant => {
            let Some(entry) = entry else { return Some(0.0) };
            let rule: VariantRule = serde_json::from_value(entry.clone()).ok()?;
            Some(if rule.active {
                rule.coverage.unwrap_or(0.0)
            } else {
                0.0
            })
        }
        Kind::Setting => match entry {
            Some(value) => value.as_f64(),
            None => info
                .current()
                .and_then(|v| serde_json::to_value(v).ok()?.as_f64()),
        },
        _ => None,
    }
}

/// One level the toggle held: from when, and the audit entry that set it (none for the level
/// before the first change shown).
type Step<'a> = (Timestamp, f64, Option<&'a AuditEntry>);

/// The toggle's level over time from `history` (newest first, as the audit log answers), until
/// `now`: SVG, or `None` when there is no change to draw or nothing to draw it on.
pub(crate) fn chart(info: &ToggleInfo, history: &[AuditEntry], now: Timestamp) -> Option<String> {
    let oldest = history.last()?;
    // The level before the first change shown, then after each change, oldest first.
    let mut steps: Vec<Step<'_>> = vec![(oldest.at, level(info, oldest.before.as_ref())?, None)];
    for entry in history.iter().rev() {
        steps.push((entry.at, level(info, entry.after.as_ref())?, Some(entry)));
    }
    let (scale, what) = match info.kind() {
        Kind::Setting => {
            let (low, high) = steps
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (_, y, _)| {
                    (lo.min(*y), hi.max(*y))
                });
            (Scale::Values { low, high }, "value")
        }
        Kind::Variant => (Scale::Share, "share of units in the experiment"),
        _ => (Scale::Share, "share of units answered on"),
    };
    Some(draw(&steps, scale, what, now))
}

/// `steps` as a step line on `scale`, from a little before the first to `now`.
fn draw(steps: &[Step<'_>], scale: Scale, what: &str, now: Timestamp) -> String {
    // A little before the first change, so the level before it shows.
    let first = steps[0].0.unix_micros();
    let end = now.unix_micros().max(first + 1);
    let start = first - ((end - first) / 20).max(1);
    #[allow(clippy::cast_precision_loss)] // microseconds, to a pixel
    let x = |at: Timestamp| {
        LEFT + (WIDTH - LEFT - 8.0) * (at.unix_micros() - start) as f64 / (end - start) as f64
    };
    let plot = HEIGHT - BOTTOM - TOP;
    let y = |level: f64| {
        let fraction = match scale {
            Scale::Share => level / 100.0,
            Scale::Values { low, high } if high > low => (level - low) / (high - low),
            Scale::Values { .. } => 0.5,
        };
        TOP + plot * (1.0 - fraction.clamp(0.0, 1.0))
    };
    let (low, high) = match scale {
        Scale::Share => (0.0, 100.0),
        Scale::Values { low, high } => (low, high),
    };
    let mut svg = format!(
        r#"<svg id="timeline" class="chart" role="img" aria-label="{what} over time" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">"#
    );
    let base = HEIGHT - BOTTOM;
    let _ = write!(
        svg,
        r##"<path d="M{LEFT} {TOP} V{base} H{:.1}" stroke="#9aa0a6" fill="none"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#5f6368" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" font-size="11" fill="#5f6368" text-anchor="end">{}</text>"##,
        WIDTH - 8.0,
        LEFT - 4.0,
        TOP + 4.0,
        scale.label(high),
        LEFT - 4.0,
        base,
        scale.label(low),
    );
    // The line: flat until each change, then up or down to its level.
    let mut d = format!("M{LEFT:.1} {:.1}", y(steps[0].1));
    for (at, level, _) in &steps[1..] {
        let _ = write!(d, " H{:.1} V{:.1}", x(*at), y(*level));
    }
    let _ = write!(d, " H{:.1}", x(now));
    let _ = write!(
        svg,
        r##"<path class="level" d="{d}" stroke="#1a73e8" stroke-width="2" fill="none"/>"##
    );
    for (at, level, entry) in &steps[1..] {
        let Some(entry) = entry else { continue };
        let _ = write!(
            svg,
            r##"<circle class="change" cx="{:.1}" cy="{:.1}" r="3.5" fill="#1a73e8"><title>{}: {} by {} ({})</title></circle>"##,
            x(*at),
            y(*level),
            at,
            scale.label(*level),
            escape(&entry.actor),
            escape(&entry.reason)
        );
    }
    // What holds now, written beside where the line ends.
    let last = steps[steps.len() - 1].1;
    let _ = write!(
        svg,
        r##"<text class="now" x="{:.1}" y="{:.1}" font-size="12" fill="#1a73e8" text-anchor="end">{}</text>"##,
        WIDTH - 8.0,
        (y(last) - 6.0).max(TOP + 10.0),
        scale.label(last)
    );
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="{:.1}" font-size="11" fill="#5f6368">{}</text><text x="{:.1}" y="{:.1}" font-size="11" fill="#5f6368" text-anchor="end">now</text></svg>"##,
        HEIGHT - 6.0,
        steps[0].0.date(),
        WIDTH - 8.0,
        HEIGHT - 6.0
    );
    svg
}

/// A level as a person writes it: `30`, `12.5`.
fn number(level: f64) -> String {
    let text = format!("{level:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}
