//! Feedback over HTTP: a client app's users give it, people who may read the service's
//! toggles read it.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as JsonValue};
use toggles_runtime::store::FeedbackLog;
use toggles_runtime::{registry, FeedbackError};

use crate::api::{blocking, credential, unavailable, Failure};
use crate::auth::Scope;
use crate::Shared;

/// `POST /{name}/feedback`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Given {
    arm: String,
    #[serde(default)]
    unit: Option<String>,
    text: String,
}

/// `POST /{name}/feedback`: a piece of feedback, kept with the arm the unit saw; open to
/// anonymous clients (the store keeps a bounded number per toggle).
pub(crate) async fn give(
    Path(name): Path<String>,
    body: Result<Json<Given>, JsonRejection>,
) -> Result<(StatusCode, Json<JsonValue>), Failure> {
    let Json(given) = body.map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "not a feedback body (`{{\"arm\": \"on\", \"unit\": \"42\", \"text\": \"…\"}}`): {}",
                e.body_text()
            ),
        )
    })?;
    blocking(move || {
        match toggles_runtime::feedback(&name, &given.arm, given.unit.as_deref(), &given.text) {
            Ok(piece) => Ok((StatusCode::CREATED, Json(json!({ "feedback": piece })))),
            Err(e @ FeedbackError::Invalid(_)) if registry().get(&name).is_none() => Err(
                Failure::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            ),
            Err(e @ FeedbackError::Invalid(_)) => Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                e.to_string(),
            )),
            Err(FeedbackError::Store(e)) => Err(unavailable(&e)),
            Err(e) => Err(Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            )),
        }
    })
    .await?
}

#[derive(Deserialize)]
pub(crate) struct Page {
    limit: Option<usize>,
}

/// `GET /{name}/feedback?limit=50`: the newest pieces and the counts per arm, for a signed-in
/// principal (feedback is what users wrote, with their ids).
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    Query(page): Query<Page>,
    headers: HeaderMap,
) -> Result<Json<FeedbackLog>, Failure> {
    // Always a credential's: feedback is what users wrote, with their ids.
    credential(&shared, &headers, Scope::Read)?;
    if registry().get(&name).is_none() {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("`{name}` is not a toggle of this service"),
        ));
    }
    let limit = page.limit.unwrap_or(50);
    blocking(move || {
        toggles_runtime::feedback_of(&name, limit)
            .map(|log| Json(log.unwrap_or_default()))
            .map_err(|e| unavailable(&e))
    })
    .await?
}
