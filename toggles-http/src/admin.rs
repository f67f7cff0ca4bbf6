//! The admin pages: server-rendered HTML (maud templates, no JavaScript), a session cookie
//! holding the bearer token, and forms protected against cross-site request forgery.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use toggles_runtime::fleet::Lifecycle;
use toggles_runtime::policy::{may_change, Principal};
use toggles_runtime::report::{audit, undeclared, Live, LiveSource};
use toggles_runtime::rules::{FlagRule, GroupTargets, Guard, Plan, PlanState, Steer, VariantRule};
use toggles_runtime::store::AuditQuery;
use toggles_runtime::{
    registry, Change, Date, Kind, Revision, StoreError, Timestamp, ToggleInfo, WriteError,
};

use crate::api::blocking;
use crate::auth::Scope;
use crate::session::{mount_path, over_https, Session};
use crate::Shared;
use crate::{experiment, timeline};

/// Who is signed in, by the session cookie, and the anti-forgery token of their forms.
pub(crate) struct SignedIn {
    session: Session,
    token: String,
}

impl SignedIn {
    fn principal(&self) -> &Principal {
        &self.session.principal
    }
}

/// The request's session, if its cookie proves one.
fn signed_in(shared: &Shared, headers: &HeaderMap) -> Option<SignedIn> {
    let session = shared.sessions.of(headers)?;
    let token = shared.sessions.form_token(&session);
    Some(SignedIn { session, token })
}

