//! A JSON body extractor whose errors name the field (`data.to`, `attempts`) and are ours
//! (`{"error": …}` with 400), not axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// `Json<T>` with field-naming errors.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type {}: send the body as JSON with Content-Type: application/json",
                content_type.map_or("missing".to_string(), |t| format!("{t:?}"))
            )));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::field("body", format!("cannot read the body: {e}")))?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." || path == "?" {
                    "body".to_string()
                } else {
                    path
                };
                ApiError::field(&field, e.inner().to_string())
            })
    }
}

/// `application/json`, with or without parameters (`; charset=utf-8`), in any case; not a
/// longer type that merely starts the same (`application/jsonx`).
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn only_application_json_is_json() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json("application/json-patch+json"));
        assert!(!is_json("text/plain"));
    }
}
