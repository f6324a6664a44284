//! The HTTP server under load and misuse, against real daemons (issues 13 and 14): SSE clients
//! share one store reader per queue and are capped; idle connections are closed; an offset past
//! the end is an empty page; without API_TOKEN on a network address the daemon starts with the
//! API closed.

mod fault_support;
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fault_support::*;
use support::*;

const CONFIG: &str = r#"
[defaults]
attempts = 1
[queues.mail.handlers.send]
builtin = "echo"
[queues.other.handlers.send]
builtin = "echo"
"#;

/// Redis connections blocked in (or last used for) `XREAD`: the event readers.
fn xread_connections(redis: &Redis) -> usize {
    redis
        .cmd(&["CLIENT", "LIST"])
        .lines()
        .filter(|l| l.contains("cmd=xread"))
        .count()
}

fn connections(redis: &Redis) -> usize {
    redis.cmd(&["CLIENT", "LIST"]).lines().count()
}

fn sse_url(d: &Daemon, queue: &str) -> String {
    format!("http://127.0.0.1:{}/api/events?queue={queue}", d.port)
}

/// Adds a job and waits until every client saw it complete.
fn each_sees_a_job(d: &Daemon, queue: &str, clients: &mut [Sse]) {
    let id = api_add(
        d.port,
        queue,
        &serde_json::json!({"name": "send", "data": {}}),
    );
    for c in clients.iter_mut() {
        c.until(|(_, name, data)| name == "completed" && data["jobId"] == id.as_str());
    }
}

#[test]
fn sse_clients_share_one_redis_reader_per_queue() {
    let redis = Redis::start();
    let d = Daemon::start(&redis.url(), CONFIG, None, &[]);
    d.wait_healthy();
    let before = xread_connections(&redis);
    let mut first = vec![Sse::open(&sse_url(&d, "mail"), None, None)];
    each_sees_a_job(&d, "mail", &mut first);
    let with_one = connections(&redis);
    let mut more: Vec<Sse> = (0..9)
        .map(|_| Sse::open(&sse_url(&d, "mail"), None, None))
        .collect();
    more.append(&mut first);
    each_sees_a_job(&d, "mail", &mut more);
    let readers = xread_connections(&redis) - before;
    let with_ten = connections(&redis);
    assert_eq!(readers, 1, "10 SSE clients of one queue: {readers} readers");
    assert_eq!(
        with_ten, with_one,
        "10 SSE clients opened Redis connections"
    );
    // A second queue gets its own reader, and only one.
    let mut others: Vec<Sse> = (0..5)
        .map(|_| Sse::open(&sse_url(&d, "other"), None, None))
        .collect();
    each_sees_a_job(&d, "other", &mut others);
    assert_eq!(xread_connections(&redis) - before, 2);
    assert_eq!(metric(d.port, "cronq_sse_clients"), 15.0);
    assert_eq!(metric(d.port, "cronq_sse_readers"), 2.0);
    // When the last client leaves, the readers stop and their connections close.
    drop(more);
    drop(others);
    poll(Duration::from_secs(20), "the readers to stop", || {
        (xread_connections(&redis) == before && metric(d.port, "cronq_sse_readers") == 0.0)
            .then_some(())
    });
    eprintln!(
        "http/sse-fanout: clients=15 queues=2 redis_readers=2 connections_with_1_client={with_one} with_10={with_ten}"
    );
}

/// One request on a fresh connection; the whole response (head and body) as text.
fn raw(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn sse_clients_beyond_the_cap_get_503_with_retry_after() {
    let redis = Redis::start();
    let cfg = format!("{CONFIG}[http]\nmax_sse_clients = 2\n");
    let d = Daemon::start(&redis.url(), &cfg, None, &[]);
    d.wait_healthy();
    let a = Sse::open(&sse_url(&d, "mail"), None, None);
    let _b = Sse::open(&sse_url(&d, "mail"), None, None);
    let refused = raw(
        d.port,
        "GET /api/events?queue=mail HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n",
    );
    let (head, body) = refused.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.0 503"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: "),
        "{head}"
    );
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_sse_clients"),
        "{body}"
    );
    // A client that leaves frees its slot.
    drop(a);
    poll(Duration::from_secs(20), "a freed SSE slot", || {
        (metric(d.port, "cronq_sse_clients") == 1.0).then_some(())
    });
    let mut c = [Sse::open(&sse_url(&d, "mail"), None, None)];
    each_sees_a_job(&d, "mail", &mut c);
}

