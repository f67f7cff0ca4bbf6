//! `TogglesProvider`: OpenFeature's resolutions, answered by this program's toggles.

use async_trait::async_trait;
use open_feature::provider::{
    FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails,
};
use open_feature::{
    EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationReason, EvaluationResult,
    FlagMetadata, StructValue,
};
use toggles_runtime::{registry, Context, Date, Kind, Step, ToggleInfo, Value};

use crate::context;

/// The OpenFeature provider of this program's toggles. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct TogglesProvider {
    metadata: ProviderMetadata,
    flag_metadata: bool,
}

impl TogglesProvider {
    /// The provider, named `toggles`, without flag metadata in its resolutions.
    pub fn new() -> TogglesProvider {
        TogglesProvider {
            metadata: ProviderMetadata::new("toggles"),
            flag_metadata: false,
        }
    }

    /// The same provider, with flag metadata (`kind`, `life`, `expired`, `source`, `owner`,
    /// `remove_by`) in every resolution.
    ///
    /// The SDK's flag metadata is a map of owned strings, built for each resolution and copied
    /// again by the client: about 20 allocations and a microsecond per evaluation (measured in
    /// `comparison/`), more than the rest of the resolution. Ask for it where something reads it
    /// (a hook that logs owners, a debugging endpoint); the rest of a program is better served by
    /// [`new`](TogglesProvider::new).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use open_feature::provider::FeatureProvider;
    /// use open_feature::{EvaluationContext, FlagMetadataValue};
    /// use toggles::{toggle, Flag};
    /// use toggles::openfeature::TogglesProvider;
    ///
    /// /// Grade problems with the rewritten engine.
    /// #[toggle(namespace = "grading", owner = "team-grading", life = "temporary", remove_by = "2030-01-01")]
    /// static NEW_GRADER: Flag;
    ///
    /// let provider = TogglesProvider::new().with_flag_metadata();
    /// let details = provider
    ///     .resolve_bool_value("grading.new_grader", &EvaluationContext::default())
    ///     .await
    ///     .unwrap();
    /// let metadata = details.flag_metadata.unwrap();
    /// assert_eq!(
    ///     metadata.values["owner"],
    ///     FlagMetadataValue::String("team-grading".into())
    /// );
    /// # }
    /// ```
    #[must_use]
    pub fn with_flag_metadata(mut self) -> TogglesProvider {
        self.flag_metadata = true;
        self
    }

    fn details<T>(
        &self,
        info: &ToggleInfo,
        value: T,
        variant: String,
        reason: EvaluationReason,
    ) -> ResolutionDetails<T> {
        ResolutionDetails {
            value,
            variant: Some(variant),
            reason: Some(reason),
            flag_metadata: self.flag_metadata.then(|| metadata(info)),
        }
    }

    fn resolve_setting<T>(
        &self,
        key: &str,
        asked: &str,
        convert: impl FnOnce(Value) -> Option<T>,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let info = find(key)?;
        let value = setting(info).ok_or_else(|| mismatch(info, asked))?;
        let variant = match value {
            Value::Str(s) => s.to_owned(),
            other => other.to_string(),
        };
        let value = convert(value).ok_or_else(|| mismatch(info, asked))?;
        Ok(self.details(info, value, variant, EvaluationReason::Static))
    }
}

impl Default for TogglesProvider {
    fn default() -> TogglesProvider {
        TogglesProvider::new()
    }
}

fn error(code: EvaluationErrorCode, message: String) -> EvaluationError {
    EvaluationError {
        code,
        message: Some(message),
    }
}

fn find(key: &str) -> EvaluationResult<&'static ToggleInfo> {
    registry().get(key).ok_or_else(|| {
        error(
            EvaluationErrorCode::FlagNotFound,
            format!("`{key}` is not a toggle of this program"),
        )
    })
}

fn mismatch(info: &ToggleInfo, asked: &str) -> EvaluationError {
    error(
        EvaluationErrorCode::TypeMismatch,
        format!(
            "`{}` is a {} of `{}`, not a {asked}",
            info.full_name(),
            info.kind(),
            info.value_type()
        ),
    )
}

/// The OpenFeature reason the runtime names for `step` (the mapping OFREP uses too).
fn reason(step: &Step) -> EvaluationReason {
    match step.openfeature_reason() {
        "DISABLED" => EvaluationReason::Disabled,
        "TARGETING_MATCH" => EvaluationReason::TargetingMatch,
        "SPLIT" => EvaluationReason::Split,
        "DEFAULT" => EvaluationReason::Default,
        "STATIC" => EvaluationReason::Static,
        other => EvaluationReason::Other(other.to_owned()),
    }
}

