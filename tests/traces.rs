//! OpenTelemetry traces (issue 30 point 4) against a small OTLP/HTTP receiver this test runs
//! on loopback, decoding what the daemon exports with the exporter's own protobuf types: a
//! span per job run, a child of the producer's span that a Node producer using BullMQ's
//! `telemetry` option stored on the job; a span per cron tick's enqueue; the run's context in
//! an exec job's `TRACEPARENT`/`TRACESTATE` and on an http handler's `traceparent` header. And
//! off by default: no exporter thread, no variable.

mod compat_support;
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use compat_support::node;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use support::*;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// An HTTP/1.1 server on loopback that records every request and answers 200 (an OTLP/HTTP
/// receiver for `/v1/traces`, and the http handler's endpoint for anything else). Its threads
/// end with the test process.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let sink = sink.clone();
                std::thread::spawn(move || serve(conn, &sink));
            }
        });
        Receiver { port, got }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.got.lock().unwrap().clone()
    }

    /// Every span exported so far, with its resource's `service.name`.
    fn spans(&self) -> Vec<(String, Span)> {
        let mut out = Vec::new();
        for r in self.requests().iter().filter(|r| r.path == "/v1/traces") {
            let req = ExportTraceServiceRequest::decode(&r.body[..]).expect("OTLP protobuf");
            for rs in req.resource_spans {
                let service = rs
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|kv| kv.key == "service.name")
                    .map(|kv| text(kv.value.as_ref()))
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    out.extend(ss.spans.into_iter().map(|s| (service.clone(), s)));
                }
            }
        }
        out
    }
}

fn serve(conn: TcpStream, sink: &Mutex<Vec<Request>>) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        sink.lock().unwrap().push(Request {
            path,
            headers,
            body,
        });
        let reply =
            "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