/// Reads from `s` until the server closes it (`Ok(0)`), failing after `limit`.
fn wait_closed(s: &mut TcpStream, limit: Duration) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => panic!("the connection was not closed within {limit:?}: {e}"),
        }
    }
}

#[test]
fn idle_connections_are_closed_but_sse_streams_are_not() {
    let redis = Redis::start();
    let cfg = format!("{CONFIG}[http]\nidle_timeout = \"1s\"\n");
    let d = Daemon::start(&redis.url(), &cfg, None, &[]);
    d.wait_healthy();
    let mut sse = [Sse::open(&sse_url(&d, "mail"), None, None)];
    // A client that connects and never sends a request.
    let mut silent = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    wait_closed(&mut silent, Duration::from_secs(15));
    // A keep-alive connection after one request.
    let mut kept = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    wait_closed(&mut kept, Duration::from_secs(15));
    // The SSE stream outlived both idle closes and still delivers.
    each_sees_a_job(&d, "mail", &mut sse);
}

#[test]
fn an_offset_past_the_end_is_an_empty_page() {
    let redis = Redis::start();
    let on_redis = Daemon::start(&redis.url(), CONFIG, None, &[]);
    let embedded = Daemon::start_embedded(CONFIG, None, &[]);
    for d in [&on_redis, &embedded] {
        d.wait_healthy();
        let id = api_add(
            d.port,
            "mail",
            &serde_json::json!({"name": "send", "data": {}}),
        );
        let base = format!("http://127.0.0.1:{}/api/queues/mail", d.port);
        poll(Duration::from_secs(20), "the job to complete", || {
            let (_, j) = http_json("GET", &format!("{base}/jobs/{id}"), None, None);
            (j["state"] == "completed").then_some(())
        });
        for offset in ["1", "9223372036854775807", "18446744073709551615"] {
            let url = format!("{base}/jobs?state=completed&offset={offset}");
            let (code, page) = http_json("GET", &url, None, None);
            assert_eq!(code, 200, "{page}");
            assert_eq!(
                page["jobs"],
                serde_json::json!([]),
                "offset {offset}: {page}"
            );
            assert_eq!(page["offset"].to_string(), offset);
            assert_eq!(page["total"], 1);
        }
    }
}

#[test]
fn embedded_sse_clients_share_one_reader_and_resume() {
    let d = Daemon::start_embedded(CONFIG, None, &[]);
    d.wait_healthy();
    let mut clients: Vec<Sse> = (0..5)
        .map(|_| Sse::open(&sse_url(&d, "mail"), None, None))
        .collect();
    each_sees_a_job(&d, "mail", &mut clients);
    assert_eq!(metric(d.port, "cronq_sse_readers"), 1.0);
    let id = api_add(
        d.port,
        "mail",
        &serde_json::json!({"name": "send", "data": {}}),
    );
    let seen = clients[0].until(|(_, name, data)| name == "added" && data["jobId"] == id.as_str());
    let cursor = seen.last().unwrap().0.clone();
    drop(clients);
    // Resuming from the `added` event replays the rest of that job from the store.
    let mut again = Sse::open(&sse_url(&d, "mail"), Some(&cursor), None);
    let replay = again.until(|(_, name, data)| name == "completed" && data["jobId"] == id.as_str());
    assert!(
        replay.iter().all(|(_, name, _)| name != "added"),
        "resumed after the cursor: {replay:?}"
    );
}

