//! OpenFeature's evaluation context, as a toggles [`Context`].

use std::borrow::Cow;

use open_feature::{EvaluationContext, EvaluationContextFieldValue};
use toggles_runtime::Context;

/// The context's parts, borrowed from the evaluation context where they are text already (the
/// usual case: no allocation), owned where a number, boolean or date had to be written out.
#[derive(Default)]
pub(crate) struct Subject<'a> {
    user: Option<&'a str>,
    site: Option<Cow<'a, str>>,
    environment: Option<Cow<'a, str>>,
    groups: Vec<(&'a str, Cow<'a, str>)>,
    attributes: Vec<(&'a str, Cow<'a, str>)>,
}

fn text(value: &EvaluationContextFieldValue) -> Option<Cow<'_, str>> {
    match value {
        EvaluationContextFieldValue::String(s) => Some(Cow::Borrowed(s)),
        EvaluationContextFieldValue::Bool(b) => Some(Cow::Owned(b.to_string())),
        EvaluationContextFieldValue::Int(i) => Some(Cow::Owned(i.to_string())),
        EvaluationContextFieldValue::Float(f) => Some(Cow::Owned(f.to_string())),
        EvaluationContextFieldValue::DateTime(t) => Some(Cow::Owned(t.to_string())),
        // An opaque structure has no text; a rule cannot compare with it.
        EvaluationContextFieldValue::Struct(_) => None,
    }
}

/// The non-blank entries of a comma-separated list.
fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|id| !id.is_empty())
}

/// The ids of a `group.<kind>` field.
fn ids(value: Cow<'_, str>) -> Vec<Cow<'_, str>> {
    match value {
        Cow::Borrowed(s) => list(s).map(Cow::Borrowed).collect(),
        Cow::Owned(s) => list(&s).map(|id| Cow::Owned(id.to_owned())).collect(),
    }
}

fn pairs<'s>(list: &'s [(&str, Cow<'_, str>)]) -> Vec<(&'s str, &'s str)> {
    list.iter().map(|(k, v)| (*k, v.as_ref())).collect()
}

impl<'a> Subject<'a> {
    /// `targeting_key` → user; `site`, `environment`; `group.<kind>` → groups; the rest →
    /// attributes.
    pub(crate) fn of(context: &'a EvaluationContext) -> Subject<'a> {
        let mut subject = Subject {
            user: context.targeting_key.as_deref(),
            ..Subject::default()
        };
        for (key, value) in &context.custom_fields {
            let Some(value) = text(value) else { continue };
            match key.as_str() {
                "site" => subject.site = Some(value),
                "environment" => subject.environment = Some(value),
                _ => match key.strip_prefix("group.") {
                    Some(kind) => subject
                        .groups
                        .extend(ids(value).into_iter().map(|id| (kind, id))),
                    None => subject.attributes.push((key, value)),
                },
            }
        }
        subject
    }

    /// Calls `f` with the subject as a [`Context`] (pinned to the state in force now).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Context<'_>) -> R) -> R {
        let (groups, attributes) = (pairs(&self.groups), pairs(&self.attributes));
        let mut ctx = Context::new()
            .with_groups(&groups)
            .with_attributes(&attributes);
        if let Some(user) = self.user {
            ctx = ctx.with_user(user);
        }
        if let Some(site) = &self.site {
            ctx = ctx.with_site(site);
        }
        if let Some(environment) = &self.environment {
            ctx = ctx.with_environment(environment);
        }
        f(&ctx)
    }
}
