//! A context that owns its parts: what arrives over a wire (an OFREP request, an OpenFeature
//! evaluation context, a command line) before a [`Context`] can borrow it — and the one mapping
//! of an OpenFeature evaluation context's fields onto it.

use serde_json::{Map, Value as Json};

use crate::targeting::Context;

/// A [`Context`]'s parts, owned. Build one from what a request carries, then check through
/// [`with`](OwnedContext::with), which lends it as a `Context` (pinned to the state in force
/// then):
///
/// ```
/// use toggles::{toggle, Flag, OwnedContext};
///
/// /// Grade problems with the rewritten engine.
/// #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
/// static NEW_GRADER: Flag;
///
/// let owned = OwnedContext::new().with_user("42").with_group("course", "c1");
/// let on = owned.with(|ctx| NEW_GRADER.is_enabled(ctx));
/// # let _ = on;
/// ```
///
/// A service answering its own requests builds a [`Context`] directly, borrowing what the
/// request holds, with no allocation; an owned context is for parts that must be owned first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedContext {
    /// The user id.
    pub user: Option<String>,
    /// The site (tenant).
    pub site: Option<String>,
    /// The deployment environment.
    pub environment: Option<String>,
    /// The user's groups, as `(kind, id)`.
    pub groups: Vec<(String, String)>,
    /// Free attributes, as `(name, value)`.
    pub attributes: Vec<(String, String)>,
}

/// An evaluation context that cannot be read: one of the fields the mapping reserves has a
/// shape it cannot take. (Fields it does not reserve are never an error: one it cannot use — a
/// nested object, say — is left out.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ContextError(String);

impl OwnedContext {
    /// An empty context: no user, no groups, no site.
    pub fn new() -> OwnedContext {
        OwnedContext::default()
    }

    /// Sets the user id.
    #[must_use]
    pub fn with_user(mut self, id: impl Into<String>) -> OwnedContext {
        self.user = Some(id.into());
        self
    }

    /// Sets the site.
    #[must_use]
    pub fn with_site(mut self, site: impl Into<String>) -> OwnedContext {
        self.site = Some(site.into());
        self
    }

    /// Sets the environment.
    #[must_use]
    pub fn with_environment(mut self, environment: impl Into<String>) -> OwnedContext {
        self.environment = Some(environment.into());
        self
    }

    /// Adds a group membership: `("course", "course-v1:edX+DemoX")`.
    #[must_use]
    pub fn with_group(mut self, kind: impl Into<String>, id: impl Into<String>) -> OwnedContext {
        self.groups.push((kind.into(), id.into()));
        self
    }

    /// Adds a free attribute.
    #[must_use]
    pub fn with_attribute(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> OwnedContext {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Calls `f` with this context as a [`Context`], pinned to the state in force now.
    pub fn with<R>(&self, f: impl FnOnce(&Context<'_>) -> R) -> R {
        let (groups, attributes) = (pairs(&self.groups), pairs(&self.attributes));
        let mut ctx = Context::new()
            .with_groups(&groups)
            .with_attributes(&attributes);
        if let Some(user) = &self.user {
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

    /// The context an OpenFeature evaluation context's fields describe, as JSON — the one
    /// mapping the OFREP endpoint, the OpenFeature provider and the command line share:
    ///
    /// - `targetingKey` is the user;
    /// - `site` and `environment` are the site and the environment;
    /// - `groups` maps each kind to its ids (`{"course": ["c1", "c2"]}`, or `"c1,c2"`), and a
    ///   field `group.<kind>` lists one kind's ids the same way;
    /// - every other field whose value is text, a number, a boolean or a time (as RFC 3339 text)
    ///   is an attribute, written as text; one that is none of these (a nested object, a list,
    ///   `null`) is left out — no rule can compare with it.
    ///
    /// A reserved field with a value it cannot take (`"site": {...}`, `"groups": 3`) is an
    /// error that names it.
    ///
    /// ```
    /// use serde_json::json;
    /// use toggles::OwnedContext;
    ///
    /// let fields = json!({
    ///     "targetingKey": "42", "site": "learning.example.com",
    ///     "groups": {"course": ["c1", "c2"]}, "group.org": "edX",
    ///     "plan": "premium", "seats": 12, "signedUpAt": "2026-03-01T09:30:00.000Z",
    ///     "address": {"city": "Cluj"}
    /// });
    /// let owned = OwnedContext::from_json(fields.as_object().unwrap())?;
    /// assert_eq!(owned.user.as_deref(), Some("42"));
    /// assert_eq!(owned.groups.len(), 3);
    /// assert!(owned.attributes.contains(&("seats".into(), "12".into())));
    /// assert!(!owned.attributes.iter().any(|(name, _)| name == "address"));
    /// # Ok::<(), toggles::ContextError>(())
    /// ```
    pub fn from_json(fields: &Map<String, Json>) -> Result<OwnedContext, ContextError> {
        let mut owned = OwnedContext::new();
        for (key, value) in fields {
            match key.as_str() {
                "targetingKey" => owned.user = reserved(key, value)?,
                "site" => owned.site = reserved(key, value)?,
                "environment" => owned.environment = reserved(key, value)?,
                "groups" => match value {
                    Json::Null => {}
                    Json::Object(kinds) => {
                        for (kind, list) in kinds {
                            for id in ids(kind, list)? {
                                owned.groups.push((kind.clone(), id));
                            }
                        }
                    }
                    other => {
                        return Err(ContextError(format!(
                            "`groups` maps a kind to its ids (`{{\"course\": [\"c1\"]}}`), not `{other}`"
                        )))
                    }
                },
                _ => match key.strip_prefix("group.") {
                    Some(kind) => {
                        for id in ids(key, value)? {
                            owned.groups.push((kind.to_owned(), id));
                        }
                    }
                    None => {
                        if let Some(text) = text(value) {
                            owned.attributes.push((key.clone(), text));
                        }
                    }
                },
            }
        }
        Ok(owned)
    }
}

fn pairs(list: &[(String, String)]) -> Vec<(&str, &str)> {
    list.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A scalar as text; `None` for what has none.
fn text(value: &Json) -> Option<String> {
    match value {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A reserved field: text, a number or a boolean, or absent (`null`).
fn reserved(key: &str, value: &Json) -> Result<Option<String>, ContextError> {
    match value {
        Json::Null => Ok(None),
        other => text(other).map(Some).ok_or_else(|| {
            ContextError(format!(
                "`{key}` is text, a number or a boolean, not `{other}`"
            ))
        }),
    }
}

/// A kind's ids: a list, or comma-separated text.
fn ids(key: &str, value: &Json) -> Result<Vec<String>, ContextError> {
    let bad = || ContextError(format!("`{key}` lists group ids, not `{value}`"));
    match value {
        Json::Null => Ok(Vec::new()),
        Json::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect()),
        Json::Array(items) => items.iter().map(|i| text(i).ok_or_else(bad)).collect(),
        _ => Err(bad()),
    }
}