#[test]
fn without_a_token_on_a_network_address_the_api_is_closed_and_health_served() {
    let redis = Redis::start();
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let mut d = Daemon::start(&redis.url(), CONFIG, None, &[("WORKER_LISTEN", &listen)]);
    d.port = port;
    d.wait_healthy();
    let base = format!("http://127.0.0.1:{port}");
    for path in ["/api/queues", "/"] {
        let (code, body) = http_json("GET", &format!("{base}{path}"), None, None);
        assert_eq!(code, 401, "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("API_TOKEN") && message.contains("--insecure-open-api"),
            "{body}"
        );
    }
    let (code, _) = http("GET", &format!("{base}/metrics"), None, None);
    assert_eq!(code, 200, "/metrics is open while no token is set");
    let warnings = d
        .log()
        .lines()
        .filter(|l| l.contains("API_TOKEN is not set"))
        .count();
    assert_eq!(warnings, 1, "{}", d.log());
    // With --insecure-open-api the same address serves the API.
    let port2 = free_port();
    let listen2 = format!("0.0.0.0:{port2}");
    let mut open = Daemon::start_with_args(
        &redis.url(),
        CONFIG,
        None,
        &[("WORKER_LISTEN", &listen2)],
        &["--insecure-open-api"],
    );
    open.port = port2;
    open.wait_healthy();
    let (code, _) = http(
        "GET",
        &format!("http://127.0.0.1:{port2}/api/queues"),
        None,
        None,
    );
    assert_eq!(code, 200);
}

#[test]
fn a_resuming_client_catches_up_in_pages_then_goes_live_without_loss_or_duplicates() {
    let redis = Redis::start();
    let d = Daemon::start(&redis.url(), CONFIG, None, &[]);
    d.wait_healthy();
    let add = || {
        api_add(
            d.port,
            "mail",
            &serde_json::json!({"name": "send", "data": {}}),
        )
    };
    let mut first = Sse::open(&sse_url(&d, "mail"), None, None);
    let id0 = add();
    let seen = first.until(|(_, name, data)| name == "completed" && data["jobId"] == id0.as_str());
    let cursor = seen.last().unwrap().0.clone();
    drop(first);
    // Missed while away: several catch-up pages (each job leaves ~4 events).
    let missed: Vec<String> = (0..150).map(|_| add()).collect();
    for id in &missed {
        wait_finished(&redis, "mail", id, Duration::from_secs(30));
    }
    let mut again = Sse::open(&sse_url(&d, "mail"), Some(&cursor), None);
    // Added after the client joined: delivered live, after the catch-up.
    let live: Vec<String> = (0..20).map(|_| add()).collect();
    let mut expected: std::collections::BTreeSet<String> =
        missed.iter().chain(&live).cloned().collect();
    let mut completed = Vec::new();
    let events = again.until(|(_, name, data)| {
        if name == "completed" {
            let id = data["jobId"].as_str().unwrap().to_string();
            completed.push(id.clone());
            expected.remove(&id);
        }
        expected.is_empty()
    });
    let mut unique = completed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), completed.len(), "a completion was sent twice");
    assert!(!completed.contains(&id0), "replayed from before the cursor");
    let ids: Vec<(u64, u64)> = events
        .iter()
        .map(|(id, _, _)| {
            let (ms, seq) = id.split_once('-').unwrap();
            (ms.parse().unwrap(), seq.parse().unwrap())
        })
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "event ids not strictly increasing"
    );
    eprintln!(
        "http/sse-resume: caught_up_and_live_events={} completions={} duplicates=0",
        events.len(),
        completed.len()
    );
}

#[test]
fn worker_enqueue_refuses_a_delay_out_of_range() {
    let redis = Redis::start();
    let dir = TempDir::new("enqueue-range");
    let env = [("REDIS_URL", redis.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for delay in ["999999999999d", "18446744073709551615"] {
        let (code, out, err) = run_worker(
            &["enqueue", "mail", "send", "--data", "{}", "--delay", delay],
            &env,
            dir.path(),
        );
        assert_ne!(code, 0, "--delay {delay} accepted: {out}");
        assert!(err.contains("--delay") && err.contains("too long"), "{err}");
    }
    assert_eq!(redis.cmd(&["ZCARD", "bull:mail:delayed"]), "0");
}