/// A page; `root` leads from the page's address back to the list (`""` or `"../"`).
fn page(title: &str, who: Option<&SignedIn>, root: &str, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " — toggles" }
                style { (STYLE) }
            }
            body {
                header {
                    a href={ (root) "./" } { "toggles" }
                    span.who {
                        @match who {
                            Some(who) => {
                                "signed in as " strong { (who.principal().id) } @if who.principal().admin { " (admin)" }
                                form.logout method="post" action={ (root) "logout" } {
                                    input type="hidden" name="csrf" value=(who.token);
                                    button type="submit" { "sign out" }
                                }
                            }
                            None => { a href={ (root) "login" } { "sign in" } }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 2rem;color:#222}\
header{display:flex;justify-content:space-between;padding:1rem 0;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}\
tr.expired td{background:#fff0f0}.badge{background:#c00;color:#fff;padding:0 .3rem;border-radius:3px;font-size:.8em}\
.problems{background:#fff0f0;border:1px solid #c00;padding:.5rem 1rem}code,pre{background:#f6f6f6}\
form.filters{margin:1rem 0}label{display:block;margin:.3rem 0}textarea{width:40rem;height:4rem}";

#[derive(Deserialize, Default)]
pub(crate) struct Filters {
    namespace: Option<String>,
    owner: Option<String>,
    kind: Option<String>,
    expired: Option<String>,
    never_set: Option<String>,
}

/// A flag's rule (or a switch's state) in words: who gets what, in the order it is applied;
/// `None` for the other kinds, or a rule this version cannot read.
fn in_words(info: &ToggleInfo, live: &Live) -> Option<String> {
    if info.kind() == Kind::Switch {
        let on = live.value.as_bool()?;
        let words = if on {
            "on for everyone"
        } else {
            "off for everyone"
        };
        return Some(match live.source {
            LiveSource::Default => format!("{words} (the compiled default)"),
            LiveSource::Store => words.to_owned(),
        });
    }
    if info.kind() != Kind::Flag {
        return None;
    }
    let default = info.default_value() == toggles_runtime::Value::Bool(true);
    let rule: FlagRule = match live.source {
        LiveSource::Default => FlagRule::new(),
        LiveSource::Store => serde_json::from_value(live.value.clone()).ok()?,
    };
    Some(rule.describe(default))
}

fn state_text(live: &Live) -> String {
    let value = live.value.to_string();
    match live.source {
        LiveSource::Store => value,
        LiveSource::Default => format!("{value} (default)"),
    }
}

/// A filter the form filled in; an empty field filters nothing.
fn given(field: Option<&String>) -> Option<&str> {
    field.map(String::as_str).filter(|s| !s.is_empty())
}

/// A page saying the store cannot be read, with the reason.
fn unavailable(error: &StoreError, base: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page(
            "Store unavailable",
            None,
            base,
            &html! { p { "The toggles' store cannot be read: " (error.to_string()) } },
        ),
    )
        .into_response()
}

/// `GET /admin/`: every toggle, filtered.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
) -> Result<Response, crate::api::Failure> {
    let who = signed_in(&shared, &headers);
    if shared.reads_need_credentials && who.is_none() {
        return Ok(see_other("login", None));
    }
    blocking(move || {
        let today = Date::today();
        // One read of the audit log (and of the fleet's usage) for the whole list.
        let report = match registry().report_as_of(today) {
            Ok(report) => report,
            Err(e) => return unavailable(&e, ""),
        };
        let lives: Vec<&Live> = report.toggles.iter().map(|t| &t.state).collect();
        let stages: HashMap<&str, &Lifecycle> = report
            .toggles
            .iter()
            .filter_map(|t| Some((t.declaration.full_name.as_str(), t.lifecycle.as_ref()?)))
            .collect();
        let wanted = |(info, live): &(&ToggleInfo, &Live)| {
            let m = info.meta();
            given(filters.namespace.as_ref()).is_none_or(|ns| m.namespace() == ns)
                && given(filters.owner.as_ref()).is_none_or(|o| m.owner() == Some(o))
                && given(filters.kind.as_ref()).is_none_or(|k| info.kind().as_str() == k)
                && given(filters.expired.as_ref()).is_none_or(|_| m.is_expired_on(today))
                && given(filters.never_set.as_ref()).is_none_or(|_| {
                    live.source == LiveSource::Default && live.last_modified.is_none()
                })
        };
        let rows: Vec<(&ToggleInfo, &Live)> = registry()
            .iter()
            .zip(lives)
            .filter(|row| wanted(row))
            .collect();
        let body = html! {
            h1 { "Toggles" }
            form.filters method="get" {
                input name="namespace" placeholder="namespace" value=[filters.namespace.as_deref()];
                input name="owner" placeholder="owner" value=[filters.owner.as_deref()];
                select name="kind" {
                    option value="" { "any kind" }
                    @for kind in ["switch", "flag", "setting"] {
                        option value=(kind) selected[filters.kind.as_deref() == Some(kind)] { (kind) }
                    }
                }
                label { input type="checkbox" name="expired" value="1" checked[filters.expired.is_some()]; " expired" }
                label { input type="checkbox" name="never_set" value="1" checked[filters.never_set.is_some()]; " never set" }
                button type="submit" { "filter" }
            }
            table {
                thead { tr { th { "toggle" } th { "kind" } th { "state" } th { "stage" } th { "owner" } th { "life" } th { "remove by" } } }
                tbody {
                    @for (t, live) in &rows {
                        @let m = t.meta();
                        @let expired = m.is_expired_on(today);
                        tr class=[expired.then_some("expired")] {
                            td { a href={ "t/" (t.full_name()) } { (t.full_name()) } }
                            td { (t.kind().as_str()) }
                            td {
                                @match in_words(t, live) {
                                    Some(words) => span.words title=(state_text(live)) { (words) },
                                    None => code { (state_text(live)) },
                                }
                            }
                            td {
                                @match stages.get(t.full_name()) {
                                    Some(l) if l.stale => span.stale title=[l.fix.as_deref()] { (l.stage.as_str()) " " span.badge { "STALE" } },
                                    Some(l) => span title=[l.fix.as_deref()] { (l.stage.as_str()) },
                                    None => "—",
                                }
                            }
                            td { (m.owner().unwrap_or("—")) }
                            td { (m.life().as_str()) }
                            td {
                                (m.remove_by().map(|d| d.to_string()).unwrap_or_default())
                                @if expired { " " span.badge { "EXPIRED" } }
                            }
                        }
                    }
                }
            }
            p { (rows.len()) " of " (registry().len()) " toggles" }
            @let stray = undeclared();
            @if !stray.is_empty() {
                h2 id="undeclared" { "In the store, declared by no toggle of this service" }
                p { "Another service's toggles, or state a removed toggle left behind: drift to clean up if no service declares them." }
                ul { @for name in &stray { li { code { (name) } } } }
            }
        };
        page("Toggles", who.as_ref(), "", &body).into_response()
    })
    .await
}

/// What an edit form sent.
#[derive(Clone, Deserialize, Default)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
    /// The revision of the entry the form was filled in from.
    revision: Option<String>,
    on: Option<String>,
    value: Option<String>,
    pub(crate) active: Option<String>,
    pub(crate) everyone: Option<String>,
    percent: Option<String>,
    users_on: Option<String>,
    users_off: Option<String>,
    sites_on: Option<String>,
    sites_off: Option<String>,
    groups: Option<String>,
    pub(crate) environments: Option<String>,
    pub(crate) requires: Option<String>,
    pub(crate) constraints: Option<String>,
    /// A variant toggle's: the experiment's coverage, its weights (`arm: weight` lines), its
    /// pins (`users arm: ids` lines), whether it is tracked.
    pub(crate) coverage: Option<String>,
    pub(crate) weights: Option<String>,
    pub(crate) pins: Option<String>,
    pub(crate) track: Option<String>,
    /// A step on the flag's staged rollout (`pause`, `resume`, `skip`, `rollback`), from its
    /// buttons, instead of the form's fields.
    steer: Option<String>,
}

pub(crate) fn list_of(text: Option<&str>) -> Vec<String> {
    text.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A flag rule from the form's fields, or what is wrong with them.
/// `stored` with what the form shows taken from the form: a field the form does not show is
/// kept as stored, never erased by a save.
fn rule_of(form: &EditForm, stored: FlagRule) -> Result<FlagRule, Vec<String>> {
    let mut problems = Vec::new();
    let mut rule = stored;
    rule.active = form.active.is_some();
    rule.everyone = match form.everyone.as_deref() {
        Some("on") => Some(true),
        Some("off") => Some(false),
        _ => None,
    };
    rule.percent = match form.percent.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => match p.trim_end_matches('%').parse() {
            Ok(p) => Some(p),
            Err(_) => {
                problems.push(format!("`percent` is a number from 0 to 100, not `{p}`"));
                None
            }
        },
    };
    rule.users.on = list_of(form.users_on.as_deref());
    rule.users.off = list_of(form.users_off.as_deref());
    rule.sites.on = list_of(form.sites_on.as_deref());
    rule.sites.off = list_of(form.sites_off.as_deref());
    rule.environments = list_of(form.environments.as_deref());
    rule.requires = list_of(form.requires.as_deref());
    // `course on: a, b` and `course off: c`, a line each.
    let mut groups: Vec<GroupTargets> = Vec::new();
    for line in form
        .groups
        .as_deref()
        .unwrap_or("")
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        let parsed = line.split_once(':').and_then(|(head, ids)| {
            let (kind, side) = head.trim().rsplit_once(' ')?;
            Some((
                kind.trim().to_owned(),
                side.trim().to_owned(),
                list_of(Some(ids)),
            ))
        });
        match parsed {
            Some((kind, side, ids)) if side == "on" || side == "off" => {
                if !groups.iter().any(|g| g.kind == kind) {
                    let mut g = GroupTargets::default();
                    g.kind.clone_from(&kind);
                    groups.push(g);
                }
                let g = groups
                    .iter_mut()
                    .find(|g| g.kind == kind)
                    .expect("just added");
                if side == "on" {
                    g.on.extend(ids);
                } else {
                    g.off.extend(ids);
                }
            }
            _ => problems.push(format!(
                "`{line}` is not a group line: write `course on: id1, id2` or `course off: id3`"
            )),
        }
    }
    rule.groups = groups;
    rule.constraints = constraints_of(form.constraints.as_deref(), &mut problems);
    if problems.is_empty() {
        Ok(rule)
    } else {
        Err(problems)
    }
}

/// `region: US, RO`, a line each, as constraints; a line that is not one goes to `problems`.
pub(crate) fn constraints_of(
    text: Option<&str>,
    problems: &mut Vec<String>,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut constraints = std::collections::BTreeMap::new();
    for line in text.unwrap_or("").lines().filter(|l| !l.trim().is_empty()) {
        match line.split_once(':') {
            Some((attribute, values)) => {
                constraints.insert(attribute.trim().to_owned(), list_of(Some(values)));
            }
            None => problems.push(format!(
                "`{line}` is not a constraint line: write `region: US, RO`"
            )),
        }
    }
    constraints
}

/// A guard's limits in words: "the on arm's error rate is above 5% or its 95th-percentile run
/// time is more than 20% above the off arm's".
fn guard_words(guard: &Guard) -> String {
    let mut limits = Vec::new();
    if let Some(rate) = guard.max_error_rate {
        limits.push(format!("the on arm's error rate is above {rate}%"));
    }
    if let Some(margin) = guard.max_margin {
        limits.push(format!(
            "the on arm's error rate is more than {margin} points above the off arm's"
        ));
    }
    if let (Some(share), Some(ms)) = (guard.max_slow_share, guard.latency_baseline_ms) {
        limits.push(format!(
            "more than {share}% of the on arm's runs take longer than {ms} ms"
        ));
    }
    if let Some(margin) = guard.max_p95_margin {
        limits.push(format!(
            "the on arm's 95th-percentile run time is more than {margin}% above the off arm's"
        ));
    }
    if let Some(drop) = guard.max_traffic_drop {
        limits.push(format!(
            "the on arm's traffic falls more than {drop}% below what the off arm's predicts"
        ));
    }
    limits.join(" or ")
}

fn lines_of_groups(rule: &FlagRule) -> String {
    let mut out = String::new();
    for g in &rule.groups {
        for (side, ids) in [("on", &g.on), ("off", &g.off)] {
            if !ids.is_empty() {
                let _ = writeln!(out, "{} {side}: {}", g.kind, ids.join(", "));
            }
        }
    }
    out
}

fn edit_form(
    info: &ToggleInfo,
    live: &Live,
    token: &str,
    problems: &[String],
    form: Option<&EditForm>,
) -> Markup {
    let current: FlagRule = serde_json::from_value(live.value.clone()).unwrap_or_default();
    // Re-shown after a refusal, the form still stands on the revision it was filled in from.
    let revision = form
        .and_then(|f| f.revision.clone())
        .unwrap_or_else(|| live.revision.to_string());
    html! {
        form method="post" id="edit" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="revision" value=(revision);
            @if !problems.is_empty() {
                div.problems id="problems" {
                    p { strong { "Nothing was changed:" } }
                    ul { @for p in problems { li { (p) } } }
                }
            }
            @match info.kind() {
                Kind::Switch => {
                    label { input type="radio" name="on" value="true" checked[live.value == true]; " on" }
                    label { input type="radio" name="on" value="false" checked[live.value == false]; " off" }
                }
                Kind::Setting => {
                    label { "value (" (info.value_type()) ") "
                        input name="value" value=(form.and_then(|f| f.value.clone()).unwrap_or_else(|| match &live.value { serde_json::Value::String(s) => s.clone(), v => v.to_string() })); }
                }
                Kind::Variant => {
                    (experiment::form_fields(info, &serde_json::from_value(live.value.clone()).unwrap_or_default(), form))
                }
                _ => {
                    label { input type="checkbox" name="active" value="1" checked[current.active]; " active (off: the flag is off for everyone)" }
                    label { "everyone "
                        select name="everyone" {
                            option value="" selected[current.everyone.is_none()] { "—" }
                            option value="on" selected[current.everyone == Some(true)] { "on" }
                            option value="off" selected[current.everyone == Some(false)] { "off" }
                        }
                    }
                    label { "percent " input name="percent" value=(form.and_then(|f| f.percent.clone()).unwrap_or_else(|| current.percent.map(|p| p.to_string()).unwrap_or_default())); }
                    label { "users on " input name="users_on" value=(current.users.on.join(", ")); }
                    label { "users off " input name="users_off" value=(current.users.off.join(", ")); }
                    label { "sites on " input name="sites_on" value=(current.sites.on.join(", ")); }
                    label { "sites off " input name="sites_off" value=(current.sites.off.join(", ")); }
                    label { "groups (a line each: " code { "course on: id1, id2" } ")" br; textarea name="groups" { (lines_of_groups(&current)) } }
                    label { "environments " input name="environments" value=(current.environments.join(", ")); }
                    label { "requires (flags) " input name="requires" value=(current.requires.join(", ")); }
                    label { "constraints (a line each: " code { "region: US, RO" } ")" br;
                        textarea name="constraints" { @for (a, v) in &current.constraints { (a) ": " (v.join(", ")) "\n" } } }
                    @if let Some(guard) = &current.guard {
                        p id="guard" { "Guarded: turned off by the guard when "
                            (guard_words(guard))
                            " over " (guard.window_secs) " s (from " (guard.min_requests) " requests). Saving keeps the guard." }
                    }
                }
            }
            label { "reason " input name="reason" required value=(form.map(|f| f.reason.clone()).unwrap_or_default()); }
            button type="submit" { "save" }
            @if let (Kind::Flag, Some(plan)) = (info.kind(), &current.plan) {
                // After "save", which stays what the Enter key submits.
                span id="steer" {
                    " staged rollout: "
                    @for (step, shown) in steps(plan) {
                        @if shown { button type="submit" name="steer" value=(step) { (step) } " " }
                    }
                }
            }
        }
    }
}

/// A staged rollout's steps, and whether each applies to `plan` as it stands.
fn steps(plan: &Plan) -> [(&'static str, bool); 4] {
    let (running, paused, stopped) = (
        plan.state == PlanState::Running,
        plan.state == PlanState::Paused,
        plan.state == PlanState::Stopped,
    );
    [
        ("pause", running),
        ("resume", paused || stopped),
        ("skip", running || paused),
        ("rollback", plan.stage > 0),
    ]
}

fn toggle_page(
    info: &ToggleInfo,
    who: Option<&SignedIn>,
    problems: &[String],
    form: Option<&EditForm>,
) -> Result<Markup, StoreError> {
    let m = info.meta();
    // The chart reads further back than the table shows.
    let history = audit(&AuditQuery::toggle(info.full_name()).limit(200))?;
    let live = info.live()?;
    let editable = who.is_some_and(|w| may_change(w.principal(), info.full_name()));
    let body = html! {
        h1 { (info.full_name()) }
        p { (m.description()) }
        table {
            tr { th { "kind" } td { (info.kind().as_str()) " of " code { (info.value_type()) } } }
            tr { th { "owner" } td { (m.owner().unwrap_or("— (admins only)")) } }
            tr { th { "life" } td { (m.life().as_str()) @if let Some(d) = m.remove_by() { ", remove by " (d) @if m.is_expired_on(Date::today()) { " " span.badge { "EXPIRED" } } } } }
            tr { th { "declared at" } td { code { (m.source()) } } }
            @if let Some(words) = in_words(info, &live) {
                tr { th { "who gets what" } td id="words" { (words) } }
            }
            tr { th { "in force" } td { pre id="state" { (serde_json::to_string_pretty(&live.value).unwrap_or_default()) } (if live.source == LiveSource::Default { "(the compiled default)" } else { "" }) } }
            @if let Some((plan, guard)) = staged(info, &live) {
                tr { th { "rollout" } td id="rollout" {
                    (plan.status())
                    @if let (Some(guard), Some(_)) = (guard, plan.due()) { ", once its guard holds on " (guard.min_requests) " outcomes under “on” in the stage" }
                    br; "stages: " (plan.outline())
                } }
            }
        }
        @if let Some(svg) = timeline::chart(info, &history, Timestamp::now()) {
            h2 { "Over time" }
            (PreEscaped(svg))
        }
        @if editable {
            h2 { "Change" }
            (edit_form(info, &live, who.map_or("", |w| w.token.as_str()), problems, form))
        } @else if who.is_some() {
            p.readonly { "You may not change this toggle." }
        }
        @if info.kind() == Kind::Variant {
            @match toggles_runtime::experiment::results(info.full_name()) {
                Ok(results) => (experiment::results_section(&results)),
                Err(e) => { h2 id="results" { "Results" } p { (e) } }
            }
        }
        @if who.is_some() && matches!(info.kind(), Kind::Flag | Kind::Variant) {
            (feedback_section(info.full_name()))
        }
        h2 { "History" }
        table id="history" {
            thead { tr { th { "when" } th { "who" } th { "before" } th { "after" } th { "why" } } }
            tbody {
                @for e in history.iter().take(20) {
                    tr {
                        td { (e.at) } td { (e.actor) }
                        td { code { (e.before.as_ref().map_or_else(|| "—".into(), ToString::to_string)) } }
                        td { code { (e.after.as_ref().map_or_else(|| "—".into(), ToString::to_string)) } }
                        td { (e.reason) }
                    }
                }
            }
        }
    };
    Ok(page(info.full_name(), who, "../", &body))
}

/// The toggle's feedback: the count per arm, and the newest pieces.
fn feedback_section(name: &str) -> Markup {
    html! {
        h2 id="feedback" { "Feedback" }
        @match toggles_runtime::feedback_of(name, 20) {
            Ok(Some(log)) => {
                p id="feedback-counts" {
                    (log.total()) " in all: "
                    @for (i, (arm, n)) in log.per_arm.iter().enumerate() {
                        @if i > 0 { ", " } (arm) " " (n)
                    }
                    @if log.entries.len() < usize::try_from(log.total()).unwrap_or(usize::MAX) { " (the newest " (log.entries.len()) " below)" }
                }
                table id="feedback-list" {
                    thead { tr { th { "when" } th { "arm" } th { "who" } th { "said" } } }
                    tbody {
                        @for f in &log.entries {
                            tr { td { (f.at) } td { (f.arm) } td { (f.unit.as_deref().unwrap_or("—")) } td { (f.text) } }
                        }
                    }
                }
            }
            Ok(None) => p { "None yet. Code gives it with " code { "feedback" } ", a client app with " code { "POST …/feedback" } "." },
            Err(e) => p { "The feedback cannot be read now: " (e) },
        }
    }
}

/// A flag's staged rollout as stored, with its guard.
fn staged(info: &ToggleInfo, live: &Live) -> Option<(Plan, Option<Guard>)> {
    if info.kind() != Kind::Flag {
        return None;
    }
    let rule: FlagRule = serde_json::from_value(live.value.clone()).ok()?;
    Some((rule.plan?, rule.guard))
}

fn not_found(name: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            None,
            "../",
            &html! { p { "`" (name) "` is not a toggle of this service." } },
        ),
    )
        .into_response()
}

