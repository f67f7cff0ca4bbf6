//! The admin page's parts for a variant toggle: the form of its rule, and its experiment's
//! results drawn as a chart (server-rendered SVG, no script).

use std::fmt::Write as _;

use maud::{html, Markup, PreEscaped};
use toggles_runtime::experiment::{GoalResult, Results};
use toggles_runtime::rules::{GroupPins, VariantRule};
use toggles_runtime::ToggleInfo;

use crate::admin::{constraints_of, list_of, EditForm};

/// The fields of a variant rule, filled in from `current` (or from `form`, re-shown after a
/// refusal).
pub(crate) fn form_fields(
    info: &ToggleInfo,
    current: &VariantRule,
    form: Option<&EditForm>,
) -> Markup {
    let arms = info.toggle().arms();
    let shown = |field: Option<&Option<String>>, stored: String| {
        field.and_then(Clone::clone).unwrap_or(stored)
    };
    let mut weights = String::new();
    for arm in arms {
        let weight = current.weights.get(*arm).copied().unwrap_or(0);
        let _ = writeln!(weights, "{arm}: {weight}");
    }
    html! {
        label { input type="checkbox" name="active" value="1" checked[current.active]; " active (off: everyone gets the control)" }
        label { "everyone "
            select name="everyone" {
                option value="" selected[current.everyone.is_none()] { "— (the experiment decides)" }
                @for arm in arms {
                    option value=(arm) selected[current.everyone.as_deref() == Some(*arm)] { (arm) }
                }
            }
        }
        label { "coverage (% of units in the experiment) "
            input name="coverage" value=(shown(form.map(|f| &f.coverage), current.coverage.map(|c| c.to_string()).unwrap_or_default())); }
        label { "weights (a line per arm: " code { "one_page: 5000" } ")" br;
            textarea name="weights" { (shown(form.map(|f| &f.weights), weights)) } }
        label { "pins (a line each: " code { "users express: 42, 43" } ", " code { "sites classic: a.example.com" } ", " code { "groups course one_page: c1" } ")" br;
            textarea name="pins" { (shown(form.map(|f| &f.pins), pin_lines(current))) } }
        label { input type="checkbox" name="track" value="1" checked[current.track]; " track (exposures for subscribers and results)" }
        label { "environments " input name="environments" value=(current.environments.join(", ")); }
        label { "requires (flags) " input name="requires" value=(current.requires.join(", ")); }
        label { "constraints (a line each: " code { "region: US, RO" } ")" br;
            textarea name="constraints" { @for (a, v) in &current.constraints { (a) ": " (v.join(", ")) "\n" } } }
    }
}

/// `users express: 42, 43`, `sites classic: a`, `groups course one_page: c1`, a line each.
fn pin_lines(rule: &VariantRule) -> String {
    let mut out = String::new();
    for (what, pins) in [("sites", &rule.sites), ("users", &rule.users)] {
        for (arm, ids) in pins {
            let _ = writeln!(out, "{what} {arm}: {}", ids.join(", "));
        }
    }
    for g in &rule.groups {
        for (arm, ids) in &g.arms {
            let _ = writeln!(out, "groups {} {arm}: {}", g.kind, ids.join(", "));
        }
    }
    out
}

/// A variant rule from the form's fields, or what is wrong with them: `stored` with what the
/// form shows taken from the form (the salt and the stickiness, which it does not show, kept).
pub(crate) fn rule_of(form: &EditForm, stored: VariantRule) -> Result<VariantRule, Vec<String>> {
    let mut problems = Vec::new();
    let mut rule = stored;
    rule.active = form.active.is_some();
    rule.track = form.track.is_some();
    rule.everyone = form.everyone.clone().filter(|e| !e.is_empty());
    rule.coverage = match form.coverage.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => match c.trim_end_matches('%').parse() {
            Ok(c) => Some(c),
            Err(_) => {
                problems.push(format!("`coverage` is a number from 0 to 100, not `{c}`"));
                None
            }
        },
    };
    rule.weights.clear();
    for line in lines(form.weights.as_deref()) {
        match line
            .split_once(':')
            .map(|(arm, w)| (arm.trim(), w.trim().parse::<u16>()))
        {
            Some((arm, Ok(w))) if !arm.is_empty() => {
                rule.weights.insert(arm.to_owned(), w);
            }
            _ => problems.push(format!(
                "`{line}` is not a weight line: write `one_page: 5000` (0 to 10,000)"
            )),
        }
    }
    rule.sites.clear();
    rule.users.clear();
    rule.groups.clear();
    for line in lines(form.pins.as_deref()) {
        if let Err(problem) = pin(&mut rule, line) {
            problems.push(problem);
        }
    }
    rule.environments = list_of(form.environments.as_deref());
    rule.requires = list_of(form.requires.as_deref());
    rule.constraints = constraints_of(form.constraints.as_deref(), &mut problems);
    if problems.is_empty() {
        Ok(rule)
    } else {
        Err(problems)
    }
}

fn lines(text: Option<&str>) -> impl Iterator<Item = &str> {
    text.unwrap_or("").lines().filter(|l| !l.trim().is_empty())
}

