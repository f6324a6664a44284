//! API errors: client errors (4xx, naming the field or the object) and server-side ones (5xx),
//! rendered as `{"error": {"code", "message", "field"?}}` and logged in one place.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::queue::{Error as StoreError, JobOpError};

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; `field` names the offending part.
    #[error("{message}")]
    BadRequest {
        /// JSON path or parameter name.
        field: Option<String>,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// Missing or wrong bearer token.
    #[error("missing or invalid bearer token: send Authorization: Bearer <API_TOKEN>")]
    Unauthorized,
    /// The API is closed: no `API_TOKEN` on a network-reachable address. Says how to open it.
    #[error("{0}")]
    Closed(String),
    /// Refused whoever asks (a request from another web site, or a `Host` that is not ours).
    #[error("{0}")]
    Forbidden(String),
    /// The body is over the size limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body did not arrive in time.
    #[error("{0}")]
    Timeout(String),
    /// The body is not `application/json`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No such queue, job or schedule.
    #[error("{0}")]
    NotFound(String),
    /// The object is not in a state the operation applies to.
    #[error("{0}")]
    Conflict(String),
    /// The daemon is draining, or Redis does not answer.
    #[error("{0}")]
    Unavailable(String),
    /// A capacity limit is reached (SSE clients): 503 with `Retry-After`.
    #[error("{message}")]
    Busy {
        /// What is full and what to do.
        message: String,
        /// Seconds the client should wait before trying again.
        retry_after_secs: u32,
    },
    /// A failure on our side.
    #[error("{0}")]
    Internal(String),
}

/// The JSON body of an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Details of an error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code: `bad_request`, `unauthorized`, `forbidden`, `too_large`, `timeout`, `not_found`, `conflict`,
    /// `unsupported_media_type`, `unavailable`, `internal`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// A 400 naming `field`.
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized | ApiError::Closed(_) => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Unavailable(_) | ApiError::Busy { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        // A full SSE cap is expected load, not a failure: a warning per refused client would
        // flood the log exactly when the daemon is busiest.
        if status.is_server_error() && !matches!(self, ApiError::Busy { .. }) {
            tracing::warn!(code, error = %self, "API request failed");
        }
        let field = match &self {
            ApiError::BadRequest { field, .. } => field.clone(),
            ApiError::TooLarge(_) | ApiError::Timeout(_) => Some("body".to_string()),
            _ => None,
        };
        let retry_after = match &self {
            ApiError::Busy {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.to_string(),
                field,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidJob { field, reason, .. } => ApiError::BadRequest {
                field: field.map(str::to_string),
                message: reason,
            },
            StoreError::Unreachable { .. } | StoreError::Auth { .. } => {
                ApiError::Unavailable(e.to_string())
            }
            // Nothing was written and the same call works once room is made: producers back
            // off (BullMQ clients and HTTP libraries honour 503 + Retry-After).
            StoreError::Full { .. } => ApiError::Busy {
                message: e.to_string(),
                retry_after_secs: 5,
            },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<JobOpError> for ApiError {
    fn from(e: JobOpError) -> Self {
        match e {
            JobOpError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            JobOpError::WrongState { .. } => ApiError::Conflict(e.to_string()),
            JobOpError::Store(s) => s.into(),
        }
    }
}
