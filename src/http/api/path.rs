//! A path extractor whose errors are ours: a bad `%` escape (`/api/queues/%ff/jobs`) gets the
//! JSON error naming `path`, not axum's plain-text 400.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// `Path<T>` with a JSON error.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| ApiPath(t))
            .map_err(|e| {
                ApiError::field(
                    "path",
                    format!(
                        "{}: percent-encode the path as UTF-8 (e.g. %C3%A9 for é)",
                        e.body_text()
                    ),
                )
            })
    }
}