fn text(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| text(kv.value.as_ref()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The names of the daemon's threads (`/proc/PID/task/*/comm`).
fn threads(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|c| c.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn job_logs(redis: &Redis, queue: &str, id: &str) -> String {
    redis.cmd(&["LRANGE", &format!("bull:{queue}:{id}:logs"), "0", "-1"])
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PRODUCER_SPAN: &str = "00f067aa0ba902b7";

#[test]
fn runs_are_spans_under_the_node_producers_trace_and_handlers_carry_it_on() {
    let redis = Redis::start();
    let otlp = Receiver::start();
    let config = format!(
        "[queues.tq.handlers.ok]\nexec = \"echo tp=$TRACEPARENT ts=$TRACESTATE\"\n\
         [queues.tq.handlers.bad]\nexec = \"exit 3\"\n\
         [queues.tq.handlers.hook]\nhttp = {{ url = \"{}/hook\" }}\n\
         [queues.tq.handlers.proc]\nprocess = {{ command = \"exec python3 {}/tests/fixtures/process/consumer.py\" }}\n",
        otlp.url(),
        env!("CARGO_MANIFEST_DIR")
    );
    let crontab = "* * * * * * * true\n";
    let endpoint = otlp.url();
    let daemon = Daemon::start(
        &redis.url(),
        &config,
        Some(crontab),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_SERVICE_NAME", "cronq-test"),
            // The SDK's own batch delay (default 5 s), so that spans arrive while the test polls.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    daemon.wait_healthy();
    assert!(
        threads(daemon.pid())
            .iter()
            .any(|t| t.starts_with("OpenTelemetry")),
        "no exporter thread while traces are on: {:?}",
        threads(daemon.pid())
    );
    let out = node("traces.mjs", &redis.url(), &["tq", TRACE_ID, PRODUCER_SPAN]);
    let line = out.lines().find(|l| l.starts_with('{')).expect("ids line");
    let mut ids: HashMap<String, String> = serde_json::from_str(line).unwrap();
    let dir = TempDir::new("traces-proc");
    let proc_id = enqueue(
        &redis,
        &dir,
        &config,
        &["tq", "proc", "--data", r#"{"do":"update"}"#],
    );
    ids.insert("proc".into(), proc_id);
    for (name, state) in [
        ("ok", "completed"),
        ("bad", "failed"),
        ("hook", "completed"),
        ("proc", "completed"),
    ] {
        assert_eq!(
            wait_finished(&redis, "tq", &ids[name], Duration::from_secs(30)),
            state,
            "{name}"
        );
    }
    let run_span = |name: &str| {
        let id = ids[name].clone();
        move |spans: &Vec<(String, Span)>| {
            spans
                .iter()
                .find(|(_, s)| {
                    s.name == "process tq" && attr(s, "bullmq.job.id").as_deref() == Some(&id)
                })
                .cloned()
        }
    };
    let (ok, bad, hook, tick, process) = poll(Duration::from_secs(30), "the spans", || {
        let spans = otlp.spans();
        let tick = spans
            .iter()
            .find(|(_, s)| s.name == "enqueue cron")
            .cloned();
        Some((
            run_span("ok")(&spans)?,
            run_span("bad")(&spans)?,
            run_span("hook")(&spans)?,
            tick?,
            run_span("proc")(&spans)?,
        ))
    });

    // A run: a consumer span, child of the producer's span, in the producer's trace.
    let (service, ok) = ok;
    assert_eq!(service, "cronq-test");
    assert_eq!(hex(&ok.trace_id), TRACE_ID);
    assert_eq!(hex(&ok.parent_span_id), PRODUCER_SPAN);
    assert_eq!(ok.kind, 5, "SPAN_KIND_CONSUMER");
    assert_eq!(attr(&ok, "bullmq.job.name").as_deref(), Some("ok"));
    assert_eq!(attr(&ok, "cronq.job.attempt").as_deref(), Some("1"));
    assert_eq!(attr(&ok, "cronq.job.outcome").as_deref(), Some("completed"));
    // The exec job got the run's own context (its span, not the producer's).
    let logs = job_logs(&redis, "tq", &ids["ok"]);
    let want = format!("tp=00-{TRACE_ID}-{}-01 ts=vendor=x", hex(&ok.span_id));
    assert!(logs.contains(&want), "{want} not in the job log: {logs}");

    // A failure is recorded on its span.
    let (_, bad) = bad;
    assert_eq!(hex(&bad.trace_id), TRACE_ID);
    assert_eq!(attr(&bad, "cronq.job.outcome").as_deref(), Some("failed"));
    let status = bad.status.clone().expect("a status");
    assert_eq!(status.code, 2, "STATUS_CODE_ERROR");
    assert!(status.message.contains('3'), "{}", status.message);
    assert!(bad.events.iter().any(|e| e.name == "exception"));

    // The http handler's request carries the run's context.
    let (_, hook) = hook;
    let sent = otlp
        .requests()
        .into_iter()
        .find(|r| r.path == "/hook")
        .expect("the hook request");
    assert_eq!(
        sent.headers.get("traceparent").map(String::as_str),
        Some(format!("00-{TRACE_ID}-{}-01", hex(&hook.span_id)).as_str())
    );

    // A persistent handler's job line carries it too (a job added by the CLI: its own trace).
    let (_, process) = process;
    let value: serde_json::Value =
        serde_json::from_str(&job_field(&redis, "tq", &ids["proc"], "returnvalue")).unwrap();
    assert_eq!(
        value["traceparent"],
        format!("00-{}-{}-01", hex(&process.trace_id), hex(&process.span_id))
    );
    assert!(process.parent_span_id.is_empty(), "no producer context");

    // A cron tick's enqueue: a producer span of its own trace.
    let (_, tick) = tick;
    assert_eq!(tick.kind, 4, "SPAN_KIND_PRODUCER");
    assert!(tick.parent_span_id.is_empty());
    assert!(
        attr(&tick, "bullmq.job.id").is_some_and(|id| id.starts_with("cron-")),
        "{tick:?}"
    );
}

#[test]
fn off_by_default_no_exporter_thread_and_no_traceparent() {
    let redis = Redis::start();
    let config = "[queues.tq.handlers.ok]\nexec = \"echo tp=[$TRACEPARENT]\"\n";
    let daemon = Daemon::start(&redis.url(), config, None, &[]);
    daemon.wait_healthy();
    let dir = TempDir::new("traces-off");
    let id = enqueue(&redis, &dir, config, &["tq", "ok", "--data", "{}"]);
    assert_eq!(
        wait_finished(&redis, "tq", &id, Duration::from_secs(30)),
        "completed"
    );
    assert!(job_logs(&redis, "tq", &id).contains("tp=[]"));
    let names = threads(daemon.pid());
    assert!(
        !names.iter().any(|t| t.starts_with("OpenTelemetry")),
        "{names:?}"
    );
}
