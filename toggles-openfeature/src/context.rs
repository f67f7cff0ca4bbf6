//! OpenFeature's evaluation context, as a toggles [`Context`].

use open_feature::{EvaluationContext, EvaluationContextFieldValue};
use toggles_runtime::Context;

/// The context's parts, owned, so a [`Context`] can borrow them.
#[derive(Default)]
pub(crate) struct Subject {
    user: Option<String>,
    site: Option<String>,
    environment: Option<String>,
    groups: Vec<(String, String)>,
    attributes: Vec<(String, String)>,
}

fn text(value: &EvaluationContextFieldValue) -> Option<String> {
    match value {
        EvaluationContextFieldValue::Bool(b) => Some(b.to_string()),
        EvaluationContextFieldValue::Int(i) => Some(i.to_string()),
        EvaluationContextFieldValue::Float(f) => Some(f.to_string()),
        EvaluationContextFieldValue::String(s) => Some(s.clone()),
        EvaluationContextFieldValue::DateTime(t) => Some(t.to_string()),
        // An opaque structure has no text; a rule cannot compare with it.
        EvaluationContextFieldValue::Struct(_) => None,
    }
}

fn pairs(list: &[(String, String)]) -> Vec<(&str, &str)> {
    list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

impl Subject {
    /// `targeting_key` → user; `site`, `environment`; `group.<kind>` → groups; the rest →
    /// attributes.
    pub(crate) fn of(context: &EvaluationContext) -> Subject {
        let mut subject = Subject {
            user: context.targeting_key.clone(),
            ..Subject::default()
        };
        for (key, value) in &context.custom_fields {
            let Some(value) = text(value) else { continue };
            match key.as_str() {
                "site" => subject.site = Some(value),
                "environment" => subject.environment = Some(value),
                _ => match key.strip_prefix("group.") {
                    Some(kind) => subject.groups.extend(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|id| !id.is_empty())
                            .map(|id| (kind.to_owned(), id.to_owned())),
                    ),
                    None => subject.attributes.push((key.clone(), value)),
                },
            }
        }
        subject
    }

    /// Calls `f` with the subject as a [`Context`] (pinned to the state in force now).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Context<'_>) -> R) -> R {
        let (groups, attributes) = (pairs(&self.groups), pairs(&self.attributes));
        let mut ctx = Context::new().groups(&groups).attributes(&attributes);
        if let Some(user) = &self.user {
            ctx = ctx.user(user);
        }
        if let Some(site) = &self.site {
            ctx = ctx.site(site);
        }
        if let Some(environment) = &self.environment {
            ctx = ctx.environment(environment);
        }
        f(&ctx)
    }
}