/// `GET /admin/t/{name}`.
pub(crate) async fn toggle(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, crate::api::Failure> {
    blocking(move || {
        let Some(info) = registry().get(&name) else {
            return not_found(&name);
        };
        let who = signed_in(&shared, &headers);
        if shared.reads_need_credentials && who.is_none() {
            return see_other("../login", None);
        }
        toggle_page(info, who.as_ref(), &[], None)
            .map_or_else(|e| unavailable(&e, "../"), IntoResponse::into_response)
    })
    .await
}

fn forbidden(message: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        page("Forbidden", None, "../", &html! { p { (message) } }),
    )
        .into_response()
}

/// `POST /admin/t/{name}`: a form's change, as the session's principal.
pub(crate) async fn edit(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<EditForm>,
) -> Result<Response, crate::api::Failure> {
    blocking(move || {
        let Some(info) = registry().get(&name) else {
            return not_found(&name);
        };
        // A form is only good with the session it was made for: another site can make the
        // browser send the cookie, but cannot know the token.
        let Some(signed) = signed_in(&shared, &headers) else {
            return forbidden("Sign in to change toggles.");
        };
        if !shared.sessions.form_token_is(&signed.session, &form.csrf) {
            return forbidden("This form is out of date or did not come from this page: reload the page and try again.");
        }
        let who = signed.principal().clone();
        let change = match info.kind() {
            Kind::Switch => Ok(Change::switch(&name, form.on.as_deref() == Some("true"))),
            Kind::Setting => {
                let text = form.value.clone().unwrap_or_default();
                let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
                Ok(Change::setting(&name, value))
            }
            Kind::Variant => {
                let live = match info.live() {
                    Ok(live) => live,
                    Err(e) => return unavailable(&e, "../"),
                };
                // A rule this version cannot read (a newer version's field) is refused, not
                // replaced by one that lost its salt, guard or dropped arms.
                let stored = match live.source {
                    LiveSource::Default => Ok(VariantRule::default()),
                    LiveSource::Store => serde_json::from_value::<VariantRule>(live.value).map_err(|e| {
                        vec![format!("the stored rule cannot be read by this version ({e}): change it through the JSON API")]
                    }),
                };
                stored.and_then(|stored| {
                    experiment::rule_of(&form, stored).map(|rule| Change::variant(&name, rule))
                })
            }
            // This program's registry holds only kinds its runtime knows.
            _ => {
                let live = match info.live() {
                    Ok(live) => live,
                    Err(e) => return unavailable(&e, "../"),
                };
                let stored: FlagRule = serde_json::from_value(live.value).unwrap_or_default();
                let rule = match form.steer.as_deref() {
                    Some(step) => step
                        .parse::<Steer>()
                        .and_then(|step| stored.steer(step, Timestamp::now()))
                        .map_err(|why| vec![why]),
                    None => rule_of(&form, stored),
                };
                rule.map(|rule| Change::flag(&name, rule))
            }
        };
        // Saved only over the entry the form was filled in from: a change made meanwhile is
        // shown, never overwritten unseen.
        let expected = match form.revision.as_deref().map(str::parse::<Revision>) {
            Some(Ok(revision)) => Some(revision),
            Some(Err(_)) => return forbidden("This form is out of date or did not come from this page: reload the page and try again."),
            None => None,
        };
        let write = |change: Change| {
            let request = change.by(&who).because(&form.reason);
            toggles_runtime::write(match expected {
                Some(revision) => request.if_revision(revision),
                None => request,
            })
        };
        let problems = match change.map(write) {
            Ok(Ok(_)) => {
                let mut response = StatusCode::SEE_OTHER.into_response();
                response.headers_mut().insert(LOCATION, HeaderValue::from_str(&name).expect("a toggle name is a header value"));
                return response;
            }
            Ok(Err(WriteError::Forbidden(refusal))) => return forbidden(&refusal.message),
            Ok(Err(WriteError::Conflict { .. })) => {
                let problem = "Someone changed this toggle after you opened this page: what is in force now is shown above. Make your change again on it.".to_owned();
                // The form now stands on what is stored (the revision the page reads with the
                // state it shows), so a save after looking goes through.
                let mut fresh = form.clone();
                fresh.revision = None;
                return match toggle_page(info, Some(&signed), &[problem], Some(&fresh)) {
                    Ok(page) => (StatusCode::CONFLICT, page).into_response(),
                    Err(e) => unavailable(&e, "../"),
                };
            }
            Ok(Err(WriteError::Invalid(invalid))) => {
                invalid.problems.iter().map(|p| format!("`{}` {}", p.toggle, p.message)).collect()
            }
            Ok(Err(other)) => vec![other.to_string()],
            Err(problems) => problems,
        };
        match toggle_page(info, Some(&signed), &problems, Some(&form)) {
            Ok(page) => (StatusCode::UNPROCESSABLE_ENTITY, page).into_response(),
            Err(e) => unavailable(&e, "../"),
        }
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct Login {
    token: String,
}

/// `GET /admin`: the list is at `admin/`, whose relative links the pages use.
pub(crate) async fn to_the_list() -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static("admin/"));
    response
}

/// `GET /admin/login`.
pub(crate) async fn login_page() -> Markup {
    login_form(None)
}

fn login_form(error: Option<&str>) -> Markup {
    page(
        "Sign in",
        None,
        "",
        &html! {
            h1 { "Sign in" }
            @if let Some(error) = error { div.problems { (error) } }
            form method="post" {
                label { "token " input type="password" name="token" autofocus; }
                button type="submit" { "sign in" }
            }
        },
    )
}

/// `POST /admin/login`: a token that authenticates starts a session, whose signed cookie holds
/// a random id and the principal — never the token — for the router's path only, `Secure` over
/// HTTPS, ending after the session's length.
pub(crate) async fn login(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(login): Form<Login>,
) -> Response {
    let token = login.token.trim();
    let mut bearer = HeaderMap::new();
    let authenticated = HeaderValue::from_str(&format!("Bearer {token}"))
        .ok()
        .and_then(|b| {
            bearer.insert(axum::http::header::AUTHORIZATION, b);
            shared.auth.authenticate(&bearer)
        });
    let refusal = match &authenticated {
        None => Some("That token does not sign anyone in.".to_owned()),
        Some(a) if !a.may(Scope::Admin) => Some(format!(
            "That token may not sign in to the admin pages: {}.",
            a.lacks(Scope::Admin)
        )),
        Some(_) => None,
    };
    let (Some(authenticated), None) = (authenticated, refusal.as_deref()) else {
        return (StatusCode::UNAUTHORIZED, login_form(refusal.as_deref())).into_response();
    };
    let principal = authenticated.principal;
    let path = mount_path(&uri, "/admin/login");
    let cookie = shared
        .sessions
        .start(principal, &path, over_https(&uri, &headers));
    see_other("./", Some(cookie))
}

#[derive(Deserialize)]
pub(crate) struct Logout {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/logout`: ends the session (its form's token required, so another site cannot
/// sign a browser out) and clears its cookie.
pub(crate) async fn logout(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Form(logout): Form<Logout>,
) -> Response {
    let Some(session) = shared.sessions.of(&headers) else {
        return forbidden("You are not signed in.");
    };
    if !shared.sessions.form_token_is(&session, &logout.csrf) {
        return forbidden("This form is out of date or did not come from this page: reload the page and try again.");
    }
    let cookie = shared
        .sessions
        .end(&session, &mount_path(&uri, "/admin/logout"));
    see_other("login", Some(cookie))
}

/// A `303` to `location` (relative to the page), setting `cookie` if given.
fn see_other(location: &'static str, cookie: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(location));
    response
}
