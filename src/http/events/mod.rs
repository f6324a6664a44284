//! `GET /api/events`: Server-Sent Events of the queues' event streams, filterable by queue and
//! job id. Each event's SSE id is a resume cursor: the stream id when one queue is watched, or
//! `queue=id;queue=id` for several; send it back as `Last-Event-ID` to resume without loss.
//!
//! Clients share one reader per queue ([`hub`]) and are capped (`[http] max_sse_clients`);
//! [`client`] merges a resuming client's catch-up with the live feed.

mod client;
pub mod hub;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream};
use serde::Deserialize;

use super::error::ApiError;
use super::precondition::{queue_name, store};
use super::AppState;
use crate::queue::QueueEvent;
use client::Client;
pub use hub::Hub;

/// Filters of the event stream.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Comma-separated queue names (default: every queue).
    pub queue: Option<String>,
    /// Only events of this job id.
    pub job: Option<String>,
}

/// Stream job events (SSE). Resume with `Last-Event-ID`.
#[utoipa::path(get, path = "/api/events", tag = "events", params(EventsQuery),
    responses((status = 200, description = "text/event-stream of job events: `event:` is the BullMQ event name, `data:` a JSON object with `queue`, `jobId` and the event's fields", content_type = "text/event-stream", body = String),
        (status = 503, description = "Too many SSE clients (`[http] max_sse_clients`; see `Retry-After`), or the store is not reachable", body = super::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::field("query", e.body_text()))?;
    // Taken first: a refused client costs no store work. Held by the stream until it ends.
    let permit = state.sse.admit()?;
    let named: Option<Vec<String>> = q.queue.as_ref().map(|list| {
        list.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    if let Some(named) = &named {
        for queue in named {
            queue_name(queue)?;
        }
        if named.len() > hub::MAX_READERS {
            return Err(ApiError::field(
                "queue",
                format!(
                    "{} queues: follow at most {} in one stream",
                    named.len(),
                    hub::MAX_READERS
                ),
            ));
        }
    }
    let store = store(&state)?;
    let queues: Vec<String> = match named {
        Some(named) => named,
        None => {
            let mut all = store.discover_queues().await?;
            all.extend(state.status.queues().into_keys());
            all.sort();
            all.dedup();
            all
        }
    };
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let cursors = parse_cursor(last, &queues).map_err(|m| ApiError::field("Last-Event-ID", m))?;
    let client = Client::connect(
        &state.sse,
        store.clone(),
        &queues,
        cursors,
        q.job,
        state.closing.clone(),
        permit,
    )
    .await?;
    let stream = stream::unfold(client, |mut client| async move {
        let event = client.next().await?;
        Some((Ok(event), client))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn to_sse(ev: &QueueEvent, emitted: &BTreeMap<String, String>) -> Event {
    let mut data = serde_json::Map::new();
    data.insert("queue".into(), ev.queue.clone().into());
    for (k, v) in &ev.fields {
        data.insert(k.clone(), v.clone().into());
    }
    // The cursor covers exactly what was sent, not the rest of the batch, so a reconnect
    // after this event resumes right after it.
    let id = if emitted.len() == 1 {
        ev.stream_id.clone()
    } else {
        emitted
            .iter()
            .map(|(q, c)| format!("{q}={c}"))
            .collect::<Vec<_>>()
            .join(";")
    };
    Event::default()
        .id(id)
        .event(ev.event.clone())
        .data(serde_json::Value::Object(data).to_string())
}

/// `Last-Event-ID` → per-queue cursors: `1700000000000-0` (every queue), or `q1=…;q2=…`.
fn parse_cursor(text: &str, queues: &[String]) -> Result<BTreeMap<String, String>, String> {
    let text = text.trim();
    let valid = |id: &str| {
        let mut parts = id.splitn(2, '-');
        parts.next().is_some_and(|ms| ms.parse::<u64>().is_ok())
            && parts.next().is_none_or(|seq| seq.parse::<u64>().is_ok())
    };
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    if !text.contains('=') {
        if !valid(text) {
            return Err(format!("{text:?} is not a stream id like 1700000000000-0"));
        }
        return Ok(queues
            .iter()
            .map(|q| (q.clone(), text.to_string()))
            .collect());
    }
    let mut out = BTreeMap::new();
    for part in text.split(';') {
        let (q, id) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected queue=stream-id"))?;
        if !valid(id) && id != "$" {
            return Err(format!("{id:?} is not a stream id like 1700000000000-0"));
        }
        out.insert(q.to_string(), id.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::parse_cursor;

    #[test]
    fn cursors_parse_in_both_forms() {
        let qs = vec!["a".to_string(), "b".to_string()];
        assert!(parse_cursor("", &qs).unwrap().is_empty());
        let all = parse_cursor("1700-3", &qs).unwrap();
        assert_eq!(all["a"], "1700-3");
        assert_eq!(all["b"], "1700-3");
        let per = parse_cursor("a=1-0;b=2-5", &qs).unwrap();
        assert_eq!(per["b"], "2-5");
        assert!(parse_cursor("nonsense", &qs).is_err());
        assert!(parse_cursor("a=x", &qs).is_err());
    }
}
