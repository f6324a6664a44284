//! A JSON body extractor whose errors name the field (`data.to`, `attempts`) and are ours
//! (`{"error": …}` with 400), not axum's plain-text rejections. Strict: one JSON value and
//! nothing after it (serde_json stops at the end of the first value, so `{"name":"ok"}
//! {"name":"evil"}` would pass with the second object silently dropped), and no integer beyond
//! 64 bits (serde_json turns `18446744073709551616` into a float, changing the number stored).

use axum::extract::{FromRequest, Request};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;
use crate::http::{AppState, BODY_LIMIT};

/// `Json<T>` with field-naming errors.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
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
        let bytes = read_body(req, state.config.http.idle_timeout).await?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." || path == "?" {
                "body".to_string()
            } else {
                path
            };
            ApiError::field(&field, e.inner().to_string())
        })?;
        de.end().map_err(|e| {
            ApiError::field(
                "body",
                format!("{e}: send exactly one JSON object, with nothing after it"),
            )
        })?;
        if let Some(n) = wide_integer(&bytes) {
            return Err(ApiError::field(
                "body",
                format!(
                    "the integer {n} does not fit in 64 bits and would be stored rounded: \
                     send it as a string"
                ),
            ));
        }
        Ok(JsonBody(value))
    }
}

/// The body, whole, within `deadline` and [`BODY_LIMIT`]. The header-read timeout does not
/// cover the body, so a client sending it a byte at a time would hold the connection forever;
/// and each chunk is copied out at once, since a 1-byte chunk kept as it arrives pins a whole
/// read buffer (about 4 KiB per byte sent).
async fn read_body(req: Request, deadline: std::time::Duration) -> Result<Vec<u8>, ApiError> {
    let mut stream = req.into_body().into_data_stream();
    let mut out = Vec::new();
    let read = async {
        while let Some(chunk) = stream.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::field("body", format!("cannot read the body: {e}")))?;
            if out.len() + chunk.len() > BODY_LIMIT {
                return Err(ApiError::TooLarge(format!(
                    "the body is over {BODY_LIMIT} bytes: jobs carry data, not files (store the \
                     file elsewhere and send its location)"
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(())
    };
    match tokio::time::timeout(deadline, read).await {
        Ok(r) => r.map(|()| out),
        Err(_) => Err(ApiError::Timeout(format!(
            "the body did not arrive within {} ([http] idle_timeout): send it at once",
            humantime::format_duration(deadline)
        ))),
    }
}

/// The first integer literal of a valid JSON text that fits neither `i64` nor `u64`. Strings are
/// skipped (with their escapes); a number with a fraction or an exponent is a float on purpose.
fn wide_integer(json: &[u8]) -> Option<&str> {
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < json.len()
                    && matches!(json[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                // Only ASCII bytes were taken, so this cannot fail.
                let token = std::str::from_utf8(&json[start..i]).unwrap_or_default();
                let integer = !token.contains(['.', 'e', 'E']);
                if integer && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Some(token);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// `application/json`, with or without parameters (`; charset=utf-8`), in any case; not a
/// longer type that merely starts the same (`application/jsonx`).
pub(crate) fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::{is_json, wide_integer};

    #[test]
    fn integers_beyond_64_bits_are_found_outside_strings_only() {
        assert_eq!(
            wide_integer(br#"{"a":18446744073709551616}"#),
            Some("18446744073709551616")
        );
        assert_eq!(
            wide_integer(br#"[-9223372036854775809]"#),
            Some("-9223372036854775809")
        );
        assert_eq!(
            wide_integer(br#"{"a":18446744073709551615,"b":-9223372036854775808}"#),
            None
        );
        assert_eq!(
            wide_integer(br#"{"a":"99999999999999999999","b":1e30,"c":1.5}"#),
            None
        );
        assert_eq!(wide_integer(br#"{"a\"99999999999999999999":1}"#), None);
    }

    #[test]
    fn only_application_json_is_json() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json("application/json-patch+json"));
        assert!(!is_json("text/plain"));
    }
}
