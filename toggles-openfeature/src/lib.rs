//! An [OpenFeature](https://openfeature.dev) provider for [`toggles`](https://docs.rs/toggles):
//! programs that already check flags through the OpenFeature API evaluate this program's toggles
//! without rewriting their checks.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use open_feature::{EvaluationContext, OpenFeature};
//! use toggles::{toggle, Flag};
//! use toggles::openfeature::TogglesProvider;
//!
//! /// Grade problems with the rewritten engine.
//! #[toggle(namespace = "grading", life = "temporary", remove_by = "2030-01-01")]
//! static NEW_GRADER: Flag = true;
//!
//! let mut api = OpenFeature::singleton_mut().await;
//! api.set_provider(TogglesProvider::new()).await;
//! let client = api.create_client();
//! let ctx = EvaluationContext::default().with_targeting_key("42");
//! assert!(client.get_bool_value("grading.new_grader", Some(&ctx), None).await.unwrap());
//! # }
//! ```
//!
//! # What resolves how
//!
//! | asked as | resolves | otherwise |
//! |---|---|---|
//! | boolean | a switch, or a flag for the context | a setting: `TYPE_MISMATCH` |
//! | integer | a setting of an integer type (that fits an `i64`) | `TYPE_MISMATCH` |
//! | float | a setting of `f32` or `f64` | `TYPE_MISMATCH` |
//! | string | a setting of `&'static str` | `TYPE_MISMATCH` |
//! | struct | nothing | `TYPE_MISMATCH` |
//!
//! An unknown name is `FLAG_NOT_FOUND`. Nothing panics.
//!
//! # The evaluation context
//!
//! The runtime's one mapping, the one OFREP uses
//! ([`OwnedContext::from_json`](toggles_runtime::OwnedContext::from_json)): `targeting_key` is
//! the user; the custom fields `site` and `environment` are the context's site and environment;
//! `group.<kind>` (the SDK has no list value) is a comma-separated list of the user's groups of
//! that kind (`group.course` = `"c1, c2"`); every other field is an attribute (numbers, booleans
//! and times as text), for constraints and stickiness; a structure is left out. A malformed
//! reserved field is `INVALID_CONTEXT`.
//!
//! # Details
//!
//! The variant is `on`/`off` for switches and flags, the value's text for settings. The reason
//! comes from the flag's [`explain`](toggles_runtime::Flag::explain): a percentage → `SPLIT`; a
//! listed site, user or group → `TARGETING_MATCH`; a failing gate (inactive, window, environment,
//! `requires`, constraint) → `DISABLED`; the compiled default → `DEFAULT`; `everyone`, a switch or
//! a setting → `STATIC`; a test override → `STATIC` (reasons come only from the specification's list). Flag metadata, from a provider built
//! with [`with_flag_metadata`](TogglesProvider::with_flag_metadata) (it costs more than the rest
//! of a resolution): `kind`, `life`, `expired`, `source` (`file:line:column`), and `owner` and
//! `remove_by` when declared.
//!
//! The provider is `Ready`, or `Error` while the installed store's last load failed (the last good
//! state is then in force, and evaluations go on).

mod context;
mod provider;

pub use crate::provider::TogglesProvider;