/// Adds one pin line to `rule`.
fn pin(rule: &mut VariantRule, line: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "`{line}` is not a pin line: write `users express: 42, 43`, `sites classic: a.example.com` or `groups course one_page: c1`"
        )
    };
    let (head, ids) = line.split_once(':').ok_or_else(bad)?;
    let ids = list_of(Some(ids));
    let words: Vec<&str> = head.split_whitespace().collect();
    match words.as_slice() {
        ["users", arm] => rule.users.entry((*arm).to_owned()).or_default().extend(ids),
        ["sites", arm] => rule.sites.entry((*arm).to_owned()).or_default().extend(ids),
        ["groups", kind, arm] => {
            if !rule.groups.iter().any(|g| g.kind == *kind) {
                rule.groups.push(GroupPins::new(*kind));
            }
            let g = rule
                .groups
                .iter_mut()
                .find(|g| g.kind == *kind)
                .expect("just added");
            g.arms.entry((*arm).to_owned()).or_default().extend(ids);
        }
        _ => return Err(bad()),
    }
    Ok(())
}

/// The results section: a chart per goal, each arm's rate with its 95% interval, and a table
/// of the figures.
pub(crate) fn results_section(results: &Results) -> Markup {
    html! {
        h2 id="results" { "Results" }
        @if results.arms.iter().all(|a| a.exposed == 0) {
            p { "No unit exposed yet. Exposures are counted while the rule is tracked." }
        } @else if results.goals.is_empty() {
            p { "No conversion yet. " @for arm in &results.arms { (arm.arm) ": " (arm.exposed) " exposed. " } }
        }
        @if results.arms.iter().any(|a| a.feedback > 0) {
            p id="results-feedback" { "Feedback: " @for arm in &results.arms { (arm.arm) " " (arm.feedback) ". " } }
        }
        @for (g, goal) in results.goals.iter().enumerate() {
            h3 { (goal) }
            (PreEscaped(chart(results, g)))
            table.results {
                thead { tr { th { "arm" } th { "exposed" } th { "converted" } th { "rate" } th { "95% interval" } th { "against " (results.control) } } }
                tbody {
                    @for arm in &results.arms {
                        @let r = &arm.goals[g];
                        tr {
                            td { (arm.arm) }
                            td { (arm.exposed) }
                            td { (r.converted) }
                            td { (r.rate.map_or_else(|| "—".to_owned(), percent)) }
                            td { (r.interval.map_or_else(|| "—".to_owned(), |(lo, hi)| format!("{} – {}", percent(lo), percent(hi)))) }
                            td { (versus(r, arm.arm == results.control)) }
                        }
                    }
                }
            }
        }
    }
}

fn percent(p: f64) -> String {
    format!("{:.2}%", p * 100.0)
}

fn versus(r: &GoalResult, control: bool) -> String {
    if control {
        return "(control)".to_owned();
    }
    r.versus_control
        .map_or_else(|| "—".to_owned(), |v| v.to_string())
}

/// Each arm's rate on goal `g` as a bar with its interval as whiskers, on one scale: SVG.
fn chart(results: &Results, g: usize) -> String {
    const LABEL: f64 = 130.0;
    const WIDTH: f64 = 420.0;
    const ROW: f64 = 30.0;
    let top = results
        .arms
        .iter()
        .filter_map(|a| a.goals[g].interval.map(|(_, hi)| hi))
        .fold(0.0_f64, f64::max)
        .max(0.01);
    let x = |p: f64| LABEL + WIDTH * p / top;
    let rows = results.arms.len();
    #[allow(clippy::cast_precision_loss)] // a handful of arms
    let height = ROW * rows as f64 + 24.0;
    let mut svg = format!(
        r#"<svg class="chart" role="img" aria-label="rate per arm with 95% intervals" xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" viewBox="0 0 {} {height}">"#,
        LABEL + WIDTH + 90.0,
        LABEL + WIDTH + 90.0
    );
    for (i, arm) in results.arms.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = ROW * i as f64 + 4.0;
        let r = &arm.goals[g];
        let control = arm.arm == results.control;
        let fill = if control { "#9aa0a6" } else { "#1a73e8" };
        let _ = write!(
            svg,
            r#"<text x="0" y="{}" font-size="13">{}</text>"#,
            y + 15.0,
            escape(&arm.arm)
        );
        let (Some(rate), Some((lo, hi))) = (r.rate, r.interval) else {
            let _ = write!(
                svg,
                r#"<text x="{LABEL}" y="{}" font-size="12">no unit exposed</text>"#,
                y + 15.0
            );
            continue;
        };
        let significant = r.versus_control.is_some_and(|v| v.significant);
        let _ = write!(
            svg,
            r#"<rect class="rate" x="{LABEL}" y="{y}" width="{:.1}" height="18" fill="{fill}" opacity="0.8"><title>{}: {}</title></rect>"#,
            x(rate) - LABEL,
            escape(&arm.arm),
            percent(rate)
        );
        let mid = y + 9.0;
        let _ = write!(
            svg,
            r##"<path class="interval" d="M{:.1} {mid} H{:.1} M{:.1} {} V{} M{:.1} {} V{}" stroke="#202124" stroke-width="1.5" fill="none"/>"##,
            x(lo),
            x(hi),
            x(lo),
            mid - 6.0,
            mid + 6.0,
            x(hi),
            mid - 6.0,
            mid + 6.0
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="12">{}{}</text>"#,
            x(hi) + 6.0,
            y + 14.0,
            percent(rate),
            if significant { " *" } else { "" }
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{LABEL}" y="{}" font-size="11" fill="#5f6368">0%</text><text x="{:.1}" y="{}" font-size="11" fill="#5f6368" text-anchor="end">{}</text></svg>"##,
        height - 4.0,
        LABEL + WIDTH,
        height - 4.0,
        percent(top)
    );
    svg
}

/// Text for SVG: `&`, `<`, `>` and quotes escaped.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
