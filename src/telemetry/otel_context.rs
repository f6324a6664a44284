//! Trace context in and out of cronq, in W3C Trace Context form (`traceparent`,
//! `tracestate`).
//!
//! In: a BullMQ producer with a telemetry provider (`bullmq-otel`) stores its context on the
//! job as `opts.telemetry.metadata` (short key `tm` in the job hash): a string that its
//! context manager wrote, which for `bullmq-otel` is the propagation carrier as JSON,
//! `{"traceparent":"00-…","tracestate":"…"}` (early versions stored the carrier object
//! itself; both are read). Anyone who can write to Redis can write it, so
//! it is read as untrusted: a bounded size, a JSON object of strings, a `traceparent` the W3C
//! propagator accepts; anything else means no parent (the run starts a trace of its own).
//!
//! Out: the context of the running job's span (set by the job's span around its future) as
//! the values handlers pass on.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry::Context;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The longest metadata read; a W3C carrier is well under 1 KiB (`tracestate` is capped at
/// 512 bytes by the spec).
const MAX_METADATA_BYTES: usize = 4096;

/// The producer's context from BullMQ's telemetry metadata (the carrier as JSON text, or the
/// carrier object itself), when it holds a valid one.
pub(crate) fn producer_context(metadata: &serde_json::Value) -> Option<Context> {
    let carrier: HashMap<String, String> = match metadata {
        serde_json::Value::String(text) if text.len() <= MAX_METADATA_BYTES => {
            serde_json::from_str(text).ok()?
        }
        serde_json::Value::Object(fields) => fields
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .filter(|(_, v)| v.len() <= MAX_METADATA_BYTES)
            .collect(),
        _ => return None,
    };
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// What a handler passes on of the current trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeaders {
    /// `00-TRACE_ID-SPAN_ID-FLAGS`.
    pub traceparent: String,
    /// Vendor state, when the trace has any.
    pub tracestate: Option<String>,
}

/// The context of the job span the caller runs under, if any (none when traces are off or
/// outside a job).
pub fn trace_headers() -> Option<TraceHeaders> {
    // With traces off no span is ever entered, so the span check below answers `None`: one
    // thread-local read, and no import of `otel.rs` (which imports this file).
    let cx = Context::current();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    Some(TraceHeaders {
        traceparent: carrier.remove("traceparent")?,
        tracestate: carrier.remove("tracestate").filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_valid_w3c_carrier_gives_a_parent() {
        let good = r#"{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#;
        let cx = producer_context(&serde_json::json!(good)).expect("a parent");
        let object: serde_json::Value = serde_json::from_str(good).unwrap();
        assert!(producer_context(&object).is_some(), "the carrier object");
        let sc = cx.span().span_context().clone();
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        assert!(sc.is_remote());
        let long = format!(r#"{{"traceparent":"{}"}}"#, "0".repeat(5000));
        for bad in [
            "",
            "not json",
            "[1]",
            r#"{"traceparent":7}"#,
            r#"{"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}"#,
            r#"{"traceparent":"zz-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}"#,
            long.as_str(),
        ] {
            assert!(producer_context(&serde_json::json!(bad)).is_none(), "{bad}");
        }
        assert!(producer_context(&serde_json::json!(42)).is_none());
    }
}