fn metadata(info: &ToggleInfo) -> FlagMetadata {
    let m = info.meta();
    let mut metadata = FlagMetadata::default()
        .with_value("kind", info.kind().as_str())
        .with_value("life", m.life().as_str())
        .with_value("expired", m.is_expired_on(Date::today()))
        .with_value("source", m.source().to_string());
    if let Some(owner) = m.owner() {
        metadata = metadata.with_value("owner", owner);
    }
    if let Some(remove_by) = m.remove_by() {
        metadata = metadata.with_value("remove_by", remove_by.to_string());
    }
    let arms = info.toggle().arms();
    if !arms.is_empty() {
        metadata = metadata.with_value("arms", arms.join(","));
    }
    metadata
}

/// A setting's value, if `info` is a setting.
fn setting(info: &ToggleInfo) -> Option<Value> {
    (info.kind() == Kind::Setting)
        .then(|| info.current())
        .flatten()
}

#[async_trait]
impl FeatureProvider for TogglesProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    /// `Error` while the installed store's last load failed; `Ready` otherwise.
    fn status(&self) -> ProviderStatus {
        if toggles_runtime::status().last_error.is_some() {
            ProviderStatus::Error
        } else {
            ProviderStatus::Ready
        }
    }

    async fn resolve_bool_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        let info = find(flag_key)?;
        let (on, reason) = match info.kind() {
            Kind::Flag => {
                let why = if evaluation_context.custom_fields.is_empty() {
                    // The usual request: a targeting key and nothing else to map.
                    let mut ctx = Context::new();
                    if let Some(user) = &evaluation_context.targeting_key {
                        ctx = ctx.with_user(user);
                    }
                    info.explain(&ctx)
                } else {
                    let owned = context::owned(evaluation_context)
                        .map_err(|e| error(EvaluationErrorCode::InvalidContext, e.to_string()))?;
                    owned.with(|ctx| info.explain(ctx))
                }
                .ok_or_else(|| mismatch(info, "flag"))?;
                (why.enabled, reason(&why.step))
            }
            Kind::Switch => match info.current() {
                Some(Value::Bool(on)) => (on, EvaluationReason::Static),
                _ => return Err(mismatch(info, "boolean")),
            },
            // A toggle of this program is never of a kind its own runtime does not know.
            _ => return Err(mismatch(info, "boolean")),
        };
        let variant = if on { "on" } else { "off" };
        Ok(self.details(info, on, variant.to_owned(), reason))
    }

    async fn resolve_int_value(
        &self,
        flag_key: &str,
        _evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        self.resolve_setting(flag_key, "integer", |value| match value {
            Value::Int(i) => Some(i),
            Value::UInt(u) => i64::try_from(u).ok(),
            _ => None,
        })
    }

    async fn resolve_float_value(
        &self,
        flag_key: &str,
        _evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        self.resolve_setting(flag_key, "float", |value| match value {
            Value::Float(f) => Some(f),
            _ => None,
        })
    }

    /// A string setting's value, or a variant toggle's arm for the context, by name (as value
    /// and variant; the reason `SPLIT` for a unit the experiment drew, `TARGETING_MATCH` for a
    /// pinned one). A unit a tracked experiment draws is exposed, as the typed check exposes
    /// it.
    async fn resolve_string_value(
        &self,
        flag_key: &str,
        evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        let info = find(flag_key)?;
        if info.kind() == Kind::Variant {
            let why = if evaluation_context.custom_fields.is_empty() {
                let mut ctx = Context::new();
                if let Some(user) = &evaluation_context.targeting_key {
                    ctx = ctx.with_user(user);
                }
                info.assign(&ctx)
            } else {
                let owned = context::owned(evaluation_context)
                    .map_err(|e| error(EvaluationErrorCode::InvalidContext, e.to_string()))?;
                owned.with(|ctx| info.assign(ctx))
            }
            .ok_or_else(|| mismatch(info, "string"))?;
            return Ok(self.details(
                info,
                why.arm.to_owned(),
                why.arm.to_owned(),
                reason(&why.step),
            ));
        }
        self.resolve_setting(flag_key, "string", |value| match value {
            Value::Str(s) => Some(s.to_owned()),
            _ => None,
        })
    }

    async fn resolve_struct_value(
        &self,
        flag_key: &str,
        _evaluation_context: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        let info = find(flag_key)?;
        Err(mismatch(info, "structure"))
    }
}
